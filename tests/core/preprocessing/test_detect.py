"""The vectorised detectors: runs, NaN filling, flat spans, jumps, power-line frequency."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.preprocessing.detect import (
    detect_line_freq,
    fill_nan,
    flat_mask,
    jump_mask,
    runs,
    spans_to_annotations,
)

SF = 128.0


def test_runs_and_annotations_group_channels():
    m = np.zeros((3, 20), dtype=bool)
    m[0, 2:5] = m[1, 2:5] = True
    m[2, 10:20] = True
    assert runs(m[2]).tolist() == [[10, 20]]
    ann = spans_to_annotations(m, ["a", "b", "c"], 10.0, "BAD_x", offset_s=100.0)
    assert [(a.onset, a.duration, a.ch_names) for a in ann] == [(100.2, 0.3, ("a", "b")), (101.0, 1.0, ("c",))]


def test_fill_nan_interpolates_linearly():
    x = np.array([[0.0, np.nan, np.nan, 3.0, np.nan], [np.nan] * 5])
    fill_nan(x)
    np.testing.assert_allclose(x, [[0, 1, 2, 3, 3], [0, 0, 0, 0, 0]])


def test_flat_span_found_with_sample_accurate_edges():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, int(30 * SF)))
    a, b = int(10.3 * SF), int(14.9 * SF)
    x[0, a:b] = x[0, a]  # 4.6 s flat, not aligned to the 0.5 s windows
    x[1, a:a + int(1.0 * SF)] = 0.0  # 1 s flat: shorter than flat_min_s
    m = flat_mask(x, SF, window_s=0.5, rel_threshold=1e-3, min_s=2.0)
    assert runs(m[0]).tolist() == [[a, b]]
    assert not m[1].any()


def test_flat_ignores_windows_with_nan_and_flags_dead_channel():
    x = np.zeros((1, int(10 * SF)))
    nan = np.zeros_like(x, dtype=bool)
    nan[0, : int(5 * SF)] = True
    m = flat_mask(x, SF, window_s=0.5, rel_threshold=1e-3, min_s=2.0, nan_mask=nan)
    assert not m[0, : int(5 * SF) - 1].any() and m[0, int(5 * SF):].all()


def _gsr(rng, n):
    t = np.arange(n) / SF
    # tonic drift + two skin-conductance responses (rise ~1 s) + sensor noise, uS
    scr = sum(1.5 * (1 - np.exp(-np.clip(t - on, 0, None) / 0.7)) * np.exp(-np.clip(t - on, 0, None) / 6)
              for on in (15.0, 40.0))
    return 5 + 0.01 * t + scr + 0.003 * rng.standard_normal(n)


def test_jump_flags_step_but_not_skin_conductance_responses():
    rng = np.random.default_rng(1)
    n = int(60 * SF)
    x = _gsr(rng, n)[None, :]
    clean = jump_mask(x, SF, lag_s=0.05, threshold=10, min_fraction=0.25, pad_s=0.5)
    assert not clean.any()
    x[0, int(30 * SF):] += 3.0  # electrode movement: +3 uS step
    m = jump_mask(x, SF, lag_s=0.05, threshold=10, min_fraction=0.25, pad_s=0.5)
    (start, stop), = runs(m[0])
    assert abs(start / SF - 29.5) < 0.1 and abs(stop / SF - 30.5) < 0.1


@pytest.mark.parametrize("line", [50.0, 60.0])
def test_line_frequency_detected(line):
    rng = np.random.default_rng(2)
    sf = 256.0
    t = np.arange(int(20 * sf)) / sf
    x = rng.standard_normal((4, t.size)) + 0.5 * np.sin(2 * np.pi * line * t)
    found, ratios = detect_line_freq(x, sf, ratio=5.0)
    assert found == line
    assert ratios[line] > 5 and ratios[110.0 - line] < 2


def test_no_line_frequency_in_clean_or_too_slow_data():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 256 * 20))
    assert detect_line_freq(x, 256.0, ratio=5.0)[0] is None
    found, ratios = detect_line_freq(rng.standard_normal((2, 100 * 20)), 100.0, ratio=5.0)
    assert found is None and ratios == {}  # 50 Hz is the Nyquist frequency: nothing to test


def test_line_noise_on_few_channels_for_a_short_time_is_found():
    rng = np.random.default_rng(4)
    sf = 256.0
    x = rng.standard_normal((8, int(120 * sf)))
    t = np.arange(int(12 * sf)) / sf
    x[3, int(50 * sf):int(62 * sf)] += 2.0 * np.sin(2 * np.pi * 50.0 * t)  # one electrode, 10 % of the time
    found, ratios = detect_line_freq(x, sf, ratio=5.0)
    assert found == 50.0 and ratios[60.0] < 2


def test_jump_spares_pulse_upstrokes_but_flags_a_step_on_a_pulse_wave():
    # a PPG-like wave: fast 60-ms upstroke and slow decay every 0.8 s; every upstroke is a 10-robust-SD change
    t = np.arange(int(60 * SF)) / SF
    phase = (t % 0.8)
    x = np.where(phase < 0.06, phase / 0.06, np.exp(-(phase - 0.06) / 0.3))[None, :]
    kw = dict(lag_s=0.05, threshold=10, min_fraction=0.25, pad_s=0.5)
    assert jump_mask(x, SF, rhythm_factor=0, **kw).mean() > 0.5  # the rule before issue 9: the whole row
    assert not jump_mask(x, SF, **kw).any()
    y = x.copy()
    y[0, int(30.1 * SF):] += 4.0  # sensor moved: the level steps by 4 pulse heights
    (start, stop), = runs(jump_mask(y, SF, **kw)[0])
    assert start / SF < 30.1 < stop / SF and stop - start < 1.2 * SF


def test_local_scale_ignores_one_large_artefact():
    from mmqnet_core.preprocessing.detect import local_scale

    t = np.arange(int(120 * SF)) / SF
    y = np.sin(2 * np.pi * 0.25 * t)  # range 2
    y[int(60 * SF):int(63 * SF)] += 50.0
    s = local_scale(y, SF, block_s=10.0, context_blocks=5)
    assert s.shape == y.shape and np.allclose(s, 2.0, atol=0.05)
    assert np.allclose(local_scale(y[:50], SF, block_s=10.0), np.ptp(y[:50]))  # shorter than one block
