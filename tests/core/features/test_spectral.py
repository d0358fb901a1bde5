"""EEG band features: vectorised DE/PSD against per-window references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from mmqnet_core.errors import ConfigError
from mmqnet_core.features import FeatureConfig, WindowGrid, eeg_band_features

from .helpers import FS, times

BANDS = (("theta", 4, 8), ("alpha", 8, 14), ("beta", 14, 31), ("gamma", 31, 45))


def _noise_sines(n_ch: int, duration_s: float, seed: int, sfreq: float = FS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = times(duration_s, sfreq)
    x = rng.standard_normal((n_ch, t.size)) * 2e-6 + 3e-3  # DC offset as in raw BDF
    for f in (6, 10.5, 20, 40):
        x += rng.uniform(1e-6, 1e-5, (n_ch, 1)) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6, (n_ch, 1)))
    return x


def test_alpha_sine_gives_largest_alpha():
    t = times(20)
    x = np.stack([1e-5 * np.sin(2 * np.pi * 10 * t), 1e-5 * np.sin(2 * np.pi * 11.5 * t + 1)])
    x += 1e-7 * np.random.default_rng(0).standard_normal(x.shape)
    de, psd = eeg_band_features(x, FS, 1.0, None, BANDS)
    assert de.shape == psd.shape == (20, 2, 4)
    assert (de.argmax(-1) == 1).all() and (psd.argmax(-1) == 1).all()
    # a 10 uV-amplitude sine has variance 50 uV^2 = 5e-11 V^2 (channel 0: on an FFT bin, no leakage)
    np.testing.assert_allclose(de[:, 0, 1], 0.5 * np.log(2 * np.pi * np.e * 5e-11), atol=0.01)
    # the off-bin 11.5 Hz sine leaks a little into the beta band: still within 0.05 nat
    np.testing.assert_allclose(de[:, 1, 1], 0.5 * np.log(2 * np.pi * np.e * 5e-11), atol=0.05)


@pytest.mark.parametrize("sfreq,window_s,step_s", [(128.0, 1.0, None), (100.0, 0.5, 0.2), (127.0, 1.0, 0.3)])
def test_psd_equals_periodogram_loop(sfreq, window_s, step_s):
    """Exact: the band PSD is scipy's Hann periodogram averaged over the band's bins, window by window."""
    x = _noise_sines(3, 12, seed=1, sfreq=sfreq)
    de, psd = eeg_band_features(x, sfreq, window_s, step_s, BANDS)
    grid = WindowGrid.make(sfreq, x.shape[1], window_s, step_s)
    assert psd.shape[0] == grid.n_windows
    for t, s in enumerate(grid.starts):
        f, p = scipy.signal.periodogram(x[:, s : s + grid.n], sfreq, window="hann", detrend="constant")
        for b, (_, lo, hi) in enumerate(BANDS):
            sel = (f >= lo) & (f < hi)
            np.testing.assert_allclose(psd[t, :, b], p[:, sel].mean(-1), rtol=2e-4)


def test_de_equals_parseval_loop():
    """Exact: DE is 0.5 ln(2 pi e var) of the ideal band-pass, computed here window by window with numpy."""
    x = _noise_sines(4, 10, seed=2)
    de, _ = eeg_band_features(x, FS, 1.0, 0.5, BANDS)
    n, step = 128, 64
    for t in range(de.shape[0]):
        seg = x[:, t * step : t * step + n]
        spec = np.fft.fft(seg - seg.mean(-1, keepdims=True), axis=-1)
        f = np.abs(np.fft.fftfreq(n, 1 / FS))
        for b, (_, lo, hi) in enumerate(BANDS):
            sel = (f >= lo) & (f < hi)  # both signs of frequency: Parseval over the two-sided spectrum
            var = (np.abs(spec[:, sel]) ** 2).sum(-1) / n**2
            np.testing.assert_allclose(de[t, :, b], 0.5 * np.log(2 * np.pi * np.e * var), atol=1e-4)


def _modulated_sines(seed: int, duration_s: float = 120, n_ch: int = 4) -> np.ndarray:
    """Two sines inside each band whose amplitudes drift smoothly over 1.5 decades (like band power in EEG)."""
    rng = np.random.default_rng(seed)
    t = times(duration_s)
    x = 0.05 * rng.standard_normal((n_ch, t.size))
    freqs = ((5, 6), (10, 12), (18, 25), (35, 40))
    for c in range(n_ch):
        for fa, fb in freqs:
            knots = 10 ** rng.uniform(-0.75, 0.75, int(duration_s / 2) + 2)
            amp = np.interp(t, np.arange(knots.size) * 2.0, knots)
            x[c] += amp * (np.sin(2 * np.pi * fa * t + rng.uniform(0, 6)) + 0.5 * np.sin(2 * np.pi * fb * t))
    return x


def _butter_de(y: np.ndarray) -> np.ndarray:
    return 0.5 * np.log(2 * np.pi * np.e * np.var(y, axis=-1))


def test_de_agrees_with_butterworth_reference():
    """Approximate: DE against the Butterworth definition (5th order band-pass, then np.var per window).

    Reference A band-passes the whole signal once and takes each window's variance (how DE is defined on
    SEED/DEAP). Tolerances, measured on this signal with margin: per-band correlation > 0.99, median
    |difference| < 0.05 nat (5 % of the band's std) and 95th percentile < 0.25 nat; the remaining differences
    come from the Butterworth's finite roll-off vs the brick-wall band and from window-edge leakage.
    Reference B filters each 1 s window on its own (as TorchEEG does): a 5th-order 4-8 Hz filter rings for
    about half a window, so the reference itself is noisier; there we ask only a pooled correlation > 0.95.
    """
    x = _modulated_sines(seed=3)
    de, _ = eeg_band_features(x, FS, 1.0, None, BANDS)
    n = 128
    ref_a, ref_b = np.zeros_like(de), np.zeros_like(de)
    for b, (_, lo, hi) in enumerate(BANDS):
        sos = scipy.signal.butter(5, [lo, hi], btype="bandpass", fs=FS, output="sos")
        y = scipy.signal.sosfiltfilt(sos, x, axis=-1)
        for t in range(de.shape[0]):
            ref_a[t, :, b] = _butter_de(y[:, t * n : (t + 1) * n])
            ref_b[t, :, b] = _butter_de(scipy.signal.sosfiltfilt(sos, x[:, t * n : (t + 1) * n], axis=-1))
    for b in range(len(BANDS)):
        assert np.corrcoef(de[..., b].ravel(), ref_a[..., b].ravel())[0, 1] > 0.99
    diff = np.abs(de - ref_a)
    assert np.median(diff) < 0.05
    assert np.percentile(diff, 95) < 0.25
    assert np.corrcoef(de.ravel(), ref_b.ravel())[0, 1] > 0.95


def test_overlap_gives_expected_window_count():
    x = _noise_sines(2, 10.0, seed=4)
    de, psd = eeg_band_features(x, FS, 1.0, 0.25, BANDS)
    assert de.shape[0] == 1 + (1280 - 128) // 32 == 37
    de2, _ = eeg_band_features(x, FS, 2.0, None, BANDS)
    assert de2.shape[0] == 5
    # overlapping windows share data: window 4 of the 0.25 s grid is window 1 of the 1 s grid
    de1, _ = eeg_band_features(x, FS, 1.0, None, BANDS)
    np.testing.assert_allclose(de[4], de1[1], atol=1e-5)


def test_band_errors_are_clear():
    x = np.random.default_rng(0).standard_normal((1, 640))
    with pytest.raises(ConfigError, match="above the Nyquist frequency 32.0 Hz"):
        eeg_band_features(x, 64.0, 1.0, None, (("gamma", 33, 45),))
    with pytest.raises(ConfigError, match="contains no frequency bin.*longer window_s"):
        eeg_band_features(x, 128.0, 0.25, None, (("narrow", 5, 6),))
    with pytest.raises(ConfigError, match="shorter than one window"):
        eeg_band_features(x[:, :100], 128.0, 1.0, None, BANDS)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"window_s": 0}, "Invalid value for 'window_s'"),
        ({"step_s": -1.0}, "Invalid value for 'step_s'"),
        ({"bands": (("a", 8, 4),)}, "need 0 <= low < high"),
        ({"bands": (("a", 4, 8), ("a", 8, 9))}, "band names must be unique"),
        ({"waveform_points": -1}, "waveform_points"),
        ({"hf_z_threshold": 0.0}, "hf_z_threshold"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        FeatureConfig(**kwargs)


def test_config_round_trip_and_delta():
    cfg = FeatureConfig(window_s=2.0, step_s=0.5, include_delta=True)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert [b[0] for b in cfg.all_bands] == ["delta", "theta", "alpha", "beta", "gamma"]
    with pytest.raises(ConfigError, match="Unknown FeatureConfig field"):
        FeatureConfig.from_dict({"windows": 1})


@pytest.mark.parametrize("n_times, window_s, step_s", [(12_800, 1.0, None), (12_877, 1.0, 0.5), (1_000, 0.3, 0.1),
                                                        (129, 1.0, None), (30_000, 2.0, 0.25)])
def test_window_fraction_is_the_window_mean_of_the_flags_bit_for_bit(n_times, window_s, step_s):
    """The interference coverage and the dead-channel rule take the fraction of flagged samples per window from
    integer counts: the very numbers the float64 cumulative sum gives (whole counts, divided by the same n)."""
    grid = WindowGrid.make(128.0, n_times, window_s, step_s)
    rng = np.random.default_rng(n_times)
    for density in (0.0, 0.002, 0.3, 1.0):
        flags = rng.random((5, n_times)) < density
        flags[1, 40:3_000] = True  # runs across windows
        got = grid.window_fraction(flags)
        want = grid.window_mean(flags.astype(np.float64))
        assert got.dtype == want.dtype == np.float64 and got.shape == want.shape == (5, grid.n_windows)
        np.testing.assert_array_equal(got, want)
