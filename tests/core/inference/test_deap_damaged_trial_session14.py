"""A DEAP file with one damaged trial (session 14): the trial is named, the others are analysed with the
statistics of the good trials.

Before: values no recorder stores in one trial (1e300) made every trial's analysis fail ("Cannot read the other
trials ... for the subject's statistics"); a trial cut short and padded with zeros went into the statistics
silently and moved the temperature level's mean by 135 of its SDs (every trial of the subject normalised with
it); a trial of NaN counted as one of "3 trials" without a word.
"""

from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest

from mmqnet_core.cli import main
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_deap_subject
from mmqnet_core.inference import subject_recordings_for, subject_statistics
from mmqnet_core.io import load_deap_trials, load_recording

CONFIG = SynthConfig(trial_s=30.0)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return write_deap_subject([generate_trial(CONFIG, 0, t) for t in range(3)],
                              tmp_path_factory.mktemp("deap") / "s01.dat")


def _damaged(good, tmp_path, kind: str, trials=(2,)):
    content = pickle.loads(good.read_bytes(), encoding="latin1")
    x = content["data"]
    for t in trials:
        if kind == "huge":
            x[t, 5] *= 1e299
        elif kind == "volts":  # EEG of ~10 V: no amplifier records that
            x[t, :32] *= 1e5
        elif kind == "gain":  # stored with the wrong gain (x1000): moved the statistics by 17 SDs
            x[t, :32] *= 1e3
        elif kind == "nan":
            x[t] = np.nan
        elif kind == "zeros":  # cut short at a third and padded with zeros
            x[t, :, x.shape[2] // 3:] = 0.0
    path = tmp_path / "s01.dat"
    path.write_bytes(pickle.dumps(content, protocol=4))
    return path


@pytest.fixture
def subject_model(model, monkeypatch):
    subj = dataclasses.replace(model, normalization="subject")
    monkeypatch.setattr("mmqnet_core.inference.load_model", lambda *a, **k: subj)
    return subj


@pytest.mark.parametrize("kind,why", [
    ("huge", r"s01\.dat trial 2 left out: Cannot read s01\.dat: trial 2 holds values up to 4\.\d+e\+300"),
    ("nan", r"s01\.dat trial 2 left out: it holds no finite sample"),
    ("volts", r"s01\.dat trial 2 left out: Cannot read s01\.dat: trial 2 holds values up to 2\.\d+e\+07 µV on EEG "
              r"channel 'O1', beyond the range of any amplifier \(at most 1e\+07 µV = 10 V\)"),
    ("gain", r"s01\.dat trial 2 left out: its EEG is 1\.\d+e\+03 times as large as the file's trials are in the "
             r"median"),
])
def test_a_damaged_trial_is_left_out_of_the_subjects_statistics_and_named(good, tmp_path, kind, why, subject_model,
                                                                           capsys):
    path = _damaged(good, tmp_path, kind)
    usable, lines = load_deap_trials(path)
    assert [r.trial for r in usable] == ["0", "1"]
    assert len(lines) == 1 and lines[0].startswith("s01.dat trial 2 left out: ")
    found = subject_recordings_for(load_recording(path, trial=0))
    assert [r.trial for r in found.recordings] == ["0", "1"]
    assert found.description == "subject statistics from 2 trials of subject 1"
    assert len(found.notes) == 1
    import re

    assert re.match(why, found.notes[0]) and found.notes[0].endswith("The subject's statistics come from the other "
                                                                     "trials.")
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--trial", "1", "--in-process", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "subject statistics from 2 trials of subject 1" in printed
    assert "note: s01.dat trial 2 left out: " in printed
    steps = json.loads((out / "summary.json").read_text())["steps"]
    assert any(s.startswith("s01.dat trial 2 left out: ") for s in steps)


def test_a_trial_cut_short_keeps_its_good_part_and_the_statistics_of_the_good_trials(good, tmp_path, model):
    path = _damaged(good, tmp_path, "zeros")
    rec = load_recording(path, trial=2)
    assert rec.warnings == ("s01.dat trial 2: every channel holds the same value (0) from 11.0 s to the end (33.0 s): "
                            "the trial looks truncated; those 22.0 s are treated as missing.",)
    data = rec.get_data()
    assert np.isnan(data[:, 1408:]).all() and np.isfinite(data[:, :1408]).all()
    found = subject_recordings_for(load_recording(path, trial=0))
    assert len(found.recordings) == 3 and found.notes == rec.warnings
    stats = subject_statistics(found.recordings, model)
    ref = subject_statistics(load_deap_trials(good)[0], model)
    drift = np.abs(stats.mean - ref.mean) / ref.std
    assert np.nanmax(drift) < 2.0, np.nanmax(drift)  # the zeros moved a column's mean by 135 SDs


def test_nothing_usable_is_an_error(good, tmp_path, subject_model, capsys):
    path = _damaged(good, tmp_path, "nan", trials=(0, 1, 2))
    assert load_deap_trials(path)[0] == []
    assert main(["analyze", str(path), "--trial", "0", "--in-process", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err


def test_a_damaged_trial_of_another_file_of_the_subject_is_named_too(good, tmp_path):
    other = _damaged(good, tmp_path, "nan", trials=(1,))
    found = subject_recordings_for(load_recording(good, trial=0), [other], discover=False)
    assert [(r.source.name, r.trial) for r in found.recordings] == [("s01.dat", "0"), ("s01.dat", "0"),
                                                                   ("s01.dat", "2")]
    assert [r.source.parent for r in found.recordings[1:]] == [tmp_path, tmp_path]
    assert found.notes == ("s01.dat trial 1 left out: it holds no finite sample (every value is NaN or infinite). "
                           "The subject's statistics come from its other trials.",)
