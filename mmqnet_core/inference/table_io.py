"""Tables of named columns written as CSV and Parquet without pandas.

A single-recording analysis writes one table (``trajectories.csv`` / ``.parquet``: one row per window, float, bool
and text columns). Importing pandas for it costs ~0.5 s of CPU that holds the interpreter lock (a tenth of the fixed
cost of ``mmqnet analyze`` on a 1-h file), so the table is written from its numpy columns here: the CSV with the
text pandas' ``DataFrame.to_csv(index=False, float_format=...)`` writes (floats with the format, NaN as an empty
field, booleans as ``True``/``False``, minimal quoting, ``\\n`` line ends; tested byte for byte against pandas),
the Parquet file with pyarrow (the engine pandas uses; same column names and types; it lacks only the pandas
metadata block, so ``pandas.read_parquet`` gives the same frame with a default index).
"""

from __future__ import annotations

import csv
import os
from typing import Mapping

import numpy as np


def _column_text(values: np.ndarray, float_format: str) -> list[str]:
    """One column's CSV fields as pandas writes them."""
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"table columns must be 1-D, got shape {a.shape}")
    if a.dtype == bool:
        return ["True" if v else "False" for v in a.tolist()]
    if a.dtype.kind == "f":
        return ["" if v != v else float_format % v for v in a.tolist()]  # v != v: NaN (pandas' na_rep "")
    if a.dtype.kind in "iu":
        return [str(v) for v in a.tolist()]
    if a.dtype.kind == "U":  # text (the clock time of each window); quoted by the csv writer where needed
        return a.tolist()
    raise TypeError(f"table column of dtype {a.dtype} (only bool, integer, float and text columns are written here)")


def write_csv(columns: Mapping[str, np.ndarray], path: str | os.PathLike, *, float_format: str = "%.6g") -> None:
    """Write ``columns`` (equal lengths) as CSV with a header row, as pandas' ``to_csv(index=False)``."""
    lengths = {len(np.asarray(v)) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"table columns of different lengths {sorted(lengths)}")
    fields = [_column_text(v, float_format) for v in columns.values()]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(list(columns))
        writer.writerows(zip(*fields))


def _arrow_array(values: np.ndarray) -> "pyarrow.Array":
    """A column as a pyarrow array with pandas' conversion semantics (``Table.from_pandas``: NaN in a float column
    becomes null), made from its buffers: ``pyarrow.array`` on a numpy array imports pandas to check what it got."""
    import pyarrow as pa

    a = np.ascontiguousarray(values)
    if a.ndim != 1:
        raise ValueError(f"table columns must be 1-D, got shape {a.shape}")
    if a.dtype == bool:
        return pa.Array.from_buffers(pa.bool_(), len(a), [None, pa.py_buffer(np.packbits(a, bitorder="little"))])
    if a.dtype.kind == "U":  # text, from its UTF-8 bytes and offsets (pyarrow.array imports pandas)
        encoded = [v.encode("utf-8") for v in a.tolist()]
        offsets = np.zeros(len(encoded) + 1, np.int32)
        np.cumsum([len(v) for v in encoded], out=offsets[1:])
        data = pa.py_buffer(b"".join(encoded))
        return pa.Array.from_buffers(pa.string(), len(a), [None, pa.py_buffer(offsets), data])
    types = {np.dtype(np.float32): pa.float32(), np.dtype(np.float64): pa.float64(), np.dtype(np.int64): pa.int64(),
             np.dtype(np.int32): pa.int32(), np.dtype(np.uint8): pa.uint8()}
    kind = types.get(a.dtype.newbyteorder("=") if a.dtype.byteorder not in "=|" else a.dtype)
    if kind is None:
        raise TypeError(f"table column of dtype {a.dtype} (only bool, integer, float and text columns are written "
                        "here)")
    a = a.astype(a.dtype.newbyteorder("="), copy=False)
    nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(len(a), bool)
    n_null = int(nan.sum())
    validity = pa.py_buffer(np.packbits(~nan, bitorder="little")) if n_null else None
    return pa.Array.from_buffers(kind, len(a), [validity, pa.py_buffer(a)], null_count=n_null)


def write_parquet(columns: Mapping[str, np.ndarray], path: str | os.PathLike) -> None:
    """Write ``columns`` as a Parquet file with pyarrow, as pandas' ``to_parquet(index=False)`` (its engine, its
    default options, NaN stored as null) without the pandas metadata block."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    lengths = {len(np.asarray(v)) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"table columns of different lengths {sorted(lengths)}")
    table = pa.Table.from_arrays([_arrow_array(v) for v in columns.values()], names=list(columns))
    pq.write_table(table, path)
