"""The gaps of a discontinuous EDF+D/BDF+D file, from the time-keeping TAL that opens each data record.

mne (and so the browser, the cleaning and the analysis) puts the records of such a file end to end: after a gap,
every sample is shown earlier than it was recorded, by the gaps before it, while the file's annotations keep
their true times. That is said loudly (a ``warning:`` line, the app's banner) with the size of the gaps;
a "+D" file whose records are contiguous (some recorders always write +D) is just read.
"""

from __future__ import annotations

import numpy as np

from .tal import record_onsets  # the time-keeping TAL of each record, as for the first record's sub-second onset

__all__ = ["MAX_RECORDS_CHECKED", "record_gaps"]

#: Files with more data records than this are not checked (one small read and parse per record: ~1 s per
#: million records); :func:`record_gaps` returns None for them.
MAX_RECORDS_CHECKED = 2_000_000
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
        time-keeping TALs or there are more than :data:`MAX_RECORDS_CHECKED` of them.
    """
    ann = header.annotation_indices
    if not ann or not 2 <= header.n_records <= MAX_RECORDS_CHECKED:
        return None
    onsets = record_onsets(header, head_bytes=32)  # in bounded chunks of records
    if onsets is None:
        return None
    jumps = np.diff(onsets) - header.record_s
    gaps = np.flatnonzero(np.abs(jumps) > _TOLERANCE_S)
    if gaps.size == 0:
        return 0, 0.0, 0.0
    return int(gaps.size), float(jumps[gaps].sum()), float((gaps[0] + 1) * header.record_s)
