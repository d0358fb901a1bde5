"""The fast flat and jump detectors give exactly what the whole-signal versions they replaced gave (issue 9).

The replaced implementations are kept here, verbatim, as the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mmqnet_core.preprocessing.detect import flat_mask, jump_mask, runs


def _flat_mask_before(data, sfreq, *, window_s, rel_threshold, min_s, nan_mask=None):
    n_ch, n = data.shape
    w = max(2, int(round(window_s * sfreq)))
    out = np.zeros((n_ch, n), dtype=bool)
    if n < w:
        return out
    origin = -(w // 2)
    hi = ndimage.maximum_filter1d(data, w, axis=1, origin=origin, mode="nearest")
    lo = ndimage.minimum_filter1d(data, w, axis=1, origin=origin, mode="nearest")
    ptp = hi[:, : n - w + 1] - lo[:, : n - w + 1]
    scale = np.median(ptp[:, ::w], axis=1, keepdims=True)
    flat_start = ptp <= rel_threshold * scale
    if nan_mask is not None and nan_mask.any():
        has_nan = ndimage.maximum_filter1d(nan_mask.astype(np.uint8), w, axis=1, origin=origin, mode="constant")
        flat_start &= ~has_nan[:, : n - w + 1].astype(bool)
    out[:, : n - w + 1] = flat_start
    out = ndimage.maximum_filter1d(out.astype(np.uint8), w, axis=1, origin=(w - 1) // 2, mode="constant")
    out = out.astype(bool)
    min_samples = int(round(min_s * sfreq))
    for c in range(n_ch):
        for start, stop in runs(out[c]):
            if stop - start < min_samples:
                out[c, start:stop] = False
    return out


def _jump_mask_before(data, sfreq, *, lag_s, threshold, min_fraction, pad_s, rhythm_factor=3.0):
    n_ch, n = data.shape
    lag = max(1, int(round(lag_s * sfreq)))
    out = np.zeros((n_ch, n), dtype=bool)
    if n <= lag + 1:
        return out
    d = data[:, lag:] - data[:, :-lag]
    med = np.median(d, axis=1, keepdims=True)
    sigma = 1.4826 * np.median(np.abs(d - med), axis=1, keepdims=True)
    p1, p99 = np.percentile(data, [1, 99], axis=1, keepdims=True)
    limit = np.maximum(threshold * sigma, min_fraction * (p99 - p1))
    if rhythm_factor > 0:
        limit = np.maximum(limit, rhythm_factor * np.percentile(np.abs(d - med), 99, axis=1, keepdims=True))
    hit = (np.abs(d - med) > limit) & (limit > 0)
    if not hit.any():
        return out
    out[:, : n - lag] |= hit
    out[:, lag:] |= hit
    pad = int(round(pad_s * sfreq))
    if pad > 0:
        out = ndimage.maximum_filter1d(out.astype(np.uint8), 2 * pad + 1, axis=1, mode="constant").astype(bool)
    return out


def _signals(seed: int, sfreq: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise and slow waves with flat stretches of random lengths and places (some at the very edges, some
    shorter than the minimum, some quantised almost-flat), steps and spikes, plus a NaN mask."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sfreq
    x = np.stack([rng.standard_normal(n), np.sin(2 * np.pi * 0.3 * t) + 0.01 * rng.standard_normal(n),
                  np.round(5 + 0.2 * rng.standard_normal(n).cumsum() / 50, 2), np.zeros(n)])
    for c in range(3):
        for _ in range(rng.integers(0, 6)):
            a = int(rng.integers(0, n))
            b = min(n, a + int(rng.integers(1, int(6 * sfreq))))
            x[c, a:b] = x[c, a] + (1e-6 * rng.standard_normal(b - a) if rng.random() < 0.3 else 0.0)
        if rng.random() < 0.3:
            x[c, : int(rng.integers(1, int(3 * sfreq)))] = 0.0  # flat at the start
        if rng.random() < 0.3:
            x[c, n - int(rng.integers(1, int(3 * sfreq))):] = 1.0  # flat at the end
        for _ in range(rng.integers(0, 4)):
            k = int(rng.integers(0, n))
            x[c, k:] += rng.choice([-1, 1]) * rng.uniform(1, 30)  # electrode steps
            x[c, int(rng.integers(0, n))] += rng.uniform(-50, 50)  # spikes
    nan = np.zeros((4, n), dtype=bool)
    for _ in range(rng.integers(0, 3)):
        c, a = int(rng.integers(0, 4)), int(rng.integers(0, n))
        nan[c, a: a + int(rng.integers(1, int(4 * sfreq)))] = True
    return x, nan


@pytest.mark.parametrize("seed", range(40))
def test_flat_mask_equals_the_whole_signal_version(seed):
    sfreq = [128.0, 100.0, 512.0, 33.0][seed % 4]
    n = int(np.random.default_rng(seed).integers(10, 90) * sfreq) + seed
    x, nan = _signals(seed, sfreq, n)
    for window_s, min_s in ((0.5, 2.0), (0.37, 0.5), (1.0, 0.0)):
        for nan_mask in (None, nan):
            got = flat_mask(x, sfreq, window_s=window_s, rel_threshold=1e-3, min_s=min_s, nan_mask=nan_mask)
            want = _flat_mask_before(x, sfreq, window_s=window_s, rel_threshold=1e-3, min_s=min_s, nan_mask=nan_mask)
            np.testing.assert_array_equal(got, want)
    assert flat_mask(x[:, :3], sfreq, window_s=0.5, rel_threshold=1e-3, min_s=2.0).shape == (4, 3)


@pytest.mark.parametrize("seed", range(30))
def test_jump_mask_equals_the_whole_signal_version(seed):
    sfreq = [128.0, 100.0, 512.0][seed % 3]
    n = int(np.random.default_rng(seed).integers(5, 90) * sfreq) + seed
    x, _ = _signals(seed, sfreq, n)
    for kw in ({"lag_s": 0.05, "threshold": 10.0, "min_fraction": 0.25, "pad_s": 0.5},
               {"lag_s": 0.01, "threshold": 5.0, "min_fraction": 0.05, "pad_s": 0.0, "rhythm_factor": 0.0},
               {"lag_s": 0.2, "threshold": 3.0, "min_fraction": 0.0, "pad_s": 2.0}):
        np.testing.assert_array_equal(jump_mask(x, sfreq, **kw), _jump_mask_before(x, sfreq, **kw))
    assert not jump_mask(x[:, :2], sfreq, lag_s=0.05, threshold=10, min_fraction=0.25, pad_s=0.5).any()
