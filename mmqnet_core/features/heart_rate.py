"""Heart-rate trace of one ECG or PPG channel, for display: beats per minute against time.

The beats are found by the feature extractor's own detector (:func:`mmqnet_core.features.peripheral.heart_features`:
band-pass, polarity, local beat-size thresholds, the rate-aware second pass, the interval outlier rule), called
here on a fine grid of short windows, so the trace shows exactly the rate the model's heart features are made
of. Its interval rate is 60 / inter-beat interval, placed between the two beats and interpolated to the grid;
where no kept interval lies within ``max_gap_s`` the trace is NaN (no rhythm found, drawn as a gap).

Typical use (the signal browser's heart-rate row)::

    channel = heart_rate_channel(recording.channels)
    trace = recording_heart_rate(recording, channel.name)
    trace.times_s, trace.bpm  # (K,) s from the recording start, (K,) bpm
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..check import check_range
from ..recording import ChannelInfo, Modality, Recording
from .config import FeatureConfig

#: Spacing of the trace's points, s (a beat every 0.3-2 s: 0.25 s resolves every interval).
STEP_S = 0.25
#: Modalities a heart-rate trace is made from, in order of preference.
HEART_MODALITIES = (Modality.ECG, Modality.PPG)


@dataclass(frozen=True)
class HeartRateTrace:
    """A heart-rate trace of one channel."""

    channel: str  # the ECG or PPG channel the beats were found in
    modality: Modality  # ECG or PPG
    times_s: np.ndarray  # (K,) time of each point, s from the recording start
    bpm: np.ndarray  # (K,) heart rate, beats per minute; NaN where no rhythm was found

    @property
    def found(self) -> bool:
        """Whether any heart rate was found at all."""
        return bool(np.isfinite(self.bpm).any())

    def range_bpm(self) -> tuple[float, float]:
        """(low, high) of the finite rates, bpm ((nan, nan) when none was found)."""
        finite = self.bpm[np.isfinite(self.bpm)]
        return (float(finite.min()), float(finite.max())) if finite.size else (float("nan"), float("nan"))


def heart_rate_channel(channels: Iterable[ChannelInfo], name: str | None = None) -> ChannelInfo | None:
    """The channel to take the heart rate from: ``name`` if given, else the first ECG, else the first PPG.

    Raises
    ------
    ValueError
        When ``name`` is given but is not an ECG or PPG channel of ``channels``.
    """
    channels = list(channels)
    if name is not None:
        for ch in channels:
            if ch.name == name:
                if ch.modality not in HEART_MODALITIES:
                    raise ValueError(f"Cannot take a heart rate from channel {name!r}: it is {ch.modality.value}, "
                                     "not ECG or PPG; choose an ECG or PPG channel.")
                return ch
        raise ValueError(f"Cannot take a heart rate from channel {name!r}: no such channel; choose one of "
                         f"{[c.name for c in channels if c.modality in HEART_MODALITIES]}.")
    for modality in HEART_MODALITIES:
        for ch in channels:
            if ch.modality == modality:
                return ch
    return None


def heart_rate_trace(data: np.ndarray, sfreq: float, *, ecg: bool, t0_s: float = 0.0, step_s: float = STEP_S,
                     channel: str = "", orig_sfreq: float | None = None) -> HeartRateTrace:
    """Heart rate (bpm) of one ECG/PPG signal every ``step_s`` seconds.

    Parameters
    ----------
    data : np.ndarray, shape (n_times,)
        The signal, in any unit (the detector finds beats by their shape and local size). NaN samples (missing
        data) are set to the signal's median before detection and the trace is NaN wherever the step's point
        falls in them.
    sfreq : float
        Sampling rate of ``data``, Hz.
    ecg : bool
        ``True`` for ECG R peaks (5-30 Hz band), ``False`` for PPG pulses (0.5-8 Hz).
    t0_s : float
        Time of ``data[0]`` from the recording start, s.
    step_s : float
        Spacing of the trace's points, s.
    channel : str
        Name of the channel (kept in the result).
    orig_sfreq : float, optional
        The channel's recorded rate when ``data`` was resampled, Hz (the detector's band stays below it).

    Returns
    -------
    HeartRateTrace
        Points at the centres of ``step_s`` windows; an empty trace when ``data`` is shorter than two steps.
    """
    from .peripheral import heart_features  # scipy.signal: on first use only
    from .spectral import WindowGrid

    check_range("sfreq", sfreq, 0.0, lo_open=True, unit="Hz")
    check_range("step_s", step_s, 0.0, lo_open=True, unit="s")
    y = np.asarray(data, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"heart_rate_trace takes one channel (n_times,), got an array of shape {y.shape}")
    modality = Modality.ECG if ecg else Modality.PPG
    n_step = int(round(step_s * sfreq))
    if n_step < 2 or y.size < 2 * n_step:
        return HeartRateTrace(channel, modality, np.zeros(0), np.zeros(0))
    missing = ~np.isfinite(y)
    if missing.all():
        grid = WindowGrid.make(sfreq, y.size, step_s)
        times = t0_s + (grid.starts + grid.n / 2) / sfreq
        return HeartRateTrace(channel, modality, times, np.full(times.size, np.nan))
    if missing.any():
        y = np.where(missing, np.median(y[~missing]), y)
    grid = WindowGrid.make(sfreq, y.size, step_s)
    features = heart_features(y[None, :], grid, FeatureConfig(), ecg=ecg,
                              orig_sfreq=None if orig_sfreq is None else np.array([orig_sfreq]))
    bpm = features[0, :, 0].copy()
    centres = grid.starts + grid.n // 2
    if missing.any():
        bpm[missing[np.minimum(centres, y.size - 1)]] = np.nan
    return HeartRateTrace(channel, modality, t0_s + centres / sfreq, bpm)


def recording_heart_rate(recording: Recording, channel: str | None = None, *, step_s: float = STEP_S,
                         start_s: float = 0.0, stop_s: float | None = None) -> HeartRateTrace | None:
    """Heart-rate trace of ``channel`` (default: the first ECG, else PPG) of ``recording`` over
    ``start_s``-``stop_s`` (s; default the whole recording); ``None`` when the recording has no ECG/PPG channel.

    Reads only that channel (the recording is read lazily). The beat detector adapts to the local beat size
    over ~35 s, so a span cut out of a recording gives the same rates as the whole except within ~20 s of its
    ends.
    """
    info = heart_rate_channel(recording.channels, channel)
    if info is None:
        return None
    stop = recording.duration_s if stop_s is None else min(float(stop_s), recording.duration_s)
    start = max(0.0, float(start_s))
    data = recording.get_data(start, stop, picks=[recording.index(info.name)])[0]
    orig = info.sfreq if info.sfreq and info.sfreq < recording.sfreq else None
    return heart_rate_trace(data, recording.sfreq, ecg=info.modality == Modality.ECG, t0_s=start, step_s=step_s,
                            channel=info.name, orig_sfreq=orig)


def trace_values_at(trace: HeartRateTrace, times_s: Sequence[float] | np.ndarray) -> np.ndarray:
    """The trace's rate at ``times_s`` (nearest point), bpm; NaN in its gaps or farther than one step from it."""
    t = np.atleast_1d(np.asarray(times_s, dtype=np.float64))
    pts = trace.times_s
    if pts.size == 0:
        return np.full(t.shape, np.nan)
    right = np.clip(np.searchsorted(pts, t), 0, pts.size - 1)
    left = np.clip(right - 1, 0, pts.size - 1)
    k = np.where(np.abs(pts[left] - t) <= np.abs(pts[right] - t), left, right)
    step = float(np.median(np.diff(pts))) if pts.size > 1 else STEP_S
    out = trace.bpm[k].astype(np.float64)
    out[np.abs(pts[k] - t) > step] = np.nan
    return out
