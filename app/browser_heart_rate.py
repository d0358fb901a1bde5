"""HeartRateRow: the signal browser's heart-rate row -- beats per minute from an ECG or PPG channel, under the traces.

The rate is computed in the core (:func:`mmqnet_core.features.heart_rate.recording_heart_rate`: the feature
extractor's own beat detector, one point every 0.25 s) once per recording and channel, in a background thread
(about 0.3 s for an hour at 256 Hz), and drawn in its own small plot below the traces: time-linked to the
browser's page (the same time range, a bpm axis as wide as the channel names), a left axis in bpm with the unit in its label, the channel named in the row's caption. Where no
rhythm was found the trace has a gap. The row is shown with H or *View > Heart-rate row*; a recording without
ECG or PPG says so in the status bar instead.

Only the points of the page are handed to the curve on a page step (a few dozen), and the y range follows the
page's rates (at least :data:`MIN_SPAN_BPM` tall) so that a change of rhythm is readable.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout

if TYPE_CHECKING:  # pragma: no cover
    from mmqnet_core.features.heart_rate import HeartRateTrace
    from mmqnet_core.recording import Recording

log = logging.getLogger(__name__)

#: Height of the row, px.
ROW_HEIGHT_PX = 96
#: Least width of the bpm axis (label and tick values), px; the channel-name gutter widens to it when narrower.
MIN_AXIS_PX = 60
#: Least span of the bpm axis, bpm (a steady rate would otherwise fill the row with noise).
MIN_SPAN_BPM = 20.0
#: Poll interval while the rate is being computed, ms.
POLL_MS = 40
HR_COLOUR = "#b71c1c"


class HeartRateRow(QObject):
    """The heart-rate row of a browser: a plot widget (``widget``, made when first shown, at the bottom of the
    browser's ``column`` layout) showing the page the browser gives it.

    The time range is set by the browser on each page (:meth:`set_page`), not by pyqtgraph's view linking, which
    maps ranges through the two views' screen positions and drifts while the row is being laid out."""

    #: Emitted with a status text when the row cannot be shown ("no ECG or PPG channel ...") or is computed.
    statusChanged = Signal(str)
    #: Emitted when a trace is ready (or cleared).
    traceChanged = Signal()

    def __init__(self, report_error: Callable[[BaseException, str], None], column: QVBoxLayout,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._report_error = report_error
        self._column = column  # the browser's layout the row's plot joins (at the bottom) when first shown
        # The plot is made when the row is first shown: a PlotWidget costs ~40 ms, too much for the window's
        # start-up for a row most readings never show.
        self.widget: pg.PlotWidget | None = None
        self.plot: pg.PlotItem | None = None
        self.curve: pg.PlotCurveItem | None = None
        self.caption: pg.TextItem | None = None
        self._left_width = 0.0
        self._right_width = 0.0
        self.trace: HeartRateTrace | None = None
        self._key: tuple | None = None  # (id(recording), channel) the trace or the computation is for
        self._future: Future | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._check_future)
        self._span = (0.0, 0.0)

    def _build(self) -> None:
        """Make the row's plot and put it under the traces."""
        self.widget = pg.PlotWidget(background="w")
        self.widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.widget.setFixedHeight(ROW_HEIGHT_PX)
        self.plot = self.widget.getPlotItem()
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.getViewBox().setDefaultPadding(0.0)
        self.plot.showGrid(x=False, y=True, alpha=0.25)
        self.plot.getAxis("bottom").setStyle(showValues=False)
        self.plot.getAxis("bottom").setHeight(4)
        left = self.plot.getAxis("left")
        left.setLabel("HR", units="bpm")
        left.enableAutoSIPrefix(False)
        left.setStyle(autoExpandTextSpace=False, tickTextWidth=24)  # the width is the gutter's (set_left_width)
        if self._left_width:
            left.setWidth(int(self._left_width))
        right = self.plot.getAxis("right")  # an empty gutter as wide as the traces' (their scale bar's)
        right.setStyle(showValues=False, tickLength=0)
        right.setPen(pg.mkPen(None))
        if self._right_width:
            self.plot.showAxis("right")
            right.setWidth(int(self._right_width))
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(pg.mkPen("#303030"))
            self.plot.getAxis(axis).setPen(pg.mkPen("#808080"))
        self.curve = pg.PlotCurveItem(pen=pg.mkPen(HR_COLOUR, width=1.5), connect="finite", skipFiniteCheck=True)
        self.plot.addItem(self.curve)
        self.caption = pg.TextItem(color="#202020", anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 200))
        self.caption.setParentItem(self.plot.getViewBox())
        self.caption.setPos(4, 1)
        self._column.addWidget(self.widget)

    def _set_caption(self, text: str) -> None:
        if self.caption is not None:
            self.caption.setText(text)

    # --- state ----------------------------------------------------------------------------------------------
    @property
    def shown(self) -> bool:
        return self.widget is not None and not self.widget.isHidden()

    @property
    def busy(self) -> bool:
        """Whether the rate is being computed."""
        return self._future is not None

    def caption_text(self) -> str:
        return self.caption.textItem.toPlainText() if self.caption is not None else ""

    def set_left_width(self, width: float) -> None:
        """Make the bpm axis as wide as the traces' channel-name gutter, so that the time axes line up (the
        browser makes the gutter at least :data:`MIN_AXIS_PX` wide while the row is shown)."""
        self._left_width = float(width)
        if self.plot is not None:
            self.plot.getAxis("left").setWidth(int(width))

    def set_right_width(self, width: float) -> None:
        """Keep an empty gutter at the right as wide as the traces' (where their scale bar is), so that the row's
        time range ends where the traces' does."""
        if float(width) == self._right_width:
            return
        self._right_width = float(width)
        if self.plot is not None:
            self.plot.showAxis("right", bool(width))
            self.plot.getAxis("right").setWidth(int(width))

    # --- showing --------------------------------------------------------------------------------------------
    def show_for(self, recording: Recording | None) -> bool:
        """Show the row for ``recording`` (computing its rate if needed); ``False`` (row hidden, status said why)
        when it has no ECG or PPG channel."""
        from mmqnet_core.features.heart_rate import heart_rate_channel

        channel = heart_rate_channel(recording.channels) if recording is not None else None
        if channel is None:
            self.hide()
            self.statusChanged.emit("no ECG or PPG channel in this recording: no heart rate to show")
            return False
        if self.widget is None:
            self._build()
        self.widget.show()
        key = (id(recording), channel.name)
        if key != self._key:
            self._start(recording, channel.name, key)
        return True

    def hide(self) -> None:
        if self.widget is not None:
            self.widget.hide()

    def clear(self) -> None:
        """Forget the trace (a new recording); a computation under way is dropped when it ends."""
        self._key = None
        self.trace = None
        self._future = None
        self._poll.stop()
        if self.curve is not None:
            self.curve.setData([], [])
        self._set_caption("")
        self.traceChanged.emit()

    def _start(self, recording: Recording, channel: str, key: tuple) -> None:
        from mmqnet_core.features.heart_rate import recording_heart_rate

        self.clear()
        self._key = key
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heart-rate")
        self._future = self._executor.submit(recording_heart_rate, recording, channel)
        self._future.key = key  # type: ignore[attr-defined]
        self._set_caption(f"heart rate from {channel}: computing...")
        self.statusChanged.emit(f"computing the heart rate from {channel}...")
        self._poll.start()

    def _check_future(self) -> None:
        future = self._future
        if future is None:
            self._poll.stop()
            return
        if not future.done():
            return
        self._poll.stop()
        self._future = None
        if getattr(future, "key", None) != self._key:
            return  # a recording closed since
        try:
            trace = future.result()
        except Exception as exc:  # noqa: BLE001 - one error path: the window's error dialog
            self._set_caption("heart rate: failed")
            self._report_error(exc, "computing the heart rate")
            return
        self.trace = trace
        if trace is None or not trace.found:
            self._set_caption(f"heart rate from {self._key[1]}: no beats found")
            self.statusChanged.emit(f"no heart beats found in {self._key[1]}")
        else:
            lo, hi = trace.range_bpm()
            self._set_caption(f"heart rate (bpm) from {trace.modality.value} {trace.channel}")
            self.statusChanged.emit(f"heart rate from {trace.channel}: {lo:.0f}-{hi:.0f} bpm")
        self.set_page(*self._span)
        self.traceChanged.emit()

    def wait(self, timeout_s: float = 30.0) -> None:
        """Block until a computation under way has ended and is drawn (for tests and exports)."""
        if self._future is not None:
            try:
                self._future.result(timeout=timeout_s)
            except Exception:  # noqa: BLE001 - reported by _check_future
                pass
            self._check_future()

    def shutdown(self) -> None:
        self._poll.stop()
        self._future = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    # --- drawing --------------------------------------------------------------------------------------------
    def set_page(self, start_s: float, stop_s: float) -> None:
        """Draw the points of the page ``start_s``-``stop_s`` (s) and fit the bpm axis to them."""
        self._span = (start_s, stop_s)
        if self.shown:
            self.plot.setXRange(start_s, stop_s, padding=0)
        trace = self.trace
        if trace is None or not self.shown or trace.times_s.size == 0:
            return
        i0 = max(0, int(np.searchsorted(trace.times_s, start_s)) - 1)
        i1 = min(trace.times_s.size, int(np.searchsorted(trace.times_s, stop_s)) + 1)
        t, bpm = trace.times_s[i0:i1], trace.bpm[i0:i1]
        self.curve.setData(t, bpm)
        finite = bpm[np.isfinite(bpm)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
        else:
            lo, hi = trace.range_bpm()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = 60.0, 80.0
        mid, half = (lo + hi) / 2, max(hi - lo, MIN_SPAN_BPM) / 2 * 1.15
        self.plot.setYRange(mid - half, mid + half, padding=0)

    def page_values(self) -> tuple[np.ndarray, np.ndarray]:
        """(times s, bpm) drawn on the page (for tests)."""
        if self.curve is None:
            return np.zeros(0), np.zeros(0)
        x, y = self.curve.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (x, y)
