"""Detectors on real recordings shipped inside PyPI packages (issue 9), against independent references.

Heart rate: our beats vs heartpy's own detector (a different algorithm), on clean signals and with a large
movement artefact spliced in (windows within 5 s of the artefact have no visible rhythm and are left out).
Breathing: vs breaths hand-annotated on the only regular stretch of the short belt (``MEDICAL_HAND_BREATHS_S``),
and on biopeaks' 85-min belt (real movement artefacts, plus spliced ones) vs the breaths of two published methods
of neurokit2 (stored in ``breaths_neurokit2.json``).
Jumps: no clean PPG/EDA row is flagged; a spliced electrode step is. Flat: the real 7-s sensor dropout in
heartpy's data2.csv is found, nothing on the clean channels. Blinks are checked on spkit's real frontal
EEG (stored in tests/data/real) in test_real_blinks.py; SCRs on pyphysio's real EDA in test_real_scr.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.features.config import FeatureConfig
from mmqnet_core.features.peripheral import (
    BREATH_RANGE_S, IBI_RANGE_S, Events, heart_features, interval_rate, resp_features,
)
from mmqnet_core.features.spectral import WindowGrid
from mmqnet_core.preprocessing.config import PreprocessConfig
from mmqnet_core.preprocessing.detect import jump_mask, runs

from .realdata import (
    MEDICAL_HAND_BREATHS_S, MEDICAL_SFREQ, RealRecording, agreement, biopeaks_belt, breath_rate_reference,
    heartpy_beats, heartpy_ppg, medical, package_file, reference_breaths, splice_movement,
)

pytestmark = pytest.mark.skipif(package_file("pyphysio", "test_data", "medical.txt.bz2") is None
                                or package_file("heartpy", "data", "data.csv") is None,
                                reason="the real recordings come with the dev extra (pyphysio, heartpy)")
ANALYSIS_SFREQ = 128.0
CFG = FeatureConfig()


def hr_agreement(x, sfreq, *, ecg=False, artefact=None):
    """Share of windows with a reference rhythm where our heart rate is within 3 bpm of heartpy's."""
    beats = heartpy_beats(x if artefact is None else artefact[0], sfreq)  # reference on the clean signal
    y = x if artefact is None else artefact[1]
    rec = RealRecording("x", sfreq, {"x": y})
    if sfreq > ANALYSIS_SFREQ:
        rec = rec.resampled(ANALYSIS_SFREQ)
    z = rec.channels["x"]
    grid = WindowGrid.make(rec.sfreq, z.size, 1.0, None)
    ref = interval_rate(Events(beats, np.ones(beats.size)), grid, IBI_RANGE_S, max_gap_s=4.0, max_rel_deviation=0.3)
    got = heart_features(z[None], grid, CFG, ecg=ecg, orig_sfreq=np.array([sfreq]))[0, :, 0]
    rhythm = np.isfinite(ref)
    if artefact is not None:
        a0, a1 = artefact[2]
        rhythm &= (grid.centres_s < a0 - 5) | (grid.centres_s > a1 + 5)
    return float(np.mean(np.abs(got[rhythm] - ref[rhythm]) <= 3.0)), int(rhythm.sum())


@pytest.mark.parametrize("channel", ["ECG", "BVP"])
def test_heart_rate_of_the_medical_recording_matches_heartpy(channel):
    m = medical()
    x = m.channels[channel]
    share, n = hr_agreement(x, m.sfreq, ecg=channel == "ECG")
    assert n >= 100 and share >= 0.9, (share, n)
    # a movement 8x the signal's range with a level step that stays: the rest still agrees
    amp = np.percentile(x, 99) - np.percentile(x, 1)
    y = splice_movement(x, m.sfreq, 60.0, size=8 * amp, step=3 * amp)
    share, n = hr_agreement(x, m.sfreq, ecg=channel == "ECG", artefact=(x, y, (60.0, 63.0)))
    assert n >= 90 and share >= 0.9, (share, n)


@pytest.mark.parametrize("which", ["data.csv", "data2.csv"])
def test_heart_rate_of_heartpy_ppg_matches_heartpy(which):
    r = heartpy_ppg(which)
    share, n = hr_agreement(r.channels["PPG"], r.sfreq)
    assert n >= 20 and share >= 0.9, (share, n)


def _breath_rate(y, sfreq):
    grid = WindowGrid.make(sfreq, y.size, 1.0, None)
    return grid, resp_features(y[None], grid, CFG, orig_sfreq=np.array([MEDICAL_SFREQ]))[0]


def test_real_belt_keeps_a_breathing_rate_and_one_movement_does_not_blind_it():
    m = medical().resampled(ANALYSIS_SFREQ)
    belt = m.channels["RESP"]
    grid, f = _breath_rate(belt, m.sfreq)
    rate, depth = f[:, 0], f[:, 1]
    # the bug of issue 9: one movement (40-42 s) set a global threshold and the rate was NaN everywhere
    assert np.isfinite(rate).mean() >= 0.8 and np.isfinite(depth).mean() >= 0.8
    hand = MEDICAL_HAND_BREATHS_S
    ref = interval_rate(Events(hand, np.ones(hand.size)), grid, BREATH_RANGE_S, max_gap_s=20.0)
    stretch = (grid.centres_s >= hand[0]) & (grid.centres_s <= hand[-1])
    err = np.abs(rate[stretch] - ref[stretch])
    assert np.median(err) <= 2.0, np.round(err, 1)
    # a spliced movement 10x the belt's range at 100 s (farther than the 75-s context of the threshold) leaves
    # the hand-annotated stretch as it was (the old global threshold let it blind the whole recording)
    amp = np.percentile(belt, 99) - np.percentile(belt, 1)
    _, f2 = _breath_rate(splice_movement(belt, m.sfreq, 100.0, size=10 * amp, step=2 * amp), m.sfreq)
    np.testing.assert_allclose(f2[stretch, 0], rate[stretch], atol=0.5)


def test_breathing_rate_of_the_short_real_belt_agrees_where_two_reference_methods_see_a_rhythm():
    # the 120-s belt is shallow and irregular: breaths 1/10 to 5x their neighbours' depth, ripples in the troughs
    m = medical().resampled(ANALYSIS_SFREQ)
    grid, f = _breath_rate(m.channels["RESP"], m.sfreq)
    share, n = agreement(f[:, 0], breath_rate_reference(m.name, grid)["consensus"], 2.0)
    assert n >= 70 and share >= 0.9, (share, n)


def _long_belt_rate(y, sfreq):
    z = RealRecording("x", sfreq, {"x": y}).resampled(ANALYSIS_SFREQ).channels["x"]
    grid = WindowGrid.make(ANALYSIS_SFREQ, z.size, 1.0, None)
    return grid, resp_features(z[None], grid, CFG, orig_sfreq=np.array([sfreq]))[0, :, 0]


@pytest.mark.skipif(package_file("biopeaks", "tests", "testdata", "OSmontage0J.txt") is None,
                    reason="biopeaks' 85-min belt comes with the dev extra")
def test_breathing_rate_of_a_long_real_belt_agrees_where_two_reference_methods_see_a_rhythm():
    b = biopeaks_belt()
    x = b.channels["RESP"]
    grid, rate = _long_belt_rate(x, b.sfreq)
    ref = breath_rate_reference(b.name, grid)
    share, n = agreement(rate, ref["consensus"], 2.0)
    assert n >= 3000 and share >= 0.9, (share, n)
    assert np.isfinite(rate).mean() >= 0.95  # the belt is worn throughout: the rate is nearly never "not found"
    # three movements 10x the belt's range with a lasting level step: outside +-20 s of them nothing changes
    amp = np.percentile(x, 99) - np.percentile(x, 1)
    y, starts = x, (1200.0, 2600.0, 4000.0)
    for s in starts:
        y = splice_movement(y, b.sfreq, s, size=10 * amp, step=2 * amp)
    _, rate2 = _long_belt_rate(y, b.sfreq)
    far = np.ones(grid.n_windows, bool)
    for s in starts:
        far &= (grid.centres_s < s - 20) | (grid.centres_s > s + 23)
    share2, n2 = agreement(rate2, ref["consensus"], 2.0, far)
    assert n2 >= 2900 and share2 >= 0.9, (share2, n2)


def test_breath_references_are_the_stored_neurokit2_breaths():
    # the stored references are plausible breaths of these belts: 6-30/min on average, increasing, and the two
    # methods are not copies of each other (they disagree on a third of the windows of the long belt)
    for name, dur in (("pyphysio medical", 120.0), ("biopeaks OSmontage0J", 5100.0)):
        for method in ("khodadad2018", "biosppy"):
            t = reference_breaths(name, method)
            assert np.all(np.diff(t) > 0) and 0 <= t[0] and t[-1] <= dur
            assert 6 <= 60 * (t.size - 1) / (t[-1] - t[0]) <= 30, (name, method)
    b = biopeaks_belt()
    if b is not None:
        grid = WindowGrid.make(ANALYSIS_SFREQ, int(b.duration_s * ANALYSIS_SFREQ), 1.0, None)
        ref = breath_rate_reference(b.name, grid)
        share, n = agreement(ref["khodadad2018"], ref["biosppy"], 2.0)
        assert n >= 5000 and 0.4 <= share <= 0.8, share  # related but different methods
        assert 0.5 <= np.isfinite(ref["consensus"]).mean() <= 0.75


def _jump_defaults(x, sfreq):
    c = PreprocessConfig()
    return jump_mask(np.asarray(x, float)[None], sfreq, lag_s=c.jump_lag_s, threshold=c.jump_threshold,
                     min_fraction=c.jump_min_fraction, pad_s=c.jump_pad_s)[0]


@pytest.mark.parametrize("source,channel", [("medical", "BVP"), ("medical", "EDA"), ("data.csv", "PPG"),
                                            ("data2.csv", "PPG")])
def test_clean_real_ppg_and_eda_have_no_jump_but_a_spliced_step_is_found(source, channel):
    r = medical() if source == "medical" else heartpy_ppg(source)
    x = r.channels[channel]
    assert not _jump_defaults(x, r.sfreq).any()  # issue 9: the whole medical BVP row was BAD_jump
    amp = np.percentile(x, 99) - np.percentile(x, 1)
    y = np.array(x, float)
    k = int(0.5 * y.size)
    y[k:] += 2.0 * amp  # electrode moved: the level steps by twice the signal's range
    (start, stop), = runs(_jump_defaults(y, r.sfreq))
    assert start / r.sfreq <= k / r.sfreq <= stop / r.sfreq and (stop - start) / r.sfreq < 2.0


def test_flat_finds_the_real_sensor_dropout_and_nothing_on_clean_channels():
    from mmqnet_core.preprocessing.detect import flat_mask

    c = PreprocessConfig()

    def flat(x, sfreq):
        return runs(flat_mask(np.asarray(x, float)[None], sfreq, window_s=c.flat_window_s,
                              rel_threshold=c.flat_rel_threshold, min_s=c.flat_min_s)[0])

    m = medical()
    for key in ("ECG", "EDA", "BVP", "RESP"):
        assert len(flat(m.channels[key], m.sfreq)) == 0, key
    assert len(flat(heartpy_ppg("data.csv").channels["PPG"], 100.0)) == 0
    r = heartpy_ppg("data2.csv")  # the PPG reads 0 for ~7 s after 18 s: the sensor lost contact
    (start, stop), = flat(r.channels["PPG"], r.sfreq)
    assert abs(start / r.sfreq - 18.0) < 0.2 and abs(stop / r.sfreq - 25.2) < 0.2
    assert np.all(r.channels["PPG"][start:stop] == 0)
