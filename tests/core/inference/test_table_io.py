"""The trajectories table written without pandas (:mod:`mmqnet_core.inference.table_io`): the CSV is byte for byte
what pandas writes, the Parquet file holds the table pandas writes (same types, NaN as null) and reads back equal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mmqnet_core.inference.table_io import write_csv, write_parquet


def _columns() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    f64 = rng.normal(0, 1e3, 257)
    f64[[3, 40]] = np.nan
    f64[7], f64[8], f64[9] = np.inf, -np.inf, 0.0
    f32 = rng.uniform(0, 1, 257).astype(np.float32)
    f32[[0, 100]] = np.nan
    f32[5] = np.float32(1e-9)
    return {"window_start_s": np.arange(257) * 0.5, "valence_prob": f32, "odd": f64,
            "no_context": rng.uniform(size=257) > 0.7, "count": rng.integers(-5, 5, 257),
            "small": np.array([1.5e-300, *rng.uniform(size=256)], np.float64)}


@pytest.mark.parametrize("fmt", ["%.6g", "%.3f"])
def test_csv_is_byte_for_byte_what_pandas_writes(tmp_path, fmt):
    cols = _columns()
    write_csv(cols, tmp_path / "ours.csv", float_format=fmt)
    pd.DataFrame(cols).to_csv(tmp_path / "pandas.csv", index=False, float_format=fmt)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_csv_quotes_a_header_as_pandas_does(tmp_path):
    cols = {"a,b": np.array([1.0, 2.0]), 'say "x"': np.array([True, False])}
    write_csv(cols, tmp_path / "ours.csv")
    pd.DataFrame(cols).to_csv(tmp_path / "pandas.csv", index=False, float_format="%.6g")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_parquet_holds_the_table_pandas_writes(tmp_path):
    cols = _columns()
    write_parquet(cols, tmp_path / "ours.parquet")
    pd.DataFrame(cols).to_parquet(tmp_path / "pandas.parquet", index=False)
    ours, theirs = pq.read_table(tmp_path / "ours.parquet"), pq.read_table(tmp_path / "pandas.parquet")
    assert ours.schema.equals(theirs.schema.remove_metadata())
    assert ours.equals(theirs.replace_schema_metadata(None))
    assert ours.column("valence_prob").null_count == 2 == theirs.column("valence_prob").null_count  # NaN -> null
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ours.parquet"), pd.DataFrame(cols))


def test_bad_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match="different lengths"):
        write_csv({"a": np.zeros(3), "b": np.zeros(4)}, tmp_path / "x.csv")
    with pytest.raises(ValueError, match="different lengths"):
        write_parquet({"a": np.zeros(3), "b": np.zeros(4)}, tmp_path / "x.parquet")
    with pytest.raises(TypeError, match="dtype"):
        write_parquet({"a": np.array([1j, 2j])}, tmp_path / "x.parquet")
    with pytest.raises(TypeError, match="dtype"):
        write_csv({"a": np.array([1j, 2j])}, tmp_path / "x.csv")


def _with_text() -> dict[str, np.ndarray]:
    cols = _columns()
    cols["clock_time"] = np.array([f"2024-03-0{1 + i // 200} 23:5{i % 10}:00.500" for i in range(256)]
                                  + ['odd, "quoted" text'])
    return cols


def test_a_text_column_is_written_as_pandas_writes_it(tmp_path):
    cols = _with_text()
    write_csv(cols, tmp_path / "ours.csv")
    pd.DataFrame(cols).to_csv(tmp_path / "pandas.csv", index=False, float_format="%.6g")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    write_parquet(cols, tmp_path / "ours.parquet")
    back = pd.read_parquet(tmp_path / "ours.parquet")
    assert list(back["clock_time"]) == list(cols["clock_time"])
    pd.testing.assert_frame_equal(back, pd.read_csv(tmp_path / "ours.csv"), check_dtype=False, rtol=1e-5)
