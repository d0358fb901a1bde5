"""OverviewBar: the whole recording in one strip, with the current page, annotations, interference and masks.

Clicking (or dragging) in the bar asks to show the page centred there. Painted with QPainter: a strip of a
few rectangles needs no plotting library.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from mmqnet_core.recording import Recording

from .annotation_layer import kind_colour
from .annotation_model import annotation_model
from .model import AppModel

BACKGROUND = QColor("#eef1f5")
ANNOTATION = QColor(60, 110, 200, 170)
INTERFERENCE = QColor(255, 150, 0, 150)
MASK = QColor(210, 30, 30, 150)
PAGE_FILL = QColor(30, 90, 200, 50)
PAGE_EDGE = QColor(30, 90, 200)


class OverviewBar(QWidget):
    """A strip showing the whole recording; ``jumpRequested(t)`` asks to centre the page on ``t`` (s)."""

    jumpRequested = Signal(float)  # time to centre on, s

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(26)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Whole recording: click to go there. Blue: page, red: masks, orange: interference, "
                        "blue ticks: the file's annotations, coloured ticks below them: yours (by type).")
        self._duration = 0.0
        self._page = (0.0, 0.0)
        # The spans (annotations, interference, masks) drawn once into a pixmap and reused while their sources
        # and the bar's size are the same objects: a page step only moves the page rectangle, and a recording
        # with thousands of EDF+ annotations repainted every one of them at every step.
        self._spans: QPixmap | None = None
        self._spans_key: tuple[Any, ...] = ()
        model.recordingLoaded.connect(self._on_recording)
        model.recordingChanged.connect(self._on_recording)
        model.masksChanged.connect(lambda _m: self.update())
        model.cleanedReady.connect(lambda _r: self.update())
        # The user's annotations (added, edited, deleted, undone): each change is a new AnnotationSet, which the
        # spans layer's key compares by identity.
        self._user_annotations = annotation_model(model)
        self._user_annotations.annotationsChanged.connect(lambda _a: self.update())

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(600, 26)

    def _on_recording(self, recording: Recording) -> None:
        self._duration = recording.duration_s
        self._spans = None  # the recording's annotations may have changed in place
        self.update()

    def set_page(self, start_s: float, stop_s: float) -> None:
        """Mark the page [start_s, stop_s] (s)."""
        self._page = (start_s, stop_s)
        self.update()

    @property
    def page(self) -> tuple[float, float]:
        return self._page

    # --- geometry --------------------------------------------------------------------------------------------
    def x_of(self, t_s: float) -> float:
        """Pixel column of time ``t_s`` (s)."""
        if self._duration <= 0:
            return 0.0
        return 1 + (self.width() - 2) * min(max(t_s / self._duration, 0.0), 1.0)

    def time_at(self, x: float) -> float:
        """Time (s) under pixel column ``x``."""
        if self.width() <= 2:
            return 0.0
        return min(max((x - 1) / (self.width() - 2), 0.0), 1.0) * self._duration

    # --- painting ---------------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        h = self.height()
        p.fillRect(self.rect(), BACKGROUND)
        if self._duration > 0:
            p.drawPixmap(0, 0, self._spans_pixmap(h))
            x0, x1 = self.x_of(self._page[0]), self.x_of(self._page[1])
            page = QRectF(x0, 1, max(x1 - x0, 3.0), h - 2)
            p.fillRect(page, PAGE_FILL)
            p.setPen(QPen(PAGE_EDGE, 1.5))
            p.drawRect(page)
        p.setPen(QPen(QColor("#a0a8b0")))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        p.end()

    def _spans_pixmap(self, h: int) -> QPixmap:
        """The spans layer for the current size and sources (transparent elsewhere), redrawn only on a change."""
        rec = self.model.recording
        raw = getattr(rec, "raw", None)
        anns = getattr(raw, "annotations", None)
        result = self.model.preprocess_result
        sources = (rec, anns, None if anns is None else len(anns), result, self.model.masks,
                   self._user_annotations.annotations)
        ratio = self.devicePixelRatioF()
        key = (self.width(), h, ratio, self._duration)
        old = self._spans_key
        same = (self._spans is not None and len(old) == 10 and old[:4] == key and old[6] == sources[2]
                and all(a is b for a, b in zip(old[4:], sources) if not isinstance(b, int)))
        if not same:
            pix = QPixmap(max(1, round(self.width() * ratio)), max(1, round(h * ratio)))
            pix.setDevicePixelRatio(ratio)
            pix.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pix)
            self._paint_spans(painter, h)
            painter.end()
            self._spans = pix
            self._spans_key = key + sources
        assert self._spans is not None
        return self._spans

    def _paint_spans(self, p: QPainter, h: int) -> None:
        def span(onset: float, end: float, colour: QColor, y0: float, y1: float) -> None:
            x0, x1 = self.x_of(onset), self.x_of(end)
            p.fillRect(QRectF(x0, y0, max(x1 - x0, 1.5), y1 - y0), colour)

        rec = self.model.recording
        if rec is not None:
            for ann in rec.annotations:
                span(ann.onset, ann.end, ANNOTATION, 1, h * 0.35)
            # The user's own annotations (the file's are drawn just above), in their type's colour, over the
            # band's lower half of the annotation row so that a file with thousands of events does not hide them.
            for entry in self._user_annotations.annotations.user_entries:
                span(entry.onset, entry.end, kind_colour(entry.kind, 220), h * 0.15, h * 0.35)
        result: Any = self.model.preprocess_result
        for ann in getattr(result, "interference", ()) or ():
            span(ann.onset, ann.end, INTERFERENCE, h * 0.35, h * 0.65)
        masks = self.model.masks
        if masks is not None:
            if masks.channels:
                # A whole masked channel: a thin line over the full length.
                span(0.0, self._duration, MASK, h - 4, h - 1)
            for seg in masks.segments:
                span(seg.start_s, seg.end_s, MASK, h * 0.65 if seg.channels else h * 0.35, h - 1)

    # --- mouse ------------------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton and self._duration > 0:
            self.jumpRequested.emit(self.time_at(event.position().x()))
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.buttons() & Qt.MouseButton.LeftButton and self._duration > 0:
            self.jumpRequested.emit(self.time_at(event.position().x()))
            event.accept()
