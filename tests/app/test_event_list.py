"""Event list: every annotation in a table, search, type filter, double-click to jump, Delete with undo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.event_list import ALL_TYPES, EventList, format_time


def _texts(events: EventList) -> list[str]:
    return [e.text for e in events.shown_entries()]


def test_lists_the_recording_and_user_annotations(window, recording, tmp_path):
    window.set_recording(recording, tmp_path / "rec.bdf")
    store, events = window.review.store, window.review.event_list
    assert _texts(events) == ["SYNTHETIC stimulus", "button"]
    store.add(12.0, 1.0, "Eyes closed", "event")
    store.add(40.0, 0.0, "eyes open", "note")
    assert _texts(events) == ["SYNTHETIC stimulus", "Eyes closed", "button", "eyes open"]
    assert [events.type_combo.itemText(i) for i in range(events.type_combo.count())] == [
        ALL_TYPES, "event", "note", "recording"]
    assert events.count_label.text() == "4 annotations"
    model = events.table_model
    assert model.data(model.index(1, 0)) == "0:12.0" and model.data(model.index(1, 2)) == "event"


def test_search_and_type_filter(window, recording, tmp_path):
    window.set_recording(recording, tmp_path / "rec.bdf")
    store, events = window.review.store, window.review.event_list
    store.add(12.0, 1.0, "Eyes closed", "event")
    store.add(40.0, 0.0, "eyes open", "note")
    events.search_edit.setText("EYES")
    assert _texts(events) == ["Eyes closed", "eyes open"]
    assert events.count_label.text() == "2 of 4 annotations"
    events.type_combo.setCurrentText("note")
    assert _texts(events) == ["eyes open"]
    events.search_edit.setText("")
    events.type_combo.setCurrentText("recording")
    assert _texts(events) == ["SYNTHETIC stimulus", "button"]
    store.add(50.0, 0.0, "later", "artifact")  # a new type keeps the chosen filter
    assert events.type_combo.currentText() == "recording"


def test_double_click_jumps_the_browser_there(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.browser.set_page_length(10.0)
    window.review.store.add(42.0, 2.0, "late event", "event")
    events = window.review.event_list
    window.show_dock(window.review.event_dock)
    row = _texts(events).index("late event")
    index = events.table_model.index(row, 3)
    events.table.scrollTo(index)
    rect = events.table.visualRect(index)
    assert events.table.isVisible() and rect.height() > 0
    viewport = events.table.viewport()
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.model.cursor_s == 42.0, timeout=2000)
    start, stop = window.browser.visible_range()
    assert start <= 42.0 <= stop and start > 0
    assert window.model.cursor_s == 42.0


def test_delete_key_removes_user_annotations_only(window, recording, tmp_path):
    window.set_recording(recording, tmp_path / "rec.bdf")
    store, events = window.review.store, window.review.event_list
    store.add(12.0, 1.0, "mine", "event")
    events.table.selectAll()
    events.delete_selected()
    assert _texts(events) == ["SYNTHETIC stimulus", "button"]  # the file's own stay
    window.model.undo_stack.undo()
    assert "mine" in _texts(events)


def test_ten_thousand_rows_filter(qtbot):
    from app.annotation_model import AnnotationModel
    from app.model import AppModel
    from mmqnet_core.annotations import AnnotationEntry, AnnotationSet

    app_model = AppModel()
    store = AnnotationModel(app_model)
    store.set_annotations(AnnotationSet(tuple(AnnotationEntry(i * 0.3, 0.1, f"beat {i}", "event" if i % 2 else "note")
                                              for i in range(10_000))))
    events = EventList(store)
    qtbot.addWidget(events)
    assert events.table_model.rowCount() == 10_000
    events.type_combo.setCurrentText("note")
    assert events.table_model.rowCount() == 5_000
    events.search_edit.setText("beat 99")
    # "beat 99" itself is odd, an event: filtered out by the type
    assert _texts(events) == [f"beat {i}" for i in range(990, 1000) if i % 2 == 0] + \
        [f"beat {i}" for i in range(9900, 10000) if i % 2 == 0]


def test_format_time():
    assert format_time(5.5) == "0:05.5"
    assert format_time(3725.0) == "1:02:05.0"


def test_the_text_column_stays_readable_in_a_narrow_dock(qtbot):
    """In the default 250-px dock the stretched text column was squeezed to "..." by the four fixed columns."""
    from app.annotation_model import AnnotationModel
    from app.event_list import COLUMNS, TEXT_MIN_PX
    from app.model import AppModel
    from mmqnet_core.annotations import AnnotationEntry, AnnotationSet

    store = AnnotationModel(AppModel())
    store.set_annotations(AnnotationSet((AnnotationEntry(1.0, 0.3, "ART_blink", "event"),)))
    events = EventList(store)
    qtbot.addWidget(events)
    events.resize(250, 300)
    events.show()
    qtbot.waitExposed(events)
    text = COLUMNS.index("text")
    header = events.table.horizontalHeader()
    assert header.sectionSize(text) >= TEXT_MIN_PX
    assert header.sectionSize(text) >= events.table.fontMetrics().horizontalAdvance("ART_blink") + 8
    # shown right after the onset, inside the dock (after three fixed columns it was scrolled out of sight)
    assert header.sectionViewportPosition(text) + TEXT_MIN_PX <= events.table.viewport().width()
    # ...and in a wide one it still takes all the room the other columns leave.
    events.resize(900, 300)
    qtbot.waitUntil(lambda: sum(header.sectionSize(c) for c in range(len(COLUMNS)))
                    >= events.table.viewport().width() - 1, timeout=1000)
