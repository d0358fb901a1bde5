"""Signals built from numpy sine mixtures and pulse trains for the feature tests (no files)."""

from __future__ import annotations

import numpy as np

from mmqnet_core.recording import ChannelInfo, Modality, Signals

FS = 128.0


def times(duration_s: float, sfreq: float = FS) -> np.ndarray:
    return np.arange(int(round(duration_s * sfreq))) / sfreq


def signals(channels: list[tuple[str, Modality, str, np.ndarray]], sfreq: float = FS) -> Signals:
    """Signals from (name, modality, unit, data) rows."""
    infos = tuple(ChannelInfo(n, m, sfreq, u) for n, m, u, _ in channels)
    return Signals(np.stack([d for *_, d in channels]).astype(np.float64), sfreq, infos)


def pulse_train(t: np.ndarray, beat_times: np.ndarray, width_s: float) -> np.ndarray:
    """Sum of Gaussian pulses of width ``width_s`` at ``beat_times`` (a PPG/ECG-like beat train)."""
    out = np.zeros_like(t)
    for b in beat_times:
        sel = np.abs(t - b) < 5 * width_s
        out[sel] += np.exp(-0.5 * ((t[sel] - b) / width_s) ** 2)
    return out


def scr_train(t: np.ndarray, onsets: np.ndarray, amp_us: float) -> np.ndarray:
    """Skin conductance responses (bi-exponential, rise ~1 s, decay ~4 s) of peak ``amp_us`` at ``onsets``."""
    out = np.zeros_like(t)
    for o in onsets:
        d = np.clip(t - o, 0, None)
        shape = np.exp(-d / 4.0) - np.exp(-d / 0.75)
        out += amp_us * shape / shape.max()
    return out
