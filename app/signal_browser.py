"""SignalBrowser: draws a :class:`~app.browser_state.BrowserState` -- a page of stacked traces, one row per channel
(or montage derivation), with annotations, interference, masks, a scale bar and measurement cursors.

The state (page, channel window, scales, montage, display filters, mode) lives in :class:`BrowserState`, which is
Qt-free and tested without a window; the keys are the table :data:`app.key_bindings.BINDINGS` (also the shortcuts
dialog and the README). This widget subscribes to the state's events and draws; key presses and mouse gestures
call the state's methods through the browser's commands.

Rows: the montage (:mod:`mmqnet_core.montage`) turns the channels not hidden into rows (as recorded: one per
channel). A montage and display filters change only what is drawn; the model reads its own (cleaned) input.
Display filters (:mod:`mmqnet_core.preprocessing.display_filter`) run on the page being prepared, with padding
read on both sides so that the filter's transient stays off the page.

Channel paging (EDFbrowser's "channels per page", MNE's Up/Down): only a window of the rows is in view,
``channels_per_page`` rows from ``first_channel``; by default as many as fit at :data:`MIN_ROW_PX` px per row.
Moving the window only changes the view's y range (the page's traces are laid out for every row already).

Annotation labels sit in their own strip above the traces, stacked over up to :data:`LABEL_ROWS` lines by
:func:`stack_labels` so that they do not overlap; the drawing of annotations is one object
(:class:`SpanLayer`) that a richer annotation layer can replace. The user's annotations (app/annotation_layer.py)
have their labels in a strip of their own under the traces, there while user annotations exist. Both strips are
opaque over the rows out of the channel window. The scale bar has a gutter right of the traces
(:class:`_ScaleGutter`): it never covers a trace.

Speed: one PlotItem holds every trace at its own vertical offset; all rows of one kind (raw, cleaned) are ONE
curve item (rows laid end to end, a ``connect`` array breaks the line at row ends and gaps), so a page step is two
``setData`` calls. Pages are prepared (read, montage, display filter, decimated, scaled, clipped, laid out) by
:func:`layout_page` in a prefetcher with two threads (:class:`_PagePrefetcher`): after each page is drawn, the next
two pages in the direction of travel and the one before it are prepared in the background, and drawn into an
image of the plot area there (the rows in view only, without the interpreter lock: :mod:`app.page_raster`), so
that a step copies an image. Spans are drawn with pooled graphics items; the channel-name axis is cached as a
pixmap; the time axis places its ticks by pyqtgraph's rule without its general code, and the grid item is moved,
not rebuilt. The cleaned view of a long recording is cleaned on demand, tile by tile: a step never waits for a
tile's cleaning (at most :data:`CLEANED_WAIT_S`, none back to back); the page is drawn without its cleaned trace,
the legend says "cleaning...", and the trace follows (pages prepared ahead that the reader has paged past by then
are skipped, so the tile of the page the reader stops at is not queued behind theirs).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
import time
import warnings
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterator, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetricsF,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPen,
    QTextDocumentFragment,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QScrollBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from mmqnet_core.errors import Cancelled, FileChangedError, MMQNetError
from mmqnet_core.montage import BUILTIN, MEAN_REFERENCE_KINDS, Derivation, DerivationPlan, Montage, plan
from mmqnet_core.preprocessing.display_filter import DisplayFilter, filter_rows
from mmqnet_core.recording import Annotation, Modality, Recording

from .browser_state import (  # noqa: F401 (re-exported: the constants' historical home)
    CHANNELS_PER_PAGE,
    MIN_ROW_PX,
    MODES,
    PAGE_LENGTHS,
    ROW_MARGIN,
    SCALE_STEP,
    BrowserState,
    auto_channels_per_page,
    display_unit,
    format_number,
)
from .annotation_layer import AnnotationLayer
from .browser_heart_rate import MIN_AXIS_PX, HeartRateRow
from .decimate import peak_decimate
from .errors import GO_TO_TIME_CONTEXT
from .key_bindings import Binding, browser_bindings
from .model import AppModel
from .page_raster import gil_free_available, stroke_path
from .plot_helpers import TICK_LABEL_GAP_PX, TIME_STEPS, TimeAxis  # noqa: F401 (TICK_LABEL_GAP_PX re-exported)
from .qt_compat import single_shot_timer

log = logging.getLogger(__name__)

#: Amplitude per row spacing used when a page gives no usable range (flat or empty), in the channel's unit.
FALLBACK_SCALE: dict[Modality, float] = {Modality.EEG: 100e-6, Modality.EOG: 400e-6, Modality.EMG: 200e-6,
                                         Modality.ECG: 2e-3}
#: Spacings of the grid lines and time ticks, s: the time axes' one table (the smallest giving at most 12 ticks
#: whose labels fit is used).
GRID_STEPS = TIME_STEPS
#: Channels moved by one notch of Shift+wheel.
WHEEL_CHANNELS = 3
#: Lines over which annotation labels are stacked in the strip above the traces.
LABEL_ROWS = 3
#: Space kept between two labels on one line, px.
LABEL_GAP_PX = 4.0
#: A label shortened to less than this is hidden instead, px.
LABEL_MIN_PX = 48.0
#: Fewest characters of its text a shortened annotation label keeps (before "…"); with less room it is hidden.
LABEL_MIN_CHARS = 4
#: Prepared pages kept (shown and prefetched ones); a page of 40 channels at 1280 px is about 2 MB.
PAGE_CACHE_SIZE = 10
#: Padding of a curve's bounding rectangle, as a share of its data extent (see ``_DataBoundsCurve``).
BOUNDS_PAD = 0.01
#: Pages prepared ahead in the direction of travel (and one behind).
PREFETCH_AHEAD = 2
#: The status while pages cannot be read because the file changed on disk since it was opened.
FILE_CHANGED_STATUS = "the file changed on disk since it was opened: pages not read before are not drawn; open it again"
#: Threads that prepare pages in the background. Back to back, one page is new at each step and one thread took
#: longer over it (read, montage, filter, layout, image: ~8-12 ms of CPU) than the GUI thread over the step
#: (~7-8 ms), so the GUI thread waited for it (~5 ms per step in ``_PagePrefetcher.get``) with a core idle. With
#: two, the page two steps ahead is prepared beside the next one: the same work, on the core the waiting GUI
#: thread left idle (one thread on a single-core machine).
PREFETCH_THREADS = 2 if (os.cpu_count() or 1) > 1 else 1
#: Pages display-filtered together (see ``_PagePlan._filtered``), and such blocks kept per trace kind.
FILTER_BLOCK_PAGES = 3
FILTER_BLOCKS_KEPT = 3
#: Longest time a prefetch waits for the page step's paint before it starts anyway, s (see ``_PagePrefetcher.hold``).
PREFETCH_HOLD_S = 0.05
#: With the cleaned view of a long recording (cleaned on demand, tile by tile), the tile that holds the page this
#: many pages ahead is cleaned in the background: a reader holding PageDown (30 Hz auto-repeat) finds it cleaned
#: (a tile takes ~0.15-0.2 s; the pages' own prefetch, two ahead, asked for it ~70 ms before it was drawn). Not
#: while steps come back to back (measured: 12.6-13.5 ms median per step with it vs 9.3-10.0 ms without).
TILE_AHEAD_PAGES = 10
#: Longest time a page step waits for a page whose on-demand tile is being cleaned, s (none when steps come back to
#: back); then the page is drawn without its cleaned trace, the legend says "cleaning...", and the trace follows
#: when the tile is cleaned. Paging back to back outruns the cleaning (a 120-s tile: ~0.15-0.2 s on 2 cores,
#: 0.3-0.5 s on a loaded machine; its 12 pages ~0.1 s of steps): each new tile held the window that long.
CLEANED_WAIT_S = 0.03
#: A page step that comes less than this after the previous page's paint ended (or, not painted yet, after it
#: was drawn) is "back to back", s: its neighbours are prepared without waiting for its paint (see
#: ``SignalBrowser.refresh``), and without images where the stroke would hold the interpreter lock: PySide6's
#: ``QPainter.drawPath`` does (measured: a Python loop in the GUI thread ran at 2 % of its speed meanwhile), which
#: fits between a keyboard's auto-repeated presses (~33 ms apart), not between presses that come as soon as the
#: page is painted. Where ``app.page_raster`` strokes without the lock (Linux, macOS), images are drawn anyway.
BACK_TO_BACK_S = 0.020
#: A prefetched page's image is used when the painter's offset differs from the predicted one by less, px.
RASTER_TOLERANCE_PX = 1e-3
#: A trace clipped to its row (the default) stays within this many row spacings of its centre line.
CLIP_ROWS = 0.5
#: A layout of at most this many rows is scaled so that each trace fits its row (see ``SignalBrowser._autoscale``).
FIT_ROWS = 4
#: Room kept around a trace's 0.1-99.9 % extent when it is scaled to fit its row (x this extent).
FIT_MARGIN = 1.15
#: A channel whose range is below this fraction of its modality's largest range is flat: it sets no scale.
FLAT_RANGE = 1e-6
#: Width of the channel-name gutter, px: at least the first, at most the second (longer names are elided).
GUTTER_PX = (48.0, 180.0)
#: Least width of the right gutter that holds the scale bar and its value, px (wider for a longer value).
SCALE_GUTTER_PX = 52.0

RAW_COLOUR = "#1f4e9c"
CLEANED_COLOUR = "#e0600b"
ANNOTATION_COLOUR = QColor(90, 140, 220, 28)
INTERFERENCE_COLOUR = QColor(255, 170, 0, 55)
MASK_FILL = QColor(220, 30, 30, 45)
MASK_HATCH = QColor(200, 0, 0, 140)
MASKED_LABEL = QColor("#c62828")
SELECTED_LABEL = QColor("#1565c0")
EDIT_EDGE = QColor("#b71c1c")
EDIT_EDGE_HOVER = QColor("#ff5252")
MEASURE_COLOUR = QColor("#6a1b9a")
STRIP_FILL = QColor(245, 245, 245)
#: What the read-out strip under the plot says while there is nothing to read out (greyed).
READOUT_HINT = "Time and value under the mouse; Q: measurement cursors"


def nice_value(limit: float) -> float:
    """The largest 1, 2 or 5 x 10^k not above ``limit`` (> 0): the length of a scale bar."""
    if not limit > 0 or not math.isfinite(limit):
        return 0.0
    exp = math.floor(math.log10(limit))
    for m in (5.0, 2.0, 1.0):
        if m * 10 ** exp <= limit * (1 + 1e-9):
            return m * 10 ** exp
    return 10 ** exp


def format_value(value: float, unit: str) -> str:
    """E.g. "50 µV", "0.2 µS", "1.5 a.u.", "5000 µV" (up to 3 significant digits; no exponent between 1e-6 and
    1e7: the scale bar of a large channel read "5e+03 µV")."""
    if 1e-6 <= abs(value) < 1e7:
        text = np.format_float_positional(value, precision=3, unique=False, fractional=False, trim="-")
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def key_map() -> dict[tuple[int, int], Binding]:
    """(Qt key, modifiers) of every key the browser dispatches (:func:`app.key_bindings.browser_bindings`: the
    rows of :data:`BINDINGS` that no window action owns) -> its binding."""
    out: dict[tuple[int, int], Binding] = {}
    for binding in browser_bindings():
        for text in binding.keys:
            combo = QKeySequence(text)[0]
            out[(int(combo.key().value), int(combo.keyboardModifiers().value))] = binding
    return out


class _ChannelAxis(pg.AxisItem):
    """Left axis that names every row in view; masked channels red, selected ones blue.

    The gutter widens to the longest name (up to :data:`GUTTER_PX`); a longer name is elided and its full text is
    the tooltip. Clicking a name calls ``on_click(row)``.
    """

    def __init__(self, on_click: Callable[[int], None]) -> None:
        super().__init__("left")
        self.enableAutoSIPrefix(False)  # names only: no label to re-lay out at each range change
        self._on_click = on_click
        self.names: list[str] = []
        self.rows = range(0)  # the rows of the channel window: only their names are drawn (not those under a strip)
        self.masked: set[str] = set()
        self.selected: set[str] = set()
        self.setStyle(tickLength=0, showValues=False)
        self.setWidth(64)
        self.setAcceptHoverEvents(True)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_names(self, names: Sequence[str]) -> None:
        self.names = list(names)
        metrics = QFontMetricsF(self.font())
        longest = max((metrics.horizontalAdvance(n) for n in names), default=0.0)
        bold_extra = 1.12  # selected names are drawn bold
        self.setWidth(int(min(max(longest * bold_extra + 12, GUTTER_PX[0]), GUTTER_PX[1])))
        self.picture = None
        self.update()

    def row_rect(self, row: int) -> QRectF | None:
        """The rectangle (item coordinates) where row ``row``'s name is drawn; ``None`` when out of view."""
        view = self.linkedView()
        if view is None:
            return None
        y = self.mapFromScene(view.mapViewToScene(QPointF(0, row))).y()
        h = abs(self.mapFromScene(view.mapViewToScene(QPointF(0, row + 1))).y() - y)
        rect = self.boundingRect()
        if not rect.top() - h / 2 <= y <= rect.bottom() + h / 2:
            return None
        return QRectF(rect.left() + 2, y - min(h, 20) / 2, self.width() - 8, min(h, 20))

    def drawn_text(self, row: int) -> str:
        """The text drawn for row ``row`` (elided when the gutter is too narrow)."""
        font = self.font()
        metrics = QFontMetricsF(font)
        return metrics.elidedText(self.names[row], Qt.TextElideMode.ElideRight, self.width() - 8)

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs):  # noqa: N802 (pyqtgraph API)
        super().drawPicture(p, axisSpec, tickSpecs, [])
        view = self.linkedView()
        if view is None:
            return
        (_, _), (y0, y1) = view.viewRange()
        font = self.font()
        lo, hi = max(0, math.ceil(y0), self.rows.start), min(len(self.names), math.floor(y1) + 1, self.rows.stop)
        for row in range(lo, hi):
            rect = self.row_rect(row)
            if rect is None:
                continue
            name = self.names[row]
            if name in self.masked:
                p.setPen(MASKED_LABEL)
                font.setStrikeOut(True)
            elif name in self.selected:
                p.setPen(SELECTED_LABEL)
                font.setStrikeOut(False)
            else:
                p.setPen(self.textPen())
                font.setStrikeOut(False)
            font.setBold(name in self.selected)
            p.setFont(font)
            text = QFontMetricsF(font).elidedText(name, Qt.TextElideMode.ElideRight, rect.width())
            p.drawText(rect, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text)

    def _row_at(self, pos) -> int | None:
        view = self.linkedView()
        if view is None:
            return None
        return int(round(view.mapSceneToView(self.mapToScene(pos)).y()))

    def hoverMoveEvent(self, ev):  # noqa: N802 (Qt API): the full name of an elided label
        row = self._row_at(ev.pos())
        full = self.names[row] if row is not None and 0 <= row < len(self.names) else ""
        self.setToolTip(full if full and self.drawn_text(row) != full else "")

    def mouseClickEvent(self, ev):  # noqa: N802 (pyqtgraph API)
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        view = self.linkedView()
        if view is None:
            return
        row = int(round(view.mapSceneToView(ev.scenePos()).y()))
        ev.accept()
        self._on_click(row)

    def mouseDragEvent(self, ev):  # noqa: N802 - no panning by dragging the axis
        ev.ignore()

    def wheelEvent(self, ev):  # noqa: N802 - let the browser page
        ev.ignore()


def _hidden_axis(orientation: str) -> pg.AxisItem:
    """The plot's unused top/right axis: pyqtgraph keeps it linked to the view, and with the automatic SI
    prefix on, every change of the view range (each page step) lays its (empty, hidden) label out again."""
    axis = pg.AxisItem(orientation)
    axis.enableAutoSIPrefix(False)
    return axis


class _TimeAxis(TimeAxis):
    """The browser's time axis: the shared :class:`~app.plot_helpers.TimeAxis` (its steps, label format, tick
    placement and clock time) reading the state's time: h:mm:ss from the start, or the clock time (toggle)."""

    def __init__(self, state: BrowserState) -> None:
        super().__init__("bottom", clock=state)
        self.state = state
        # Drawn once per change (a page step) and kept in device pixels: repainting the viewport for anything
        # else copies it; and drawn without pyqtgraph's QPicture (TimeAxis.paint).
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def update_label(self) -> None:
        self.setLabel(self.title())


class _BrowserViewBox(pg.ViewBox):
    """ViewBox whose mouse actions are the browser's (paging, masking), not pyqtgraph's pan/zoom."""

    def __init__(self, browser: "SignalBrowser") -> None:
        super().__init__(enableMenu=False)
        self.browser = browser
        self.setMouseEnabled(x=False, y=False)

    def wheelEvent(self, ev, axis=None):  # noqa: N802 (pyqtgraph API)
        self.browser._on_wheel(ev.delta(), ev.modifiers())
        ev.accept()

    def mouseClickEvent(self, ev):  # noqa: N802 (pyqtgraph API)
        self.browser.setFocus()
        p = self.mapSceneToView(ev.scenePos())
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.browser._on_click(p.x(), p.y())
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            self.browser._on_right_click(p.x(), p.y())

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (pyqtgraph API)
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if ev.button() != Qt.MouseButton.LeftButton or not (shift or self.browser.mask_mode):
            ev.ignore()
            return
        ev.accept()
        x0 = self.mapToView(ev.buttonDownPos()).x()
        x1 = self.mapToView(ev.pos()).x()
        self.browser._on_mask_drag(x0, x1, finished=ev.isFinish())


class _MaskRect(QGraphicsRectItem):
    """A masked span: translucent red with a hatch drawn in screen pixels (not stretched by the zoom)."""

    def __init__(self) -> None:
        super().__init__()
        self.setPen(QPen(Qt.PenStyle.NoPen))
        self.setZValue(20)
        self._fill = QBrush(MASK_FILL)
        self._hatch = QBrush(MASK_HATCH, Qt.BrushStyle.BDiagPattern)

    def paint(self, painter, option, widget=None):  # noqa: D102 (Qt API)
        painter.save()
        device_rect = painter.transform().mapRect(self.rect())
        painter.resetTransform()
        painter.fillRect(device_rect, self._fill)
        painter.fillRect(device_rect, self._hatch)
        painter.restore()


class _SpanRect(QGraphicsRectItem):
    """A translucent span limited to some rows (annotations or interference on given channels)."""

    def __init__(self, colour: QColor) -> None:
        super().__init__()
        self.setPen(QPen(Qt.PenStyle.NoPen))
        self.setBrush(QBrush(colour))
        self.setZValue(-20)


class _Pool:
    """Reusable graphics items of one kind: a page step shows, moves and hides items instead of creating them."""

    def __init__(self, view: pg.ViewBox, factory: Callable[[], Any]) -> None:
        self.view = view
        self.factory = factory
        self.items: list[Any] = []
        self.used = 0

    def begin(self) -> None:
        self.used = 0

    def take(self) -> Any:
        if self.used == len(self.items):
            item = self.factory()
            self.view.addItem(item, ignoreBounds=True)
            self.items.append(item)
        item = self.items[self.used]
        self.used += 1
        item.show()
        return item

    def end(self) -> None:
        for item in self.items[self.used:]:
            item.hide()

    def shown(self) -> list[Any]:
        return self.items[: self.used]


@dataclass(frozen=True)
class PageTraces:
    """One page of one trace set laid out for drawing: row ``i`` centred on y = i (the y axis points down)."""

    times: np.ndarray  # (P,) times of the drawn points, s
    y: np.ndarray  # (R, P) view y of each row's points; NaN where the signal is missing
    x_flat: np.ndarray  # (R * P,) the rows' times laid end to end (the x of the single curve item)
    y_flat: np.ndarray  # (R * P,) the rows' y laid end to end, gaps filled with the row offset (not drawn)
    connect: np.ndarray  # (R * P,) bool: point k is joined to point k + 1 (False at row ends and gaps)
    x_bounds: tuple[float, float]  # (min, max) of x_flat, s
    y_bounds: tuple[float, float]  # (min, max) of the finite y, rows
    values: np.ndarray | None = None  # (R, N) the page's samples as drawn (montage, filter), row units
    t0: float = 0.0  # time of values[:, 0], s
    sfreq: float = 1.0  # sampling rate of values, Hz
    raster: "PageRaster | None" = None  # the path already drawn for the screen, where it was prefetched
    # The polyline of all rows, made on first use (see ``path``) and shared by the copies that add a raster.
    made: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def path(self) -> QPainterPath:
        """The polyline of x_flat, y_flat, connect (:func:`rows_path`), made on first use: a page drawn from its
        prefetched image never needs it (it took ~1 ms of the prefetching thread per page); a QPainterPath is
        a Qt value type, safe to make in any thread (two threads making it at once make equal paths)."""
        path = self.made.get("path")
        if path is None:
            path = self.made["path"] = rows_path(self.times, self.y)
        return path

    @property
    def n_rows(self) -> int:
        return self.y.shape[0]

    def value_at(self, row: int, t_s: float) -> float:
        """The drawn signal of ``row`` at ``t_s`` (nearest sample), in the row's unit; NaN off the page."""
        if self.values is None or not 0 <= row < self.values.shape[0]:
            return math.nan
        k = int(round((t_s - self.t0) * self.sfreq))
        return float(self.values[row, k]) if 0 <= k < self.values.shape[1] else math.nan


def layout_page(data: np.ndarray, t0: float, sfreq: float, n_bins: int, scales: np.ndarray, *,
                clip: float | None = None) -> PageTraces:
    """Remove each row's page mean, scale, clip, offset and peak-decimate one page of signals.

    Parameters
    ----------
    data : np.ndarray, shape (n_rows, n_times)
        The page's samples in each row's unit; NaN for missing samples (or a whole missing row).
    t0 : float
        Time of the first sample, s.
    sfreq : float
        Sampling rate of ``data``, Hz.
    n_bins : int
        Number of decimation bins (the plot width in pixels).
    scales : np.ndarray, shape (n_rows,)
        Amplitude per row spacing of each row, in the row's unit.
    clip : float or None
        Keep each trace within ``clip`` row spacings of its centre line (``None``: no clipping).

    Returns
    -------
    PageTraces
        The rows as one polyline with breaks (for a single ``PlotCurveItem`` with a ``connect`` array).
    """
    n_rows = data.shape[0]
    # Per-page mean removal (MNE's remove_dc): slow signals (GSR, temperature) stay centred on their row. A plain
    # sum is the mean without nanmean's copy of the page (the same pairwise sum, hence the same value) unless a
    # sample is missing.
    if data.shape[1]:
        total = data.sum(axis=1, keepdims=True)
        if np.isfinite(total).all():
            centre = total / data.shape[1]
        else:
            with warnings.catch_warnings():  # an all-NaN row (channel absent from the cleaned signals) has no mean
                warnings.simplefilter("ignore", RuntimeWarning)
                centre = np.nan_to_num(np.nanmean(data, axis=1, keepdims=True))
    else:
        centre = 0.0
    # Decimate first, then scale, clip and offset the ~2 points per pixel instead of every sample: the mapping
    # from a sample to its y is monotonic (also after float rounding and clipping), so the y of a bin's extreme
    # samples are the extremes of the bin's y; the pair is put back in (min, max) order below.
    times, extremes = peak_decimate(data, t0, sfreq, n_bins)
    # The y axis points down (row 0 on top), hence the minus: positive values are drawn upwards.
    offsets = np.arange(n_rows, dtype=np.float64)[:, None]
    deflection = (extremes - centre) / np.asarray(scales, dtype=np.float64)[:, None]
    if clip is not None:
        np.clip(deflection, -clip, clip, out=deflection)  # NaN stays NaN
    y = offsets - deflection
    if data.shape[1] > 2 * n_bins:  # decimated (peak_decimate's rule): the (min, max) pair of samples gives y in
        # the opposite order
        first, second = y[:, 0::2], y[:, 1::2]
        lo, hi = np.fmin(first, second), np.fmax(first, second)
        y[:, 0::2], y[:, 1::2] = lo, hi
    n_points = times.size
    finite = np.isfinite(y)
    connect = np.zeros((n_rows, n_points), dtype=bool)
    connect[:, :-1] = finite[:, :-1] & finite[:, 1:]  # never across a row end (last column stays False)
    all_finite = bool(finite.all())
    y_flat = (y if all_finite else np.where(finite, y, offsets)).ravel()
    with np.errstate(all="ignore"):
        lo, hi = (float(np.nanmin(y)), float(np.nanmax(y))) if finite.any() else (0.0, float(max(n_rows - 1, 0)))
    x_bounds = (float(times[0]), float(times[-1])) if n_points else (t0, t0)
    x_flat, connect = np.tile(times, n_rows), connect.ravel()
    return PageTraces(times=times, y=y, x_flat=x_flat, y_flat=y_flat, connect=connect, x_bounds=x_bounds,
                      y_bounds=(lo, hi), values=data, t0=t0, sfreq=sfreq)


def rows_path(times: np.ndarray, y: np.ndarray) -> QPainterPath:
    """The rows of ``y`` (n_rows, n_points) against ``times`` as one QPainterPath, one sub-path per row.

    This is the path pyqtgraph would build from the laid-out page and its ``connect`` array, built here where
    the page is prepared (a QPainterPath is a Qt value type, safe to build in any thread) instead of in the GUI
    thread at the page's first paint. Rows go in through one reused QPolygonF (``addPolygon``: native floats,
    a sub-path per row) -- about 5x faster than pyqtgraph's general ``connect``-array path, which byte-swaps
    every point through a QDataStream; rows with gaps (NaN) go through pyqtgraph's ``connect="finite"``.
    """
    path = QPainterPath()
    n_points = times.size
    if n_points < 2:
        return path
    finite = np.isfinite(y)
    whole, some = finite.all(axis=1).tolist(), finite.any(axis=1).tolist()
    poly = pg.functions.create_qpolygonf(n_points)
    xy = pg.functions.ndarray_from_qpolygonf(poly)  # (n_points, 2) view of the polygon's memory
    xy[:, 0] = times
    for row, all_ok, any_ok in zip(y, whole, some):
        if all_ok:
            xy[:, 1] = row
            path.addPolygon(poly)  # copied into the path: the polygon can be refilled
        elif any_ok:
            path.addPath(pg.functions.arrayToQPath(times, row, connect="finite"))
    return path




@dataclass(frozen=True)
class RasterTarget:
    """Where a trace set will be painted on screen: what a prefetched page needs to be drawn ahead of time.

    ``transform`` maps the page's view coordinates (s, rows) to the viewport's pixels (QTransform's m11, m12,
    m21, m22, dx, dy); ``rect`` is the plot area in those pixels (x, y, width, height); ``pen`` and
    ``antialias`` are the curve's.
    """

    transform: tuple[float, float, float, float, float, float]
    rect: tuple[int, int, int, int]
    dpr: float  # device pixels per pixel
    pen: QPen
    antialias: bool

    def matches(self, transform: QTransform, pen: QPen, antialias: bool) -> bool:
        """Whether painting with ``transform``, ``pen`` and ``antialias`` would draw what this target drew."""
        m11, m12, m21, m22, dx, dy = self.transform
        return (antialias == self.antialias and pen == self.pen
                and math.isclose(transform.m11(), m11, rel_tol=1e-9) and math.isclose(transform.m22(), m22, rel_tol=1e-9)
                and abs(transform.m12() - m12) < 1e-12 and abs(transform.m21() - m21) < 1e-12
                and abs(transform.dx() - dx) < RASTER_TOLERANCE_PX and abs(transform.dy() - dy) < RASTER_TOLERANCE_PX)


    def fits(self, other: "RasterTarget") -> bool:
        """Whether an image drawn for ``other`` is the one this target would draw."""
        return (self.rect == other.rect and self.dpr == other.dpr
                and self.matches(QTransform(*other.transform), other.pen, other.antialias))


@dataclass
class PageRaster:
    """A page's traces drawn into an image for one :class:`RasterTarget` (see :func:`render_raster`)."""

    target: RasterTarget
    image: QImage


def path_in_view(page: PageTraces, target: RasterTarget) -> QPainterPath:
    """The page's path, or the path of the rows that reach ``target``'s image (the same pixels there).

    With the channel window showing part of the rows, the others would be stroked and clipped away for nothing
    (~40 % of a 40-row page's drawing with 20 rows in view). A row is kept if its drawn extent comes within two
    pixels of the image; the rows kept are a contiguous range, laid out again (a few tenths of a ms).
    """
    m11, m12, m21, m22, dx, dy = target.transform
    if m12 or m21 or not m22 or page.n_rows == 0:
        return page.path
    _, top, _, height = target.rect
    a, b = sorted(((top - dy) / m22, (top + height - dy) / m22))  # the image's y range, rows
    margin = 2.0 / abs(m22)
    lo, hi = np.fmin.reduce(page.y, axis=1), np.fmax.reduce(page.y, axis=1)  # NaN for a row with nothing drawn
    rows = np.flatnonzero((hi >= a - margin) & (lo <= b + margin))
    if rows.size == 0:
        return QPainterPath()
    first, last = int(rows[0]), int(rows[-1]) + 1
    if first == 0 and last == page.n_rows:
        return page.path
    return rows_path(page.times, page.y[first:last])


def render_raster(page: PageTraces, target: RasterTarget) -> PageRaster:
    """Draw ``page`` as the curve item would draw its path on screen at ``target``, into a transparent image.

    Runs in the prefetching thread (QImage and QPainter on an image are safe outside the GUI thread): the GUI
    thread then only copies the image at the page step, instead of stroking ~50,000 points (4-9 ms per step for
    40 rows, the largest part of a page step). The image has the plot area's size, so it is placed at whole
    pixels and every point lands on the pixel it would have been drawn on.
    """
    x, y, w, h = target.rect
    image = QImage(max(1, round(w * target.dpr)), max(1, round(h * target.dpr)),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(target.dpr)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, target.antialias)
        # An explicit clip to the image: the same pixels, but Qt's stroker then skips the segments off the image
        # (the rows out of view) instead of clipping each of them to the device (measured: 3.6 vs 12.8 ms for a
        # 40-row page with 20 rows in view).
        painter.setClipRect(0, 0, w, h)  # logical pixels, as the transform
        m11, m12, m21, m22, dx, dy = target.transform
        painter.setTransform(QTransform(m11, m12, m21, m22, dx - x, dy - y))
        painter.setPen(target.pen)
        # without the interpreter lock where possible (app/page_raster.py)
        stroke_path(painter, path_in_view(page, target))
    finally:
        painter.end()
    return PageRaster(target, image)


def aligned_rect(rect: QRectF, tolerance: float = 1e-6) -> QRect:
    """The whole pixels covering ``rect`` (``QRectF.toAlignedRect``), with edges within ``tolerance`` px of a whole
    pixel taken as on it.

    The plot area mapped to pixels has its edges at whole pixels up to rounding (49.9999999 or 50.0000001 px
    after a page step): ``toAlignedRect`` then gave (49, 0, 795, 434) at one step and (50, 0, 794, 434) at the
    next, so that a third of the prefetched images did not fit the paint (drawn again, or the page stroked in the
    GUI thread).
    """
    left, top = math.floor(rect.left() + tolerance), math.floor(rect.top() + tolerance)
    right, bottom = math.ceil(rect.right() - tolerance), math.ceil(rect.bottom() - tolerance)
    return QRect(left, top, max(0, right - left), max(0, bottom - top))


def stack_labels(extents: Sequence[tuple[float, float]], n_lines: int = LABEL_ROWS, *, gap: float = LABEL_GAP_PX,
                 min_width: float | Sequence[float] = LABEL_MIN_PX,
                 right: float | Sequence[float] = math.inf) -> list[tuple[int, float] | None]:
    """Lines and widths for labels that must not overlap, placed greedily from left to right.

    Each label goes on the first line (0 = top) where it starts at least ``gap`` after the previous label's end.
    When no line has room, the last label of the line where that label starts earliest is shortened to end
    ``gap`` before this one (kept only if at least ``min_width`` remains); if even that leaves too little, this
    label is hidden. A label is also cut at ``right``.

    Parameters
    ----------
    extents : sequence of (x, width)
        Left edge and full width of each label, px.
    n_lines : int
        Number of lines the labels may use (< 1: none is shown).
    gap : float
        Space kept between two labels on one line, px.
    min_width : float or sequence of float
        A label shortened to less than this is hidden instead, px (a label narrower than this is shown whole);
        one value for all labels, or one per label (in the order of ``extents``).
    right : float or sequence of float
        Right edge of the plot, px; or one per line (the legend shortens the top line only: a label that does not
        fit beside it goes to a line below).

    Returns
    -------
    list of (line, width) or None, in the order of ``extents``
        The line and the width to draw each label at (less than its full width: draw it elided), or ``None``
        for a label with no room.
    """
    placed: list[tuple[int, float] | None] = [None] * len(extents)
    if n_lines < 1:
        return placed
    ends = [-math.inf] * n_lines  # right edge of the last label on each line, px
    last: list[int | None] = [None] * n_lines  # index of that label
    # (Plain loops: this runs at every page step for each label of the page.)
    scalar = isinstance(min_width, (int, float, np.floating, np.integer))
    mins = [float(min_width)] * len(extents) if scalar else [float(m) for m in min_width]
    lines = range(n_lines)
    xs = [e[0] for e in extents]
    rights = ([float(right)] * n_lines if isinstance(right, (int, float, np.floating, np.integer))
              else [float(r) for r in right][:n_lines] + [float(right[-1])] * (n_lines - len(right)))
    for i in sorted(range(len(extents)), key=xs.__getitem__):
        x, full = extents[i]
        need = full if full < mins[i] else mins[i]
        fits = [k for k in lines if min(rights[k] - x, full) >= need]  # lines not cut to nothing at their right
        if not fits:
            continue  # cut at the right edge to nothing useful
        line = None
        for k in fits:
            if ends[k] + gap <= x:
                line = k
                break
        if line is None:
            # Make room on the line whose last label starts earliest: that label keeps the most of itself.
            line = min(fits, key=lambda k: extents[last[k]][0])
            j = last[line]
            room = x - gap - extents[j][0]
            if room < mins[j]:
                continue
            placed[j] = (line, room)
        width = min(rights[line] - x, full)
        placed[i] = (line, width)
        ends[line] = x + width
        last[line] = i
    return placed


class _GridLines(pg.GraphicsObject):
    """Vertical grid lines at the time axis' ticks: 1-px fills in screen pixels, mapped in ``paint``.

    A page step only sets the page and the tick step (no path built, no item moved: the bounding rectangle is
    fixed, so the scene never re-indexes it); a curve item of line pairs moved with ``setPos`` cost ~0.6 ms of
    the GUI thread per step (``setPos`` and its item-change handling, the path's paint).
    """

    def __init__(self, colour: QColor, background: QColor) -> None:
        super().__init__()
        # The lines lie on the plot's background only (the lowest item): drawn in the opaque colour the
        # translucent one has there -- the same pixels, and an opaque 1-px column is a plain memory fill (a
        # translucent one blends span by span: ~20x slower, 0.5 ms of each page step).
        a = colour.alphaF()
        self.colour = QColor(*(round(a * c + (1 - a) * b) for c, b in zip(
            (colour.red(), colour.green(), colour.blue()), (background.red(), background.green(), background.blue()))))
        self.page = (0.0, 0.0, 1.0, 0.0, 0.0)  # (start s, stop s, step s, top row, bottom row)
        self.offset = 0.0  # the ticks' offset, s (clock time: whole clock seconds)
        self.setZValue(-40)

    def set_page(self, start: float, stop: float, step: float, top: float, bottom: float, offset: float = 0.0) -> None:
        page = (start, stop, step, top, bottom)
        if page != self.page or offset != self.offset:
            self.page, self.offset = page, offset
            self.update()

    def times(self) -> list[float]:
        """Times of the lines drawn, s (the multiples of the step on the page, moved by the ticks' offset)."""
        start, stop, step, _, _ = self.page
        if step <= 0 or stop <= start:
            return []
        start, stop, o = start - self.offset, stop - self.offset, self.offset
        return [k * step + o for k in range(math.ceil(start / step - 1e-9), math.floor(stop / step + 1e-9) + 1)]

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(-1e7, -1e5, 2e7, 2e5)  # every time and row: never changes

    def paint(self, painter, option, widget=None) -> None:  # noqa: D102 (Qt API)
        t = painter.transform()
        if t.m12() or t.m21():
            return  # the view never rotates
        _, _, _, top, bottom = self.page
        m11, dx = t.m11(), t.dx()
        y0, y1 = sorted((top * t.m22() + t.dy(), bottom * t.m22() + t.dy()))
        y, h = round(y0), max(1, round(y1 - y0))
        painter.save()
        painter.resetTransform()
        colour, fill_rect = self.colour, painter.fillRect
        for time_s in self.times():
            fill_rect(QRect(math.floor(time_s * m11 + dx), y, 1, h), colour)
        painter.restore()


class _DataBoundsCurve(pg.PlotCurveItem):
    """A curve item whose bounding rectangle is padded in data units, not in pixels.

    pyqtgraph pads a curve's bounding rectangle by its pen width in pixels, so every change of the view range
    (each page step) throws the rectangle away and measures the pixel size again (``pixelVectors``: ~0.1-0.3 ms
    per item and step). Here the padding is a small share of the data's extent (:data:`BOUNDS_PAD`, at least
    one pixel at any usable zoom for a 1-px pen), so the rectangle changes only with the data.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(skipFiniteCheck=True, **kwargs)

    def viewTransformChanged(self) -> None:  # noqa: N802 (pyqtgraph API): the rectangle does not depend on it
        pass

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        if self._boundingRect is None:
            (x0, x1), (y0, y1) = self.dataBounds(0), self.dataBounds(1)
            if None in (x0, x1, y0, y1):
                return QRectF()
            px = BOUNDS_PAD * (x1 - x0) + 1e-6
            py = BOUNDS_PAD * (y1 - y0) + 0.05
            self._boundingRect = QRectF(x0 - px, y0 - py, x1 - x0 + 2 * px, y1 - y0 + 2 * py)
        return self._boundingRect


class _ScaleGutter(pg.GraphicsWidget):
    """A column of the plot's layout right of the traces, where the scale bar is drawn: a vertical bar of a round
    amplitude beside the row it belongs to, and its value. It lies outside the traces' area, so it never covers a
    trace (over the plot it covered the right end of the top trace), and a page step does not move it (it depends
    on the rows only). Not an axis: no line, ticks or values.

    The gutter is as wide as the widest value shown so far (at least :data:`SCALE_GUTTER_PX`): it only grows, so
    that changing the scale never changes the traces' width (the page length follows the width at a fixed mm/s).
    """

    BAR_X = 5.0  # x of the bar in the gutter, px
    TEXT_GAP = 4.0  # space between the bar and its value, px

    def __init__(self, view: pg.ViewBox, font) -> None:
        super().__init__()
        self.view = view
        self._font = font
        self.bar: tuple[float, float, float] | None = None  # (row, y of the ends in view rows) of the bar
        self.text = ""
        self._pen = QPen(QColor("#000000"), 2.0)
        self._pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        self._text_colour = QColor("#000000")
        self._width = 0.0
        self.set_width(SCALE_GUTTER_PX)
        # Kept in device pixels until update() (the rows or the bar change): a page step repaints the whole
        # viewport, and drawing the bar and its text took ~0.4 ms of each.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        view.sigYRangeChanged.connect(lambda *_: self.update())
        view.sigResized.connect(lambda *_: self.update())

    def set_width(self, width: float) -> None:
        self._width = float(width)
        self.setMinimumWidth(width)
        self.setMaximumWidth(width)
        self.update()

    def width(self) -> float:  # noqa: D102 (the width asked for; the layout gives it)
        return self._width

    def font(self):  # noqa: D102
        return self._font

    def set_bar(self, row: float, y0: float, y1: float, text: str) -> None:
        """Draw a bar from view y ``y0`` to ``y1`` (rows) beside row ``row`` with ``text`` as its value."""
        if (row, y0, y1) == self.bar and text == self.text:
            return
        if text != self.text:
            need = math.ceil(self.BAR_X + self.TEXT_GAP + QFontMetricsF(self.font()).horizontalAdvance(text) + 4)
            if need > self.width():
                self.set_width(need)
        self.bar, self.text = (row, y0, y1), text
        self.update()

    def clear_bar(self) -> None:
        if self.bar is not None:
            self.bar, self.text = None, ""
            self.update()

    def bar_rect(self) -> QRectF | None:
        """The bar in item coordinates (a 2-px wide rectangle); ``None`` when it is not drawn (its row out of
        view)."""
        view = self.view
        if self.bar is None:
            return None
        _, y0, y1 = self.bar
        (_, _), (top, bottom) = view.viewRange()
        if not (top <= min(y0, y1) and max(y0, y1) <= bottom):
            return None
        a = self.mapFromScene(view.mapViewToScene(QPointF(0.0, y0))).y()
        b = self.mapFromScene(view.mapViewToScene(QPointF(0.0, y1))).y()
        return QRectF(self.BAR_X - 1.0, min(a, b), 2.0, abs(b - a))

    def text_rect(self) -> QRectF | None:
        """Where the value is drawn, item coordinates (``None`` when the bar is not drawn)."""
        bar = self.bar_rect()
        if bar is None:
            return None
        height = QFontMetricsF(self.font()).height()
        left = bar.right() + self.TEXT_GAP
        return QRectF(left, bar.center().y() - height / 2, self.width() - left, height)

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802 (the curve's name, for tests)
        """(x of the bar in the gutter in px, twice; y of its ends in view rows)."""
        if self.bar is None:
            return np.zeros(0), np.zeros(0)
        return np.array([self.BAR_X, self.BAR_X]), np.array(self.bar[1:])

    def paint(self, p, opt, widget) -> None:  # noqa: D102 (Qt API): the bar and its value, nothing else
        bar = self.bar_rect()
        if bar is None:
            return
        p.setPen(self._pen)
        x = bar.center().x()
        p.drawLine(QPointF(x, bar.top()), QPointF(x, bar.bottom()))
        p.setPen(self._text_colour)
        p.setFont(self.font())
        p.drawText(self.text_rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), self.text)

    def wheelEvent(self, ev):  # noqa: N802 - let the browser page
        ev.ignore()


class _PageCurve(_DataBoundsCurve):
    """A curve item told its data bounds by the page layout, so that pyqtgraph does not scan the data for them
    after every setData and every view change (it asks for them on each range change).

    A page prefetched with a :class:`PageRaster` for the transform it is painted with is copied from that image
    (drawn in the prefetching thread); otherwise (first page, after a resize or a channel scroll, exports) the
    path is stroked as pyqtgraph does. The last on-screen paint is remembered (:meth:`raster_target`).
    """

    def __init__(self) -> None:
        super().__init__()
        self._known: tuple[tuple[float, float], tuple[float, float]] | None = None
        self._page: PageTraces | None = None
        # (transform, plot area in viewport pixels, device pixel ratio, (x of the view's left edge in s, page
        # length in s, y range in rows, view width and height)) of the last paint on screen.
        self._painted: tuple[QTransform, QRect, float, tuple] | None = None
        self.raster_paints = 0  # pages copied from a prefetched image (for tests and the benchmark)
        self.path_paints = 0  # pages stroked in the GUI thread

    def set_page(self, page: PageTraces) -> None:
        self._known = (page.x_bounds, page.y_bounds)
        self._page = page
        self.setData(page.x_flat, page.y_flat, connect=page.connect)

    def getPath(self) -> QPainterPath:  # noqa: N802 (pyqtgraph API)
        """What pyqtgraph would build from the page's data: the page's path, made on first use (a page copied
        from its prefetched image never strokes it)."""
        if self.path is None and self._page is not None:
            self.path = self._page.path
        return super().getPath()

    def dataBounds(self, ax, frac=1.0, orthoRange=None):  # noqa: N802 (pyqtgraph API)
        if self._known is not None and frac == 1.0 and orthoRange is None:
            return self._known[ax]
        return super().dataBounds(ax, frac, orthoRange)

    def raster_target(self, start_s: float) -> RasterTarget | None:
        """Where a page starting at ``start_s`` (s) will be painted: the last paint's transform moved along the
        time axis. ``None`` before the first paint, or when the view changed since (size, page length, rows in
        view): its next paint gives the new geometry."""
        view = self.getViewBox()
        if self._painted is None or view is None:
            return None
        t, rect, dpr, painted_view = self._painted
        ranges = view.viewRange()
        now = (ranges[0][1] - ranges[0][0], tuple(ranges[1]), view.width(), view.height())
        if now != painted_view[1:]:
            return None
        dx = t.dx() - (start_s - painted_view[0]) * t.m11()
        return RasterTarget(transform=(t.m11(), t.m12(), t.m21(), t.m22(), dx, t.dy()),
                            rect=(rect.x(), rect.y(), rect.width(), rect.height()), dpr=dpr,
                            pen=QPen(self.opts["pen"]), antialias=bool(self.opts["antialias"]))

    def paint(self, p, opt, widget):  # noqa: D102 (Qt API)
        page = self._page
        view = self.getViewBox()
        if widget is None or self._exportOpts is not False or page is None or view is None or self.xData is None:
            super().paint(p, opt, widget)
            return
        t = p.transform()
        area = aligned_rect(t.mapRect(self.mapRectFromItem(view, view.rect())))
        (x0, x1), y_range = view.viewRange()
        self._painted = (QTransform(t), area, float(widget.devicePixelRatioF()),
                         (x0, x1 - x0, tuple(y_range), view.width(), view.height()))
        raster = page.raster
        pen = self.opts["pen"]
        if (raster is not None and raster.target.rect == (area.x(), area.y(), area.width(), area.height())
                and raster.target.dpr == self._painted[2]
                and raster.target.matches(t, pen, bool(self.opts["antialias"]))):
            p.save()
            p.resetTransform()
            p.drawImage(QPoint(area.x(), area.y()), raster.image)
            p.restore()
            self.raster_paints += 1
            return
        self.path_paints += 1
        super().paint(p, opt, widget)


class TraceRow:
    """One channel's row of a trace set, for code that wants one channel's curve (tests, exports).

    ``getData`` gives the row's points in view coordinates (empty when the trace set is hidden); ``opts`` are
    the curve item's options (its pen).
    """

    def __init__(self, traces: "_TraceSet", row: int) -> None:
        self._traces = traces
        self.row = row

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802 (pyqtgraph's name)
        page = self._traces.page
        if page is None or not self._traces.curve.isVisible():
            return np.zeros(0), np.zeros(0)
        return page.times, page.y[self.row]

    @property
    def opts(self) -> dict:
        return self._traces.curve.opts

    def isVisible(self) -> bool:  # noqa: N802 (Qt's name)
        return self._traces.curve.isVisible() and self._traces.page is not None


class _TraceSet:
    """All rows of one kind (raw or cleaned) as one curve item; the pen is set only when it changes."""

    def __init__(self, view: pg.ViewBox, z: float) -> None:
        self.curve = _PageCurve()
        self.curve.setZValue(z)
        self.curve.hide()
        view.addItem(self.curve, ignoreBounds=True)  # the view range is set by the browser, never from the data
        self.page: PageTraces | None = None
        self._pen_key: tuple | None = None

    def set_pen(self, colour: QColor) -> None:
        key = colour.rgba()
        if key != self._pen_key:
            self._pen_key = key
            self.curve.setPen(pg.mkPen(colour, width=1))

    def show(self, page: PageTraces) -> None:
        if page is not self.page:
            self.page = page
            self.curve.set_page(page)
        self.curve.show()

    def hide(self) -> None:
        self.curve.hide()


class _AfterPaint(QObject):
    """Calls ``then`` at the turn of the event loop after each Paint event of ``widget`` (after the paint)."""

    def __init__(self, widget: QWidget, then: Callable[[], None]) -> None:
        super().__init__(widget)
        self._then = then
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, self._then)
        return False


class _PlotWidget(pg.PlotWidget):
    """The plot widget, remembering when its last paint ended (``painted_at``, ``time.perf_counter`` s): the
    time from there to the next page step is the idle time that step left (see ``SignalBrowser.refresh``)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.painted_at = -math.inf

    def paintEvent(self, ev) -> None:  # noqa: N802 (Qt API)
        super().paintEvent(ev)
        self.painted_at = time.perf_counter()


class _PagedPast(Exception):
    """A page prepared ahead was left behind before its preparation started (see
    ``SignalBrowser._unless_paged_past``); asked for again, it is prepared anew."""


class _PagePrefetcher:
    """Prepared pages by key, computed in the GUI thread on demand or ahead of time in background threads
    (:data:`PREFETCH_THREADS`).

    Keys name everything a page depends on (source, span, rows, bins, scales), so an entry is never stale; the
    cache keeps the :data:`PAGE_CACHE_SIZE` most recently used pages.
    """

    def __init__(self, size: int = PAGE_CACHE_SIZE, threads: int | None = None) -> None:
        self.size = size
        self.threads = max(1, PREFETCH_THREADS if threads is None else int(threads))
        self._pages: OrderedDict[Hashable, Future] = OrderedDict()
        # Set when the background threads may work. A page step holds it (``hold``) until the step's page has been
        # painted (``release``): a prefetch started at once competes with the GUI thread for the interpreter lock
        # and the 2 cores while the page is laid out and painted -- measured: a plain step took 21.7 ms wall for
        # 9.1 ms of GUI-thread CPU with steps 100 ms apart, 8.5 ms when the prefetch waited for the paint.
        self._go = threading.Event()
        self._go.set()
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False  # after shutdown(): pages are computed on demand only, no thread is started
        self._warming: dict[Hashable, Future] = {}  # side jobs under way (:meth:`warm`)
        self._side: ThreadPoolExecutor | None = None  # the thread of the side jobs (a tile's cleaning)
        self.hits = 0  # pages found ready or under way (for tests and the benchmark)
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], PageTraces]) -> PageTraces:
        """The page ``key``: from the cache (waiting for a prefetch under way), else computed here."""
        future = self._pages.get(key)
        if future is not None:
            self._pages.move_to_end(key)
            if not future.done():
                self.release()  # about to wait for it: a held prefetch must not wait for a paint that waits for it
            try:
                page = future.result()
            except Exception as exc:  # noqa: BLE001 - redone below in the GUI thread, where errors are reported
                log.debug("prefetch of %s failed (%s): done again", key, exc)
            else:
                self.hits += 1
                return page
        self.misses += 1
        future = Future()
        future.set_result(compute())
        self._store(key, future)
        return future.result()

    def get_within(self, key: Hashable, compute: Callable[[], PageTraces], timeout: float,
                   when_done: Callable[[], None]) -> PageTraces | None:
        """The page ``key`` if it is ready within ``timeout`` s (computed in the background, as a prefetch); else
        None, and ``when_done`` is called (in the thread that finishes it) once it is ready."""
        future = self._pages.get(key)
        if future is None or future.cancelled() or (future.done() and future.exception() is not None):
            if self._closed:
                return self.get(key, compute)
            self._pages.pop(key, None)
            self.prefetch(key, compute)
            future = self._pages[key]
        self._pages.move_to_end(key)
        self.release()  # about to wait for it: it must not wait for a paint
        try:
            page = future.result(timeout=timeout)
        except FutureTimeout:
            future.add_done_callback(lambda _f: when_done())
            return None
        except (_PagedPast, Cancelled):  # the reader had paged past it: prepared anew, in the background
            self._pages.pop(key, None)
            return self.get_within(key, compute, 0.0, when_done)
        except Exception:  # noqa: BLE001 - done again in the GUI thread, where errors are reported
            self._pages.pop(key, None)
            return self.get(key, compute)
        self.hits += 1
        return page

    def ready(self, key: Hashable) -> PageTraces | None:
        """Page ``key`` if it is cached and prepared (not under way, not failed), else ``None``."""
        future = self._pages.get(key)
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return None
        return future.result()

    def prefetch(self, key: Hashable, compute: Callable[[], PageTraces], *, replace: bool = False) -> None:
        """Start computing page ``key`` in the background unless it is cached or under way (``replace``: even
        then, the new result replacing the cached one when it is ready)."""
        old = self._pages.get(key)
        if old is not None and old.done() and (old.cancelled() or old.exception() is not None):
            old = None  # failed or skipped (_PagedPast): prepared again
        if self._closed or (old is not None and (not replace or not old.done())):
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="page-prefetch")
        go = self._go

        def job() -> PageTraces:
            go.wait(PREFETCH_HOLD_S)  # the page step's paint first (``hold``), at most this long
            return compute()

        self._store(key, self._executor.submit(job))

    def warm(self, key: Hashable, fn: Callable[[], object]) -> bool:
        """Run ``fn`` in the background threads (after the step's paint, as a prefetch) unless a job ``key`` is
        still pending; its result is not kept (it fills another cache). True when it was started."""
        pending = self._warming
        for done in [k for k, f in pending.items() if f.done()]:
            del pending[done]
        if self._closed or key in pending or pending:  # one at a time: never a queue of tiles paged past
            return False
        if self._side is None:  # a thread of its own: a tile's cleaning (~0.15-0.2 s) leaves the page threads free
            self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-prefetch-side")
        go = self._go

        def job() -> None:
            go.wait(PREFETCH_HOLD_S)
            fn()

        pending[key] = self._side.submit(job)
        return True

    def hold(self) -> None:
        """Background work waits (at most :data:`PREFETCH_HOLD_S`) until :meth:`release`: called by a page step
        before it queues its prefetches, released once the step's page is painted."""
        self._go.clear()

    def release(self) -> None:
        """Let the background thread work (the page on screen has been painted, or a page is needed now)."""
        self._go.set()

    def _store(self, key: Hashable, future: Future) -> None:
        self._pages[key] = future
        self._pages.move_to_end(key)
        while len(self._pages) > self.size:
            _, old = self._pages.popitem(last=False)
            old.cancel()  # not started yet: dropped

    def clear(self) -> None:
        for future in list(self._pages.values()) + list(self._warming.values()):
            future.cancel()
        self._pages.clear()
        self._warming.clear()

    def shutdown(self) -> None:
        """Drop the cache and stop the background thread (waits for a page under way, a few ms) for good."""
        self._closed = True
        self.release()
        self.clear()
        for executor in (self._executor, self._side):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        self._executor = self._side = None


def _read_page(source: Any, picks: Sequence[int | None], start_s: float, stop_s: float,
               offset_s: float = 0.0) -> tuple[np.ndarray, float]:
    """Samples of one page from a Recording (``picks``: channel indices) or from cleaned Signals (``picks``:
    row indices, ``None`` for a channel the cleaned signals lack, drawn as a gap); returns (data, t0 in s).

    ``offset_s`` is the recording time of the cleaned signals' first sample.
    """
    if isinstance(source, Recording):
        first = int(round(start_s * source.sfreq))
        return source.get_data(start_s, stop_s, picks=list(picks)), first / source.sfreq
    sfreq = float(source.sfreq)
    first = max(0, int(round((start_s - offset_s) * sfreq)))
    last = min(int(source.n_times), int(round((stop_s - offset_s) * sfreq)))
    n = max(0, last - first)
    present = [i for i, r in enumerate(picks) if r is not None]
    data = np.full((len(picks), n), np.nan)
    if present and n:
        data[present] = np.asarray(source.data[[picks[i] for i in present], first:last], dtype=np.float64)
    return data, offset_s + first / sfreq


def apply_montage(data: np.ndarray, derivations: DerivationPlan | None) -> np.ndarray:
    """Rows of a montage from the picked channels' samples (``None``: the channels as they are).

    A row that uses a channel with a missing sample (NaN) is missing there too; other rows are not affected.
    """
    return data if derivations is None else derivations.apply(data)


@dataclass(frozen=True)
class PageView:
    """Where the current page is on screen: what a span layer needs to draw annotations."""

    start: float  # page start, s
    stop: float  # page end, s
    rows_of: dict[str, list[int]]  # recording channel -> rows in view that show it
    strip_top: float  # view y of the top of the label strip (rows)
    rows_per_px: float  # view y units per pixel
    width_px: float  # plot width, px
    label_right_px: float  # labels end before this x, px (the legend sits beyond)
    strip_lines: int  # label lines that fit the strip
    legend_lines: int = 1  # lines at the top of the strip the legend covers (their labels end at label_right_px)


class SpanLayer:
    """Annotations and interference spans of the page: shaded spans and their labels in the strip.

    Kept apart from the browser so that a richer annotation layer (editing, an event list) can take its place:
    the browser calls :meth:`draw` with a :class:`PageView` after each page or channel-window change.
    """

    def __init__(self, vb: pg.ViewBox, spans: Callable[[], Sequence[tuple[Sequence[Annotation], str]]]) -> None:
        self.vb = vb
        self.spans = spans  # -> ((annotations, "annotation" | "interference"), ...)
        self.regions = {"annotation": _Pool(vb, lambda: self._make_region(ANNOTATION_COLOUR)),
                        "interference": _Pool(vb, lambda: self._make_region(INTERFERENCE_COLOUR))}
        self.row_spans = _Pool(vb, lambda: _SpanRect(INTERFERENCE_COLOUR))
        self.labels = _Pool(vb, self._make_label)
        self._label_probe = self._make_label()  # measures label texts; never added to the scene
        self._label_sizes: dict[str, tuple[float, float]] = {}

    @staticmethod
    def _make_region(colour: QColor) -> pg.LinearRegionItem:
        region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(colour), pen=pg.mkPen(None))
        region.setZValue(-30)
        return region

    @staticmethod
    def _make_label() -> pg.TextItem:
        label = pg.TextItem(color="#3a3a3a", anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 170))
        label.setZValue(25)
        return label

    def line_px(self) -> float:
        """Height of one label line, px."""
        return self.label_size("Xg")[1]

    def count(self) -> int:
        return self.regions["annotation"].used + self.regions["interference"].used + self.row_spans.used

    def draw(self, view: PageView) -> None:
        pools = (*self.regions.values(), self.row_spans, self.labels)
        for pool in pools:
            pool.begin()
        labels: list[tuple[float, str]] = []
        for spans, kind in self.spans():
            brush = QBrush(ANNOTATION_COLOUR if kind == "annotation" else INTERFERENCE_COLOUR)
            for ann in spans:
                if ann.end < view.start or ann.onset > view.stop:
                    continue
                rows = sorted({r for c in ann.ch_names for r in view.rows_of.get(c, ())})
                if ann.ch_names and not rows:
                    continue  # only on hidden channels or on channels out of view
                text = ann.description
                if rows:
                    for r in rows:
                        item = self.row_spans.take()
                        item.setBrush(brush)
                        item.setRect(QRectF(ann.onset, r - 0.5, max(ann.duration, 1e-3), 1.0))
                        item.setToolTip(text)
                else:
                    region = self.regions[kind].take()
                    region.setRegion((ann.onset, ann.end))
                    region.setToolTip(text)
                labels.append((max(ann.onset, view.start), text))
        self._place_labels(labels, view)
        for pool in pools:
            pool.end()

    def label_size(self, text: str) -> tuple[float, float]:
        """(width, height) in px of a label showing ``text`` whole (cached: the font never changes)."""
        size = self._label_sizes.get(text)
        if size is None:
            self._label_probe.setText(text)
            rect = self._label_probe.textItem.boundingRect()
            size = self._label_sizes[text] = (rect.width(), rect.height())
            if len(self._label_sizes) > 4096:  # many distinct descriptions: start again rather than grow
                self._label_sizes.clear()
        return size

    def _place_labels(self, labels: Sequence[tuple[float, str]], view: PageView) -> None:
        """Lay out the labels ((time in s, text)) in the strip over up to ``view.strip_lines`` lines."""
        if not labels or view.width_px <= 0 or view.strip_lines < 1:
            return
        px_per_s = view.width_px / max(view.stop - view.start, 1e-9)
        sizes = [self.label_size(text) for _, text in labels]
        line_px = self.line_px()
        extents = [((t - view.start) * px_per_s, w) for (t, _), (w, _) in zip(labels, sizes)]
        # A label is shortened to no fewer than LABEL_MIN_CHARS characters and "…" ("SYN…" read as nothing):
        # with less room it is not drawn (its span's tooltip and the event list still name it).
        metrics = QFontMetricsF(self._label_probe.textItem.font())
        mins = [max(LABEL_MIN_PX, full - metrics.horizontalAdvance(text)
                    + metrics.horizontalAdvance(text[:LABEL_MIN_CHARS] + "…"))
                for (_, text), (full, _) in zip(labels, sizes)]
        # The legend (top right) covers the first line(s) only: the lines below reach the plot's right edge.
        rights = [view.label_right_px] * view.legend_lines + [view.width_px]
        placed = stack_labels(extents, view.strip_lines, min_width=mins, right=rights)
        for (t, text), (full, _), place in zip(labels, sizes, placed):
            if place is None:
                continue  # no room: the span's tooltip still names it
            line, width = place
            shown = text
            if width < full - 0.5:
                margin = full - metrics.horizontalAdvance(text)
                shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(width - margin, 0.0))
                if shown != text and len(shown) - 1 < min(LABEL_MIN_CHARS, len(text)):
                    continue  # rounding left fewer characters than the minimum
            label = self.labels.take()
            if label.textItem.toPlainText() != shown:
                label.setText(shown)
            label.setToolTip(text)
            label.setPos(QPointF(t, view.strip_top + line * line_px * view.rows_per_px))


@dataclass(frozen=True)
class _PagePlan:
    """How the pages of one trace set are read and drawn (everything but the span): see ``_page_plan``."""

    key: tuple  # the display state it was made for
    page_key: tuple  # the part of a page's cache key that is not the span
    source: Any  # the Recording (raw) or the cleaned Signals
    picks: tuple  # channel indices (raw) or rows of the cleaned signals (None: channel absent, drawn as a gap)
    derivations: DerivationPlan | None  # the montage (None: as recorded)
    sfreq: float  # sampling rate of the source, Hz
    offset: float  # recording time of the source's first sample, s
    filters: tuple  # display filter of each row (None: none)
    pad: float  # data read on each side of the page for the filters, s
    scales: np.ndarray  # (R,) amplitude per row spacing of each row, in the row's unit
    clip: float | None  # clip traces to this many row spacings (None: no clipping)
    n_bins: int  # decimation bins (the plot width, px)
    duration_s: float  # length of the recording, s
    # Filtered blocks of FILTER_BLOCK_PAGES pages: (block start, block stop) s -> (data, time of data[:, 0] in s).
    blocks: OrderedDict = field(default_factory=OrderedDict, compare=False, repr=False)
    # Blocks being filtered now: (block start, block stop) s -> Future of the entry of ``blocks`` (two prefetching
    # threads preparing two pages of one block filter it once).
    pending: dict = field(default_factory=dict, compare=False, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def compute(self, start_s: float, stop_s: float, raster: RasterTarget | None = None) -> PageTraces:
        """The page from ``start_s`` to ``stop_s`` (s), laid out, and drawn for ``raster`` when given (runs in any
        thread: plain values only)."""
        if self.pad > 0:
            data, t0 = self._filtered(start_s, stop_s)
            page, page_t0 = _read_span(data, t0, self.sfreq, start_s, stop_s)
        else:
            data, page_t0 = _read_page(self.source, self.picks, start_s, stop_s, self.offset)
            page = apply_montage(data, self.derivations)
        laid_out = layout_page(page, page_t0, self.sfreq, self.n_bins, self.scales, clip=self.clip)
        if raster is not None:
            laid_out = dataclasses.replace(laid_out, raster=render_raster(laid_out, raster))
        return laid_out

    def _filtered(self, start_s: float, stop_s: float) -> tuple[np.ndarray, float]:
        """Montage rows, display-filtered, over a span that holds the page and its padding.

        A page that lies in one block of :data:`FILTER_BLOCK_PAGES` pages (blocks start at multiples of that
        length from 0 s: every page reached by page steps) is cut out of the block's filtered data, made once for
        all its pages: reading and filtering 3 pages with one padding costs about half of 3 pages filtered apart
        (the padding, 3 s on each side of a 10-s page at 0.5 Hz high-pass, is read once instead of three times).
        Other pages (after a quarter-page step) are filtered alone.
        """
        length = stop_s - start_s
        block_s = FILTER_BLOCK_PAGES * length
        first = math.floor(start_s / block_s + 1e-9) * block_s if block_s > 0 else start_s
        span = (first, first + block_s)
        if not (block_s > 0 and stop_s <= span[1] + 1e-9):
            span = (start_s, stop_s)
        is_block = span[1] - span[0] > length + 1e-9  # a block: kept for its other pages
        mine: Future | None = None
        with self.lock:
            done = self.blocks.get(span)
            if done is not None:
                self.blocks.move_to_end(span)
                return done
            other = self.pending.get(span) if is_block else None
            if other is None and is_block:
                mine = self.pending[span] = Future()
        if other is not None:  # another thread is filtering this block: its result (or its error)
            return other.result()
        try:
            lo, hi = max(0.0, span[0] - self.pad), min(self.duration_s, span[1] + self.pad)
            data, t0 = _read_page(self.source, self.picks, lo, hi, self.offset)
            # Less padding than wanted on a side (the recording's, or the cleaned span's, first or last seconds):
            # the filter predicts it there instead of bending the trace (display_filter's module docstring).
            half = 0.5 / self.sfreq
            ends = (t0 > span[0] - self.pad + half, t0 + data.shape[1] / self.sfreq < span[1] + self.pad - half)
            done = filter_rows(apply_montage(data, self.derivations), self.sfreq, self.filters, ends=ends), t0
        except BaseException as exc:
            if mine is not None:
                with self.lock:
                    self.pending.pop(span, None)
                mine.set_exception(exc)
            raise
        if mine is not None:
            with self.lock:
                self.blocks[span] = done
                while len(self.blocks) > FILTER_BLOCKS_KEPT:
                    self.blocks.popitem(last=False)
                self.pending.pop(span, None)
            mine.set_result(done)
        return done


class SignalBrowser(QWidget):
    """Draws a :class:`BrowserState` of the open recording (see the module docstring; keys in app.key_bindings)."""

    pageChanged = Signal(float, float)  # start, stop of the page, s
    modeChanged = Signal(str)  # "raw", "cleaned" or "both"
    scaleChanged = Signal()
    maskModeChanged = Signal(bool)
    channelLabelClicked = Signal(str)  # channel name
    channelPageChanged = Signal(int, int, int)  # first row in view, rows in view, rows in all
    displayChanged = Signal()  # montage, display filters, calibration, clipping or time format changed
    readoutChanged = Signal(str)  # crosshair / measurement read-out text
    _cleanedPageReady = Signal(object)  # key of a page whose tile was being cleaned (emitted from another thread)

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.state = BrowserState()
        self.montages: list[Montage] = list(BUILTIN)  # built-in, then the user's (set by the window)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._rec: Recording | None = None
        self._annotations: tuple[Annotation, ...] = ()  # the recording's, read once
        self._shown: list[int] = []  # recording channel indices not hidden, top to bottom
        self._row_defs: list[Derivation] = []  # what each row draws, top to bottom
        self._row_mods: list[Modality] = []
        self._row_units: list[str] = []
        self._rows_version = 0  # counts the row layouts (a page's cache key names the layout it was drawn for)
        self._reference_masked: frozenset[str] = frozenset()  # channels left out of an average reference
        self._plans: dict[str, _PagePlan] = {}  # per trace kind, for the display state it was made for
        self._rows_of: dict[str, list[int]] = {}  # recording channel -> the rows that draw it
        self._rows_in_view: tuple[tuple | None, dict[str, list[int]]] = (None, {})  # (channel window, rows of each)
        self._strips = (0.0, 0.0)  # heights of the label strips above and under the traces, px
        self._updating = False  # a new recording is being laid out: state events wait for _rebuild_rows
        self._raw_colour = QColor(RAW_COLOUR)
        self._cleaned_colour = QColor(CLEANED_COLOUR)
        self._keys = key_map()
        self.status = ""  # what the page shows when something is not available (for the status bar)
        # key of the page drawn without its cleaned trace while its tile is cleaned (None: nothing awaited)
        self.cleaning_pending: Hashable | None = None
        self._cleanedPageReady.connect(self._cleaned_page_ready, Qt.ConnectionType.QueuedConnection)
        self.readout = ""  # the last crosshair / measurement read-out

        self._vb = _BrowserViewBox(self)
        self._axis = _ChannelAxis(self._on_label_click)
        self._time_axis = _TimeAxis(self.state)
        axes = {"left": self._axis, "bottom": self._time_axis, "top": _hidden_axis("top"),
                "right": _hidden_axis("right")}
        self.plot_widget = _PlotWidget(viewBox=self._vb, axisItems=axes, background="w")
        self.plot_widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.plot_widget.setAcceptDrops(False)  # files dropped here go to the main window
        self.plot = self.plot_widget.getPlotItem()
        for side in ("top", "right"):  # given axes are shown by pyqtgraph: these two stay hidden, as by default
            self.plot.hideAxis(side)
        # The scale bar's gutter, a column right of the traces (and of the hidden right axis): it never covers a
        # trace.
        self._scale_bar = _ScaleGutter(self._vb, self._axis.font())
        self.plot.layout.addItem(self._scale_bar, 2, 3)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        # Vertical grid lines are our own item (see _draw_grid): the axis' own grid costs ~3 ms per page step.
        self._grid = _GridLines(QColor(0, 0, 0, 50), QColor("white"))  # the plot's background (below)
        self._time_axis.update_label()
        for axis in (self._time_axis, self._axis):
            axis.setTextPen(pg.mkPen("#303030"))
            axis.setPen(pg.mkPen("#808080"))
        self._vb.invertY(True)
        self._vb.setDefaultPadding(0.0)
        self._vb.disableAutoRange()  # ranges are set by the browser (page, rows), never from the data
        self._vb.addItem(self._grid, ignoreBounds=True)
        self._strip = QGraphicsRectItem()  # the label strip's background, above the traces
        self._strip.setPen(QPen(Qt.PenStyle.NoPen))
        self._strip.setBrush(QBrush(STRIP_FILL))
        # Opaque over the traces and spans, under the labels (z 25): the rows above the channel window (the page
        # is laid out for every row) do not show through the strip once the window is scrolled down.
        self._strip.setZValue(24)
        self._vb.addItem(self._strip, ignoreBounds=True)

        self._raw = _TraceSet(self._vb, z=1)
        self._clean = _TraceSet(self._vb, z=2)
        self._pages = _PagePrefetcher()
        self._paint_release = _AfterPaint(self.plot_widget.viewport(), self._pages.release)
        self._refreshed_at = -math.inf  # when the last page was drawn (time.perf_counter, s)
        self.back_to_back = False  # the last page step came as soon as the page before it was painted
        self.span_layer = SpanLayer(self._vb, self._span_sources)
        self._mask_rects = _Pool(self._vb, _MaskRect)
        self._drag_region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(MASK_FILL),
                                                pen=pg.mkPen(MASK_HATCH, width=1))
        self._drag_region.setZValue(30)
        self._drag_region.hide()
        self._vb.addItem(self._drag_region, ignoreBounds=True)
        # Handles of the focused segment mask: drag an edge (or the body) to adjust it.
        self._edit_region = pg.LinearRegionItem(movable=True, brush=pg.mkBrush(0, 0, 0, 0),
                                                hoverBrush=pg.mkBrush(200, 0, 0, 30),
                                                pen=pg.mkPen(EDIT_EDGE, width=3),
                                                hoverPen=pg.mkPen(EDIT_EDGE_HOVER, width=5))
        self._edit_region.setZValue(40)
        self._edit_region.hide()
        self._edit_index: int | None = None  # segment index the handles belong to
        self._setting_region = False
        self._edit_region.sigRegionChangeFinished.connect(self._on_edit_region_finished)
        self._vb.addItem(self._edit_region, ignoreBounds=True)
        self._cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#2e7d32", width=1))
        self._cursor.hide()
        self._vb.addItem(self._cursor, ignoreBounds=True)

        # Scale bar (the first row in view's modality, or the one +/- change): in the right gutter (above), legend
        # and read-out.
        self.scale_bar_text = ""
        self._legend = pg.TextItem(color="#202020", anchor=(1, 0), fill=pg.mkBrush(255, 255, 255, 220))
        self._legend_html = ""
        self._legend_fit: tuple = ()  # (the legend's texts, the room for it, px) it was last fitted to
        # Whether the cleaned trace is the analysis' input (None: not known): set by the window after cleaning.
        self.cleaned_is_model_input: bool | None = True
        # The error of the first page that could not be read because the file changed on disk (None: none yet).
        self._file_changed_error: FileChangedError | None = None
        self._legend.setParentItem(self._vb)
        self._legend.setZValue(50)
        # The read-out has a strip of its own under the plot (over the plot it covered the bottom traces and
        # annotation labels); always there, so that showing a value never resizes the plot. Greyed hint when idle.
        self.readout_label = QLabel(READOUT_HINT, self)
        self.readout_label.setTextFormat(Qt.TextFormat.PlainText)
        self.readout_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.readout_label.setContentsMargins(6, 1, 6, 1)
        self.readout_label.setEnabled(False)
        self._measure: list[pg.InfiniteLine] = []  # the two measurement cursors, made when first shown
        self._hover: tuple[float, int] | None = None  # (time s, row) under the mouse
        self._hover_scene = None  # the mouse's last scene position over the traces (the read-out follows a redraw)
        self._measure_row: int | None = None  # row whose amplitude the cursors measure
        self._measure_page: float | None = None  # start of the page the cursors were last kept on, s
        self.plot_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)

        # The channel window: shown only when some channels are out of view; it never takes the keyboard focus.
        self.channel_scroll_bar = QScrollBar(Qt.Orientation.Vertical, self)
        self.channel_scroll_bar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.channel_scroll_bar.setSingleStep(1)
        self.channel_scroll_bar.hide()
        self.channel_scroll_bar.valueChanged.connect(self.set_first_channel)

        column = QVBoxLayout()
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.plot_widget, 1)
        column.addWidget(self.readout_label)
        # The heart-rate row (H): its own small plot under the traces, on the page's time range, made when first
        # shown (app/browser_heart_rate.py).
        self.heart_rate_row = HeartRateRow(lambda exc, what: self.model.errorOccurred.emit(exc, what), column, self)
        self.heart_rate_row.statusChanged.connect(self._on_row_status)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(column, 1)
        layout.addWidget(self.channel_scroll_bar)

        # A resize changes the number of pixels, hence the decimation: redraw once the resizing settles. The
        # channel window follows the height at once (it only sets the view's y range).
        self._resize_timer = single_shot_timer(self, 60)
        self._resize_timer.timeout.connect(self.refresh)
        self._vb.sigResized.connect(self._on_view_resized)

        events = self.state.events
        events.connect("page", self._on_state_page)
        events.connect("channels", self._on_state_channels)
        events.connect("scale", self._on_state_scale)
        events.connect("mode", self._on_state_mode)
        events.connect("mask_mode", lambda: self.maskModeChanged.emit(self.state.mask_mode))
        events.connect("montage", self._on_state_montage)
        events.connect("filters", self._on_state_display)
        events.connect("display", self._on_state_display)

        model.recordingLoaded.connect(self._on_recording_loaded)
        model.recordingChanged.connect(self._on_recording_changed)
        model.cleanedReady.connect(self._on_cleaned_ready)
        model.masksChanged.connect(self._on_masks_changed)
        model.visibilityChanged.connect(self._on_visibility_changed)
        model.selectionChanged.connect(self._on_selection_changed)
        model.cursorMoved.connect(self._on_cursor_moved)
        model.maskFocusChanged.connect(lambda _f: self._show_edit_region())
        self.annotation_layer = AnnotationLayer(self)  # the user's annotations (app/annotation_layer.py)

    # --- state events ---------------------------------------------------------------------------------------
    def _on_state_page(self) -> None:
        if not self._updating:
            self.refresh()

    def _on_state_channels(self) -> None:
        if not self._updating:
            self._apply_channel_window()

    def _on_state_scale(self) -> None:
        if not self._updating:
            self.refresh()
        self.scaleChanged.emit()

    def _on_state_mode(self) -> None:
        self._apply_pens()
        self.modeChanged.emit(self.state.mode)
        self.refresh()

    def _on_state_montage(self) -> None:
        if not self._updating:
            self._rebuild_rows()
        self.displayChanged.emit()

    def _on_state_display(self) -> None:
        self._time_axis.update_label()
        self._time_axis.picture = None
        self._time_axis.update()
        if not self._updating:
            self.refresh()
        self._apply_heart_rate()  # after refresh(), which clears the status this may set
        self.displayChanged.emit()

    # --- public state ---------------------------------------------------------------------------------------
    @property
    def recording(self) -> Recording | None:
        return self._rec

    @property
    def start_s(self) -> float:
        """Start of the page, s."""
        return self.state.start_s

    @property
    def page_s(self) -> float:
        """Length of the page, s."""
        return self.state.page_s

    def visible_range(self) -> tuple[float, float]:
        """(start, stop) of the page, s."""
        return self.state.start_s, self.state.stop_s

    def data_range(self) -> tuple[float, float]:
        """(start, stop) of the recorded data on the page, s: the page, up to the recording's end (a page longer
        than the recording reaches past it)."""
        start, stop = self.visible_range()
        return start, min(stop, self.state.duration_s) if self.state.duration_s > start else stop

    @property
    def mode(self) -> str:
        """What is drawn: "raw", "cleaned" or "both"."""
        return self.state.mode

    @property
    def mask_mode(self) -> bool:
        """Whether a plain drag masks a segment (else only Shift+drag does)."""
        return self.state.mask_mode

    @property
    def measuring(self) -> bool:
        """Whether the two measurement cursors are shown."""
        return bool(self._measure) and self._measure[0].isVisible()

    @property
    def visible_channels(self) -> list[str]:
        """Names of the rows, top to bottom (the channels not hidden, or the montage's derivations)."""
        return [d.name for d in self._row_defs]

    @property
    def first_channel(self) -> int:
        """Row (index in :attr:`visible_channels`) at the top of the view."""
        return self.state.first_row

    @property
    def channels_per_page(self) -> int:
        """Number of rows in view: the user's choice (capped at the rows there are), else as many as fit."""
        return self.state.channels_per_page

    @property
    def channels_per_page_choice(self) -> int | None:
        """Channels per page chosen by the user, ``None`` when it follows the height."""
        return self.state.per_page_choice

    def rows_key(self) -> Hashable:
        """Names the row layout and the channel window: equal keys, equal :attr:`visible_channels` and
        :attr:`page_channels` (for layers that cache what they derive from them)."""
        return (self._rows_version, self.state.first_row, self.channels_per_page)

    @property
    def page_channels(self) -> list[str]:
        """Names of the rows in view (the channel page), top to bottom."""
        first = self.state.first_row
        return self.visible_channels[first:first + self.channels_per_page]

    @property
    def page_recorded_channels(self) -> list[str]:
        """The recording's channels in the rows in view, top to bottom, each once (a derivation's anode, then
        its reference): what the spectrum reads under a montage, whose row names ("Fp1-F7") are no channels."""
        first = self.state.first_row
        out: dict[str, None] = {}
        for d in self._row_defs[first:first + self.channels_per_page]:
            out.update(dict.fromkeys(d.channels))
        return list(out)

    def scale(self, modality: Modality | str) -> float:
        """Amplitude shown per row spacing for ``modality``, in the channel's unit (e.g. V for EEG)."""
        return self.state.scale(modality)

    @property
    def scale_target(self) -> Modality | None:
        return self.state.scale_target

    def row_of(self, ch_name: str) -> int:
        """Row (0 = top) of a shown channel or derivation, in view coordinates."""
        return self.visible_channels.index(ch_name)

    def row_modality(self, row: int) -> Modality:
        return self._row_mods[row]

    def row_unit(self, row: int) -> tuple[str, float]:
        """(unit shown, factor from the data's unit) of a row: µV for volts."""
        return display_unit(self._row_units[row])

    def curves(self, ch_name: str) -> tuple["TraceRow", "TraceRow"]:
        """The raw and cleaned rows of a shown channel (``getData()`` in view coordinates, ``opts["pen"]``)."""
        row = self.row_of(ch_name)
        return TraceRow(self._raw, row), TraceRow(self._clean, row)

    def trace_items(self) -> tuple[pg.PlotCurveItem, pg.PlotCurveItem]:
        """The two curve items that draw every raw and every cleaned row."""
        return self._raw.curve, self._clean.curve

    @property
    def page_cache(self) -> "_PagePrefetcher":
        """The prepared pages (``hits``/``misses`` count page steps served ready / computed on demand)."""
        return self._pages

    def shutdown(self) -> None:
        """Stop the page prefetching and heart-rate threads (the window calls this when it closes)."""
        self._pages.shutdown()
        self.heart_rate_row.shutdown()

    def view_box(self) -> pg.ViewBox:
        return self._vb

    @contextmanager
    def without_overlays(self) -> Iterator[None]:
        """Hide what belongs to the mouse, not the page -- the handles of a focused mask -- while the block runs
        (an exported page; the read-out is outside the plot)."""
        items = [i for i in (self._edit_region,) if i.isVisible()]
        for item in items:
            item.hide()
        try:
            yield
        finally:
            for item in items:
                item.show()

    def export_parts(self) -> list:
        """What an exported page shows (:func:`app.view_export.view_image`): caption lines naming the page, the
        traces, the montage and the display filters (:func:`app.browser_export.page_caption`), then the plot and
        the heart-rate row when it is shown."""
        from .browser_export import page_caption

        row = self.heart_rate_row.widget
        return [*page_caption(self), self.plot_widget] + ([row] if row is not None else [])

    def display_summary(self) -> str:
        """Montage and display filters in words for the status bar ("" when the data are drawn as recorded)."""
        parts = self.display_parts()
        if parts:
            parts.append("model input unchanged")
        return " | ".join(parts)

    def display_parts(self) -> list[str]:
        """What the display changes, e.g. ["montage: double banana", "display filter: EEG 0.5-35 Hz"] ([] when
        the data are drawn as recorded, unfiltered)."""
        parts = []
        montage = self.state.montage
        if montage.kind != "recorded":
            shown = self._rec is not None and montage.available(self._channel_list())
            parts.append(f"montage: {montage.name}" if shown else f"montage: {montage.name} (not possible with "
                                                                   "these channels: as recorded)")
            left_out = montage.not_derivable(self._channel_list()) if shown else ()
            if left_out:  # a Laplacian's electrodes with fewer than two neighbours recorded: not drawn
                parts[-1] += f" (not derivable, not drawn: {', '.join(left_out)})"
        if self.state.negative_up:
            parts.append("negative up")  # said with the page (and on an exported one): the polarity drawn
        filters = self.state.filters_text(self._row_mods)  # of the modalities drawn
        if filters:
            parts.append(f"display filter: {filters}")
        elif self.state.filters and not self.state.filters_on:
            parts.append("display filters off (F)")
        return parts

    def calibration_text(self) -> str:
        """Sensitivity of the scale modality (or EEG) and timebase, e.g. "EEG 7.1 µV/mm, 30 mm/s"."""
        if self._rec is None or not self._row_mods:
            return ""
        mod = self._scale_modality()
        row = self._row_mods.index(mod) if mod in self._row_mods else 0
        unit, factor = self.row_unit(row)
        sens = self.state.sensitivity(mod) * factor
        tb = self.state.timebase_mm_s
        if not math.isfinite(sens) or not math.isfinite(tb):
            return ""
        return f"{mod.value} {format_number(sens)} {unit}/mm, {format_number(tb)} mm/s"

    # --- settings ------------------------------------------------------------------------------------------
    def set_colours(self, raw: str | QColor, cleaned: str | QColor) -> None:
        """Colours of raw and cleaned traces."""
        self._raw_colour, self._cleaned_colour = QColor(raw), QColor(cleaned)
        self._apply_pens()

    def set_scale_target(self, modality: Modality | str | None) -> None:
        """Modality whose amplitude '+'/'-' change (``None``: all)."""
        self.state.set_scale_target(modality)
        self._draw_scale_bar()
        self.scaleChanged.emit()

    def change_scale(self, factor: float, modality: Modality | str | None = None) -> None:
        """Multiply the amplitude shown by ``factor`` (> 1 = larger traces) for one modality or all."""
        self.state.change_scale(factor, modality)

    def change_scale_target(self, larger: bool) -> None:
        """'+'/'-': larger or smaller traces of the scale target (all modalities when none is chosen)."""
        self.change_scale(SCALE_STEP if larger else 1 / SCALE_STEP, self.state.scale_target)

    def change_selected_gain(self, larger: bool) -> None:
        """']'/'[': larger or smaller traces of the selected channels only (their rows in a montage)."""
        selected = set(self.model.selection)
        rows = [d.name for d in self._row_defs if d.anode in selected or d.name in selected]
        if not rows:
            self.status = "select channels (click in the channel list) to change their gain"
            self.displayChanged.emit()
            return
        self.state.change_gain(rows, SCALE_STEP if larger else 1 / SCALE_STEP)

    def reset_gains(self) -> None:
        self.state.reset_gains()

    def set_sensitivity(self, per_mm_shown: float, modality: Modality | str | None = None) -> None:
        """Set the sensitivity of a modality (default: the scale modality) in its shown unit per mm (µV/mm)."""
        mod = Modality.parse(modality) if modality is not None else self._scale_modality()
        row = self._row_mods.index(mod) if mod in self._row_mods else None
        factor = self.row_unit(row)[1] if row is not None else 1.0
        self.state.set_sensitivity(mod, per_mm_shown / factor)

    def set_timebase(self, mm_per_s: float) -> None:
        self.state.set_timebase(mm_per_s)

    def set_mode(self, mode: str) -> None:
        self.state.set_mode(mode)

    def cycle_mode(self) -> None:
        """raw -> cleaned -> both -> raw."""
        self.state.cycle_mode()

    def set_mask_mode(self, on: bool) -> None:
        self.state.set_mask_mode(on)

    def toggle_mask_mode(self) -> None:
        self.state.set_mask_mode(not self.state.mask_mode)

    def toggle_clip(self) -> None:
        self.state.set_clip(not self.state.clip)

    def toggle_negative_up(self) -> None:
        """I: negative up (the clinical EEG convention: a negative spike points up) or positive up."""
        self.state.set_negative_up(not self.state.negative_up)

    def toggle_clock_time(self) -> None:
        if self.state.start_time is None and not self.state.clock_time:
            self.status = "the recording has no start time: the axis shows the time from its start"
            self.displayChanged.emit()
            return
        self.state.set_clock_time(not self.state.clock_time)

    def toggle_heart_rate(self) -> None:
        """H: the heart-rate row (bpm from the first ECG, else PPG channel) under the traces on/off."""
        self.state.set_heart_rate(not self.state.heart_rate)

    def _apply_heart_rate(self) -> None:
        """Show the heart-rate row when it is wanted and the recording has a heart channel, else hide it."""
        row = self.heart_rate_row
        if self.state.heart_rate and self._rec is not None:
            if row.show_for(self._rec):
                self._align_heart_rate_axis()
                row.set_page(*self.visible_range())
        else:
            row.hide()

    def _align_heart_rate_axis(self) -> None:
        """The channel-name gutter and the heart-rate row's bpm axis equally wide, so that their times line up."""
        width = self._axis.fixedWidth or self._axis.width()  # the width asked for (laid out on the next paint)
        if self.heart_rate_row.shown and width < MIN_AXIS_PX:
            width = MIN_AXIS_PX
            self._axis.setWidth(width)
        self.heart_rate_row.set_left_width(width)
        self.heart_rate_row.set_right_width(self._scale_bar.width())

    def _on_row_status(self, text: str) -> None:
        self.status = text
        self.displayChanged.emit()

    def toggle_filters(self) -> None:
        """F: the display filters on/off; with none set for the modalities drawn, say where they are set (F
        switched a hidden flag and nothing changed on the screen)."""
        drawn = set(self._row_mods)
        if not any(m in drawn and f.active for m, f in self.state.filters.items()):
            self.status = "no display filter set for these channels: View > Display filters (Presets)"
            self.displayChanged.emit()
            return
        self.state.set_filters_on(not self.state.filters_on)

    def set_montage(self, montage: Montage) -> None:
        self.state.set_montage(montage)

    def set_montage_index(self, index: int) -> None:
        """Ctrl+1..Ctrl+6: the built-in montages (and the user's after them) by position."""
        if 0 <= index < len(self.montages):
            self.set_montage(self.montages[index])

    # --- channel paging ------------------------------------------------------------------------------------
    def set_channels_per_page(self, n: int | None) -> None:
        """Show ``n`` channels at a time (the top row stays where it is), or as many as fit (``None``)."""
        self.state.set_channels_per_page(n)

    def step_channels_per_page(self, steps: int) -> None:
        self.state.step_channels_per_page(steps)

    def set_first_channel(self, row: int) -> None:
        """Put row ``row`` (index in :attr:`visible_channels`) at the top of the view, clamped to the rows."""
        self.state.set_first_channel(row)

    def scroll_channels(self, rows: int) -> None:
        self.state.scroll_channels(rows)

    def scroll_channel_pages(self, pages: int) -> None:
        self.state.scroll_channel_pages(pages)

    def _strip_rows(self) -> float:
        """Height of the label strip above the traces, rows."""
        row_px = self.state.row_px
        return self._strips[0] / row_px if row_px > 0 else 0.0

    def _bottom_strip_rows(self) -> float:
        """Height of the strip under the traces (the user's annotation labels), rows."""
        row_px = self.state.row_px
        return self._strips[1] / row_px if row_px > 0 else 0.0

    def _apply_channel_window(self, *, redraw: bool = True) -> None:
        """Show the channel window (the view's y range, the scroll bar) and move the labels with it."""
        state = self.state
        n_rows = state.n_rows
        per_page = max(1, state.channels_per_page)
        first = state.first_row
        top = first - 0.5 - ROW_MARGIN - self._strip_rows()
        self._vb.setYRange(top, first + per_page - 0.5 + ROW_MARGIN + self._bottom_strip_rows(), padding=0)
        bar = self.channel_scroll_bar
        bar.blockSignals(True)
        try:
            bar.setRange(0, max(0, n_rows - per_page))
            bar.setPageStep(per_page)
            bar.setValue(first)
        finally:
            bar.blockSignals(False)
        bar.setVisible(n_rows > per_page)
        bar.setToolTip(f"Channels {first + 1}-{min(first + per_page, n_rows)} of {n_rows}: Up/Down one channel, "
                       f"Shift+Up/Down a page of channels, Ctrl+Shift+Up/Down fewer/more per page")
        self._axis.rows = range(first, first + per_page)
        self._axis.picture = None
        self._axis.update()
        if redraw:
            # The legend first (the top row's filter): the labels beside it are cut at its new width.
            self._draw_legend(self._raw.curve.isVisible(),
                              self._clean.curve.isVisible() or self.cleaning_pending is not None)
            self._draw_spans()  # the labels at the top of the view move with it
            self._draw_scale_bar()
        self.channelPageChanged.emit(first, min(per_page, n_rows), n_rows)

    def _strip_px(self) -> float:
        """Height of the label strip, px: room for the label lines when the recording has spans to label, else
        for the legend alone (over the traces it covered the top trace's end)."""
        has_spans = bool(self._annotations) or bool(getattr(self.model.preprocess_result, "interference", ()))
        line_px = self.span_layer.line_px()
        if not has_spans:
            return max(line_px, self._legend.boundingRect().height()) + 2.0
        height = self._vb.height()
        n_lines = max(1, min(LABEL_ROWS, int(height // (4 * line_px)))) if height > 0 else LABEL_ROWS
        return n_lines * line_px + 2.0

    def _bottom_strip_px(self) -> float:
        """Height of the strip under the traces, px: room for the user's annotation labels while there are user
        annotations (on any page: paging never changes the rows' height), so that they never cover a trace."""
        layer = getattr(self, "annotation_layer", None)
        return layer.strip_px() if layer is not None else 0.0

    def _update_geometry(self) -> None:
        self._strips = (self._strip_px(), self._bottom_strip_px())
        self.state.set_view_size(self._vb.width(), self._vb.height(), sum(self._strips))

    def relayout_strips(self) -> None:
        """Lay the rows out again after a label strip came or went (the first user annotation, the last one
        deleted), and draw the page."""
        if not self._rows_ready() or self._strips == (self._strip_px(), self._bottom_strip_px()):
            return
        self._updating = True
        try:
            self._update_geometry()
        finally:
            self._updating = False
        self._apply_channel_window(redraw=False)
        self.refresh()

    def _on_view_resized(self) -> None:
        self._position_overlays()
        if self._rows_ready():
            self._updating = True  # the y range is set just below; the traces are redrawn when resizing settles
            try:
                self._update_geometry()
            finally:
                self._updating = False
            self._apply_channel_window(redraw=False)
        self._resize_timer.start()

    def _position_overlays(self) -> None:
        self._legend.setPos(self._vb.width() - 4, 1)

    # --- navigation ----------------------------------------------------------------------------------------
    def set_start(self, start_s: float) -> None:
        """Show the page that starts at ``start_s`` (clamped to the recording), s."""
        self.state.set_start(start_s)

    def scroll_pages(self, pages: float) -> None:
        """Move by ``pages`` pages (negative: back)."""
        self.state.scroll_pages(pages)

    def center_on(self, t_s: float) -> None:
        """Show the page centred on ``t_s``, s."""
        self.state.center_on(t_s)

    def jump_to(self, t_s: float) -> None:
        """Show the page that starts at ``t_s`` and put the cursor there."""
        self.set_start(t_s)
        self.model.set_cursor(t_s)

    def set_page_length(self, page_s: float) -> None:
        """Set the page length, s (the page keeps its start)."""
        self.state.set_page_length(page_s)

    def step_page_length(self, steps: int) -> None:
        """Go ``steps`` entries along :data:`PAGE_LENGTHS` (negative: shorter)."""
        self.state.step_page_length(steps)

    def ask_jump(self) -> None:
        """Ctrl+G: ask for a time (h:mm:ss, mm:ss, seconds or @clock time) and go there."""
        if self._rec is None:
            return
        # Say how a two-field time is read: a clock time hh:mm (T on, or after @), else mm:ss from the start.
        if self.state.clock_time:
            prompt = "Clock time (hh:mm:ss or hh:mm), or seconds from the start"
        else:
            prompt = "Time from the start (h:mm:ss, mm:ss or seconds), or a clock time as @hh:mm:ss or @hh:mm"
        if self.state.start_time is not None and self.state.duration_s > 86400 - 1:  # the same clock time recurs
            prompt += " (on the day shown); @YYYY-MM-DD hh:mm:ss on another day"
        text, ok = QInputDialog.getText(self, "Go to time", f"{prompt}:",
                                        QLineEdit.EchoMode.Normal, self.state.format_time(self.state.start_s))
        if not ok or not text.strip():
            return
        try:
            t = self.state.parse_time(text)
        except ValueError as exc:  # a typo is the user's error (as a ValueError it read "An unexpected error")
            self.model.errorOccurred.emit(MMQNetError(str(exc)), GO_TO_TIME_CONTEXT)
            return
        self.jump_to(t)

    # --- keys --------------------------------------------------------------------------------------------------
    def binding_for(self, event: QKeyEvent) -> Binding | None:
        """The key binding of a key press (character keys match whatever Shift typing them needed)."""
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        key = int(event.key().value) if hasattr(event.key(), "value") else int(event.key())
        binding = self._keys.get((key, int(mods.value)))
        if binding is None and event.text().isprintable() and event.text() and mods == Qt.KeyboardModifier.ShiftModifier:
            binding = self._keys.get((key, 0))
        if binding is not None and binding.when and not getattr(self, binding.when):
            return None
        return binding

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        binding = self.binding_for(event)
        if binding is None or not binding.command:
            super().keyPressEvent(event)
            return
        getattr(self, binding.command)(*binding.args)
        event.accept()

    def _on_wheel(self, delta: int, modifiers: Qt.KeyboardModifier) -> None:
        if delta == 0:
            return
        step = -1 if delta > 0 else 1  # wheel away from the user = back in time / shorter page / channels above
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            self.step_page_length(step)
        elif modifiers & Qt.KeyboardModifier.ShiftModifier:
            self.scroll_channels(step * WHEEL_CHANNELS)
        else:
            self.scroll_pages(step)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API), wheel over the margins
        self._on_wheel(event.angleDelta().y(), event.modifiers())
        event.accept()

    # --- rows and mouse --------------------------------------------------------------------------------------
    def _row_at(self, y: float) -> int | None:
        """The row at view ``y``; ``None`` outside the rows in view (the margins, the strip, no channel)."""
        row = int(round(y))
        first = self.state.first_row
        return row if first <= row < min(len(self._row_defs), first + self.channels_per_page) else None

    def _row_name(self, y: float) -> str | None:
        """The recording channel of the row at view ``y`` (a derivation's first channel); ``None`` off the rows."""
        row = self._row_at(y)
        return None if row is None else self._row_defs[row].anode

    def _on_label_click(self, row: int) -> None:
        row = self._row_at(row)
        if row is None:
            return
        d = self._row_defs[row]
        if d.reference:
            self.status = "masks are per recorded channel: show the montage 'As recorded' (Ctrl+1) to mask one"
            self.displayChanged.emit()
            return
        self.channelLabelClicked.emit(d.anode)
        self.model.toggle_channel_mask(d.anode)

    def _on_click(self, x: float, y: float) -> None:
        if self._rec is None:
            return
        self.model.set_cursor(min(max(x, 0.0), self._rec.duration_s))
        name = self._row_name(y)
        row = self._row_at(y)
        if row is not None:
            self._measure_row = row
            self._update_readout()
        index = self.model.segment_at(x, name)
        if index is not None:
            self.model.focus_segment(index, name)
        elif name is not None and self.model.masks is not None and name in self.model.masks.channels:
            self.model.focus_channel(name)
        else:
            self.model.set_mask_focus(None)

    def _on_mouse_moved(self, scene_pos) -> None:
        if self._rec is None or not self._vb.sceneBoundingRect().contains(scene_pos):
            return
        self._hover_scene = QPointF(scene_pos)
        self._hover_at_mouse()
        self._update_readout()

    def _hover_at_mouse(self) -> None:
        """Time and row under the mouse's last position, for the page and rows drawn now (after a page step or
        a montage with fewer rows the kept (time, row) named another time and channel, or no row: IndexError)."""
        if self._hover_scene is None:
            return
        p = self._vb.mapSceneToView(self._hover_scene)
        row = self._row_at(p.y())
        self._hover = None if row is None else (p.x(), row)

    def _current_page(self) -> PageTraces | None:
        traces = self._clean if self.state.mode == "cleaned" and self._clean.curve.isVisible() else self._raw
        if not traces.curve.isVisible():
            traces = self._clean
        return traces.page if traces.curve.isVisible() else None

    def _update_readout(self) -> None:
        """Crosshair (time and value under the mouse) and measurement (dt, 1/dt, d-amplitude) read-out."""
        page = self._current_page()
        parts = []
        if self._hover is not None and page is not None:
            t, row = self._hover
            unit, factor = self.row_unit(row)
            v = page.value_at(row, t)
            value = f"{format_number(v * factor, 4)} {unit}" if math.isfinite(v) else "-"  # not "1.234e+04"
            if self._raw.curve.isVisible() and self._clean.curve.isVisible():  # both drawn: say which one is read
                value += " (raw)" if page is self._raw.page else " (cleaned)"
            parts.append(f"{self.state.format_time(t, 3)}  {self._row_defs[row].name} {value}")
        if self.measuring:
            ta, tb = (line.value() for line in self._measure)
            dt = abs(tb - ta)
            text = f"A-B: \u0394t {dt:.3f} s"
            if dt > 0:
                text += f" ({1 / dt:.3g} Hz)"
            row = self._measure_row
            if row is None or not 0 <= row < len(self._row_defs):
                row = self.state.first_row if self._row_defs else None
            if row is not None and page is not None:
                unit, factor = self.row_unit(row)
                va, vb = page.value_at(row, ta), page.value_at(row, tb)
                if math.isfinite(va) and math.isfinite(vb):
                    text += f", \u0394{self._row_defs[row].name} {format_number((vb - va) * factor, 4)} {unit}"
            parts.append(text)
        readout = "   |   ".join(parts)
        if readout == self.readout:
            return
        self.readout = readout
        self.readout_label.setText(readout or READOUT_HINT)
        self.readout_label.setEnabled(bool(readout))
        self.readoutChanged.emit(readout)

    def _measure_lines(self) -> list[pg.InfiniteLine]:
        if not self._measure:
            for name in ("A", "B"):
                line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(MEASURE_COLOUR, width=1.5),
                                       hoverPen=pg.mkPen(MEASURE_COLOUR, width=3), label=name,
                                       labelOpts={"position": 0.97, "color": MEASURE_COLOUR})
                line.setZValue(46)
                line.hide()
                line.sigPositionChanged.connect(lambda *_: self._update_readout())
                self._vb.addItem(line, ignoreBounds=True)
                self._measure.append(line)
        return self._measure

    def toggle_measure(self) -> None:
        """Q: show the two measurement cursors at a third and two thirds of the page, or hide them."""
        on = not self.measuring
        start, stop = self.data_range()  # on the data: a 30-s page of a 4-s recording put them at 10 and 20 s
        for line, f in zip(self._measure_lines(), (1 / 3, 2 / 3)):
            if on:
                line.setValue(start + f * (stop - start))
            line.setVisible(on)
        self._measure_page = start
        self._update_readout()
        self.displayChanged.emit()  # the toolbar's Measure button follows

    @property
    def measure_cursors(self) -> tuple[pg.InfiniteLine, ...]:
        """The two measurement cursors A and B (empty before Q first showed them)."""
        return tuple(self._measure)

    def nudge_measure(self, cursor: int, pages: float) -> None:
        """Move measurement cursor ``cursor`` (0: A, 1: B) by ``pages`` page lengths, kept on the page: the
        cursors by keyboard (they could only be dragged with the mouse)."""
        if not self.measuring:
            return
        start, stop = self.data_range()
        line = self._measure[cursor]
        line.setValue(min(max(line.value() + pages * (stop - start), start), stop))

    def step_measure_row(self, rows: int) -> None:
        """The channel whose amplitude the cursors measure: ``rows`` rows down (negative: up), among those in
        view (by keyboard: only a click chose it)."""
        if not self.measuring or not self._row_defs:
            return
        first = self.state.first_row
        last = min(len(self._row_defs), first + self.channels_per_page) - 1
        row = self._measure_row if self._measure_row is not None and first <= self._measure_row <= last else None
        row = first if row is None and rows > 0 else (last if row is None else row + rows)
        self._measure_row = min(max(row, first), last)
        self._update_readout()

    def _keep_measure_on_page(self, start: float, stop: float) -> None:
        """After a page change with the cursors on: where a cursor would be off the new page, both move with the
        page (the same place on the screen, kept inside the page). A page step left them on the old page: Measure
        stayed on, no cursor was in view and the read-out gave the old page's \u0394t. Cursors still in view
        (a quarter-page step) stay on the waves they mark."""
        previous, self._measure_page = self._measure_page, start
        values = [line.value() for line in self._measure]
        if previous is None or all(start <= v <= stop for v in values):
            return
        shift = start - previous
        for line, v in zip(self._measure, values):
            line.setValue(min(max(v + shift, start), stop))

    def set_measure(self, t_a: float, t_b: float, row: int | None = None) -> None:
        """Put the measurement cursors at ``t_a`` and ``t_b`` (s), measuring row ``row`` (shows them)."""
        self._measure_row = row
        for line, t in zip(self._measure_lines(), (t_a, t_b)):
            line.setValue(t)
            line.show()
        self._measure_page = self.visible_range()[0]
        self._update_readout()

    # --- model updates -------------------------------------------------------------------------------------
    def _file_changed(self, exc: FileChangedError) -> None:
        """A page could not be read because the file changed on disk: said once per recording (a dialog through
        the model's error signal), then only in the status while pages that were read before still draw (each
        page not read before raised a dialog of its own, one per key press)."""
        if self._file_changed_error is None:
            self._file_changed_error = exc
            self.model.errorOccurred.emit(exc, f"reading {self._rec.title if self._rec is not None else 'the file'}")

    def _on_recording_loaded(self, recording: Recording) -> None:
        self._rec = recording
        self._file_changed_error = None
        self.heart_rate_row.clear()
        self._annotations = recording.annotations  # built from the file's list on each access: keep them
        self._pages.clear()
        self._updating = True
        try:
            start = recording.raw.info.get("meas_date") if recording.raw is not None else None
            self.state.reset(recording.duration_s, start)
            self.state.set_clock_time(self.state.clock_time)  # off when the new recording has no start time
        finally:
            self._updating = False
        self._shown = []
        self._row_defs = []
        self._rebuild_rows(autoscale=True)
        self._apply_heart_rate()

    def _on_recording_changed(self, recording: Recording) -> None:
        self._rec = recording
        self._file_changed_error = None
        self.heart_rate_row.clear()
        self._annotations = recording.annotations
        self._pages.clear()  # same file, other modalities: other scales
        self._shown = []
        self._row_defs = []
        self._rebuild_rows(autoscale=True)
        self._apply_heart_rate()

    def _on_cleaned_ready(self, _result: Any) -> None:
        self._pages.clear()  # pages are keyed by the id() of their source: a new result may reuse an old id
        if self._rows_ready():
            self._update_geometry()  # interference spans may need the label strip
        self.refresh()

    def _on_visibility_changed(self, _hidden: Any) -> None:
        # set_recording announces the (empty) hidden set right after the recording: nothing to rebuild then.
        if self._rec is not None and self._shown_rows() != self._shown:
            self._rebuild_rows()

    def _masked_channels(self) -> frozenset[str]:
        """The channels masked whole (bad channels)."""
        masks = self.model.masks
        return frozenset(masks.channels) if masks is not None else frozenset()

    def _without_masked_reference(self, rows: list) -> list:
        """``rows`` with the channels masked whole left out of an average reference (or a Laplacian's neighbour
        mean): a mask means missing data (the cleaning's average leaves it out), but the display's average
        reference kept a bad channel masked whole, which then showed on every "-avg" row. Hiding the channel was
        the only way out."""
        masked = self._masked_channels() if self.state.montage.kind in MEAN_REFERENCE_KINDS else frozenset()
        self._reference_masked = masked
        if not masked:
            return rows
        out = []
        for d in rows:
            kept = tuple(c for c in d.reference if c not in masked)
            out.append(dataclasses.replace(d, reference=kept) if len(d.reference) > 1 and kept else d)
        return out

    def _on_masks_changed(self, _masks: Any) -> None:
        if (self._rec is not None and self.state.montage.kind in MEAN_REFERENCE_KINDS
                and self._masked_channels() != self._reference_masked):
            self._rebuild_rows()  # the average's reference changed (it calls this again)
            return
        masked = set(self.model.masks.channels) if self.model.masks is not None else set()
        self._axis.masked = {d.name for d in self._row_defs if d.anode in masked and not d.reference}
        self._axis.picture = None  # repaint the labels
        self._axis.update()
        self._draw_spans()
        self._show_edit_region()

    def _on_selection_changed(self, names: tuple[str, ...]) -> None:
        selected = set(names)
        self._axis.selected = {d.name for d in self._row_defs if d.anode in selected}
        self._axis.picture = None
        self._axis.update()

    def _on_cursor_moved(self, t_s: float) -> None:
        self._cursor.setValue(t_s)
        self._cursor.show()

    def _shown_rows(self) -> list[int]:
        """Recording channel indices of the channels not hidden, top to bottom."""
        hidden = self.model.hidden
        return [i for i, c in enumerate(self._rec.channels) if c.name not in hidden]

    def _channel_list(self) -> list[tuple[str, Modality]]:
        return [(self._rec.channels[i].name, self._rec.channels[i].modality) for i in self._shown]

    def _rows_ready(self) -> bool:
        return self._rec is not None and bool(self._row_defs)

    def _rebuild_rows(self, autoscale: bool = False) -> None:
        """Lay out the rows for the shown channels and the montage (the recording, channel list or montage changed)."""
        rec = self._rec
        if rec is None:
            return
        old = self._row_defs
        old_top = old[self.state.first_row].name if self.state.first_row < len(old) else None
        self._shown = self._shown_rows()
        self._row_defs = self._without_masked_reference(self.state.montage.derive(self._channel_list()))
        self._rows_version += 1
        by_name = {c.name: c for c in rec.channels}
        self._row_mods = [by_name[d.anode].modality for d in self._row_defs]
        self._row_units = [by_name[d.anode].unit for d in self._row_defs]
        names = self.visible_channels
        self._rows_of = {}
        for r, d in enumerate(self._row_defs):
            for c in d.channels[:1] if len(d.reference) > 2 or d.present_mean else d.channels:  # an average or a
                # Laplacian: the row of its electrode only (the row of Fz-lap, with 2 neighbours, showed theirs)
                self._rows_of.setdefault(c, []).append(r)
        self._updating = True
        try:
            self.state.set_rows(len(names), names.index(old_top) if old_top in names else None)
            self._update_geometry()
        finally:
            self._updating = False
        self._apply_pens()
        self._axis.set_names(names)
        self._align_heart_rate_axis()
        self._apply_channel_window(redraw=False)  # drawn by refresh() below
        missing = {c.modality for c in rec.channels} - set(self.state.scales)
        if autoscale or missing:
            self._autoscale(missing if not autoscale else None)
        self._on_masks_changed(self.model.masks)
        self._on_selection_changed(self.model.selection)
        self.refresh()

    def _apply_pens(self) -> None:
        # In "both" mode the raw trace is drawn lighter so that the cleaned trace on top stays readable.
        raw = QColor(self._raw_colour)
        if self.state.mode == "both":
            raw.setAlpha(110)
        self._raw.set_pen(raw)
        self._clean.set_pen(self._cleaned_colour)

    def _autoscale(self, modalities: set[Modality] | None = None) -> None:
        """Set each modality's amplitude from the robust range of its channels on the first page.

        A fixed µV default only suits EEG in volts; other channels come in the file's own units (µS, a.u.), so
        the scale is taken from the data (median over the modality's channels of the 1st-99th percentile range).
        With few rows (at most :data:`FIT_ROWS`) a row is most of the plot and its clip the plot's edge: the
        range is then widened so that the trace fits its row (its 0.1-99.9 % extent about the page mean, with a
        margin; a one-channel recording opened at 0.5 µV/mm with its peaks cut at the plot's top and bottom).
        """
        rec = self._rec
        if rec is None:
            return
        wanted = set(modalities) if modalities is not None else {c.modality for c in rec.channels}
        data = rec.get_data(0.0, min(rec.duration_s, max(self.state.page_s, 10.0)))
        by_mod: dict[Modality, list[float]] = {}
        rows = [i for i, ch in enumerate(rec.channels) if ch.modality in wanted]
        fit = len(self._row_defs) <= FIT_ROWS
        levels = [0.1, 1, 99, 99.9] if fit else [1, 99]

        def spread(values: np.ndarray, axis=None):
            """The row spacing a channel needs, in its unit (per row of a 2-D block with ``axis=1``)."""
            q = np.percentile(values, levels, axis=axis)
            if not fit:
                return q[1] - q[0]
            centre = np.mean(values, axis=axis)  # the layout removes the page mean
            half = np.maximum(q[3] - centre, centre - q[0])
            return np.maximum(q[2] - q[1], 2.0 * FIT_MARGIN * half)

        whole = [i for i in rows if np.isfinite(data[i]).all()] if data.shape[1] else []
        # Rows without a missing sample in one call (the same percentiles as row by row, ~10x faster for 40 rows).
        ranges = dict(zip(whole, np.atleast_1d(spread(data[whole], axis=1)).tolist())) if whole else {}
        for i in rows:
            if i not in ranges:
                finite = data[i][np.isfinite(data[i])]
                if not finite.size:
                    continue
                ranges[i] = float(spread(finite))
            by_mod.setdefault(rec.channels[i].modality, []).append(ranges[i])
        scales = {}
        for m in wanted:
            ranges = [r for r in by_mod.get(m, []) if r > 0]
            # A flat channel (zeros, or one level stored in steps of 1e-17) is left out: as the median it set
            # 4.7e-17 µV/mm and drew its modality's other channels as clipped blocks.
            ranges = [r for r in ranges if r > FLAT_RANGE * max(ranges)]
            scales[m] = float(np.median(ranges)) if ranges else FALLBACK_SCALE.get(m, 1.0)
        self._updating = True
        try:
            self.state.set_scales(scales)
        finally:
            self._updating = False

    # --- drawing -------------------------------------------------------------------------------------------
    def _n_bins(self) -> int:
        return max(200, int(self._vb.width()))

    def refresh(self, *, step: bool = True) -> None:
        """Draw the current page (``step=False``: the same page again, e.g. its cleaned trace that has come: not a
        page step, nothing more prepared)."""
        rec = self._rec
        if rec is None or self._updating:
            return
        now = time.perf_counter()
        start, stop = self.visible_range()
        self._vb.setXRange(start, stop, padding=0)
        self._apply_pens()
        mode = self.state.mode
        draw_raw = mode in ("raw", "both")
        draw_clean = mode in ("cleaned", "both")
        cleaned = getattr(self.model.preprocess_result, "cleaned", None)
        self.status = ""
        self.cleaning_pending = None
        if draw_clean and cleaned is None:
            draw_raw = True  # nothing else to show yet
            self.status = "cleaned signals not ready: showing raw"
        for traces, kind, wanted in ((self._raw, "raw", draw_raw), (self._clean, "cleaned", draw_clean)):
            job = self._page_job(kind, start) if wanted and self._row_defs else None
            if job is None:
                traces.hide()
                continue
            try:
                if kind == "cleaned" and self._needs_cleaning(start, stop):
                    key = job[0]
                    # back to back the reader is ahead of the cleaning: no wait (a wait per step slowed every
                    # step; measured: median 11-24 ms vs 6-9 ms at load 3-4)
                    wait = 0.0 if step and now - max(self.plot_widget.painted_at, self._refreshed_at) < \
                        BACK_TO_BACK_S else CLEANED_WAIT_S
                    page = self._pages.get_within(*job, wait, lambda: self._cleanedPageReady.emit(key))
                    if page is None:  # its tile is being cleaned: the trace follows (_cleaned_page_ready)
                        traces.hide()
                        self.cleaning_pending = key
                        self.status = "cleaning this page (its trace follows)"
                        continue
                else:
                    page = self._pages.get(*job)
            except FileChangedError as exc:  # truncated, moved or deleted on disk since it was opened
                traces.hide()
                self._file_changed(exc)
                continue
            traces.show(page)
        if self._file_changed_error is not None:
            self.status = FILE_CHANGED_STATUS
        self._draw_grid(start, stop)
        self._draw_legend(draw_raw, draw_clean)  # before the labels, which are cut at its width
        self._draw_spans()
        self._draw_scale_bar()
        if self.heart_rate_row.shown:
            self.heart_rate_row.set_page(start, stop)
        hovered = self._hover is not None
        if hovered:
            self._hover_at_mouse()  # the mouse may now be over another row or none: the read-out says so
        if self.measuring:
            self._keep_measure_on_page(*self.data_range())
        self._update_readout() if (self.measuring or hovered) else None
        self.pageChanged.emit(start, stop)
        if not step:
            return
        # Spaced steps (a reader's page turns, a key's auto-repeat): the neighbours are prepared once this page is
        # painted (``_PagePrefetcher.hold``) and drawn into images in the idle time before the next step. Back to
        # back (the next step as soon as a page is painted, or before): there is no idle time to hide that work
        # in; on 2 cores an image drawn in the background with the interpreter lock held made each step wait for
        # it (28.8 ms per plain step vs 16.6 ms without images). The neighbours are then prepared at once: with
        # images where the stroke runs without the lock (app/page_raster.py: the prefetching thread draws on the
        # other core while the GUI thread runs), else laid out only and stroked by the GUI thread.
        # Idle time: since the last paint, or since the last page drawn when it has not been painted yet.
        self.back_to_back = now - max(self.plot_widget.painted_at, self._refreshed_at) < BACK_TO_BACK_S
        self._refreshed_at = now
        if self.back_to_back:
            self._pages.release()
        else:
            self._pages.hold()
        self._prefetch_neighbours(draw_raw, draw_clean, images=not self.back_to_back or gil_free_available())

    def _draw_grid(self, start: float, stop: float) -> None:
        """Vertical lines at the time axis' ticks (one item, painted from the page and the step)."""
        step = self._time_axis.tick_step(max(stop - start, 1e-9), start)
        top, bottom = -0.5 - ROW_MARGIN, max(1, len(self._row_defs)) - 0.5 + ROW_MARGIN
        self._grid.set_page(start, stop, step, top, bottom, self._time_axis.tick_offset(step))

    def set_cleaned_is_model_input(self, matches: bool | None) -> None:
        """Say in the legend whether the cleaned trace is the model's input (the display cleaning's settings equal
        the checkpoint's: True), cleaned with other settings (False; Preferences changed the band or line
        frequency) or not known (None)."""
        if matches != self.cleaned_is_model_input:
            self.cleaned_is_model_input = matches
            self.refresh()

    def _draw_legend(self, raw: bool, cleaned: bool) -> None:
        """Which colour is which (raw, cleaned = the model's input), and the display filter when one is on.

        The legend is anchored at the view's right edge; wider than the view (a 1024-px window with raw and
        cleaned and a filter), its left part was cut off: "raw" and both colour keys. The longest text that fits
        is shown: the filter as "display filter on", then short names; the full text is the tooltip."""
        def key(colour: QColor, text: str, alpha: str = "") -> str:
            return f"<span style='color:{colour.name()};{alpha}'>&#9644;</span> {text}"

        what = {True: "cleaned (model input)", False: "cleaned (display settings, not the model's)"}.get(
            self.cleaned_is_model_input, "cleaned")
        pending = " <b>cleaning...</b>" if cleaned and self.cleaning_pending is not None else ""
        what += pending
        keys_long, keys_short = [], []
        if raw:
            alpha = "opacity:0.55;" if cleaned else ""
            keys_long.append(key(self._raw_colour, "raw", alpha))
            keys_short.append(keys_long[-1])
        if cleaned:
            keys_long.append(key(self._cleaned_colour, what))
            keys_short.append(key(self._cleaned_colour, "cleaned" + pending))
        filters = self.legend_filters_text()
        variants = [keys_long + ([f"<i>display filter: {filters}</i>"] if filters else [])]
        if filters:
            variants.append(keys_long + ["<i>display filter on</i>"])
        variants.append(keys_short + (["<i>filtered</i>"] if filters else []))
        htmls = ["<span style='font-size:8pt'>" + " &nbsp; ".join(items) + "</span>" for items in variants]
        room = self._vb.width() - 8
        fit_key = (tuple(htmls), room)
        if fit_key == self._legend_fit:  # setHtml lays the text out again: only when the texts or the room change
            return
        self._legend_fit = fit_key
        for html in dict.fromkeys(htmls):
            if html != self._legend_html:
                self._legend_html = html
                self._legend.setHtml(html)
            if room <= 0 or self._legend.boundingRect().width() <= room:
                break
        full = self._legend.textItem.toPlainText() if self._legend_html == htmls[0] else ""
        self._legend.setToolTip("" if full else QTextDocumentFragment.fromHtml(htmls[0]).toPlainText())
        self._position_overlays()

    def legend_filters_text(self) -> str:
        """The display filters for the legend: those of the modality of the top row in view, and how many other
        modalities are filtered ("EEG 0.5-35 Hz, notch 50 Hz; +6 more"). The whole list would take the label
        strip's width and hide the annotation labels; the status bar and exported pages give it whole."""
        drawn = set(self._row_mods)  # a filter of a modality this recording lacks filters nothing here
        active = {m: f for m, f in self.state.active_filters().items() if m in drawn}
        if not active:
            return ""
        first = self._row_mods[self.state.first_row] if self.state.first_row < len(self._row_mods) else None
        shown = first if first in active else sorted(active, key=lambda m: m.value)[0]
        text = f"{shown.value} {active[shown].describe()}"
        return text + (f"; +{len(active) - 1} more" if len(active) > 1 else "")

    def legend_text(self) -> str:
        """The legend as plain text (for tests)."""
        return self._legend.textItem.toPlainText()

    def _scale_modality(self) -> Modality:
        """The modality the scale bar and the toolbar's sensitivity show: the +/- target, else the top row's."""
        if self.state.scale_target is not None and self.state.scale_target in self._row_mods:
            return self.state.scale_target
        first = self.state.first_row
        if first < len(self._row_mods):
            return self._row_mods[first]
        return Modality.EEG

    def _draw_scale_bar(self) -> None:
        """A vertical bar of a round amplitude in the right gutter, beside the first row in view of the scale
        modality, with its value (the gutter's item draws it: nothing moves at a page step)."""
        if not self._row_defs:
            self._scale_bar.clear_bar()
            self.scale_bar_text = ""
            return
        mod = self._scale_modality()
        row = next((r for r in range(self.state.first_row, len(self._row_mods)) if self._row_mods[r] == mod),
                   self.state.first_row)
        unit, factor = self.row_unit(row)
        scale = self.state.scale(mod) / self.state.gain(self._row_defs[row].name)
        value = nice_value(0.8 * scale * factor)
        if value <= 0:
            self._scale_bar.clear_bar()
            return
        height = value / factor / scale  # rows
        text = format_value(value, unit)
        self.scale_bar_text = text
        self._scale_bar.set_bar(row, row + height / 2, row - height / 2, text)
        self.heart_rate_row.set_right_width(self._scale_bar.width())  # the gutter may have grown

    def _row_scales(self) -> np.ndarray:
        """Amplitude per row spacing of each row; negative where negative values are drawn upwards (I)."""
        state = self.state
        scales = np.array([state.scale(m) / state.gain(d.name) for m, d in zip(self._row_mods, self._row_defs)])
        return -scales if state.negative_up else scales

    def _page_plan(self, kind: str) -> "_PagePlan | None":
        """What every page of ``kind`` ("raw"/"cleaned") is read and drawn with, made once per display state.

        The picks, montage plan, scales and filters depend on the rows, the scales, the display filters and the
        source, not on the page: a page step reuses them (building them took ~0.5 ms per page job, three jobs
        per step). ``None`` when the cleaned signals are not there yet.
        """
        rec = self._rec
        state = self.state
        if kind == "raw":
            result, source = None, rec
        else:
            result = self.model.preprocess_result
            source = getattr(result, "cleaned", None)
            if source is None:
                return None
        key = (kind, self._rows_version, id(source), self._n_bins(), tuple(state.scales.items()),
               tuple(state.gains.items()), state.filters_on, tuple(state.filters.items()), state.clip,
               state.negative_up)
        cached = self._plans.get(kind)
        if cached is not None and cached.key == key:
            return cached
        rows = tuple(self._row_defs)
        as_recorded = all(not d.reference for d in rows)
        derivations = None if as_recorded else plan(rows, rec.ch_names)
        index_of = {name: i for i, name in enumerate(rec.ch_names)}
        picks_rec = [index_of[d.anode] for d in rows] if as_recorded else list(derivations.picks)
        if kind == "raw":
            picks, sfreq, offset = tuple(picks_rec), float(rec.sfreq), 0.0
        else:
            index = {name: i for i, name in enumerate(source.ch_names)}
            picks = tuple(index.get(rec.channels[i].name) for i in picks_rec)
            sfreq, offset = float(source.sfreq), float(getattr(result, "start_s", 0.0))
        active = state.active_filters()
        filters: tuple[DisplayFilter | None, ...] = tuple(active.get(m) for m in self._row_mods)
        scales = self._row_scales()
        page_key = (kind, id(source), self._rows_version, key[3], tuple(scales.tolist()), filters, state.clip)
        made = _PagePlan(key=key, page_key=page_key, source=source, picks=picks, derivations=derivations,
                         sfreq=sfreq, offset=offset, filters=filters,
                         pad=max((f.padding_s() for f in filters if f is not None), default=0.0),
                         scales=scales, clip=CLIP_ROWS if state.clip else None, n_bins=key[3],
                         duration_s=rec.duration_s)
        self._plans[kind] = made
        return made

    def _page_job(self, kind: str, start_s: float, raster: RasterTarget | None = None
                  ) -> tuple[Hashable, Callable[[], PageTraces]] | None:
        """Key and computation of the page of ``kind`` ("raw"/"cleaned") that starts at ``start_s`` (s), drawn
        for ``raster`` too when given.

        The computation captures plain values only (no widget state): it may run in the prefetching thread.
        """
        page_plan = self._page_plan(kind)
        if page_plan is None:
            return None
        stop_s = start_s + self.state.page_s
        return (page_plan.page_key, start_s, stop_s), lambda: page_plan.compute(start_s, stop_s, raster)

    def _prefetch_neighbours(self, draw_raw: bool, draw_clean: bool, *, images: bool = True) -> None:
        """Prepare the next :data:`PREFETCH_AHEAD` pages in the direction of travel, then the one on the other
        side, in the background.

        Two pages ahead, not one: a page asked for at the previous step has had a whole step to be prepared, so
        paging at key-repeat speed finds it ready instead of waiting for it (its preparation ran beside the
        paint of the page before). Each is also drawn into an image where its curve item will paint it
        (:meth:`_PageCurve.raster_target`), so that showing it costs the GUI thread a copy of that image; a page
        prepared for another view (before a resize, a channel scroll) is drawn again from its laid-out path.
        ``images=False`` (steps back to back): no image is drawn (the GUI thread strokes the page's path).
        """
        if not self._row_defs:
            return
        state = self.state
        steps = [state.direction * k for k in range(1, PREFETCH_AHEAD + 1)] + [-state.direction]
        for step in steps:
            start = state.clamp_start(state.start_s + step * state.page_s)
            if start == state.start_s:
                continue
            for kind, traces, wanted in (("raw", self._raw, draw_raw), ("cleaned", self._clean, draw_clean)):
                target = traces.curve.raster_target(start) if wanted and images else None
                job = self._page_job(kind, start, target) if wanted else None
                if job is None:
                    continue
                key, compute = job
                if kind == "cleaned":
                    compute = self._unless_paged_past(start, compute)
                page = self._pages.ready(key)
                if page is not None and target is not None and (
                        page.raster is None or not page.raster.target.fits(target)):
                    self._pages.prefetch(key, lambda page=page, target=target: dataclasses.replace(
                        page, raster=render_raster(page, target)), replace=True)
                else:
                    self._pages.prefetch(key, compute)
        if draw_clean and not self.back_to_back:  # back to back, paging outruns the cleaning anyway (a tile of 12
            # pages takes ~0.15-0.2 s, 12 steps ~0.12 s): the tile ahead would only take CPU from the steps
            self._prefetch_tile(state.clamp_start(state.start_s + state.direction * TILE_AHEAD_PAGES * state.page_s))

    def _on_demand_tiles(self) -> tuple[Any, float, float] | None:
        """(tiles, sfreq, start_s) of cleaned signals cleaned on demand, tile by tile; None for signals held
        whole."""
        result = self.model.preprocess_result
        cleaned = getattr(result, "cleaned", None)
        data = getattr(cleaned, "data", None)
        if not all(hasattr(data, name) for name in ("tile", "has_tile", "starts")):
            return None
        if hasattr(data, "wanted") and data.wanted is None:  # the tiles of pages paged past stop being cleaned
            method = weakref.WeakMethod(self._tile_wanted)
            data.wanted = lambda k: (wanted := method()) is None or wanted(k)
        return data, float(cleaned.sfreq), float(getattr(result, "start_s", 0.0))

    def _tile_wanted(self, k: int) -> bool:
        """Whether on-demand tile ``k`` holds a part of the page shown, of the pages prepared around it or of their
        display filters' padding (called from the threads that clean tiles: plain values only)."""
        tiles = self._on_demand_tiles()
        if tiles is None:
            return True
        data, sfreq, offset = tiles
        page = self.state.page_s
        plan = self._plans.get("cleaned")
        pad = plan.pad if plan is not None else 0.0
        reach = PREFETCH_AHEAD * page + (pad + FILTER_BLOCK_PAGES * page if pad > 0 else 0.0)  # see _PagePlan
        lo = (self.state.start_s - reach - offset) * sfreq
        hi = (self.state.start_s + page + reach - offset) * sfreq
        return bool(data.starts[k] < hi and data.starts[k + 1] > lo)

    def _needs_cleaning(self, start_s: float, stop_s: float) -> bool:
        """True when the cleaned page ``start_s``-``stop_s`` (s) may need a tile that is not cleaned yet (with the
        display filters' padding and block around it: conservative)."""
        tiles = self._on_demand_tiles()
        if tiles is None:
            return False
        data, sfreq, offset = tiles
        plan = self._plans.get("cleaned")
        reach = (plan.pad if plan is not None else 0.0) + FILTER_BLOCK_PAGES * (stop_s - start_s)
        lo = int(np.searchsorted(data.starts, max(0.0, start_s - reach - offset) * sfreq, side="right")) - 1
        hi = int(np.searchsorted(data.starts, max(0.0, stop_s + reach - offset) * sfreq, side="left"))
        return any(not data.has_tile(k) for k in range(max(lo, 0), min(hi, len(data.starts) - 1)))

    def _unless_paged_past(self, start_s: float, compute: Callable[[], PageTraces]) -> Callable[[], PageTraces]:
        """``compute`` of the cleaned page at ``start_s`` (s), prepared ahead, unless the reader has paged past it
        by the time it starts (:class:`_PagedPast`): paging back to back outruns the cleaning, and the tiles of
        pages left behind were cleaned one after the other before the tile of the page the reader stopped at."""
        def guarded() -> PageTraces:
            if abs(start_s - self.state.start_s) > (PREFETCH_AHEAD + 1) * self.state.page_s + 1e-9:
                raise _PagedPast(start_s)
            return compute()

        return guarded

    def _cleaned_page_ready(self, key: Hashable) -> None:
        """A page drawn without its cleaned trace has it now: drawn again if it is still the page shown."""
        if key is not None and key == self.cleaning_pending:
            self.refresh(step=False)

    def _prefetch_tile(self, start_s: float) -> bool:
        """Clean in the background the on-demand tile that holds ``start_s`` (s) when it is not cleaned yet (see
        :data:`TILE_AHEAD_PAGES`); True when that was started. Cleaned signals held whole have no tiles."""
        tiles = self._on_demand_tiles()
        if tiles is None:
            return False
        data, sfreq, offset = tiles
        sample = int(round((start_s - offset) * sfreq))
        k = int(np.searchsorted(data.starts, sample, side="right")) - 1
        if not 0 <= k < len(data.starts) - 1 or data.has_tile(k):
            return False
        return self._pages.warm(("tile", id(data), k), lambda: data.tile(k))

    def _span_sources(self) -> tuple[tuple[Sequence[Annotation], str], ...]:
        interference = getattr(self.model.preprocess_result, "interference", ()) or ()
        return ((self._annotations, "annotation"), (interference, "interference"))

    def page_view(self) -> PageView:
        """Where the page is on screen (for the span layer)."""
        start, stop = self.visible_range()
        first, per_page = self.state.first_row, max(1, self.channels_per_page)
        key = (self._rows_version, first, per_page)
        if self._rows_in_view[0] != key:  # the channel window changed: which rows of each channel are in view
            in_view = {c: [r for r in rows if first <= r < first + per_page] for c, rows in self._rows_of.items()}
            self._rows_in_view = (key, {c: r for c, r in in_view.items() if r})
        rows_of = self._rows_in_view[1]
        row_px = self.state.row_px
        line_px = self.span_layer.line_px()
        strip_px = self._strips[0]
        width = self._vb.width()
        legend = self._legend.boundingRect() if self._legend.isVisible() else QRectF()
        return PageView(start=start, stop=stop, rows_of=rows_of,
                        strip_top=first - 0.5 - ROW_MARGIN - self._strip_rows(),
                        rows_per_px=1.0 / row_px if row_px > 0 else 0.0, width_px=width,
                        label_right_px=max(0.0, width - legend.width() - 8),
                        strip_lines=int((strip_px - 1) // line_px) if line_px > 0 else 0,
                        legend_lines=max(1, math.ceil((legend.height() + 1) / line_px)) if line_px > 0 else 1)

    def _draw_spans(self) -> None:
        """Show the annotations, interference spans and masks that fall on the page."""
        rec = self._rec
        if rec is None or not self._row_defs:
            return
        view = self.page_view()
        start, stop = view.start, view.stop
        self._strip.setRect(QRectF(start, view.strip_top, stop - start, self._strip_rows()))
        self.span_layer.draw(view)
        self._mask_rects.begin()
        masks = self.model.masks
        if masks is not None:
            rows_of = view.rows_of
            top, bottom = -0.5 - ROW_MARGIN, len(self._row_defs) - 0.5 + ROW_MARGIN
            for name in masks.channels:
                for r in rows_of.get(name, ()):
                    self._mask_rects.take().setRect(QRectF(start, r - 0.5, stop - start, 1.0))
            for seg in masks.segments:
                if seg.end_s < start or seg.start_s > stop:
                    continue
                if not seg.channels:
                    self._mask_rects.take().setRect(QRectF(seg.start_s, top, seg.end_s - seg.start_s,
                                                           bottom - top))
                    continue
                for r in sorted({r for c in seg.channels for r in rows_of.get(c, ())}):
                    self._mask_rects.take().setRect(QRectF(seg.start_s, r - 0.5, seg.end_s - seg.start_s, 1.0))
        self._mask_rects.end()

    def shown_labels(self) -> list[tuple[str, float, float]]:
        """(text drawn, time in s, view y) of the annotation labels on the page (for tests)."""
        return [(item.textItem.toPlainText(), item.pos().x(), item.pos().y()) for item in self.span_layer.labels.shown()]

    def shown_mask_rects(self) -> list[QRectF]:
        """Rectangles (view coordinates: s, rows) of the masks drawn on the page (for tests)."""
        return [item.rect() for item in self._mask_rects.shown()]

    def shown_annotation_count(self) -> int:
        """Number of annotation and interference spans drawn on the page (for tests)."""
        return self.span_layer.count()

    @property
    def _labels(self) -> "_Pool":
        """The pooled label items (kept for tests written before the span layer)."""
        return self.span_layer.labels

    # --- adjusting a segment mask ----------------------------------------------------------------------------
    @property
    def edit_region(self) -> pg.LinearRegionItem:
        """The handles of the focused segment mask (hidden when no segment is focused)."""
        return self._edit_region

    def _show_edit_region(self) -> None:
        focus = self.model.mask_focus
        masks = self.model.masks
        if focus is None or focus.segment is None or masks is None or focus.segment >= len(masks.segments):
            self._edit_index = None
            self._edit_region.hide()
            return
        seg = masks.segments[focus.segment]
        self._edit_index = focus.segment
        self._setting_region = True
        try:
            self._edit_region.setRegion((seg.start_s, seg.end_s))
        finally:
            self._setting_region = False
        self._edit_region.show()

    def _on_edit_region_finished(self, _region=None) -> None:
        if self._setting_region or self._edit_index is None:
            return
        lo, hi = self._edit_region.getRegion()
        if not self.model.adjust_segment(self._edit_index, lo, hi):
            self._show_edit_region()  # refused (empty span): put the handles back on the mask

    def _on_right_click(self, x: float, y: float) -> None:
        index = self.model.segment_at(x, self._row_name(y))
        if index is not None:
            self.model.remove_segment(index)

    def _on_mask_drag(self, x0: float, x1: float, *, finished: bool) -> None:
        lo, hi = sorted((x0, x1))
        if not finished:
            self._drag_region.setRegion((lo, hi))
            self._drag_region.show()
            return
        self._drag_region.hide()
        self.model.add_segment(lo, hi, self.model.selection)


def _read_span(data: np.ndarray, t0: float, sfreq: float, start_s: float, stop_s: float) -> tuple[np.ndarray, float]:
    """The samples of ``start_s``-``stop_s`` out of a padded read starting at ``t0`` (same rounding as a plain
    read of the page), and the time of the first one."""
    first = int(round(start_s * sfreq))
    stop = int(round(stop_s * sfreq))
    k0 = first - int(round(t0 * sfreq))
    k0 = max(0, min(k0, data.shape[1]))
    k1 = max(k0, min(k0 + (stop - first), data.shape[1]))
    return data[:, k0:k1], t0 + k0 / sfreq
