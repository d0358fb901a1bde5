"""Session 12 fixes found by reading the app as a new user: the clock-time axis of a recording that passes midnight
says which day each time is on; the main toolbar fits a 1024-px window."""

from __future__ import annotations

import datetime as dt

import mne
import numpy as np
from PySide6.QtCore import Qt

from mmqnet_core.recording import ChannelInfo, Modality, Recording

from .conftest import wait_loaded

SFREQ = 32.0


def _recording(start: dt.datetime, duration_s: float) -> Recording:
    """SYNTHETIC: two sines from ``start`` (clock time of the first sample)."""
    t = np.arange(int(duration_s * SFREQ)) / SFREQ
    raw = mne.io.RawArray(np.vstack([np.sin(2 * np.pi * 0.5 * t), np.cos(2 * np.pi * 0.2 * t)]),
                          mne.create_info(["a", "b"], SFREQ, ["misc", "misc"]), verbose=False)
    raw.set_meas_date(start.replace(tzinfo=dt.timezone.utc))
    return Recording(raw=raw, channels=(ChannelInfo("a", Modality.MISC, SFREQ, ""),
                                        ChannelInfo("b", Modality.MISC, SFREQ, "")), is_synthetic=True)


def _page_strings(browser) -> list[str]:
    axis = browser.plot.getAxis("bottom")
    lo, hi = axis.range
    levels = axis.tickValues(lo, hi, axis.width())
    return axis.tickStrings(levels[0][1], 1.0, levels[0][0])


def test_the_clock_axis_of_a_recording_past_midnight_shows_the_date(window, tmp_path, qtbot, monkeypatch):
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.set_recording(_recording(dt.datetime(2024, 2, 29, 23, 50), 1800.0), tmp_path / "synthetic_night.bdf")
    wait_loaded(qtbot, window)
    b = window.browser
    b.set_page_length(60.0)
    qtbot.keyClick(b, Qt.Key.Key_T)
    assert b.state.clock_time
    axis = b.plot.getAxis("bottom")
    # the page across midnight: the first label and the first of the new day carry their dates, the others not
    b.set_start(550.0)  # 23:59:10 to 00:00:10
    qtbot.wait(20)
    strings = _page_strings(b)
    dated = [s for s in strings if "-" in s]
    assert dated[0].startswith("2024-02-29 23:59:") and strings.index(dated[0]) <= 1  # the first drawn whole
    assert dated[1:] == ["2024-03-01 00:00:00"]
    # a page on the second day: its first label says the day
    b.set_start(1200.0)  # 00:10:00
    qtbot.wait(20)
    strings = _page_strings(b)
    dated = [s for s in strings if "-" in s]
    assert len(dated) == 1 and dated[0].startswith("2024-03-01 00:1") and strings.index(dated[0]) <= 1
    # the labels with their dates do not run together (session 13: the step is spaced for the times and the
    # labels beside a dated one are left out; this checked that the step left room for a date on every label)
    lo, hi = axis.range
    values = axis.tickValues(lo, hi, axis.width())[0][1]
    drawn = [((v - lo) / (hi - lo) * axis.width(), axis._text_px(s)) for v, s in zip(values, strings) if s]
    assert len(drawn) >= 2
    for (x0, w0), (x1, w1) in zip(drawn, drawn[1:]):
        assert x1 - x0 >= (w0 + w1) / 2
    # time from the start (T again): no dates
    qtbot.keyClick(b, Qt.Key.Key_T)
    assert not any("-" in s for s in _page_strings(b))


def test_a_recording_within_one_day_keeps_its_short_clock_labels(window, tmp_path, qtbot, monkeypatch):
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.set_recording(_recording(dt.datetime(2024, 3, 1, 14, 0), 600.0), tmp_path / "synthetic_day.bdf")
    wait_loaded(qtbot, window)
    b = window.browser
    qtbot.keyClick(b, Qt.Key.Key_T)
    assert b.state.clock_time
    strings = _page_strings(b)
    assert strings and all(len(s) == 8 and s.startswith("14:0") for s in strings)  # hh:mm:ss, no date


def test_the_main_toolbar_fits_a_1024_px_window(window, tmp_path, qtbot, monkeypatch):
    """At 1024 px Montage, Measure, Filters, Mask mode, Undo/Redo and Run sat behind the toolbar's >> button; the
    tools are a toolbar of their own (session 13: in the menu bar's corner)."""
    from PySide6.QtWidgets import QToolBar, QToolButton

    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.set_recording(_recording(dt.datetime(2024, 3, 1, 14, 0), 600.0), tmp_path / "synthetic_day.bdf")
    wait_loaded(qtbot, window)
    controls = window.browser_controls
    main = window.findChild(QToolBar, "MainToolBar")
    tools = window.findChild(QToolBar, "ToolsToolBar")
    for width in (1024, 1700):
        window.resize(width, 700)
        qtbot.waitUntil(lambda: window.width() == width)
        qtbot.wait(50)
        for toolbar in (main, tools):
            hidden = [a.text() or type(toolbar.widgetForAction(a)).__name__ for a in toolbar.actions()
                      if toolbar.widgetForAction(a) is not None and not toolbar.widgetForAction(a).isVisible()]
            assert hidden == []
            ext = [b for b in toolbar.findChildren(QToolButton) if b.objectName() == "qt_toolbar_ext_button"]
            assert not any(b.isVisible() for b in ext)
            assert toolbar.geometry().right() < width
        for widget in (controls.montage_combo, tools.widgetForAction(controls.measure_action),
                       tools.widgetForAction(window.mask_mode_action), tools.widgetForAction(window.run_action)):
            assert widget.isVisible()
        # session 13: the tools sit at the right of the menu bar at every width (below ~1400 px they took a row
        # of their own under the main toolbar; this asserted that second row at 1024 px)
        assert window.menuBar().cornerWidget(Qt.Corner.TopRightCorner) is tools
    # the montage list still shows its names in full
    combo = controls.montage_combo
    widest = max(combo.fontMetrics().horizontalAdvance(combo.itemText(i)) for i in range(combo.count()))
    assert combo.view().minimumWidth() >= widest


def test_the_date_is_on_the_first_label_drawn_whole(window, tmp_path, qtbot, monkeypatch):
    """A page starting at midnight: its first tick sits on the left edge, where its label is cut off (not drawn);
    the date went with it and the page read "00:00:05" alone."""
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.set_recording(_recording(dt.datetime(2024, 2, 29, 23, 58, 40), 300.0), tmp_path / "synthetic_night.bdf")
    wait_loaded(qtbot, window)
    b = window.browser
    b.set_page_length(10.0)
    qtbot.keyClick(b, Qt.Key.Key_T)
    b.set_start(80.0)  # 2024-03-01 00:00:00 to 00:00:10
    qtbot.wait(20)
    axis = b.plot.getAxis("bottom")
    lo, hi = axis.range
    values = axis.tickValues(lo, hi, axis.width())[0][1]
    strings = _page_strings(b)
    assert values[0] == 80.0 and not strings[0].startswith("2024")  # on the edge: not drawn whole
    assert strings[1].startswith("2024-03-01 00:00:")
