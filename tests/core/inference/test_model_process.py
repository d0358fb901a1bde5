"""``mmqnet analyze`` of one recording with the model in a forked helper process
(:mod:`mmqnet_core.inference.model_process`): the same results as in-process, torch never imported by the
analysing process, the same ``error: ...`` lines, and a child that ends with its parent. Forking needs a process
without torch, so every run here is a fresh program; the transport's encoding is tested in this process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mmqnet_core.inference import model_process
from mmqnet_core.inference.model_process import decode, encode

ROOT = Path(__file__).resolve().parents[3]

#: ``mmqnet`` (``cli.run``) reporting at its exit whether it forked and whether it imported torch itself;
#: argv[1] may set ``model_process.REMOTE_MAX_S`` ("-" leaves it).
_PROGRAM = r"""
import os, sys
FORKS = []
_fork = os.fork
def fork():
    pid = _fork()
    if pid:
        FORKS.append(pid)
    return pid
os.fork = fork
_exit = os._exit
def fast_exit(code):
    if FORKS:  # the parent: what it did
        print("FORKED", len(FORKS), "TORCH_IN_PARENT", "torch" in sys.modules, flush=True)
    _exit(code)
os._exit = fast_exit
if sys.argv[1] != "-":
    import mmqnet_core.inference.model_process as mp
    mp.REMOTE_MAX_S = float(sys.argv[1])
sys.argv = ["mmqnet"] + sys.argv[2:]
from mmqnet_core.cli import run
run()
"""


def _program(*args: str, remote_max_s: str = "-", **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PROGRAM, remote_max_s, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def bdf(tmp_path_factory):
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf

    return write_bdf(generate_trial(SynthConfig(trial_s=40.0), 5, 0),
                     tmp_path_factory.mktemp("rec") / "synthetic_s05.bdf")


def _same_outputs(a: Path, b: Path) -> None:
    """Every result file of two analyses holds the same values (bit for bit; timings aside)."""
    assert (a / "trajectories.csv").read_bytes() == (b / "trajectories.csv").read_bytes()
    for name in ("reconstructions.npz", "attention.npz"):
        x, y = np.load(a / name), np.load(b / name)
        assert sorted(x.files) == sorted(y.files)
        for k in x.files:
            assert x[k].dtype == y[k].dtype and x[k].shape == y[k].shape, (name, k)
            assert np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f"), (name, k)
    sa, sb = (json.loads((p / "summary.json").read_text()) for p in (a, b))
    sa.pop("timings_s"), sb.pop("timings_s")
    assert sa == sb


def test_the_model_process_gives_the_in_process_results_and_the_parent_never_imports_torch(bdf, tmp_path):
    remote = _program("analyze", str(bdf), "-o", str(tmp_path / "remote"), "--no-masks", "--device", "cpu")
    local = _program("analyze", str(bdf), "-o", str(tmp_path / "local"), "--no-masks", "--device", "cpu",
                     "--in-process")
    assert remote.returncode == 0 and local.returncode == 0, remote.stderr[-2000:] + local.stderr[-2000:]
    assert "FORKED 1 TORCH_IN_PARENT False" in remote.stdout  # the model stage ran in the child
    assert "FORKED" not in local.stdout
    _same_outputs(tmp_path / "remote", tmp_path / "local")
    for line in ("mean probability of high", "model: MMQ-Net (", "[SYNTHETIC: recording is synthetic; model trained"):
        assert line in remote.stdout
    # the child is gone: nothing is left that the analysis started
    assert "model process" not in remote.stderr


def test_a_long_span_loads_the_model_in_the_analysing_process(bdf, tmp_path):
    """Above REMOTE_MAX_S the child is ended and the model loads here (features and results not copied)."""
    run = _program("analyze", str(bdf), "-o", str(tmp_path / "long"), "--no-masks", "--device", "cpu",
                   remote_max_s="10")
    local = _program("analyze", str(bdf), "-o", str(tmp_path / "local"), "--no-masks", "--device", "cpu",
                     "--in-process")
    assert run.returncode == 0 and local.returncode == 0, run.stderr[-2000:]
    assert "FORKED 1 TORCH_IN_PARENT True" in run.stdout
    _same_outputs(tmp_path / "long", tmp_path / "local")


def _error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    return lines[0]


def test_a_damaged_checkpoint_gives_the_same_error_line(bdf, tmp_path):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(ROOT / "resources" / "checkpoint", ckpt)
    (ckpt / "model.safetensors").write_bytes(b"\0" * 64)  # config.json still reads: the child's load fails
    args = ("analyze", str(bdf), "-o", str(tmp_path / "o"), "--no-masks", "--device", "cpu", "--checkpoint",
            str(ckpt))
    remote, local = _program(*args), _program(*args, "--in-process")
    assert "FORKED 1" in remote.stdout
    assert _error_line(remote) == _error_line(local)
    assert not (tmp_path / "o" / "trajectories.csv").exists()


def test_an_error_of_the_model_stage_gives_the_same_error_line(bdf, tmp_path):
    from mmqnet_core.io import load_recording
    from mmqnet_core.masking import MaskSet

    masks = tmp_path / "all.masks.json"
    MaskSet(channels=frozenset(load_recording(bdf).ch_names)).save(masks)  # everything hidden: a MaskError
    args = ("analyze", str(bdf), "-o", str(tmp_path / "o"), "--masks", str(masks), "--device", "cpu")
    remote, local = _program(*args), _program(*args, "--in-process")
    assert "FORKED 1" in remote.stdout
    line = _error_line(remote)
    assert line == _error_line(local) and "is masked or missing: nothing to analyse" in line


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_the_model_process_dies_with_its_parent(tmp_path):
    """SIGKILL of the analysing process (no cleanup runs) ends the model process too (PR_SET_PDEATHSIG)."""
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf

    long = write_bdf(generate_trial(SynthConfig(trial_s=600.0), 5, 0), tmp_path / "long.bdf")
    proc = subprocess.Popen([sys.executable, "-c", _PROGRAM, "-", "analyze", str(long), "-o", str(tmp_path / "o"),
                             "--no-masks", "--device", "cpu"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        kids: list[int] = []
        while not kids and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            kids = _children(proc.pid)
        assert kids, "no model process was started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(Path(f"/proc/{k}").exists() and
                                                  "Z" not in Path(f"/proc/{k}/stat").read_text().split()[2]
                                                  for k in kids):
            time.sleep(0.05)
        alive = [k for k in kids if Path(f"/proc/{k}").exists()
                 and Path(f"/proc/{k}/stat").read_text().split()[2] != "Z"]
        assert not alive
    finally:
        if proc.poll() is None:
            proc.kill()


# --- the transport ------------------------------------------------------------------------------------------------
def _roundtrip(obj):
    arrays: list[np.ndarray] = []
    tree = json.loads(json.dumps(encode(obj, arrays)))  # what travels is JSON + raw arrays
    return decode(tree, [a.copy() for a in arrays])


def _assert_same(a, b, where="") -> None:
    import dataclasses

    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            _assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, dict) or hasattr(a, "items"):
        assert list(a.keys()) == list(b.keys()), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b and type(a) is type(b), where


def test_features_masks_and_results_cross_the_transport_unchanged(features, model):
    from mmqnet_core.inference.analyze import analyze_features
    from mmqnet_core.masking import MaskSet, SegmentMask

    masks = MaskSet(channels=frozenset({"Fp1"}), segments=(SegmentMask(3.0, 9.5, ("GSR",), "simulated"),))
    back = _roundtrip({"features": features, "masks": masks, "stats": model.normalizer, "n": np.int64(3)})
    _assert_same(features, back["features"])
    assert back["masks"] == masks and type(back["n"]) is int
    assert np.array_equal(back["stats"].mean, model.normalizer.mean)
    result = analyze_features(features, masks, model, title="t", steps=("a", "b"))
    import dataclasses

    _assert_same(dataclasses.replace(result, interference_spans=()),
                 _roundtrip(dataclasses.replace(result, interference_spans=())))


def test_the_transport_refuses_what_it_does_not_know():
    with pytest.raises(TypeError):
        encode(object(), [])
    with pytest.raises(TypeError):
        encode(np.array(["a"], object), [])
    with pytest.raises(ValueError, match="unknown tag"):
        decode({"~": "pickle", "v": "..."}, [])


def test_errors_of_the_child_are_raised_as_their_own_type():
    from mmqnet_core.errors import CheckpointError, MaskError

    with pytest.raises(MaskError, match="^every token$"):
        model_process._raise({"type": "MaskError", "message": "every token"})
    with pytest.raises(CheckpointError):
        model_process._raise({"type": "CheckpointError", "message": "bad"})
    with pytest.raises(ValueError, match="^v$"):
        model_process._raise({"type": "ValueError", "message": "v"})
    with pytest.raises(RuntimeError, match="^SomeLibraryError: x$"):  # not ours, not a built-in: named
        model_process._raise({"type": "SomeLibraryError", "message": "x"})


_CANCEL_PROGRAM = r"""
import os, sys, threading, time
from mmqnet_core.errors import Cancelled
from mmqnet_core.inference.analyze import analyze_features
from mmqnet_core.inference.model_process import start_model_process
from mmqnet_core.inference.streaming import recording_features
from mmqnet_core.io import load_recording
model = start_model_process(device="cpu")
fs = recording_features(load_recording(sys.argv[1]), model)
model.result()
pid, cancel, when = model._pid, threading.Event(), []
def progress(fraction, message=""):
    if message.startswith("batch") and not cancel.is_set():  # the model runs in the child: cancel now
        when.append(time.perf_counter())
        cancel.set()
try:
    analyze_features(fs, None, model, title="x", batch_size=1, progress=progress, cancel=cancel)
    print("FINISHED")
except Cancelled:
    print("CANCELLED after", time.perf_counter() - when[0])
print("CHILD_GONE", not os.path.exists(f"/proc/{pid}"))
"""


def test_a_cancel_during_the_model_stage_stops_and_ends_the_model_process(bdf):
    proc = subprocess.run([sys.executable, "-c", _CANCEL_PROGRAM, str(bdf)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CANCELLED after" in proc.stdout and "CHILD_GONE True" in proc.stdout
    assert float(proc.stdout.split("CANCELLED after")[1].split()[0]) < 1.0


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_ctrl_c_ends_the_analysis_and_the_model_process_at_once(bdf, tmp_path):
    """Ctrl-C reaches the whole process group: the child ignores it, the parent stops (exit 130) and kills the
    child even while it is still importing torch (closing its socket would only end it after that)."""
    proc = subprocess.Popen([sys.executable, "-m", "mmqnet_core.cli", "analyze", str(bdf), "-o", str(tmp_path / "o"),
                             "--no-masks", "--device", "cpu"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        kids: list[int] = []
        while not kids and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
            kids = _children(proc.pid)
        assert kids, "no model process was started"
        time.sleep(0.1)  # the child is importing torch (~2 s on a quiet machine)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 130
        took = time.monotonic() - t0
        time.sleep(0.2)
        assert not [k for k in kids if Path(f"/proc/{k}").exists()]
        assert took < 1.5  # waiting for the child to end by itself would take its import of torch
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_deap_trial_with_the_subjects_statistics_gives_the_in_process_results(tmp_path):
    """The shipped per-subject model normalises a DEAP trial with the statistics of the file's trials (computed
    in the analysing process, a Normalizer sent to the child with the features)."""
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_deap_subject

    trials = [generate_trial(SynthConfig(trial_s=30.0), 0, k) for k in range(3)]
    path = write_deap_subject(trials, tmp_path / "synthetic_s00.dat")
    args = ("analyze", str(path), "--trial", "1", "--device", "cpu")
    remote = _program(*args, "-o", str(tmp_path / "remote"))
    local = _program(*args, "-o", str(tmp_path / "local"), "--in-process")
    assert remote.returncode == 0 and local.returncode == 0, remote.stderr[-2000:] + local.stderr[-2000:]
    assert "FORKED 1" in remote.stdout
    steps = json.loads((tmp_path / "remote" / "summary.json").read_text())["steps"]
    assert any("subject's statistics given by the caller" in s for s in steps)
    _same_outputs(tmp_path / "remote", tmp_path / "local")


_ASK_PROGRAM = r"""
import sys
from mmqnet_core.inference.model_process import start_model_process
model = start_model_process(device="cpu")
pid = model._pid
print("REMOTE", model.remote, "TORCH", "torch" in sys.modules)
print("N_WINDOWS", model.model.config.n_windows)  # the model itself: loaded here instead
print("REMOTE", model.remote, "TORCH", "torch" in sys.modules, "CHILD_ENDED", model._pid is None)
"""


def test_asking_for_the_model_itself_loads_it_in_the_analysing_process():
    proc = subprocess.run([sys.executable, "-c", _ASK_PROGRAM], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "REMOTE True TORCH False"
    assert lines[1].startswith("N_WINDOWS ") and int(lines[1].split()[1]) > 0
    assert lines[2] == "REMOTE False TORCH True CHILD_ENDED True"
