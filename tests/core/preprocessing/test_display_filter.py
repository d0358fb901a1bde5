"""Display filters: zero-phase, per row, NaN-safe, padding long enough for the transient."""

import numpy as np
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.preprocessing.display_filter import DisplayFilter, filter_rows, padded_span

FS = 256.0


def test_band_and_notch_remove_what_they_should_without_phase_shift():
    t = np.arange(int(20 * FS)) / FS
    alpha = np.sin(2 * np.pi * 10 * t)
    data = np.vstack([alpha + 3 * t / 20 + np.sin(2 * np.pi * 50 * t), alpha])
    out = filter_rows(data, FS, [DisplayFilter(0.5, 35.0, 50.0), None])
    mid = slice(int(5 * FS), int(15 * FS))
    np.testing.assert_allclose(out[0, mid], alpha[mid], atol=0.05)  # drift and line noise gone, alpha in phase
    np.testing.assert_array_equal(out[1], data[1])  # no filter: untouched
    assert data[0, 0] != out[0, 0]  # a new array; the input is not modified
    np.testing.assert_allclose(data[1], alpha)


def test_missing_samples_stay_missing_and_do_not_spread():
    data = np.sin(2 * np.pi * 5 * np.arange(int(10 * FS)) / FS)[None].repeat(2, axis=0)
    data[0, 100:200] = np.nan
    data[1] = np.nan
    out = filter_rows(data, FS, [DisplayFilter(lowpass_hz=20.0)] * 2)
    assert np.isnan(out[0, 100:200]).all() and np.isfinite(out[0, 400:]).all()
    assert np.isnan(out[1]).all()


@pytest.mark.parametrize("gap", [False, True])
def test_rows_side_by_side_or_apart_give_scipys_values_exactly(gap):
    """Rows of one filter next to one another (filtered through a view) or apart (a copy) give exactly what
    scipy's sosfiltfilt gives for those rows; other rows are untouched."""
    from scipy import signal

    from mmqnet_core.preprocessing.display_filter import _sos

    rng = np.random.default_rng(3)
    data = rng.standard_normal((6, int(8 * FS))).cumsum(axis=1)
    if gap:
        data[2, 50:90] = np.nan
    band = DisplayFilter(0.5, 35.0, 50.0)
    sos = _sos(band, FS)
    for rows in ([1, 2, 3], [0, 2, 5]):
        filters = [band if i in rows else None for i in range(6)]
        out = filter_rows(data, FS, filters)
        block = data[rows]
        missing = ~np.isfinite(block)
        block = np.where(missing, np.nanmean(block, axis=1, keepdims=True), block)
        expected = signal.sosfiltfilt(sos, block, axis=1, padlen=3 * (2 * len(sos) + 1))
        expected[missing] = np.nan
        np.testing.assert_array_equal(out[rows], expected)
        others = [i for i in range(6) if i not in rows]
        np.testing.assert_array_equal(out[others], data[others])


def test_padding_covers_the_slowest_part():
    assert DisplayFilter(0.5, 35.0).padding_s() == pytest.approx(3.0)
    assert DisplayFilter(notch_hz=50.0).padding_s() == pytest.approx(1.0)
    assert DisplayFilter(highpass_hz=0.01).padding_s() == 30.0
    # The padding is enough: a page filtered with it matches the same span of the whole signal filtered.
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.standard_normal(int(60 * FS)))[None] * 1e-2  # a drifting random walk
    f = DisplayFilter(0.5, 35.0, 50.0)
    whole = filter_rows(x, FS, [f])[0]
    pad = int(f.padding_s() * FS)
    a, b = int(20 * FS), int(30 * FS)
    page = filter_rows(x[:, a - pad:b + pad], FS, [f])[0, pad:-pad]
    assert np.max(np.abs(page - whole[a:b])) < 0.01 * np.ptp(whole[a:b])
    assert padded_span(2.0, 12.0, 6.0, 15.0) == (0.0, 15.0)


def test_a_frequency_above_nyquist_is_left_out():
    data = np.random.default_rng(0).standard_normal((1, 1000))
    np.testing.assert_allclose(filter_rows(data, 100.0, [DisplayFilter(lowpass_hz=70.0)]), data)


@pytest.mark.parametrize("kwargs, match", [({"highpass_hz": -1.0}, "highpass_hz"),
                                           ({"highpass_hz": 40.0, "lowpass_hz": 30.0}, "must be below"),
                                           ({"notch_hz": float("nan")}, "notch_hz")])
def test_bad_filters_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        DisplayFilter(**kwargs)
    assert DisplayFilter(0.5, 35.0, 50.0).describe() == "0.5-35 Hz, notch 50 Hz"


@pytest.mark.parametrize("n_times, padlen", [(4000, 27), (28, 27), (10, 9), (2, 1), (300, 0)])
def test_in_place_zero_phase_pass_equals_scipys_sosfiltfilt(n_times, padlen):
    """The forward-backward pass without scipy's copies gives exactly sosfiltfilt's values (odd padding),
    also with a padding as long as the signal allows and none; the work arrays are reused across calls."""
    from scipy import signal

    from mmqnet_core.preprocessing.display_filter import _sos, _sosfiltfilt

    rng = np.random.default_rng(7)
    for band in (DisplayFilter(0.5, 35.0, 50.0), DisplayFilter(highpass_hz=1.0), DisplayFilter(notch_hz=60.0)):
        sos = _sos(band, FS)
        for n_rows in (1, 5):
            x = rng.standard_normal((n_rows, n_times)).cumsum(axis=1)
            got = _sosfiltfilt(sos, x, padlen).copy()
            np.testing.assert_array_equal(got, signal.sosfiltfilt(sos, x, axis=1, padlen=padlen))


def test_filtering_in_two_threads_at_once_gives_scipys_values():
    """The work arrays are per thread: the browser's prefetching thread and the GUI thread filter at once."""
    from concurrent.futures import ThreadPoolExecutor

    from scipy import signal

    from mmqnet_core.preprocessing.display_filter import _sos

    band = DisplayFilter(0.5, 35.0, 50.0)
    sos = _sos(band, FS)
    rng = np.random.default_rng(11)
    blocks = [rng.standard_normal((4, int(12 * FS) + k)).cumsum(axis=1) for k in range(8)]
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda b: filter_rows(b, FS, [band] * 4), blocks * 3))
    for b, out in zip(blocks * 3, outs):
        np.testing.assert_array_equal(out, signal.sosfiltfilt(sos, b, axis=1, padlen=27))


def test_sosfiltfilt_falls_back_to_scipy_when_its_private_pass_changed(monkeypatch):
    """The in-place filter uses scipy's private compiled pass; a scipy whose pass takes other arguments must give
    sosfiltfilt's values, not an error."""
    import numpy as np
    from scipy import signal
    from scipy.signal import _sosfilt as private

    from mmqnet_core.preprocessing import display_filter

    def changed(*args, **kwargs):
        raise TypeError("_sosfilt() takes 2 positional arguments but 3 were given")

    monkeypatch.setattr(private, "_sosfilt", changed)
    sos = signal.butter(4, [1.0, 30.0], btype="bandpass", fs=256.0, output="sos")
    x = np.random.default_rng(0).standard_normal((3, 2048))
    got = display_filter._sosfiltfilt(sos, x, 60)
    np.testing.assert_allclose(got, signal.sosfiltfilt(sos, x, axis=1, padlen=60), rtol=0, atol=0)
