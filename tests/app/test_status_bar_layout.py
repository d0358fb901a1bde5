"""A small window stays readable: status texts elided (never cut in mid-word), a one-line progress text, the
signal browser keeping half the width, a damaged file's warnings one click away, lengths in plain units."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QSettings, Qt

from app.main_window import BROWSER_MIN_SHARE, PROGRESS_TEXT_MARGIN_PX, MainWindow, format_duration

from .conftest import wait_loaded


def _drawn_width(label) -> int:
    """Width (px) of the text a status label draws (an elided label draws its shortened text)."""
    text = label.shown_text() if hasattr(label, "shown_text") else label.text()
    return label.fontMetrics().horizontalAdvance(text)


def test_status_texts_are_elided_not_cut_in_a_small_window(window, recording, tmp_path, qtbot):
    damaged = dataclasses.replace(recording, warnings=(
        "rec.bdf is truncated: the header declares 600 data records, the file holds 12 complete data records "
        "(12 s); read 12 s, the last 588 s declared are missing.",))
    window.set_recording(damaged, tmp_path / "a-rather-long-recording-name-from-the-sleep-lab.bdf")
    wait_loaded(qtbot, window)
    window.resize(1024, 700)
    window.runner.busyChanged.emit(True)  # the progress bar and Cancel button take their room
    qtbot.wait(50)
    labels = {"file": window.file_label, "info": window.info_label, "page": window.page_label,
              "damage": window.damage_label}
    for name, label in labels.items():
        assert label.isVisible(), name
        # Each text fits the label as drawn: whole, or shortened with "..." (a QLabel was clipped mid-word).
        assert _drawn_width(label) <= label.contentsRect().width(), name
    assert any(label.shown_text().endswith("…") for label in labels.values())
    assert window.progress_bar.width() >= 150
    window.runner.busyChanged.emit(False)


def test_the_progress_text_is_one_line_with_its_percentage(window, qtbot):
    window.runner.busyChanged.emit(True)
    qtbot.wait(20)
    window._on_progress("Analysing a-rather-long-recording-name.bdf (SYNTHETIC)", 0.42, "cleaning piece 3/12")
    bar = window.progress_bar
    text = bar.text()
    assert text.endswith("42 %")
    assert "cleaning" in text
    # The style wrapped a longer text onto two lines, both clipped: the shown text fits the bar's width.
    assert bar.fontMetrics().horizontalAdvance(text) <= bar.width() - PROGRESS_TEXT_MARGIN_PX
    assert bar.toolTip() == "Analysing a-rather-long-recording-name.bdf (SYNTHETIC): cleaning piece 3/12"
    window.runner.busyChanged.emit(False)


def test_a_narrower_window_keeps_half_its_width_for_the_signal_browser(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    wait_loaded(qtbot, window)
    window.resize(1600, 1000)
    qtbot.wait(50)
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.centralWidget().width() >= BROWSER_MIN_SHARE * window.width() - 2,
                    timeout=2000)
    assert window.channel_dock.isVisible() and window.mask_dock.isVisible()


def test_first_start_leaves_half_the_width_for_the_signal_browser(qtbot, settings_file, recording, tmp_path):
    """A first start on a small screen (offscreen: 800 px wide): the docks' default sizes are shares."""
    win = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    try:
        assert win.centralWidget().width() >= BROWSER_MIN_SHARE * win.width() - 2
    finally:
        win.close()
        assert win.runner.wait_for_all(10)


def test_clicking_the_damaged_file_warning_shows_every_warning(window, recording, tmp_path, qtbot, dialogs):
    warnings = ("t.bdf is truncated: the header declares 120 data records, the file holds 39 complete data "
                "records (39 s); read 39 s, the last 81 s declared are missing.",
                "t.bdf ends with an incomplete data record: 100 bytes after the last complete record were not read.")
    window.set_recording(dataclasses.replace(recording, warnings=warnings), tmp_path / "t.bdf")
    qtbot.waitUntil(lambda: window.damage_label.isVisibleTo(window))
    qtbot.mouseClick(window.damage_label, Qt.MouseButton.LeftButton)
    assert len(dialogs) == 1
    assert all(w in dialogs[0]["informative"] for w in warnings)


@pytest.mark.parametrize(("seconds", "text"), [(12.0, "12.0 s"), (60.0, "1 min 00 s"), (240.0, "4 min 00 s"),
                                                (5103.4, "1 h 25 min 03 s"), (86400.0, "24 h 00 min 00 s")])
def test_a_recording_length_reads_in_plain_units(seconds, text):
    assert format_duration(seconds) == text  # the status bar said "0:12.0 min" for 12 s


def test_the_status_bar_gives_the_length_in_plain_units(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    wait_loaded(qtbot, window)
    assert "| 1 min 00 s |" in window.info_label.text()


def test_a_layout_saved_in_a_wider_window_leaves_the_browser_half_the_width(qtbot, settings_file):
    """Docks sized in a 1600-px window, the window later 1024 px (or the screen) wide: the next start shrinks the
    side docks."""
    from app.main_window import STATE_VERSION

    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    wide = MainWindow(settings=settings)
    qtbot.addWidget(wide)
    wide.resize(1600, 1000)
    wide.show()
    qtbot.waitExposed(wide)
    wide.resizeDocks([wide.channel_dock, wide.mask_dock], [300, 420], Qt.Orientation.Horizontal)
    qtbot.wait(50)
    state = wide.saveState(STATE_VERSION)
    wide.resize(1024, 700)
    qtbot.wait(20)
    geometry = wide.saveGeometry()
    wide.close()  # (saves its own layout: replaced below)
    assert wide.runner.wait_for_all(10)
    settings.setValue("window/state", state)
    settings.setValue("window/geometry", geometry)
    settings.sync()
    win = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    try:
        assert win.width() <= 1024  # (restoreGeometry fits it to the screen: 800 px offscreen)
        qtbot.waitUntil(lambda: win.centralWidget().width() >= BROWSER_MIN_SHARE * win.width() - 2, timeout=3000)
    finally:
        win.close()
        assert win.runner.wait_for_all(10)


def test_display_filter_text_is_elided_with_its_full_text_in_the_tooltip(window, recording, tmp_path, qtbot):
    """The montage / display-filter text in the status bar shrinks with "…" (a QLabel was cut mid-word in a
    narrow window); the whole text stays in its tooltip."""
    from mmqnet_core.preprocessing.display_filter import DisplayFilter
    from mmqnet_core.recording import Modality

    window.set_recording(recording, tmp_path / "a-rather-long-recording-name-from-the-sleep-lab.bdf")
    wait_loaded(qtbot, window)
    window.browser_controls.set_filters({m: DisplayFilter(0.5, 35.0, 50.0) for m in
                                         (Modality.EEG, Modality.EOG, Modality.EMG, Modality.ECG)})
    window.resize(1024, 700)
    window.runner.busyChanged.emit(True)
    qtbot.wait(50)
    label = window.browser_controls.display_label
    summary = window.browser.display_summary()
    assert summary and label.text().endswith(summary) and label.toolTip() == summary
    assert label.isVisible()
    assert _drawn_width(label) <= label.contentsRect().width()
    assert label.shown_text().endswith("…")
    window.runner.busyChanged.emit(False)


def test_elided_label_text_of_the_same_width_is_repainted_not_laid_out(qtbot):
    """The page label changes at every page step: a text as wide as the last one must not make the status bar
    lay out again (QLabel.setText does, ~2.3 ms per step); a wider one must, and both are drawn."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QHBoxLayout, QWidget

    from app.elided_label import ElidedLabel

    class Requests(QObject):
        count = 0

        def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
            if event.type() == QEvent.Type.LayoutRequest:
                Requests.count += 1
            return False

    bar = QWidget()
    qtbot.addWidget(bar)
    layout = QHBoxLayout(bar)
    label = ElidedLabel("| 00:10.0-00:20.0 | raw", bar)
    layout.addWidget(label)
    bar.resize(600, 40)
    bar.show()
    qtbot.waitExposed(bar)
    qtbot.wait(20)
    spy = Requests()
    bar.installEventFilter(spy)
    hint = label.sizeHint()
    label.setText("| 00:20.0-00:30.0 | raw")  # digits are equally wide
    qtbot.wait(20)
    assert Requests.count == 0
    assert label.text() == "| 00:20.0-00:30.0 | raw" == label.shown_text()
    assert label.sizeHint() == hint
    label.setText("| 00:20.0-00:30.0 | raw | double banana, 0.5-35 Hz display filter")
    qtbot.wait(20)
    assert Requests.count >= 1
    assert label.sizeHint().width() > hint.width()
    assert label.text().endswith("display filter")
