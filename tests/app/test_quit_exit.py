"""Quitting during work ends the process without the interpreter's teardown, and loses nothing a normal exit writes.

The same session (open a recording, mask a segment, add an annotation, change a setting without syncing it, log a
record into a buffering handler, print without flushing) is ended twice in fresh ``mmqnet-studio`` processes: once
with nothing running (the normal exit, with its teardown) and once with "Stop and quit" while a task runs (ended at
once by ``app.main.end_after_quit_during_work``). Both must leave the same files with the same contents.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
from pathlib import Path

import pytest

from .app_session import run_session

BODY = """
    import atexit, logging, logging.handlers
    from app.annotation_model import annotation_model
    from mmqnet_core.progress import check_cancel

    def cooperative(*, cancel=None):  # work that checks its cancel token, as the core's loops do
        for _ in range(6000):
            check_cancel(cancel)
            time.sleep(0.01)

    def on_ready(self):
        def act():
            self.model.add_segment(10.0, 20.0, ["Fz"])
            annotation_model(self.model).add(30.0, 2.0, "written before quitting")
            self.settings.setValue("test/unsynced", "kept")
            # Records a MemoryHandler holds reach its file only when it is flushed (logging.shutdown at exit).
            target = logging.FileHandler(os.path.join(folder, "log.txt"), encoding="utf-8")
            logging.getLogger().addHandler(logging.handlers.MemoryHandler(1000, logging.CRITICAL, target))
            logging.getLogger("quit-test").warning("record buffered until the exit")
            print("stdout line not flushed")  # a pipe: block-buffered
            atexit.register(lambda: print("TEARDOWN", flush=True))
            if arg == "work":
                self.runner.submit(cooperative, name="Analysing test.bdf", background=True)
            QTimer.singleShot(100, close)

        def close():
            print(f"busy={self.runner.busy}")
            self.close()

        QTimer.singleShot(300, act)  # after the first page was painted (the recent files are written then)
"""


def _session(tmp_path: Path, mode: str) -> tuple[subprocess.CompletedProcess, Path]:
    folder = tmp_path / mode
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout a buffered pipe, as usual
    proc = run_session(tmp_path / "session.py", folder, mode, BODY, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc, folder


def _settings(folder: Path) -> dict[str, dict[str, str]]:
    parser = configparser.RawConfigParser()
    parser.read(folder / "studio.ini", encoding="utf-8")
    values = {s: dict(parser[s]) for s in parser.sections()}
    for section in values.values():  # paths name the session's own folder
        for key, value in section.items():
            section[key] = value.replace(str(folder), "FOLDER")
    return values


def _sidecars(folder: Path) -> dict[str, object]:
    out = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("test.bdf") or path.name.startswith("test."):
            if path.name != "test.bdf":
                text = path.read_text(encoding="utf-8").replace(str(folder), "FOLDER")
                try:
                    out[path.name] = json.loads(text)
                except ValueError:
                    out[path.name] = text
    return out


@pytest.mark.slow
def test_stop_and_quit_ends_at_once_and_writes_what_a_normal_exit_writes(tmp_path):
    normal, normal_dir = _session(tmp_path, "idle")
    fast, fast_dir = _session(tmp_path, "work")
    # The paths taken: the normal exit ran the interpreter's teardown; "Stop and quit" did not.
    assert "busy=False" in normal.stdout and "TEARDOWN" in normal.stdout
    assert "busy=True" in fast.stdout and "TEARDOWN" not in fast.stdout
    # Nothing lost: the unflushed stdout line, the buffered log record, the settings and the sidecars.
    for proc in (normal, fast):
        assert "stdout line not flushed" in proc.stdout
    for folder in (normal_dir, fast_dir):
        assert "record buffered until the exit" in (folder / "log.txt").read_text(encoding="utf-8")
    settings = _settings(fast_dir)
    assert settings["test"]["unsynced"] == "kept"
    assert "geometry" in settings["window"] and "state" in settings["window"]
    assert "FOLDER/test.bdf" in settings["General"]["recent_files"]
    assert settings == _settings(normal_dir)
    sidecars = _sidecars(fast_dir)
    assert len(sidecars) == 2, sorted(sidecars)  # masks and annotations
    assert "written before quitting" in json.dumps(sidecars)
    assert sidecars == _sidecars(normal_dir)
