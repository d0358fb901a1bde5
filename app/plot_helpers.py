"""Small pyqtgraph helpers shared by the analysis views (colours, shaded spans, clicks in data coordinates)."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Callable, Hashable, Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF
from PySide6.QtWidgets import QComboBox, QGraphicsItem, QSizePolicy, QWidget

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
#: "[h:]": under an hour the labels read mm:ss ("00:05" is 5 s); "(h:mm:ss)" over "00:05" read as 5 minutes.
TIME_LABEL = "time from start ([h:]mm:ss)"
#: Tick steps of every time axis (the browser's and the analysis views'), s: round steps of a clock, so that
#: ticks fall on whole seconds, minutes and hours.
TIME_STEPS: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                                 900.0, 1800.0, 3600.0, 7200.0, 3 * 3600.0, 6 * 3600.0, 12 * 3600.0, 86400.0)
#: Room a tick label of a time axis needs when it is not measured (:meth:`TimeAxis.step_for`), px.
TIME_LABEL_PX = 64
#: Most ticks on a time axis.
MAX_TICKS = 12
#: Least room between two tick labels, px.
TICK_LABEL_GAP_PX = 12
#: A tick this far below 0 s is still the start (rounding), s; ticks before it are not drawn.
NEGATIVE_TICK_S = 1e-9


def _hms(t_s: float, decimals: int = 0) -> str:
    return format_hms(t_s, decimals=decimals)


class TimeAxis(pg.AxisItem):
    """A bottom axis reading h:mm:ss (mm:ss under an hour) from the recording's start: the browser's time axis
    (``signal_browser._TimeAxis``, which formats through its state: clock time) and the analysis views'.

    pyqtgraph's axis with ``units="s"`` scales long spans with an SI prefix: a 1-h recording read "time (ks)"
    with ticks 0.5, 1, 1.5. Here ticks fall on :data:`TIME_STEPS`: the smallest step giving at most
    :data:`MAX_TICKS` ticks whose labels, measured in the axis' font, keep :data:`TICK_LABEL_GAP_PX` between them
    (:meth:`tick_step`). No tick is drawn before 0 s (an empty view's range, -0.5 to 0.5 s, read "-00:00.4").

    A range change (a page step) only places ticks and labels: pyqtgraph's general code runs when the axis'
    geometry or style changes (:meth:`generateDrawSpecs`, the same specs: tested); label widths and tick steps
    are kept per text and per range.

    Parameters
    ----------
    orientation : str
        "bottom" (the other sides work, with pyqtgraph's general code at every change).
    format_time : callable (seconds, decimals) -> str, optional
        The label of a time (default :func:`~app.browser_state.format_hms`).
    clock : BrowserState, optional
        The browser's state whose time mode the axis follows (:meth:`set_clock`): h:mm:ss from the start, or the
        clock time (T), with ticks on whole clock times and the axis title saying which.
    """

    def __init__(self, orientation: str = "bottom", *, format_time: Callable[[float, int], str] | None = None,
                 clock=None, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self.format_time = format_time or _hms
        self.clock = None
        self.titled = False  # the axis shows its title (time from start / clock time), see set_clock
        if clock is not None:
            self.set_clock(clock)
        self._specs_cache: tuple | None = None  # see generateDrawSpecs
        self._metrics: tuple[str, QFontMetricsF] | None = None  # (font key, its metrics), see label_px
        self._widths: dict[str, float] = {}  # label text -> width in the tick font, px
        self._text_rects: dict[tuple[str, str], QRectF] = {}  # (font key, text) -> rectangle drawn, see specs
        self._steps: dict[tuple, float] = {}  # (span, lo, size, format) -> tick step, see tick_step

    @staticmethod
    def step_for(span_s: float, size_px: float, label_px: float = TIME_LABEL_PX) -> float:
        """The tick step for ``span_s`` seconds over ``size_px`` pixels when each label takes ``label_px`` px (a
        fixed guess; an axis measures its labels: :meth:`tick_step`)."""
        n_max = max(2.0, size_px / label_px)
        return next((s for s in TIME_STEPS if span_s / s <= n_max), TIME_STEPS[-1])

    def label_px(self, lo: float, hi: float, step: float, dated: bool | None = None) -> float:
        """Width of the widest tick label over [``lo``, ``hi``] s at ``step`` s, px, in the axis' tick font; with
        ``dated`` (default: :meth:`dates_shown`) as if it carried its date."""
        font = self.style["tickFont"] if self.style["tickFont"] is not None else self.font()
        key = font.key()
        if self._metrics is None or self._metrics[0] != key:  # made once per font, not at every step
            self._metrics = (key, QFontMetricsF(font))
            self._widths.clear()
        metrics = self._metrics[1]
        decimals = 0 if step >= 1 else 1
        # The widest label is one of the ends' (more hours digits, a minus sign), or any "88" of the same form.
        widest = 0.0
        dated = self.dates_shown() if dated is None else dated
        for t in (lo, hi, step * math.floor(hi / step)):
            text = self.format_time(t, decimals)
            if dated:  # the date that a label may carry (see tickStrings)
                text = f"{self._date_of(t, decimals)} {text}"
            width = self._widths.get(text)
            if width is None:
                if len(self._widths) > 4096:
                    self._widths.clear()
                width = self._widths[text] = metrics.horizontalAdvance(text)
            widest = max(widest, width)
        return widest

    def tick_step(self, span: float, lo: float | None = None, size_px: float | None = None) -> float:
        """The tick step for ``span`` s from ``lo`` s over ``size_px`` px (default: the axis' range and width):
        the smallest of :data:`TIME_STEPS` giving at most :data:`MAX_TICKS` ticks whose labels (the widest plus
        :data:`TICK_LABEL_GAP_PX`) do not overlap. A 10-s page in a narrow window had labels run together
        ("00:0100:0200:03")."""
        size = self.width() if size_px is None else size_px
        lo = self.range[0] if lo is None else lo
        key = (span, lo, size, self.format_key(), self._metrics[0] if self._metrics else None)
        step = self._steps.get(key)
        if step is not None:
            return step
        step = TIME_STEPS[-1]
        for candidate in TIME_STEPS:
            if span / candidate > MAX_TICKS:
                continue
            # Spaced for the labels without a date: the few that carry one (the first, a new day's) make room by
            # leaving their neighbours' labels out (tickStrings). Spaced for dated labels, a 2-min page of a
            # 24-h recording had three labels.
            label = self.label_px(lo, lo + span, candidate, dated=False)
            if size <= 0 or candidate / span * size >= label + TICK_LABEL_GAP_PX:
                step = candidate
                break
        if len(self._steps) > 256:
            self._steps.clear()
        self._steps[(span, lo, size, self.format_key(), self._metrics[0] if self._metrics else None)] = step
        return step

    def format_key(self) -> Hashable:
        """What the labels' format depends on besides the time (the tick steps kept per range are kept per format):
        with a clock, its time mode and start."""
        if self.clock is not None:
            return (self.format_time, self.clock.clock_time, self.clock.start_time,
                    getattr(self.clock, "duration_s", None))
        return self.format_time

    def set_clock(self, clock) -> None:
        """Follow ``clock``'s time mode (a :class:`~app.browser_state.BrowserState`: ``clock_time``, ``start_time``,
        ``format_time``), and draw again when it changed: the analysis views read clock time when the browser does
        (T switched the browser only, and a time read in a view could not be found on the browser's axis)."""
        changed = clock is not self.clock or self._drawn_key != self.format_key()
        self.clock = clock
        self.format_time = clock.format_time if clock is not None else _hms
        key = self.format_key()
        if changed or self._drawn_key != key:
            self._drawn_key = key
            if self.titled:
                self.setLabel(self.title())
            self.picture = None
            self.update()

    _drawn_key: Hashable = None

    def title(self) -> str:
        """The axis' title: :data:`TIME_LABEL`, or the clock time with the recording's start date and time."""
        clock = self.clock
        if clock is not None and clock.clock_time and clock.start_time is not None:
            start = clock.start_time
            started = clock.format_time(0.0, 3 if start.microsecond else 0)
            return f"clock time (recording started {start:%Y-%m-%d} {started})"
        return TIME_LABEL

    def tick_offset(self, step: float) -> float:
        """Where the ticks start, s: on whole clock times in clock time (a start at 14:00:05.25 put the ticks, and
        their rounded labels, 0.25 s off the times they named), else at multiples of ``step`` from the start."""
        clock = self.clock
        start = clock.start_time if clock is not None else None
        if start is None or not clock.clock_time or step <= 0:
            return 0.0
        of_day = start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6
        return -of_day % step

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph API)
        step = self.tick_step(max(maxVal - minVal, 1e-9), minVal, size)
        return [(step, self.tick_offset(step))]

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph API): none before the start
        """pyqtgraph's tick values (the same numbers: its arithmetic for one level, without its general code:
        ~0.3 ms of the browser's page step), none before 0 s."""
        levels = None
        if not self.logMode:
            lo, hi = sorted((minVal, maxVal))
            lo, hi = lo * self.scale, hi * self.scale
            spacings = self.tickSpacing(lo, hi, size)
            if len(spacings) == 1:
                spacing, offset = spacings[0]
                start = (math.ceil((lo - offset) / spacing) * spacing) + offset
                num = int((hi - start) / spacing) + 1
                levels = [(spacing / self.scale, ((np.arange(num) * spacing + start) / self.scale).tolist())]
        if levels is None:
            levels = super().tickValues(minVal, maxVal, size)
        if min(minVal, maxVal) >= -NEGATIVE_TICK_S:
            return levels
        return [(spacing, [v for v in values if v >= -NEGATIVE_TICK_S]) for spacing, values in levels]

    def paint(self, p, opt, widget):  # noqa: D102 (Qt API)
        """pyqtgraph records the axis into a QPicture and plays it back; a range change (every page step) drops
        the picture, so recording it is overhead. An axis cached in device pixels (Qt keeps what was painted
        until ``update()``: the browser's) is drawn straight onto the painter: the same calls, the same pixels
        (tested)."""
        if self.cacheMode() != QGraphicsItem.CacheMode.DeviceCoordinateCache:
            super().paint(p, opt, widget)
            return
        p.save()
        try:
            # The font a painter on a QPicture starts with: the application's (QFont()).
            p.setFont(self.style["tickFont"] if self.style["tickFont"] else QFont())
            specs = self.generateDrawSpecs(p)
            if specs is not None:
                self.drawPicture(p, *specs)
        finally:
            p.restore()

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph API)
        decimals = 0 if spacing >= 1 else 1
        strings = [self.format_time(max(v, 0.0) if v > -NEGATIVE_TICK_S else v, decimals) for v in values]
        if not self.dates_shown():
            return strings
        # A recording over several days: the first label and each one where the day changes carry the date, as
        # EDFbrowser's do (a clock time alone could not tell the days of a multi-day recording apart).
        # The first label is the first one drawn whole: a tick at the view's left edge has its label cut off (not
        # drawn), and the page's date went with it.
        lo, hi = self.range
        size = self.width()
        out, last = [], None
        for v, text in zip(values, strings):
            date = self._date_of(max(v, 0.0), decimals)
            dated = f"{date} {text}"
            if last is None and size > 0 and hi > lo and (v - lo) / (hi - lo) * size < self._text_px(dated) / 2:
                out.append(text)  # cut off at the left edge: the next label carries the date
                continue
            out.append(text if date == last else dated)
            last = date
        return self._clear_beside_dates(values, out, lo, hi, size)

    def _clear_beside_dates(self, values, strings: list[str], lo: float, hi: float, size: float) -> list[str]:
        """``strings`` with the labels that a dated label (wider than the step is spaced for) would overlap left
        empty; their ticks stay. Of two dated labels that overlap, the later (a new day) is kept."""
        if size <= 0 or hi <= lo or len(values) < 2:
            return strings
        out = list(strings)
        xs = [(v - lo) / (hi - lo) * size for v in values]
        widths = [self._text_px(t) for t in out]

        def overlap(a: int, b: int) -> bool:
            return abs(xs[a] - xs[b]) < (widths[a] + widths[b]) / 2 + TICK_LABEL_GAP_PX

        for i, text in enumerate(strings):
            if " " not in text or not out[i]:  # a dated label: "YYYY-MM-DD hh:mm:ss"
                continue
            for side in (range(i - 1, -1, -1), range(i + 1, len(out))):
                for j in side:
                    if not out[j]:
                        continue
                    if not overlap(i, j):
                        break
                    if " " in out[j]:  # two dates: the earlier goes
                        out[min(i, j)] = ""
                        if j > i:
                            break
                    else:
                        out[j] = ""
                if not out[i]:
                    break
        return out

    def _text_px(self, text: str) -> float:
        """Width of ``text`` in the axis' tick font, px."""
        font = self.style["tickFont"] if self.style["tickFont"] is not None else self.font()
        if self._metrics is None or self._metrics[0] != font.key():
            self._metrics = (font.key(), QFontMetricsF(font))
            self._widths.clear()
        width = self._widths.get(text)
        if width is None:
            width = self._widths[text] = self._metrics[1].horizontalAdvance(text)
        return width

    def dates_shown(self) -> bool:
        """The labels carry dates: clock time (T) on a recording whose clock passes midnight."""
        clock = self.clock
        if clock is None or not clock.clock_time or clock.start_time is None:
            return False
        end = clock.start_time + _dt.timedelta(seconds=float(getattr(clock, "duration_s", 0.0) or 0.0))
        return end.date() != clock.start_time.date()

    def _date_of(self, t_s: float, decimals: int) -> str:
        """The date (YYYY-MM-DD) of the clock time ``t_s`` s after the start, rounded as its label is."""
        when = self.clock.start_time + _dt.timedelta(seconds=float(t_s))
        unit = 10 ** (6 - decimals)
        when = when.replace(microsecond=0) + _dt.timedelta(microseconds=round(when.microsecond / unit) * unit)
        return when.strftime("%Y-%m-%d")

    def generateDrawSpecs(self, p):  # noqa: N802 (pyqtgraph API)
        """pyqtgraph's specs, with its general code run only when the axis' geometry or style changes.

        A range change (a page step) only moves ticks and labels: the axis line and the ticks' pen stay, the
        ticks and labels are placed by pyqtgraph's rule for a bottom axis with one tick level and no grid (the
        same positions, rectangles and texts: tested); pyqtgraph's general code took ~2 ms of the browser's GUI
        thread per page step. Other axes (a grid, another side) take pyqtgraph's code.
        """
        if self.orientation != "bottom":
            return super().generateDrawSpecs(p)
        lo, hi = self.range
        bounds = self.mapRectFromParent(self.geometry())
        key = (bounds.getRect(), self.style["tickLength"], self.style["tickTextOffset"][1], self.style["showValues"],
               self.pen().color().rgba(), self.tickPen().color().rgba(), self.textPen().color().rgba(),
               self.style["tickFont"].key() if self.style["tickFont"] is not None else None, self.grid)
        levels = self.tickValues(lo, hi, bounds.width())  # one level (see tickSpacing), pyqtgraph's length
        cached = self._specs_cache
        dif = hi - lo
        if (cached is None or cached[0] != key or len(levels) != 1 or dif <= 0 or self.grid is not False
                or not self.style["showValues"] or self._tickLevels is not None):
            specs = super().generateDrawSpecs(p)
            self._specs_cache = None
            if specs is not None and specs[1] and len(levels) == 1 and self.grid is False:
                self._specs_cache = (key, specs[0], specs[1][0][0])  # (key, axis line, tick pen)
            return specs
        _, axis_spec, tick_pen = cached
        spacing, values = levels[0]
        x_scale = bounds.width() / dif
        offset = lo * x_scale
        xs = [v * x_scale - offset for v in values]
        if any(x < lo * x_scale - offset or x > hi * x_scale - offset for x in xs):
            self._specs_cache = None
            return self.generateDrawSpecs(p)
        tick_stop = bounds.top()
        tick_end = tick_stop + self.style["tickLength"]  # tickDir 1 for a bottom axis, no grid
        tick_specs = [(tick_pen, pg.Point(x, tick_stop), pg.Point(x, tick_end)) for x in xs]
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        font_key = p.font().key()
        strings = self.tickStrings(values, self.autoSIPrefixScale * self.scale, spacing)
        text_offset = max(0, self.style["tickLength"]) + self.style["tickTextOffset"][1]
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextDontClip
        br = self.boundingRect()
        text_specs, size2 = [], 0.0
        rects = self._text_rects
        for x, text in zip(xs, strings):
            r = rects.get((font_key, text))
            if r is None:  # the text's layout, once per text (QPainter.boundingRect lays it out every time)
                if len(rects) > 4096:
                    rects.clear()
                r = rects[(font_key, text)] = p.boundingRect(QRectF(0, 0, 100, 100), Qt.AlignmentFlag.AlignCenter,
                                                             text)
            height, width = r.height() * 0.8, r.width()
            size2 = max(size2, height)
            rect = QRectF(x - width / 2.0, tick_stop + text_offset, width, height)
            if br & rect == rect:
                text_specs.append((rect, flags, text))
        self._updateMaxTextSize(size2)
        return axis_spec, tick_specs, text_specs


def use_time_axis(plot: pg.PlotItem, label: bool = True) -> TimeAxis:
    """Give ``plot`` a :class:`TimeAxis` at the bottom, labelled :data:`TIME_LABEL` (no label: ``label=False``)."""
    axis = TimeAxis("bottom")
    plot.setAxisItems({"bottom": axis})
    axis.setTextPen(pg.mkPen("#303030"))
    axis.setPen(pg.mkPen("#808080"))
    if label:
        axis.titled = True
        plot.setLabel("bottom", TIME_LABEL)
    return axis


def time_axes(widget: QWidget) -> list[TimeAxis]:
    """The :class:`TimeAxis` items of every plot in ``widget`` (an analysis view)."""
    axes = []
    for view in widget.findChildren(pg.GraphicsView):
        scene = view.scene()
        if scene is not None:
            axes.extend(item for item in scene.items() if isinstance(item, TimeAxis))
    return axes


def follow_clock(widget: QWidget, clock) -> None:
    """Make the time axes of ``widget`` (an analysis view) read time as ``clock`` (the browser's state) does: h:mm:ss
    from the start or clock time (T), drawn again when that changed."""
    for axis in time_axes(widget):
        axis.set_clock(clock)
    hook = getattr(widget, "clock_changed", None)  # a view's other times (the circumplex's colour bar)
    if hook is not None:
        hook(clock)


def view_combo(parent: QWidget) -> QComboBox:
    """A combo box of an analysis view that follows its items' width. (Qt's default sizes it once, when first
    shown: a view opened before the first analysis kept an empty combo's width, "P(high va".)"""
    combo = QComboBox(parent)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return combo


#: PlotItems made ahead of need (:func:`prepare_plot_item`), taken by :func:`new_plot_item`.
_SPARE_PLOTS: list[pg.PlotItem] = []


def prepare_plot_item() -> None:
    """Make one PlotItem for a view built later (:func:`new_plot_item` takes it).

    A PlotItem builds its options form, context menus, view box and four axes: 20-60 ms of the GUI thread each
    (more on a loaded machine), three of them in the trajectory view, which was built when the first analysis
    ended and froze the window there. The window makes them one per turn of its event loop while an analysis
    runs (:meth:`app.main_window.MainWindow.run_analysis`), so that no single step holds the GUI thread long.
    """
    _SPARE_PLOTS.append(pg.PlotItem())


def new_plot_item() -> pg.PlotItem:
    """A new PlotItem, as ``pg.PlotItem()`` makes it (one made ahead by :func:`prepare_plot_item` if any)."""
    return _SPARE_PLOTS.pop() if _SPARE_PLOTS else pg.PlotItem()


def spare_plot_items() -> int:
    """How many PlotItems made ahead wait to be used."""
    return len(_SPARE_PLOTS)


def add_plot(layout: pg.GraphicsLayout, row: int, col: int) -> pg.PlotItem:
    """``layout.addPlot(row=row, col=col)`` with :func:`new_plot_item`'s PlotItem."""
    plot = new_plot_item()
    layout.addItem(plot, row=row, col=col)
    return plot


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
