"""Power spectra and spectrograms of a span of a recording, for inspection (not model features).

:func:`welch_spectrum` is mne's Welch estimate (``mne.time_frequency.psd_array_welch``) of the picked channels
over one span, in each channel's canonical unit squared per Hz (uV^2/Hz for EEG, see
:func:`~mmqnet_core.features.peripheral.to_canonical`). :func:`spectrogram` is ``scipy.signal.spectrogram`` of
one channel. Only the span asked for is read from the recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import ConfigError
from .peripheral import CANONICAL_UNITS, to_canonical

if TYPE_CHECKING:  # pragma: no cover
    from ..recording import Recording

__all__ = ["Spectrum", "Spectrogram", "welch_spectrum", "spectrogram"]

#: Length of one Welch segment, s (0.5 Hz resolution); shorter spans use the whole span.
WELCH_SEGMENT_S = 2.0


@dataclass(frozen=True)
class Spectrum:
    """Welch power spectra of some channels over one span."""

    freqs: np.ndarray  # (F,) Hz
    power: np.ndarray  # (C, F) power spectral density, unit^2 / Hz
    ch_names: tuple[str, ...]  # (C,)
    units: tuple[str, ...]  # (C,) unit of each channel's values (power is that unit squared per Hz)
    start_s: float  # span analysed, s
    stop_s: float


@dataclass(frozen=True)
class Spectrogram:
    """Power over time and frequency of one channel."""

    times: np.ndarray  # (T,) centre of each segment, s from the recording start
    freqs: np.ndarray  # (F,) Hz
    power: np.ndarray  # (F, T) unit^2 / Hz
    ch_name: str
    unit: str


def _span(recording: "Recording", start_s: float, stop_s: float, min_s: float) -> tuple[float, float]:
    start_s, stop_s = max(0.0, float(start_s)), min(recording.duration_s, float(stop_s))
    if not stop_s - start_s >= min_s:
        raise ConfigError(f"Invalid span {start_s:.2f}-{stop_s:.2f} s for a spectrum: it must be at least "
                          f"{min_s:g} s long and inside the recording (0-{recording.duration_s:.1f} s).")
    return start_s, stop_s


def welch_spectrum(recording: "Recording", picks: Sequence[int], start_s: float, stop_s: float,
                   fmax: float | None = None) -> Spectrum:
    """Welch PSD of channels ``picks`` over [start_s, stop_s] (s), up to ``fmax`` Hz (default: Nyquist).

    Segments of :data:`WELCH_SEGMENT_S` with 50 % overlap (Hamming window, mne's default), mean over segments.
    """
    from mne.time_frequency import psd_array_welch

    if not picks:
        raise ConfigError("Invalid channel choice for a spectrum: pick at least one channel.")
    start_s, stop_s = _span(recording, start_s, stop_s, 1.0)
    sfreq = recording.sfreq
    data = recording.get_data(start_s, stop_s, picks=list(picks))
    chans = [recording.channels[i] for i in picks]
    data = np.vstack([to_canonical(c.modality, row[None], c.unit) for c, row in zip(chans, data)])
    n_fft = int(min(data.shape[1], round(WELCH_SEGMENT_S * sfreq)))
    power, freqs = psd_array_welch(data, sfreq, fmin=0.0, fmax=fmax if fmax is not None else sfreq / 2,
                                   n_fft=n_fft, n_overlap=n_fft // 2, verbose="error")
    units = tuple(CANONICAL_UNITS.get(c.modality, c.unit) for c in chans)
    return Spectrum(freqs, power, tuple(c.name for c in chans), units, start_s, stop_s)


def spectrogram(recording: "Recording", pick: int, start_s: float = 0.0, stop_s: float | None = None,
                segment_s: float = WELCH_SEGMENT_S, fmax: float | None = None) -> Spectrogram:
    """Spectrogram of channel ``pick`` over [start_s, stop_s] (s) with segments of ``segment_s`` s (50 % overlap)."""
    from .._scipy_signal import signal

    stop_s = recording.duration_s if stop_s is None else stop_s
    start_s, stop_s = _span(recording, start_s, stop_s, 2 * segment_s)
    sfreq = recording.sfreq
    ch = recording.channels[pick]
    data = to_canonical(ch.modality, recording.get_data(start_s, stop_s, picks=[pick]), ch.unit)[0]
    nperseg = int(round(segment_s * sfreq))
    freqs, times, power = signal.spectrogram(data, sfreq, nperseg=nperseg, noverlap=nperseg // 2)
    keep = freqs <= (fmax if fmax is not None else sfreq / 2)
    return Spectrogram(start_s + times, freqs[keep], power[keep], ch.name, CANONICAL_UNITS.get(ch.modality, ch.unit))
