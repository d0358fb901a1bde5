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
    please report it")."""  # 2048 + 60 x 1792 bytes cut to a third: 19 whole records
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
    assert dialogs[0]["text"].startswith("Cannot read rec.edf: it now holds 19 of the 60 data records it held when "
                                         "opened")
    assert "the file was changed, truncated or moved on disk since it was opened" in dialogs[0]["text"]
    assert dialogs[0]["informative"] == FILE_CHANGED_WHAT_TO_DO
    assert os.path.getsize(path) == len(edf_bytes(labels=tuple(c[0] for c in CHANNELS), ns=128,
                                                  n_records=60)) // 3  # never written by the window


def _refuse_in(folder: Path, code: int, monkeypatch) -> None:
    """Every atomic write into ``folder`` fails as a read-only (EROFS) or full (ENOSPC) folder would (root may
    write anywhere, so the file system's refusal is simulated where the core makes its temporary file)."""
    import tempfile

    from mmqnet_core import fileio

    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == folder:
            raise OSError(code, os.strerror(code), str(Path(dir) / ".x.tmp"))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(fileio.tempfile, "mkstemp", mkstemp)


def test_a_read_only_folder_beside_the_recording_is_said_once_not_at_every_mask_edit(window, tmp_path, qtbot,
                                                                                     dialogs, monkeypatch):
    """Was one dialog per mask edit, quoting the temporary file's name ("[Errno 30] Read-only file system:
    '.../.rec.edf.masks.json.tfeglvzo.tmp.json'") and advising "Delete or fix the mask file named above"."""
    import errno

    from app.errors import SIDECAR_WHAT_TO_DO

    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    folder = tmp_path / "ro"
    folder.mkdir()
    path = _edf(folder / "rec.edf")
    window.open_file(path)
    wait_loaded(qtbot, window)
    _refuse_in(folder, errno.EROFS, monkeypatch)
    for name in ("Fp1", "Fz", "Cz"):
        window.model.toggle_channel_mask(name)
    assert set(window.model.masks.channels) == {"Fp1", "Fz", "Cz"}  # kept in the window
    assert len(dialogs) == 1, dialogs
    assert dialogs[0]["title"] == "Error while saving the masks"
    assert dialogs[0]["text"] == (f"Cannot save the masks to {folder / 'rec.edf.masks.json'}: {folder} is on a "
                                  "read-only file system.")
    assert dialogs[0]["informative"] == SIDECAR_WHAT_TO_DO.format(what="masks", export="File > Export masks")
    assert sorted(p.name for p in folder.iterdir()) == ["rec.edf"]
    # the annotations' autosave says the same once
    from app.annotation_model import annotation_model

    notes = annotation_model(window.model)
    notes.add(1.0, 0.0, "first")
    notes.add(2.0, 0.0, "second")
    assert len(dialogs) == 2, dialogs
    assert dialogs[1]["text"] == (f"Cannot save the annotations to {folder / 'rec.edf.annotations.json'}: {folder} "
                                  "is on a read-only file system.")
    assert dialogs[1]["informative"] == SIDECAR_WHAT_TO_DO.format(what="annotations", export="Annotations > Export")


def test_exporting_the_masks_to_a_full_disk_is_a_user_error_not_a_bug(window, tmp_path, qtbot, dialogs,
                                                                      monkeypatch):
    """The masks' CSV export (mne's Annotations.save) failing on a full disk was "An unexpected error occurred
    ... please report it"."""
    import errno

    import mne

    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    path = _edf(tmp_path / "rec.edf")
    window.open_file(path)
    wait_loaded(qtbot, window)
    window.model.toggle_channel_mask("Fp1")

    def full(self, fname, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mne.Annotations, "save", full)
    assert window.export_masks(tmp_path / "masks.csv") is None
    assert len(dialogs) == 1, dialogs
    assert dialogs[0]["title"] == "Error while exporting the masks to masks.csv"
    assert dialogs[0]["text"].startswith(f"Cannot write {tmp_path / 'masks.csv'}: no space left on the disk that "
                                         f"holds {tmp_path}.")
    # and a JSON export into a full folder: the core's message once (not "Cannot write X: Cannot write X: ...")
    out = tmp_path / "full"
    out.mkdir()
    _refuse_in(out, errno.ENOSPC, monkeypatch)
    assert window.export_masks(out / "masks.json") is None
    assert dialogs[1]["text"] == (f"Cannot write {out / 'masks.json'}: no space left on the disk that holds {out}. "
                                  "Free some space there or choose another output folder. Nothing was written to "
                                  "masks.json (a file already there is unchanged).")
    assert dialogs[1]["informative"] == ("The recording and everything shown in the window are unchanged; try again "
                                         "once that is done.")


def test_no_export_writes_over_the_open_recording(window, tmp_path, qtbot, dialogs, monkeypatch):
    """An export given the recording's own name (the file dialog's "replace it?" answered yes) replaced the recording
    with a mask file, a CSV or a PNG; now each is refused in one dialog and the recording keeps its bytes."""
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    path = _edf(tmp_path / "rec.edf")
    before = path.read_bytes()
    window.open_file(path)
    wait_loaded(qtbot, window)
    window.model.toggle_channel_mask("Fp1")
    (tmp_path / "same.edf").unlink(missing_ok=True)
    os.link(path, tmp_path / "same.edf")
    assert window.export_masks(path) is None
    assert window.export_masks(tmp_path / "same.edf") is None  # another name of the same file
    assert window.review.export_page(path) is None
    assert len(dialogs) == 3, dialogs
    for shown in dialogs:
        assert "it is a recording opened for reading, and recordings are never written" in shown["text"], shown
    assert path.read_bytes() == before


def test_pages_of_a_file_truncated_while_open_are_said_once_not_at_every_key_press(window, tmp_path, qtbot,
                                                                                   dialogs, monkeypatch):
    """The lead, from bad13's report: after another program truncated the open file, every page not read before
    raised the error again through the excepthook (one dialog per PageDown). Now one dialog for the recording,
    the status says why the traces are missing, pages read before still draw, and nothing is written."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from app.signal_browser import FILE_CHANGED_STATUS

    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    path = _edf(tmp_path / "rec.edf")
    size = path.stat().st_size
    window.open_file(path)
    wait_loaded(qtbot, window)
    browser = window.browser
    browser.set_page_length(5.0)
    browser.setFocus()
    qtbot.wait(200)  # the neighbouring pages prefetched
    with open(path, "r+b") as fid:
        fid.truncate(size // 3)  # 19 of 60 records left
    for _ in range(6):  # 5, 10, ..., 30 s: pages from 20 s on were never read
        QTest.keyClick(browser, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: bool(dialogs), timeout=5000)
    qtbot.wait(100)
    assert len(dialogs) == 1, [d["text"] for d in dialogs]
    assert "the file was changed, truncated or moved on disk since it was opened" in dialogs[0]["text"]
    assert dialogs[0]["informative"] == FILE_CHANGED_WHAT_TO_DO
    assert browser.status == FILE_CHANGED_STATUS
    assert FILE_CHANGED_STATUS in window.page_label.text() or FILE_CHANGED_STATUS in window.page_label.toolTip()
    assert not browser.trace_items()[0].isVisible()  # nothing drawn that was not read
    QTest.keyClick(browser, Qt.Key.Key_Home)  # back to a page read before: drawn again, no new dialog
    assert browser.trace_items()[0].isVisible()
    assert len(dialogs) == 1
    assert path.stat().st_size == size // 3  # never written
