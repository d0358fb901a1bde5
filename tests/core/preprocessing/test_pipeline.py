"""preprocess(): line noise, EOG removal, interference detection, grids, progress/cancel, edge cases."""

from __future__ import annotations

import dataclasses
import threading

import mne
import numpy as np
import pytest

from mmqnet_core.errors import Cancelled, ConfigError, RecordingError
from mmqnet_core.preprocessing import PreprocessConfig, preprocess
from mmqnet_core.recording import Modality

from ._helpers import UV, band_power, blinks, eeg_noise, full_recording, make_recording


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


# --- grid ------------------------------------------------------------------------------------------------
def test_raw_and_cleaned_share_grid_and_channels():
    rec = full_recording(np.random.default_rng(0), 256.0, 40.0)
    res = preprocess(rec)
    assert res.raw.sfreq == res.cleaned.sfreq == res.sfreq == 128.0
    assert res.raw.data.shape == res.cleaned.data.shape == (15, 40 * 128)
    assert res.raw.data.dtype == res.cleaned.data.dtype == np.float32
    assert res.raw.ch_names == res.cleaned.ch_names == rec.ch_names
    assert res.raw.channels == rec.channels
    assert res.start_s == 0.0 and res.config == PreprocessConfig()
    assert any(s.startswith("resampled 256 Hz -> 128 Hz") for s in res.steps)


def test_raw_is_only_resampled():
    rec = full_recording(np.random.default_rng(1), 256.0, 20.0)
    res = preprocess(rec)
    # resampled with mne's anti-aliased polyphase method (3x faster than its FFT method on a 1-h recording)
    expected = rec.raw.copy().load_data().resample(128.0, method="polyphase", verbose=False).get_data()
    np.testing.assert_allclose(res.raw.data, expected, rtol=1e-5, atol=1e-9)
    assert not np.allclose(res.cleaned.data, res.raw.data, atol=1e-7)


def test_slow_input_keeps_its_rate():
    rec = full_recording(np.random.default_rng(2), 100.0, 20.0)
    res = preprocess(rec)
    assert res.sfreq == 100.0 and res.cleaned.n_times == 2000
    assert "input rate 100 Hz is below the target 128 Hz: kept (no up-sampling)" in res.steps
    np.testing.assert_allclose(res.raw.data, rec.get_data(), rtol=1e-6, atol=1e-9)


def test_span_is_read_and_interference_is_in_recording_time():
    rng = np.random.default_rng(3)
    rec = full_recording(rng, 128.0, 60.0)
    rec.raw._data[11, int(40 * 128):int(45 * 128)] = 5.0  # GSR flat 40-45 s (RawArray is preloaded)
    res = preprocess(rec, start_s=30.0, stop_s=50.0)
    assert res.start_s == 30.0 and res.cleaned.n_times == 20 * 128
    flat = [a for a in res.interference if a.description == "BAD_flat"]
    assert [(round(a.onset, 2), round(a.duration, 2), a.ch_names) for a in flat] == [(40.0, 5.0, ("GSR",))]
    rel = [a for a in res.interference_relative() if a.description == "BAD_flat"]
    assert round(rel[0].onset, 2) == 10.0


# --- power line -------------------------------------------------------------------------------------------
def test_notch_removes_line_noise_and_keeps_signal():
    rec = full_recording(np.random.default_rng(4), 256.0, 40.0, line_freq=50.0)
    res = preprocess(rec)
    off = preprocess(rec, PreprocessConfig(notch=False))
    assert res.line_freq == 50.0 and off.line_freq is None
    assert any(s.startswith("line noise detected at 50 Hz") for s in res.steps)
    assert "notch 50 Hz on 11 channels (FIR); content above 64 Hz removed by resampling" in res.steps
    emg = rec.index("zEMG")  # EMG is high-passed only: 50 Hz survives unless notched
    p_on = band_power(res.cleaned.data[emg], 128.0, 50.0, 0.5)
    p_off = band_power(off.cleaned.data[emg], 128.0, 50.0, 0.5)
    p_neighbour = band_power(res.cleaned.data[emg], 128.0, 40.0, 2.0)
    assert p_on < 0.02 * p_off
    assert p_on < 2 * p_neighbour  # down to the noise floor
    fp1 = rec.index("Fp1")  # the 10 Hz alpha passes untouched
    ratio = band_power(res.cleaned.data[fp1], 128.0, 10.0) / band_power(res.raw.data[fp1], 128.0, 10.0)
    assert 0.7 < ratio < 1.3


def test_iir_notch_works_too():
    rec = full_recording(np.random.default_rng(5), 256.0, 30.0, line_freq=60.0)
    res = preprocess(rec, PreprocessConfig(filter_method="iir"))
    off = preprocess(rec, PreprocessConfig(filter_method="iir", notch=False))
    emg = rec.index("zEMG")
    assert res.line_freq == 60.0
    p_on, p_off = (band_power(r.cleaned.data[emg], 128.0, 60.0, 0.5) for r in (res, off))
    assert p_on < 0.05 * p_off


@pytest.mark.parametrize("line", [50.0, 60.0])
def test_auto_detection_picks_the_right_frequency(line):
    res = preprocess(full_recording(np.random.default_rng(6), 256.0, 20.0, line_freq=line))
    assert res.line_freq == line


def test_no_line_noise_detected_on_clean_data():
    res = preprocess(full_recording(np.random.default_rng(7), 256.0, 20.0))
    assert res.line_freq is None
    assert any(s.startswith("no line noise detected") and s.endswith("notch skipped") for s in res.steps)
    assert not any(s.startswith("notch") for s in res.steps)


def test_configured_line_frequency_is_used_without_detection():
    res = preprocess(full_recording(np.random.default_rng(8), 256.0, 20.0), PreprocessConfig(line_freq=60))
    assert res.line_freq == 60.0 and "line frequency 60 Hz (set in the configuration)" in res.steps


# --- EOG --------------------------------------------------------------------------------------------------
def _blink_recording(seed: int, sfreq: float = 256.0, duration_s: float = 60.0):
    rng = np.random.default_rng(seed)
    n = int(sfreq * duration_s)
    blink = blinks(rng, n, sfreq)
    names = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "hEOG", "vEOG"]
    eeg = eeg_noise(rng, 10, n, sfreq)
    eeg += np.array([0.6, 0.55, 0.3, 0.3, 0.1, 0.1, 0.05, 0.05, 0.02, 0.02])[:, None] * blink  # propagation
    eog = 5 * UV * rng.standard_normal((2, n))
    eog[1] += blink
    return make_recording(np.vstack([eeg, eog]), sfreq, names, ["EEG"] * 10 + ["EOG"] * 2)


@pytest.mark.parametrize("method", ["regression", "ica"])
def test_eog_removal_reduces_blink_leakage(method):
    rec = _blink_recording(9)
    fp1, veog = rec.index("Fp1"), rec.index("vEOG")
    before = preprocess(rec, PreprocessConfig(eog_method="none"))
    after = preprocess(rec, PreprocessConfig(eog_method=method))
    r_before = abs(_corr(before.cleaned.data[fp1], before.cleaned.data[veog]))
    r_after = abs(_corr(after.cleaned.data[fp1], after.cleaned.data[veog]))
    assert r_before > 0.5
    assert r_after < 0.1
    assert "EOG removal off (configuration)" in before.steps
    # the brain signal stays: alpha power within 30 %
    p = band_power(after.cleaned.data[fp1], 128.0, 10.0) / band_power(before.cleaned.data[fp1], 128.0, 10.0)
    assert 0.7 < p < 1.3


def test_eog_regression_step_is_logged():
    res = preprocess(_blink_recording(10, duration_s=30.0))
    step = next(s for s in res.steps if s.startswith("EOG regression"))
    assert step.startswith("EOG regression from hEOG, vEOG onto 10 EEG channels")


def test_no_eog_channels_is_noted():
    rng = np.random.default_rng(11)
    rec = make_recording(eeg_noise(rng, 6, 256 * 20, 256.0), 256.0, [f"E{i}" for i in range(6)], ["EEG"] * 6)
    res = preprocess(rec)
    assert "no EOG channels: EOG removal skipped" in res.steps


# --- interference ------------------------------------------------------------------------------------------
def _muscle_recording(sfreq: float, seed: int = 12):
    """60 s of EEG with a 1 s broadband (EMG-like) burst at 20-21 s on every channel."""
    rng = np.random.default_rng(seed)
    n = int(sfreq * 60)
    eeg = eeg_noise(rng, 8, n, sfreq)
    a, b = int(20 * sfreq), int(21 * sfreq)
    eeg[:, a:b] += 15 * UV * rng.standard_normal((8, b - a))
    return make_recording(eeg, sfreq, [f"E{i}" for i in range(8)], ["EEG"] * 8)


# Muscle detection runs at the analysis rate (target_sfreq), after resampling: a 512-Hz recording cleaned to
# 128 Hz is searched in 30.8-60.8 Hz (it was searched in 110-140 Hz at 512 Hz before, the slowest step).
@pytest.mark.parametrize(("sfreq", "target", "band"), [(512.0, 128.0, "30.8-60.8 Hz envelope at 128 Hz"),
                                                       (128.0, 128.0, "30.8-60.8 Hz envelope at 128 Hz"),
                                                       (512.0, 512.0, "110-140 Hz envelope at 512 Hz")])
def test_muscle_burst_found_at_the_right_time(sfreq, target, band):
    res = preprocess(_muscle_recording(sfreq), PreprocessConfig(target_sfreq=target))
    muscle = [a for a in res.interference if a.description == "BAD_muscle"]
    assert len(muscle) == 1, res.interference
    assert abs(muscle[0].onset - 20.0) < 0.2 and abs(muscle[0].end - 21.0) < 0.2
    assert muscle[0].ch_names == ()
    assert any(s.startswith(f"muscle detection (mne annotate_muscle_zscore's rule, {band}") for s in res.steps)


def test_muscle_band_respects_each_channels_own_rate():
    """EEG recorded at 128 Hz and stored up-sampled at 512 Hz holds nothing above 64 Hz: no 110-140 Hz search."""
    rng = np.random.default_rng(31)
    sf, n = 512.0, 512 * 60
    slow = eeg_noise(rng, 8, 128 * 60, 128.0)
    up = mne.filter.resample(slow, up=4.0, npad="auto", verbose=False)[:, :n]  # band-limited to 64 Hz
    up += 1e-3 * UV * rng.standard_normal(up.shape)  # the up-sampler's rounding noise
    rec = make_recording(up, sf, [f"E{i}" for i in range(8)], ["EEG"] * 8)
    rec = dataclasses.replace(rec, channels=tuple(dataclasses.replace(c, sfreq=128.0) for c in rec.channels))
    res = preprocess(rec, PreprocessConfig(target_sfreq=512.0))
    assert any(s.startswith("muscle detection (mne annotate_muscle_zscore's rule, 30.8-60.8 Hz") for s in res.steps), \
        res.steps
    assert not [a for a in res.interference if a.description == "BAD_muscle"]
    # with half the channels recorded fast, the fast ones are searched in 110-140 Hz and the slow ones left out
    mixed = dataclasses.replace(rec, channels=tuple(dataclasses.replace(c, sfreq=512.0 if i < 4 else 128.0)
                                                    for i, c in enumerate(rec.channels)))
    res = preprocess(mixed, PreprocessConfig(target_sfreq=512.0))
    assert any(s.startswith("muscle detection leaves out 4 channel(s) recorded too slowly for 110-140 Hz: E4 (128 Hz)")
               for s in res.steps), res.steps
    assert any("110-140 Hz envelope at 512 Hz" in s and "on 4 EEG channel(s)" in s for s in res.steps)


def test_muscle_detection_can_be_turned_off_or_fall_back_to_emg():
    res = preprocess(_muscle_recording(128.0), PreprocessConfig(detect_muscle=False))
    assert not [a for a in res.interference if a.description == "BAD_muscle"]
    rec = _muscle_recording(512.0).with_modalities({f"E{i}": "EMG" for i in range(8)})
    res = preprocess(rec)
    assert any("on 8 EMG channel(s): 1 span(s)" in s for s in res.steps)


def test_muscle_band_above_nyquist_is_an_error():
    with pytest.raises(ConfigError, match=r"'muscle_band': 110-140 Hz needs a sampling rate above 295 Hz, the "
                                          r"recording has 128 Hz"):
        preprocess(_muscle_recording(128.0), PreprocessConfig(muscle_band=(110, 140)))


def test_flat_jump_and_nan_spans():
    rng = np.random.default_rng(13)
    rec = full_recording(rng, 256.0, 60.0)
    d = rec.raw._data
    sf = 256
    d[rec.index("Plet"), 10 * sf:16 * sf] = 0.0  # PPG sensor off for 6 s
    d[rec.index("O1"), 10 * sf:16 * sf] = 0.0  # and an EEG electrode at the same time
    d[rec.index("GSR"), 30 * sf:] += 2.0  # GSR electrode moved: +2 uS step at 30 s
    d[rec.index("C3"), 20 * sf:22 * sf] = np.nan
    res = preprocess(rec)
    got = {(a.description, a.ch_names): (round(a.onset, 2), round(a.duration, 2)) for a in res.interference}
    assert got[("BAD_flat", ("O1", "Plet"))] == (10.0, 6.0)
    assert got[("BAD_nan", ("C3",))] == (20.0, 2.0)
    onset, duration = got[("BAD_jump", ("GSR",))]
    assert abs(onset - 29.5) < 0.1 and abs(onset + duration - 30.5) < 0.1
    assert len(res.interference) == 3
    onsets = [a.onset for a in res.interference]
    assert onsets == sorted(onsets)
    # NaN comes back on the output grid, everything else is finite
    c3 = rec.index("C3")
    gap = np.s_[c3, 20 * 128:22 * 128]
    assert np.isnan(res.cleaned.data[gap]).all() and np.isnan(res.raw.data[gap]).all()
    assert np.isfinite(np.delete(res.cleaned.data, c3, axis=0)).all()
    assert np.isfinite(res.cleaned.data[c3, : 20 * 128 - 1]).all()
    filled = preprocess(rec, PreprocessConfig(restore_nan=False))
    assert np.isfinite(filled.cleaned.data).all()


def test_dead_channel_is_left_out_of_reference():
    rec = full_recording(np.random.default_rng(14), 128.0, 20.0)
    rec.raw._data[rec.index("O2")] = 0.0
    res = preprocess(rec)
    assert any(s.endswith("left out of the reference, EOG removal and muscle detection: O2") for s in res.steps)
    assert "common average reference over 7 EEG channels" in res.steps
    assert np.isfinite(res.cleaned.data).all()


# --- other modalities -------------------------------------------------------------------------------------
def test_recording_without_eeg():
    rng = np.random.default_rng(15)
    sf, n = 128.0, 128 * 60
    t = np.arange(n) / sf
    data = np.vstack([5 + 0.1 * np.sin(2 * np.pi * 0.05 * t), np.sin(2 * np.pi * 0.25 * t),
                      np.sin(2 * np.pi * 1.2 * t) + 0.3 * np.sin(2 * np.pi * 20 * t), 33 + 0 * t])
    data += 0.001 * rng.standard_normal(data.shape)
    rec = make_recording(data, sf, ["GSR", "Resp", "Plet", "Temp"], ["GSR", "RESP", "PPG", "TEMP"])
    res = preprocess(rec)
    assert res.line_freq is None
    assert "no EEG/EOG/EMG/ECG channels: no line-noise removal" in res.steps
    assert "no EEG channels: no EOG removal" in res.steps
    assert "no usable EEG or EMG channels: no muscle detection" in res.steps
    assert "low-pass 1 Hz on 1 GSR channel(s)" in res.steps
    gsr, ppg = res.cleaned.data[0], res.cleaned.data[2]
    assert abs(np.mean(gsr) - 5.0) < 0.01  # tonic level kept
    assert band_power(ppg, sf, 20.0) < 1e-3 * band_power(res.raw.data[2], sf, 20.0)  # 0.5-8 Hz band-pass


def test_band_clipped_to_nyquist_is_noted():
    rng = np.random.default_rng(16)
    rec = make_recording(eeg_noise(rng, 4, 64 * 30, 64.0), 64.0, [f"E{i}" for i in range(4)], ["EEG"] * 4)
    res = preprocess(rec)
    assert "high-pass 1 Hz on 4 EEG channel(s) (low-pass 45 Hz dropped: too close to the Nyquist frequency 32 Hz)" \
        in res.steps


# --- progress, cancel, validation --------------------------------------------------------------------------
def test_progress_is_monotonic_and_complete():
    seen: list[tuple[float, str]] = []
    preprocess(full_recording(np.random.default_rng(17), 128.0, 10.0), progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and seen[-1] == (1.0, "done")
    assert len(seen) >= 8


class _CancelAfter:
    """A cancel token that becomes set after ``n`` progress calls."""

    def __init__(self, n: int) -> None:
        self.n, self.calls, self.event = n, 0, threading.Event()

    def progress(self, fraction: float, message: str) -> None:
        self.calls += 1
        if self.calls >= self.n:
            self.event.set()


@pytest.mark.parametrize("after", [1, 4, 7])
def test_cancel_raises_between_steps(after):
    token = _CancelAfter(after)
    with pytest.raises(Cancelled, match="Cancelled by the user"):
        preprocess(full_recording(np.random.default_rng(18), 128.0, 10.0), progress=token.progress,
                   cancel=token.event)
    assert token.calls == after


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"start_s": -1.0}, ConfigError, r"Invalid value for 'start_s': must be between 0 and the recording's "
                                         r"duration 10.000 s, got -1.0"),
        ({"start_s": 12.0}, ConfigError, r"Invalid value for 'start_s'"),
        ({"start_s": 5.0, "stop_s": 5.0}, ConfigError, r"Invalid value for 'stop_s': must be after start_s=5.0 s"),
        ({"start_s": 9.999}, RecordingError, r"holds 0 sample\(s\); choose a longer span"),
        ({"config": "fast"}, ConfigError, r"'config' must be a PreprocessConfig, got str"),
    ],
)
def test_invalid_span_or_config(kwargs, error, message):
    rec = full_recording(np.random.default_rng(19), 128.0, 10.0)
    with pytest.raises(error, match=message):
        preprocess(rec, **kwargs)


def test_input_recording_is_not_modified():
    rec = full_recording(np.random.default_rng(20), 128.0, 10.0)
    rec.raw._data[0, 100:200] = np.nan
    before = rec.raw.get_data().copy()
    preprocess(rec)
    np.testing.assert_array_equal(rec.raw.get_data(), before)


def test_mne_channel_types_cover_every_modality():
    from mmqnet_core.preprocessing import MNE_CH_TYPES

    assert set(MNE_CH_TYPES) == set(Modality)
    info = mne.create_info(len(MNE_CH_TYPES), 100.0, list(MNE_CH_TYPES.values()))
    assert len(info["chs"]) == len(Modality)


def test_muscle_detection_on_fast_input_is_decimated():
    res = preprocess(_muscle_recording(1024.0), PreprocessConfig(target_sfreq=1024.0))
    muscle = [a for a in res.interference if a.description == "BAD_muscle"]
    assert len(muscle) == 1 and abs(muscle[0].onset - 20.0) < 0.2 and abs(muscle[0].end - 21.0) < 0.2
    assert any(s.startswith("muscle detection (mne annotate_muscle_zscore's rule, 110-140 Hz envelope at 512 Hz")
               for s in res.steps)


@pytest.mark.parametrize("seed", range(6))
def test_flat_prescreen_never_skips_a_flat_window(seed):
    """The cheap block test says "may be flat" whenever the sliding-window detector finds something."""
    from mmqnet_core.preprocessing.detect import flat_mask
    from mmqnet_core.preprocessing.pipeline import _may_be_flat

    rng = np.random.default_rng(seed)
    sf = float(rng.choice([128.0, 256.0, 500.0]))
    x = rng.standard_normal(int(sf * 30))
    a = int(rng.integers(0, x.size - int(sf)))
    x[a:a + int(rng.integers(int(0.5 * sf), int(3 * sf)))] = 1.0  # a flat stretch of 0.5-3 s
    cfg = PreprocessConfig(flat_min_s=0.1)
    found = flat_mask(x[None], sf, window_s=cfg.flat_window_s, rel_threshold=cfg.flat_rel_threshold,
                      min_s=cfg.flat_min_s).any()
    assert found and _may_be_flat(x, sf, cfg)
    assert not _may_be_flat(rng.standard_normal(int(sf * 30)), sf, cfg)
