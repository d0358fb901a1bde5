"""Synthetic finger PPG with known beat times, for measuring heart rate and RMSSD against ground truth.

The pulse has the shape of a real finger PPG: a steep upstroke to the systolic peak, a slower fall, a dicrotic
notch and a diastolic (reflected) wave 0.25-0.32 s after the peak whose size varies from beat to beat. The
inter-beat intervals carry respiratory sinus arrhythmia (RSA) plus white beat-to-beat jitter; the pulse
amplitude follows breathing; the baseline wanders with breathing and a slow drift several times the pulse
size; white noise is added. Optional motion artefacts (large smooth bumps lasting 2-5 s) are placed at known
spans. The pulse's time course shortens in proportion to the mean interval below 0.85 s (70 bpm), as a real
pulse's does. The ground truth is the systolic peak times: each pulse's maximum lies exactly at its beat time (the
diastolic wave's slope there is < 1e-3 of the upstroke's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SyntheticPPG:
    """A synthetic PPG and its truth."""

    signal: np.ndarray  # (n_times,) a.u.
    sfreq: float  # Hz
    beats_s: np.ndarray  # (B,) systolic peak times, s
    artefacts_s: tuple[tuple[float, float], ...]  # (start, stop) s of the motion artefacts

    def true_rmssd_ms(self, lo: float = -np.inf, hi: float = np.inf) -> float:
        """RMSSD (ms) of the true intervals whose successive difference is placed (at the third beat) in
        [lo, hi)."""
        t = self.beats_s
        d = np.diff(np.diff(t))
        at = t[2:]
        sel = (at >= lo) & (at < hi)
        return float(1000.0 * np.sqrt(np.mean(d[sel] ** 2))) if sel.any() else float("nan")


def _pulse(dt: np.ndarray, rise_s: float, fall_s: float, dia_rel: float, dia_at_s: float) -> np.ndarray:
    """One pulse, maximum 1 at dt = 0: asymmetric Gaussian systole + a diastolic Gaussian wave."""
    sys_ = np.where(dt < 0, np.exp(-0.5 * (dt / rise_s) ** 2), np.exp(-0.5 * (dt / fall_s) ** 2))
    return sys_ + dia_rel * np.exp(-0.5 * ((dt - dia_at_s) / 0.06) ** 2)


def synthetic_ppg(
    duration_s: float = 300.0, sfreq: float = 128.0, *, seed: int = 0, mean_ibi_s: float = 0.85,
    rsa_s: float = 0.04, jitter_s: float = 0.015, resp_hz: float = 0.25, noise: float = 0.05,
    wander: float = 1.5, artefacts: int = 0,
) -> SyntheticPPG:
    """A synthetic PPG (pulse amplitude ~1) with known beat times.

    Parameters
    ----------
    duration_s, sfreq : float
        Length (s) and rate (Hz).
    mean_ibi_s : float
        Mean inter-beat interval, s.
    rsa_s : float
        Amplitude of the respiratory sinus arrhythmia, s (the interval swings by +-rsa_s with breathing).
    jitter_s : float
        SD of white beat-to-beat interval jitter, s.
    resp_hz : float
        Breathing rate, Hz.
    noise : float
        SD of white noise, in pulse amplitudes.
    wander : float
        Peak-to-peak of the baseline wander (breathing + a slow drift), in pulse amplitudes.
    artefacts : int
        Number of motion artefacts (2-5 s of smooth bumps 3-8 pulse amplitudes high) at random places.
    """
    rng = np.random.default_rng(seed)
    beats = [0.5]
    while beats[-1] < duration_s - 0.5:
        t = beats[-1]
        ibi = mean_ibi_s + rsa_s * np.sin(2 * np.pi * resp_hz * t) + jitter_s * rng.standard_normal()
        beats.append(t + float(np.clip(ibi, 0.45, 1.6)))
    beats_s = np.asarray(beats[:-1])
    n = int(round(duration_s * sfreq))
    t = np.arange(n) / sfreq
    x = np.zeros(n)
    k = min(1.0, mean_ibi_s / 0.85)  # the pulse (systole, diastolic wave) shortens as the heart beats faster
    for b in beats_s:
        i0, i1 = int((b - 0.4) * sfreq), int((b + 0.7) * sfreq) + 1
        i0, i1 = max(i0, 0), min(i1, n)
        amp = (1.0 + 0.15 * np.sin(2 * np.pi * resp_hz * b + 1.0)) * (1.0 + 0.08 * rng.standard_normal())
        x[i0:i1] += amp * _pulse(t[i0:i1] - b, 0.07 * k, 0.16 * k, rng.uniform(0.25, 0.5), rng.uniform(0.25, 0.32) * k)
    drift_hz = 0.03 + 0.02 * rng.random()
    x += wander * (0.3 * np.sin(2 * np.pi * resp_hz * t) + 0.7 * np.sin(2 * np.pi * drift_hz * t + rng.random() * 6))
    x += noise * rng.standard_normal(n)
    spans = []
    for _ in range(artefacts):
        start = rng.uniform(5.0, duration_s - 10.0)
        length = rng.uniform(2.0, 5.0)
        sel = (t >= start) & (t < start + length)
        k = int(rng.integers(2, 5))
        bumps = sum(rng.uniform(-1, 1) * np.exp(-0.5 * ((t[sel] - rng.uniform(start, start + length)) / rng.uniform(0.1, 0.4)) ** 2)
                    for _ in range(k))
        x[sel] += rng.uniform(3.0, 8.0) * bumps
        spans.append((start, start + length))
    return SyntheticPPG(x, sfreq, beats_s, tuple(sorted(spans)))
