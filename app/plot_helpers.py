"""Small pyqtgraph helpers shared by the analysis views (colours, shaded spans, clicks in data coordinates)."""

from __future__ import annotations

from typing import Callable, Iterable

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QSizeF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QSizePolicy, QWidget

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


def view_combo(parent: QWidget) -> QComboBox:
    """A combo box of an analysis view that follows its items' width. (Qt's default sizes it once, when first
    shown: a view opened before the first analysis kept an empty combo's width, "P(high va".)"""
    combo = QComboBox(parent)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return combo


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


class RowLegend(pg.LegendItem):
    """The legend in its own row of the plots' layout (never over the data): not draggable, as wide as its
    entries (a layout item is otherwise stretched to the row's width), laid out in a given number of columns and
    rows (:meth:`arrange`); entries beyond those rows are hidden behind a "+N more" label whose tooltip names them.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(offset=None, labelTextSize="8pt", frame=False, **kwargs)
        self.layout.setContentsMargins(2, 0, 2, 0)  # a row of entries is as tall as its 20-px samples
        policy = QSizePolicy.Policy.Fixed
        self.setSizePolicy(policy, policy)
        self.max_rows: int | None = None  # None: every entry shown
        self.more = pg.LabelItem("", color="#202020", size="8pt", justify="left", parent=self)
        self.more.hide()

    def updateSize(self) -> None:  # noqa: N802 (pyqtgraph API): the layout places it; its size is its entries'
        self.layout.invalidate()
        self.updateGeometry()

    def sizeHint(self, which, constraint=QSizeF()):  # noqa: N802 (Qt API)
        if which in (Qt.SizeHint.MinimumSize, Qt.SizeHint.PreferredSize, Qt.SizeHint.MaximumSize):
            return self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)
        return super().sizeHint(which, constraint)

    @property
    def n_shown(self) -> int:
        """Entries drawn (the others are behind "+N more")."""
        n = len(self.items)
        if self.max_rows is None or n <= self.max_rows * self.columnCount:
            return n
        return max(0, self.max_rows * self.columnCount - 1)  # the last place is the "+N more" label's

    def arrange(self, columns: int, max_rows: int | None = None) -> None:
        """Lay the entries out in ``columns`` columns, in order along each row, on at most ``max_rows`` rows."""
        self.columnCount = max(1, int(columns))
        self.max_rows = None if max_rows is None else max(1, int(max_rows))
        for i in range(self.layout.count() - 1, -1, -1):
            self.layout.removeAt(i)
        shown = self.n_shown
        for i, (sample, label) in enumerate(self.items):
            sample.setVisible(i < shown)
            label.setVisible(i < shown)
            if i < shown:
                self._place(i)
        hidden = [label.text for _, label in self.items[shown:]]
        self.more.setVisible(bool(hidden))
        if hidden:
            self.more.setText(f"+{len(hidden)} more")
            self.more.setToolTip("\n".join(hidden))
            row, col = divmod(shown, self.columnCount)
            self.layout.addItem(self.more, row, 2 * col, 1, 2)
        self.rowCount = max(1, -(-(shown + bool(hidden)) // self.columnCount))
        self.updateSize()

    def _place(self, i: int) -> None:
        sample, label = self.items[i]
        row, col = divmod(i, self.columnCount)
        self.layout.addItem(sample, row, 2 * col, alignment=Qt.AlignmentFlag.AlignVCenter)
        self.layout.addItem(label, row, 2 * col + 1)

    def _addItemToLayout(self, sample, label) -> None:  # noqa: N802 (pyqtgraph API): called by addItem
        self.arrange(self.columnCount, self.max_rows)

    def setColumnCount(self, columnCount) -> None:  # noqa: N802 (pyqtgraph API)
        self.arrange(columnCount, self.max_rows)

    def removeItem(self, item) -> None:  # noqa: N802 (pyqtgraph API): the others close the gap
        super().removeItem(item)
        self.arrange(self.columnCount, self.max_rows)

    def width_for(self, columns: int) -> float:
        """Width of every entry laid out in ``columns`` columns, px."""
        columns = max(1, min(columns, len(self.items)))
        sample_w = [max((s.minimumWidth() for s, _ in self.items[c::columns]), default=0.0) for c in range(columns)]
        label_w = [max((lab.minimumWidth() for _, lab in self.items[c::columns]), default=0.0)
                   for c in range(columns)]
        left, _, right, _ = self.layout.getContentsMargins()
        return left + right + sum(sample_w) + sum(label_w) + (2 * columns - 1) * self.layout.horizontalSpacing()

    def hoverEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph API): no dragging (LegendItem accepts drags)
        pass

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph API)
        ev.ignore()


#: Time span (s) an analysis view's empty time axis covers when no recording is open.
EMPTY_SPAN_S = 60.0


def empty_time_range(model, *plots: pg.PlotItem) -> tuple[float, float]:
    """Give the time axes of ``plots`` the open recording's span (0 to its duration; 0 to :data:`EMPTY_SPAN_S`
    without one) while a view has nothing to show, and return that span, s.

    An empty PlotItem keeps pyqtgraph's default range around 0 (-0.5 to 0.5): an empty attention view read
    "-00:00.4" and the others "00:00.1" ticks, times that belong to no recording.
    """
    rec = getattr(model, "recording", None)
    duration = float(getattr(rec, "duration_s", 0.0) or 0.0) if rec is not None else 0.0
    span = (0.0, duration if duration > 0 else EMPTY_SPAN_S)
    for plot in plots:
        plot.setXRange(*span, padding=0)
    return span


class CursorKeys(QObject):
    """Keyboard access to an analysis view's time cursor: with the view's plots focused (a click, or Tab), Left /
    Right move the app's time cursor one analysis window back / forward (Shift: ten), Home / End to the first / last
    window; ``jump(t)`` then moves the browser there, as a click does. (The cursor moved by mouse only.)"""

    STEP_KEYS = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}

    def __init__(self, widget: QWidget, model, jump: Callable[[float], None]) -> None:
        super().__init__(widget)
        self.model = model
        self.jump = jump
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        widget.installEventFilter(self)

    def target(self, key: int, modifiers) -> float | None:
        """The cursor time (s) for ``key`` with ``modifiers``; None for other keys or without an analysis."""
        result = getattr(self.model, "analysis", None)
        if result is None or result.n_windows == 0:
            return None
        first = float(result.window_starts[0]) + result.window_s / 2
        last = float(result.window_starts[-1]) + result.window_s / 2
        if key == Qt.Key.Key_Home:
            return first
        if key == Qt.Key.Key_End:
            return last
        if key not in self.STEP_KEYS:
            return None
        n = 10 if modifiers & Qt.KeyboardModifier.ShiftModifier else 1
        t = float(self.model.cursor_s) + self.STEP_KEYS[key] * n * result.window_s
        return min(max(t, first), last)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.KeyPress:
            t = self.target(event.key(), event.modifiers())
            if t is not None:
                self.model.set_cursor(t)
                self.jump(t)
                return True
        return super().eventFilter(obj, event)
