"""Mask editing beyond drawing: focusing a mask, dragging its edges, simulating missing data with undo."""

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from app.simulate_dialog import SimulateMissingDialog
from mmqnet_core.masking import MaskSet


def _browser_point(win, t_s, row):
    """Widget position (in the plot's viewport) of time ``t_s`` on browser row ``row``."""
    vb = win.browser.view_box()
    scene = vb.mapViewToScene(QPointF(t_s, row))
    return win.browser.plot_widget.mapFromScene(scene)


def test_click_a_segment_then_drag_its_edge(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.browser.set_page_length(20.0)
    window.model.add_segment(5.0, 10.0, ["Fz"])
    viewport = window.browser.plot_widget.viewport()
    row = window.browser.row_of("Fz")
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_browser_point(window, 7.5, row))
    assert window.model.mask_focus.segment == 0 and window.model.mask_focus.channel == "Fz"
    region = window.browser.edit_region
    assert region.isVisible() and region.getRegion() == pytest.approx((5.0, 10.0))
    steps = window.model.undo_stack.count()
    # Drag the right edge from 10 s to 13 s with the mouse.
    start, end = _browser_point(window, 10.0, row), _browser_point(window, 13.0, row)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for i in range(1, 11):
        QTest.mouseMove(viewport, start + (end - start) * i / 10)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    seg = window.model.masks.segments[0]
    assert seg.channels == ("Fz",) and seg.start_s == pytest.approx(5.0, abs=0.05)
    assert seg.end_s == pytest.approx(13.0, abs=0.1)
    assert window.model.undo_stack.count() == steps + 1  # one undoable step on release
    assert region.getRegion()[1] == pytest.approx(seg.end_s)
    window.model.undo_stack.undo()
    assert window.model.masks.segments[0].end_s == 10.0 and region.getRegion()[1] == pytest.approx(10.0)
    # A click away from masks drops the focus and hides the handles.
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_browser_point(window, 15.0, row))
    assert window.model.mask_focus is None and not region.isVisible()


def test_adjust_segment_refuses_an_empty_span(window, recording, tmp_path):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.add_segment(5.0, 10.0)
    assert window.model.adjust_segment(0, 7.0, 7.0) is False
    assert window.model.adjust_segment(0, 12.0, 8.0) is True  # edges swapped by the drag: sorted
    assert (window.model.masks.segments[0].start_s, window.model.masks.segments[0].end_s) == (8.0, 12.0)


def test_simulate_missing_is_one_undoable_step(window, recording, tmp_path, monkeypatch):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.add_segment(1.0, 2.0, ["Cz"])
    before = window.model.masks
    monkeypatch.setattr(SimulateMissingDialog, "exec", lambda self: (self.rate.setValue(40), self.seed.setValue(3),
                                                                     1)[-1])
    window.simulate_action.trigger()
    masks = window.model.masks
    simulated = [s for s in masks.segments if s.source == "simulated"]
    assert simulated and [s for s in masks.segments if s.source == "user"] == list(before.segments)
    phys = recording.channels
    assert MaskSet(segments=tuple(simulated)).masked_fraction(phys, recording.duration_s) == pytest.approx(0.4,
                                                                                                         abs=0.02)
    assert window.undo_action.text().startswith("&Undo Simulate 40 % missing data (seed 3)")
    assert window.mask_table.table.item(window.mask_table.table.rowCount() - 1, 4).text() in ("simulated", "user")
    # Same seed -> same masks; a second simulation replaces the first.
    assert window.simulate_missing(0.4, 3) is False  # nothing changed
    window.simulate_missing(0.1, 3)
    assert window.model.masks != masks
    window.model.undo_stack.undo()
    assert window.model.masks == masks
    window.model.undo_stack.undo()
    assert window.model.masks == before
    window.model.undo_stack.redo()
    window.clear_simulated_action.trigger()
    assert window.model.masks == before
    window.model.undo_stack.undo()
    assert window.model.masks == masks


def test_simulate_dialog_limits(qtbot):
    dialog = SimulateMissingDialog(rate=0.95, seed=7)
    assert dialog.values() == (0.9, 7)  # clipped to the 90 % simulate_missing accepts
    dialog.rate.setValue(25)
    assert dialog.values() == (0.25, 7)


def test_the_mask_table_keeps_room_for_the_channel_names_in_a_narrow_dock(qtbot):
    """At a 1440-px window's dock width the channel list was squeezed to "P..." by the other columns."""
    from app.mask_table import CHANNELS_MIN_PX, COLUMNS, MaskTable
    from app.model import AppModel
    from mmqnet_core.masking import SegmentMask

    model = AppModel()
    table = MaskTable(model)
    qtbot.addWidget(table)
    model.masks = MaskSet(segments=(SegmentMask(start_s=12.05, end_s=240.0, channels=("Plet", "Resp"),
                                                source="simulated"),))
    table.refresh()
    table.resize(250, 300)
    table.show()
    qtbot.waitExposed(table)
    channels = COLUMNS.index("Channels")
    assert table.table.columnWidth(channels) >= CHANNELS_MIN_PX
    fm = table.table.fontMetrics()
    assert table.table.columnWidth(channels) >= fm.horizontalAdvance("Plet, ") + 8  # a whole name at least
    # ...and it is shown first, then the times, inside the dock, not scrolled out of sight on the right.
    assert table.table.columnViewportPosition(channels) == 0
    start = COLUMNS.index("Start")
    assert table.table.columnViewportPosition(start) + fm.horizontalAdvance("00:12.05") <= table.table.viewport().width()


def test_the_mask_table_reads_times_as_the_browser_does(qtbot):
    """Start and end in h:mm:ss from the start, like the time axis and the event list (a mask 48 min into a
    recording read "2873.45"); the seconds are in the tooltip."""
    from app.mask_table import COLUMNS, MaskTable
    from app.model import AppModel
    from mmqnet_core.masking import SegmentMask

    model = AppModel()
    table = MaskTable(model)
    qtbot.addWidget(table)
    model.masks = MaskSet(segments=(SegmentMask(start_s=2873.45, end_s=3725.5, channels=("Fz",), source="user"),))
    table.refresh()
    start, end = table.table.item(0, COLUMNS.index("Start")), table.table.item(0, COLUMNS.index("End"))
    assert (start.text(), end.text()) == ("47:53.45", "1:02:05.50")
    assert start.toolTip() == "2873.45 s from the start" and end.toolTip() == "3725.50 s from the start"
