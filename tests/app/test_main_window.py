"""MainWindow: opening files off the GUI thread, errors, undo/redo, mask autosave, panels, closing, selftest."""

import gc
import json
import sys
import threading
import time

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

from app import errors
from app.main import main
from app.main_window import MainWindow
from mmqnet_core.masking import MaskSet, sidecar_path
from mmqnet_core.progress import check_cancel
from mmqnet_core.recording import Modality

from .conftest import CHANNELS, DURATION_S, wait_loaded


@pytest.mark.slow  # the first file opened in a session imports mne's readers and torch (3-6 s)
def test_open_a_bdf_file_in_the_background(window, bdf_path, qtbot, settings_file):
    window.open_file(bdf_path)
    assert window.runner.busy and window.progress_bar.isVisibleTo(window)
    wait_loaded(qtbot, window, cleaned=True)
    rec = window.model.recording
    assert rec.ch_names == [c[0] for c in CHANNELS]
    assert rec.duration_s == pytest.approx(DURATION_S)
    assert window.browser.visible_channels == rec.ch_names
    assert "synthetic_test.bdf" in window.file_label.text()
    assert "128 Hz" in window.info_label.text() and "7 ch" in window.info_label.text()
    assert window.windowTitle().startswith("synthetic_test.bdf")
    qtbot.waitUntil(lambda: not window.runner.busy)
    assert not window.progress_bar.isVisibleTo(window)
    assert "cleaned" in window.info_label.text()
    assert "band-pass 1-45 Hz on 4 EEG channel(s)" in window.log_panel.contents()  # the core's log is shown
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    assert str(bdf_path.resolve()) in settings.value("recent_files")


def test_open_a_corrupt_file_shows_the_error(window, tmp_path, qtbot, dialogs):
    bad = tmp_path / "broken.bdf"
    bad.write_bytes(b"0       this is not a BDF header" + bytes(100))
    window.open_file(bad)
    qtbot.waitUntil(lambda: bool(dialogs), timeout=10000)
    assert len(dialogs) == 1
    assert "broken.bdf" in dialogs[0]["text"]
    assert dialogs[0]["title"] == "Error while opening broken.bdf"
    assert "open it again" in dialogs[0]["informative"]
    assert window.model.recording is None
    assert "broken.bdf" in window.log_panel.contents()


def test_missing_file_shows_the_error(window, tmp_path, qtbot, dialogs):
    window.open_file(tmp_path / "nowhere.edf")
    qtbot.waitUntil(lambda: bool(dialogs), timeout=10000)
    assert "nowhere.edf" in dialogs[0]["text"]


def test_undo_redo_shortcuts(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.activateWindow()
    window.model.toggle_channel_mask("Fz")
    window.model.add_segment(1.0, 2.0, ["Cz"])
    assert window.model.masks.channels == {"Fz"} and len(window.model.masks.segments) == 1
    QTest.keyClick(window.browser, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.model.masks.segments == () and window.model.masks.channels == {"Fz"}
    QTest.keyClick(window.browser, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.model.masks == MaskSet()
    QTest.keyClick(window.browser, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.model.masks.channels == {"Fz"}
    assert window.undo_action.text() == "&Undo Mask Fz"


def test_masks_are_autosaved_and_reloaded(qtbot, bdf_path, settings_file):
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.open_file(bdf_path)
    wait_loaded(qtbot, win)
    sidecar = sidecar_path(bdf_path)
    assert not sidecar.exists()  # nothing masked: no file is written
    win.model.toggle_channel_mask("Pz")
    win.model.add_segment(12.0, 14.5, ["Fz"])
    saved = json.loads(sidecar.read_text())
    assert saved["channels"] == ["Pz"]
    assert saved["segments"] == [{"start_s": 12.0, "end_s": 14.5, "channels": ["Fz"], "source": "user"}]
    win.model.undo_stack.undo()  # undo is saved too
    assert json.loads(sidecar.read_text())["segments"] == []
    win.model.undo_stack.redo()
    win.close()

    again = MainWindow(settings=settings)
    qtbot.addWidget(again)
    again.open_file(bdf_path)
    wait_loaded(qtbot, again)
    assert again.model.masks.channels == {"Pz"}
    assert [(s.start_s, s.end_s, s.channels) for s in again.model.masks.segments] == [(12.0, 14.5, ("Fz",))]
    assert again.browser._axis.masked == {"Pz"}
    assert again.mask_table.table.rowCount() == 2
    assert again.model.undo_stack.count() == 0
    again.close()


def test_corrupt_sidecar_reports_and_opens_without_masks(window, bdf_path, qtbot, dialogs):
    sidecar_path(bdf_path).write_text("{not json")
    window.open_file(bdf_path)
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: bool(dialogs))
    assert "not valid JSON" in dialogs[0]["text"] and str(sidecar_path(bdf_path).name) in dialogs[0]["text"]
    assert window.model.masks == MaskSet()


def _wait_for_cancel(started, *, cancel=None):
    started.set()
    while not cancel.is_set():
        time.sleep(0.005)
    check_cancel(cancel)


def test_close_with_a_running_task_cancels_and_joins_it(qtbot, settings_file):
    win = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    started, cancelled = threading.Event(), []
    worker = win.runner.submit(_wait_for_cancel, started, name="long task",
                               on_cancelled=lambda: cancelled.append(True))
    assert started.wait(5)
    assert win.cancel_button.isVisibleTo(win)
    t0 = time.perf_counter()
    win.close()
    assert time.perf_counter() - t0 < 5
    assert worker.cancel_event.is_set() and worker.is_done
    assert win.runner.pool.activeThreadCount() == 0
    qtbot.waitUntil(lambda: cancelled == [True], timeout=2000)


def test_cancel_button_stops_the_task(window, qtbot):
    started, cancelled = threading.Event(), []
    window.runner.submit(_wait_for_cancel, started, on_cancelled=lambda: cancelled.append(True))
    assert started.wait(5)
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cancelled == [True] and not window.runner.busy, timeout=5000)
    assert not window.cancel_button.isVisibleTo(window)


def test_channel_panel_visibility_mask_and_modality(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    panel = window.channel_panel
    panel.item("Resp").setCheckState(0, Qt.CheckState.Unchecked)
    qtbot.waitUntil(lambda: "Resp" not in window.browser.visible_channels)
    panel.item("Fz").setCheckState(2, Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: window.model.masks.channels == {"Fz"})
    # The EEG group's mask box masks its four channels as one undo step.
    steps = window.model.undo_stack.count()
    panel.group("EEG").setCheckState(2, Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: window.model.masks.channels == {"Fp1", "Fz", "Cz", "Pz"})
    assert window.model.undo_stack.count() == steps + 1
    window.model.undo_stack.undo()
    assert panel.item("Cz").checkState(2) == Qt.CheckState.Unchecked
    assert panel.item("Fz").checkState(2) == Qt.CheckState.Checked
    # Correcting a modality makes a new Recording and regroups the tree.
    panel.combo("Resp").setCurrentText("MISC")
    qtbot.waitUntil(lambda: window.model.recording.channels[6].modality == Modality.MISC)
    assert panel.group("RESP") is None and panel.group("MISC").childCount() == 1
    assert window.scale_combo.findText("MISC") >= 0


def test_selecting_channels_in_the_panel_selects_them_for_masks(window, recording, tmp_path):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.channel_panel.group("EEG").setSelected(True)
    assert window.model.selection == ("Fp1", "Fz", "Cz", "Pz")
    assert window.browser._axis.selected == {"Fp1", "Fz", "Cz", "Pz"}


def test_overview_click_centres_the_page(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.browser.set_page_length(10.0)
    bar = window.overview
    x = int(round(bar.x_of(30.0)))
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=QPoint(x, bar.height() // 2))
    start, stop = window.browser.visible_range()
    assert (start + stop) / 2 == pytest.approx(30.0, abs=DURATION_S / bar.width() * 2)
    assert bar.page == pytest.approx((start, stop))


def test_overview_spans_drawn_once_per_change(window, recording, tmp_path, qtbot):
    """A page step repaints only the page rectangle: the spans layer (here 3,000 EDF+ annotations) is reused until
    the masks, the annotations or the size change, and what is shown equals a freshly drawn bar."""
    import mne

    from app.overview_bar import OverviewBar

    onsets = [i * DURATION_S / 3000 for i in range(3000)]
    recording.raw.set_annotations(mne.Annotations(onsets, [0.01] * 3000, ["ev"] * 3000))
    window.set_recording(recording, tmp_path / "rec.bdf")
    bar = window.overview
    bar.grab()
    layer = bar._spans
    assert layer is not None
    window.browser.set_start(20.0)
    bar.grab()
    assert bar._spans is layer  # a page step did not redraw the 3,000 spans
    window.model.add_segment(20.0, 22.0)
    shown = bar.grab().toImage()
    assert bar._spans is not layer  # a new mask did
    fresh = OverviewBar(window.model)
    fresh.resize(bar.size())
    fresh.set_page(*bar.page)
    fresh._on_recording(window.model.recording)
    import numpy as np

    def pixels(img):
        img = img.convertToFormat(img.Format.Format_RGB32)
        rows = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
        return rows[:, :img.width() * 4].copy()  # a copy: the converted image is freed on return

    assert np.array_equal(pixels(fresh.grab().toImage()), pixels(shown))
    recording.raw.annotations.append(1.0, 0.5, "late")  # annotations edited in place: the count changes
    layer = bar._spans
    bar.grab()
    assert bar._spans is not layer


def test_mask_table_delete_and_jump(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.toggle_channel_mask("GSR")
    window.model.add_segment(20.0, 22.0)
    window.model.add_segment(40.0, 41.0, ["Fz"])
    table = window.mask_table.table
    assert table.rowCount() == 3
    assert [table.item(r, 0).text() for r in range(3)] == ["whole channel", "segment", "segment"]
    table.cellDoubleClicked.emit(2, 0)
    assert window.browser.start_s == 40.0
    table.selectRow(1)
    window.mask_table.delete_button.click()
    assert [s.start_s for s in window.model.masks.segments] == [40.0]
    assert window.model.masks.channels == {"GSR"}
    window.model.undo_stack.undo()
    assert len(window.model.masks.segments) == 2


def test_export_masks_as_json_and_annotations(window, recording, tmp_path):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.add_segment(3.0, 4.0, ["Cz"])
    window.model.toggle_channel_mask("Fz")  # whole-channel masks need the recording length in annotations
    out = window.export_masks(tmp_path / "out.json")
    assert MaskSet.load(out) == window.model.masks
    csv = window.export_masks(tmp_path / "out.csv")
    text = csv.read_text()
    assert "BAD_mask" in text and "BAD_mask_channel" in text


def test_dropping_a_file_opens_it(window, bdf_path, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(bdf_path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    wait_loaded(qtbot, window)
    assert window.model.path == bdf_path


def test_preferences_change_colours_and_clean_again(window, recording, tmp_path, qtbot, settings_file):
    from dataclasses import replace

    window.set_recording(recording, tmp_path / "rec.bdf")
    wait_loaded(qtbot, window, cleaned=True)
    first = window.model.preprocess_result
    window.apply_preferences(replace(window.prefs, line_freq="50", cleaned_colour="#00aa00"))
    qtbot.waitUntil(lambda: window.model.preprocess_result is not first, timeout=20000)
    assert window.model.preprocess_result.line_freq == 50.0
    window.browser.set_mode("cleaned")
    assert window.browser.curves("Fz")[1].opts["pen"].color().name() == "#00aa00"
    stored = QSettings(str(settings_file), QSettings.Format.IniFormat)
    assert stored.value("preferences/line_freq") == "50"


@pytest.mark.slow  # opens, cleans, analyses and exports twice (about 5 s)
def test_selftest_opens_cleans_and_exits(bdf_path, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # main() installs its own: restore it afterwards
    monkeypatch.setattr(errors, "dialogs_enabled", True)
    keep = tmp_path / "selftest"
    gc_state = (gc.isenabled(), gc.get_freeze_count())
    assert main(["--selftest", "--untrained", "--selftest-dir", str(keep), str(bdf_path)]) == 0
    # in a process whose QApplication exists (this one), main() leaves the garbage collector as it was
    assert (gc.isenabled(), gc.get_freeze_count()) == gc_state
    out = capsys.readouterr().out
    assert out.startswith("selftest ok: synthetic_test.bdf") and "7 channels, 60.0 s, cleaned" in out
    assert "analysed 60 windows with no checkpoint used: an UNTRAINED model built in-process" in out
    assert (keep / "analysis" / "trajectories.csv").stat().st_size > 0 and (keep / "report.pdf").exists()
    assert sorted(p.name for p in (keep / "views").iterdir()) == ["attention.png", "circumplex.png",
                                                                  "reconstruction.png", "trajectory.png"]
    assert not sidecar_path(bdf_path).exists()  # the self-test's mask is not saved beside the recording
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"garbage")
    assert main(["--selftest", str(bad)]) == 1
    assert "selftest FAILED" in capsys.readouterr().out


def test_window_has_the_application_icon_and_shows_synthetic(window, recording, tmp_path, qtbot):
    assert not window.windowIcon().isNull()
    assert not window.windowIcon().pixmap(32, 32).toImage().isNull()
    assert not window.synthetic_label.isVisibleTo(window)  # no recording yet
    window.set_recording(recording, tmp_path / "rec.bdf")
    assert recording.is_synthetic
    assert "SYNTHETIC" in window.windowTitle() and "SYNTHETIC" in window.file_label.text()
    assert window.synthetic_label.isVisibleTo(window) and "SYNTHETIC" in window.synthetic_label.text()


def test_reset_layout_brings_the_docks_back(window, qtbot):
    window.channel_dock.hide()
    window.mask_dock.setFloating(True)
    window.show_dock(window.trajectory_dock)
    window.reset_layout_action.trigger()
    assert window.channel_dock.isVisible() and not window.mask_dock.isFloating()
    assert window.dockWidgetArea(window.mask_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert window.trajectory_dock in window.tabifiedDockWidgets(window.log_dock)
    assert not window.log_dock.visibleRegion().isEmpty()  # the log tab is in front again
    assert window.reset_layout_action in window.menuBar().actions()[2].menu().actions()  # in the View menu


def test_opening_lays_out_the_rows_once_and_saves_recent_files_after_the_paint(window, bdf_path, qtbot,
                                                                               monkeypatch, settings_file):
    rebuilt = []
    original = window.browser._rebuild_rows
    monkeypatch.setattr(window.browser, "_rebuild_rows", lambda *a, **k: (rebuilt.append(1), original(*a, **k)))
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    synced = []
    monkeypatch.setattr(window, "_remember_recent", lambda path: synced.append(path))
    window.open_file(bdf_path)
    wait_loaded(qtbot, window)
    assert rebuilt == [1]  # not again for the (unchanged) hidden set announced after the recording
    qtbot.waitUntil(lambda: synced == [bdf_path], timeout=2000)
    window._on_file_loaded(bdf_path, window.model.recording)  # what the loading worker's result does
    assert synced == [bdf_path]  # the settings file is written at the next turn of the event loop, not now
    qtbot.waitUntil(lambda: synced == [bdf_path, bdf_path], timeout=2000)


def test_help_about_names_the_version_the_model_and_the_caveat(window, dialogs):
    from app.main_window import ABOUT_CAVEAT
    from mmqnet_core import __version__

    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert window.about_action in help_menu.actions()  # the Help menu had only the shortcuts
    window.about_action.trigger()
    assert len(dialogs) == 1 and dialogs[0]["title"] == "About MMQ-Net Studio"
    assert __version__ in dialogs[0]["text"]
    assert "shipped" in dialogs[0]["informative"] and ABOUT_CAVEAT in dialogs[0]["informative"]
    assert "SYNTHETIC" in ABOUT_CAVEAT and "Not a medical device" in ABOUT_CAVEAT


def test_python_dash_m_app_starts_the_application():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "app", "--help"], cwd=root, capture_output=True, text=True,
                          timeout=120)
    # It failed with "No module named app.__main__".
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: mmqnet-studio")


def test_each_menu_has_one_action_per_mnemonic(window):
    """Two entries of a menu on one letter (Analysis: "&Run MMQ-Net" and "Subject &recordings"; File: "Open
    &recent" and "Export &report"; Annotations: "Annotate the &cursor" and "Export annotations as &CSV"): the
    letter only moves between them and never opens either."""
    import re

    for top in window.menuBar().actions():
        letters: dict[str, list[str]] = {}
        for action in top.menu().actions():
            found = re.search(r"&(\w)", action.text())
            if found:
                letters.setdefault(found.group(1).lower(), []).append(action.text())
        assert {k: v for k, v in letters.items() if len(v) > 1} == {}, top.text()
