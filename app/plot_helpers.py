"""Small pyqtgraph helpers shared by the analysis views (colours, shaded spans, clicks in data coordinates)."""

from __future__ import annotations

from typing import Callable, Iterable

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from .browser_state import format_hms

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


#: Label of the analysis views' time axes (the browser's wording: the same clock as its time axis).
TIME_LABEL = "time from start (h:mm:ss)"
#: Tick steps of a time axis, s: round steps of a clock, so that ticks fall on whole minutes and hours.
TIME_STEPS: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                                 900.0, 1800.0, 3600.0, 7200.0, 3 * 3600.0, 6 * 3600.0, 12 * 3600.0, 86400.0)
#: Room a tick label of a time axis needs, px ("0:00:00" plus a gap).
TIME_LABEL_PX = 64


class TimeAxis(pg.AxisItem):
    """A bottom axis reading h:mm:ss (mm:ss under an hour) from the recording's start, as the browser's.

    pyqtgraph's axis with ``units="s"`` scales long spans with an SI prefix: a 1-h recording read "time (ks)"
    with ticks 0.5, 1, 1.5. Ticks fall on :data:`TIME_STEPS`, as many as fit the axis' width.
    """

    def __init__(self, orientation: str = "bottom", **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    @staticmethod
    def step_for(span_s: float, size_px: float) -> float:
        """The tick step for ``span_s`` seconds over ``size_px`` pixels: the smallest whose labels fit."""
        n_max = max(2.0, size_px / TIME_LABEL_PX)
        return next((s for s in TIME_STEPS if span_s / s <= n_max), TIME_STEPS[-1])

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph API)
        return [(self.step_for(max(maxVal - minVal, 1e-9), size), 0.0)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph API)
        decimals = 0 if spacing >= 1 else 1
        return [format_hms(v, decimals=decimals) for v in values]


def use_time_axis(plot: pg.PlotItem, label: bool = True) -> TimeAxis:
    """Give ``plot`` a :class:`TimeAxis` at the bottom, labelled :data:`TIME_LABEL` (no label: ``label=False``)."""
    axis = TimeAxis("bottom")
    plot.setAxisItems({"bottom": axis})
    axis.setTextPen(pg.mkPen("#303030"))
    axis.setPen(pg.mkPen("#808080"))
    if label:
        plot.setLabel("bottom", TIME_LABEL)
    return axis


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
