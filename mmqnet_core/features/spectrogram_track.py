"""Spectrogram track of one channel over a whole recording, for display under the trajectory (not a model feature).

:func:`spectrogram_track` reads the channel in chunks of :data:`CHUNK_S` seconds and runs
:func:`mmqnet_core.features.psd.spectrogram` (``scipy.signal.spectrogram``, segments of 2 s with 50 % overlap) on
each, keeping only the frequencies up to ``fmax`` -- so memory stays bounded by the chunk and the kept columns
whatever the recording's length. Chunks overlap by one segment less one step, so the segments of consecutive
chunks follow each other without a gap or a repeat. A display needs no more columns than it has pixels: beyond
``max_columns`` adjacent columns are averaged (power, before the dB conversion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..check import check_int, check_range
from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ..recording import Recording

#: Length of the spans read at a time, s.
CHUNK_S = 600.0
#: Segment length, s (0.5 Hz resolution) and highest frequency kept by default, Hz.
SEGMENT_S = 2.0
FMAX_HZ = 45.0
#: Most time columns returned by default.
MAX_COLUMNS = 4000


@dataclass(frozen=True)
class SpectrogramTrack:
    """Power over time and frequency of one channel, in dB, for display."""

    ch_name: str
    unit: str  # unit of the channel's values; power_db is 10 log10 of unit^2/Hz
    times_s: np.ndarray  # (T,) centre of each column, s from the recording start
    freqs_hz: np.ndarray  # (F,) Hz
    power_db: np.ndarray  # (T, F) 10 log10(power / (unit^2/Hz)); -inf never (floored at the smallest positive)
    column_s: float  # time covered by one column, s

    def levels(self, low_pct: float = 5.0, high_pct: float = 99.5) -> tuple[float, float]:
        """Colour levels: the given percentiles of the finite dB values."""
        finite = self.power_db[np.isfinite(self.power_db)]
        if finite.size == 0:
            return 0.0, 1.0
        lo, hi = np.percentile(finite, [low_pct, high_pct])
        return float(lo), float(hi if hi > lo else lo + 1.0)


def spectrogram_track(recording: Recording, channel: str, *, fmax_hz: float = FMAX_HZ,
                      segment_s: float = SEGMENT_S, max_columns: int = MAX_COLUMNS,
                      chunk_s: float = CHUNK_S) -> SpectrogramTrack:
    """The spectrogram of ``channel`` over the whole recording (see the module docstring).

    Parameters
    ----------
    recording : Recording
        Read lazily, one chunk of the one channel at a time.
    channel : str
        Name of the channel.
    fmax_hz : float
        Highest frequency kept, Hz (at most the Nyquist frequency).
    segment_s : float
        Segment length, s; columns are ``segment_s / 2`` apart before averaging.
    max_columns : int
        Most columns returned.
    chunk_s : float
        Span read at a time, s (rounded to whole steps).

    Raises
    ------
    ConfigError
        For an unknown channel, a recording shorter than two segments, or a bad parameter (with its value).
    """
    from .psd import spectrogram  # scipy.signal: on first use only

    check_range("fmax_hz", fmax_hz, 0.0, lo_open=True, unit="Hz")
    check_range("segment_s", segment_s, 0.0, lo_open=True, unit="s")
    check_int("max_columns", max_columns, min=1)
    if channel not in recording.ch_names:
        raise ConfigError(f"Invalid channel {channel!r} for a spectrogram: choose one of {list(recording.ch_names)}.")
    pick = recording.index(channel)
    duration = recording.duration_s
    if duration < 2 * segment_s:
        raise ConfigError(f"The recording ({duration:.2f} s) is shorter than two segments of {segment_s:g} s: "
                          "no spectrogram; use a shorter segment.")
    step = segment_s / 2
    chunk = max(step, round(max(chunk_s, 4 * segment_s) / step) * step)
    times, powers, freqs, unit = [], [], None, ""
    start = 0.0
    while start + segment_s <= duration + 1e-9:
        stop = min(duration, start + chunk + (segment_s - step))
        part = spectrogram(recording, pick, start, stop, segment_s=segment_s, fmax=fmax_hz)
        freqs, unit = part.freqs, part.unit
        # The segments that start in this chunk (times are centres); the next chunk's first one starts at its end.
        keep = part.times - segment_s / 2 < start + chunk - 1e-9
        times.append(part.times[keep])
        powers.append(part.power[:, keep].T)
        start += chunk
        if stop >= duration:
            break
    t = np.concatenate(times)
    p = np.concatenate(powers, axis=0)  # (T, F)
    column_s = step
    if t.size > max_columns:
        factor = math.ceil(t.size / max_columns)
        n = t.size // factor * factor
        t = t[:n].reshape(-1, factor).mean(axis=1)
        p = p[:n].reshape(-1, factor, p.shape[1]).mean(axis=1)
        column_s = step * factor
    positive = p[p > 0]
    floor = float(positive.min()) if positive.size else 1e-30
    return SpectrogramTrack(channel, unit, t, freqs, 10.0 * np.log10(np.maximum(p, floor)), column_s)
