"""The time-keeping TAL that opens each data record of an EDF+/BDF+ file, read for any run of records.

Every data record of an EDF+/BDF+ file starts its first annotation signal with a time-keeping TAL (time-stamped
annotation list): ``+<onset>`` 20 20, the record's start in seconds after the header's start time (EDF+ spec,
section 2.2.4). Two readers need it: the exact start of the first sample (:func:`.edf_reader.first_record_onset`:
the header's start time has whole seconds only) and the gaps between the records of an EDF+D/BDF+D file
(:func:`.discontinuous.record_gaps`). Both read it here, with one pattern and one parser.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["TIMEKEEPING", "record_onsets"]

#: The time-keeping TAL at the start of a record's first annotation signal: "+0.3945312" 20 20.
TIMEKEEPING = re.compile(rb"\A([+-][0-9]+(?:\.[0-9]*)?)\x14\x14")
#: Record heads read at once (bounded memory: ``head_bytes`` each).
CHUNK_RECORDS = 65536


def record_onsets(header, first: int = 0, count: int | None = None, *, head_bytes: int = 32) -> np.ndarray | None:
    """Onsets of the data records ``[first, first + count)``, s after the header's start time.

    Parameters
    ----------
    header : mmqnet_core.io.edf_header.EdfHeader
        The checked header of the file.
    first, count : int
        The records (default: from ``first`` to the last complete record).
    head_bytes : int
        Bytes of each record's first annotation signal that are read (at most the signal's size): the TAL must
        end inside them.

    Returns
    -------
    ndarray of float, shape (count,), or None
        None when the file has no annotation signal, a record's first TAL is not a time-keeping one, or the
        records cannot be read (a file shorter than its header says, an I/O error).
    """
    ann = header.annotation_indices
    if not ann:
        return None
    count = header.n_records - first if count is None else int(count)
    width = header.bytes_per_sample
    col = sum(header.n_samples[: ann[0]]) * width
    size = min(header.n_samples[ann[0]] * width, int(head_bytes))
    onsets = np.empty(max(count, 0))
    try:
        for a in range(0, count, CHUNK_RECORDS):
            n = min(CHUNK_RECORDS, count - a)
            records = np.memmap(header.path, dtype=np.uint8, mode="r",
                                offset=header.header_bytes + (first + a) * header.record_bytes,
                                shape=(n, header.record_bytes))
            heads = np.array(records[:, col:col + size])
            del records
            for r, row in enumerate(heads, start=a):
                match = TIMEKEEPING.match(row.tobytes())
                if match is None:
                    return None
                onsets[r] = float(match.group(1))
    except (OSError, ValueError):
        return None
    return onsets
