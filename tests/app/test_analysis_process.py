"""The analysis' model runs in a helper process (``mmqnet_core.inference.model_process``, started with
multiprocessing's spawn from the GUI thread): torch's import and the checkpoint's load never hold the GUI
process's interpreter lock (they froze the window ~0.4-0.9 s; ``bench/bench_gui_stall.py``). Real processes
throughout: the results equal the in-process use case's, a cancel stops the child, the child's errors reach the one
notification path, quitting ends it, and a fresh GUI process never imports torch."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mmqnet_core.errors import CheckpointError
from mmqnet_core.inference.model_process import RemoteModel

from .conftest import make_recording, wait_analysis, write_test_bdf

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def checkpoint(tiny_model, tmp_path) -> Path:
    """The tiny untrained model saved as a checkpoint folder (config.json + model.safetensors) with its token
    layout, as training writes it (what the helper process is started from: read without torch)."""
    from mmqnet_core.model import save_checkpoint

    layout = {"token_names": [t.name for t in tiny_model.layout],
              "token_modalities": [t.modality.value for t in tiny_model.layout]}
    return save_checkpoint(tiny_model.model, tmp_path / "ckpt", extra=dict(tiny_model.meta.extra, layout=layout),
                           normalizer=tiny_model.normalizer)


def _use_checkpoint(window, folder: Path) -> None:
    window.apply_preferences(dataclasses.replace(window.prefs, checkpoint=str(folder), device="cpu"))


def _child_gone(remote: RemoteModel, timeout_s: float = 5.0) -> bool:
    proc = remote._proc
    proc.join(timeout_s)
    return proc.exitcode is not None


def test_the_model_runs_in_a_helper_process_with_the_use_case_results(window, checkpoint, qtbot):
    from mmqnet_core.inference import analyze_recording

    rec = make_recording()
    window.set_recording(rec)
    _use_checkpoint(window, checkpoint)
    assert window.run_analysis()
    remote = window._analysis_model
    assert isinstance(remote, RemoteModel) and remote.remote and remote._proc is not None
    assert remote._proc.pid != os.getpid() and remote._proc.is_alive()
    wait_analysis(qtbot, window, timeout=90000)
    got = window.model.analysis
    want = analyze_recording(rec, window.model.masks, checkpoint=checkpoint, device="cpu",
                             attribution="modality").result
    assert got.n_windows == want.n_windows > 0
    for name in ("probabilities", "uncertainty", "recon", "occlusion", "missing_evidence", "features", "hidden"):
        a, b = getattr(got, name), getattr(want, name)
        if isinstance(a, dict):
            assert a.keys() == b.keys()
            for k in a:
                np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=f"{name}[{k}]")
        else:
            np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-5, atol=1e-6,
                                       err_msg=name)
    assert got.model_description.startswith("MMQ-Net") and "UNTRAINED" in window.model.analysis_model_label
    assert window.device_label.text().startswith("Device: CPU")  # described by the helper process
    # the process is kept for the next run (the model stays loaded there)
    assert remote.alive
    window.model.mark_analysis_stale()
    assert window.run_analysis()
    assert window._analysis_model is remote
    wait_analysis(qtbot, window, timeout=60000)
    assert not window.model.analysis_stale
    # quitting ends it
    window.close()
    assert _child_gone(remote) and not remote.alive


def test_a_cancel_in_the_model_stage_stops_the_helper_process(window, checkpoint, qtbot, monkeypatch):
    import app.main_window as main_window

    real = main_window.run_analysis
    cancelled_at: list[float] = []

    def cancel_in_the_model_stage(*args, progress=None, cancel=None, **kwargs):
        """The user's cancel (the worker's token) as soon as the helper process reports a model batch."""
        def report(fraction, message=""):
            if message.startswith("batch") and not cancelled_at:
                cancelled_at.append(time.monotonic())
                cancel.set()
            progress(fraction, message)

        return real(*args, progress=report, cancel=cancel, **kwargs)

    monkeypatch.setattr(main_window, "run_analysis", cancel_in_the_model_stage)
    window.set_recording(make_recording(duration_s=600.0))
    _use_checkpoint(window, checkpoint)
    assert window.run_analysis()
    remote = window._analysis_model
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=90000)
    assert cancelled_at, "the model stage never reported a batch"
    assert _child_gone(remote, 1.0), "the helper process still ran 1 s after the cancel"
    assert time.monotonic() - cancelled_at[0] < 3.0
    assert remote._proc.exitcode < 0 and not remote.alive  # killed, not finished
    assert window.model.analysis is None
    assert "cancelled" in window.statusBar().currentMessage()
    # the next run starts a new helper process and finishes
    monkeypatch.setattr(main_window, "run_analysis", real)
    assert window.run_analysis()
    assert window._analysis_model is not remote and isinstance(window._analysis_model, RemoteModel)
    wait_analysis(qtbot, window, timeout=120000)


def test_an_error_in_the_helper_process_reaches_the_error_dialog(window, checkpoint, qtbot, dialogs):
    from mmqnet_core.inference import load_model

    (checkpoint / "model.safetensors").write_bytes(b"not a safetensors file" * 10)
    with pytest.raises(CheckpointError) as local:
        load_model(checkpoint, device="cpu")
    window.set_recording(make_recording())
    _use_checkpoint(window, checkpoint)
    assert window.run_analysis()
    remote = window._analysis_model
    assert isinstance(remote, RemoteModel)
    qtbot.waitUntil(lambda: bool(dialogs) and not window.runner.busy, timeout=60000)
    assert len(dialogs) == 1
    shown = " ".join(dialogs[0].values())
    assert str(local.value).split(":")[0] in shown  # the child's error, as the in-process load words it
    assert window.model.analysis is None
    assert _child_gone(remote)  # it ended after reporting
    # the failed process is not reused: the next run starts another one (and reports the same error)
    assert window.run_analysis()
    assert window._analysis_model is not remote
    qtbot.waitUntil(lambda: len(dialogs) == 2 and not window.runner.busy, timeout=60000)


def test_preferences_changed_during_a_run_end_the_old_process_after_it(window, checkpoint, qtbot):
    window.set_recording(make_recording())
    _use_checkpoint(window, checkpoint)
    assert window.run_analysis()
    remote = window._analysis_model
    window.apply_preferences(dataclasses.replace(window.prefs, device="auto"))  # a new device: not this model
    assert window._analysis_model is None and remote._proc.is_alive()  # the run in progress keeps it
    wait_analysis(qtbot, window, timeout=90000)
    assert window.model.analysis is not None
    qtbot.waitUntil(lambda: remote._proc.exitcode is not None, timeout=5000)


@pytest.mark.parametrize("subject", [False, True])
def test_a_fresh_gui_process_never_imports_torch_for_an_analysis(tmp_path, tiny_model, checkpoint, subject):
    """Also with a per-subject model and the subject's other recordings (their statistics are fitted in the GUI's
    process, from the cleaning it shares with the display: ``Normalizer.fit`` needs no torch)."""
    import json

    bdf = write_test_bdf(tmp_path / "rec.bdf")
    other = write_test_bdf(tmp_path / "other.bdf", duration_s=90.0)
    if subject:
        config = checkpoint / "config.json"
        meta = json.loads(config.read_text())
        meta["extra"]["normalization"] = {"mode": "subject", "min_windows": 10}
        config.write_text(json.dumps(meta))
    code = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication, QMessageBox
        app = QApplication([])
        QMessageBox.exec = lambda box: print("DIALOG", box.text(), box.informativeText(), flush=True) or 0
        import dataclasses
        from app.main_window import MainWindow
        w = MainWindow(settings=QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat))
        w.show()
        w.apply_preferences(dataclasses.replace(w.prefs, checkpoint={str(checkpoint)!r}, device="cpu"))
        w.open_file({str(bdf)!r})
        from PySide6.QtCore import QTimer
        import time
        t0 = time.monotonic()
        def step():
            if w.model.analysis is not None and not w.runner.busy:
                print("WINDOWS", w.model.analysis.n_windows, "TORCH", "torch" in sys.modules, flush=True)
                print("STEPS", " | ".join(w.model.analysis.steps), flush=True)
                app.quit(); return
            if w.model.recording is not None and not w.runner.busy and not step.started:
                if {subject!r}:
                    w.model.subject_files = ({str(other)!r},)  # Analysis > Subject recordings...
                step.started = w.run_analysis()
            if time.monotonic() - t0 > 120:
                print("TIMEOUT", flush=True); app.quit(); return
            QTimer.singleShot(50, step)
        step.started = False
        QTimer.singleShot(50, step)
        app.exec()
        w.shutdown()
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=240)
    assert "WINDOWS" in out.stdout, out.stdout + out.stderr[-3000:]
    assert "TORCH False" in out.stdout and "DIALOG" not in out.stdout
    assert ("subject statistics" in out.stdout.split("STEPS")[1].lower()) is subject, out.stdout[-2000:]


def test_the_trajectory_view_is_made_ahead_while_the_analysis_runs(window, checkpoint, qtbot, monkeypatch):
    """Built when the result arrived, the trajectory view (three PlotItems, each with its option forms and
    menus) held the GUI thread ~0.1-0.3 s just then; now it is made in small steps while the analysis runs."""
    import app.main_window as main_window
    from app import plot_helpers

    made = []

    def prepare():
        plot_helpers.prepare_plot_item()
        made.append(plot_helpers._SPARE_PLOTS[-1])

    monkeypatch.setattr(main_window, "prepare_plot_item", prepare)
    window.set_recording(make_recording(duration_s=600.0))
    _use_checkpoint(window, checkpoint)
    assert "trajectory" not in window._views
    assert window.run_analysis()
    qtbot.waitUntil(lambda: "trajectory" in window._views, timeout=60000)
    assert window.runner.busy and window.model.analysis is None  # made before the result arrived
    view = window._views["trajectory"]
    assert len(made) == 3 and {id(view.plot), id(view.entropy_plot), id(view.spectrogram_plot)} == set(map(id, made))
    assert plot_helpers.spare_plot_items() == 0
    wait_analysis(qtbot, window, timeout=120000)
    assert window.trajectory_view is view and window.trajectory_dock.isVisible()
    xs, ys = view.curves[window.model.analysis.targets[0]].getData()
    assert xs is not None and len(xs) == window.model.analysis.n_windows


def test_f5_again_during_an_analysis_gets_its_own_helper_process(window, checkpoint, qtbot, dialogs):
    """F5 again while the model stage runs in the helper process: the replaced analysis is cancelled, and its
    cancel kills the helper process it used, so the new one must not share it (it ended with "The model process
    ended unexpectedly", or read the other's messages)."""
    window.set_recording(make_recording(duration_s=600.0))
    _use_checkpoint(window, checkpoint)
    assert window.run_analysis()
    first = window._analysis_model
    again = []

    def on_progress(name, fraction, message):
        if message.startswith("batch") and not again:  # the model stage, in the helper process
            again.append(window.runner.busy and window.run_analysis())

    window.runner.taskProgress.connect(on_progress)
    qtbot.waitUntil(lambda: bool(again) and not window.runner.busy, timeout=180000)
    assert again == [True]
    assert not dialogs and window.model.analysis is not None
    second = window._analysis_model
    assert isinstance(second, RemoteModel) and second is not first and second.alive
    qtbot.waitUntil(lambda: first._proc.exitcode is not None, timeout=5000)  # ended with its analysis
