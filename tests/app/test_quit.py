"""Quitting while work runs: the window asks, then cancels; a task that cannot stop is abandoned, not waited for."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from mmqnet_core.progress import check_cancel

ROOT = Path(__file__).resolve().parents[2]


def stuck_step(started: threading.Event, release: threading.Event, *, cancel=None):
    """A step that cannot be interrupted (a long filter inside a library): ignores cancel until released."""
    started.set()
    release.wait(60)
    return "finished"


def cooperative(started: threading.Event, *, cancel=None):
    """Long work that checks its cancel token often, as the core's loops do."""
    started.set()
    for _ in range(6000):
        check_cancel(cancel)
        time.sleep(0.01)
    return "finished"


def answer(monkeypatch, button: QMessageBox.StandardButton) -> list[dict]:
    """Make every message box return ``button``; returns the boxes shown (title, text, buttons)."""
    shown: list[dict] = []

    def fake_exec(box: QMessageBox) -> int:
        shown.append({"title": box.windowTitle(), "text": box.text(), "informative": box.informativeText(),
                      "buttons": sorted(b.text() for b in box.buttons())})
        return int(button)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    return shown


def test_quit_asks_and_keep_working_keeps_the_window_and_the_task(qtbot, window, monkeypatch):
    started = threading.Event()
    results = []
    window.runner.submit(cooperative, started, name="Analysing test.bdf", background=True,
                         on_result=results.append)
    assert started.wait(5)
    shown = answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    assert not window.close()
    assert window.isVisible() and window.runner.busy
    assert shown == [{"title": "Quit MMQ-Net Studio", "text": "Analysing test.bdf is still running.",
                      "informative": "Stop and quit now (what is not finished is lost), or keep working?",
                      "buttons": ["Keep working", "Stop and quit"]}]
    assert not window.runner.workers[0].cancel_event.is_set()

    answer(monkeypatch, QMessageBox.StandardButton.Ok)
    assert window.close()
    assert not window.isVisible()
    assert window.runner.abandoned == []  # it checked its token and stopped: nothing to abandon
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=2000)  # its last signal arrives at the next loop turn
    assert results == []


def test_quit_abandons_a_task_that_cannot_stop_instead_of_waiting_for_it(qtbot, window, monkeypatch):
    started, release = threading.Event(), threading.Event()
    results, cancelled = [], []
    worker = window.runner.submit(stuck_step, started, release, name="Cleaning test.bdf", background=True,
                                  on_result=results.append, on_cancelled=lambda: cancelled.append(True))
    assert started.wait(5)
    answer(monkeypatch, QMessageBox.StandardButton.Ok)
    t0 = time.monotonic()
    assert window.close()
    elapsed = time.monotonic() - t0
    try:
        assert not window.isVisible()
        assert not worker.is_done  # closed while the step still runs: the window did not wait for it
        assert window.runner.abandoned == [worker] and worker.cancel_event.is_set()
        assert not window.runner.busy
        assert elapsed < 30  # not a speed check: the step would block until released (60 s) if waited for
    finally:
        release.set()
    assert worker.wait(10)
    qtbot.wait(50)
    assert results == [] and cancelled == []  # nothing from an abandoned task reaches the window
    assert window.runner.abandoned == []


def test_quit_without_work_does_not_ask(qtbot, window, monkeypatch):
    shown = answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    assert window.close()
    assert shown == []


@pytest.mark.slow
def test_the_application_exits_although_a_task_cannot_stop(tmp_path):
    """``mmqnet-studio`` ends its process when a task was abandoned (a QThreadPool would wait for it at exit)."""
    script = tmp_path / "quit_while_stuck.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, threading, time
        sys.path.insert(0, {str(ROOT)!r})
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QTimer
        from app import errors, main as app_main
        from app.main_window import MainWindow

        never = threading.Event()

        def stuck(*, cancel=None):
            never.wait()  # never set, cancel ignored

        original_show = MainWindow.show

        def show(self):
            original_show(self)

            def close():
                print(f"closing at {{time.monotonic():.3f}}", flush=True)
                self.close()

            def start():
                self.runner.submit(stuck, name="Stuck step", background=True)
                QTimer.singleShot(200, close)

            QTimer.singleShot(100, start)

        MainWindow.show = show
        errors.dialogs_enabled = False  # no question: stop and quit
        sys.exit(app_main.main(["--settings", {str(tmp_path / "s.ini")!r}]))
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    end = time.monotonic()
    assert proc.returncode == 0, proc.stderr
    closing = float(proc.stdout.split("closing at ")[1].split()[0])
    assert end - closing < 60  # ended by itself (without os._exit it would wait for the stuck step forever)
    assert "Stuck step did not stop in time after cancel: abandoned" in proc.stderr
