"""CLI: train -> evaluate --run -> analyze on tiny SYNTHETIC data; locating and loading checkpoints."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from mmqnet_core.cli import main
from mmqnet_core.errors import CheckpointError
from mmqnet_core.inference import default_checkpoint_path, load_model
from mmqnet_core.inference import model_loading


@pytest.mark.slow
def test_train_evaluate_analyze_commands(tmp_path, capsys):
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf

    run, cache = tmp_path / "run", tmp_path / "cache"
    small = ["--subjects", "3", "--trials", "2", "--trial-s", "12", "--cache-dir", str(cache), "--workers", "1"]
    tiny = ["--epochs", "1", "--windows", "4", "--d-model", "32", "--folds", "3", "--batch-size", "8",
            "--threads", "1"]
    assert main(["train", "--data", "synthetic", "-o", str(run), *small, *tiny]) == 0
    out = capsys.readouterr().out
    assert "checkpoint:" in out and "SYNTHETIC" in out and "subject-independent" in out
    spec = json.loads((run / "data.json").read_text())
    assert spec["subjects"] == 3 and spec["corpus_file"].startswith(str(cache))

    ev = tmp_path / "eval"
    assert main(["evaluate", "--run", str(run), "-o", str(ev), "--rates", "0,0.5"]) == 0
    out = capsys.readouterr().out
    assert "Split: subject-independent (leave-subjects-out)" in out and "MMQ-Net" in out
    table = pd.read_csv(ev / "evaluation.csv")
    assert set(table["method"]) >= {"MMQ-Net", "logistic regression", "linear interpolation"}
    assert (ev / "evaluation.png").is_file()

    bdf = write_bdf(generate_trial(SynthConfig(trial_s=20.0), 5, 0), tmp_path / "synthetic_s05.bdf")
    masks = tmp_path / "m.json"
    from mmqnet_core.masking import MaskSet

    MaskSet().with_channel("Fp2").save(masks)
    res = tmp_path / "res"
    assert main(["analyze", str(bdf), "--checkpoint", str(run / "checkpoint"), "--masks", str(masks),
                 "-o", str(res), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "masks from" in out and "SYNTHETIC" in out
    traj = pd.read_csv(res / "trajectories.csv")
    assert len(traj) == 23 and traj["user_masked_fraction"].gt(0).all()  # 3 s baseline + 20 s, Fp2 masked


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "--data", "deep:x", "-o", str(tmp_path / "r")]) == 2
    assert "error: Invalid value for 'data': allowed 'synthetic', 'deap:DIR' or 'mahnob:DIR'" in capsys.readouterr().err
    assert main(["evaluate", "--run", str(tmp_path), "-o", str(tmp_path / "e")]) == 2
    assert "is not a run folder of 'mmqnet train' (no config.json)" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "x.bdf"), "--checkpoint", str(tmp_path / "none"), "-o",
                 str(tmp_path / "o")]) == 2
    assert "error: No checkpoint at" in capsys.readouterr().err


def test_default_checkpoint_is_found_in_the_bundle(tmp_path, monkeypatch):
    monkeypatch.delenv("MMQNET_CHECKPOINT", raising=False)
    folder = tmp_path / "resources" / "checkpoint"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert default_checkpoint_path() == folder
    monkeypatch.setenv("MMQNET_CHECKPOINT", str(tmp_path / "elsewhere"))
    assert default_checkpoint_path() == folder  # a variable naming nothing is skipped


def test_load_model_without_any_checkpoint_says_what_to_do(monkeypatch):
    monkeypatch.setattr(model_loading, "default_checkpoint_path", lambda: None)
    with pytest.raises(CheckpointError, match="No shipped model checkpoint found .*'mmqnet train --data synthetic"):
        load_model()


def test_checkpoint_cleaning_settings_read_without_loading(tmp_path):
    """The shipped checkpoint's cleaning settings come from its config.json (those the loaded model has); a place
    without a checkpoint gives None instead of an error."""
    from mmqnet_core.inference.model_loading import (checkpoint_preprocess_config, default_checkpoint_path,
                                                     load_model)

    shipped = default_checkpoint_path()
    config = checkpoint_preprocess_config()
    assert config is not None and config == checkpoint_preprocess_config(shipped)
    assert config == load_model(shipped, device="cpu").preprocess_config
    assert checkpoint_preprocess_config(tmp_path / "nothing-here") is None
    (tmp_path / "model.safetensors").write_bytes(b"not a checkpoint")
    assert checkpoint_preprocess_config(tmp_path) is None  # no config.json beside it
