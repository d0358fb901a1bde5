"""The synthetic corpus: determinism, layout and units, label-to-physiology links, artifacts, calibration."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mmqnet_core.datasets import synthetic as syn
from mmqnet_core.datasets.synthetic import (
    ARTIFACT_KINDS,
    DEAP_CHANNELS,
    SynthConfig,
    generate_corpus,
    generate_trial,
)
from mmqnet_core.errors import Cancelled, ConfigError
from mmqnet_core.recording import Modality, Recording

from .calibration import MARKERS, leave_subjects_out_accuracy, subject_zscore, trial_markers

SHORT = SynthConfig(trial_s=20.0, n_subjects=2, n_trials=3)


# --- configuration -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sfreq": 64}, r"'sfreq'.*between 100 and 4096 Hz.*got 64"),
        ({"line_freq": 55}, r"'line_freq': allowed 50 or 60 Hz, got 55"),
        ({"n_subjects": 0}, r"'n_subjects'.*>= 1, got 0"),
        ({"trial_s": -1}, r"'trial_s'.*> 0 s, got -1"),
        ({"seed": -3}, r"'seed'.*>= 0, got -3"),
        ({"artifact_rate": -0.5}, r"'artifact_rate'.*between 0 and 20, got -0.5"),
        ({"channels": ("Fp1", "Cz2")}, r"unknown channel\(s\) \['Cz2'\]"),
        ({"channels": ("Fp1", "Fp1")}, r"duplicated names"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SynthConfig(**kwargs)


def test_default_trial_has_deap_shape_names_and_units():
    tr = generate_trial(SynthConfig(), 0, 0)
    assert SynthConfig().n_times == 8064  # 63 s at 128 Hz, as in DEAP
    assert tr.data.shape == (40, 8064) and tr.data.dtype == np.float32
    assert tr.ch_names == DEAP_CHANNELS
    assert tr.ch_names[32:] == ("hEOG", "vEOG", "zEMG", "tEMG", "GSR", "Resp", "Plet", "Temp")
    assert tr.modalities[:32] == (Modality.EEG,) * 32
    assert tr.modalities[32:] == (Modality.EOG, Modality.EOG, Modality.EMG, Modality.EMG, Modality.GSR,
                                  Modality.RESP, Modality.PPG, Modality.TEMP)
    assert tr.units[:36] == ("V",) * 36 and tr.units[36:] == ("uS", "", "", "degC")
    assert tr.stim_span == (3.0, 63.0)
    rms_uv = tr.data[:32].std(axis=1) * 1e6
    assert np.all((rms_uv > 3) & (rms_uv < 100)), rms_uv  # EEG in volts, tens of µV
    gsr, temp = tr.data[tr.index("GSR")], tr.data[tr.index("Temp")]
    assert 0.3 < np.median(gsr) < 40 and 25 < np.median(temp) < 38
    for score in (tr.valence, tr.arousal, tr.dominance, tr.liking):
        assert 1.0 <= score <= 9.0
    assert any(e.description.startswith("SYNTHETIC stimulus") and e.onset == 3.0 for e in tr.events)


def test_generate_trial_is_deterministic_and_seeded():
    a, b = generate_trial(SHORT, 1, 2), generate_trial(SHORT, 1, 2)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.artifacts == b.artifacts and a.labels == b.labels
    other_trial = generate_trial(SHORT, 1, 3)
    other_seed = generate_trial(SynthConfig(trial_s=20.0, seed=7), 1, 2)
    assert not np.allclose(a.data, other_trial.data)
    assert not np.allclose(a.data, other_seed.data)
    assert a.labels != other_seed.labels


def test_artifact_rate_leaves_clean_signals_and_labels_unchanged():
    clean = generate_trial(SynthConfig(trial_s=20.0, artifact_rate=0.0), 0, 1)
    dirty = generate_trial(SynthConfig(trial_s=20.0, artifact_rate=3.0), 0, 1)
    assert clean.artifacts == () and dirty.artifacts
    assert clean.labels == dirty.labels
    touched = {c for a in dirty.artifacts for c in a.ch_names}
    untouched = [c for c in ("Temp", "O2", "Pz", "Cz", "P4") if c not in touched]
    assert untouched, "pick another trial: every candidate channel has an artifact"
    for c in untouched:
        np.testing.assert_array_equal(clean.data[clean.index(c)], dirty.data[dirty.index(c)])


def test_channel_subset_selects_rows_of_the_full_trial():
    full = generate_trial(SynthConfig(trial_s=20.0, artifact_rate=3.0), 0, 0)
    cfg = SynthConfig(trial_s=20.0, artifact_rate=3.0, channels=("O2", "Fp1", "GSR"))
    sub = generate_trial(cfg, 0, 0)
    assert sub.ch_names == ("O2", "Fp1", "GSR") and sub.units == ("V", "V", "uS")
    np.testing.assert_array_equal(sub.data, full.data[[full.index(c) for c in sub.ch_names]])
    assert all(set(a.ch_names) <= set(sub.ch_names) and a.ch_names for a in sub.artifacts)


def test_eeg_has_spatial_structure_and_an_alpha_peak():
    tr = generate_trial(SynthConfig(artifact_rate=0.0), 3, 0)
    x = tr.data[:32].astype(np.float64)
    corr = np.corrcoef(x)
    i = {c: k for k, c in enumerate(tr.ch_names)}
    assert corr[i["O1"], i["Oz"]] > corr[i["O1"], i["Fp2"]] + 0.2  # neighbours share sources
    assert corr[i["C3"], i["CP1"]] > corr[i["C3"], i["P8"]] + 0.2
    freqs = np.fft.rfftfreq(x.shape[1], 1 / tr.sfreq)
    psd = np.abs(np.fft.rfft(x[i["O1"]])) ** 2
    alpha = psd[(freqs >= 8) & (freqs < 13)].mean()
    assert alpha > 2 * psd[(freqs >= 14) & (freqs < 19)].mean()
    assert alpha > 1.2 * psd[(freqs >= 4) & (freqs < 7)].mean()


def test_contract_positions_match_mne_montage():
    mne = pytest.importorskip("mne")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            montage = mne.channels.make_standard_montage("colin27_1020")
        except ValueError:
            montage = mne.channels.make_standard_montage("standard_1020")
    pos = montage.get_positions()["ch_pos"]
    for name, xyz in syn._EEG_POS.items():
        ref = np.asarray(pos[name]) / np.linalg.norm(pos[name])
        assert np.linalg.norm(ref - np.asarray(xyz)) < 0.01, name


# --- labels drive physiology ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_corpus():
    cfg = SynthConfig(n_subjects=6, n_trials=10, seed=11)
    rows, subjects, val, aro = [], [], [], []
    for tr in generate_corpus(cfg):
        m = trial_markers(tr)
        rows.append([m[k] for k in MARKERS])
        subjects.append(tr.subject)
        val.append(tr.valence)
        aro.append(tr.arousal)
    z = subject_zscore(np.array(rows), np.array(subjects))
    return {k: z[:, j] for j, k in enumerate(MARKERS)}, np.array(val), np.array(aro)


@pytest.mark.parametrize(
    ("marker", "label", "sign"),
    [("beta", "arousal", 1), ("hr", "arousal", 1), ("gsr_rise", "arousal", 1), ("alpha_post", "arousal", -1),
     ("faa", "valence", 1)],
)
def test_markers_follow_labels(small_corpus, marker, label, sign):
    markers, val, aro = small_corpus
    y = aro if label == "arousal" else val
    r = np.corrcoef(markers[marker], y)[0, 1]
    assert sign * r > 0.15, f"corr({marker}, {label}) = {r:.2f}"


@pytest.mark.slow
def test_calibration_leave_subjects_out_accuracy_is_informative_but_not_saturated():
    """Logistic regression on textbook markers, whole subjects held out: well above chance, below ceiling."""

    def accuracies(cfg: SynthConfig) -> dict[str, float]:
        rows, subjects, val, aro = [], [], [], []
        for tr in generate_corpus(cfg):
            m = trial_markers(tr)
            rows.append([m[k] for k in MARKERS])
            subjects.append(tr.subject)
            val.append(tr.valence)
            aro.append(tr.arousal)
        s = np.array(subjects)
        z = subject_zscore(np.array(rows), s)
        return {name: leave_subjects_out_accuracy(z, (np.array(lab) >= 5).astype(float), s, n_folds=5)
                for name, lab in (("valence", val), ("arousal", aro))}

    acc = accuracies(SynthConfig(n_subjects=10, n_trials=12, seed=2))
    for name, a in acc.items():
        assert 0.6 < a < 0.97, f"{name} accuracy {a:.3f} outside (0.6, 0.97): recalibrate the corpus"
    # the same pipeline on data whose labels drive nothing is near chance: the accuracy above is physiology
    null = accuracies(SynthConfig(n_subjects=10, n_trials=12, seed=2, effect_scale=0.0))
    assert max(null.values()) < 0.66, null


# --- artifacts -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def artifact_trials():
    """Trials with many artifacts (enough to hold every kind), each with the artifact part alone.

    Artifacts come from their own random stream, so the same trial at artifact_rate=0 is the clean signal and
    the difference is exactly what was injected (flat spans aside).
    """
    dirty_cfg = SynthConfig(trial_s=30.0, artifact_rate=6.0, seed=5)
    clean_cfg = SynthConfig(trial_s=30.0, artifact_rate=0.0, seed=5)
    trials, kinds = [], set()
    for t in range(12):
        tr = generate_trial(dirty_cfg, 0, t)
        added = (tr.data.astype(np.float64) - generate_trial(clean_cfg, 0, t).data) * 1e6  # µV (V channels)
        trials.append((tr, added))
        kinds |= {a.description for a in tr.artifacts}
        if kinds >= set(ARTIFACT_KINDS):
            break
    assert kinds >= set(ARTIFACT_KINDS), kinds
    return trials


def _spans(trials, kind):
    for tr, added in trials:
        for a in tr.artifacts:
            if a.description == kind:
                yield tr, added, a, int(round(a.onset * tr.sfreq)), int(round(a.end * tr.sfreq))


def _free(tr, ch):
    """Samples of ``ch`` outside every artifact span that names it."""
    mask = np.ones(tr.n_times, bool)
    for b in tr.artifacts:
        if ch in b.ch_names:
            mask[int(b.onset * tr.sfreq):int(np.ceil(b.end * tr.sfreq)) + 1] = False
    return mask


def test_flat_spans_are_flat(artifact_trials):
    n = 0
    for tr, _, a, i0, i1 in _spans(artifact_trials, "ART_flat"):
        (ch,) = a.ch_names
        assert np.ptp(tr.data[tr.index(ch), i0:i1]) == 0.0
        n += 1
    assert n


def test_blinks_are_large_on_veog_and_leak_into_fp1(artifact_trials):
    n = 0
    for tr, added, a, i0, i1 in _spans(artifact_trials, "ART_blink"):
        assert {"vEOG", "Fp1", "Fp2"} <= set(a.ch_names)
        if any(b is not a and "vEOG" in b.ch_names and b.onset < a.end + 0.1 and a.onset < b.end
               for b in tr.artifacts):
            continue  # overlapping eye movements
        v, fp1 = added[tr.index("vEOG"), i0:i1], added[tr.index("Fp1"), i0:i1]
        assert v.max() - v[0] > 80  # blinks are 100-300 µV (on top of any gaze offset)
        assert fp1.max() - fp1[0] > 10  # and leak into the frontal pole
        n += 1
    assert n > 3
    # EEG far from the eyes gets no EOG at all
    tr, added = artifact_trials[0]
    assert np.all(added[tr.index("O2"), _free(tr, "O2")] == 0)


def test_saccades_step_heog(artifact_trials):
    steps = []
    for tr, added, a, i0, i1 in _spans(artifact_trials, "ART_saccade"):
        k = int(0.1 * tr.sfreq)
        if i0 - k >= 0 and i1 + k <= tr.n_times:
            h = added[tr.index("hEOG")]
            steps.append(abs(h[i1:i1 + k].mean() - h[i0 - k:i0].mean()))
    assert len(steps) > 5 and np.median(steps) > 40


def test_emg_bursts_are_high_frequency_on_temporal_eeg(artifact_trials):
    n = 0
    for tr, added, a, i0, i1 in _spans(artifact_trials, "ART_emg"):
        ch = "T7" if "T7" in a.ch_names else "T8"
        others = [b for b in tr.artifacts if b is not a and ch in b.ch_names and b.onset < a.end and a.onset < b.end]
        x = added[tr.index(ch), i0:i1]
        if x.size < tr.sfreq or others:
            continue
        x = x - x.mean()
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.size, 1 / tr.sfreq)
        assert spec[f > 20].sum() > 0.9 * spec.sum()  # muscle activity lives above 20 Hz
        assert x.std() > 3
        n += 1
    assert n


def test_line_noise_shows_at_line_frequency(artifact_trials):
    n = 0
    for tr, _, a, i0, i1 in _spans(artifact_trials, "ART_line"):
        if i1 - i0 < 2 * tr.sfreq:
            continue
        x = tr.data[tr.index(a.ch_names[0]), i0:i1].astype(np.float64)
        x = x - x.mean()
        t = np.arange(x.size) / tr.sfreq
        at_line = abs(np.exp(-2j * np.pi * 50.0 * t) @ x)
        near = np.mean([abs(np.exp(-2j * np.pi * f * t) @ x) for f in (41.0, 43.0, 47.0)])
        assert at_line > 5 * near
        n += 1
    assert n


def test_pops_and_motion_jump(artifact_trials):
    for tr, added, a, i0, i1 in _spans(artifact_trials, "ART_pop"):
        x = added[tr.index(a.ch_names[0])]
        assert abs(x[i0 + 1] - x[max(0, i0 - 1)]) > 60
    for tr, _, a, i0, i1 in _spans(artifact_trials, "ART_motion"):
        d = np.abs(np.diff(tr.data[tr.index("GSR")].astype(np.float64)))
        assert d[i0:i0 + int(0.5 * tr.sfreq)].max() > 10 * np.median(d)


def test_no_artifacts_at_rate_zero():
    tr = generate_trial(SynthConfig(trial_s=30.0, artifact_rate=0.0), 0, 0)
    assert tr.artifacts == ()
    assert np.abs(tr.data[tr.index("vEOG")]).max() * 1e6 < 60  # no blinks


# --- recording, corpus, speed ------------------------------------------------------------------------------------
def test_to_recording_is_marked_synthetic_with_labels_and_artifacts():
    tr = generate_trial(SynthConfig(trial_s=20.0, artifact_rate=3.0), 0, 0)
    rec = tr.to_recording()
    assert isinstance(rec, Recording) and rec.is_synthetic and "SYNTHETIC" in rec.title
    assert rec.ch_names == list(DEAP_CHANNELS) and rec.sfreq == tr.sfreq
    assert [c.unit for c in rec.channels] == list(tr.units)
    assert rec.labels["valence"] == tr.valence and rec.labels["arousal"] == tr.arousal
    assert rec.stim_span == tr.stim_span
    np.testing.assert_allclose(rec.get_data(), tr.data, rtol=1e-6)
    arts = [a for a in rec.annotations if a.description.startswith("ART_")]
    assert len(arts) == len(tr.artifacts)
    assert {(a.description, frozenset(a.ch_names)) for a in arts} == {
        (a.description, frozenset(a.ch_names)) for a in tr.artifacts}
    assert any(a.description.startswith("SYNTHETIC") for a in rec.annotations)


def test_generate_corpus_reports_progress_and_honours_cancel():
    calls = []
    trials = list(generate_corpus(SHORT, progress=lambda f, m: calls.append(f)))
    assert [(t.subject, t.trial) for t in trials] == [(s, t) for s in range(2) for t in range(3)]
    assert calls == sorted(calls) and calls[-1] == 1.0
    cancel = threading.Event()
    it = generate_corpus(SHORT, cancel=cancel)
    next(it)
    cancel.set()
    with pytest.raises(Cancelled):
        next(it)

