"""Session 13 (bad input end to end): files changed on disk while open, absurd DEAP values, EDF+ annotation
texts that are not UTF-8. Each test failed before its fix."""

from __future__ import annotations

import os

import pytest

from mmqnet_core.errors import RecordingError
from mmqnet_core.io import load_recording

from .helpers import write_edf


def _truncate(path, n_bytes: int) -> None:
    with open(path, "r+b") as fid:
        fid.truncate(n_bytes)


def test_file_truncated_while_open_is_a_recording_error(tmp_path):
    """Another program truncating the file after it was opened: a RecordingError that says so (was a bare
    OSError, shown by the app as "An unexpected error occurred ... please report it")."""
    path = write_edf(tmp_path / "rec.edf", duration_s=60.0)
    rec = load_recording(path)
    assert rec.reader is not None  # the span reader, not mne, reads this file
    rec.get_data(0.0, 1.0)  # the file is open
    _truncate(path, os.path.getsize(path) // 3)
    with pytest.raises(RecordingError, match=r"^Cannot read rec\.edf: it now ends before data record \d+ of the 60 it "
                       r"held when opened; the file was changed, truncated or moved on disk since it was opened\. "
                       r"Open it again"):
        rec.get_data(50.0, 59.0)


def test_file_deleted_before_its_first_read_is_a_recording_error(tmp_path):
    path = write_edf(tmp_path / "rec.edf", duration_s=10.0)
    rec = load_recording(path)
    assert rec.reader is not None
    path.unlink()
    with pytest.raises(RecordingError, match=r"^Cannot read rec\.edf: it cannot be opened again \(No such file or "
                       r"directory\); the file was changed, truncated or moved on disk since it was opened\."):
        rec.get_data(0.0, 1.0)
