"""``mmqnet analyze``'s fixed cost: the model loads in a helper thread (DeferredModel) while the recording is read,
cleaned and featurised, and the CLI registers only the command it runs (no torch, pandas or scipy.signal before
the work starts). Times are measured by ``bench/bench_scale.py``; these tests check the behaviour."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import Future

import pandas as pd
import pytest

from mmqnet_core.cli import main
from mmqnet_core.errors import CheckpointError
from mmqnet_core.inference import default_checkpoint_path, load_model
from mmqnet_core.inference import model_loading
from mmqnet_core.inference.model_loading import DeferredModel, load_model_deferred

EARLY = ("layout", "feature_config", "preprocess_config", "normalization", "min_windows")


def test_the_settings_read_first_are_those_of_the_loaded_model():
    deferred = load_model_deferred(device="cpu")
    assert isinstance(deferred, DeferredModel)
    loaded = load_model(device="cpu")
    for name in EARLY:
        assert getattr(deferred, name) == getattr(loaded, name), name
    got = deferred.result()
    assert type(got).__name__ == "LoadedModel" and not deferred.failed
    assert deferred.is_synthetic == loaded.is_synthetic and deferred.describe() == loaded.describe()
    assert deferred.model is got.model  # everything else comes from the loaded model


def test_checkpoint_constants_come_from_one_torch_free_module():
    """checkpoint.py and normalization.py re-export model.format's constants; importing it imports no torch."""
    from mmqnet_core.model import checkpoint, format, normalization

    assert checkpoint.WEIGHTS_NAME is format.WEIGHTS_NAME and checkpoint.FORMAT is format.FORMAT
    assert normalization.NORMALIZATION_MODES is format.NORMALIZATION_MODES
    code = "import sys, mmqnet_core.model.format\nassert 'torch' not in sys.modules, 'torch'\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_checkpoint_that_changed_while_loading_is_an_error():
    loaded = load_model(device="cpu")
    fut: Future = Future()
    fut.set_result(loaded)
    settings = [getattr(loaded, n) for n in EARLY]
    settings[EARLY.index("normalization")] = "global" if loaded.normalization != "global" else "subject"
    with pytest.raises(CheckpointError, match="changed while it was being loaded"):
        DeferredModel(fut, tuple(settings), "ckpt").result()


def test_a_checkpoint_whose_settings_cannot_be_read_first_is_loaded_at_once(tmp_path):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(default_checkpoint_path(), ckpt)
    config = ckpt / "config.json"
    import json

    meta = json.loads(config.read_text())
    del meta["extra"]["layout"]  # the layout then comes from the model config: only the loaded model knows it
    config.write_text(json.dumps(meta))
    got = load_model_deferred(ckpt, device="cpu")
    assert not isinstance(got, DeferredModel) and got.layout == load_model(ckpt, device="cpu").layout


def test_damaged_weights_end_the_cli_analysis_with_the_load_error(tmp_path, capsys):
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf

    ckpt = tmp_path / "ckpt"
    shutil.copytree(default_checkpoint_path(), ckpt)
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # config.json intact: the settings are read first
    assert isinstance(load_model_deferred(ckpt, device="cpu"), DeferredModel)
    bdf = write_bdf(generate_trial(SynthConfig(trial_s=20.0), 5, 0), tmp_path / "synthetic_s05.bdf")
    assert main(["analyze", str(bdf), "--checkpoint", str(ckpt), "-o", str(tmp_path / "out"), "--no-masks",
                 "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error: ") and "model.safetensors" in err
    assert "cancelled" not in err
    assert not (tmp_path / "out" / "trajectories.csv").exists()


def test_cli_analysis_with_the_model_loading_alongside_equals_the_in_process_analysis(tmp_path, capsys):
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf
    from mmqnet_core.inference import analyze_recording
    from mmqnet_core.io import load_recording

    bdf = write_bdf(generate_trial(SynthConfig(trial_s=20.0), 5, 0), tmp_path / "synthetic_s05.bdf")
    assert main(["analyze", str(bdf), "-o", str(tmp_path / "out"), "--no-masks", "--device", "cpu"]) == 0
    capsys.readouterr()
    got = pd.read_csv(tmp_path / "out" / "trajectories.csv")
    analyze_recording(load_recording(bdf), None, model=load_model(device="cpu"), output=tmp_path / "ref")
    want = pd.read_csv(tmp_path / "ref" / "trajectories.csv")
    pd.testing.assert_frame_equal(got, want)


def test_cli_start_up_imports_nothing_heavy_before_the_analysis_starts():
    """Parsing ``mmqnet analyze ...`` and importing what the single-recording command uses before its work
    (the analysis use case, the cohort module, the model's early settings) imports neither torch, pandas nor
    scipy.signal: torch loads in the model's helper thread, scipy.signal with the cleaning."""
    code = (
        "import sys\n"
        "from mmqnet_core.cli import build_parser\n"
        "args = build_parser(['analyze', 'x.bdf', '-o', 'o'], only_named=True).parse_args(['analyze', 'x.bdf', "
        "'-o', 'o'])\n"
        "import mmqnet_core.inference, mmqnet_core.inference.cohort, mmqnet_core.inference.use_case\n"
        "from mmqnet_core.inference.model_loading import _early_settings, default_checkpoint_path\n"
        "assert _early_settings(default_checkpoint_path()) is not None\n"
        "bad = [m for m in ('torch', 'pandas', 'scipy.signal') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_help_and_a_mistyped_command_still_list_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["analyse", "x"])
    err = capsys.readouterr().err
    assert "invalid choice: 'analyse'" in err and "'evaluate'" in err and "'synth'" in err
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "evaluate" in capsys.readouterr().out


def test_a_late_load_failure_stops_at_the_next_cancel_check():
    from mmqnet_core.cli.cmd_analyze import _LoadFailed

    fut: Future = Future()
    deferred = DeferredModel(fut, tuple(getattr(load_model(device="cpu"), n) for n in EARLY), "ckpt")
    token = _LoadFailed(deferred)
    assert not token.is_set()
    fut.set_exception(CheckpointError("damaged"))
    assert token.is_set() and deferred.failed
    with pytest.raises(CheckpointError, match="damaged"):
        deferred.model
