"""Cohorts: ``mmqnet analyze`` over several files and folders, one result folder each, one table, resumable.

Uses the shipped (SYNTHETIC) checkpoint on short SYNTHETIC recordings written with the real writers.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mmqnet_core.cli import main
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf, write_deap_subject
from mmqnet_core.errors import ConfigError
from mmqnet_core.inference import cohort
from mmqnet_core.inference.cohort import (ALREADY_DONE, ANALYSED, DONE_MARKER, FAILED, AnalysisOptions,
                                          find_sources, run_cohort)

from .test_subject_statistics import write_mahnob_session

SHORT = SynthConfig(trial_s=12.0)  # 3 s baseline + 12 s at 128 Hz: 15 windows


@pytest.fixture(autouse=True)
def _fresh_model_cache(monkeypatch):
    """Each test loads its own model in this process (the cache is per process and keyed by checkpoint)."""
    monkeypatch.setattr(cohort, "_MODELS", {})


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """study/: two BDF files (one in a subfolder, with the same name), a file that is not a BDF, a MAHNOB-HCI
    session folder, files and folders that are no recordings, and a hidden folder."""
    root = tmp_path_factory.mktemp("cohort") / "study"
    (root / "day2").mkdir(parents=True)
    write_bdf(generate_trial(SHORT, 3, 0), root / "rec.bdf")
    write_bdf(generate_trial(SHORT, 4, 1), root / "day2" / "rec.bdf")
    (root / "broken.bdf").write_bytes(b"this is not a BDF file")
    write_mahnob_session(root / "Sessions" / "synthetic_10", 1, 1, config=SHORT)
    (root / "notes.txt").write_text("not a recording")
    (root / ".cache").mkdir()
    write_bdf(generate_trial(SHORT, 5, 0), root / ".cache" / "hidden.bdf")
    return root


def test_folders_are_searched_for_recordings_and_sessions(study, tmp_path):
    sources = find_sources([study], exclude=tmp_path / "out")
    found = {s.path.relative_to(study).as_posix(): s.name for s in sources}
    assert found == {"rec.bdf": "study_rec", "day2/rec.bdf": "day2_rec", "broken.bdf": "broken",
                     "Sessions/synthetic_10": "synthetic_10"}
    # a session folder named directly is one recording; the same file twice is analysed once
    again = find_sources([study / "Sessions" / "synthetic_10", study / "rec.bdf", study / "rec.bdf"])
    assert [(s.path.name, s.name) for s in again] == [("synthetic_10", "synthetic_10"), ("rec.bdf", "rec")]
    # the output folder inside a searched folder is not searched (its results are not recordings)
    out = study / "day2"
    assert [s.name for s in find_sources([study], exclude=out)] == ["broken", "rec", "synthetic_10"]
    with pytest.raises(ConfigError, match=r"Cannot analyse .*missing\.bdf: no such file or folder"):
        find_sources([study / "missing.bdf"])
    with pytest.raises(ConfigError, match=r"No recording found in .*empty: it holds no \.edf, \.bdf or \.dat"):
        (tmp_path / "empty").mkdir()
        find_sources([tmp_path / "empty"])


def test_cohort_command_writes_folders_and_table_and_resumes(study, tmp_path, capsys):
    out = tmp_path / "out"
    single = tmp_path / "single"
    assert main(["analyze", str(study / "rec.bdf"), "-o", str(single)]) == 0  # today's single-file layout
    assert not (single / DONE_MARKER).exists() and not (single / "cohort.csv").exists()
    capsys.readouterr()

    assert main(["analyze", str(study), "-o", str(out), "--jobs", "1"]) == 1  # one recording failed
    captured = capsys.readouterr()
    assert "FAILED broken" in captured.err and "error: 1 recording(s) failed" in captured.err
    assert "4 recording(s): 3 analysed, 0 already done, 1 failed" in captured.out

    # one folder per recording, the same content as a single-file analysis, the marker written last
    for name in ("study_rec", "day2_rec", "synthetic_10"):
        files = {p.name for p in (out / name).iterdir()}
        assert files == {p.name for p in single.iterdir()} | {DONE_MARKER}
    pd.testing.assert_frame_equal(pd.read_csv(out / "study_rec" / "trajectories.csv"),
                                  pd.read_csv(single / "trajectories.csv"))
    assert not (out / "broken").exists() or not (out / "broken" / DONE_MARKER).exists()

    table = pd.read_parquet(out / "cohort.parquet")
    assert list(table.columns[: len(cohort.ID_COLUMNS)]) == list(cohort.ID_COLUMNS)
    assert {"window_start_s", "valence_prob", "arousal_uncertainty", "user_masked_fraction"} <= set(table.columns)
    per = table.groupby("recording")
    assert per.size().to_dict() == {"broken": 1, "day2_rec": 15, "study_rec": 15, "synthetic_10": 15}
    bad = table[table.recording == "broken"].iloc[0]
    assert bad.status == FAILED and "broken.bdf" in bad.error and "not an EDF or BDF file" in bad.error
    ok = table[table.recording == "synthetic_10"]
    assert (ok.status == ANALYSED).all() and (ok.subject == "1").all() and (ok.masks == "no masks").all()
    assert ok.window.tolist() == list(range(15)) and ok.valence_prob.between(0, 1).all()
    csv = pd.read_csv(out / "cohort.csv")
    assert len(csv) == len(table) and csv.loc[csv.recording == "broken", "error"].str.contains("BDF").all()

    # resumable: finished recordings are skipped (not rewritten), the failed one is tried again
    stamp = (out / "study_rec" / "trajectories.parquet").stat().st_mtime_ns
    assert main(["analyze", str(study), "-o", str(out), "--jobs", "1"]) == 1
    assert "4 recording(s): 0 analysed, 3 already done, 1 failed" in capsys.readouterr().out
    assert (out / "study_rec" / "trajectories.parquet").stat().st_mtime_ns == stamp
    table2 = pd.read_parquet(out / "cohort.parquet")
    assert (table2.loc[table2.recording != "broken", "status"] == ALREADY_DONE).all()
    pd.testing.assert_series_equal(table2.valence_prob, table.valence_prob)

    # other options give other results: the recordings are analysed again
    assert main(["analyze", str(study / "rec.bdf"), str(study / "day2"), "-o", str(out), "--stop", "8"]) == 0
    assert "2 recording(s): 2 analysed, 0 already done, 0 failed" in capsys.readouterr().out
    assert len(pd.read_csv(out / "cohort.csv")) == 2 * 8


def test_a_changed_source_is_analysed_again(tmp_path):
    src = write_bdf(generate_trial(SHORT, 3, 0), tmp_path / "a.bdf")
    sources = find_sources([src])
    first = run_cohort(sources, tmp_path / "out", jobs=1)
    assert [o.status for o in first.outcomes] == [ANALYSED]
    assert [o.status for o in run_cohort(sources, tmp_path / "out", jobs=1).outcomes] == [ALREADY_DONE]
    write_bdf(generate_trial(SHORT, 3, 1), src)  # new content, same name
    assert [o.status for o in run_cohort(sources, tmp_path / "out", jobs=1).outcomes] == [ANALYSED]


def test_a_deap_file_is_one_recording_per_trial_with_the_statistics_computed_once(tmp_path, monkeypatch):
    path = write_deap_subject([generate_trial(SHORT, 0, t) for t in range(3)], tmp_path / "synthetic_s00.dat")
    calls = []
    from mmqnet_core.inference import subject as subject_module  # analyze_file imports it when called

    original = subject_module.subject_recordings_for
    monkeypatch.setattr(subject_module, "subject_recordings_for",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    out = tmp_path / "out"
    seen = []
    result = run_cohort(find_sources([path]), out, jobs=1, on_outcome=lambda s, o: seen.append((s.name, len(o))))
    assert seen == [("synthetic_s00", 3)]
    assert [o.recording for o in result.outcomes] == [f"synthetic_s00/trial_0{t}" for t in range(3)]
    assert all(o.status == ANALYSED and o.trial == t for t, o in enumerate(result.outcomes))
    assert len(calls) == 1  # one subject: its statistics come from the file's trials once
    assert result.table.groupby("trial").size().to_dict() == {0: 15, 1: 15, 2: 15}
    marker = json.loads((out / "synthetic_s00" / DONE_MARKER).read_text())
    assert [r["recording"] for r in marker["recordings"]] == [o.recording for o in result.outcomes]
    steps = json.loads((out / "synthetic_s00" / "trial_01" / "summary.json").read_text())["steps"]
    assert "subject statistics from 3 trials of subject synthetic_s00 (synthetic_s00.dat)" in steps
    # one trial of a finished file is redone when only its own result is gone
    (out / "synthetic_s00" / DONE_MARKER).unlink()
    (out / "synthetic_s00" / "trial_02" / DONE_MARKER).unlink()
    again = run_cohort(find_sources([path]), out, jobs=1)
    assert [o.status for o in again.outcomes] == [ALREADY_DONE, ALREADY_DONE, ANALYSED]


def test_cohort_option_errors_are_one_line(study, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cohort, "SCHEDULER_TIMEOUT_S", 1.0)
    assert main(["analyze", str(study), "-o", str(tmp_path / "o"), "--subject-files", str(study / "rec.bdf")]) == 2
    assert "error: Invalid option '--subject-files' for several recordings" in capsys.readouterr().err
    assert main(["analyze", str(study / "rec.bdf"), str(tmp_path / "nope.bdf"), "-o", str(tmp_path / "o")]) == 2
    assert "nope.bdf: no such file or folder" in capsys.readouterr().err
    assert main(["analyze", str(study), "-o", str(tmp_path / "o"), "--jobs", "0"]) == 2
    assert "error: Invalid value for '--jobs'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="Invalid value for 'jobs'"):
        run_cohort(find_sources([study / "rec.bdf"]), tmp_path / "o", jobs=-1)
    assert main(["analyze", str(study / "rec.bdf"), str(study / "day2"), "-o", str(tmp_path / "o"),
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "error: Invalid value for '--scheduler': cannot reach a Dask scheduler at tcp://127.0.0.1:9" in \
        capsys.readouterr().err


@pytest.mark.slow
def test_local_process_pool(study, tmp_path, capsys):
    """Two spawned worker processes, each loading the model once; a failure does not stop the others."""
    out = tmp_path / "out"
    assert main(["analyze", str(study / "rec.bdf"), str(study / "day2" / "rec.bdf"), str(study / "broken.bdf"),
                 "-o", str(out), "--jobs", "2"]) == 1
    captured = capsys.readouterr()
    assert "in 2 processes" in captured.out and "3 recording(s): 2 analysed, 0 already done, 1 failed" in captured.out
    table = pd.read_parquet(out / "cohort.parquet")
    assert table.groupby("recording").size().to_dict() == {"broken": 1, "day2_rec": 15, "study_rec": 15}
    # the same numbers as an in-process run
    ref = run_cohort(find_sources([study / "rec.bdf"]), tmp_path / "ref", jobs=1).table
    got = table[table.recording == "study_rec"].reset_index(drop=True)
    pd.testing.assert_series_equal(got.valence_prob, ref.valence_prob.reset_index(drop=True), atol=1e-5)


@pytest.mark.slow
def test_dask_local_cluster(study, tmp_path, capsys):
    """``--scheduler ADDRESS`` on a Dask distributed LocalCluster (in-process workers: threads of this process)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc:
        out = tmp_path / "out"
        assert main(["analyze", str(study / "rec.bdf"), str(study / "Sessions"), str(study / "broken.bdf"),
                     "-o", str(out), "--scheduler", lc.scheduler_address]) == 1
    captured = capsys.readouterr()
    assert f"on the Dask cluster at {lc.scheduler_address}" in captured.out
    assert "3 recording(s): 2 analysed, 0 already done, 1 failed" in captured.out
    table = pd.read_parquet(out / "cohort.parquet")
    assert table.groupby("recording").size().to_dict() == {"broken": 1, "rec": 15, "synthetic_10": 15}
    assert (out / "synthetic_10" / DONE_MARKER).is_file()
