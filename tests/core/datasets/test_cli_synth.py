"""``mmqnet synth``: corpus files, labels, README, DEAP format, the sample session, clean errors."""

from __future__ import annotations

import pickle

import mne
import pandas as pd

from mmqnet_core.cli import main


def test_synth_writes_bdf_corpus_with_labels_and_readme(tmp_path, capsys):
    out = tmp_path / "corpus"
    rc = main(["synth", "-o", str(out), "--subjects", "2", "--trials", "2", "--trial-s", "4", "--seed", "3"])
    assert rc == 0
    names = sorted(p.name for p in out.glob("*.bdf"))
    assert names == ["synthetic_s00_t00.bdf", "synthetic_s00_t01.bdf", "synthetic_s01_t00.bdf",
                     "synthetic_s01_t01.bdf"]
    labels = pd.read_csv(out / "labels.csv")
    assert list(labels["file"]) == names and labels["synthetic"].all()
    assert labels[["valence", "arousal"]].stack().between(1, 9).all()
    arts = pd.read_csv(out / "artifacts.csv")
    assert set(arts["file"]) <= set(names) and arts["description"].str.startswith("ART_").all()
    assert "SYNTHETIC" in (out / "README.txt").read_text() and "--seed 3" in (out / "README.txt").read_text()
    raw = mne.io.read_raw_bdf(out / names[0], verbose="error")
    assert raw.times[-1] == 7.0 - 1 / 128  # 3 s baseline + 4 s
    assert "wrote 4 synthetic BDF file(s)" in capsys.readouterr().out


def test_synth_writes_deap_pickles(tmp_path):
    rc = main(["synth", "-o", str(tmp_path), "--format", "deap", "--subjects", "1", "--trials", "3",
               "--trial-s", "2"])
    assert rc == 0
    with open(tmp_path / "synthetic_s00.dat", "rb") as f:
        d = pickle.load(f, encoding="latin1")
    assert d["data"].shape == (3, 40, 5 * 128) and d["labels"].shape == (3, 4)
    assert list(pd.read_csv(tmp_path / "labels.csv")["file"]) == ["synthetic_s00.dat"] * 3


def test_synth_sample_session(tmp_path):
    rc = main(["synth", "-o", str(tmp_path), "--sample", "--duration-s", "30", "--sfreq", "128"])
    assert rc == 0
    assert (tmp_path / "synthetic_sample.bdf").exists()


def test_synth_reports_bad_options_as_one_line(tmp_path, capsys):
    rc = main(["synth", "-o", str(tmp_path), "--format", "deap", "--sfreq", "256"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error: Invalid value for '--sfreq' with --format deap" in err and "Traceback" not in err
    rc = main(["synth", "-o", str(tmp_path), "--subjects", "0"])
    assert rc == 2 and "'n_subjects': must be an integer >= 1, got 0" in capsys.readouterr().err
