"""Peripheral features from synthetic pulse trains, breathing, SCRs and blinks; contract over every extractor."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.features import EXTRACTORS, FeatureConfig, WindowGrid
from mmqnet_core.features.peripheral import Events, find_scr, rmssd, to_canonical
from mmqnet_core.recording import Modality

from .helpers import FS, pulse_train, scr_train, times

CFG = FeatureConfig()


def _run(modality: Modality, x: np.ndarray, cfg: FeatureConfig = CFG) -> tuple[np.ndarray, tuple[str, ...]]:
    grid = WindowGrid.make(FS, x.shape[-1], cfg.window_s, cfg.step_s)
    return EXTRACTORS[modality].compute(np.atleast_2d(x), grid, cfg), EXTRACTORS[modality].names(cfg)


def _col(feats, names, name):
    return feats[0, :, names.index(name)]


@pytest.mark.parametrize("modality,width_s", [(Modality.PPG, 0.12), (Modality.ECG, 0.015)])
def test_heart_rate_72_bpm(modality, width_s):
    rng = np.random.default_rng(0)
    t = times(60)
    beats = np.arange(0.4, 60, 60 / 72)
    x = pulse_train(t, beats, width_s) + 0.03 * rng.standard_normal(t.size)
    feats, names = _run(modality, x)
    hr = _col(feats, names, "hr")
    assert np.all(np.abs(hr[2:-2] - 72) < 1.5)
    # regular rhythm: only noise-induced beat-to-beat variability (resting humans: 20-50 ms)
    assert np.all(_col(feats, names, "rmssd")[2:-2] < 15)


def test_rmssd_follows_beat_to_beat_variability():
    t = times(60)
    ibi = np.where(np.arange(80) % 2 == 0, 0.78, 0.88)  # alternating intervals: successive differences 100 ms
    beats = 0.3 + np.concatenate([[0], np.cumsum(ibi)])
    beats = beats[beats < 59.5]
    feats, names = _run(Modality.PPG, pulse_train(t, beats, 0.1))
    np.testing.assert_allclose(_col(feats, names, "rmssd")[5:-5], 100, atol=8)
    np.testing.assert_allclose(_col(feats, names, "hr")[5:-5].mean(), 60 / 0.83, atol=1.5)


def test_respiration_15_per_minute_and_depth():
    rng = np.random.default_rng(1)
    t = times(120)
    x = 2.0 * np.sin(2 * np.pi * 0.25 * t) + 0.1 * rng.standard_normal(t.size)
    feats, names = _run(Modality.RESP, x)
    rate = _col(feats, names, "rate")
    assert np.all(np.abs(rate[5:-5] - 15) < 0.5)
    np.testing.assert_allclose(np.median(_col(feats, names, "depth")), 4.0, rtol=0.1)  # peak-to-trough


def test_gsr_scr_count_rate_and_level():
    t = times(120)
    onsets = np.array([10.0, 25.0, 47.0, 70.0, 90.0])
    x = 5.0 + 0.005 * t + scr_train(t, onsets, 0.3)
    phasic = x - 5.0 - 0.005 * t  # the ideal phasic component
    assert find_scr(phasic, FS).times.size == 5
    feats, names = _run(Modality.GSR, x)
    centres = np.arange(feats.shape[1]) + 0.5
    rate = _col(feats, names, "scr_rate")
    # context of 10 s: near an SCR peak (~2 s after onset) one response -> 6 /min; far from all -> 0
    near = np.abs(centres - 49.5) < 2
    far = (centres > 105) & (centres < 115)
    np.testing.assert_allclose(rate[near], 6.0)
    assert (rate[far] == 0).all() and (_col(feats, names, "scr_amp")[far] == 0).all()
    assert 0.1 < _col(feats, names, "scr_amp")[near].mean() < 0.35
    np.testing.assert_allclose(_col(feats, names, "level")[110], x[110 * 128 : 111 * 128].mean(), rtol=1e-9)


def test_temperature_slope_and_waveform():
    t = times(30)
    x = 33.0 + 0.01 * t
    feats, names = _run(Modality.TEMP, x)
    np.testing.assert_allclose(_col(feats, names, "slope"), 0.01, rtol=1e-6)
    wave = feats[0, :, names.index("wave_0") :]
    assert wave.shape[-1] == 8 and (np.diff(wave, axis=-1) > 0).all()
    np.testing.assert_allclose(wave.mean(-1), _col(feats, names, "level"), rtol=1e-9)


def test_eog_blink_rate():
    rng = np.random.default_rng(2)
    t = times(120)
    blinks = np.arange(1.5, 120, 3.0)  # 20 blinks / min
    x = 200.0 * pulse_train(t, blinks, 0.06) + 5.0 * rng.standard_normal(t.size)  # uV
    feats, names = _run(Modality.EOG, x)
    np.testing.assert_allclose(np.median(_col(feats, names, "blink_rate")), 20, atol=2)
    assert 150 < np.median(_col(feats, names, "blink_amp")) < 230


def test_emg_rms_and_mean_frequency():
    t = times(10)
    quiet = 2.0 * np.sin(2 * np.pi * 40 * t)
    feats, names = _run(Modality.EMG, np.stack([quiet, 10 * quiet]))
    np.testing.assert_allclose(feats[:, :, names.index("mean_freq")], 40, atol=0.5)
    np.testing.assert_allclose(feats[1, :, 0] - feats[0, :, 0], 1.0, atol=1e-6)  # log10 RMS: 10x -> +1
    np.testing.assert_allclose(feats[0, :, 0], np.log10(2 / np.sqrt(2)), atol=1e-4)


def test_unit_conversion():
    np.testing.assert_allclose(to_canonical(Modality.EEG, np.array([[1e-6]]), "V"), [[1.0]])
    np.testing.assert_allclose(to_canonical(Modality.GSR, np.array([[200e3]]), "Ohm"), [[5.0]])  # 5 uS
    np.testing.assert_allclose(to_canonical(Modality.GSR, np.array([[5e-6]]), "S"), [[5.0]])
    np.testing.assert_allclose(to_canonical(Modality.TEMP, np.array([[306.15]]), "K"), [[33.0]])


@pytest.mark.parametrize("modality", list(EXTRACTORS))
@pytest.mark.parametrize("cfg", [FeatureConfig(), FeatureConfig(window_s=2.0, step_s=0.5, include_delta=True,
                                                                waveform_points=4)])
def test_extractor_contract(modality, cfg):
    """Every extractor: (C, T, F) output, one name and unit per column, finite values on realistic input."""
    rng = np.random.default_rng(5)
    t = times(40)
    base = {
        Modality.PPG: pulse_train(t, np.arange(0.5, 40, 0.8), 0.1),
        Modality.ECG: pulse_train(t, np.arange(0.5, 40, 0.8), 0.015),
        Modality.RESP: np.sin(2 * np.pi * 0.3 * t),
        Modality.GSR: 4 + scr_train(t, np.array([5.0, 20.0]), 0.2),
        Modality.TEMP: 32 + 0.01 * t,
        Modality.EOG: 150 * pulse_train(t, np.arange(1, 40, 4.0), 0.06),
    }.get(modality, 10 * np.sin(2 * np.pi * 10 * t))
    x = np.stack([base, 0.5 * base]) + 0.05 * rng.standard_normal((2, t.size)) * (np.abs(base).max() + 1e-9)
    ex = EXTRACTORS[modality]
    grid = WindowGrid.make(FS, t.size, cfg.window_s, cfg.step_s)
    feats = ex.compute(x, grid, cfg)
    names, units = ex.names(cfg), ex.units(cfg)
    assert feats.shape == (2, grid.n_windows, len(names))
    assert len(units) == len(names) and len(set(names)) == len(names)
    assert np.isfinite(feats[:, 3:-3]).all()  # the edges may lack a beat/breath on both sides
    wave = ex.waveform_slice(cfg)
    if ex.has_waveform:
        assert names[wave] == tuple(f"wave_{i}" for i in range(cfg.waveform_points))
    else:
        assert wave is None


def _alternating_beats() -> np.ndarray:
    """Beats of a 72-bpm rhythm whose intervals alternate 0.81 / 0.85 s (RMSSD 40 ms), 0.3-59.5 s."""
    ibi = np.where(np.arange(80) % 2 == 0, 0.81, 0.85)
    beats = 0.3 + np.concatenate([[0], np.cumsum(ibi)])
    return beats[beats < 59.5]


@pytest.mark.parametrize("change", ["missed", "extra"])
def test_rmssd_leaves_out_the_intervals_of_a_missed_or_extra_beat(change):
    # one beat lost (a doubled interval, still inside 0.3-2 s) or one extra peak (two short intervals): the
    # heart rate's interval rule drops those intervals, and RMSSD must too (it read 400-700 ms around them)
    beats = _alternating_beats()
    k = int(np.searchsorted(beats, 30.0))
    beats = np.delete(beats, k) if change == "missed" else np.sort(np.append(beats, beats[k] + 0.45))
    grid = WindowGrid.make(FS, int(60 * FS), 1.0, None)
    r = rmssd(Events(beats, np.ones(beats.size)), grid, CFG.context_s, 60.0)
    assert np.all(np.isfinite(r[1:-1]))
    np.testing.assert_allclose(r[1:-1], 40, atol=1)


def test_rmssd_of_a_ppg_that_lost_a_beat():
    # the same through the PPG detector and features: one pulse missing from the train
    t = times(60)
    beats = _alternating_beats()
    beats = np.delete(beats, int(np.searchsorted(beats, 30.0)))
    feats, names = _run(Modality.PPG, pulse_train(t, beats, 0.1))
    r = _col(feats, names, "rmssd")[3:-3]
    assert np.all(np.isfinite(r))
    np.testing.assert_allclose(r, 40, atol=8)
