"""Per-window features of every modality, computed over the whole signal and aggregated per window.

Each extractor takes signals of one modality in its canonical unit (see :data:`CANONICAL_UNITS`), shape
(C, n_times), a :class:`~mmqnet_core.features.spectral.WindowGrid` and the :class:`FeatureConfig`, and returns
(C, T, F) float64. NaN marks a value that cannot be computed (e.g. no heart beat near the window, or an EEG band
above what the channel's recorded rate holds): that *feature* is missing in that window, the token's other
features stay valid (see :func:`~mmqnet_core.features.extract.extract_features`).

Every extractor also takes ``orig_sfreq`` ((C,) Hz, optional): each channel's rate in the file
(``ChannelInfo.sfreq``). A channel recorded at 32 Hz and resampled to 128 Hz holds nothing above 16 Hz, so
filter bands are clipped to 0.45 x the smaller of the analysis and the original rate.

Event detectors (breaths, beats, blinks, SCRs) take their thresholds from robust *local* statistics
(:func:`~mmqnet_core.preprocessing.detect.local_scale`: a running median over blocks of a few seconds), never
from a global extreme: one large movement artefact then only blinds the detector where it happens.

Filters run once over the whole signal (``scipy.signal.sosfiltfilt``, zero phase), events are found once with
``scipy.signal.find_peaks``, and per-window values come from cumulative sums, ``searchsorted`` on event
times or a matrix product on a strided window view: there is no Python loop over windows (only over
channels, of which there are few per peripheral modality).

Event-based features (rates, RMSSD, amplitudes) use a *context* of ``config.context_s`` seconds centred on the
window, clipped to the signal, because a 1 s window holds at most one heart beat and rarely a breath.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter, minimum_filter1d

from .._scipy_signal import signal  # scipy.signal without scipy.stats (see there)
from ..preprocessing.detect import local_scale
from ..recording import Modality
from .config import FeatureConfig
from .spectral import WindowGrid, _de_psd, band_variance, one_sided_weights, window_spectrum

log = logging.getLogger(__name__)

#: Unit every modality is converted to before feature extraction.
CANONICAL_UNITS: dict[Modality, str] = {
    Modality.EEG: "uV", Modality.EOG: "uV", Modality.EMG: "uV", Modality.ECG: "uV",
    Modality.GSR: "uS", Modality.TEMP: "degC", Modality.RESP: "a.u.", Modality.PPG: "a.u.",
}  # fmt: skip

#: Smallest skin conductance response counted, uS (the usual 0.01-0.05 uS criterion of the EDA literature).
SCR_MIN_AMPLITUDE_US = 0.02
#: Smallest blink counted on EOG, uV. Blinks are 100-400 uV on a vertical EOG and >= ~50 uV on the frontal
#: electrodes next to the eyes; frontal EEG waves and common-mode transients reach 20-50 uV (spkit's real Emotiv
#: EEG, tests/core/real/test_real_blinks.py): the former rule (4 SD, 20 uV) counted them as 10-60 blinks/min.
BLINK_MIN_AMPLITUDE_UV = 50.0
#: Width of a blink at half its prominence, s (lid closing and opening take 0.1-0.4 s in all): narrower peaks
#: are spikes or pops, wider ones slow eye movements and drifts.
BLINK_WIDTH_S = (0.05, 0.5)
#: Shortest interval between two blinks, s.
BLINK_MIN_INTERVAL_S = 0.3
#: Smallest blink, in local robust SDs of the band-passed channel. In band-passed (0.5-10 Hz) Gaussian noise,
#: peaks of the blink width reach a prominence of 4 SD 38 times a minute and 6 SD 3 times; blinks stand 10-50
#: SD above a vertical EOG's background.
BLINK_MIN_SD = 6.0
#: Physiological limits of the inter-beat interval (30-200 bpm) and the breath interval (3-60 /min), s.
IBI_RANGE_S = (0.3, 2.0)
BREATH_RANGE_S = (1.0, 20.0)
#: Smallest breath counted, as a fraction of the local breath depth (see :func:`resp_features`).
RESP_REL_PROMINENCE = 0.2
#: Smallest event (breath, beat) counted anywhere, as a fraction of the channel's typical event size (75th
#: percentile over the recording of the local scale): a belt or sensor that is present but records no
#: breathing/pulse for a while (apnoea, detached sensor) then yields "not found", not noise counted as events.
EVENT_FLOOR = 0.1
#: Span of the running median that gives a belt's mid-level (the resting lung volume), s: the longest breath
#: interval counted (:data:`BREATH_RANGE_S`), so it always spans at least one whole breath.
RESP_MIDLEVEL_S = 20.0
#: A beat stands out of its channel's noise (see :func:`_drop_noise_peaks`): the running median, over
#: NOISE_TEST_PEAKS peaks, of each peak's height above the median in local robust SDs (:func:`local_scale`,
#: "mad") is >= BEAT_MIN_SD. Peaks that a detector finds in Gaussian noise reach 1.5-3 SD; PPG pulses 4-10 SD
#: and ECG R peaks 20-30 SD on the real recordings of tests/core/real. A sinusoid-like PPG stands only ~1 SD
#: above its median, so a PPG peak also counts where the signal repeats: autocorrelation >= MIN_PERIODICITY
#: at a beat lag (band-passed noise: 0.1-0.4). Noise then reads "no beat found", not a rate of 100-190 bpm.
BEAT_MIN_SD = {"ppg": 4.0, "ecg": 4.0}
NOISE_TEST_PEAKS = 9
MIN_PERIODICITY = 0.5
_TINY_POWER_UV2 = 1e-12  # floor before log10 of a power in uV^2 (-> -120 dB)

_VOLT_SCALE = {"v": 1e6, "": 1e6, "mv": 1e3, "uv": 1.0, "µv": 1.0, "μv": 1.0, "nv": 1e-3}
_SIEMENS_SCALE = {"us": 1.0, "µs": 1.0, "μs": 1.0, "": 1.0, "s": 1e6, "ms": 1e3, "ns": 1e-3}
_OHM_SCALE = {"ohm": 1.0, "ω": 1.0, "kohm": 1e3, "kω": 1e3, "mohm": 1e6, "mω": 1e6}


def to_canonical(modality: Modality, data: np.ndarray, unit: str) -> np.ndarray:
    """Convert ``data`` (C, n_times) from ``unit`` to the modality's canonical unit.

    Volts (and "" for electrical channels: the recording contract says mne returns volts) -> uV; skin
    conductance in S/mS/nS -> uS; skin *resistance* in Ohm/kOhm/MOhm -> conductance in uS (1e6 / R[Ohm]);
    temperature in K or degF -> degC. Unknown units are kept as they are (logged).
    """
    u = unit.strip().lower().replace("°", "deg")
    data = np.asarray(data, dtype=np.float64)
    if modality in (Modality.EEG, Modality.EOG, Modality.EMG, Modality.ECG):
        if u in _VOLT_SCALE:
            return data * _VOLT_SCALE[u]
    elif modality == Modality.GSR:
        if u in _SIEMENS_SCALE:
            return data * _SIEMENS_SCALE[u]
        if u in _OHM_SCALE:
            with np.errstate(divide="ignore", invalid="ignore"):
                r = data * _OHM_SCALE[u]
                return np.where(r > 0, 1e6 / r, np.nan)
    elif modality == Modality.TEMP:
        if u in ("degc", "c", "", "celsius"):
            return data
        if u == "k":
            return data - 273.15
        if u in ("degf", "f"):
            return (data - 32.0) * 5.0 / 9.0
    else:
        return data
    log.warning("Unknown unit %r for a %s channel: values used as they are.", unit, modality.value)
    return data


# --- helpers on the whole signal -------------------------------------------------------------------------------
def _filter(
    data: np.ndarray, sfreq: float, low: float | None, high: float | None, order: int = 2,
    orig_sfreq: np.ndarray | float | None = None,
) -> np.ndarray:
    """Zero-phase Butterworth band/low/high-pass along the last axis.

    The upper cut-off is clipped below 0.45 x the analysis rate and 0.45 x each row's original rate
    (``orig_sfreq``, Hz, scalar or one per row): rows recorded at different rates are filtered separately.
    A band whose low edge is not well below the clipped upper edge becomes a low-pass at that edge.
    """
    if orig_sfreq is not None:
        orig = np.broadcast_to(np.asarray(orig_sfreq, dtype=float), data.shape[:1])
        orig = np.where(np.isfinite(orig) & (orig > 0), np.minimum(orig, sfreq), sfreq)
        if np.any(orig < sfreq):
            out = np.empty(data.shape, dtype=np.float64)
            for rate in np.unique(orig):
                rows = orig == rate
                h = high if high is None else min(high, 0.45 * rate)
                lo = low if (low is None or h is None or low < 0.8 * h) else None
                out[rows] = _filter(data[rows], sfreq, lo, h, order)
            return out
    nyq_safe = 0.45 * sfreq
    high = None if high is None or high >= nyq_safe else high
    if low is None and high is None:
        return data
    if low is None:
        sos = signal.butter(order, high, btype="lowpass", fs=sfreq, output="sos")
    elif high is None:
        sos = signal.butter(order, low, btype="highpass", fs=sfreq, output="sos")
    else:
        sos = signal.butter(order, [low, high], btype="bandpass", fs=sfreq, output="sos")
    padlen = min(3 * (2 * len(sos) + 1), data.shape[-1] - 1)
    return signal.sosfiltfilt(sos, data, axis=-1, padlen=max(padlen, 0))


def _polarity(y: np.ndarray, sfreq: float | None = None, block_s: float = 10.0) -> float:
    """+1 if the signal's large excursions point up (positive skew), else -1.

    With ``sfreq``, each block of ``block_s`` seconds votes with the sign of its own third moment and the
    majority decides (ties: the whole signal's): a few large movement artefacts then cannot flip the polarity of
    the whole channel, as they did through the one third moment of the whole signal (a synthetic PPG with 6
    motion artefacts of 2-5 s in 5 min was read upside down, its dicrotic notches counted as beats).
    """
    d = y - np.median(y)
    whole = 1.0 if np.mean(d**3) >= 0 else -1.0
    n = 0 if sfreq is None else int(round(block_s * sfreq))
    k = d.size // n if n > 0 else 0
    if k < 3:
        return whole
    b = d[: k * n].reshape(k, n)
    b = b - np.median(b, axis=1, keepdims=True)
    votes = np.sign(np.mean(b**3, axis=1))
    total = float(votes.sum())
    return whole if total == 0 else float(np.sign(total))


def _robust_sigma(y: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(y - np.median(y))))


@dataclass(frozen=True)
class Events:
    """Events (peaks) found in one channel: times in s and amplitudes (prominences) in signal units."""

    times: np.ndarray  # (E,) s, increasing
    amplitudes: np.ndarray  # (E,)


def find_events(
    y: np.ndarray,
    sfreq: float,
    *,
    min_interval_s: float,
    min_prominence: float | np.ndarray,
    min_height: float | np.ndarray | None = None,
) -> Events:
    """Peaks of ``y`` at least ``min_interval_s`` apart with prominence >= ``min_prominence`` (signal units)
    and, if given, height >= ``min_height``.

    Both limits may be scalars or per-sample arrays shaped like ``y`` (local thresholds, e.g. from
    :func:`~mmqnet_core.preprocessing.detect.local_scale`); ``scipy.signal.find_peaks`` takes the same arrays
    and compares each peak with the limit at its own sample.
    """
    prom = np.maximum(min_prominence, 1e-300)
    peaks, props = signal.find_peaks(
        y, distance=max(1, int(round(min_interval_s * sfreq))), prominence=(prom, None),
        height=None if min_height is None else (min_height, None),
    )
    # sub-sample peak times by parabolic interpolation: at 128 Hz a sample is 7.8 ms, as large as a typical
    # RMSSD, so integer peak times would add several ms of spurious beat-to-beat variability
    inner = (peaks > 0) & (peaks < y.size - 1)
    p = peaks[inner]
    a, b, c = y[p - 1], y[p], y[p + 1]
    den = a - 2 * b + c
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where(den < 0, 0.5 * (a - c) / den, 0.0)
    times = peaks.astype(float)
    times[inner] += np.clip(delta, -0.5, 0.5)
    return Events(times / sfreq, props["prominences"])


def _context(grid: WindowGrid, context_s: float, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) s of the context centred on each window, clipped to [0, duration]."""
    c = grid.centres_s
    return np.clip(c - context_s / 2, 0, duration_s), np.clip(c + context_s / 2, 0, duration_s)


def context_sum(times: np.ndarray, values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count and sum of ``values`` at event ``times`` falling in [lo, hi) of each window, vectorised."""
    i0 = np.searchsorted(times, lo, side="left")
    i1 = np.searchsorted(times, hi, side="left")
    cs = np.concatenate([[0.0], np.cumsum(values)])
    return (i1 - i0).astype(float), cs[i1] - cs[i0]


def event_rate(ev: Events, grid: WindowGrid, context_s: float, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Events per minute and mean amplitude (0 when none) in the context of each window."""
    lo, hi = _context(grid, context_s, duration_s)
    count, amp_sum = context_sum(ev.times, ev.amplitudes, lo, hi)
    span = np.maximum(hi - lo, 1e-9)
    rate = count * 60.0 / span
    amp = np.where(count > 0, amp_sum / np.maximum(count, 1), 0.0)
    return rate, amp


def kept_intervals(
    times: np.ndarray, valid_range_s: tuple[float, float], max_rel_deviation: float | None = None
) -> np.ndarray:
    """Which intervals ``np.diff(times)`` (s) are real event-to-event intervals, (E - 1,) bool.

    Intervals outside ``valid_range_s`` are dropped; with ``max_rel_deviation``, so are intervals farther than
    that fraction from the median of the 5 in-range intervals around them (a missed beat doubles an interval,
    an extra one halves it: the usual median-deviation artefact rule of heart-rate-variability software).
    """
    iv = np.diff(times)
    keep = (iv >= valid_range_s[0]) & (iv <= valid_range_s[1])
    if max_rel_deviation is not None and keep.sum() >= 5:
        ref = np.full(iv.shape, np.nan)
        ref[keep] = median_filter(iv[keep], size=5, mode="nearest")
        keep &= np.abs(iv - ref) <= max_rel_deviation * ref
    return keep


def interval_rate(
    ev: Events, grid: WindowGrid, valid_range_s: tuple[float, float], max_gap_s: float, *,
    max_rel_deviation: float | None = None,
) -> np.ndarray:
    """Instantaneous rate 60 / interval (per min) interpolated to window centres.

    Only the intervals :func:`kept_intervals` keeps count; each is placed at the middle of its two events.
    Windows farther than ``max_gap_s`` from any kept interval get NaN (no rhythm there).
    """
    t = ev.times
    iv = np.diff(t)
    keep = kept_intervals(t, valid_range_s, max_rel_deviation)
    if keep.sum() < 2:
        return np.full(grid.n_windows, np.nan)
    tm = ((t[1:] + t[:-1]) / 2)[keep]
    rate = 60.0 / iv[keep]
    c = grid.centres_s
    out = np.interp(c, tm, rate)
    j = np.clip(np.searchsorted(tm, c), 1, tm.size - 1)
    gap = np.minimum(np.abs(c - tm[j - 1]), np.abs(c - tm[j]))
    out[gap > max_gap_s] = np.nan
    return out


def rmssd(
    ev: Events, grid: WindowGrid, context_s: float, duration_s: float, *, max_rel_deviation: float | None = 0.3
) -> np.ndarray:
    """RMSSD of inter-beat intervals (ms) over the context of each window; NaN where no two successive kept
    intervals lie there.

    A successive difference counts only between two *neighbouring* intervals that :func:`kept_intervals`
    keeps (0.3-2 s and within ``max_rel_deviation`` of their local median, the heart rate's rule): one missed
    or extra beat would otherwise add a difference of a whole interval (~800 ms) to a statistic of 20-50 ms
    (pyphysio's real PPG: a median of 40.4 ms over the windows and 316 ms at the 90th percentile, against
    28.5 ms from the same recording's ECG).
    """
    t = ev.times
    iv = np.diff(t)
    keep = kept_intervals(t, IBI_RANGE_S, max_rel_deviation)
    d2 = np.diff(iv) ** 2
    pair_ok = keep[1:] & keep[:-1]
    lo, hi = _context(grid, context_s, duration_s)
    count, s = context_sum(t[2:][pair_ok], d2[pair_ok], lo, hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, 1000.0 * np.sqrt(s / np.maximum(count, 1)), np.nan)


def window_slope(data: np.ndarray, grid: WindowGrid) -> np.ndarray:
    """Least-squares slope of each window, units per s, (C, T)."""
    j = np.arange(grid.n) - (grid.n - 1) / 2
    w = j / np.sum(j**2) * grid.sfreq
    return grid.view(data) @ w


def window_waveform(data: np.ndarray, grid: WindowGrid, points: int) -> np.ndarray:
    """Mean of ``points`` equal sub-bins of each window (the downsampled waveform), (C, T, points)."""
    edges = np.round(np.linspace(0, grid.n, points + 1)).astype(int)
    b = np.zeros((grid.n, points))
    for p in range(points):
        lo, hi = edges[p], max(edges[p + 1], edges[p] + 1)
        b[lo:hi, p] = 1.0 / (hi - lo)
    return grid.view(data) @ b


def _db(power_uv2: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power_uv2, _TINY_POWER_UV2))


# --- extractors --------------------------------------------------------------------------------------------------
def eeg_features(
    data: np.ndarray, grid: WindowGrid, config: FeatureConfig, *, orig_sfreq: np.ndarray | None = None
) -> np.ndarray:
    """DE and PSD per band (data in uV): ``de_<band>`` in nats, ``psd_<band>`` in dB re 1 uV^2/Hz or V^2/Hz.

    A band reaching above half a channel's recorded rate (``orig_sfreq``) holds only resampling residue: its
    two columns are NaN for that channel (feature-level missing).
    """
    de, psd = _de_psd(window_spectrum(data, grid), grid, [(lo, hi) for _, lo, hi in config.all_bands])
    de, psd = de.transpose(1, 0, 2), psd.transpose(1, 0, 2)  # (C, T, B)
    psd = _db(psd.astype(np.float64)) if config.log_psd else psd.astype(np.float64) * 1e-12  # uV^2 -> V^2
    out = np.concatenate([de.astype(np.float64), psd], axis=-1)  # (C, T, 2B)
    if orig_sfreq is not None:
        his = np.array([hi for _, _, hi in config.all_bands])
        above = his[None, :] > 0.5 * np.asarray(orig_sfreq, dtype=float)[:, None] + 1e-9  # (C, B)
        out[np.concatenate([above, above], axis=1)[:, None, :].repeat(out.shape[1], axis=1)] = np.nan
    return out


def find_blinks(y: np.ndarray, sfreq: float) -> Events:
    """Blinks in one band-passed (0.5-10 Hz) EOG channel, uV: times (s) and prominences (uV).

    A blink is a peak >= :data:`BLINK_MIN_INTERVAL_S` from the next, with prominence >= max(:data:`BLINK_MIN_SD`
    local robust SD, :data:`BLINK_MIN_AMPLITUDE_UV`) and a half-prominence width within :data:`BLINK_WIDTH_S`
    (``scipy.signal.find_peaks`` does the search; only the limits are ours). The robust SD is
    :func:`~mmqnet_core.preprocessing.detect.local_scale` ("mad", 10-s blocks, running median over 5): blinks
    (~5 % of the time) do not move it, and neither does one large artefact, which also no longer sets the
    threshold far from it.

    Polarity: blinks are counted in the direction (up or down) in which more of them are found, up on a tie
    (up is a blink on a vertical EOG or frontal electrode referenced behind the eyes). Blinks repeat, so one
    large artefact cannot turn the channel over, as the skewness of the whole channel did (issue 9: a single
    -1000 uV transient made the detector count the EEG's downward waves).
    """
    sd = local_scale(y, sfreq, block_s=10.0, context_blocks=5, stat="mad", full_edges=True)
    thr = np.maximum(BLINK_MIN_SD * sd, BLINK_MIN_AMPLITUDE_UV)
    lo, hi = BLINK_WIDTH_S
    found = []
    for sign in (1.0, -1.0):
        peaks, props = signal.find_peaks(
            sign * y, distance=max(1, int(round(BLINK_MIN_INTERVAL_S * sfreq))), prominence=(thr, None),
            width=(lo * sfreq, hi * sfreq), rel_height=0.5)
        found.append((peaks, props["prominences"]))
    peaks, prom = found[0] if found[0][0].size >= found[1][0].size else found[1]
    return Events(peaks / sfreq, prom)


def eog_features(
    data: np.ndarray, grid: WindowGrid, config: FeatureConfig, *, orig_sfreq: np.ndarray | None = None
) -> np.ndarray:
    """Blink rate (1/min) and amplitude (uV) over the context; 1-4 Hz and total power (dB re 1 uV^2).

    Blinks (:func:`find_blinks`) are found in the 0.5-10 Hz band (upper edge clipped to the recorded rate).
    """
    sfreq = grid.sfreq
    y = _filter(data, sfreq, 0.5, 10.0, orig_sfreq=orig_sfreq)
    out = np.empty((data.shape[0], grid.n_windows, 4))
    for c in range(data.shape[0]):
        ev = find_blinks(y[c], sfreq)
        out[c, :, 0], out[c, :, 1] = event_rate(ev, grid, config.context_s, data.shape[1] / sfreq)
    spec = window_spectrum(data, grid)  # (C, T, K)
    power = (spec.real**2 + spec.imag**2).astype(np.float64)
    freqs = np.fft.rfftfreq(grid.n, 1 / sfreq)
    low = (freqs >= 1.0) & (freqs < 4.0)
    m = np.stack([low if low.any() else freqs == freqs[1], freqs > 0], axis=1).astype(float)
    out[..., 2:] = _db(band_variance(power, grid.n, m))
    return out


def emg_features(
    data: np.ndarray, grid: WindowGrid, config: FeatureConfig, *, orig_sfreq: np.ndarray | None = None
) -> np.ndarray:
    """log10 RMS (uV) and mean frequency (Hz, power-weighted, DC excluded) of each window."""
    spec = window_spectrum(data, grid)
    power = (spec.real**2 + spec.imag**2).astype(np.float64) * one_sided_weights(grid.n) / grid.n**2
    freqs = np.fft.rfftfreq(grid.n, 1 / grid.sfreq)
    total = power.sum(-1)
    out = np.empty(total.shape + (2,))
    out[..., 0] = 0.5 * np.log10(np.maximum(total, _TINY_POWER_UV2))
    with np.errstate(invalid="ignore", divide="ignore"):
        out[..., 1] = np.where(total > 0, (power @ freqs) / total, np.nan)
    return out


def _periodicity(y: np.ndarray, sfreq: float, block_s: float, lags_s: tuple[float, float],
                 at: np.ndarray | None = None) -> np.ndarray:
    """Per-sample periodicity of ``y``: in each block of ``block_s`` s, the largest normalised autocorrelation
    (unbiased estimate, Wiener-Khinchin via ``numpy.fft``) over lags ``lags_s`` (s); blocks do not overlap,
    a partial last block joins the previous one. 1 for a pure rhythm, ~0.1-0.4 for band-passed noise.
    ``at`` (sample indices, optional): only the blocks holding them are computed (the others read 0)."""
    n = y.size
    b = int(round(block_s * sfreq))
    lo, hi = int(round(lags_s[0] * sfreq)), int(round(lags_s[1] * sfreq))
    if n < 2 * hi or b <= hi:
        return np.zeros(n)
    nb = max(1, n // b)
    edges = np.append(np.arange(nb) * b, n)
    out = np.empty(n) if at is None else np.zeros(n)
    todo = range(nb) if at is None else np.unique(np.minimum(np.asarray(at, np.int64) // b, nb - 1)).tolist()
    for i in todo:  # a few blocks per minute, each one FFT
        s = y[edges[i]:edges[i + 1]]
        s = s - s.mean()
        f = np.fft.rfft(s, 2 * s.size)
        ac = np.fft.irfft(f * np.conj(f))[: s.size]
        if ac[0] <= 0:
            out[edges[i]:edges[i + 1]] = 0.0
            continue
        ac = ac / ac[0] * s.size / (s.size - np.arange(s.size))
        out[edges[i]:edges[i + 1]] = ac[lo:hi + 1].max()
    return out


def _drop_noise_peaks(
    ev: Events, y: np.ndarray, sfreq: float, min_sd: float, *, periodic_ok: bool, raw: np.ndarray | None = None
) -> Events:
    """``ev`` without the peaks that neither stand out of the noise of ``y`` (median-centred, signal units)
    nor belong to a periodic signal.

    Each peak's height is divided by the robust local SD (:func:`local_scale`, "mad"); the running median of
    these ratios over :data:`NOISE_TEST_PEAKS` consecutive peaks (``scipy.ndimage.median_filter``) must reach
    ``min_sd`` (the median over neighbouring peaks keeps a low beat inside a clear rhythm and rejects the
    occasional tall noise peak, whose neighbours are noise too). With ``periodic_ok``, a peak in a 10-s block
    (on either of two block grids half a block apart) whose autocorrelation at a beat lag (0.3-2 s) reaches
    :data:`MIN_PERIODICITY` is kept as well: a sinusoid-like pulse wave stands no higher above its median than
    noise does, but it repeats. With ``raw``
    (the unfiltered channel), peaks where the raw signal spans at most two quantisation steps (the smallest
    change between its samples) over the surrounding second are dropped too: a flat line ticking by one step.
    """
    if ev.times.size == 0:
        return ev
    sd = local_scale(y, sfreq, block_s=5.0, context_blocks=7, stat="mad", full_edges=True)
    idx = np.clip(np.round(ev.times * sfreq).astype(int), 0, y.size - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sd[idx] > 0, y[idx] / sd[idx], np.inf)
    keep = median_filter(ratio, size=NOISE_TEST_PEAKS, mode="nearest") >= min_sd
    if periodic_ok:
        # blocks on two grids half a block apart: a heart rate that swings (real PPG, heartpy's data3.csv: 78 to
        # 107 bpm within seconds) lowers the autocorrelation of a block it crosses in the middle; the shifted
        # block holds the steadier part (beats kept: 79 -> 90 % of heartpy's; band-passed noise stays < 0.5)
        half = int(round(5.0 * sfreq))
        keep |= _periodicity(y, sfreq, 10.0, IBI_RANGE_S)[idx] >= MIN_PERIODICITY
        todo = idx[~keep & (idx >= half)]  # the shifted blocks only where a peak is still in doubt
        if todo.size and y.size > 2 * half:
            shifted = _periodicity(y[half:], sfreq, 10.0, IBI_RANGE_S, at=todo - half)
            keep |= (idx >= half) & (shifted[np.maximum(idx - half, 0)] >= MIN_PERIODICITY)
    if raw is not None:
        d = np.abs(np.diff(raw))
        d = d[d > 0]
        if d.size:  # a flat line ticking by one quantisation step (the smallest change of the channel)
            size = max(1, int(round(1.0 * sfreq)))
            ptp = (maximum_filter1d(raw, size, mode="nearest") - minimum_filter1d(raw, size, mode="nearest"))[idx]
            keep &= ptp > 2.0 * d.min()
    return Events(ev.times[keep], ev.amplitudes[keep])


def find_beats(y: np.ndarray, sfreq: float, *, ecg: bool, raw: np.ndarray | None = None) -> Events:
    """Heart beats in one band-passed PPG or ECG channel ``y`` (n_times,) at ``sfreq`` Hz (see
    :func:`heart_features`); ``raw``: the channel before filtering (for the quantisation test)."""
    yc = y * _polarity(y, sfreq)
    med = np.median(yc)
    scale = local_scale(yc - med, sfreq, block_s=5.0, context_blocks=7, stat="peak")
    thr = np.maximum(0.4 * scale, EVENT_FLOOR * np.percentile(scale, 75))
    # a height criterion as well: between beats, a noise ripple next to the deep trough that follows a
    # band-passed R peak can be as *prominent* as a beat, but it is not as high
    ev = find_events(yc, sfreq, min_interval_s=IBI_RANGE_S[0], min_prominence=thr, min_height=med + thr)
    iv = np.diff(ev.times)
    iv = iv[(iv >= IBI_RANGE_S[0]) & (iv <= IBI_RANGE_S[1])]
    if iv.size >= 5 and 0.5 * np.median(iv) > IBI_RANGE_S[0]:
        # rate-aware second pass: beats at least half the median interval apart (the heart rate may double
        # within a recording, not more), which drops a PPG's dicrotic peak or an ECG's tall T wave
        ev = find_events(yc, sfreq, min_interval_s=0.5 * float(np.median(iv)), min_prominence=thr,
                         min_height=med + thr)
    ev = _drop_noise_peaks(ev, yc - med, sfreq, BEAT_MIN_SD["ecg" if ecg else "ppg"], periodic_ok=not ecg, raw=raw)
    return ev if ecg else Events(align_to_template(yc, sfreq, ev.times), ev.amplitudes)


def align_to_template(
    y: np.ndarray, sfreq: float, times: np.ndarray, *, max_lag_s: float = 0.1, block: int = 64, rounds: int = 2
) -> np.ndarray:
    """Beat times (s) refined by aligning each pulse with the median pulse of its neighbours.

    A PPG's systolic peak is blunt: noise moves its maximum by 15-30 ms at 15-30 % noise (synthetic PPG with
    known beats), and RMSSD, the RMS of differences of differences of beat times, grows by ~sqrt(6) x that
    jitter. The whole pulse, correlated with a template, places it far better (the matched filter): each beat's
    segment (from 0.3 to 0.4 median intervals around it) is cross-correlated with the median segment of its block
    of ``block`` beats at lags up to ``max_lag_s`` (at most 0.2 median intervals; noise moves a blunt peak by up
    to ~60 ms: a narrower search left such beats where they were), the maximum refined by a parabola; ``rounds`` times, each
    template made from the previous round's alignment. A beat whose best lag lies at the edge of the search (a
    distorted pulse) keeps its time, as do beats too near the signal's ends and signals of fewer than 8 beats.
    The times keep the peaks' common offset (the template is centred on the median peak).
    """
    times = np.asarray(times, dtype=float)
    iv = np.diff(times)
    iv = iv[(iv >= IBI_RANGE_S[0]) & (iv <= IBI_RANGE_S[1])]
    if times.size < 8 or iv.size < 4:
        return times
    ibi = float(np.median(iv))
    a, b = int(round(0.3 * ibi * sfreq)), int(round(0.4 * ibi * sfreq))
    lag = max(1, int(round(min(max_lag_s, 0.2 * ibi) * sfreq)))
    width = a + b
    if width < 4:
        return times
    from numpy.lib.stride_tricks import sliding_window_view

    out = times.copy()
    pos = times * sfreq  # samples
    for _ in range(rounds):
        p = np.round(pos).astype(int)
        ok = np.flatnonzero((p - a - lag >= 0) & (p + b + lag < y.size))
        if ok.size < 8:
            return out
        segs = sliding_window_view(y, width + 2 * lag)[p[ok] - a - lag]  # (B, W + 2L) view
        core = segs[:, lag:lag + width]  # (B, W): each pulse as the detector placed it
        tpl = np.empty_like(core)
        for j in range(0, ok.size, block):  # the median pulse of each block of beats, zero mean
            med = np.median(core[j:j + block], axis=0)
            tpl[j:j + block] = med - med.mean()
        cc = np.empty((ok.size, 2 * lag + 1))
        for j in range(0, ok.size, 4096):  # (B, 2L + 1, W) views in pieces: bounded memory on a day of beats
            win = sliding_window_view(segs[j:j + 4096], width, axis=1)
            cc[j:j + 4096] = np.einsum("blw,bw->bl", win, tpl[j:j + 4096])
        k = np.argmax(cc, axis=1)
        inner = (k > 0) & (k < 2 * lag)
        r = np.arange(ok.size)[inner]
        c0, c1, c2 = cc[r, k[inner] - 1], cc[r, k[inner]], cc[r, k[inner] + 1]
        den = c0 - 2 * c1 + c2
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(den < 0, 0.5 * (c0 - c2) / den, 0.0)
        new = p[ok].astype(float)
        new[inner] += (k[inner] - lag) + np.clip(frac, -0.5, 0.5)
        moved = ok[inner]
        pos[moved] = new[inner]
        out[moved] = pos[moved] / sfreq
    return out


def heart_features(
    data: np.ndarray, grid: WindowGrid, config: FeatureConfig, *, ecg: bool = False,
    orig_sfreq: np.ndarray | None = None,
) -> np.ndarray:
    """Heart rate (bpm), RMSSD (ms) and beat amplitude (signal units) from PPG pulses or ECG R peaks.

    PPG is band-passed 0.5-8 Hz, ECG 5-30 Hz (upper edges clipped to the channel's recorded rate), and flipped
    so that beats point up (the skew of most 10-s blocks: :func:`_polarity`). Beats (:func:`find_beats`) are peaks at least 0.3 s apart (200 bpm) whose prominence and height above
    the median are >= 0.4 x the local beat amplitude (:func:`local_scale`, "peak": block maximum - block
    median over 5-s blocks, running median over 7 blocks), so a movement artefact many times a beat's size
    blinds the detector only in its own blocks (and >= :data:`EVENT_FLOOR` x the typical beat amplitude, so
    the noise of a detached sensor is not counted); a second pass keeps beats at least half the median beat
    interval apart. Peaks that do not stand out of the noise (:data:`BEAT_MIN_SD` local robust SDs; for PPG
    also a periodic signal) or lie on a flat line ticking by one quantisation step are dropped
    (:func:`_drop_noise_peaks`): a channel with no beats (noise, a flat-ish line) gives NaN for all three
    features ("detector found nothing"), not a rate. Peak times are refined to sub-sample precision, a PPG's
    pulses then aligned with the median pulse of their neighbours (:func:`align_to_template`); intervals outside
    0.3-2 s or more than 30 % off the median of their 5 neighbours are dropped (:func:`kept_intervals`), from the
    heart rate and from RMSSD alike (RMSSD: successive differences of neighbouring kept intervals only). Fewer
    than two beats in a window's context: its beat amplitude is NaN too.
    """
    sfreq = grid.sfreq
    y = _filter(data, sfreq, *((5.0, 30.0) if ecg else (0.5, 8.0)), orig_sfreq=orig_sfreq)
    dur = data.shape[1] / sfreq
    out = np.empty((data.shape[0], grid.n_windows, 3))
    for c in range(data.shape[0]):
        ev = find_beats(y[c], sfreq, ecg=ecg, raw=data[c])
        out[c, :, 0] = interval_rate(ev, grid, IBI_RANGE_S, max_gap_s=max(config.context_s / 2, 2 * IBI_RANGE_S[1]),
                                     max_rel_deviation=0.3)
        out[c, :, 1] = rmssd(ev, grid, config.context_s, dur)
        count = context_sum(ev.times, ev.amplitudes, *_context(grid, config.context_s, dur))[0]
        # fewer than two beats near the window (no rhythm there): the beat amplitude is unknown, not 0
        out[c, :, 2] = np.where(count >= 2, event_rate(ev, grid, config.context_s, dur)[1], np.nan)
    return out


def _midlevel(y: np.ndarray, sfreq: float, span_s: float) -> np.ndarray:
    """Running median of ``y`` over ``span_s`` seconds, one value per sample (signal units).

    Computed on a 4-Hz subsample (breathing lies below 1 Hz, and the median of a slow signal barely depends on
    which samples of a 20-s span it takes) and interpolated back: ``scipy.ndimage.median_filter`` over every
    sample at 128 Hz would cost O(n x 2560). Edges use the nearest full value ("nearest" padding).
    """
    step = max(1, int(sfreq // 4))
    sub = y[::step]
    size = max(1, int(round(span_s * sfreq / step))) | 1
    med = median_filter(sub, size=min(size, sub.size if sub.size % 2 else max(sub.size - 1, 1)), mode="nearest")
    return np.interp(np.arange(y.size), np.arange(sub.size) * step, med)


def resp_features(
    data: np.ndarray, grid: WindowGrid, config: FeatureConfig, *, orig_sfreq: np.ndarray | None = None
) -> np.ndarray:
    """Breathing rate (1/min) from peak intervals, depth (peak prominence) and the waveform.

    The belt signal is band-passed 0.05-1 Hz; breaths are peaks at least 1 s apart whose prominence is >=
    RESP_REL_PROMINENCE (0.2) x the local breath depth (:func:`local_scale`, "range": block max - min over
    15-s blocks, running median over 5 blocks = 75 s, also at the recording's ends), so one large movement
    does not raise the threshold of the whole recording, and >= :data:`EVENT_FLOOR` x the channel's typical
    depth (so noise on a still belt is not counted), and that lie above the belt's local mid-level
    (:func:`_midlevel`: running median over
    :data:`RESP_MIDLEVEL_S`): an inhalation rises above the resting level, whereas a ripple on the exhalation
    limb or in the trough between two breaths does not (the zero-crossing rule of the breath detectors of
    Khodadad et al. 2018 and BioSPPy); intervals outside 1-20 s are dropped. No breath found near a window:
    rate and depth are NaN there.
    """
    sfreq = grid.sfreq
    y = _filter(data, sfreq, 0.05, 1.0, orig_sfreq=orig_sfreq)
    dur = data.shape[1] / sfreq
    ctx = max(config.context_s, 2 * BREATH_RANGE_S[1])
    out = np.empty((data.shape[0], grid.n_windows, 2 + config.waveform_points))
    for c in range(data.shape[0]):
        scale = local_scale(y[c], sfreq, block_s=15.0, context_blocks=5, stat="range", full_edges=True)
        thr = np.maximum(RESP_REL_PROMINENCE * scale, EVENT_FLOOR * np.percentile(scale, 75))
        ev = find_events(y[c], sfreq, min_interval_s=BREATH_RANGE_S[0], min_prominence=thr,
                         min_height=_midlevel(y[c], sfreq, RESP_MIDLEVEL_S))
        out[c, :, 0] = interval_rate(ev, grid, BREATH_RANGE_S, max_gap_s=ctx)
        count = context_sum(ev.times, ev.amplitudes, *_context(grid, ctx, dur))[0]
        depth = event_rate(ev, grid, ctx, dur)[1]
        out[c, :, 1] = np.where(count > 0, depth, np.nan)  # no breath in the context: depth unknown, not 0
    out[..., 2:] = window_waveform(data, grid, config.waveform_points)
    return out


def gsr_features(
    data: np.ndarray, grid: WindowGrid, config: FeatureConfig, *, orig_sfreq: np.ndarray | None = None
) -> np.ndarray:
    """Skin conductance level (uS), slope (uS/s), SCR rate (1/min) and amplitude (uS), and the waveform.

    Phasic component = (signal low-passed at 1 Hz) - (tonic: signal low-passed at 0.05 Hz); SCRs are its peaks
    at least 1 s apart with prominence >= :data:`SCR_MIN_AMPLITUDE_US`; the amplitude is the prominence. The
    threshold is the absolute physiological criterion of the EDA literature, so an electrode movement cannot
    raise it.
    """
    sfreq = grid.sfreq
    phasic = gsr_phasic(data, sfreq, orig_sfreq=orig_sfreq)
    dur = data.shape[1] / sfreq
    out = np.empty((data.shape[0], grid.n_windows, 4 + config.waveform_points))
    out[..., 0] = grid.window_mean(data)
    out[..., 1] = window_slope(data, grid)
    for c in range(data.shape[0]):
        ev = find_scr(phasic[c], sfreq)
        out[c, :, 2], out[c, :, 3] = event_rate(ev, grid, config.context_s, dur)
    out[..., 4:] = window_waveform(data, grid, config.waveform_points)
    return out


def gsr_phasic(data: np.ndarray, sfreq: float, *, orig_sfreq: np.ndarray | None = None) -> np.ndarray:
    """Phasic skin conductance (uS) of ``data`` (C, n_times) uS at ``sfreq`` Hz: the signal low-passed at 1 Hz
    minus the tonic level (low-passed at 0.05 Hz). ``orig_sfreq`` (C,) Hz: rates before resampling."""
    return _filter(data, sfreq, None, 1.0, orig_sfreq=orig_sfreq) - _filter(data, sfreq, None, 0.05)


def find_scr(phasic: np.ndarray, sfreq: float) -> Events:
    """Skin conductance responses in a phasic signal (uS): peaks >= 1 s apart, prominence >= 0.02 uS."""
    return find_events(phasic, sfreq, min_interval_s=1.0, min_prominence=SCR_MIN_AMPLITUDE_US)


def temp_features(
    data: np.ndarray, grid: WindowGrid, config: FeatureConfig, *, orig_sfreq: np.ndarray | None = None
) -> np.ndarray:
    """Skin temperature level (degC), slope (degC/s) and the waveform."""
    out = np.empty((data.shape[0], grid.n_windows, 2 + config.waveform_points))
    out[..., 0] = grid.window_mean(data)
    out[..., 1] = window_slope(data, grid)
    out[..., 2:] = window_waveform(data, grid, config.waveform_points)
    return out


# --- registry ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModalityExtractor:
    """How one modality is featurised: column names/units and the function computing them."""

    modality: Modality  # the modality handled
    scalar_names: Callable[[FeatureConfig], tuple[str, ...]]  # names of the non-waveform columns
    scalar_units: Callable[[FeatureConfig], tuple[str, ...]]  # their units
    compute: Callable[..., np.ndarray]  # (data (C, n_times), grid, config, *, orig_sfreq=(C,) Hz) -> (C, T, F)
    has_waveform: bool = False  # True: ``waveform_points`` columns "wave_i" follow the scalar columns
    slow: bool = False  # slow signal: flatness is judged over the context, not over one window

    def names(self, config: FeatureConfig) -> tuple[str, ...]:
        """All column names, in order."""
        wave = tuple(f"wave_{i}" for i in range(config.waveform_points)) if self.has_waveform else ()
        return self.scalar_names(config) + wave

    def units(self, config: FeatureConfig) -> tuple[str, ...]:
        """All column units, in order."""
        n = config.waveform_points if self.has_waveform else 0
        return self.scalar_units(config) + (CANONICAL_UNITS[self.modality],) * n

    def waveform_slice(self, config: FeatureConfig) -> slice | None:
        """Columns holding the downsampled waveform, or None."""
        if not self.has_waveform:
            return None
        k = len(self.scalar_names(config))
        return slice(k, k + config.waveform_points)


def _eeg_names(cfg: FeatureConfig) -> tuple[str, ...]:
    return tuple(f"de_{b[0]}" for b in cfg.all_bands) + tuple(f"psd_{b[0]}" for b in cfg.all_bands)


def _eeg_units(cfg: FeatureConfig) -> tuple[str, ...]:
    nb = len(cfg.all_bands)
    return ("nat (uV)",) * nb + (("dB re 1 uV^2/Hz",) if cfg.log_psd else ("V^2/Hz",)) * nb


def _const(*values: str) -> Callable[[FeatureConfig], tuple[str, ...]]:
    return lambda cfg: values


_HEART_NAMES = _const("hr", "rmssd", "beat_amp")

#: The feature extractor of every modality that has one (STIM and MISC have none).
EXTRACTORS: dict[Modality, ModalityExtractor] = {
    Modality.EEG: ModalityExtractor(Modality.EEG, _eeg_names, _eeg_units, eeg_features),
    Modality.EOG: ModalityExtractor(
        Modality.EOG, _const("blink_rate", "blink_amp", "pow_1_4hz", "pow_total"),
        _const("1/min", "uV", "dB re 1 uV^2", "dB re 1 uV^2"), eog_features),
    Modality.EMG: ModalityExtractor(Modality.EMG, _const("log_rms", "mean_freq"), _const("log10 uV", "Hz"),
                                    emg_features),
    Modality.PPG: ModalityExtractor(Modality.PPG, _HEART_NAMES, _const("bpm", "ms", "a.u."), heart_features),
    Modality.ECG: ModalityExtractor(Modality.ECG, _HEART_NAMES, _const("bpm", "ms", "uV"),
                                    lambda d, g, c, **kw: heart_features(d, g, c, ecg=True, **kw)),
    Modality.RESP: ModalityExtractor(Modality.RESP, _const("rate", "depth"), _const("1/min", "a.u."),
                                     resp_features, has_waveform=True, slow=True),
    Modality.GSR: ModalityExtractor(Modality.GSR, _const("level", "slope", "scr_rate", "scr_amp"),
                                    _const("uS", "uS/s", "1/min", "uS"), gsr_features, has_waveform=True, slow=True),
    Modality.TEMP: ModalityExtractor(Modality.TEMP, _const("level", "slope"), _const("degC", "degC/s"),
                                     temp_features, has_waveform=True, slow=True),
}  # fmt: skip


def flat_windows(data: np.ndarray, grid: WindowGrid, config: FeatureConfig, *, slow: bool) -> np.ndarray:
    """True where a window is flat, (C, T).

    Fast signals: the window is constant (peak-to-peak 0) or its std is <= ``flat_rel_tol`` x the channel's
    median window std. Slow signals (GSR, RESP, TEMP), whose 1 s windows may be legitimately constant after
    quantisation: the context of ``context_s`` centred on the window is constant.
    """
    n_times = data.shape[1]
    size = grid.n if not slow else max(grid.n, int(round(config.context_s * grid.sfreq)))
    idx = np.clip(grid.starts + grid.n // 2, 0, n_times - 1)
    if size == grid.n and grid.n_windows and np.isfinite(data).all():
        # the filters' value at a window's centre is the extreme of that window itself (origin 0: sample i sees
        # [i - n//2, i - n//2 + n), all inside the signal), so the extremes of the windows alone are taken: the
        # same values, without the filters over every sample (~40 % of the EEG features' CPU). NaN (masked
        # samples) keep the filters, whose NaN handling is their own.
        view = grid.view(data)  # (C, T, n)
        ptp = view.max(axis=-1) - view.min(axis=-1)
    else:
        ptp = maximum_filter1d(data, size, axis=1, mode="nearest")[:, idx] - minimum_filter1d(
            data, size, axis=1, mode="nearest"
        )[:, idx]
    flat = ptp <= 0
    if not slow and config.flat_rel_tol > 0:
        d = data - data.mean(axis=1, keepdims=True)
        var = np.maximum(grid.window_mean(d**2) - grid.window_mean(d) ** 2, 0)
        std = np.sqrt(var)
        ref = np.median(std, axis=1, keepdims=True)
        flat |= std <= config.flat_rel_tol * ref
    return flat
