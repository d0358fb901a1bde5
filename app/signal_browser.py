"""SignalBrowser: a page of stacked traces, one row per channel, with annotations, interference and masks.

Conventions follow EDFbrowser and MNE's browser:

=====================  ==========================================================================
PageDown / PageUp      next / previous page; the mouse wheel does the same
Right / Left           a quarter page forward / back
Home / End             start / end of the recording
Down / Up              the channel page one channel down / up (Shift+wheel: three channels)
Shift+Down / Shift+Up  the next / previous page of channels
Ctrl+Shift+Down / Up   more / fewer channels per page (steps of :data:`CHANNELS_PER_PAGE`)
``,`` / ``.``          shorter / longer page (also Ctrl+wheel); lengths in :data:`PAGE_LENGTHS`
``+`` / ``-``          larger / smaller amplitude of the modality chosen by :meth:`set_scale_target`
C                      raw -> cleaned -> both overlaid (cleaned in a second colour)
M                      mask mode: a drag across the traces masks a segment (or Shift+drag)
Ctrl+G                 jump to a time
=====================  ==========================================================================

Channel paging (EDFbrowser's "channels per page", MNE's Up/Down): the rows of a page are all the channels the
channel panel does not hide, but only a window of them is in view, ``channels_per_page`` rows from
``first_channel``. By default the window holds every channel that fits at :data:`MIN_ROW_PX` pixels per row at the
current height (all of them when they fit); a number chosen with :meth:`SignalBrowser.set_channels_per_page` or
Ctrl+Shift+Up/Down overrides that. A scroll bar beside the traces shows and moves the window. Moving the window
only changes the view's y range (the page's traces are laid out for every row already), so it reads nothing.

Annotation labels are stacked over up to :data:`LABEL_ROWS` lines by :func:`stack_labels` so that they do not
overlap; a label that finds no room is shortened (or hidden), and the span's tooltip gives the full text.

Clicking a channel label masks (or unmasks) the whole channel; a right click on a masked segment deletes it.
Clicking a masked segment focuses it (the reconstruction view shows it) and gives it handles: dragging its edges
(or its body) adjusts it as one undoable edit when the mouse is released.

Speed: one PlotItem holds every trace at its own vertical offset (one scene, one ViewBox, as MNE's Qt browser
does: cheaper than one PlotItem per channel). All rows of one kind (raw, cleaned) are ONE curve item: the rows are
laid end to end and a ``connect`` array breaks the line at each row end and at gaps (NaN), so a page step is two
``setData`` calls instead of one per channel, and pyqtgraph computes two bounding boxes instead of 80 (the curve
item is told its bounds, which the page layout knows). Pens are set only when the mode or the colours change, and
the trace set not shown is hidden, not cleared. A page reads only its own span (``Recording.get_data``; cleaned
signals are in memory) and is decimated to the plot width with :func:`app.decimate.peak_decimate`.

Pages are prepared (read, decimated, scaled, laid out) by :func:`layout_page` in a one-thread prefetcher
(:class:`_PagePrefetcher`): after each page is drawn, the next page in the direction of travel and the one
before it are prepared in the background, so that a page step usually only hands ready arrays to Qt. The work
is pure numpy on read-only inputs (the recording reads its file with a fresh handle per call; cleaned signals are
not modified), and the results are picked up by the GUI thread; a failed prefetch is simply redone in the GUI
thread, where its error is reported as usual. Spans (annotations, interference, masks) are drawn with pooled
graphics items: only those on the page are shown, and the items are reused. The channel-name axis is cached as
a pixmap (it only changes when the channels, masks or selection change).
"""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QKeyEvent, QPainterPath, QPen, QWheelEvent
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QHBoxLayout, QInputDialog, QScrollBar, QWidget

from mmqnet_core.recording import Annotation, Modality, Recording

from .annotation_layer import AnnotationLayer
from .decimate import peak_decimate
from .model import AppModel
from .qt_compat import single_shot_timer

log = logging.getLogger(__name__)

#: Page lengths offered by ',' / '.' and Ctrl+wheel, s.
PAGE_LENGTHS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
#: One '+' or '-' press multiplies or divides the amplitude by this.
SCALE_STEP = math.sqrt(2.0)
#: Amplitude per row spacing used when a page gives no usable range (flat or empty), in the channel's unit.
FALLBACK_SCALE: dict[Modality, float] = {Modality.EEG: 100e-6, Modality.EOG: 400e-6, Modality.EMG: 200e-6,
                                         Modality.ECG: 2e-3}
MODES = ("raw", "cleaned", "both")
#: Spacings of the vertical grid lines, s (the smallest giving at most ~12 lines per page is used).
GRID_STEPS: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
#: Smallest row spacing, px, at which the automatic channel page still shows a channel more.
MIN_ROW_PX = 22.0
#: Channels per page offered by Ctrl+Shift+Up / Ctrl+Shift+Down (capped at the number of channels shown).
CHANNELS_PER_PAGE: tuple[int, ...] = (1, 2, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128)
#: Channels moved by one notch of Shift+wheel.
WHEEL_CHANNELS = 3
#: Lines over which annotation labels are stacked at the top of the view (fewer when they would fill half of it).
LABEL_ROWS = 3
#: Space kept between two labels on one line, px.
LABEL_GAP_PX = 4.0
#: A label shortened to less than this is hidden instead, px.
LABEL_MIN_PX = 48.0
#: Prepared pages kept (shown and prefetched ones); a page of 40 channels at 1280 px is about 2 MB.
PAGE_CACHE_SIZE = 8

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


class _ChannelAxis(pg.AxisItem):
    """Left axis that shows channel names at the row offsets; masked ones red, selected ones blue.

    Clicking a label emits :attr:`SignalBrowser.channelLabelClicked` through ``on_click``.
    """

    def __init__(self, on_click: Callable[[int], None]) -> None:
        super().__init__("left")
        self._on_click = on_click
        self.masked: set[str] = set()
        self.selected: set[str] = set()
        self.setStyle(tickLength=0)
        self.setWidth(64)
        # The labels change only with the channels, masks or selection (update() redraws the cache then); as a
        # pixmap they cost a blit instead of 40 drawText calls whenever the traces beside them are repainted.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_names(self, names: Sequence[str]) -> None:
        self.setTicks([[(float(i), n) for i, n in enumerate(names)], []])

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs):  # noqa: N802 (pyqtgraph API)
        super().drawPicture(p, axisSpec, tickSpecs, [])
        font = p.font()
        for rect, flags, text in textSpecs:
            if text in self.masked:
                p.setPen(MASKED_LABEL)
                font.setStrikeOut(True)
            elif text in self.selected:
                p.setPen(SELECTED_LABEL)
                font.setStrikeOut(False)
            else:
                p.setPen(self.textPen())
                font.setStrikeOut(False)
            font.setBold(text in self.selected)
            p.setFont(font)
            p.drawText(rect, int(flags), text)

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
    path: QPainterPath  # the polyline of x_flat, y_flat, connect, built where the page is prepared

    @property
    def n_rows(self) -> int:
        return self.y.shape[0]


def layout_page(data: np.ndarray, t0: float, sfreq: float, n_bins: int, scales: np.ndarray) -> PageTraces:
    """Remove each row's page mean, scale, offset and peak-decimate one page of signals.

    Parameters
    ----------
    data : np.ndarray, shape (n_rows, n_times)
        The page's samples in each channel's unit; NaN for missing samples (or a whole missing row).
    t0 : float
        Time of the first sample, s.
    sfreq : float
        Sampling rate of ``data``, Hz.
    n_bins : int
        Number of decimation bins (the plot width in pixels).
    scales : np.ndarray, shape (n_rows,)
        Amplitude per row spacing of each row, in the row's unit.

    Returns
    -------
    PageTraces
        The rows as one polyline with breaks (for a single ``PlotCurveItem`` with a ``connect`` array).
    """
    n_rows = data.shape[0]
    # Per-page mean removal (MNE's remove_dc): slow signals (GSR, temperature) stay centred on their row.
    with warnings.catch_warnings():  # an all-NaN row (channel absent from the cleaned signals) has no mean
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nan_to_num(np.nanmean(data, axis=1, keepdims=True)) if data.shape[1] else 0.0
    # The y axis points down (row 0 on top), hence the minus: positive values are drawn upwards.
    offsets = np.arange(n_rows, dtype=np.float64)[:, None]
    y = offsets - (data - centre) / np.asarray(scales, dtype=np.float64)[:, None]
    times, y = peak_decimate(y, t0, sfreq, n_bins)
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
    path = rows_path(times, y)
    return PageTraces(times=times, y=y, x_flat=x_flat, y_flat=y_flat, connect=connect, x_bounds=x_bounds,
                      y_bounds=(lo, hi), path=path)


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
    poly = pg.functions.create_qpolygonf(n_points)
    xy = pg.functions.ndarray_from_qpolygonf(poly)  # (n_points, 2) view of the polygon's memory
    xy[:, 0] = times
    for row, ok in zip(y, finite):
        if ok.all():
            xy[:, 1] = row
            path.addPolygon(poly)  # copied into the path: the polygon can be refilled
        elif ok.any():
            path.addPath(pg.functions.arrayToQPath(times, row, connect="finite"))
    return path


def auto_channels_per_page(height_px: float, n_channels: int, min_row_px: float = MIN_ROW_PX) -> int:
    """Channels that fit in a plot ``height_px`` tall at ``min_row_px`` or more per row (at least 1, at most all).

    The page shows its rows with 0.2 row of margin above and below (0.4 row in all). A height not known yet
    (0 before the widget is laid out) gives every channel.
    """
    if n_channels <= 0:
        return 0
    if height_px <= 0:
        return n_channels
    return max(1, min(n_channels, int(height_px / min_row_px - 0.4)))


def stack_labels(extents: Sequence[tuple[float, float]], n_lines: int = LABEL_ROWS, *, gap: float = LABEL_GAP_PX,
                 min_width: float = LABEL_MIN_PX, right: float = math.inf) -> list[tuple[int, float] | None]:
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
    min_width : float
        A label shortened to less than this is hidden instead, px (a label narrower than this is shown whole).
    right : float
        Right edge of the plot, px.

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
    for i in sorted(range(len(extents)), key=lambda k: extents[k][0]):
        x, full = extents[i]
        width = min(full, right - x)
        if width < min(full, min_width):
            continue  # cut at the right edge to nothing useful
        line = next((k for k in range(n_lines) if ends[k] + gap <= x), None)
        if line is None:
            # Make room on the line whose last label starts earliest: that label keeps the most of itself.
            line = min(range(n_lines), key=lambda k: extents[last[k]][0])
            j = last[line]
            room = x - gap - extents[j][0]
            if room < min_width:
                continue
            placed[j] = (line, room)
        placed[i] = (line, width)
        ends[line] = x + width
        last[line] = i
    return placed


class _PageCurve(pg.PlotCurveItem):
    """A curve item told its data bounds by the page layout, so that pyqtgraph does not scan the data for them
    after every setData and every view change (it asks for them on each range change)."""

    def __init__(self) -> None:
        super().__init__(skipFiniteCheck=True)
        self._known: tuple[tuple[float, float], tuple[float, float]] | None = None

    def set_page(self, page: PageTraces) -> None:
        self._known = (page.x_bounds, page.y_bounds)
        self.setData(page.x_flat, page.y_flat, connect=page.connect)
        self.path = page.path  # what getPath() would build from these data (pyqtgraph keeps it until setData)

    def dataBounds(self, ax, frac=1.0, orthoRange=None):  # noqa: N802 (pyqtgraph API)
        if self._known is not None and frac == 1.0 and orthoRange is None:
            return self._known[ax]
        return super().dataBounds(ax, frac, orthoRange)


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


class _PagePrefetcher:
    """Prepared pages by key, computed in the GUI thread on demand or ahead of time in one background thread.

    Keys name everything a page depends on (source, span, rows, bins, scales), so an entry is never stale; the
    cache keeps the :data:`PAGE_CACHE_SIZE` most recently used pages.
    """

    def __init__(self, size: int = PAGE_CACHE_SIZE) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, Future] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False  # after shutdown(): pages are computed on demand only, no thread is started
        self.hits = 0  # pages found ready or under way (for tests and the benchmark)
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], PageTraces]) -> PageTraces:
        """The page ``key``: from the cache (waiting for a prefetch under way), else computed here."""
        future = self._pages.get(key)
        if future is not None:
            self._pages.move_to_end(key)
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

    def prefetch(self, key: Hashable, compute: Callable[[], PageTraces]) -> None:
        """Start computing page ``key`` in the background unless it is cached or under way."""
        if key in self._pages or self._closed:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-prefetch")
        self._store(key, self._executor.submit(compute))

    def _store(self, key: Hashable, future: Future) -> None:
        self._pages[key] = future
        self._pages.move_to_end(key)
        while len(self._pages) > self.size:
            _, old = self._pages.popitem(last=False)
            old.cancel()  # not started yet: dropped

    def clear(self) -> None:
        for future in self._pages.values():
            future.cancel()
        self._pages.clear()

    def shutdown(self) -> None:
        """Drop the cache and stop the background thread (waits for a page under way, a few ms) for good."""
        self._closed = True
        self.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


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


class SignalBrowser(QWidget):
    """Stacked traces of the open recording, one page at a time (see the module docstring for the keys)."""

    pageChanged = Signal(float, float)  # start, stop of the page, s
    modeChanged = Signal(str)  # "raw", "cleaned" or "both"
    scaleChanged = Signal()
    maskModeChanged = Signal(bool)
    channelLabelClicked = Signal(str)  # channel name
    channelPageChanged = Signal(int, int, int)  # first row in view, rows in view, rows in all

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._rec: Recording | None = None
        self._annotations: tuple[Annotation, ...] = ()  # the recording's, read once
        self._rows: list[int] = []  # recording channel index shown on each row, top to bottom
        self._first_row = 0  # row at the top of the view (channel paging)
        self._per_page_choice: int | None = None  # channels per page chosen by the user; None = as many as fit
        self._start_s = 0.0
        self._page_s = 10.0
        self._mode = "raw"
        self._scales: dict[Modality, float] = {}  # amplitude per row spacing, in the channel's unit
        self._scale_target: Modality | None = None  # modality changed by +/-; None = all
        self._mask_mode = False
        self._raw_colour = QColor(RAW_COLOUR)
        self._cleaned_colour = QColor(CLEANED_COLOUR)
        self.status = ""  # what the page shows when something is not available (for the status bar)

        self._vb = _BrowserViewBox(self)
        self._axis = _ChannelAxis(self._on_label_click)
        self.plot_widget = pg.PlotWidget(viewBox=self._vb, axisItems={"left": self._axis}, background="w")
        self.plot_widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.plot_widget.setAcceptDrops(False)  # files dropped here go to the main window
        self.plot = self.plot_widget.getPlotItem()
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        # Vertical grid lines are our own item (see _draw_grid): the axis' own grid costs ~3 ms per page step.
        self._grid = pg.PlotCurveItem(pen=pg.mkPen(0, 0, 0, 50, width=1), connect="pairs", skipFiniteCheck=True)
        self._grid.setZValue(-40)
        bottom = self.plot.getAxis("bottom")
        bottom.setLabel("time", units="s")
        for axis in (bottom, self._axis):
            axis.setTextPen(pg.mkPen("#303030"))
            axis.setPen(pg.mkPen("#808080"))
        self._vb.invertY(True)
        self._vb.setDefaultPadding(0.0)
        self._vb.disableAutoRange()  # ranges are set by the browser (page, rows), never from the data
        self._vb.addItem(self._grid, ignoreBounds=True)

        self._raw = _TraceSet(self._vb, z=1)
        self._clean = _TraceSet(self._vb, z=2)
        self._pages = _PagePrefetcher()
        self._direction = 1  # +1 after a step forward, -1 after a step back: the page to prefetch first
        self._annotation_regions = _Pool(self._vb, lambda: self._make_region(ANNOTATION_COLOUR))
        self._interference_regions = _Pool(self._vb, lambda: self._make_region(INTERFERENCE_COLOUR))
        self._row_spans = _Pool(self._vb, lambda: _SpanRect(INTERFERENCE_COLOUR))
        self._labels = _Pool(self._vb, self._make_label)
        self._label_probe = self._make_label()  # measures label texts; never added to the scene
        self._label_sizes: dict[str, tuple[float, float]] = {}
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

        # The channel window: shown only when some channels are out of view; it never takes the keyboard focus.
        self.channel_scroll_bar = QScrollBar(Qt.Orientation.Vertical, self)
        self.channel_scroll_bar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.channel_scroll_bar.setSingleStep(1)
        self.channel_scroll_bar.hide()
        self.channel_scroll_bar.valueChanged.connect(self.set_first_channel)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.channel_scroll_bar)

        # A resize changes the number of pixels, hence the decimation: redraw once the resizing settles. The
        # channel window follows the height at once (it only sets the view's y range).
        self._resize_timer = single_shot_timer(self, 60)
        self._resize_timer.timeout.connect(self.refresh)
        self._vb.sigResized.connect(self._on_view_resized)

        model.recordingLoaded.connect(self._on_recording_loaded)
        model.recordingChanged.connect(self._on_recording_changed)
        model.cleanedReady.connect(self._on_cleaned_ready)
        model.masksChanged.connect(self._on_masks_changed)
        model.visibilityChanged.connect(self._on_visibility_changed)
        model.selectionChanged.connect(self._on_selection_changed)
        model.cursorMoved.connect(self._on_cursor_moved)
        model.maskFocusChanged.connect(lambda _f: self._show_edit_region())
        self.annotation_layer = AnnotationLayer(self)  # the user's annotations (app/annotation_layer.py)

    # --- graphics factories --------------------------------------------------------------------------------
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

    # --- public state --------------------------------------------------------------------------------------
    @property
    def recording(self) -> Recording | None:
        return self._rec

    @property
    def start_s(self) -> float:
        """Start of the page, s."""
        return self._start_s

    @property
    def page_s(self) -> float:
        """Length of the page, s."""
        return self._page_s

    def visible_range(self) -> tuple[float, float]:
        """(start, stop) of the page, s."""
        return self._start_s, self._start_s + self._page_s

    @property
    def mode(self) -> str:
        """What is drawn: "raw", "cleaned" or "both"."""
        return self._mode

    @property
    def mask_mode(self) -> bool:
        """Whether a plain drag masks a segment (else only Shift+drag does)."""
        return self._mask_mode

    @property
    def visible_channels(self) -> list[str]:
        """Names of the channels not hidden, top to bottom: the rows of the page (see :attr:`page_channels`)."""
        if self._rec is None:
            return []
        return [self._rec.channels[i].name for i in self._rows]

    @property
    def first_channel(self) -> int:
        """Row (index in :attr:`visible_channels`) at the top of the view."""
        return self._first_row

    @property
    def channels_per_page(self) -> int:
        """Number of rows in view: the user's choice (capped at the rows there are), else as many as fit."""
        n = len(self._rows)
        if self._per_page_choice is not None:
            return min(self._per_page_choice, n)
        return auto_channels_per_page(self._vb.height(), n)

    @property
    def channels_per_page_choice(self) -> int | None:
        """Channels per page chosen by the user, ``None`` when it follows the height."""
        return self._per_page_choice

    @property
    def page_channels(self) -> list[str]:
        """Names of the channels in view (the channel page), top to bottom."""
        first = self._first_row
        return self.visible_channels[first:first + self.channels_per_page]

    def scale(self, modality: Modality | str) -> float:
        """Amplitude shown per row spacing for ``modality``, in the channel's unit (e.g. V for EEG)."""
        return self._scales.get(Modality.parse(modality), 1.0)

    @property
    def scale_target(self) -> Modality | None:
        return self._scale_target

    def row_of(self, ch_name: str) -> int:
        """Row (0 = top) of a shown channel, in view coordinates."""
        return self.visible_channels.index(ch_name)

    def curves(self, ch_name: str) -> tuple[TraceRow, TraceRow]:
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
        """Stop the page prefetching thread (the window calls this when it closes)."""
        self._pages.shutdown()

    def view_box(self) -> pg.ViewBox:
        return self._vb

    # --- settings ------------------------------------------------------------------------------------------
    def set_colours(self, raw: str | QColor, cleaned: str | QColor) -> None:
        """Colours of raw and cleaned traces."""
        self._raw_colour, self._cleaned_colour = QColor(raw), QColor(cleaned)
        self._apply_pens()

    def set_scale_target(self, modality: Modality | str | None) -> None:
        """Modality whose amplitude '+'/'-' change (``None``: all)."""
        self._scale_target = None if modality is None else Modality.parse(modality)

    def change_scale(self, factor: float, modality: Modality | str | None = None) -> None:
        """Multiply the amplitude shown by ``factor`` (> 1 = larger traces) for one modality or all."""
        targets = [Modality.parse(modality)] if modality is not None else list(self._scales)
        for m in targets:
            if m in self._scales:
                self._scales[m] /= factor
        self.scaleChanged.emit()
        self.refresh()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode != self._mode:
            self._mode = mode
            self.modeChanged.emit(mode)
            self.refresh()

    def cycle_mode(self) -> None:
        """raw -> cleaned -> both -> raw."""
        self.set_mode(MODES[(MODES.index(self._mode) + 1) % len(MODES)])

    def set_mask_mode(self, on: bool) -> None:
        if on != self._mask_mode:
            self._mask_mode = on
            self.maskModeChanged.emit(on)

    # --- channel paging ------------------------------------------------------------------------------------
    def set_channels_per_page(self, n: int | None) -> None:
        """Show ``n`` channels at a time (the top row stays where it is), or as many as fit (``None``)."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
            raise ValueError(f"channels per page must be a whole number >= 1 (or None for automatic), got {n!r}")
        self._per_page_choice = None if n is None else int(n)
        self._apply_channel_window()

    def step_channels_per_page(self, steps: int) -> None:
        """Go ``steps`` entries along :data:`CHANNELS_PER_PAGE` from the current count (negative: fewer)."""
        n_rows = len(self._rows)
        if n_rows == 0 or steps == 0:
            return
        current = self.channels_per_page
        if steps > 0:
            larger = [c for c in CHANNELS_PER_PAGE if c > current]
            i = min(steps, len(larger)) - 1
            n = larger[i] if larger else current
        else:
            smaller = [c for c in CHANNELS_PER_PAGE if c < current][::-1]
            i = min(-steps, len(smaller)) - 1
            n = smaller[i] if smaller else current
        self.set_channels_per_page(max(1, min(n, n_rows)))

    def set_first_channel(self, row: int) -> None:
        """Put row ``row`` (index in :attr:`visible_channels`) at the top of the view, clamped to the rows."""
        self._first_row = int(row)
        self._apply_channel_window()

    def scroll_channels(self, rows: int) -> None:
        """Move the channel window by ``rows`` rows (negative: up)."""
        self.set_first_channel(self._first_row + rows)

    def scroll_channel_pages(self, pages: int) -> None:
        """Move the channel window by ``pages`` windows (negative: up)."""
        self.scroll_channels(pages * max(1, self.channels_per_page))

    def _apply_channel_window(self, *, redraw: bool = True) -> None:
        """Clamp the channel window, show it (the view's y range, the scroll bar) and move the labels with it."""
        n_rows = len(self._rows)
        per_page = max(1, self.channels_per_page)
        first = max(0, min(self._first_row, n_rows - per_page))
        self._first_row = first
        self._vb.setYRange(first - 0.7, first + per_page - 0.3, padding=0)
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
        if redraw:
            self._draw_spans()  # the labels at the top of the view move with it
        self.channelPageChanged.emit(first, min(per_page, n_rows), n_rows)

    def _on_view_resized(self) -> None:
        if self._per_page_choice is None and self._rows:
            self._apply_channel_window(redraw=False)  # the labels are drawn again by the refresh below
        self._resize_timer.start()

    # --- navigation ----------------------------------------------------------------------------------------
    def _clamp_start(self, start_s: float) -> float:
        """``start_s`` moved so that the page lies within the recording, s."""
        duration = self._rec.duration_s if self._rec is not None else 0.0
        return max(0.0, min(float(start_s), max(0.0, duration - self._page_s)))

    def set_start(self, start_s: float) -> None:
        """Show the page that starts at ``start_s`` (clamped to the recording), s."""
        start_s = self._clamp_start(start_s)
        if start_s != self._start_s:
            self._direction = 1 if start_s > self._start_s else -1
            self._start_s = start_s
        self.refresh()

    def scroll_pages(self, pages: float) -> None:
        """Move by ``pages`` pages (negative: back)."""
        self.set_start(self._start_s + pages * self._page_s)

    def center_on(self, t_s: float) -> None:
        """Show the page centred on ``t_s``, s."""
        self.set_start(t_s - self._page_s / 2)

    def jump_to(self, t_s: float) -> None:
        """Show the page that starts at ``t_s`` and put the cursor there."""
        self.set_start(t_s)
        self.model.set_cursor(t_s)

    def set_page_length(self, page_s: float) -> None:
        """Set the page length, s (the page keeps its start)."""
        if not page_s > 0:
            raise ValueError(f"page length must be > 0 s, got {page_s}")
        self._page_s = float(page_s)
        self.set_start(self._start_s)

    def step_page_length(self, steps: int) -> None:
        """Go ``steps`` entries along :data:`PAGE_LENGTHS` (negative: shorter)."""
        lengths = PAGE_LENGTHS
        i = int(np.searchsorted(lengths, self._page_s - 1e-9))
        if steps < 0 and (i >= len(lengths) or lengths[i] > self._page_s + 1e-9):
            i -= 1  # from a length between two entries, '<' goes to the lower one
            steps += 1
        i = min(max(i + steps, 0), len(lengths) - 1)
        self.set_page_length(lengths[i])

    def ask_jump(self) -> None:
        """Ctrl+G: ask for a time and go there."""
        if self._rec is None:
            return
        t, ok = QInputDialog.getDouble(self, "Go to time", "Time (s):", self._start_s, 0.0,
                                       self._rec.duration_s, 2)
        if ok:
            self.jump_to(t)

    # --- events --------------------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        target = self._scale_target
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            step = -1 if key == Qt.Key.Key_Up else 1
            if ctrl and shift:
                self.step_channels_per_page(step)
            elif shift:
                self.scroll_channel_pages(step)
            elif not ctrl:
                self.scroll_channels(step)
            else:
                super().keyPressEvent(event)
                return
        elif key == Qt.Key.Key_PageDown:
            self.scroll_pages(1)
        elif key == Qt.Key.Key_PageUp:
            self.scroll_pages(-1)
        elif key == Qt.Key.Key_Right:
            self.scroll_pages(0.25)
        elif key == Qt.Key.Key_Left:
            self.scroll_pages(-0.25)
        elif key == Qt.Key.Key_Home:
            self.set_start(0.0)
        elif key == Qt.Key.Key_End:
            self.set_start(math.inf)
        elif key in (Qt.Key.Key_Comma, Qt.Key.Key_Less):
            self.step_page_length(-1)
        elif key in (Qt.Key.Key_Period, Qt.Key.Key_Greater):
            self.step_page_length(1)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.change_scale(SCALE_STEP, target)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.change_scale(1 / SCALE_STEP, target)
        elif key == Qt.Key.Key_C and not ctrl:
            self.cycle_mode()
        elif key == Qt.Key.Key_M and not ctrl:
            self.set_mask_mode(not self._mask_mode)
        elif key == Qt.Key.Key_G and ctrl:
            self.ask_jump()
        elif key == Qt.Key.Key_Escape and self._mask_mode:
            self.set_mask_mode(False)
        else:
            super().keyPressEvent(event)
            return
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

    def _row_name(self, y: float) -> str | None:
        """The channel of the row at view ``y``; ``None`` outside the rows in view (the margins, no channel)."""
        row = int(round(y))
        names = self.visible_channels
        first = self._first_row
        return names[row] if first <= row < min(len(names), first + self.channels_per_page) else None

    def _on_label_click(self, row: int) -> None:
        name = self._row_name(row)
        if name is not None:
            self.channelLabelClicked.emit(name)
            self.model.toggle_channel_mask(name)

    def _on_click(self, x: float, y: float) -> None:
        if self._rec is None:
            return
        self.model.set_cursor(min(max(x, 0.0), self._rec.duration_s))
        name = self._row_name(y)
        index = self.model.segment_at(x, name)
        if index is not None:
            self.model.focus_segment(index, name)
        elif name is not None and self.model.masks is not None and name in self.model.masks.channels:
            self.model.focus_channel(name)
        else:
            self.model.set_mask_focus(None)

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

    # --- model updates -------------------------------------------------------------------------------------
    def _on_recording_loaded(self, recording: Recording) -> None:
        self._rec = recording
        self._annotations = recording.annotations  # built from the file's list on each access: keep them
        self._pages.clear()
        self._rows = []
        self._start_s = 0.0
        self._first_row = 0
        self._page_s = min(self._page_s, max(PAGE_LENGTHS[0], recording.duration_s))
        self._scales = {}
        self._rebuild_rows(autoscale=True)

    def _on_recording_changed(self, recording: Recording) -> None:
        self._rec = recording
        self._annotations = recording.annotations
        self._pages.clear()  # same file, other modalities: other scales
        self._rows = []
        self._rebuild_rows(autoscale=True)

    def _on_cleaned_ready(self, _result: Any) -> None:
        self._pages.clear()  # pages are keyed by the id() of their source: a new result may reuse an old id
        self.refresh()

    def _on_visibility_changed(self, _hidden: Any) -> None:
        # set_recording announces the (empty) hidden set right after the recording: nothing to rebuild then.
        if self._rec is not None and self._shown_rows() != self._rows:
            self._rebuild_rows()

    def _on_masks_changed(self, _masks: Any) -> None:
        masked = set(self.model.masks.channels) if self.model.masks is not None else set()
        self._axis.masked = masked
        self._axis.picture = None  # repaint the labels
        self._axis.update()
        self._draw_spans()
        self._show_edit_region()

    def _on_selection_changed(self, names: tuple[str, ...]) -> None:
        self._axis.selected = set(names)
        self._axis.picture = None
        self._axis.update()

    def _on_cursor_moved(self, t_s: float) -> None:
        self._cursor.setValue(t_s)
        self._cursor.show()

    def _shown_rows(self) -> list[int]:
        """Recording channel indices of the channels not hidden, top to bottom."""
        hidden = self.model.hidden
        return [i for i, c in enumerate(self._rec.channels) if c.name not in hidden]

    def _rebuild_rows(self, autoscale: bool = False) -> None:
        """Lay out the rows for the shown channels (when the recording or the channel list changes)."""
        rec = self._rec
        if rec is None:
            return
        old_top = self._rows[self._first_row] if self._first_row < len(self._rows) else None
        self._rows = self._shown_rows()
        if old_top in self._rows:  # hiding or showing channels keeps the top channel in view where it can
            self._first_row = self._rows.index(old_top)
        self._apply_pens()
        self._axis.set_names(self.visible_channels)
        self._apply_channel_window(redraw=False)  # drawn by refresh() below
        missing = {c.modality for c in rec.channels} - set(self._scales)
        if autoscale or missing:
            self._autoscale(missing if not autoscale else None)
        self._on_masks_changed(self.model.masks)
        self.refresh()

    def _apply_pens(self) -> None:
        # In "both" mode the raw trace is drawn lighter so that the cleaned trace on top stays readable.
        raw = QColor(self._raw_colour)
        if self._mode == "both":
            raw.setAlpha(110)
        self._raw.set_pen(raw)
        self._clean.set_pen(self._cleaned_colour)

    def _autoscale(self, modalities: Iterable[Modality] | None = None) -> None:
        """Set each modality's amplitude from the robust peak-to-peak range of its channels on the first page.

        A fixed µV default only suits EEG in volts; other channels come in the file's own units (µS, a.u.), so
        the scale is taken from the data (median over the modality's channels of the 1st-99th percentile range).
        """
        rec = self._rec
        if rec is None:
            return
        wanted = set(modalities) if modalities is not None else {c.modality for c in rec.channels}
        data = rec.get_data(0.0, min(rec.duration_s, max(self._page_s, 10.0)))
        by_mod: dict[Modality, list[float]] = {}
        for row, ch in zip(data, rec.channels):
            if ch.modality not in wanted:
                continue
            finite = row[np.isfinite(row)]
            if finite.size:
                lo, hi = np.percentile(finite, [1, 99])
                by_mod.setdefault(ch.modality, []).append(float(hi - lo))
        for m in wanted:
            ranges = [r for r in by_mod.get(m, []) if r > 0]
            self._scales[m] = float(np.median(ranges)) if ranges else FALLBACK_SCALE.get(m, 1.0)
        self.scaleChanged.emit()

    # --- drawing -------------------------------------------------------------------------------------------
    def _n_bins(self) -> int:
        return max(200, int(self._vb.width()))

    def refresh(self) -> None:
        """Draw the current page."""
        rec = self._rec
        if rec is None:
            return
        start, stop = self.visible_range()
        self._vb.setXRange(start, stop, padding=0)
        self._apply_pens()
        draw_raw = self._mode in ("raw", "both")
        draw_clean = self._mode in ("cleaned", "both")
        cleaned = getattr(self.model.preprocess_result, "cleaned", None)
        self.status = ""
        if draw_clean and cleaned is None:
            draw_raw = True  # nothing else to show yet
            self.status = "cleaned signals not ready: showing raw"
        for traces, kind, wanted in ((self._raw, "raw", draw_raw), (self._clean, "cleaned", draw_clean)):
            job = self._page_job(kind, start) if wanted and self._rows else None
            if job is None:
                traces.hide()
            else:
                traces.show(self._pages.get(*job))
        self._draw_grid(start, stop)
        self._draw_spans()
        self.pageChanged.emit(start, stop)
        self._prefetch_neighbours(draw_raw, draw_clean)

    def _draw_grid(self, start: float, stop: float) -> None:
        """Vertical lines at round times (at most ~12 per page), as one line-pairs item."""
        span = max(stop - start, 1e-9)
        step = next((s for s in GRID_STEPS if span / s <= 12), GRID_STEPS[-1])
        ticks = np.arange(math.ceil(start / step), math.floor(stop / step) + 1) * step
        top, bottom = -0.7, max(1, len(self._rows)) - 0.3
        self._grid.setData(np.repeat(ticks, 2), np.tile([top, bottom], ticks.size), connect="pairs")

    def _page_job(self, kind: str, start_s: float) -> tuple[Hashable, Callable[[], PageTraces]] | None:
        """Key and computation of the page of ``kind`` ("raw"/"cleaned") that starts at ``start_s`` (s).

        The computation captures plain values only (no widget state): it may run in the prefetching thread.
        """
        rec = self._rec
        stop_s = start_s + self._page_s
        n_bins = self._n_bins()
        scales = np.array([self._scales.get(rec.channels[i].modality, 1.0) for i in self._rows])
        if kind == "raw":
            source, picks, sfreq, offset = rec, tuple(self._rows), rec.sfreq, 0.0
        else:
            result = self.model.preprocess_result
            source = getattr(result, "cleaned", None)
            if source is None:
                return None
            index = {name: i for i, name in enumerate(source.ch_names)}
            picks = tuple(index.get(rec.channels[i].name) for i in self._rows)
            sfreq, offset = float(source.sfreq), float(getattr(result, "start_s", 0.0))
        key = (kind, id(source), start_s, stop_s, picks, n_bins, tuple(scales))

        def compute() -> PageTraces:
            data, t0 = _read_page(source, picks, start_s, stop_s, offset)
            return layout_page(data, t0, sfreq, n_bins, scales)

        return key, compute

    def _prefetch_neighbours(self, draw_raw: bool, draw_clean: bool) -> None:
        """Prepare the next page in the direction of travel, then the one on the other side, in the background."""
        if not self._rows:
            return
        for step in (self._direction, -self._direction):
            start = self._clamp_start(self._start_s + step * self._page_s)
            if start == self._start_s:
                continue
            for kind, wanted in (("raw", draw_raw), ("cleaned", draw_clean)):
                job = self._page_job(kind, start) if wanted else None
                if job is not None:
                    self._pages.prefetch(*job)

    def _draw_spans(self) -> None:
        """Show the annotations, interference spans and masks that fall on the page."""
        rec = self._rec
        if rec is None:
            return
        start, stop = self.visible_range()
        names = self.visible_channels
        first, per_page = self._first_row, max(1, self.channels_per_page)
        # Rows out of view get no span items (moving the channel window draws the spans again).
        row = {n: i for i, n in enumerate(names) if first <= i < first + per_page}
        top, bottom = -0.7, len(names) - 0.3
        labels: list[tuple[float, str]] = []  # (time, text) of the labels to lay out at the top of the view
        for pool in (self._annotation_regions, self._interference_regions, self._row_spans, self._labels,
                     self._mask_rects):
            pool.begin()

        def on_page(onset: float, end: float) -> bool:
            return end >= start and onset <= stop

        interference = getattr(self.model.preprocess_result, "interference", ()) or ()
        for spans, regions, kind in ((self._annotations, self._annotation_regions, "annotation"),
                                     (interference, self._interference_regions, "interference")):
            for ann in spans:
                if not on_page(ann.onset, ann.end):
                    continue
                rows = [row[c] for c in ann.ch_names if c in row]
                if ann.ch_names and not rows:
                    continue  # only on hidden channels or on channels out of view
                text = ann.description
                if rows:
                    brush = QBrush(ANNOTATION_COLOUR if kind == "annotation" else INTERFERENCE_COLOUR)
                    for r in rows:
                        item = self._row_spans.take()
                        item.setBrush(brush)
                        item.setRect(QRectF(ann.onset, r - 0.5, max(ann.duration, 1e-3), 1.0))
                        item.setToolTip(text)
                else:
                    region = regions.take()
                    region.setRegion((ann.onset, ann.end))
                    region.setToolTip(text)
                labels.append((max(ann.onset, start), text))
        self._place_labels(labels, start, stop)

        masks = self.model.masks
        if masks is not None:
            for name in masks.channels:
                if name in row:
                    self._mask_rects.take().setRect(QRectF(start, row[name] - 0.5, stop - start, 1.0))
            for seg in masks.segments:
                if not on_page(seg.start_s, seg.end_s):
                    continue
                if not seg.channels:
                    self._mask_rects.take().setRect(QRectF(seg.start_s, top, seg.end_s - seg.start_s,
                                                           bottom - top))
                    continue
                for c in seg.channels:
                    if c in row:
                        self._mask_rects.take().setRect(
                            QRectF(seg.start_s, row[c] - 0.5, seg.end_s - seg.start_s, 1.0))
        for pool in (self._annotation_regions, self._interference_regions, self._row_spans, self._labels,
                     self._mask_rects):
            pool.end()

    def _label_size(self, text: str) -> tuple[float, float]:
        """(width, height) in px of a label showing ``text`` whole (cached: the font never changes)."""
        size = self._label_sizes.get(text)
        if size is None:
            self._label_probe.setText(text)
            rect = self._label_probe.textItem.boundingRect()
            size = self._label_sizes[text] = (rect.width(), rect.height())
            if len(self._label_sizes) > 4096:  # many distinct descriptions: start again rather than grow
                self._label_sizes.clear()
        return size

    def _place_labels(self, labels: Sequence[tuple[float, str]], start: float, stop: float) -> None:
        """Lay out the labels ((time in s, text)) at the top of the view over up to :data:`LABEL_ROWS` lines."""
        width_px, height_px = self._vb.width(), self._vb.height()
        if not labels or width_px <= 0 or height_px <= 0:
            return
        px_per_s = width_px / max(stop - start, 1e-9)
        rows_per_px = (max(1, self.channels_per_page) + 0.4) / height_px  # view y units per pixel
        sizes = [self._label_size(text) for _, text in labels]
        line_px = max(h for _, h in sizes)
        n_lines = max(1, min(LABEL_ROWS, int(height_px // (2 * line_px))))  # never more than half the view
        extents = [((t - start) * px_per_s, w) for (t, _), (w, _) in zip(labels, sizes)]
        top = self._first_row - 0.7
        for (t, text), (full, _), place in zip(labels, sizes, stack_labels(extents, n_lines, right=width_px)):
            if place is None:
                continue  # no room: the span's tooltip still names it
            line, width = place
            label = self._labels.take()
            shown = text
            if width < full - 0.5:
                metrics = QFontMetricsF(label.textItem.font())
                margin = full - metrics.horizontalAdvance(text)
                shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(width - margin, 0.0))
            if label.textItem.toPlainText() != shown:
                label.setText(shown)
            label.setToolTip(text)
            label.setPos(QPointF(t, top + line * line_px * rows_per_px))

    def shown_labels(self) -> list[tuple[str, float, float]]:
        """(text drawn, time in s, view y) of the annotation labels on the page (for tests)."""
        return [(item.textItem.toPlainText(), item.pos().x(), item.pos().y()) for item in self._labels.shown()]

    def shown_mask_rects(self) -> list[QRectF]:
        """Rectangles (view coordinates: s, rows) of the masks drawn on the page (for tests)."""
        return [item.rect() for item in self._mask_rects.shown()]

    def shown_annotation_count(self) -> int:
        """Number of annotation and interference spans drawn on the page (for tests)."""
        return self._annotation_regions.used + self._interference_regions.used + self._row_spans.used
