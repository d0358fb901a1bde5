"""A real ``mmqnet-studio`` session in a fresh process, driven by a script (for quitting, which ends the process).

:func:`run_session` writes ``test.bdf`` into ``folder``, then runs ``app.main`` on it (settings in
``folder/studio.ini``, offscreen, the quit question answered "Stop and quit") with ``body`` run first. ``body``
defines ``on_ready(window)``, called once the recording is shown and cleaned and no task runs; it reads ``arg`` and ``folder``
from ``sys.argv[1:3]``. Returns the finished process (stdout, stderr as text).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import write_test_bdf

ROOT = Path(__file__).resolve().parents[2]

_HARNESS = """\
import os, sys, time
sys.path.insert(0, {root!r})
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QTimer
from app import errors, main as app_main
from app.main_window import MainWindow

arg, folder = sys.argv[1], sys.argv[2]

{body}

original_show = MainWindow.show


def show(self):
    original_show(self)

    def ready():
        # the cleaning starts after the first page is painted: a gap between the load and it is not "ready"
        if self.model.recording is None or self.model.preprocess_result is None or self.runner.busy:
            QTimer.singleShot(50, ready)
            return
        on_ready(self)

    QTimer.singleShot(50, ready)


MainWindow.show = show
errors.dialogs_enabled = False  # the quit question answers "Stop and quit"
sys.exit(app_main.main(["--settings", os.path.join(folder, "studio.ini"), os.path.join(folder, "test.bdf")]))
"""


def run_session(script: Path, folder: Path, arg: str, body: str, env: dict | None = None
                ) -> subprocess.CompletedProcess:
    """Run ``body`` (see the module docstring) in a session on ``folder/test.bdf``; the script is ``script``."""
    write_test_bdf(folder / "test.bdf")
    script.write_text(_HARNESS.format(root=str(ROOT), body=textwrap.dedent(body)))
    return subprocess.run([sys.executable, str(script), arg, str(folder)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)
