"""Writers of the synthetic corpus: BDF/EDF round trip through mne, DEAP pickles, the sample session."""

from __future__ import annotations

import pickle
from pathlib import Path

import edfio
import mne
import numpy as np
import pytest

from mmqnet_core.datasets.synthetic import (
    DEAP_CHANNELS,
    SynthConfig,
    generate_trial,
    make_sample_recording,
    make_sample_session,
    write_bdf,
    write_deap_subject,
)
from mmqnet_core.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def trial():
    return generate_trial(SynthConfig(trial_s=12.0, artifact_rate=4.0, seed=3), 1, 4)


def _step(x: np.ndarray, bits: int) -> float:
    """Quantisation step of a channel written with a 5 % margin on its range."""
    return 1.1 * float(np.ptp(x)) / (2**bits - 1) + 1e-12


@pytest.mark.parametrize(("fmt", "bits", "reader"), [("bdf", 24, mne.io.read_raw_bdf),
                                                     ("edf", 16, mne.io.read_raw_edf)])
def test_round_trip_through_mne(tmp_path, trial, fmt, bits, reader):
    path = write_bdf(trial, tmp_path / f"synthetic_trial.{fmt}", fmt=fmt)
    raw = reader(path, preload=True, verbose="error")
    assert raw.ch_names == list(DEAP_CHANNELS) and raw.info["sfreq"] == trial.sfreq
    got = raw.get_data()  # volts for µV channels, file units otherwise
    assert got.shape == trial.data.shape
    for i, name in enumerate(DEAP_CHANNELS):
        x = trial.data[i].astype(np.float64)
        assert np.abs(got[i] - x).max() <= _step(x, bits), name
    desc = [(a["description"], tuple(sorted(a["ch_names"]))) for a in raw.annotations]
    want = [(a.description, tuple(sorted(a.ch_names))) for a in trial.annotations()]
    assert sorted(desc) == sorted(want)
    onsets = sorted(float(a["onset"]) for a in raw.annotations)
    np.testing.assert_allclose(onsets, sorted(a.onset for a in trial.annotations()), atol=1e-3)


def test_header_says_synthetic_and_bytes_are_reproducible(tmp_path, trial):
    a = write_bdf(trial, tmp_path / "synthetic_a.bdf")
    b = write_bdf(trial, tmp_path / "synthetic_b.bdf")
    assert a.read_bytes() == b.read_bytes()
    bdf = edfio.read_bdf(a)
    assert "SYNTHETIC" in str(bdf.patient.code) and bdf.recording.hospital_administration_code == "SYNTHETIC"
    assert bdf.startdate.isoformat() == "2000-01-01"
    units = {s.label: s.physical_dimension for s in bdf.signals}
    assert units["Fp1"] == "uV" and units["GSR"] == "uS" and units["Temp"] == "degC"


def test_recording_round_trip_and_padding(tmp_path):
    tr = generate_trial(SynthConfig(trial_s=7.5, baseline_s=0.0, seed=1), 0, 0)  # 7.5 s: padded to 8 s
    path = write_bdf(tr.to_recording(), tmp_path / "synthetic_rec.bdf")
    raw = mne.io.read_raw_bdf(path, preload=True, verbose="error")
    assert raw.n_times == 8 * 128
    x = tr.data[0].astype(np.float64)
    assert np.abs(raw.get_data(picks=[0])[0, : tr.n_times] - x).max() <= _step(x, 24)
    assert "BAD_ACQ_SKIP" in raw.annotations.description


def test_write_bdf_rejects_bad_format_and_rate(tmp_path, trial):
    with pytest.raises(ConfigError, match=r"'fmt': allowed 'bdf' or 'edf', got 'gdf'"):
        write_bdf(trial, tmp_path / "synthetic.gdf", fmt="gdf")
    odd = generate_trial(SynthConfig(trial_s=5.0, sfreq=100.5), 0, 0)
    with pytest.raises(ConfigError, match=r"whole number of samples per second, got sfreq=100.5"):
        write_bdf(odd, tmp_path / "synthetic.bdf")


def test_deap_pickle_round_trip(tmp_path):
    cfg = SynthConfig(trial_s=5.0, baseline_s=3.0)
    trials = [generate_trial(cfg, 2, t) for t in range(3)]
    path = write_deap_subject(trials, tmp_path / "synthetic_s02.dat")
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="latin1")  # the way DEAP's own files are read
    # DEAP's two keys, and the mark that keeps the file labelled synthetic whatever its name (session 14); DEAP
    # readers take "data" and "labels" only
    assert set(d) == {"data", "labels", "synthetic"} and d["synthetic"] is True
    assert d["data"].shape == (3, 40, 8 * 128) and d["data"].dtype == np.float64
    assert d["labels"].shape == (3, 4)
    np.testing.assert_allclose(d["data"][1, :36], trials[1].data[:36] * 1e6, rtol=1e-6)  # µV
    np.testing.assert_allclose(d["data"][1, 36:], trials[1].data[36:], rtol=1e-6)
    np.testing.assert_allclose(d["labels"][2], [trials[2].valence, trials[2].arousal, trials[2].dominance,
                                                trials[2].liking])


def test_deap_writer_rejects_foreign_layouts(tmp_path):
    sub = generate_trial(SynthConfig(trial_s=5.0, channels=("Fp1", "GSR")), 0, 0)
    with pytest.raises(ConfigError, match="40 DEAP channels in DEAP order"):
        write_deap_subject([sub], tmp_path / "synthetic_s00.dat")
    fast = generate_trial(SynthConfig(trial_s=5.0, sfreq=256), 0, 0)
    with pytest.raises(ConfigError, match=r"'sfreq': DEAP's preprocessed format is 128 Hz, got 256"):
        write_deap_subject([fast], tmp_path / "synthetic_s00.dat")


def test_sample_recording_is_a_labelled_session(tmp_path):
    path = make_sample_recording(tmp_path, duration_s=60.0, sfreq=128.0, seed=4)
    assert path.name == "synthetic_sample.bdf"
    raw = mne.io.read_raw_bdf(path, verbose="error")
    assert raw.times[-1] == pytest.approx(60.0 - 1 / 128)
    desc = list(raw.annotations.description)
    stimuli = [d for d in desc if d.startswith("SYNTHETIC stimulus v=")]
    assert stimuli and any(d.startswith("ART_") for d in desc)
    again = make_sample_recording(tmp_path / "synthetic_again.bdf", duration_s=60.0, sfreq=128.0, seed=4)
    assert again.read_bytes() == path.read_bytes()
    with pytest.raises(ConfigError, match=r"name must contain 'synthetic'"):
        make_sample_recording(tmp_path / "session.bdf", duration_s=60.0, sfreq=128.0)


def test_sample_session_of_a_chosen_subject_is_that_corpus_subject():
    """The sample can be made of a subject held out of a model's training fold: the same simulated person
    (effect sizes and signs) as subject K of a corpus with the same seed, with a different signal."""
    from mmqnet_core.datasets.synthetic import SynthConfig, _subject

    s2 = make_sample_session(duration_s=60.0, sfreq=128.0, seed=0, subject=2)
    s0 = make_sample_session(duration_s=60.0, sfreq=128.0, seed=0)
    assert s2.subject == 2 and not np.array_equal(s2.data, s0.data)
    assert "subject=2" in s2.events[0].description and "subject" not in s0.events[0].description
    assert _subject(SynthConfig(seed=0, sfreq=128.0, trial_s=60.0, baseline_s=0.0), 2).effects == \
        _subject(SynthConfig(seed=0), 2).effects


def test_sample_session_epochs_differ_in_arousal():
    s = make_sample_session(duration_s=240.0, sfreq=128.0, seed=0)
    stims = [e for e in s.events if e.description.startswith("SYNTHETIC stimulus")]
    assert len(stims) == 4
    gsr = s.data[s.index("GSR")].astype(np.float64)
    level = []
    for e in stims:
        a = float(e.description.split("a=")[1])
        i0, i1 = int((e.onset + 20) * s.sfreq), int(e.end * s.sfreq)  # after the tonic level settles
        level.append((a, np.median(gsr[i0:i1])))
    level.sort()
    assert np.mean([g for a, g in level[2:]]) > np.mean([g for a, g in level[:2]])  # high arousal, more GSR


def test_shipped_sample_is_synthetic_and_readable():
    path = REPO / "resources" / "sample" / "synthetic_sample.bdf"
    if not path.exists():
        pytest.skip("resources/sample/synthetic_sample.bdf not generated yet")
    assert path.stat().st_size < 10e6
    raw = mne.io.read_raw_bdf(path, verbose="error")
    assert raw.ch_names == list(DEAP_CHANNELS) and raw.info["sfreq"] == 256
    assert any(d.startswith("SYNTHETIC stimulus") for d in raw.annotations.description)
