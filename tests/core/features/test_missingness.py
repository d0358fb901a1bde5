"""Feature-level missingness and robust detectors (issue 9) on synthetic signals with known answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mmqnet_core.features import FeatureConfig, MissingReason, describe_hidden, extract_features, reason_counts
from mmqnet_core.features.layout import Token
from mmqnet_core.features.peripheral import heart_features, resp_features
from mmqnet_core.features.spectral import WindowGrid
from mmqnet_core.preprocessing.detect import local_scale
from mmqnet_core.recording import ChannelInfo, Modality, Signals

from .helpers import FS, pulse_train, signals, times

CFG = FeatureConfig()


def _belt(duration_s: float, rate_per_min: float, seed: int = 0) -> np.ndarray:
    t = times(duration_s)
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * rate_per_min / 60 * t) + 0.02 * rng.standard_normal(t.size)


def test_one_big_movement_no_longer_hides_the_breathing_rate():
    # issue 9: a movement 30x the breath depth set the global threshold; now only its neighbourhood is affected
    x = _belt(180.0, 15.0)
    i = int(90 * FS)
    x[i:i + int(3 * FS)] += 30 * np.hanning(int(3 * FS))
    grid = WindowGrid.make(FS, x.size, 1.0, None)
    rate = resp_features(x[None], grid, CFG)[0, :, 0]
    far = np.abs(grid.centres_s - 91.5) > 40
    assert np.isfinite(rate[far]).all() and np.abs(rate[far] - 15.0).max() < 1.0


def test_heart_rate_survives_a_large_artefact_elsewhere():
    t = times(120.0)
    x = pulse_train(t, np.arange(0.5, 120, 60 / 72), 0.05)
    x[int(60 * FS):int(62 * FS)] += 25.0 * np.hanning(int(2 * FS))  # 25x a pulse
    grid = WindowGrid.make(FS, x.size, 1.0, None)
    hr = heart_features(x[None], grid, CFG)[0, :, 0]
    far = np.abs(grid.centres_s - 61) > 10
    assert np.abs(hr[far] - 72).max() < 1.0


def test_band_clipped_to_the_recorded_rate():
    # an EEG channel recorded at 64 Hz and resampled to 128 Hz holds nothing above 32 Hz: its gamma band
    # (31-45 Hz) is missing on its own, theta..beta stay valid
    rng = np.random.default_rng(1)
    data = rng.standard_normal((2, int(20 * FS))) * 1e-5
    chans = (ChannelInfo("Fz", Modality.EEG, FS, "V"), ChannelInfo("Cz", Modality.EEG, 64.0, "V"))
    fs = extract_features(Signals(data, FS, chans), CFG)
    gamma = list(fs.columns(0)).index("de_gamma")
    assert fs.feature_valid[:, 0].all()
    assert not fs.feature_valid[:, 1, gamma].any() and fs.feature_valid[:, 1, :gamma].all()
    assert not fs.missing.any() and (fs.reason == MissingReason.PRESENT).all()


def test_a_feature_that_cannot_be_computed_is_missing_on_its_own():
    # belt breathing for 60 s, then 60 s of a present but breathless (shallow noise) belt, then 30 s flat
    x = np.concatenate([_belt(60.0, 15.0), 0.02 * np.random.default_rng(2).standard_normal(int(60 * FS)),
                        np.zeros(int(30 * FS))])
    sig = signals([("Resp", Modality.RESP, "", x)])
    layout = (Token("Resp", Modality.RESP, "Resp"), Token("ECG", Modality.ECG, "ECG"))
    fs = extract_features(sig, CFG, layout=layout)
    rate, depth = fs.columns(0).index("rate"), fs.columns(0).index("depth")
    c = fs.window_centres
    breathing, flat = c < 45, c > 125
    assert fs.feature_valid[breathing, 0, rate].all() and not fs.missing[breathing, 0].any()
    # somewhere in the breathless stretch no breath is found: the rate is invalid but the token stays present
    gap = ~fs.feature_valid[:, 0, rate] & ~fs.missing[:, 0]
    assert gap.any() and fs.feature_valid[gap, 0, fs.waveform[Modality.RESP]].all()
    assert (fs.reason[gap, 0] == MissingReason.PRESENT).all()
    assert np.all(fs.values[gap, 0, rate] == 0) and not fs.feature_valid[gap, 0, depth].any()
    # the flat end: no data; the absent ECG token: no channel
    assert (fs.reason[flat, 0] == MissingReason.NO_DATA).all() and fs.missing[flat, 0].all()
    assert (fs.reason[:, 1] == MissingReason.NO_CHANNEL).all()
    df = fs.to_dataframe(wide=True)
    assert df["Resp:rate"].isna().sum() == int((~fs.feature_valid[:, 0, rate]).sum())
    assert reason_counts(fs.reason[:, 0]) == {"no data (NaN or flat)": int(fs.missing[:, 0].sum())}
    assert fs.missing[:, 0].sum() >= flat.sum()
    # a slice made with dataclasses.replace gets per-window arrays derived again, of the right length
    part = dataclasses.replace(fs, values=fs.values[:10], missing=fs.missing[:10], window_starts=fs.window_starts[:10],
                               interference=fs.interference[:10])
    assert part.feature_valid.shape == (10,) + fs.values.shape[1:] and part.reason.shape == (10, 2)


def test_describe_hidden_names_each_reason():
    r = np.zeros(120, np.uint8)
    r[:2] = MissingReason.USER_MASK
    r[5] = MissingReason.NOT_DETECTED
    assert describe_hidden("Resp", r, "RESP") == "Resp: 3/120 windows hidden: 2 user mask, 1 no breath found"
    assert describe_hidden("Fz", np.zeros(4, np.uint8)) == "Fz: all 4 windows visible"


def test_a_ripple_below_the_belt_mid_level_is_not_a_breath():
    # a real belt's exhalation limb or trough often carries a ripple as prominent as a shallow breath; a breath
    # rises above the resting level, the ripple does not (the zero-crossing rule of published breath detectors)
    t = times(120.0)
    x = np.sin(2 * np.pi * 12.0 / 60 * t)  # 12 breaths/min, troughs at 3.75 + 5 k s
    for k in range(24):  # a 0.8-high ripple in every trough, more prominent than 0.2 x the breath depth
        x += 0.8 * np.exp(-0.5 * ((t - (3.75 + 5 * k)) / 0.25) ** 2)
    grid = WindowGrid.make(FS, x.size, 1.0, None)
    rate = resp_features(x[None], grid, CFG)[0, :, 0]
    inner = (grid.centres_s > 10) & (grid.centres_s < 110)
    assert np.abs(rate[inner] - 12.0).max() < 0.5, np.round(rate[inner], 1)


def test_the_breath_depth_at_the_recording_ends_is_as_robust_as_elsewhere():
    # local_scale(full_edges=True), used by the breath detector: the first blocks take the median of the first
    # full context (5 blocks), not of the 3 that exist around them, so two deep blocks near the start (one deep
    # breath in each) do not raise the threshold above the shallow breaths there
    fs = 10.0
    v = np.array([8.0, 1.0, 8.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # block ranges, 15-s blocks
    y = np.concatenate([np.linspace(0, r, 150) for r in v])
    shrunk = local_scale(y, fs, block_s=15.0, context_blocks=5, stat="range")
    full = local_scale(y, fs, block_s=15.0, context_blocks=5, stat="range", full_edges=True)
    assert shrunk[0] == pytest.approx(8.0) and full[0] == pytest.approx(1.0)
    np.testing.assert_allclose(full[375:826], shrunk[375:826])  # between the 3rd and 6th block centres: the same


def _noise_channels():
    rng = np.random.default_rng(3)
    n = int(120 * FS)
    return {
        "white noise": rng.standard_normal(n) * 20.0,
        "flat-ish": 500.0 + 1e-3 * rng.standard_normal(n),  # a near-constant line with a trace of noise
        "quantised flat line": np.round(0.3 * rng.standard_normal(n)),  # +-1 LSB ticks on a constant
    }


def test_a_channel_with_no_beats_gives_no_heart_rate_but_detector_found_nothing():
    # issue 9: peaks found in noise were read as 95-186 bpm; a channel with no beats has no rate
    grid = WindowGrid.make(FS, int(120 * FS), 1.0, None)
    for name, x in _noise_channels().items():
        for ecg in (False, True):
            f = heart_features(x[None], grid, CFG, ecg=ecg)[0]
            assert np.isnan(f).all(), (name, ecg, np.nanmedian(f[:, 0]), np.isfinite(f).mean(axis=0))
    # through feature extraction: the tokens are present but "detector found nothing", with that reason
    x = _noise_channels()["white noise"]
    sig = signals([("PPG", Modality.PPG, "", x), ("ECG", Modality.ECG, "uV", x)])
    fs = extract_features(sig, CFG, layout=(Token("PPG", Modality.PPG, "PPG"), Token("ECG", Modality.ECG, "ECG")))
    assert (fs.reason == MissingReason.NOT_DETECTED).all() and not fs.feature_valid[:, :, :3].any()
    assert describe_hidden("ECG", fs.reason[:, 1], "ECG") == "ECG: 120/120 windows hidden: 120 no R peak found"


def test_beats_in_noise_are_still_found():
    # the noise test keeps beats: pulse trains with noise of 1/30-1/10 their size, and a sinusoid-like pulse wave
    # (which stands no higher above its median than noise does, but repeats)
    t = times(120.0)
    rng = np.random.default_rng(4)
    grid = WindowGrid.make(FS, t.size, 1.0, None)
    beats = np.arange(0.5, 120, 60 / 75)
    spiky = pulse_train(t, beats, 0.02) + 0.1 * rng.standard_normal(t.size)  # ECG-like
    pulse = pulse_train(t, beats, 0.1) + 0.03 * rng.standard_normal(t.size)  # PPG-like
    smooth = np.sin(2 * np.pi * 1.25 * t) + 0.03 * rng.standard_normal(t.size)
    for x, ecg in ((spiky, True), (pulse, False), (smooth, False)):
        hr = heart_features(x[None], grid, CFG, ecg=ecg)[0, :, 0]
        assert np.abs(hr[3:-3] - 75.0).max() < 1.5, (ecg, np.round(hr, 1))
