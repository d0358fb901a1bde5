"""Simple per-trial markers and a leave-subjects-out logistic regression, to keep the synthetic corpus calibrated.

This is the quick self-check of the corpus, not the project's feature extractor: a few textbook markers
(frontal alpha asymmetry, band powers, heart and breathing rate, skin conductance) and a plain numpy logistic
regression, so that the check needs nothing beyond numpy and scipy.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import signal as sps

from mmqnet_core.datasets.synthetic import SyntheticTrial

MARKERS = ("faa", "alpha_post", "beta", "gamma", "gamma_temporal", "hr", "resp_rate", "gsr_rise", "scr_count",
           "zemg", "temg", "temp_slope")  # fmt: skip


def _psd(x: np.ndarray, sfreq: float, seg_s: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD with 2 s Hann segments and no overlap, vectorised over rows (scipy's welch loops per segment)."""
    m = int(seg_s * sfreq)
    k = x.shape[-1] // m
    seg = x[..., : k * m].reshape(*x.shape[:-1], k, m)
    seg = seg - seg.mean(axis=-1, keepdims=True)
    spec = np.abs(np.fft.rfft(seg * np.hanning(m), axis=-1)) ** 2
    return np.fft.rfftfreq(m, 1.0 / sfreq), spec.mean(axis=-2)


def _band(f: np.ndarray, p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return p[..., (f >= lo) & (f < hi)].mean(axis=-1)


def trial_markers(trial: SyntheticTrial) -> dict[str, float]:
    """Textbook markers of one trial, computed on the stimulus part (skin conductance: relative to baseline)."""
    sf = trial.sfreq
    b = int(round(trial.baseline_s * sf))
    x = trial.data[:, b:].astype(np.float64)
    ch = {name: i for i, name in enumerate(trial.ch_names)}

    def rows(names: Sequence[str]) -> np.ndarray:
        return x[[ch[n] for n in names]]

    eeg_names = [n for n, m in zip(trial.ch_names, trial.modalities) if m.value == "EEG"]
    f, p = _psd(rows(eeg_names), sf)
    e = {n: i for i, n in enumerate(eeg_names)}

    def logband(names: Sequence[str], lo: float, hi: float) -> float:
        return float(np.log(_band(f, p[[e[n] for n in names]], lo, hi)).mean())

    out = {
        "faa": logband(["F4", "AF4", "Fp2"], 8, 13) - logband(["F3", "AF3", "Fp1"], 8, 13),
        "alpha_post": logband(["O1", "O2", "Pz"], 8, 13),
        "beta": logband(eeg_names, 14, 31),
        "gamma": logband(eeg_names, 31, 45),
        "gamma_temporal": logband(["T7", "T8"], 31, 45),
    }
    ppg = sps.sosfiltfilt(sps.butter(2, [0.7, 2.5], "bandpass", fs=sf, output="sos"), x[ch["Plet"]])
    peaks, _ = sps.find_peaks(ppg, distance=int(0.4 * sf), prominence=0.5 * ppg.std())
    out["hr"] = 60.0 * len(peaks) / (x.shape[1] / sf)
    resp = sps.sosfiltfilt(sps.butter(2, [0.08, 0.8], "bandpass", fs=sf, output="sos"), x[ch["Resp"]])
    rpk, _ = sps.find_peaks(resp, distance=int(1.2 * sf), prominence=0.3 * resp.std())
    out["resp_rate"] = 60.0 * len(rpk) / (x.shape[1] / sf)
    gsr_all = trial.data[ch["GSR"]].astype(np.float64)
    base = gsr_all[: max(1, b)].mean()
    out["gsr_rise"] = np.log(x[ch["GSR"]].mean() / base)
    d = np.diff(sps.sosfiltfilt(sps.butter(2, 1.0, fs=sf, output="sos"), x[ch["GSR"]])) * sf
    spk, _ = sps.find_peaks(d, height=0.02, distance=int(1.0 * sf))
    out["scr_count"] = float(len(spk))
    out["zemg"] = np.log(x[ch["zEMG"]].std())
    out["temg"] = np.log(x[ch["tEMG"]].std())
    t = np.arange(x.shape[1]) / sf
    out["temp_slope"] = np.polyfit(t, x[ch["Temp"]], 1)[0] * 60.0
    return {k: float(v) for k, v in out.items()}


def subject_zscore(features: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """z-score each feature within each subject (unsupervised, as in cross-subject DEAP work)."""
    out = np.empty_like(features)
    for s in np.unique(subjects):
        sel = subjects == s
        mu = features[sel].mean(axis=0)
        sd = features[sel].std(axis=0)
        out[sel] = (features[sel] - mu) / np.where(sd > 0, sd, 1.0)
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, n_iter: int = 500) -> np.ndarray:
    """Weights (with bias last) of an L2-regularised logistic regression, by Newton's method."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    for _ in range(n_iter):
        p = 1.0 / (1.0 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0.0]
        hess = (xb.T * (p * (1 - p))) @ xb / len(y) + l2 * np.diag(np.r_[np.ones(len(w) - 1), 0.0])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def leave_subjects_out_accuracy(x: np.ndarray, y: np.ndarray, subjects: np.ndarray, n_folds: int = 4) -> float:
    """Accuracy of logistic regression over folds that hold out whole subjects."""
    subs = np.unique(subjects)
    folds = np.array_split(subs, n_folds)
    correct = 0
    for held in folds:
        test = np.isin(subjects, held)
        w = fit_logistic(x[~test], y[~test])
        p = 1.0 / (1.0 + np.exp(-(np.hstack([x[test], np.ones((test.sum(), 1))]) @ w)))
        correct += int(((p > 0.5) == y[test]).sum())
    return correct / len(y)
