"""Session 13's clinician walkthrough (clin13; Xvfb at 1600, 1300 and 1024 px; the sample, pyedflib's
test_generator.edf, the 1-h and 24-h synthetic BDFs): one test per defect, each failing before its fix."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt

from app.browser_state import parse_time


# --- Go to time: a clock time of two fields ----------------------------------------------------------------------
@pytest.mark.parametrize("text, clock, expected", [
    ("@13:30", False, 13.5 * 3600),       # typed after @: hh:mm (went to 00:13:30)
    ("13:30", True, 13.5 * 3600),         # T on: the same without @
    ("@13:30:00", False, 13.5 * 3600),    # three fields as before
    ("@00:10", False, 600.0),
    ("13:30", False, 810.0),              # time from the start: mm:ss as before
    ("1:02:05", False, 3725.0),
    ("125", True, 125.0),                 # seconds from the start, also with T on
])
def test_a_two_field_clock_time_is_hh_mm(text, clock, expected):
    """A neurologist typing "@13:30" in a 24-h recording meant half past one; it landed at 00:13:30."""
    start = dt.datetime(2000, 1, 1, 0, 0, 0)
    assert parse_time(text, duration_s=86400.0, start=start, clock=clock) == pytest.approx(expected)


def test_a_two_field_clock_time_past_midnight_and_out_of_range():
    start = dt.datetime(2024, 3, 1, 23, 50, 0)
    assert parse_time("@00:10", duration_s=3600.0, start=start) == pytest.approx(1200.0)
    with pytest.raises(ValueError, match="outside the recording"):
        parse_time("@12:00", duration_s=3600.0, start=start)
    with pytest.raises(ValueError, match="below 60"):
        parse_time("@13:75", duration_s=86400.0, start=start)


def test_go_to_time_says_how_a_two_field_time_is_read(window, recording, tmp_path, qtbot, monkeypatch):
    """The prompt offered "hh:mm:ss, mm:ss, seconds or a clock time" with T on: which one "13:30" was, it did not
    say. Now: a clock time hh:mm with T on, mm:ss from the start otherwise; and "@13:30" goes to 13:30."""
    from PySide6.QtWidgets import QInputDialog

    from .conftest import open_all_rows

    recording.raw.set_meas_date(dt.datetime(2024, 3, 1, 13, 0, 0, tzinfo=dt.timezone.utc))
    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    prompts = []
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (prompts.append(a[2]), ("@13:00:30", True))[1])
    b.ask_jump()
    assert "mm:ss" in prompts[-1] and "@hh:mm" in prompts[-1]
    assert b.state.start_s <= 30.0 < b.state.stop_s
    qtbot.keyClick(b, Qt.Key.Key_T)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (prompts.append(a[2]), ("13:00", True))[1])
    b.ask_jump()
    assert prompts[-1].startswith("Clock time (hh:mm:ss or hh:mm)")
    assert b.state.start_s <= 0.0 < b.state.stop_s


# --- Display filters: typing a frequency into a box that reads "off" -----------------------------------------------
@pytest.mark.parametrize("typed, expected", [("0.5", 0.5), ("1", 1.0), (".3", 0.3)])
def test_a_frequency_typed_into_an_off_box_is_taken(qtbot, typed, expected):
    """The dialog opens with the focus in EEG's high-pass box, which reads "off" with the cursor after the word:
    typing 0.5 there (or after clicking into a box) did nothing, and OK left the filter off."""
    from app.browser_dialogs import DisplayFilterDialog
    from mmqnet_core.recording import Modality

    d = DisplayFilterDialog([Modality.EEG, Modality.EOG], {}, 256.0)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    hp, lp, _notch = d.boxes[Modality.EEG]
    for box, text, value in ((hp, typed, expected), (lp, "70", 70.0)):
        box.setFocus(Qt.FocusReason.OtherFocusReason)  # as at the dialog's opening or a click: nothing selected
        box.lineEdit().deselect()
        box.lineEdit().setCursorPosition(len(box.text()))
        assert box.text() == "off"
        qtbot.keyClicks(box, text)
        assert box.value() == pytest.approx(value)
    filt = d.filters()[Modality.EEG]
    assert (filt.highpass_hz, filt.lowpass_hz) == (pytest.approx(expected), pytest.approx(70.0))
    # a box with a value is edited as usual: a digit goes in where the cursor is
    lp.lineEdit().setCursorPosition(2)
    qtbot.keyClick(lp, Qt.Key.Key_5)
    assert lp.value() == pytest.approx(705.0 if lp.maximum() >= 705 else 70.0)


# --- Status bar: where you are stays readable -----------------------------------------------------------------------
@pytest.mark.parametrize("width", [1024, 1600])
def test_the_page_position_is_not_elided_behind_the_montage_and_filters(window, recording, tmp_path, qtbot,
                                                                          monkeypatch, width):
    """With double banana and display filters on, the status bar read "synthetic... | 4 min 0... | 00:00.0... |
    montage: Bipolar longitudinal (double banana) | display filter: EEG 0.5-35 Hz, ..." even at 1600 px: the
    page's time span was cut for the filter list (which the plot's legend and the tooltip also give)."""
    from mmqnet_core.preprocessing.display_filter import DisplayFilter
    from mmqnet_core.recording import Modality

    from .conftest import open_all_rows

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    window.resize(width, 800)
    qtbot.waitUntil(lambda: window.width() == width)
    b.set_montage_index(3)  # double banana
    b.set_channels_per_page(2)  # "| ch 1-2/9" in the page text too
    b.state.set_filters({m: DisplayFilter(0.5, 35.0, 50.0) for m in (Modality.EEG, Modality.EOG)}
                        | {Modality.GSR: DisplayFilter(None, 1.0, None), Modality.RESP: DisplayFilter(0.05, 2.0, None)})
    b.state.set_filters_on(True)
    window.runner.busyChanged.emit(True)  # the progress bar and Cancel take their room too
    qtbot.wait(100)
    display = window.browser_controls.display_label
    assert "display filter" in display.text()
    page = window.page_label
    assert page.shown_text() == page.text() and "00:00.0-" in page.text() and "| ch 1-2/" in page.text()
    assert not window.info_label.is_elided or width == 1024
    assert display.isVisible() and display.width() > 0
    assert display.fontMetrics().horizontalAdvance(display.shown_text()) <= display.contentsRect().width()
    window.runner.busyChanged.emit(False)


# --- Clock axis of a recording over several days: ticks as dense as without dates -----------------------------------
def _drawn_labels(axis):
    lo, hi = axis.range
    spacing, values = axis.tickValues(lo, hi, axis.width())[0]
    strings = axis.tickStrings(values, 1.0, spacing)
    xs = [(v - lo) / (hi - lo) * axis.width() for v in values]
    return [(x, s, axis._text_px(s)) for x, s in zip(xs, strings) if s]


@pytest.mark.parametrize("page_s, start_s", [(120.0, 48600.0), (60.0, 86370.0), (30.0, 10.0), (300.0, 3600.0)])
def test_a_dated_clock_axis_has_as_many_labels_as_an_undated_one(window, tmp_path, qtbot, monkeypatch, page_s,
                                                                   start_s):
    """A 24-h recording from midnight, clock time (T), a 2-min page: three labels ("2000-01-01 13:30:30",
    "13:31:00", "13:31:30") over 900 px, because the step was spaced for a date on every label. Now the step
    is spaced for the times, and the labels beside a dated one are left out (their ticks stay)."""
    from .test_reading_session12_fix import _recording

    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.resize(1600, 1000)
    window.set_recording(_recording(dt.datetime(2000, 1, 1, 0, 0, 0), 2 * 86400.0), tmp_path / "synthetic_day.bdf")
    from .conftest import wait_loaded

    wait_loaded(qtbot, window)
    b = window.browser
    b.set_page_length(page_s)
    qtbot.keyClick(b, Qt.Key.Key_T)
    b.set_start(start_s)
    qtbot.wait(50)
    axis = b.plot.getAxis("bottom")
    assert axis.dates_shown() and axis.width() > 600
    labels = _drawn_labels(axis)
    dated = [s for _x, s, _w in labels if " " in s]
    assert dated and dated[0].startswith("2000-01-0")  # the page's day is said
    if start_s + page_s > 86400.0:
        assert dated[-1].startswith("2000-01-02 00:00:")  # and the new day where it starts
    # as many labels as the same page without dates, less the ones a date covers
    qtbot.keyClick(b, Qt.Key.Key_T)  # time from the start: the same page without dates
    undated = len(axis.tickValues(*axis.range, axis.width())[0][1])
    qtbot.keyClick(b, Qt.Key.Key_T)
    assert len(labels) >= undated - 2 * len(dated) and len(labels) >= 5
    # no two drawn labels overlap
    for (x0, _s0, w0), (x1, _s1, w1) in zip(labels, labels[1:]):
        assert x1 - x0 >= (w0 + w1) / 2


# --- The Tools toolbar never costs a row of traces ------------------------------------------------------------------
@pytest.mark.parametrize("width", [1024, 1280, 1350, 1700])
def test_the_tools_take_no_row_of_their_own(window, recording, tmp_path, qtbot, monkeypatch, width):
    """Below ~1400 px (the first start's 1280-px window too) Measure, Filters, Mask mode and Run went to a second
    toolbar row under the main one: a row of the traces' height lost. They now sit in the menu bar's free right
    part, whole, at every width."""
    from PySide6.QtWidgets import QToolBar, QToolButton

    from .conftest import open_all_rows

    open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    main = window.findChild(QToolBar, "MainToolBar")
    tools = window.findChild(QToolBar, "ToolsToolBar")
    window.resize(width, 700)
    qtbot.waitUntil(lambda: window.width() == width)
    qtbot.wait(50)
    bar = window.menuBar()
    # the tools lie inside the menu bar's row, right of its last menu, and the main toolbar is the only row under it
    top_left = tools.mapTo(window, tools.rect().topLeft())
    assert bar.geometry().top() <= top_left.y() and top_left.y() + tools.height() <= bar.geometry().bottom() + 1
    last_menu = bar.actionGeometry(bar.actions()[-1])
    assert top_left.x() >= last_menu.right()
    assert tools.geometry().right() <= bar.width()
    browser_top = window.browser.mapTo(window, window.browser.rect().topLeft()).y()
    assert browser_top < bar.height() + main.height() + 40  # no second toolbar row above the browser
    for action in (window.browser_controls.measure_action, window.browser_controls.filters_action,
                   window.mask_mode_action, window.run_action):
        button = tools.widgetForAction(action)
        assert isinstance(button, QToolButton) and button.isVisible()
        assert button.mapTo(window, button.rect().topRight()).x() <= width
    ext = [b for b in tools.findChildren(QToolButton) if b.objectName() == "qt_toolbar_ext_button"]
    assert not any(b.isVisible() for b in ext)


# --- Measurement cursors follow the pages ---------------------------------------------------------------------------
def test_measurement_cursors_stay_in_view_when_paging(window, recording, tmp_path, qtbot, monkeypatch):
    """Q, then PageDown: the cursors stayed on the old page; Measure stayed on with no cursor in view and the
    read-out gave the old page's Δt without an amplitude. Now they move with the page; a quarter-page step
    leaves cursors that are still in view on the waves they mark."""
    from .conftest import open_all_rows

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    b.set_page_length(10.0)
    b.set_start(0.0)
    qtbot.keyClick(b, Qt.Key.Key_Q)
    assert b.measuring
    before = [line.value() for line in b._measure]
    qtbot.keyClick(b, Qt.Key.Key_PageDown)
    start, stop = b.visible_range()
    assert start == pytest.approx(10.0)
    after = [line.value() for line in b._measure]
    assert all(start <= v <= stop for v in after)
    assert after == pytest.approx([v + 10.0 for v in before])  # the same place on the screen
    assert "\u0394t 3.333 s" in b.readout and "\u0394Fp1" in b.readout  # the amplitude of the page in view
    # a quarter page on: the cursors (at 13.3 and 16.7 s) are still in view and stay where they are
    qtbot.keyClick(b, Qt.Key.Key_Right)
    assert b.visible_range()[0] == pytest.approx(12.5)
    assert [line.value() for line in b._measure] == pytest.approx(after)
    # the last page: moved and kept inside the recording
    qtbot.keyClick(b, Qt.Key.Key_End)
    start, stop = b.visible_range()
    assert all(start <= line.value() <= stop for line in b._measure)


def test_measurement_cursors_by_keyboard(window, recording, tmp_path, qtbot, monkeypatch):
    """Keyboard only: Q showed the cursors at a third and two thirds of the page, and only the mouse could move
    them or choose the channel measured. Ctrl+Left/Right move A, Ctrl+Shift+Left/Right move B (a hundredth of
    the page), Ctrl+Up/Down choose the channel; without the cursors these keys do nothing."""
    from .conftest import open_all_rows

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    b.set_page_length(10.0)
    b.set_start(0.0)
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(b, Qt.Key.Key_Right, ctrl)  # not measuring: nothing moves, no cursor appears
    assert not b.measuring and b.visible_range()[0] == pytest.approx(0.0)
    qtbot.keyClick(b, Qt.Key.Key_Q)
    a0, b0 = (line.value() for line in b._measure)
    for _ in range(3):
        qtbot.keyClick(b, Qt.Key.Key_Right, ctrl)
    qtbot.keyClick(b, Qt.Key.Key_Left, ctrl | shift)
    a1, b1 = (line.value() for line in b._measure)
    assert a1 == pytest.approx(a0 + 0.3) and b1 == pytest.approx(b0 - 0.1)
    assert b.visible_range()[0] == pytest.approx(0.0)  # the page did not move
    assert f"\u0394t {b1 - a1:.3f} s" in b.readout
    names = b.page_channels
    qtbot.keyClick(b, Qt.Key.Key_Down, ctrl)  # the first row, then the next
    qtbot.keyClick(b, Qt.Key.Key_Down, ctrl)
    assert f"\u0394{names[1]} " in b.readout
    qtbot.keyClick(b, Qt.Key.Key_Up, ctrl)
    assert f"\u0394{names[0]} " in b.readout
    for _ in range(200):  # kept on the page
        qtbot.keyClick(b, Qt.Key.Key_Left, ctrl)
    assert b._measure[0].value() == pytest.approx(0.0)


# --- Event list onsets ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("t_s, text", [(59.97, "1:00.0"), (3599.96, "1:00:00.0"), (119.95, "2:00.0"),
                                       (4.596, "0:04.6"), (59.94, "0:59.9")])
def test_event_list_onsets_never_read_60_seconds(t_s, text):
    """An annotation at 59.97 s was listed at "0:60.0" (and 3599.96 s at "59:60.0")."""
    from app.event_list import format_time

    assert format_time(t_s) == text


# --- The legend keeps its colour keys in a narrow window -----------------------------------------------------------
def test_the_legend_keeps_raw_and_cleaned_in_a_narrow_window(window, recording, tmp_path, qtbot, monkeypatch):
    """At 1024 px with raw and cleaned overlaid and a display filter, the legend (anchored at the view's right
    edge) was wider than the view: its left part, "raw" and both colour keys, was cut off, and nothing said
    which colour was which. The longest text that fits is shown now, the whole in its tooltip."""
    from mmqnet_core.preprocessing.display_filter import DisplayFilter
    from mmqnet_core.recording import Modality

    from .conftest import open_all_rows, wait_loaded

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    type(window).start_cleaning(window)  # the cleaning runs (open_all_rows left it out): "cleaned" can be shown
    wait_loaded(qtbot, window, cleaned=True)
    b.state.set_filters({m: DisplayFilter(0.5, 35.0, 50.0) for m in (Modality.EEG, Modality.EOG)}
                        | {Modality.GSR: DisplayFilter(None, 1.0, None)})
    b.state.set_filters_on(True)
    b.set_mode("both")
    for width in (1600, 1024, 900):
        window.resize(width, 700)
        qtbot.waitUntil(lambda: window.width() == width)
        qtbot.wait(400)  # the page is drawn again once resizing settles
        b.refresh()
        text = b.legend_text()
        assert "raw" in text and "cleaned" in text, (width, text)
        assert b._legend.boundingRect().width() <= b._vb.width() - 8, (width, text)
        if width == 1600:
            assert "display filter: EEG 0.5-35 Hz" in text
        else:
            assert "display filter: EEG 0.5-35 Hz" in b._legend.toolTip() or "display filter: EEG" in text


# --- F with no display filter set ----------------------------------------------------------------------------------
def test_f_without_display_filters_says_where_to_set_them(window, recording, tmp_path, qtbot, monkeypatch):
    """A fresh install has no display filters: F switched a hidden flag, nothing changed on the screen and
    nothing said why. Now the status bar says where they are set; with filters set, F still switches them."""
    from mmqnet_core.preprocessing.display_filter import DisplayFilter
    from mmqnet_core.recording import Modality

    from .conftest import open_all_rows

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    b.state.set_filters({})
    on = b.state.filters_on
    qtbot.keyClick(b, Qt.Key.Key_F)
    assert b.state.filters_on == on
    assert "View > Display filters" in window.page_label.text()
    b.state.set_filters({Modality.ECG: DisplayFilter(0.5, 40.0, None)})  # none of this recording's modalities
    qtbot.keyClick(b, Qt.Key.Key_F)
    assert b.state.filters_on == on and "View > Display filters" in window.page_label.text()
    window.browser_controls.set_filters({Modality.EEG: DisplayFilter(0.5, 35.0, None)})
    assert b.state.filters_on
    qtbot.keyClick(b, Qt.Key.Key_F)
    assert not b.state.filters_on and "display filters off (F)" in window.browser_controls.display_label.text()
    qtbot.keyClick(b, Qt.Key.Key_F)
    assert b.state.filters_on


def test_shift_a_with_the_measurement_cursors_annotates_their_span(window, recording, tmp_path, qtbot, monkeypatch):
    """Keyboard only, a span (a seizure, an artefact) could not be annotated: Shift+A made an instant at the
    cursor, and a span took a drag in annotate mode. With Q's cursors shown, Shift+A offers the span A-B."""
    from .conftest import open_all_rows

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    review = window.review
    asked = []

    def fake_ask(entry, title):
        asked.append((entry.onset, entry.duration, title))
        return {"onset": entry.onset, "duration": entry.duration, "text": "seizure", "kind": "event",
                "channels": ()}

    monkeypatch.setattr(review.layer, "_ask", fake_ask)
    b.set_start(20.0)
    qtbot.keyClick(b, Qt.Key.Key_Q)
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(b, Qt.Key.Key_Right, ctrl | shift)  # B a hundredth of the page later
    review.annotate_cursor_action.trigger()  # Shift+A
    onset, duration, title = asked[-1]
    assert onset == pytest.approx(20.0 + 10.0 / 3) and duration == pytest.approx(10.0 / 3 + 0.1)
    entry = [e for e in review.store.annotations if e.text == "seizure"][0]
    assert entry.duration == pytest.approx(10.0 / 3 + 0.1)
    qtbot.keyClick(b, Qt.Key.Key_Q)  # without the cursors: an instant, as before
    review.annotate_cursor_action.trigger()
    assert asked[-1][1] == 0.0


# --- The annotation dialog reads time as the axis does ------------------------------------------------------------
def test_annotation_onset_is_a_clock_time_when_the_axis_shows_clock_time(window, recording, tmp_path, qtbot,
                                                                          monkeypatch):
    """A recording started at 22:14:05 read in clock time (T): the axis and the event list said 22:15:45 for an
    event that the annotation dialog's onset gave as 01:40.000 (from the start)."""
    from app.annotation_layer import AnnotationDialog

    from .conftest import open_all_rows

    recording.raw.set_meas_date(dt.datetime(2024, 3, 1, 22, 14, 5, tzinfo=dt.timezone.utc))
    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    layer = window.review.layer
    seen = []
    real_init = AnnotationDialog.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        seen.append(self.onset_edit.text())
        self.onset_edit.lineEdit().setText("22:14:50.5")  # typed as the axis reads it
        self.onset_edit.interpretText()
        seen.append(self.onset_edit.value())

    monkeypatch.setattr(AnnotationDialog, "__init__", spy)
    monkeypatch.setattr(AnnotationDialog, "exec", lambda self: 1)
    qtbot.keyClick(b, Qt.Key.Key_T)
    assert b.state.clock_time
    entry_id = layer.create(40.0, 0.0)
    assert seen[0] == "22:14:45.000"
    assert seen[1] == pytest.approx(45.5)
    assert window.review.store.annotations.get(entry_id).onset == pytest.approx(45.5)
    qtbot.keyClick(b, Qt.Key.Key_T)  # time from the start again: as before
    seen.clear()
    layer.create(40.0, 0.0)
    assert seen[0] == "00:40.000"


# --- A page longer than the recording ------------------------------------------------------------------------------
def test_a_page_longer_than_the_recording_measures_and_reports_its_data(window, tmp_path, qtbot, monkeypatch):
    """A 4-s recording on a 30-s page: the status bar said "00:00.0-00:30.0" and Q put the cursors at 10 and 20 s,
    past the recording's end (no amplitude read, nothing under them)."""
    from .conftest import make_recording, wait_loaded

    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.set_recording(make_recording(duration_s=4.0), tmp_path / "short.bdf")
    wait_loaded(qtbot, window)
    b = window.browser
    b.set_page_length(30.0)
    qtbot.wait(50)
    assert b.visible_range() == (0.0, 30.0)  # the page keeps its length (its mm/s)
    assert "00:00.0-00:04.0" in window.page_label.text()
    b.toggle_measure()
    values = [line.value() for line in b.measure_cursors]
    assert values == pytest.approx([4.0 / 3, 8.0 / 3])
    assert "\u0394Fp1" in b.readout  # an amplitude is read: the cursors lie on data
    for _ in range(100):
        b.nudge_measure(1, 0.01)
    assert b.measure_cursors[1].value() == pytest.approx(4.0)


# --- The time axis' title names the format its labels use ---------------------------------------------------------
def test_the_time_axis_title_allows_the_mm_ss_labels(window, recording, tmp_path, qtbot, monkeypatch):
    """Under an hour the labels read mm:ss ("00:05" is 5 s), under a title "time from start (h:mm:ss)": "00:05"
    read as five minutes."""
    from .conftest import open_all_rows

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    axis = b.plot.getAxis("bottom")
    lo, hi = axis.range
    spacing, values = axis.tickValues(lo, hi, axis.width())[0]
    assert "00:05" in axis.tickStrings(values, 1.0, spacing)
    assert axis.labelText == "time from start ([h:]mm:ss)"
    assert axis.tickStrings([3725.0], 1.0, 1.0) == ["1:02:05"]


def test_the_spectrum_span_reads_clock_time_when_the_axis_does(window, recording, tmp_path, qtbot, monkeypatch):
    """With clock time on the axis (T), the spectrum dialog's From/To, its title and its spectrogram's axis gave
    the time from the start (01:40 for a page at 22:15:45)."""
    from .conftest import open_all_rows

    recording.raw.set_meas_date(dt.datetime(2024, 3, 1, 22, 14, 5, tzinfo=dt.timezone.utc))
    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    b.set_start(20.0)
    qtbot.keyClick(b, Qt.Key.Key_T)
    dialog = window.review.show_spectrum()
    qtbot.addWidget(dialog)
    assert dialog.start_edit.text() == "22:14:25.00" and dialog.stop_edit.text() == "22:14:35.00"
    dialog.stop_edit.lineEdit().setText("22:14:40")
    dialog.stop_edit.interpretText()
    assert dialog.stop_edit.value() == pytest.approx(35.0)
    dialog.update_spectrum()
    assert dialog.windowTitle().endswith("22:14:25.0-22:14:40.0")
    assert dialog.sg_plot.getPlotItem().getAxis("bottom").labelText.startswith("clock time")
    dialog.close()


# --- Sensitivities of 1000 µV/mm and more --------------------------------------------------------------------------
@pytest.mark.parametrize("per_mm, shown", [(1234.0, "1230"), (10500.0, "10500"), (7.0, "7"), (0.5, "0.5")])
def test_a_large_sensitivity_is_written_without_an_exponent(window, recording, tmp_path, qtbot, monkeypatch,
                                                            per_mm, shown):
    """The 1-h bench BDF (EEG of ~1 mV) opened at 1050 µV/mm: the toolbar's box read "05e+03" (the start of
    "1.05e+03" cut off) and the page caption "EEG 1.05e+03 µV/mm"."""
    from .conftest import open_all_rows

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    b.set_sensitivity(per_mm)
    qtbot.wait(20)
    combo = window.browser_controls.sens_combo
    assert combo.currentText() == shown
    assert f"EEG {shown} \u00b5V/mm" in b.calibration_text()
    assert combo.lineEdit().fontMetrics().horizontalAdvance(shown) <= combo.lineEdit().width()
    from app.browser_state import format_number  # the helper: as "g" writes, without an exponent

    assert format_number(0.01234) == "0.0123" and format_number(99.96) == "100" and format_number(2e7) == "2e+07"


def test_the_tools_are_a_toolbar_where_the_menu_bar_is_native(qtbot, settings_file, monkeypatch):
    """macOS' global menu bar shows no corner widget: there the tools stay a toolbar of the window."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMenuBar, QToolBar

    from app.main_window import MainWindow

    monkeypatch.setattr(QMenuBar, "isNativeMenuBar", lambda self: True)
    win = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    try:
        tools = win.findChild(QToolBar, "ToolsToolBar")
        assert win.menuBar().cornerWidget(Qt.Corner.TopRightCorner) is None
        assert win.toolBarArea(tools) == Qt.ToolBarArea.TopToolBarArea and tools.isVisible()
    finally:
        win.close()
        assert win.runner.wait_for_all(10)


# --- Average reference without the channels masked whole -----------------------------------------------------------
def test_a_channel_masked_whole_leaves_the_display_average_reference(window, recording, tmp_path, qtbot,
                                                                     monkeypatch):
    """A bad electrode masked whole (a mask means missing data: the cleaning's average reference leaves it out)
    still entered the average reference drawn: its artefact showed on every "-avg" row."""
    import numpy as np

    from .conftest import open_all_rows

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    b.set_montage_index(1)  # average reference
    qtbot.wait(50)
    eeg = ["Fp1", "Fz", "Cz", "Pz"]
    row = [d.name for d in b._row_defs].index("Fz-avg")
    assert set(b._row_defs[row].reference) == set(eeg)
    data = recording.raw.get_data(picks=eeg)

    def drawn(t_s: float) -> float:
        page = b._current_page()
        return page.value_at(row, t_s)

    t = 3.0
    k = int(round(t * recording.raw.info["sfreq"]))
    assert drawn(t) == pytest.approx(data[1, k] - data[:, k].mean(), abs=1e-9)
    window.model.toggle_channel_mask("Cz")  # Cz is bad
    qtbot.wait(50)
    row = [d.name for d in b._row_defs].index("Fz-avg")
    assert "Cz" not in b._row_defs[row].reference
    kept = data[[0, 1, 3], k]
    assert drawn(t) == pytest.approx(data[1, k] - kept.mean(), abs=1e-9)
    assert "Cz-avg" in [d.name for d in b._row_defs]  # the bad channel's own row stays (masked)
    window.model.toggle_channel_mask("Cz")  # unmasked: back in the reference
    qtbot.wait(50)
    row = [d.name for d in b._row_defs].index("Fz-avg")
    assert set(b._row_defs[row].reference) == set(eeg)
    assert np.isfinite(drawn(t))


def test_the_cleaned_average_reference_is_drawn_with_a_channel_masked_whole(window, recording, tmp_path, qtbot,
                                                                            monkeypatch):
    """The cleaned signal is empty (NaN) under a mask, and a row using a missing sample is missing: with a channel
    masked whole, every cleaned "-avg" row was blank."""
    import numpy as np

    from .conftest import open_all_rows, wait_loaded

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    window.model.toggle_channel_mask("Cz")
    type(window).start_cleaning(window)  # open_all_rows left the cleaning out
    wait_loaded(qtbot, window, cleaned=True)
    b.set_montage_index(1)  # average reference
    b.set_mode("cleaned")
    qtbot.wait(100)
    b.refresh()
    page = b._current_page()
    names = [d.name for d in b._row_defs]
    for name in ("Fp1-avg", "Fz-avg", "Pz-avg"):
        assert np.isfinite(page.value_at(names.index(name), 3.0)), name


def test_a_long_hint_after_the_page_position_is_what_shrinks(window, recording, tmp_path, qtbot, monkeypatch):
    """The page label keeps its position part whole; a long hint after it is elided instead of pushing the
    status bar's other texts out of a 1024-px window."""
    from .conftest import open_all_rows

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024)
    window.runner.busyChanged.emit(True)
    b.set_montage_index(3)
    b.set_channels_per_page(2)
    qtbot.wait(100)
    b.status = "masks are per recorded channel: show the montage 'As recorded' (Ctrl+1) to mask one " * 2
    window._update_page_label()  # (the next page drawn clears the hint)
    window.statusBar().layout().activate()
    page = window.page_label
    assert "masks are per recorded channel" in page.text()
    assert page.shown_text().startswith("| 00:00.0-00:10.0 | ch 1-2/")
    assert page.is_elided  # the hint is what gave way
    bar = window.statusBar()
    for label in (window.file_label, window.info_label, page):
        assert label.isVisible() and label.fontMetrics().horizontalAdvance(label.shown_text()) <= label.width()
        assert label.geometry().right() <= bar.width()
    window.runner.busyChanged.emit(False)


# --- Polarity: negative up ----------------------------------------------------------------------------------------
def test_negative_up_draws_a_negative_deflection_upwards_and_is_kept(window, recording, tmp_path, qtbot, monkeypatch,
                                                                       settings_file):
    """Clinical EEG is read negative up (a negative spike points up); the browser drew positive up only, with no
    way to change it. I (View > Negative up) flips the traces, the status bar and exported pages say so, and the
    choice is kept for the next start; values read out are unchanged."""
    from PySide6.QtCore import QSettings

    from app.main_window import MainWindow

    from .conftest import open_all_rows

    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    row = 1  # Fz
    t = 3.0

    def y_and_value():
        page = b._current_page()
        k = int(round((t - page.t0) * page.sfreq))
        return page.values[row, k], page.y[row], page.value_at(row, t)

    raw, y_pos, value = y_and_value()
    qtbot.keyClick(b, Qt.Key.Key_I)
    assert b.state.negative_up and window.browser_controls.polarity_action.isChecked()
    raw2, y_neg, value2 = y_and_value()
    assert value2 == value  # the read-out is the signal, not the drawing
    # the drawing is mirrored about the row's centre line (y grows downwards: row 1's line is y = 1)
    import numpy as np

    pairs = lambda y: np.sort(y.reshape(-1, 2), axis=1)  # noqa: E731 (decimated (min, max) pairs, in y order)
    assert pairs(y_neg) == pytest.approx(pairs(2 * row - y_pos), abs=1e-9)
    assert "negative up" in window.browser_controls.display_label.text()
    assert "negative up" in b.display_summary()
    from app.browser_export import page_caption

    assert "; negative up." in page_caption(b)[-1]  # an exported page says which way a spike points
    # kept for the next start
    win2 = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    qtbot.addWidget(win2)
    try:
        assert win2.browser.state.negative_up
    finally:
        win2.close()
        assert win2.runner.wait_for_all(10)
    qtbot.keyClick(b, Qt.Key.Key_I)
    assert not b.state.negative_up
    assert b._current_page().y[row] == pytest.approx(y_pos)


def test_the_read_out_of_a_large_value_has_no_exponent(window, recording, tmp_path, qtbot, monkeypatch):
    """An electrode pop of 12.34 mV read "1.234e+04 µV" under the mouse and in the cursors' Δamplitude."""
    from PySide6.QtCore import QPointF

    from .conftest import open_all_rows

    recording.raw._data[1] *= 0  # Fz: a step of 12.34 mV at 5 s (in V)
    recording.raw._data[1, int(5 * recording.raw.info["sfreq"]):] = 12.34e-3
    b = open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)
    b.set_measure(2.0, 7.0, row=1)
    b._hover_scene = None
    b._hover = (7.0, 1)
    b._update_readout()
    assert "Fz 12340 \u00b5V" in b.readout and "\u0394Fz 12340 \u00b5V" in b.readout, b.readout
    assert "e+" not in b.readout


def test_a_layout_saved_with_the_tools_in_the_toolbar_area_keeps_them_shown(qtbot, settings_file):
    """A window layout saved by session 12's app had the tools toolbar in the toolbar area (its own row): restoring
    it at the next start moved the toolbar out of the menu bar and hid it (no Measure, Filters or Run)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QToolBar

    from app.main_window import STATE_VERSION, MainWindow

    def make():
        win = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        return win

    old = make()
    tools = old.findChild(QToolBar, "ToolsToolBar")
    old.addToolBar(tools)  # as session 12 laid it out, on a row of its own
    old.insertToolBarBreak(tools)
    state = old.saveState(STATE_VERSION)
    old.close()
    assert old.runner.wait_for_all(10)
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    settings.setValue("window/state", state)
    settings.sync()
    win = make()
    try:
        tools = win.findChild(QToolBar, "ToolsToolBar")
        assert win.menuBar().cornerWidget(Qt.Corner.TopRightCorner) is tools
        assert tools.isVisible() and tools.widgetForAction(win.run_action).isVisible()
        win.reset_layout()  # View > Reset layout: the same
        assert tools.isVisible() and win.menuBar().cornerWidget(Qt.Corner.TopRightCorner) is tools
    finally:
        win.close()
        assert win.runner.wait_for_all(10)


# --- A bare clock time on a recording of several days: the day shown ------------------------------------------------
def test_a_bare_clock_time_lands_on_the_day_shown(window, tmp_path, qtbot, monkeypatch):
    """On day 3 of a 72-h recording, Ctrl+G "14:00" (T on) went back to day 1's 14:00; it goes to the day shown
    now (another day by date, as before)."""
    from PySide6.QtWidgets import QInputDialog

    from .test_reading_session12_fix import _recording
    from .conftest import wait_loaded

    start = dt.datetime(2024, 3, 1, 9, 0, 0)
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.set_recording(_recording(start, 3 * 86400.0), tmp_path / "synthetic_ambulatory.bdf")
    wait_loaded(qtbot, window)
    b = window.browser
    qtbot.keyClick(b, Qt.Key.Key_T)
    b.set_start(2 * 86400.0)  # 2024-03-03 09:00
    typed, answers = [], ["14:00", "08:00"]
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (typed.append(a[2]), (answers.pop(0), True))[1])
    b.ask_jump()
    assert "(on the day shown)" in typed[0]
    assert b.state.start_s == pytest.approx(2 * 86400.0 + 5 * 3600.0)  # 2024-03-03 14:00
    b.set_start(86400.0 + 3600.0)  # 2024-03-02 10:00
    b.ask_jump()  # "08:00": earlier that day
    assert b.state.start_s == pytest.approx(23 * 3600.0)  # 2024-03-02 08:00
    assert parse_time("14:00", duration_s=3 * 86400.0, start=start, clock=True) == pytest.approx(5 * 3600.0)
    # the last day holds no 10:00 (it ends at 09:00): the nearest, the day before
    assert parse_time("@10:00", duration_s=3 * 86400.0, start=start,
                      near_s=3 * 86400.0 - 60.0) == pytest.approx(2 * 86400.0 + 3600.0)


def test_a_clock_time_typed_in_the_annotation_dialog_stays_on_its_day(qtbot):
    """The onset box of an annotation on day 2 of a 3-day recording: "10:30" went to day 1."""
    from app.time_edit import TimeSpinBox

    start = dt.datetime(2024, 3, 1, 9, 0, 0)
    box = TimeSpinBox(3 * 86400.0, decimals=3, start=start)
    qtbot.addWidget(box)
    box.setValue(86400.0 + 3600.0)  # 2024-03-02 10:00
    assert box.text() == "10:00:00.000"
    box.lineEdit().setText("10:30")
    box.interpretText()
    assert box.value() == pytest.approx(86400.0 + 5400.0)  # 2024-03-02 10:30
