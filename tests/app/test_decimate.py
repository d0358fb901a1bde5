"""Min/max peak decimation keeps every peak of a page while bounding the number of points drawn."""

import numpy as np
import pytest

from app.decimate import peak_decimate


@pytest.mark.parametrize("n_times, n_bins", [(10_000, 300), (10_001, 300), (1_280, 97), (999, 400)])
def test_min_max_of_every_bin_are_kept(n_times, n_bins):
    rng = np.random.default_rng(n_times)
    data = rng.standard_normal((3, n_times))
    data[1, n_times - 1] = 50.0  # a peak on the very last sample (in a padded, partial bin)
    data[2, 0] = -50.0
    times, values = peak_decimate(data, 2.0, 100.0, n_bins)
    assert values.shape[1] <= 2 * n_bins
    assert times.shape == (values.shape[1],)
    assert np.all(np.diff(times) >= 0)
    # Global extremes of each channel survive.
    np.testing.assert_array_equal(values.max(axis=1), data.max(axis=1))
    np.testing.assert_array_equal(values.min(axis=1), data.min(axis=1))
    # Each pair is the min and max of the samples from its time up to the next pair's time.
    first = np.round((times[0::2] - 2.0) * 100.0).astype(int)
    edges = np.append(first, n_times)
    for b in range(len(first)):
        block = data[:, edges[b]:edges[b + 1]]
        np.testing.assert_array_equal(values[:, 2 * b], block.min(axis=1))
        np.testing.assert_array_equal(values[:, 2 * b + 1], block.max(axis=1))


def test_short_pages_are_not_decimated():
    data = np.arange(20.0).reshape(2, 10)
    times, values = peak_decimate(data, 1.0, 10.0, 5)
    np.testing.assert_array_equal(values, data)
    np.testing.assert_allclose(times, 1.0 + np.arange(10) / 10.0)


def test_nan_bins_stay_gaps_and_partial_nan_is_ignored():
    data = np.ones((1, 1000))
    data[0, :100] = np.nan  # whole first bins missing
    data[0, 105] = np.nan  # one missing sample inside a bin
    data[0, 106] = 7.0
    _, values = peak_decimate(data, 0.0, 100.0, 50)  # 20 samples per bin
    assert np.isnan(values[0, :10]).all()  # 5 empty bins -> 10 NaN points
    assert np.nanmax(values) == 7.0
    assert not np.isnan(values[0, 10:]).any()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n_channels, n_times"):
        peak_decimate(np.zeros(10), 0.0, 1.0, 5)
    with pytest.raises(ValueError, match="n_bins must be >= 1"):
        peak_decimate(np.zeros((1, 10)), 0.0, 1.0, 0)
