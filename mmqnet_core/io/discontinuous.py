"""The gaps of a discontinuous EDF+D/BDF+D file, from the time-keeping TAL that opens each data record.

mne (and so the browser, the cleaning and the analysis) puts the records of such a file end to end: after a gap,
every sample is shown earlier than it was recorded, by the gaps before it, while the file's annotations keep
their true times. That is said loudly (a ``warning:`` line, the app's banner) with the size of the gaps;
a "+D" file whose records are contiguous (some recorders always write +D) is just read.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["record_gaps"]

_TIMEKEEPING = re.compile(rb"\A([+-][0-9]+(?:\.[0-9]*)?)\x14\x14")
#: A record starting this much later (or earlier) than the previous one's end is a gap, s.
_TOLERANCE_S = 1e-3


def record_gaps(header) -> tuple[int, float, float] | None:
    """Gaps between the data records of an EDF+D/BDF+D file.

    Parameters
    ----------
    header : mmqnet_core.io.edf_header.EdfHeader
        The checked header.

    Returns
    -------
    (n_gaps, total_s, first_at_s) or None
        The number of gaps, the recording time missing in all (s; negative if records overlap) and where the
        first gap falls in the data as shown (s from the first sample); None when the records carry no readable
        time-keeping TALs.
    """
    ann = header.annotation_indices
    if not ann or header.n_records < 2:
        return None
    width = header.bytes_per_sample
    col = sum(header.n_samples[: ann[0]]) * width
    size = min(header.n_samples[ann[0]] * width, 32)
    try:
        records = np.memmap(header.path, dtype=np.uint8, mode="r", offset=header.header_bytes,
                            shape=(header.n_records, header.record_bytes))
        heads = np.array(records[:, col:col + size])
        del records
    except (OSError, ValueError):
        return None
    onsets = np.empty(header.n_records)
    for r, row in enumerate(heads):
        match = _TIMEKEEPING.match(row.tobytes())
        if match is None:
            return None
        try:
            onsets[r] = float(match.group(1))
        except ValueError:
            return None
    jumps = np.diff(onsets) - header.record_s
    gaps = np.flatnonzero(np.abs(jumps) > _TOLERANCE_S)
    if gaps.size == 0:
        return 0, 0.0, 0.0
    return int(gaps.size), float(jumps[gaps].sum()), float((gaps[0] + 1) * header.record_s)
