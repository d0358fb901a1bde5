"""Session 13 (bad input end to end, in the window): each test failed before its fix."""

from __future__ import annotations

import os
from pathlib import Path

from app.errors import FILE_CHANGED_WHAT_TO_DO
from tests.core.bad_inputs.cases import edf_bytes

from .conftest import CHANNELS, wait_loaded


def _edf(path: Path, n_records: int = 60) -> Path:
    path.write_bytes(edf_bytes(labels=tuple(c[0] for c in CHANNELS), ns=128, n_records=n_records))
    return path


def test_file_truncated_while_open_is_said_as_such_not_as_a_bug(window, tmp_path, qtbot, dialogs, tiny_model,
                                                                monkeypatch):
    """Another program truncates the open file: the analysis ends with one dialog saying the file changed on disk
    and to open it again (was "An unexpected error occurred ... OSError: rec.edf ended before data record 40 ...
    please report it")."""
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    path = _edf(tmp_path / "rec.edf")
    window.open_file(path)
    wait_loaded(qtbot, window)
    with open(path, "r+b") as fid:
        fid.truncate(os.path.getsize(path) // 3)
    window.use_model(tiny_model)
    assert window.run_analysis()
    qtbot.waitUntil(lambda: bool(dialogs) and not window.runner.busy, timeout=30000)
    assert len(dialogs) == 1, dialogs
    assert dialogs[0]["title"] == "Error while analysing rec.edf (SYNTHETIC)"
    assert dialogs[0]["text"].startswith("Cannot read rec.edf: it now ends before data record ")
    assert "the file was changed, truncated or moved on disk since it was opened" in dialogs[0]["text"]
    assert dialogs[0]["informative"] == FILE_CHANGED_WHAT_TO_DO
    assert os.path.getsize(path) == len(edf_bytes(labels=tuple(c[0] for c in CHANNELS), ns=128,
                                                  n_records=60)) // 3  # never written by the window
