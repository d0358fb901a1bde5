"""``mmqnet analyze``'s fixed cost per run: the model's load starts once the analysis' own imports are done, and
the single-recording command ends without the interpreter's teardown (``os._exit`` after every output is
flushed), while the cohort and every other command exit normally. Times are measured by
``bench/bench_scale.py --timeline``; these tests check the behaviour."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmqnet_core.inference import model_loading
from mmqnet_core.inference.model_loading import DeferredModel, load_model_deferred

ROOT = Path(__file__).resolve().parents[3]

#: Runs the ``mmqnet`` program (``cli.run``) with an exit handler that says whether the interpreter tore down.
_PROGRAM = ("import atexit, sys\n"
            "atexit.register(lambda: print('TEARDOWN', flush=True))\n"
            "sys.argv = ['mmqnet'] + sys.argv[1:]\n"
            "from mmqnet_core.cli import run\n"
            "run()\n")


def _program(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PROGRAM, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def bdf(tmp_path_factory):
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf

    return write_bdf(generate_trial(SynthConfig(trial_s=20.0), 5, 0),
                     tmp_path_factory.mktemp("rec") / "synthetic_s05.bdf")


def test_a_deferred_load_made_not_started_starts_on_start_or_when_asked(monkeypatch):
    calls: list[str] = []
    real = model_loading.load_model

    def counting(*args, **kwargs):
        calls.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(model_loading, "load_model", counting)
    waiting = load_model_deferred(device="cpu", start=False)
    assert isinstance(waiting, DeferredModel)
    assert waiting.layout and not calls  # the settings read first are there; nothing loads yet
    waiting.start()
    waiting.start()  # once only
    loaded = waiting.result()
    assert calls == ["mmqnet-load-model"] and type(loaded).__name__ == "LoadedModel"

    asked = load_model_deferred(device="cpu", start=False)
    assert asked.model is not None  # asking for the model starts the load (never waits forever)
    assert calls == ["mmqnet-load-model"] * 2


@pytest.mark.parametrize("streaming, load_at", [(False, "cleaning"), (True, "cleaning"), (True, "features")])
def test_analyze_starts_the_load_after_its_own_imports_and_the_fit(monkeypatch, bdf, streaming, load_at):
    """The torch import takes turns with other imports and slows the fit (all want the interpreter lock): the
    analysis starts it once the cleaning's modules are imported and, in pieces, the cleaning is fitted; the
    result is the one of a model loaded first."""
    from mmqnet_core.inference import analyze, load_model
    from mmqnet_core.io import load_recording
    from mmqnet_core.inference import streaming as inf_streaming
    from mmqnet_core.preprocessing import streaming as prep_streaming

    monkeypatch.setattr(inf_streaming, "LOAD_MODEL_AT", load_at)
    analyze_module = sys.modules["mmqnet_core.inference.analyze"]
    order: list[str] = []
    real_imports, real_load, real_fit = (analyze_module._import_cleaning, model_loading.load_model,
                                         prep_streaming.fit_cleaning)

    def imports(cancel=None):
        real_imports(cancel)
        order.append("imports")

    def load(*args, **kwargs):
        order.append("load")
        return real_load(*args, **kwargs)

    def fit(*args, **kwargs):
        out = real_fit(*args, **kwargs)
        order.append("fit")
        return out

    real_piece = prep_streaming.clean_piece

    def piece(*args, **kwargs):
        out = real_piece(*args, **kwargs)
        order.append("piece")
        return out

    monkeypatch.setattr(analyze_module, "_import_cleaning", imports)
    monkeypatch.setattr(model_loading, "load_model", load)
    monkeypatch.setattr(prep_streaming, "fit_cleaning", fit)
    monkeypatch.setattr(prep_streaming, "clean_piece", piece)
    rec = load_recording(bdf)
    got = analyze(rec, None, load_model_deferred(device="cpu", start=False), streaming=streaming)
    # a short span is cleaned whole by one call (its fit inside): the load starts before it; in pieces, after
    # the fit, beside the pieces ("cleaning") or once the first feature block's pieces are cleaned ("features")
    pieces = [k for k, o in enumerate(order) if o == "piece"]
    assert [o for o in order if o != "piece"] == (["imports", "fit", "load"] if streaming
                                                  else ["imports", "load", "fit"])
    if streaming and load_at == "features":
        assert pieces and max(pieces) < order.index("load")
    want = analyze(rec, None, load_model(device="cpu"), streaming=streaming)
    np.testing.assert_array_equal(got.probabilities, want.probabilities)
    np.testing.assert_array_equal(got.features, want.features)


def test_the_single_recording_analysis_exits_without_teardown_after_writing_everything(bdf, tmp_path):
    from mmqnet_core.inference import analyze_recording, load_model
    from mmqnet_core.io import load_recording

    out = tmp_path / "out"
    proc = _program("analyze", str(bdf), "-o", str(out), "--no-masks", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert "TEARDOWN" not in proc.stdout  # ended by os._exit ...
    assert lines[-2].startswith("wrote ") and lines[-1].startswith("[SYNTHETIC")  # ... with its output flushed
    for name in ("trajectories.csv", "trajectories.parquet", "reconstructions.npz", "attention.npz",
                 "summary.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.tmp*"))  # every file written whole (atomically)
    ref = tmp_path / "ref"
    analyze_recording(load_recording(bdf), None, model=load_model(device="cpu"), output=ref)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "trajectories.parquet"),
                                  pd.read_parquet(ref / "trajectories.parquet"))
    import zipfile

    with zipfile.ZipFile(out / "reconstructions.npz") as z:  # np.savez_compressed's format: deflated members
        assert z.infolist() and all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())
    with np.load(out / "reconstructions.npz") as a, np.load(ref / "reconstructions.npz") as b:
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


def test_an_error_still_ends_in_one_flushed_line_and_exit_code_2(tmp_path):
    proc = _program("analyze", str(tmp_path / "none.bdf"), "-o", str(tmp_path / "o"), "--no-masks")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "TEARDOWN" not in proc.stdout


def test_other_commands_and_the_cohort_exit_normally(bdf, tmp_path):
    """The cohort's worker pool and cluster client are ended by the interpreter's exit handlers: no fast exit."""
    info = _program("info", str(bdf))
    assert info.returncode == 0 and "TEARDOWN" in info.stdout
    other = Path(str(bdf).replace("s05", "s06"))
    other.write_bytes(bdf.read_bytes())
    cohort = _program("analyze", str(bdf), str(other), "-o", str(tmp_path / "cohort"), "--no-masks", "--device",
                      "cpu", "--jobs", "1")
    assert cohort.returncode == 0, cohort.stderr[-2000:]
    assert "TEARDOWN" in cohort.stdout and (tmp_path / "cohort" / "cohort.parquet").is_file()


#: ``mmqnet analyze`` with a hook on ``os._exit`` (the single-recording command's end) that prints the heavy
#: modules imported by then (``MODEL_MODULES``: those of the model process, :mod:`.model_process`, which ends the
#: same way); argv[1] "stream" analyses the small file in pieces, as a long one is.
_MODULES_PROGRAM = ("import os, sys\n"
                    "MAIN = os.getpid()\n"
                    "if sys.argv.pop(1) == 'stream':\n"
                    "    import mmqnet_core.inference.streaming as s\n"
                    "    s.STREAM_ABOVE_BYTES = 0\n"
                    "heavy = ('pandas', 'torch', 'scipy.signal', 'scipy.stats', 'pyarrow.parquet', 'mne')\n"
                    "real_exit = os._exit\n"
                    "def exit_(code):\n"
                    "    print('MODULES' if os.getpid() == MAIN else 'MODEL_MODULES',\n"
                    "          *[m for m in heavy if m in sys.modules], flush=True)\n"
                    "    print('SWITCH', sys.getswitchinterval(), flush=True)\n"
                    "    real_exit(code)\n"
                    "os._exit = exit_\n"
                    "sys.argv = ['mmqnet'] + sys.argv[1:]\n"
                    "from mmqnet_core.cli import run\n"
                    "run()\n")


@pytest.mark.parametrize("path", ["whole", "stream"])
def test_the_single_recording_analysis_never_imports_pandas(bdf, tmp_path, path):
    """pandas (~0.5 s of CPU holding the interpreter lock) is not needed to analyse one recording: its table is
    written by :mod:`mmqnet_core.inference.table_io` (the CSV pandas writes, byte for byte) and pyarrow.
    Nor is scipy.stats (0.35-0.4 s of CPU), which scipy.signal imports for a function never called here."""
    from mmqnet_core.inference import analyze_recording, load_model
    from mmqnet_core.io import load_recording

    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", _MODULES_PROGRAM, path, "analyze", str(bdf), "-o", str(out),
                           "--no-masks", "--device", "cpu"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = next(line for line in proc.stdout.splitlines() if line.startswith("MODULES")).split()[1:]
    model = next((line for line in proc.stdout.splitlines() if line.startswith("MODEL_MODULES")), "").split()[1:]
    assert "pandas" not in modules and "pandas" not in model
    assert "scipy.stats" not in modules  # scipy.signal without it (mmqnet_core._scipy_signal)
    assert {"scipy.signal", "pyarrow.parquet"} <= set(modules)  # the hook saw a whole analysis
    assert "torch" in model and "torch" not in modules  # the model ran in its own process
    from mmqnet_core.cli.cmd_analyze import SWITCH_INTERVAL_S

    switch = float(next(line for line in proc.stdout.splitlines() if line.startswith("SWITCH")).split()[1])
    assert switch == pytest.approx(SWITCH_INTERVAL_S) and switch < 0.005  # shortened for the run (see there)
    # what pandas writes from the frame of the same analysis in this process (a short file in pieces gives the
    # whole path's result: tests/core/inference/test_streaming.py)
    ref = analyze_recording(load_recording(bdf), None, model=load_model(device="cpu"))
    ref.result.trajectories().to_csv(tmp_path / "pandas.csv", index=False, float_format="%.6g")
    assert (out / "trajectories.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "trajectories.parquet"), ref.result.trajectories())


def test_the_baselines_import_without_pandas_and_evaluation_keeps_its_exports():
    """The analysis' reconstruction baselines come from ``evaluation.baselines``; the package's exports are
    imported on first use (pandas with ``protocol``/``report``), and ``evaluation.evaluate`` is the function
    (its module is ``evaluation.protocol``: no submodule shares the name)."""
    code = ("import sys, types\n"
            "import mmqnet_core.evaluation.baselines\n"
            "assert 'pandas' not in sys.modules\n"
            "import mmqnet_core.evaluation as ev\n"
            "import mmqnet_core.evaluation.protocol as sub\n"
            "from mmqnet_core.evaluation import evaluate, write_report, zero_fill, MODEL_VARIANTS\n"
            "assert callable(evaluate) and not isinstance(evaluate, types.ModuleType) and sub.evaluate is evaluate\n"
            "assert ev.evaluate is evaluate and 'mmqnet_core.evaluation.evaluate' not in sys.modules\n"
            "assert all(hasattr(ev, name) for name in ev.__all__)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
