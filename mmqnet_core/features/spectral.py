"""Window grid and vectorised spectral features (EEG differential entropy and band PSD).

Everything here works on all windows and channels at once: a strided window view
(:func:`numpy.lib.stride_tricks.sliding_window_view`, no copy) and **one** real FFT over (T, C, n). There is no
Python loop over windows.

Definitions (x = one window of n samples of one channel at ``sfreq`` Hz, mean removed, X = rfft(x),
f_k = k * sfreq / n, a band is the half-open range low <= f_k < high):

PSD (TorchEEG's ``BandPowerSpectralDensity`` convention made a density)
    The periodic-Hann-windowed periodogram ``P(f_k) = 2 |X_w[k]|^2 / (sfreq * sum(w^2))`` (one-sided,
    data units^2/Hz; identical to ``scipy.signal.periodogram(x, sfreq, window="hann", detrend="constant")``),
    averaged over the band's bins. TorchEEG keeps the raw ``|FFT|^2`` without the density scaling and
    starts one bin below the band; we use the density so that values do not depend on the window length.
    The tapered spectrum is obtained from the untapered one without a second FFT: the periodic Hann window is
    ``0.5 - 0.5 cos(2 pi j / n)``, so ``X_w[k] = 0.5 X[k] - 0.25 X[k-1] - 0.25 X[k+1]`` (exact).

DE (TorchEEG's ``BandDifferentialEntropy`` convention, natural log)
    ``0.5 * ln(2 pi e * var_band)`` where ``var_band`` is the variance of the window after an *ideal*
    (brick-wall, zero-phase) band-pass filter, computed by Parseval from the untapered spectrum:
    ``var_band = sum_{k in band} c_k |X[k]|^2 / n^2`` with ``c_k = 2`` (``1`` for the Nyquist bin).
    TorchEEG instead runs a causal 5th-order Butterworth (``lfilter``) over each window and takes ``log2``;
    the brick-wall variance avoids the filter's start-up transient inside a 1 s window and costs nothing
    once the FFT is done. The tests check it against a per-window Butterworth reference (correlation > 0.99).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from .._scipy_signal import signal  # scipy.signal without scipy.stats (see there)
from ..errors import ConfigError


@dataclass(frozen=True)
class WindowGrid:
    """Where the windows lie on a signal's sample grid."""

    sfreq: float  # Hz
    n: int  # samples per window
    step: int  # samples between window starts
    n_windows: int  # T

    @classmethod
    def make(cls, sfreq: float, n_times: int, window_s: float, step_s: float | None = None) -> "WindowGrid":
        """Grid of all complete windows of ``window_s`` every ``step_s`` (s) over ``n_times`` samples."""
        n = int(round(window_s * sfreq))
        step = n if step_s is None else int(round(step_s * sfreq))
        if n < 2:
            raise ConfigError(
                f"Window of {window_s} s at {sfreq} Hz has {n} sample(s); use window_s >= {2 / sfreq:.3g} s."
            )
        if step < 1:
            raise ConfigError(f"Invalid value for 'step_s': {step_s} s is less than one sample at {sfreq} Hz.")
        if n_times < n:
            raise ConfigError(
                f"Signals of {n_times / sfreq:.3g} s are shorter than one window (window_s={window_s} s); "
                "use a shorter window or a longer span."
            )
        return cls(float(sfreq), n, step, 1 + (n_times - n) // step)

    @property
    def starts(self) -> np.ndarray:
        """Window start indices, samples, (T,)."""
        return np.arange(self.n_windows) * self.step

    @property
    def starts_s(self) -> np.ndarray:
        """Window start times, s, (T,)."""
        return self.starts / self.sfreq

    @property
    def centres_s(self) -> np.ndarray:
        """Window centre times, s, (T,)."""
        return (self.starts + self.n / 2) / self.sfreq

    def view(self, data: np.ndarray) -> np.ndarray:
        """Strided (no-copy) view of ``data`` (C, n_times) as (C, T, n)."""
        return sliding_window_view(data, self.n, axis=-1)[:, : self.n_windows * self.step : self.step]

    def window_mean(self, data: np.ndarray) -> np.ndarray:
        """Mean of each window, (C, T), via cumulative sums (O(n_times), any overlap)."""
        cs = np.zeros((data.shape[0], data.shape[1] + 1))
        np.cumsum(data, axis=1, out=cs[:, 1:])
        s = self.starts
        return (cs[:, s + self.n] - cs[:, s]) / self.n

    def window_fraction(self, flags: np.ndarray) -> np.ndarray:
        """Fraction of flagged samples in each window, (C, T) float64, from boolean (C, n_times).

        The same numbers as ``window_mean(flags.astype(np.float64))`` (a window's count of flags is a whole number,
        exact in either sum, divided by the same ``n``), from integer counts: a quarter of the memory traffic of the
        float64 copy and its cumulative sum (the interference coverage of every feature group of a 1-h block).
        """
        flags = np.asarray(flags, dtype=bool)
        if self.step == self.n:  # adjacent windows: each window's own count
            counts = flags[:, : self.n_windows * self.n].reshape(flags.shape[0], self.n_windows, self.n).sum(
                axis=2, dtype=np.int64)
        else:
            cs = np.zeros((flags.shape[0], flags.shape[1] + 1), dtype=np.int64)
            np.cumsum(flags, axis=1, out=cs[:, 1:])
            s = self.starts
            counts = cs[:, s + self.n] - cs[:, s]
        return counts / self.n

    def window_any(self, flags: np.ndarray) -> np.ndarray:
        """True where any sample of the window is flagged, (C, T), from boolean (C, n_times)."""
        cs = np.zeros((flags.shape[0], flags.shape[1] + 1), dtype=np.int64)
        np.cumsum(flags, axis=1, out=cs[:, 1:])
        s = self.starts
        return (cs[:, s + self.n] - cs[:, s]) > 0


def check_eeg_rate(bands: Sequence[tuple[float, float]], sfreq: float) -> None:
    """Raise :class:`ConfigError` when an EEG band (``(lo, hi)`` Hz) starts at or above the Nyquist frequency of
    ``sfreq`` Hz: the message names the rate the bands need (what to do), never a window length."""
    nyq = sfreq / 2
    top = max(hi for _, hi in bands)
    for lo, hi in bands:
        if lo >= nyq:
            raise ConfigError(
                f"EEG band {lo}-{hi} Hz lies above the Nyquist frequency {nyq} Hz of sfreq {sfreq} Hz (the EEG's "
                f"sampling rate): the EEG features (bands up to {top:g} Hz) need EEG sampled at {2 * top:g} Hz or "
                "more. Analyse a recording whose EEG is sampled that fast (MMQ-Net's bands are fixed by its "
                "checkpoint); for features of this one alone (API), leave this band out of FeatureConfig.bands."
            )


def _band_matrix(freqs: np.ndarray, bands: Sequence[tuple[float, float]], sfreq: float, n: int) -> np.ndarray:
    """(K, B) 0/1 matrix selecting the rfft bins of each half-open band; errors if a band is empty."""
    check_eeg_rate(bands, sfreq)
    m = np.zeros((freqs.size, len(bands)))
    for b, (lo, hi) in enumerate(bands):
        sel = (freqs >= lo) & (freqs < hi) & (freqs > 0)
        if not sel.any():
            raise ConfigError(
                f"EEG band {lo}-{hi} Hz contains no frequency bin with windows of {n} samples "
                f"({sfreq / n:.3g} Hz resolution); use a longer window_s."
            )
        m[sel, b] = 1.0
    return m


def _parse_bands(bands) -> list[tuple[float, float]]:
    out = []
    for b in bands:
        lo, hi = (b[1], b[2]) if len(b) == 3 else (b[0], b[1])
        out.append((float(lo), float(hi)))
    return out


def window_spectrum(data: np.ndarray, grid: WindowGrid, *, dtype=np.float32) -> np.ndarray:
    """Untapered rfft of every window with the window mean removed, (C, T, K) complex.

    ``data`` is (C, n_times). Computed in ``dtype`` (float32 by default: features are stored as float32 and
    the FFT is then about twice as fast); each channel's mean is subtracted in float64 first so that a large
    DC offset does not eat float32 precision.
    """
    data = np.asarray(data)
    centred = data - data.mean(axis=1, keepdims=True) if data.shape[1] else data
    spec = scipy.fft.rfft(grid.view(np.asarray(centred, dtype=dtype)), axis=-1)  # (C, T, K)
    spec[..., 0] = 0  # removing the window mean == zeroing the DC bin
    return spec


def hann_spectrum(spec: np.ndarray, n: int) -> np.ndarray:
    """Spectrum of the periodic-Hann-tapered windows from the untapered ``spec`` (..., K) (exact, no FFT).

    ``X_w[k] = 0.5 X[k] - 0.25 (X[k-1] + X[k+1])`` with ``X[-1] = conj(X[1])`` and ``X[K] = conj(X[n-K])``
    (Hermitian symmetry of a real signal's DFT).
    """
    k = spec.shape[-1]
    tap = 0.5 * spec
    tap[..., 1:] -= 0.25 * spec[..., :-1]
    tap[..., :-1] -= 0.25 * spec[..., 1:]
    tap[..., 0] -= 0.25 * np.conj(spec[..., 1])
    tap[..., -1] -= 0.25 * np.conj(spec[..., n - k])
    return tap


def one_sided_weights(n: int) -> np.ndarray:
    """Weights c_k of the rfft bins in a one-sided power sum (2, or 1 for DC and the Nyquist bin)."""
    c = np.full(n // 2 + 1, 2.0)
    c[0] = 1.0
    if n % 2 == 0:
        c[-1] = 1.0
    return c


def band_variance(power: np.ndarray, n: int, band_matrix: np.ndarray) -> np.ndarray:
    """Variance of each band (ideal band-pass) from untapered ``|X|^2`` (..., K) -> (..., B), data units^2."""
    return (power * (one_sided_weights(n) / n**2).astype(power.dtype)) @ band_matrix.astype(power.dtype)


def eeg_band_features(
    data: np.ndarray,
    sfreq: float,
    window_s: float = 1.0,
    step_s: float | None = None,
    bands: Sequence[tuple] = (("theta", 4, 8), ("alpha", 8, 14), ("beta", 14, 31), ("gamma", 31, 45)),
) -> tuple[np.ndarray, np.ndarray]:
    """Differential entropy and band PSD of every window and channel, vectorised (one FFT, no window loop).

    Parameters
    ----------
    data : ndarray, shape (C, n_times)
        Signals in any unit u (volts for EEG in the core; pass microvolts to get the usual DEAP scale).
    sfreq : float
        Sampling rate, Hz.
    window_s : float
        Window length, s.
    step_s : float or None
        Hop between window starts, s; None = ``window_s``.
    bands : sequence of (name, low, high) or (low, high)
        Bands in Hz, half-open ``low <= f < high``.

    Returns
    -------
    de : ndarray, shape (T, C, B), float32
        ``0.5 * ln(2 pi e * var_band)``, nats (of a signal in unit u), var_band from the ideal band-pass
        (see the module doc). Windows with zero band variance give ``-inf``.
    psd : ndarray, shape (T, C, B), float32
        Mean Hann-periodogram density over the band's bins, u^2/Hz (linear).
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ConfigError(f"EEG data must be (n_channels, n_times), got shape {data.shape}.")
    grid = WindowGrid.make(sfreq, data.shape[1], window_s, step_s)
    return _de_psd(window_spectrum(data, grid), grid, _parse_bands(bands))


def _de_psd(spec: np.ndarray, grid: WindowGrid, bands: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    n, sfreq = grid.n, grid.sfreq
    freqs = np.fft.rfftfreq(n, 1 / sfreq)
    m = _band_matrix(freqs, bands, sfreq, n)
    power = spec.real**2 + spec.imag**2  # (C, T, K)
    var = band_variance(power, n, m)
    tap = hann_spectrum(spec, n)
    s2 = float(np.sum(signal.get_window("hann", n) ** 2))  # 3n/8 for n > 2
    dens = (tap.real**2 + tap.imag**2) * (one_sided_weights(n) / (sfreq * s2)).astype(power.dtype)
    psd = dens @ (m / m.sum(axis=0)).astype(power.dtype)
    with np.errstate(divide="ignore"):
        de = 0.5 * np.log(2 * np.pi * np.e * var)
    # (C, T, B) -> (T, C, B)
    return de.astype(np.float32).transpose(1, 0, 2), psd.astype(np.float32).transpose(1, 0, 2)
