"""Small synthetic recordings built in memory (mne RawArray -> Recording) for the preprocessing tests."""

from __future__ import annotations

from typing import Sequence

import mne
import numpy as np
from scipy import signal

from mmqnet_core.recording import ChannelInfo, Modality, Recording

UV = 1e-6  # volts per microvolt

DEAP_LIKE = (
    ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "O1", "O2"],
    ["hEOG", "vEOG"],
    ["zEMG"],
    ["GSR", "Resp", "Plet", "Temp"],
)


def make_recording(data: np.ndarray, sfreq: float, names: Sequence[str], modalities: Sequence[Modality | str],
                   *, units: Sequence[str] | None = None) -> Recording:
    """A synthetic in-memory Recording (channels typed 'misc' in mne: our Modality is what counts)."""
    mods = [Modality.parse(m) for m in modalities]
    units = units or ["V" if m in (Modality.EEG, Modality.EOG, Modality.EMG, Modality.ECG) else "" for m in mods]
    raw = mne.io.RawArray(np.asarray(data, dtype=float), mne.create_info(list(names), sfreq, "misc"), verbose=False)
    chans = tuple(ChannelInfo(n, m, sfreq, u) for n, m, u in zip(names, mods, units))
    return Recording(raw, chans, is_synthetic=True, source_format="array")


def eeg_noise(rng: np.random.Generator, n_ch: int, n: int, sfreq: float, amp_uv: float = 5.0) -> np.ndarray:
    """White noise plus a 10 Hz alpha rhythm of random phase, volts, shape (n_ch, n)."""
    t = np.arange(n) / sfreq
    phase = rng.uniform(0, 2 * np.pi, (n_ch, 1))
    return amp_uv * UV * (rng.standard_normal((n_ch, n)) + 2 * np.sin(2 * np.pi * 10 * t + phase))


def band_power(x: np.ndarray, sfreq: float, f0: float, half_width: float = 1.0) -> np.ndarray:
    """Mean Welch power of each row of x within f0 +- half_width Hz."""
    f, p = signal.welch(x, fs=sfreq, nperseg=int(2 * sfreq), axis=-1)
    return p[..., np.abs(f - f0) <= half_width].mean(axis=-1)


def blinks(rng: np.random.Generator, n: int, sfreq: float, *, every_s: float = 3.0,
           amp_uv: float = 150.0) -> np.ndarray:
    """A train of blink-shaped Gaussian bumps (sigma 0.08 s) at random times, volts, shape (n,)."""
    t = np.arange(n) / sfreq
    onsets = np.arange(1.0, n / sfreq - 1.0, every_s)
    onsets = onsets + rng.uniform(-0.5, 0.5, onsets.size)
    out = np.zeros(n)
    for onset in onsets:
        out += amp_uv * UV * np.exp(-0.5 * ((t - onset) / 0.08) ** 2)
    return out


def full_recording(rng: np.random.Generator, sfreq: float, duration_s: float, *,
                   line_freq: float | None = None, line_uv: float = 20.0) -> Recording:
    """8 EEG, 2 EOG, 1 EMG, GSR, Resp, Plet, Temp; optional power-line sine on the electrophysiological channels."""
    n = int(round(sfreq * duration_s))
    t = np.arange(n) / sfreq
    eeg_names, eog_names, emg_names, per_names = DEAP_LIKE
    eeg = eeg_noise(rng, len(eeg_names), n, sfreq)
    eog = 5 * UV * rng.standard_normal((2, n))
    emg = 10 * UV * rng.standard_normal((1, n))
    gsr = 5.0 + 0.2 * np.sin(2 * np.pi * 0.02 * t) + 0.002 * rng.standard_normal(n)  # uS
    resp = np.sin(2 * np.pi * 0.25 * t) + 0.01 * rng.standard_normal(n)
    ppg = np.sin(2 * np.pi * 1.2 * t) + 0.01 * rng.standard_normal(n)
    temp = 33.0 + 0.01 * np.sin(2 * np.pi * 0.005 * t)
    data = np.vstack([eeg, eog, emg, gsr, resp, ppg, temp])
    if line_freq is not None:
        data[:11] += line_uv * UV * np.sin(2 * np.pi * line_freq * t)
    names = eeg_names + eog_names + emg_names + per_names
    mods = ["EEG"] * 8 + ["EOG"] * 2 + ["EMG"] + ["GSR", "RESP", "PPG", "TEMP"]
    units = ["V"] * 11 + ["uS", "", "", "degC"]
    return make_recording(data, sfreq, names, mods, units=units)
