"""AnnotationLayer: the user's annotations drawn into the SignalBrowser's plot, and the ways to edit them.

=====================  ==========================================================================
A                      annotate mode: a drag across the traces creates an annotation (MNE's key)
Shift+A                annotate the cursor (the green line; the page start when it is off the page)
double-click a span    edit its text, type, onset, duration and channels in a small dialog
right-click a span     (annotate mode) Edit... / Delete
=====================  ==========================================================================

Every edit goes through the :class:`~app.annotation_model.AnnotationModel` as one undo step. Only the
annotations that overlap the page are drawn (:meth:`AnnotationSet.overlapping`, two binary searches) with pooled
graphics items, so a page step costs the same with 10 or 10,000 annotations. The recording's own annotations are
drawn by the browser itself (``draw_recording`` = False); the layer draws the user's, each type in its colour,
with their labels in a strip of their own under the traces (stacked over two lines by the browser's
``stack_labels``; the browser keeps room for it while there are user annotations, ``strip_px``), so that they
cover neither a trace nor the recording's labels at the top.

The layer asks the browser only for public things: ``view_box()``, ``visible_range()``, ``visible_channels``,
``page_channels``, ``first_channel``, ``rows_key()``, ``recording``, ``model`` and the
``pageChanged``/``channelPageChanged`` signals.

Speed (a page step with 10,000 annotations, ~30 on the page): a redraw with the same annotation set, page, rows
and view does nothing; the spans are mapped to pixels and filled in one loop grouped by type, the label boxes
filled in one ``drawRects`` call and the texts drawn at a point (``drawText`` into a rectangle with an alignment
formats the text: twice the cost); text widths and colours are kept. Both items have one fixed bounding rectangle,
so a page step never re-indexes them in the scene.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Hashable

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QTransform
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QWidget,
)

from mmqnet_core.annotations import USER_KINDS, AnnotationEntry, AnnotationError

from .annotation_model import AnnotationModel, annotation_model
from .time_edit import TimeSpinBox

if TYPE_CHECKING:  # pragma: no cover
    from .signal_browser import SignalBrowser

log = logging.getLogger(__name__)

#: Fill colour of each annotation type (others: OTHER_COLOUR); alpha is set where drawn.
KIND_COLOURS: dict[str, str] = {"note": "#2e7d32", "event": "#1565c0", "artifact": "#c62828", "stimulus": "#6a1b9a",
                                "sleep": "#00838f", "seizure": "#ad1457", "recording": "#5a8cdc"}
OTHER_COLOUR = "#6d6d6d"
#: Lines of the label strip at the bottom of the traces.
STRIP_LINES = 2
#: More annotations across all channels than this on one page are drawn as outlines (no fill).
DENSE_SPANS = 12
#: Width of an annotation's edges, px, and the opacity they are drawn with (on white).
EDGE_PX = 2
EDGE_ALPHA = 200
#: Text given to an annotation created by a drag or a key before the user types one (then the last one used).
DEFAULT_TEXT = "event"


def kind_colour(kind: str, alpha: int = 255) -> QColor:
    colour = QColor(KIND_COLOURS.get(kind, OTHER_COLOUR))
    colour.setAlpha(alpha)
    return colour


class AnnotationDialog(QDialog):
    """Text, type, onset, duration (s) and channels of one annotation; the values are checked on OK."""

    def __init__(self, entry: AnnotationEntry, duration_s: float, texts: list[str], title: str,
                 parent: QWidget | None = None, clock_start: _dt.datetime | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        form = QFormLayout(self)
        self.text_edit = QComboBox(self)
        self.text_edit.setEditable(True)
        self.text_edit.addItems(texts)
        self.text_edit.setCurrentText(entry.text)
        self.kind_edit = QComboBox(self)
        self.kind_edit.setEditable(True)
        self.kind_edit.addItems(list(USER_KINDS))
        self.kind_edit.setCurrentText(entry.kind)
        # The onset in h:mm:ss like the axis and the event list (it read "70.480 s"); typed in either form.
        # With clock time on the axis (T), the onset is a clock time too (it read the time from the start while
        # the axis and the event list read clock time).
        self.onset_edit = TimeSpinBox(max(duration_s, entry.onset), self, decimals=3, start=clock_start)
        self.onset_edit.setValue(entry.onset)
        self.onset_edit.setToolTip("clock time hh:mm:ss, or seconds from the recording's start" if clock_start
                                   else "h:mm:ss, mm:ss or seconds from the recording's start")
        self.duration_edit = QDoubleSpinBox(self)
        self.duration_edit.setDecimals(3)
        self.duration_edit.setRange(0.0, max(duration_s, entry.duration))
        self.duration_edit.setSuffix(" s")
        self.duration_edit.setValue(entry.duration)
        self.channels_edit = QLineEdit(", ".join(entry.channels), self)
        self.channels_edit.setPlaceholderText("all channels")
        self.channels_edit.setToolTip("Channel names separated by commas; empty for all channels")
        self.error_label = QLabel(self)
        self.error_label.setStyleSheet("color: #b71c1c")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        form.addRow("Text", self.text_edit)
        form.addRow("Type", self.kind_edit)
        form.addRow("Onset", self.onset_edit)
        form.addRow("Duration", self.duration_edit)
        form.addRow("Channels", self.channels_edit)
        form.addRow(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        # Enter in an editable combo box only took its inline completion (the preselected text): a reader who typed
        # the text and pressed Enter had to press it twice. Enter there is OK, as in the other fields.
        for combo in (self.text_edit, self.kind_edit):
            combo.lineEdit().returnPressed.connect(self.accept)
        self.text_edit.setFocus()
        self.text_edit.lineEdit().selectAll()

    def values(self) -> dict[str, Any]:
        """onset, duration (s), text, kind, channels as typed."""
        channels = tuple(c.strip() for c in self.channels_edit.text().split(",") if c.strip())
        return {"onset": self.onset_edit.value(), "duration": self.duration_edit.value(),
                "text": self.text_edit.currentText(), "kind": self.kind_edit.currentText(), "channels": channels}

    def accept(self) -> None:  # noqa: D102 (Qt API): refuse invalid values with the reason, keep the dialog open
        try:
            entry = AnnotationEntry(**self.values())
        except AnnotationError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return
        if entry.read_only:
            self.error_label.setText(f"The type {entry.kind!r} is reserved for the recording's own annotations; "
                                     "choose another.")
            self.error_label.show()
            return
        super().accept()


@dataclass(frozen=True)
class SpanShape:
    """One drawn annotation (or its part on one row), in view coordinates (s, rows)."""

    entry_id: int
    rect: QRectF
    kind: str
    filled: bool


#: Bounding rectangle of the layer's items in view coordinates (s, rows): every time and row a page can show, so
#: that a page step never changes it (a changed rectangle is an index update of the scene and a repaint of both
#: the old and the new area; the items paint only the page's shapes).
WHOLE_VIEW = QRectF(-1e7, -1e5, 2e7, 2e5)


class _SpanLayer(pg.GraphicsObject):
    """Every annotation span of the page in one item: translucent fills in their type's colour, 2-px edges.

    One item instead of one QGraphicsRectItem per span: moving 30 items costs the scene 30 index updates per page
    step, this costs none (its bounding rectangle never changes). Painted in screen pixels, so the edges stay sharp
    at any zoom.
    """

    def __init__(self) -> None:
        super().__init__()
        # (entry id, type, left, top, width, height in view coordinates, filled) of each span of the page.
        self.spans: list[tuple[int, str, float, float, float, float, bool]] = []
        self._shapes: list[SpanShape] | None = []
        # Per type: (left, right, top, bottom in view coordinates, filled) of its spans, cut to the rows in view
        # (set_spans), so that paint is a tight loop of memory fills.
        self._boxes: dict[str, list[tuple[float, float, float, float, bool]]] = {}
        self.setZValue(-25)
        self._brushes: dict[str, QBrush] = {}
        self._pens: dict[str, QColor] = {}  # edge colour per type

    def set_spans(self, spans: list[tuple[int, str, float, float, float, float, bool]],
                  y_range: tuple[float, float] | None = None) -> None:
        """Draw ``spans`` ((entry id, type, left, top, width, height in view coordinates, filled)); ``y_range``
        (view rows, top < bottom): the part in view, where they are cut."""
        lo, hi = y_range if y_range is not None else (-math.inf, math.inf)
        boxes: dict[str, list[tuple[float, float, float, float, bool]]] = {}
        for _, kind, left, top, width, height, filled in spans:
            bottom = top + height
            if top < lo:
                top = lo
            if bottom > hi:
                bottom = hi
            if top < bottom:
                boxes.setdefault(kind, []).append((left, left + width, top, bottom, filled))
        self.spans = spans
        self._shapes = None  # made when asked for (clicks, tests): not at every page step
        self._boxes = boxes
        self.update()

    @property
    def shapes(self) -> list[SpanShape]:
        """The spans of the page as :class:`SpanShape` (made on first use after each change)."""
        if self._shapes is None:
            self._shapes = [SpanShape(i, QRectF(left, top, width, height), kind, filled)
                            for i, kind, left, top, width, height, filled in self.spans]
        return self._shapes

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return WHOLE_VIEW

    def _style(self, kind: str) -> tuple[QBrush, QColor]:
        """(fill brush, edge colour) of a type; the edge is opaque: its translucent colour laid on white."""
        if kind not in self._pens:
            self._brushes[kind] = QBrush(kind_colour(kind, 40))
            c, a = kind_colour(kind), EDGE_ALPHA / 255
            self._pens[kind] = QColor(*(round(a * v + (1 - a) * 255) for v in (c.red(), c.green(), c.blue())))
        return self._brushes[kind], self._pens[kind]

    def paint(self, painter, option, widget=None) -> None:  # noqa: D102 (Qt API)
        # Edges are opaque EDGE_PX-wide rectangles in whole pixels, in the colour a translucent edge has on the
        # white plot (they lie under the traces, over the background only): an opaque fill is a plain memory
        # fill, ~20x cheaper than blending, and a 1.5-px pen went through Qt's general stroker (together ~8 ms
        # per page step with 10,000 annotations, 34 of them on the page). The boxes are mapped to pixels here
        # with the painter's scale and offset (the view never rotates), grouped by type: one style look-up per
        # type, no QRectF mapping per shape.
        if not self._boxes:
            return
        t = painter.transform()
        if t.m12() or t.m21():  # never for a ViewBox; kept general
            self._paint_mapped(painter, t)
            return
        m11, dx, m22, dy = t.m11(), t.dx(), t.m22(), t.dy()
        half = EDGE_PX / 2
        painter.save()
        painter.resetTransform()
        fill_rect = painter.fillRect
        for kind, boxes in self._boxes.items():
            fill, edge = self._style(kind)
            for left, right, top, bottom, filled in boxes:
                x0, x1 = left * m11 + dx, right * m11 + dx
                y0, y1 = top * m22 + dy, bottom * m22 + dy
                if y1 < y0:
                    y0, y1 = y1, y0
                if filled:
                    fill_rect(QRectF(x0, y0, x1 - x0, y1 - y0), fill)
                y, h = round(y0), max(1, round(y1 - y0))
                fill_rect(QRect(round(x0 - half), y, EDGE_PX, h), edge)
                if x1 - x0 >= 1.0:
                    fill_rect(QRect(round(x1 - half), y, EDGE_PX, h), edge)
        painter.restore()

    def _paint_mapped(self, painter, transform) -> None:
        painter.save()
        painter.resetTransform()
        for kind, boxes in self._boxes.items():
            fill, edge = self._style(kind)
            for left, right, top, bottom, filled in boxes:
                box = transform.mapRect(QRectF(left, top, right - left, bottom - top))
                if filled:
                    painter.fillRect(box, fill)
                y, h = round(box.top()), max(1, round(box.height()))
                painter.fillRect(QRect(round(box.left() - EDGE_PX / 2), y, EDGE_PX, h), edge)
                if box.width() >= 1.0:
                    painter.fillRect(QRect(round(box.right() - EDGE_PX / 2), y, EDGE_PX, h), edge)
        painter.restore()


class _DragCatcher(pg.GraphicsObject):
    """An invisible item over the page that turns a left drag into a new annotation in annotate mode.

    Outside annotate mode it ignores every event, so the browser's own clicks and drags (masking) are unchanged.
    """

    def __init__(self, layer: "AnnotationLayer") -> None:
        super().__init__()
        self.layer = layer
        self._rect = QRectF()
        self.setFlag(self.GraphicsItemFlag.ItemHasNoContents, True)
        self.setZValue(35)

    def set_rect(self, rect: QRectF) -> None:
        if rect != self._rect:  # changes only with the recording: the scene re-indexes it rarely
            self.prepareGeometryChange()
            self._rect = rect

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._rect

    def paint(self, painter, option, widget=None) -> None:  # noqa: D102 (Qt API): nothing to draw
        pass

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph API)
        if not self.layer.annotate_mode or ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        view = self.layer.view
        x0 = view.mapSceneToView(ev.buttonDownScenePos()).x()
        x1 = view.mapSceneToView(ev.scenePos()).x()
        self.layer.drag(x0, x1, finished=ev.isFinish())

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph API)
        # The spans lie under the traces (and so under the ViewBox, which takes every click): this item, above
        # them all, finds the annotation under the mouse instead.
        p = self.layer.view.mapSceneToView(ev.scenePos())
        entry_id = self.layer.entry_at(p.x(), p.y())
        if entry_id is not None and ev.button() == Qt.MouseButton.LeftButton and ev.double():
            ev.accept()
            self.layer.edit(entry_id)
        elif entry_id is not None and ev.button() == Qt.MouseButton.RightButton and self.layer.annotate_mode:
            ev.accept()
            self.layer.show_menu(entry_id, ev.screenPos().toPoint())
        else:
            ev.ignore()


class _LabelStrip(pg.GraphicsObject):
    """Every label of the page in one item: white boxes in one ``drawRects`` call, texts with ``drawText`` at a
    point (no text formatting), grouped by colour; in screen pixels.

    One QGraphicsTextItem per label costs ~0.3 ms per new text (layout); a page step changes most labels, so
    the strip keeps plain (time, line, text, colour, width) tuples and paints them itself (~12 us each, most of
    it Qt shaping the text).
    """

    BAND = QColor(245, 245, 245)  # the strip's background (the browser's STRIP_FILL)
    # A label's box: white at 210/255 laid on the band, as an opaque colour (the boxes lie on the band only; an
    # opaque fill is a memory fill, not a blend).
    FILL = QColor(*(round(210 / 255 * 255 + (1 - 210 / 255) * v) for v in (245, 245, 245)))

    def __init__(self, font) -> None:
        super().__init__()
        self.font = font
        metrics = QFontMetricsF(font)
        self.labels: list[tuple[float, int, str, QColor, float]] = []  # (time s, line from bottom, text, colour, px)
        self._order: list[int] = []
        self.bottom = 0.0  # view y of the strip's bottom edge
        self.band = (0.0, 0.0, 0.0)  # (start, stop in s, height in px) of the strip's background; 0 px: none
        self.line_px = metrics.height() + 2.0
        self._ascent, self._descent = metrics.ascent(), metrics.descent()
        self.setZValue(26)

    def set_labels(self, labels: list[tuple[float, int, str, QColor, float]], bottom: float,
                   line_px: float, band: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        """Draw ``labels`` ((time s, line from the bottom, text, colour, width px)) from view y ``bottom`` up, on
        an opaque background ``band`` ((start, stop) s, height px): rows out of the channel window, laid out
        under it, do not show through the strip."""
        self.labels, self.bottom, self.line_px, self.band = labels, bottom, line_px, band
        # Texts drawn grouped by colour: one setPen per colour.
        self._order = sorted(range(len(labels)), key=lambda i: labels[i][3].rgba())
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return WHOLE_VIEW

    def boxes(self, transform: QTransform) -> list[QRectF]:
        """The labels' boxes in device pixels for the painter's ``transform`` (in the order of ``labels``)."""
        m11, dx = transform.m11(), transform.dx()
        base = transform.map(QPointF(0.0, self.bottom)).y()
        lp = self.line_px
        return [QRectF(t * m11 + dx, base - (line + 1) * lp, width, lp - 1)
                for t, line, _, _, width in self.labels]

    def paint(self, painter, option, widget=None) -> None:  # noqa: D102 (Qt API)
        start, stop, band_px = self.band
        if not self.labels and band_px <= 0:
            return
        transform = painter.transform()
        if transform.m12() or transform.m21():
            return  # the view never rotates
        boxes = self.boxes(transform)
        painter.save()
        painter.resetTransform()
        if band_px > 0:
            m11, dx = transform.m11(), transform.dx()
            base = transform.map(QPointF(0.0, self.bottom)).y()
            left, right = sorted((start * m11 + dx, stop * m11 + dx))
            painter.fillRect(QRectF(left, base - band_px, right - left, band_px + 1.0), self.BAND)
        if not self.labels:
            painter.restore()
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.FILL)
        painter.drawRects(boxes)
        painter.setFont(self.font)
        # The text centred vertically in its box (as AlignVCenter), 3 px from its left edge.
        down = (self.line_px - 1 - self._ascent - self._descent) / 2 + self._ascent
        pen = None
        draw_text, labels = painter.drawText, self.labels
        for i in self._order:
            _, _, text, colour, _ = labels[i]
            if colour is not pen:  # the colours are shared per type (AnnotationLayer._label_colour)
                pen = colour
                painter.setPen(colour)
            box = boxes[i]
            draw_text(QPointF(box.left() + 3.0, box.top() + down), text)
        painter.restore()


class AnnotationLayer(QObject):
    """The user's annotations in a :class:`~app.signal_browser.SignalBrowser` (see the module docstring)."""

    annotateModeChanged = Signal(bool)

    def __init__(self, browser: "SignalBrowser") -> None:
        super().__init__(browser)
        self.browser = browser
        self.store: AnnotationModel = annotation_model(browser.model)
        self.view: pg.ViewBox = browser.view_box()
        self.annotate_mode = False
        self.draw_recording = False  # the browser draws the recording's own annotations
        self.last_text = DEFAULT_TEXT
        self.last_kind = USER_KINDS[0]
        self._span_layer = _SpanLayer()
        self.view.addItem(self._span_layer, ignoreBounds=True)
        probe = self._make_label()  # the font of pyqtgraph's text items (the browser's labels use them)
        label_font = QFont(probe.textItem.font())
        self._strip = _LabelStrip(label_font)
        self.view.addItem(self._strip, ignoreBounds=True)
        self._metrics = QFontMetricsF(label_font)
        self._widths: dict[str, float] = {}  # label widths by text, px (the font never changes)
        self._label_colours: dict[str, QColor] = {}
        # What the last redraw drew: the annotation set (compared by identity: a change makes a new set) and the
        # page, view and rows; the rows of the channel window for a row layout.
        self._drawn_set: Any = None
        self._labelled: tuple[Any, bool] = (None, False)  # (annotation set, whether it has any to draw)
        self._drawn_key: tuple | None = None
        self._rows_for: Hashable = None
        self._rows_of: dict[str, int] = {}
        self._names: set[str] = set()
        self._catcher = _DragCatcher(self)
        self.view.addItem(self._catcher, ignoreBounds=True)
        self._preview = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(kind_colour("note", 50)),
                                            pen=pg.mkPen(kind_colour("note"), width=1))
        self._preview.setZValue(30)
        self._preview.hide()
        self.view.addItem(self._preview, ignoreBounds=True)
        browser.pageChanged.connect(lambda *_: self.redraw())
        browser.channelPageChanged.connect(lambda *_: self.redraw())
        self.store.annotationsChanged.connect(self._on_annotations_changed)

    def _on_annotations_changed(self, _annotations: Any = None) -> None:
        # The first user annotation makes room for the label strip under the traces, the last one deleted gives
        # it back (the browser lays the rows out again and draws the page: redrawn from there).
        if self.strip_px() != self.browser._strips[1]:
            self.browser.relayout_strips()
        self.redraw()

    def has_labels(self) -> bool:
        """Whether the layer draws annotations (and labels) on some page: user annotations exist, or any when it
        draws the recording's too."""
        annotations = self.store.annotations
        if annotations is not self._labelled[0]:
            has = bool(annotations.entries) if self.draw_recording else any(
                not e.read_only for e in annotations.entries)
            self._labelled = (annotations, has)
        return self._labelled[1]

    def strip_px(self) -> float:
        """Height of the strip under the traces the labels need, px (0 without annotations to draw)."""
        return STRIP_LINES * self._strip.line_px + 2.0 if self.has_labels() else 0.0

    @staticmethod
    def _make_label() -> pg.TextItem:
        label = pg.TextItem(color="#202020", anchor=(0, 1), fill=pg.mkBrush(255, 255, 255, 200))
        label.setZValue(26)
        return label

    # --- modes and commands -------------------------------------------------------------------------------
    def set_annotate_mode(self, on: bool) -> None:
        """In annotate mode a left drag across the traces creates an annotation."""
        on = bool(on)
        if on != self.annotate_mode:
            self.annotate_mode = on
            self.annotateModeChanged.emit(on)
            log.info("annotate mode %s", "on: drag across the traces to annotate" if on else "off")

    def _recording_duration(self) -> float:
        rec = self.browser.recording
        return rec.duration_s if rec is not None else 0.0

    def _ask(self, entry: AnnotationEntry, title: str) -> dict[str, Any] | None:
        """Open the annotation dialog; the values typed, or ``None`` when cancelled."""
        texts = sorted({e.text for e in self.store.annotations.user_entries} | {self.last_text})
        state = self.browser.state
        clock = state.start_time if state.clock_time and state.start_time is not None else None
        dialog = AnnotationDialog(entry, self._recording_duration(), texts, title, self.browser, clock_start=clock)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.values()
        finally:
            dialog.deleteLater()
            self.browser.activateWindow()  # without a window manager nothing gave the window back its keys
            self.browser.setFocus()

    def create(self, onset: float, duration: float) -> int | None:
        """Ask for the text of a new annotation over [onset, onset + duration] (s); its id, or None."""
        if self.browser.recording is None:
            return None
        channels = tuple(self.browser.model.selection)
        draft = AnnotationEntry(max(0.0, onset), max(0.0, duration), self.last_text, self.last_kind, channels)
        values = self._ask(draft, "New annotation")
        if values is None:
            return None
        self.last_text, self.last_kind = values["text"].strip() or self.last_text, values["kind"]
        return self.store.add(values["onset"], values["duration"], values["text"], values["kind"],
                              values["channels"])

    def create_at_cursor(self) -> int | None:
        """Annotate the cursor (an instant); the page start when the cursor is off the page. With the measurement
        cursors shown (Q), the span between them: a span could only be annotated by dragging with the mouse."""
        if self.browser.measuring:
            a, b = sorted(line.value() for line in self.browser.measure_cursors)
            return self.create(a, b - a)
        start, stop = self.browser.visible_range()
        t = self.browser.model.cursor_s
        return self.create(t if start <= t <= stop else start, 0.0)

    def edit(self, entry_id: int) -> bool:
        """Edit annotation ``entry_id`` in the dialog (a read-only one is reported, not opened)."""
        if entry_id not in self.store.annotations:
            return False
        entry = self.store.annotations.get(entry_id)
        if entry.read_only:
            self.browser.model.errorOccurred.emit(
                AnnotationError(f"Annotation {entry.text!r} belongs to the recording file and cannot be edited; "
                                "add an annotation of your own instead."), "editing an annotation")
            return False
        values = self._ask(entry, "Edit annotation")
        if values is None:
            return False
        return self.store.change(entry_id, **values)

    def entry_at(self, t_s: float, y: float) -> int | None:
        """Id of the drawn annotation under time ``t_s`` (s) and view row ``y`` (the shortest), or ``None``."""
        tol = 3.0 * (self.view.viewRange()[0][1] - self.view.viewRange()[0][0]) / max(self.view.width(), 1.0)
        hits = [shape for shape in self._span_layer.shapes
                if shape.rect.left() - tol <= t_s <= shape.rect.right() + tol
                and shape.rect.top() <= y <= shape.rect.bottom()]
        return min(hits, key=lambda shape: shape.rect.width()).entry_id if hits else None

    def delete(self, entry_id: int) -> bool:
        return self.store.delete(entry_id)

    def show_menu(self, entry_id: int, screen_pos) -> QMenu:
        menu = QMenu(self.browser)
        menu.addAction("Edit...", lambda: self.edit(entry_id))
        menu.addAction("Delete", lambda: self.delete(entry_id))
        menu.popup(screen_pos)
        return menu

    def drag(self, x0: float, x1: float, *, finished: bool) -> None:
        """A drag from x0 to x1 (s): a preview while it lasts, a new annotation when released."""
        lo, hi = sorted((x0, x1))
        if not finished:
            self._preview.setRegion((lo, hi))
            self._preview.show()
            return
        self._preview.hide()
        self.create(lo, hi - lo)

    # --- drawing ------------------------------------------------------------------------------------------
    def visible_entries(self) -> tuple[AnnotationEntry, ...]:
        """The annotations the layer draws on the page."""
        start, stop = self.browser.visible_range()
        entries = self.store.annotations.overlapping(start, stop)
        return entries if self.draw_recording else tuple(e for e in entries if not e.read_only)

    def redraw(self) -> None:
        """Draw the annotations on the page (the visible ones only, in two items; nothing is done again when the
        annotations, the page, the rows and the view are what the last redraw drew)."""
        if not self.has_labels() and not self._span_layer.spans and not self._strip.labels:
            # Nothing to draw, nothing drawn (a recording without user annotations): only the drag catcher's
            # place (the whole recording and far beyond the rows) is kept up to date.
            self._catcher.set_rect(QRectF(-1.0, -1e4, self._recording_duration() + 2.0, 2e4))
            return
        start, stop = self.browser.visible_range()
        (_, _), (y_top, y_bottom) = self.view.viewRange()
        browser = self.browser
        annotations = self.store.annotations
        key = (start, stop, y_top, y_bottom, self.view.width(), self.view.height(), browser.rows_key(),
               self.draw_recording, browser.recording is not None)
        if annotations is self._drawn_set and key == self._drawn_key:
            return
        self._drawn_set, self._drawn_key = annotations, key
        # The whole recording and far beyond the rows: the view can change (a resize) without a redraw here.
        self._catcher.set_rect(QRectF(-1.0, -1e4, self._recording_duration() + 2.0, 2e4))
        spans: list[tuple[int, str, float, float, float, float, bool]] = []
        labels: list[tuple[float, AnnotationEntry]] = []
        if browser.recording is not None:
            entries = self.visible_entries()
            if entries:
                rows, n_rows = self._rows()
                top, bottom = -0.7, max(n_rows, 1) - 0.3
                # Full-height translucent fills cost a blend of the whole plot height each; a crowded page (more
                # than DENSE_SPANS of them) draws their outlines only, which keeps a page step cheap at 10,000.
                filled = sum(1 for e in entries if not e.channels) <= DENSE_SPANS
                for entry in entries:
                    if entry.channels:
                        shown = [rows[c] for c in entry.channels if c in rows]
                        if not shown and any(c in self._names for c in entry.channels):
                            continue  # its channels are out of view
                        for r in shown:
                            spans.append((entry.id, entry.kind, entry.onset, r - 0.5, entry.duration, 1.0, True))
                        if not shown:  # channels not in the recording: draw it across all rows
                            spans.append((entry.id, entry.kind, entry.onset, top, entry.duration, bottom - top,
                                          filled))
                    else:
                        spans.append((entry.id, entry.kind, entry.onset, top, entry.duration, bottom - top, filled))
                    labels.append((max(entry.onset, start), entry))
        self._place_labels(labels, start, stop, y_bottom)
        self._span_layer.set_spans(spans, (y_top, y_bottom))

    def _rows(self) -> tuple[dict[str, int], int]:
        """(row of each channel in the channel window, number of rows), made once per row layout and window."""
        key = self.browser.rows_key()
        if key != self._rows_for:
            browser = self.browser
            self._names = set(browser.visible_channels)
            self._rows_of = {n: i for i, n in enumerate(browser.page_channels, start=browser.first_channel)}
            self._rows_for = key
        return self._rows_of, len(self._names)

    def _label_colour(self, kind: str) -> QColor:
        """Text colour of a type's labels (one shared QColor per type)."""
        colour = self._label_colours.get(kind)
        if colour is None:
            colour = self._label_colours[kind] = kind_colour(kind).darker(130)
        return colour

    def _place_labels(self, labels: list[tuple[float, AnnotationEntry]], start: float, stop: float,
                      y_bottom: float) -> None:
        """Stack the labels ((time in s, entry)) over :data:`STRIP_LINES` lines along the bottom of the view."""
        from .signal_browser import stack_labels  # the browser's label stacking (imported here: no cycle)

        width_px = self.view.width()
        metrics = self._metrics
        pad = 6.0  # margins of a label, px
        line_px = self._strip.line_px
        band = (start, stop, self.strip_px())
        if not labels or width_px <= 0 or self.view.height() <= 0:
            self._strip.set_labels([], y_bottom, line_px, band)
            return
        px_per_s = width_px / max(stop - start, 1e-9)
        widths = self._widths
        if len(widths) > 4096:  # many distinct texts: start again rather than grow
            widths.clear()
        extents = []
        for t, e in labels:
            w = widths.get(e.text)
            if w is None:
                w = widths[e.text] = metrics.horizontalAdvance(e.text) + pad
            extents.append(((t - start) * px_per_s, w))
        shown = []
        for (t, entry), (_, full), place in zip(labels, extents, stack_labels(extents, STRIP_LINES, right=width_px)):
            if place is None:
                continue  # no room: the span's tooltip names it
            line, width = place
            text = entry.text if width >= full - 0.5 else metrics.elidedText(
                entry.text, Qt.TextElideMode.ElideRight, max(width - pad, 0.0))
            shown.append((t, line, text, self._label_colour(entry.kind), width))
        self._strip.set_labels(shown, y_bottom, line_px, band)

    # --- for tests ----------------------------------------------------------------------------------------
    def shown_entry_ids(self) -> list[int]:
        """Ids of the annotations drawn (one per span item; an annotation on several rows repeats)."""
        return [span[0] for span in self._span_layer.spans]

    def shown_labels(self) -> list[str]:
        """Texts of the labels in the strip (elided ones end in an ellipsis)."""
        return [label[2] for label in self._strip.labels]

    def span_shapes(self) -> list[SpanShape]:
        return list(self._span_layer.shapes)
