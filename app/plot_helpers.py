"""Small pyqtgraph helpers shared by the analysis views (colours, shaded spans, clicks in data coordinates)."""

from __future__ import annotations

from typing import Callable, Iterable

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

#: Colours of the analysis views (readable on white, distinguishable for red-green colour blindness).
VALENCE_COLOUR = "#1565c0"
AROUSAL_COLOUR = "#d84315"
ORIGINAL_COLOUR = "#263238"
RECON_COLOUR = "#e65100"
MASKED_SPAN = QColor(220, 30, 30, 40)
FOCUS_SPAN = QColor(220, 30, 30, 90)
INTERFERENCE_SPAN = QColor(255, 170, 0, 60)
NO_CONTEXT_SPAN = QColor(120, 120, 120, 45)
CURSOR_PEN = pg.mkPen("#2e7d32", width=1.5)
TARGET_COLOURS = {"valence": VALENCE_COLOUR, "arousal": AROUSAL_COLOUR}


def style_plot(plot: pg.PlotItem) -> None:
    """Dark axis text, light grid, no context menu or auto-range button (the views set their ranges)."""
    plot.hideButtons()
    plot.setMenuEnabled(False)
    plot.showGrid(x=True, y=True, alpha=0.2)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setTextPen(pg.mkPen("#303030"))
        axis.setPen(pg.mkPen("#808080"))


class SpanPool:
    """Non-movable LinearRegionItems (shaded x spans) reused between redraws."""

    def __init__(self, plot: pg.PlotItem, colour: QColor, z: float = -10) -> None:
        self.plot = plot
        self.colour = colour
        self.z = z
        self.items: list[pg.LinearRegionItem] = []

    def set_spans(self, spans: Iterable[tuple[float, float]]) -> None:
        spans = list(spans)
        while len(self.items) < len(spans):
            item = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(self.colour), pen=pg.mkPen(None))
            item.setZValue(self.z)
            for line in item.lines:
                line.setPen(pg.mkPen(None))
            self.plot.addItem(item, ignoreBounds=True)
            self.items.append(item)
        for item, (lo, hi) in zip(self.items, spans):
            item.setRegion((lo, hi))
            item.show()
        for item in self.items[len(spans):]:
            item.hide()

    @property
    def shown(self) -> list[tuple[float, float]]:
        return [tuple(item.getRegion()) for item in self.items if item.isVisible()]


def on_left_click(plot: pg.PlotItem, callback: Callable[[float, float], None]) -> None:
    """Call ``callback(x, y)`` (data coordinates) for a left click inside ``plot``'s view box."""
    view = plot.getViewBox()

    def clicked(ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or ev.double():
            return
        if not view.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = view.mapSceneToView(ev.scenePos())
        callback(float(p.x()), float(p.y()))

    plot.scene().sigMouseClicked.connect(clicked)


def with_alpha(colour, alpha: int) -> QColor:
    """``colour`` (anything pyqtgraph's mkColor takes) with its alpha set to ``alpha`` (0-255)."""
    c = QColor(pg.mkColor(colour))
    c.setAlpha(alpha)
    return c
