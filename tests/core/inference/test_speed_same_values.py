"""Speed-ups of the analysis path that must not change a value (issue #12's fixed cost): each fast path is
compared with the computation it replaces."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from mmqnet_core.features import FeatureConfig
from mmqnet_core.features.peripheral import flat_windows
from mmqnet_core.features.spectral import WindowGrid


def _flat_by_filters(data, grid, config, slow):
    """flat_windows as it was written before the fast path: min/max filters over every sample."""
    n_times = data.shape[1]
    size = grid.n if not slow else max(grid.n, int(round(config.context_s * grid.sfreq)))
    idx = np.clip(grid.starts + grid.n // 2, 0, n_times - 1)
    ptp = (maximum_filter1d(data, size, axis=1, mode="nearest")[:, idx]
           - minimum_filter1d(data, size, axis=1, mode="nearest")[:, idx])
    flat = ptp <= 0
    if not slow and config.flat_rel_tol > 0:
        d = data - data.mean(axis=1, keepdims=True)
        var = np.maximum(grid.window_mean(d**2) - grid.window_mean(d) ** 2, 0)
        std = np.sqrt(var)
        flat |= std <= config.flat_rel_tol * np.median(std, axis=1, keepdims=True)
    return flat


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sfreq,window_s,step_s", [(128, 1.0, None), (128, 1.0, 0.5), (100, 0.99, 0.37),
                                                    (128, 2.0, 1.0), (64, 1.5, 0.25)])
def test_flat_windows_from_the_windows_extremes_equal_the_filters(dtype, sfreq, window_s, step_s):
    rng = np.random.default_rng(0)
    for n_times in (int(2 * window_s * sfreq) + 3, 5000):
        x = rng.standard_normal((4, n_times)).astype(dtype)
        x[1, 50:400] = 1.0  # flat stretches: peak-to-peak exactly 0
        x[2, -300:] = -2.5
        x[3] *= 1e-9
        grid = WindowGrid.make(sfreq, n_times, window_s, step_s)
        cfg = FeatureConfig(window_s=window_s, step_s=step_s if step_s is not None else window_s)
        for slow in (False, True):
            fast = flat_windows(x, grid, cfg, slow=slow)
            assert slow or fast.any()  # fast signals: the flat stretches are found
            assert np.array_equal(fast, _flat_by_filters(x, grid, cfg, slow))
        x[0, 10] = np.nan  # NaN: the filters' own handling is kept
        assert np.array_equal(flat_windows(x, grid, cfg, slow=False), _flat_by_filters(x, grid, cfg, False))
