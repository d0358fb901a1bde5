"""Annotations in the browser: create by drag and by key, edit, delete, undo, sidecar, only the page drawn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog

from app.annotation_layer import AnnotationDialog
from mmqnet_core.annotations import AnnotationEntry, AnnotationSet


def _point(win, t_s, row):
    vb = win.browser.view_box()
    return win.browser.plot_widget.mapFromScene(vb.mapViewToScene(QPointF(t_s, row)))


@pytest.fixture
def answer(monkeypatch):
    """Make AnnotationDialog.exec return at once; ``answer.update(text=...)`` sets what the user 'types'."""
    typed: dict = {}
    opened: list[dict] = []

    def fake_exec(dialog: AnnotationDialog) -> int:
        opened.append(dialog.values())
        if typed.get("cancel"):
            return int(QDialog.DialogCode.Rejected)
        if "text" in typed:
            dialog.text_edit.setCurrentText(typed["text"])
        if "kind" in typed:
            dialog.kind_edit.setCurrentText(typed["kind"])
        if "onset" in typed:
            dialog.onset_edit.setValue(typed["onset"])
        if "duration" in typed:
            dialog.duration_edit.setValue(typed["duration"])
        return int(QDialog.DialogCode.Accepted)

    monkeypatch.setattr(AnnotationDialog, "exec", fake_exec)
    typed["opened"] = opened
    return typed


def _user(win):
    return win.review.store.annotations.user_entries


class _FakeDrag:
    """The parts of a pyqtgraph MouseDragEvent the layer's drag catcher reads (scene positions of two times)."""

    def __init__(self, vb, t0, t1, row, finish):
        self._down, self._now = vb.mapViewToScene(QPointF(t0, row)), vb.mapViewToScene(QPointF(t1, row))
        self._finish, self.accepted = finish, None

    def button(self):
        return Qt.MouseButton.LeftButton

    def buttonDownScenePos(self):  # noqa: N802
        return self._down

    def scenePos(self):  # noqa: N802
        return self._now

    def isFinish(self):  # noqa: N802
        return self._finish

    def accept(self):
        self.accepted = True

    def ignore(self):
        self.accepted = False


def test_drag_in_annotate_mode_creates_one_undoable_annotation(window, recording, tmp_path, answer):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.browser.set_page_length(20.0)
    layer = window.browser.annotation_layer
    vb = window.browser.view_box()
    answer.update(text="eyes closed", kind="event")
    # The catcher lies above the traces; pyqtgraph's scene hands it every drag first. (Real mouse drags are
    # checked under Xvfb: under the offscreen platform, synthetic drags reach the scene only now and then.)
    catcher = layer._catcher
    assert catcher.zValue() > 0 and catcher.boundingRect().contains(QPointF(4.0, 1.0))
    ev = _FakeDrag(vb, 4.0, 9.0, 1, finish=True)
    catcher.mouseDragEvent(ev)
    assert ev.accepted is False and _user(window) == ()  # not in annotate mode: left to the browser (masking)
    QTest.keyClick(window.browser, Qt.Key.Key_A)  # annotate mode (MNE's key)
    assert layer.annotate_mode and window.review.annotate_mode_action.isChecked()
    steps = window.model.undo_stack.count()
    for t, finish in ((6.0, False), (9.0, False)):
        catcher.mouseDragEvent(ev := _FakeDrag(vb, 4.0, t, 1, finish=finish))
        assert ev.accepted and layer._preview.isVisible() and layer._preview.getRegion()[1] == pytest.approx(t)
    catcher.mouseDragEvent(_FakeDrag(vb, 4.0, 9.0, 1, finish=True))
    assert not layer._preview.isVisible()
    (entry,) = _user(window)
    assert (entry.text, entry.kind) == ("eyes closed", "event")
    assert entry.onset == pytest.approx(4.0, abs=0.01) and entry.end == pytest.approx(9.0, abs=0.01)
    assert window.model.undo_stack.count() == steps + 1
    assert window.model.masks.segments == ()  # the drag did not mask
    assert entry.id in layer.shown_entry_ids() and "eyes closed" in layer.shown_labels()
    window.model.undo_stack.undo()
    assert _user(window) == () and layer.shown_entry_ids() == []
    window.model.undo_stack.redo()
    assert [e.text for e in _user(window)] == ["eyes closed"]
    QTest.keyClick(window.browser, Qt.Key.Key_A)
    assert not layer.annotate_mode


def test_key_annotates_the_cursor_and_cancel_adds_nothing(window, recording, tmp_path, answer):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.set_cursor(6.5)
    answer.update(cancel=True)
    window.review.annotate_cursor_action.trigger()
    assert _user(window) == ()
    answer.update(cancel=False, text="button press")
    window.review.annotate_cursor_action.trigger()
    (entry,) = _user(window)
    assert (entry.onset, entry.duration, entry.text) == (6.5, 0.0, "button press")
    window.model.set_cursor(500.0)  # off the page: the page start
    window.review.annotate_cursor_action.trigger()
    assert sorted(e.onset for e in _user(window)) == [0.0, 6.5]


def test_edit_and_delete_with_undo(window, recording, tmp_path, answer):
    window.set_recording(recording, tmp_path / "rec.bdf")
    store, layer = window.review.store, window.browser.annotation_layer
    entry_id = store.add(2.0, 1.0, "blink", "note")
    answer.update(text="double blink", kind="artifact", onset=3.0, duration=2.5)
    assert layer.edit(entry_id)
    e = store.annotations.get(entry_id)
    assert (e.text, e.kind, e.onset, e.duration) == ("double blink", "artifact", 3.0, 2.5)
    window.model.undo_stack.undo()
    e = store.annotations.get(entry_id)
    assert (e.text, e.kind, e.onset, e.duration) == ("blink", "note", 2.0, 1.0)
    assert layer.delete(entry_id) and entry_id not in store.annotations
    window.model.undo_stack.undo()
    assert store.annotations.get(entry_id).text == "blink"


def test_double_click_on_a_span_opens_the_editor(window, recording, tmp_path, answer, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.browser.set_page_length(20.0)
    entry_id = window.review.store.add(12.0, 4.0, "movement", "artifact")
    answer.update(text="big movement")
    viewport = window.browser.plot_widget.viewport()
    pos = _point(window, 14.0, 2)
    # As a real double click arrives: press, release, double-click press, release (QTest.mouseDClick alone
    # sends no release after the double-click press, and pyqtgraph sends clicks on release).
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=pos)
    QTest.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=pos)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: window.review.store.annotations.get(entry_id).text == "big movement", timeout=2000)


def test_recording_annotations_are_drawn_by_the_browser_and_not_editable(window, recording, tmp_path, answer,
                                                                         dialogs):
    window.set_recording(recording, tmp_path / "rec.bdf")
    store, layer = window.review.store, window.browser.annotation_layer
    own = [e for e in store.annotations if e.read_only]
    assert [e.text for e in own] == ["SYNTHETIC stimulus", "button"]
    assert layer.shown_entry_ids() == []  # the browser draws these itself
    assert not layer.edit(own[0].id) and answer["opened"] == []
    assert "belongs to the recording file" in dialogs[-1]["text"] + dialogs[-1]["informative"]
    assert not store.delete(own[0].id)
    assert len([e for e in store.annotations if e.read_only]) == 2


def test_sidecar_beside_the_recording_and_reloaded(window, recording, tmp_path):
    rec_path = tmp_path / "rec.bdf"
    window.set_recording(recording, rec_path)
    sidecar = tmp_path / "rec.bdf.annotations.json"
    assert not sidecar.exists()  # nothing to save yet: no file
    window.review.store.add(10.0, 2.0, "sleep spindle", "sleep", ["Cz"])
    doc = json.loads(sidecar.read_text())
    assert [a["text"] for a in doc["annotations"]] == ["sleep spindle"]  # the file's own are not copied
    assert not rec_path.exists()  # never written
    window.set_recording(recording, rec_path)  # opened again
    (entry,) = window.review.store.annotations.user_entries
    assert (entry.onset, entry.duration, entry.kind, entry.channels) == (10.0, 2.0, "sleep", ("Cz",))
    assert window.model.undo_stack.count() == 0


def test_broken_sidecar_is_reported_and_the_recording_still_opens(window, recording, tmp_path, dialogs):
    (tmp_path / "rec.bdf.annotations.json").write_text("{broken")
    window.set_recording(recording, tmp_path / "rec.bdf")
    assert window.model.recording is recording
    assert any("not valid JSON" in d["text"] + d["informative"] for d in dialogs)
    assert len(window.review.store.annotations) == 2  # the file's own


def test_channel_annotation_is_drawn_on_its_row_only(window, recording, tmp_path):
    window.set_recording(recording, tmp_path / "rec.bdf")
    entry_id = window.review.store.add(1.0, 2.0, "electrode pop", "artifact", ["Cz"])
    (shape,) = window.browser.annotation_layer.span_shapes()
    assert shape.entry_id == entry_id and shape.kind == "artifact"
    row = window.browser.row_of("Cz")
    assert shape.rect.top() == pytest.approx(row - 0.5) and shape.rect.height() == pytest.approx(1.0)


def test_only_the_annotations_of_the_page_are_drawn_with_10000(window, recording, tmp_path):
    window.set_recording(recording, tmp_path / "rec.bdf")
    rng = np.random.default_rng(0)
    entries = tuple(AnnotationEntry(float(o), 0.2, f"ev{i}", "event") for i, o in enumerate(rng.uniform(0, 59, 10_000)))
    window.review.store.set_annotations(AnnotationSet(entries))
    layer = window.browser.annotation_layer
    for start in (0.0, 10.0, 40.0):
        window.browser.set_start(start)
        lo, hi = window.browser.visible_range()
        want = sorted(e.id for e in entries_of(window) if e.end >= lo and e.onset <= hi)
        assert sorted(layer.shown_entry_ids()) == want
        assert 0 < len(want) < 10_000
        assert len(layer.shown_labels()) <= len(want)


def entries_of(win):
    return win.review.store.annotations.entries


def test_dialog_refuses_invalid_values_and_stays_open(qtbot):
    dialog = AnnotationDialog(AnnotationEntry(1.0, 0.0, "x"), 60.0, ["x"], "New annotation")
    qtbot.addWidget(dialog)
    dialog.text_edit.setCurrentText("   ")
    dialog.accept()
    assert dialog.result() != int(QDialog.DialogCode.Accepted)
    assert "empty" in dialog.error_label.text()
    dialog.text_edit.setCurrentText("ok")
    dialog.kind_edit.setCurrentText("recording")
    dialog.accept()
    assert "reserved" in dialog.error_label.text()
    dialog.kind_edit.setCurrentText("note")
    dialog.accept()
    assert dialog.result() == int(QDialog.DialogCode.Accepted)


def _many(duration_s: float, channels, n: int = 400) -> AnnotationSet:
    """``n`` annotations of three types, 0.3-2 s long, every fifth on one channel (crowded pages)."""
    rng = np.random.default_rng(1)
    kinds = ("event", "artifact", "note")
    return AnnotationSet(tuple(
        AnnotationEntry(float(o), float(d), f"{kinds[i % 3]} number {i}", kinds[i % 3],
                        (channels[i % len(channels)],) if i % 5 == 0 else ())
        for i, (o, d) in enumerate(zip(rng.uniform(0, duration_s - 2, n), rng.uniform(0.3, 2.0, n)))))


def test_paging_draws_what_a_fresh_layer_draws(window, recording, tmp_path, qtbot):
    """What the layer keeps between redraws (text widths, colours, the rows of the channel window, the skipped
    redraw of an unchanged page) leaves the plot as a layer drawing the page from nothing would (pixel-equal)."""
    window.set_recording(recording, tmp_path / "rec.bdf")
    browser = window.browser
    browser.set_page_length(10.0)
    window.review.store.set_annotations(_many(recording.duration_s, browser.visible_channels))
    browser.set_start(0.0)
    for key in (Qt.Key.Key_PageDown, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
        QTest.keyClick(browser, key)
    layer = browser.annotation_layer
    assert len(layer.shown_labels()) >= 3 and len(set(layer.shown_entry_ids())) >= 5
    kept = browser.plot_widget.grab().toImage()
    layer._drawn_key = layer._rows_for = None
    layer._widths.clear()
    layer._label_colours.clear()
    layer.redraw()
    assert browser.plot_widget.grab().toImage() == kept


def test_an_unchanged_page_is_not_drawn_again_and_an_edit_is(window, recording, tmp_path, monkeypatch):
    window.set_recording(recording, tmp_path / "rec.bdf")
    layer = window.browser.annotation_layer
    store = window.review.store
    entry_id = store.add(1.0, 2.0, "spike", "event")
    calls = []
    set_spans = type(layer._span_layer).set_spans
    monkeypatch.setattr(type(layer._span_layer), "set_spans", lambda self, *a: calls.append(a) or set_spans(self, *a))
    layer.redraw()
    assert calls == []  # same annotations, page, rows and view
    store.change(entry_id, text="sharp wave")
    assert len(calls) == 1 and layer.shown_labels() == ["sharp wave"]
    window.browser.scroll_pages(1)  # another page: drawn (without the annotation)
    assert len(calls) == 2 and layer.shown_entry_ids() == []


def test_each_label_text_lies_in_its_box_in_the_strip_at_the_bottom(window, recording, tmp_path):
    """The labels are drawn at a point (not formatted into a rectangle): each text, as Qt measures it there, lies in
    its white box; the boxes sit on the strip's lines from the bottom of the view, and do not overlap."""
    from PySide6.QtGui import QFontMetricsF

    window.set_recording(recording, tmp_path / "rec.bdf")
    browser = window.browser
    window.review.store.set_annotations(_many(recording.duration_s, browser.visible_channels))
    browser.set_start(10.0)
    strip = browser.annotation_layer._strip
    transform = browser.view_box().childGroup.sceneTransform()
    boxes = strip.boxes(transform)
    assert len(boxes) >= 3
    metrics = QFontMetricsF(strip.font)
    down = (strip.line_px - 1 - metrics.ascent() - metrics.descent()) / 2 + metrics.ascent()
    bottom = transform.map(QPointF(0.0, strip.bottom)).y()
    for (_, line, text, _, width), box in zip(strip.labels, boxes):
        ink = metrics.tightBoundingRect(text).translated(box.left() + 3.0, box.top() + down)
        assert box.adjusted(0, -1, 0, 1).contains(ink), (text, box, ink)
        assert box.width() == width and box.bottom() == pytest.approx(bottom - line * strip.line_px - 1)
    for i, a in enumerate(boxes):
        assert not any(a.intersects(b) for b in boxes[i + 1:])


def _trace_pixels(image, rect, colour) -> int:
    """Pixels of ``colour`` (the raw trace's) in ``rect`` (scene = widget pixels) of ``image``."""
    rgb = colour.rgb()
    return sum(image.pixel(x, y) == rgb
               for x in range(int(rect.left()) + 1, int(rect.right()) - 1)
               for y in range(int(rect.top()) + 1, int(rect.bottom()) - 1))


def test_user_labels_have_a_strip_under_the_traces_and_no_row_shows_through_a_strip(window, recording, tmp_path,
                                                                                      qtbot):
    """The user's labels lie in a strip of their own under the rows in view (they covered the bottom traces); the
    strip comes with the first user annotation and goes with the last; with the channel window scrolled, rows out
    of it (the page is laid out for every row) show neither through that strip nor through the recording's at
    the top, nor are they named beside them."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor

    from app.browser_state import ROW_MARGIN
    from app.signal_browser import RAW_COLOUR

    window.resize(1200, 520)  # fewer rows in view than the recording has
    window.set_recording(recording, tmp_path / "rec.bdf")
    browser, store = window.browser, window.review.store
    browser.set_mode("raw")
    qtbot.wait(120)
    vb = browser.view_box()

    def row_edge(y):
        return vb.mapViewToScene(QPointF(0.0, y)).y()

    assert browser._strips[1] == 0
    entry_id = store.add(1.0, 2.0, "eyes closed", "note")
    store.add(2.0, 0.5, "spike", "event")
    per_page = browser.channels_per_page
    assert browser._strips[1] > 0 and per_page < len(browser.visible_channels)
    browser.scroll_channels(2)
    qtbot.wait(120)
    first = browser.first_channel
    last_row_bottom = row_edge(first + per_page - 0.5 + ROW_MARGIN)
    strip = browser.annotation_layer._strip
    boxes = strip.boxes(vb.childGroup.sceneTransform())
    assert len(boxes) == 2
    assert all(box.top() >= last_row_bottom - 0.5 and box.bottom() <= vb.sceneBoundingRect().bottom() + 0.5
               for box in boxes)
    image = browser.plot_widget.grab().toImage()
    traces = vb.sceneBoundingRect()
    bottom_strip = QRectF(traces.left(), last_row_bottom + 1, traces.width(), traces.bottom() - last_row_bottom - 1)
    legend = browser._legend.sceneBoundingRect()  # in the top strip, with a mark in the raw trace's colour
    top_strip = QRectF(traces.left(), traces.top(), legend.left() - 2 - traces.left(),
                       row_edge(first - 0.5 - ROW_MARGIN) - traces.top())
    raw = QColor(RAW_COLOUR)
    assert _trace_pixels(image, bottom_strip, raw) == 0
    assert _trace_pixels(image, top_strip, raw) == 0
    rows_drawn = QRectF(traces.left(), top_strip.bottom() + 2, traces.width(),
                        bottom_strip.top() - top_strip.bottom() - 4)
    assert _trace_pixels(image, rows_drawn, raw) > 100  # the colour is the traces' indeed
    assert browser._axis.rows == range(first, first + per_page)  # names of the window's rows only
    for e in list(_user(window)):
        store.delete(e.id)
    assert browser._strips[1] == 0
    # The rows take the room back (more of them fit: the view ends at the last one's margin).
    assert browser.channels_per_page >= per_page
    assert vb.viewRange()[1][1] == pytest.approx(browser.first_channel + browser.channels_per_page - 0.5 + ROW_MARGIN)
    window.model.undo_stack.undo()  # the last deletion undone: the strip is back
    assert browser._strips[1] > 0 and len(_user(window)) == 1 and entry_id is not None
