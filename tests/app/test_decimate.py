"""Min/max peak decimation keeps every peak of a page while bounding the number of points drawn."""

import numpy as np
import pytest

from app.decimate import peak_decimate


# k = samples per bin: 34, 34, 14, 3 and 334.
@pytest.mark.parametrize("n_times, n_bins", [(10_000, 300), (10_001, 300), (1_280, 97), (999, 400), (100_000, 300)])
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


def _reference_decimate(data: np.ndarray, n_bins: int) -> np.ndarray:
    """The interleaved (min, max) of every bin computed the plain way: pad the last bin with its last sample and
    reduce each bin's samples with numpy (the first implementation of peak_decimate)."""
    n_times = data.shape[1]
    k = -(-n_times // n_bins)
    n_full = -(-n_times // k)
    padded = np.concatenate([data, np.repeat(data[:, -1:], n_full * k - n_times, axis=1)], axis=1)
    blocks = padded.reshape(data.shape[0], n_full, k)
    out = np.empty((data.shape[0], 2 * n_full), dtype=data.dtype)
    out[:, 0::2], out[:, 1::2] = np.fmin.reduce(blocks, axis=2), np.fmax.reduce(blocks, axis=2)
    return out


@pytest.mark.parametrize("n_rows, n_times, n_bins, dtype", [
    (40, 5120, 730, np.float64),  # the benchmark's page: 8 samples per bin, rows in blocks of the cache size
    (40, 5121, 730, np.float64),  # a partial last bin
    (26, 11264, 722, np.float64),  # a filtered block's page
    (7, 184_320, 1000, np.float64),  # an hour-long page: one row per block
    (3, 999, 400, np.float32),  # float32 stays float32
])
def test_decimation_equals_the_plain_reduction_bit_for_bit(n_rows, n_times, n_bins, dtype):
    """The blocked, transposed reduction gives exactly the values of a plain per-bin reduction (NaN gaps,
    single missing samples, extremes at both ends; a non-contiguous input)."""
    rng = np.random.default_rng(n_times)
    data = (rng.standard_normal((n_rows, n_times)) * 1e-5).astype(dtype)
    data[0, :n_times // 3] = np.nan  # a gap over whole bins
    data[1 % n_rows, 3] = np.nan  # one missing sample in a bin
    data[-1, -1], data[-1, 0] = 1.0, -1.0
    data[2 % n_rows] = np.nan  # a whole missing row
    times, values = peak_decimate(data, 0.5, 512.0, n_bins)
    assert values.dtype == dtype
    np.testing.assert_array_equal(values, _reference_decimate(data, n_bins))  # NaN where NaN
    wide = np.repeat(data, 2, axis=0)[::2]  # the same rows, not contiguous in memory
    np.testing.assert_array_equal(peak_decimate(wide, 0.5, 512.0, n_bins)[1], values)


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


def test_page_layout_breaks_the_single_polyline_at_row_ends_and_gaps():
    from app.signal_browser import layout_page

    rng = np.random.default_rng(1)
    data = rng.standard_normal((3, 50))
    data[1, 10:20] = np.nan  # a gap inside a row
    data[2] = np.nan  # a channel the cleaned signals lack
    page = layout_page(data, 5.0, 10.0, 200, np.array([20.0, 20.0, 20.0]))  # 50 samples: not decimated
    n = 50
    assert page.x_flat.shape == page.y_flat.shape == page.connect.shape == (3 * n,)
    np.testing.assert_allclose(page.x_flat[:n], 5.0 + np.arange(n) / 10.0)
    np.testing.assert_allclose(page.y[0], 0 - (data[0] - data[0].mean()) / 20.0)
    assert np.isfinite(page.y_flat).all()  # gaps are filled (and never connected)
    connect = page.connect.reshape(3, n)
    assert connect[0, :-1].all() and not connect[:, -1].any()  # never joined across a row end
    assert not connect[1, 9:20].any() and connect[1, 20:-1].all()  # the gap is not bridged
    assert not connect[2].any()
    # The path holds the drawn rows only: row 0 whole, row 1 in two pieces, row 2 nothing.
    from PySide6.QtGui import QPainterPath

    elements = [page.path.elementAt(i) for i in range(page.path.elementCount())]
    lines = [e for i, e in enumerate(elements) if e.type == QPainterPath.ElementType.LineToElement
             and (e.x, e.y) != (elements[i - 1].x, elements[i - 1].y)]  # drawn segments (not zero-length)
    assert len(lines) == (n - 1) + (10 - 1) + (n - 20 - 1)  # row 0, row 1 before and after its gap
    assert all(np.isfinite([e.x, e.y]).all() for e in elements)
    assert max(e.y for e in lines) < 1.5  # nothing drawn on row 2
    assert page.y_bounds[0] <= np.nanmin(page.y) and page.y_bounds[1] >= np.nanmax(page.y)


@pytest.mark.parametrize("n_times, clip", [(5120, 0.5), (5121, None), (999, 0.5), (2000, None)])
def test_page_layout_decimates_first_and_equals_the_sample_wise_layout(n_times, clip):
    """layout_page scales, clips and offsets the decimated extremes; the result is bit-identical to doing so on
    every sample and decimating after (the mapping is monotonic, also for a negative scale), with NaN gaps."""
    from app.signal_browser import layout_page

    rng = np.random.default_rng(n_times)
    data = rng.standard_normal((5, n_times)) * [[1.0], [30.0], [1e-5], [2.0], [1.0]]
    data[1, 10:300] = np.nan  # a gap inside a row
    data[3] = np.nan  # a row absent from the cleaned signals
    data[4, 7] = 40.0  # one peak
    scales = np.array([1.0, 20.0, 2e-5, 1.0, -0.5])
    page = layout_page(data, 3.0, 512.0, 400, scales, clip=clip)
    # Reference: the layout sample by sample (the previous implementation), then peak decimation.
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        centre = np.nan_to_num(np.nanmean(data, axis=1, keepdims=True))
    deflection = (data - centre) / scales[:, None]
    if clip is not None:
        deflection = np.clip(deflection, -clip, clip)
    times, y = peak_decimate(np.arange(5.0)[:, None] - deflection, 3.0, 512.0, 400)
    np.testing.assert_array_equal(page.times, times)
    np.testing.assert_array_equal(page.y, y)
