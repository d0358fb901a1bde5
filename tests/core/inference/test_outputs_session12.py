"""The analysis outputs carry the recording's clock time: ``summary.json`` says when the recording started (from the
EDF/BDF header, as ``mmqnet info`` prints it) and the trajectories tables end with a ``clock_time`` column (each
window's start); a recording without a start (DEAP, in memory) has neither, and the other columns keep their places."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd

from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf
from mmqnet_core.inference.use_case import analyze_recording
from mmqnet_core.io import load_recording

from .conftest import make_model


def test_a_bdf_analysis_says_when_the_recording_and_each_window_started(features, tmp_path):
    rec = load_recording(write_bdf(generate_trial(SynthConfig(trial_s=37.0), 0, 1), tmp_path / "synthetic.bdf"))
    run = analyze_recording(rec, None, model=make_model(features), output=tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["recording_start"] == "2000-01-01 00:00:00"  # write_bdf's fixed header start
    csv = pd.read_csv(tmp_path / "out" / "trajectories.csv")
    parquet = pd.read_parquet(tmp_path / "out" / "trajectories.parquet")
    for table in (csv, parquet):
        assert list(table.columns)[-1] == "clock_time"
        expected = [(pd.Timestamp("2000-01-01") + pd.Timedelta(seconds=s)).isoformat(sep=" ", timespec="milliseconds")
                    for s in table["window_start_s"]]
        assert list(table["clock_time"]) == expected
        assert table["clock_time"].iloc[1] != table["clock_time"].iloc[0]
    # the columns before it are those of a recording without a start, in the same order
    assert list(csv.columns)[:-1] == list(run.result.trajectory_columns())[:-1]


def test_clock_times_cross_midnight_and_a_recording_without_start_has_none(features, tmp_path):
    model = make_model(features)
    plain = generate_trial(SynthConfig(trial_s=37.0), 0, 1).to_recording()
    assert plain.raw.info.get("meas_date") is None
    bare = analyze_recording(plain, None, model=model, output=tmp_path / "bare").result
    assert json.loads((tmp_path / "bare" / "summary.json").read_text())["recording_start"] is None
    assert "clock_time" not in pd.read_csv(tmp_path / "bare" / "trajectories.csv").columns
    assert "clock_time" not in pd.read_parquet(tmp_path / "bare" / "trajectories.parquet").columns

    dated = generate_trial(SynthConfig(trial_s=37.0), 0, 1).to_recording()
    dated.raw.set_meas_date(datetime(2024, 2, 29, 23, 59, 50, 250000, tzinfo=timezone.utc))
    result = analyze_recording(dated, None, model=model, output=tmp_path / "dated").result
    summary = json.loads((tmp_path / "dated" / "summary.json").read_text())
    assert summary["recording_start"] == "2024-02-29 23:59:50.250000"
    table = pd.read_csv(tmp_path / "dated" / "trajectories.csv")
    assert list(table.columns) == [*bare.trajectory_columns(), "clock_time"]
    assert table["clock_time"].iloc[0] == "2024-02-29 23:59:50.250"
    late = table[table["window_start_s"] >= 10]["clock_time"]
    assert late.iloc[0].startswith("2024-03-01 00:00:")  # past midnight: the next day
    assert result.trajectories()["clock_time"].tolist() == table["clock_time"].tolist()


def test_a_span_shorter_than_the_model_window_says_how_long_a_span_must_be(recording, features):
    import pytest

    from mmqnet_core.errors import ConfigError

    model = make_model(features)
    window = model.feature_config.window_s
    end = recording.duration_s
    with pytest.raises(ConfigError) as err:
        analyze_recording(recording, None, model=model, start_s=end - window / 2)
    text = str(err.value)
    assert "shorter window" not in text  # the window is the checkpoint's: analyze cannot change it
    assert f"at least {window:g} s" in text and f"--start {end - window:g} or before" in text
    with pytest.raises(ConfigError, match=rf"--stop {10 + window:g} or after"):
        analyze_recording(recording, None, model=model, start_s=10.0, stop_s=10.0 + window / 4)
    assert analyze_recording(recording, None, model=model, start_s=end - window).result.n_windows == 1


def test_the_cli_says_to_start_earlier_on_the_last_half_second(tmp_path, capsys):
    from mmqnet_core.cli import main

    bdf = write_bdf(generate_trial(SynthConfig(trial_s=9.0), 0, 1), tmp_path / "synthetic.bdf")
    duration = load_recording(bdf).duration_s
    assert main(["analyze", str(bdf), "--start", f"{duration - 0.5:g}", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "shorter window" not in err and "at least 1 s" in err
    assert f"--start {duration - 1:g} or before" in err
