"""TrajectoryView: probability of high valence and high arousal over time, with the prediction's entropy.

One thick curve per target at the window centres: ``p``, the probability of the high class, on the upper plot
(left axis "P(high)"). Below it, in its own smaller plot row on the same time axis (x-linked, left axes of equal
width so the two line up), a dashed curve of the same colour: the analysis' uncertainty ``u``, the binary entropy
of ``p`` in bits (0 = certain, 1 = chance), axis "entropy (bits)". The legend names both ("valence P(high)",
"valence entropy (bits, lower plot)"). Sharing one 0-1 axis made the two unreadable wherever they crossed.
The legend has a row of its own above the plots (in a short dock a legend inside the plot covered the P(high)
curves), with as many entries side by side as the width allows.

A band around ``p`` only when the analysis measured a spread: with Monte-Carlo samples (Preferences >
Uncertainty samples; ``result.probability_std`` not None) ``p`` is the mean over the samples and a light band of
the same colour spans ``p - std`` to ``p + std`` (legend: "valence ± std (MC, N samples)"). Without them there is
no band: ``u`` is a function of ``p`` alone (``H(p)``), not a spread estimated from the data, so no interval around
``p`` follows from it (a band such as ``p ± u / 2``, the former drawing, looked like a confidence interval, and
covered most of the plot wherever ``p`` was near 0.5). Windows in which the user masked every
channel of the recording are shaded red over the full height; a red strip along the bottom shows the share of
the recording's channels masked in each window. Spans with detected interference are shaded orange, windows
whose context had no visible token grey. A green line is the app's
time cursor; a left click moves the cursor and the browser there.

A spectrogram track of one channel (the "Spectrogram track" box above the plots; off by default, then the
channel last chosen, stored in the settings, when the recording has it) adds a third
row on the same time axis: power in dB up to 45 Hz over the whole recording, computed in the core
(:func:`mmqnet_core.features.spectrogram_track.spectrogram_track`, chunked, at most 4000 columns) in a
background thread on first choice; scipy loads then, never before the first paint. Exports name the channel.

A model trained with ``regression`` also predicts the 1-9 score of each target (``result.scores``): a dotted
curve per target on a right-hand axis labelled 1-9, placed so that score 5 (the high/low threshold) sits on
the P = 0.5 line (``(score - 1) / 8`` on the left axis). Without scores that axis and the curves are hidden.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetricsF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .analysis import runs
from .analysis_banner import AnalysisBanner
from .model import AppModel
from .plot_helpers import (
    add_plot,
    new_plot_item,
    view_combo,
    CURSOR_PEN,
    CursorKeys,
    INTERFERENCE_SPAN,
    MASKED_SPAN,
    NO_CONTEXT_SPAN,
    SpanPool,
    TARGET_COLOURS,
    empty_time_range,
    RowLegend,
    on_left_click,
    with_alpha,
    style_plot,
    use_time_axis,
)
from .preferences import make_settings

#: Settings key of the spectrogram track's channel last chosen: a recording that has it opens with its track.
SPECTROGRAM_CHANNEL_KEY = "trajectory/spectrogram_channel"
#: Interference score (0-1) from which a window is shaded as disturbed.
INTERFERENCE_THRESHOLD = 0.5
#: Height (in probability units) of the masked-share strip when every channel is masked.
STRIP_HEIGHT = 0.12
MASKED_STRIP = (200, 30, 30, 150)
#: Title and ticks of the entropy row's axis (shortened in a short row: :meth:`TrajectoryView._fit_entropy_axis`).
ENTROPY_LABEL = "entropy (bits)"
ENTROPY_TICKS = [(0.0, "0"), (0.5, "0.5"), (1.0, "1")]
#: Share of the plot height given to the entropy row (with the time axis under it), and its least height (px)
#: where the dock leaves the probability row as much (in a short dock the two rows share the height).
ENTROPY_ROW_SHARE = 0.35
ENTROPY_ROW_MIN_PX = 70
#: The legend's rows take at most this share of the plots' height (further entries behind "+N more"), and
#: the height of one row of entries, px.
LEGEND_MAX_SHARE = 0.25
LEGEND_ROW_PX = 20
#: Width (px) of the left axes of both rows, so that their time axes line up.
LEFT_AXIS_WIDTH = 52
#: Share of the plot height given to the spectrogram row when it is shown.
SPECTROGRAM_ROW_SHARE = 0.3
#: Tooltip of the P(high) axis (also the circumplex's axes).
P_HIGH_TIP = ("P(high): the model's probability that the window's valence / arousal is high (a self-rating of 5 or "
              "more on the 1-9 scale the model was trained on); 0.5, the dashed line, is undecided. A probability, "
              "not an intensity.")
#: Text of the spectrogram box's first entry (no track).
SPECTROGRAM_OFF = "off"


class _BandSample(pg.ItemSample):
    """Legend swatch of a band: a rectangle filled with the band's brush, only outlined while the band is hidden
    (a click on the swatch toggles it, as for the curves). pyqtgraph's own sample reads a curve's pen options,
    which a FillBetweenItem does not have."""

    def paint(self, p, *args) -> None:
        brush = self.item.brush()
        if self.item.isVisible():
            p.setPen(pg.mkPen(None))
            p.setBrush(brush)
        else:
            p.setPen(pg.mkPen(brush.color().darker(150)))
            p.setBrush(pg.mkBrush(None))
        p.drawRect(QRectF(0, 5, 20, 12))



class _SpanSample(pg.ItemSample):
    """Legend swatch of shaded spans or the masked-share strip: a rectangle of their colour (not clickable: the
    spans are not a curve to hide)."""

    def __init__(self, colour) -> None:
        super().__init__(pg.PlotDataItem())
        self.colour = pg.mkColor(colour)

    def paint(self, p, *args) -> None:
        colour = QColor(self.colour)
        colour.setAlpha(max(colour.alpha(), 90))  # the spans' light fill is too faint on an 20x12 swatch
        p.setPen(pg.mkPen(colour.darker(130)))
        p.setBrush(pg.mkBrush(colour))
        p.drawRect(QRectF(0, 5, 20, 12))

    def mouseClickEvent(self, event) -> None:  # noqa: N802 (pyqtgraph API)
        event.ignore()


#: Legend text of the shadings and the strip, shown only when the analysis has them.
SPAN_LEGEND = {
    "masked": "every channel masked (red)",
    "share": "share of channels masked (red strip at the bottom, 0.12 high = all)",
    "interference": "interference detected (orange)",
    "no_context": "no visible data: no prediction (grey)",
}


#: Room (px) above 1 and below 0 of the P(high) and entropy rows for the labels of those ticks.
END_LABEL_PX = 9


def _pad_unit_range(plot: pg.PlotItem) -> None:
    """Show 0-1 on ``plot`` with :data:`END_LABEL_PX` pixels above and below, whatever its height."""
    h = plot.getViewBox().height()
    if h <= 3 * END_LABEL_PX:
        return
    plot.setYRange(0.0, 1.0, padding=END_LABEL_PX / (h - 2 * END_LABEL_PX))


def _remember_spectrogram_channel(channel: str) -> None:
    """Store the spectrogram track channel the user chose ("off" included) for the next recordings."""
    make_settings().setValue(SPECTROGRAM_CHANNEL_KEY, "" if channel == SPECTROGRAM_OFF else channel)

class TrajectoryView(QWidget):
    """Valence/arousal probability over time; ``jumpRequested(t)`` asks the browser to show time ``t`` (s)."""

    jumpRequested = Signal(float)

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.banner = AnalysisBanner(model, self)
        self.plot_widget = pg.GraphicsLayoutWidget()
        self.plot_widget.setBackground("w")
        # Row 0: the legend (its own row: over the plot it covered the curves in a short dock); then the plots.
        self.legend = RowLegend(labelTextColor="#202020")
        self.plot_widget.ci.addItem(self.legend, row=0, col=0)
        self.plot_widget.ci.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignLeft)
        self.plot_widget.ci.layout.setRowSpacing(0, 0)
        self.plot_widget.ci.layout.setContentsMargins(9, 2, 9, 6)  # (9 on every side by default)
        self.plot = add_plot(self.plot_widget.ci, row=1, col=0)  # PlotItems made ahead (see prepare_plot_item)
        self.entropy_plot = add_plot(self.plot_widget.ci, row=2, col=0)
        self.plot.legend = self.legend  # where the PlotItem puts the entries of the curves it makes with a name
        for plot in (self.plot, self.entropy_plot):
            style_plot(plot)
            # Room above 1 and below 0 for the labels of those ticks (pyqtgraph drops a label that would
            # stick out of the plot), in pixels: a fixed share lost "0" and "1" in a short dock (the entropy row
            # read "0.5" alone).
            plot.setYRange(0.0, 1.0, padding=0.05 if plot is self.plot else 0.12)
            plot.getViewBox().sigResized.connect(lambda _v, p=plot: _pad_unit_range(p))
            plot.getViewBox().setMouseEnabled(x=True, y=False)
            plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.entropy_plot.setXLink(self.plot)
        use_time_axis(self.plot, label=False)  # h:mm:ss ticks (the grid) on every row: never "ks"
        use_time_axis(self.entropy_plot)
        self.plot.getAxis("bottom").setStyle(showValues=False)  # the time labels are under the entropy row
        self.plot.setLabel("left", "P(high)")
        self.plot.getAxis("left").setToolTip(P_HIGH_TIP)  # what "P(high)" means, for a reader new to it
        self.entropy_plot.setLabel("left", ENTROPY_LABEL)
        self.entropy_plot.getAxis("left").setTicks([ENTROPY_TICKS])
        self.plot.addItem(pg.InfiniteLine(0.5, angle=0, pen=pg.mkPen("#9e9e9e", style=Qt.PenStyle.DashLine)))
        self.masked_spans = SpanPool(self.plot, MASKED_SPAN, z=-12)
        self.interference_spans = SpanPool(self.plot, INTERFERENCE_SPAN, z=-11)
        self.no_context_spans = SpanPool(self.plot, NO_CONTEXT_SPAN, z=-13)
        self.masked_share = pg.PlotDataItem(stepMode="center", fillLevel=0.0, pen=pg.mkPen(None),
                                            brush=pg.mkBrush(MASKED_STRIP))
        self.masked_share.setZValue(-5)
        self.plot.addItem(self.masked_share)
        # the shadings and the strip had no legend entry: a red bar along the bottom of the P(high) axis read as
        # a probability
        self.span_colours = {"masked": MASKED_SPAN, "share": MASKED_STRIP, "interference": INTERFERENCE_SPAN,
                             "no_context": NO_CONTEXT_SPAN}
        self.curves: dict[str, pg.PlotDataItem] = {}  # P(high) per target
        self.entropy_curves: dict[str, pg.PlotDataItem] = {}  # binary entropy of P(high) per target, bits
        self.band_edges: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}  # (P - std, P + std) per target
        self.bands: dict[str, pg.FillBetweenItem] = {}  # the fill between the band edges (MC results only)
        self._band_in_legend: set[str] = set()
        self.score_curves: dict[str, pg.PlotDataItem] = {}  # predicted 1-9 score, drawn as (score - 1) / 8
        right = self.plot.getAxis("right")
        right.setTicks([[((v - 1) / 8, f"{v}") for v in (1, 3, 5, 7, 9)]])
        right.setLabel("predicted score (1-9)")
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=CURSOR_PEN)
        self.entropy_cursor = pg.InfiniteLine(angle=90, movable=False, pen=CURSOR_PEN)
        for plot, line in ((self.plot, self.cursor), (self.entropy_plot, self.entropy_cursor)):
            line.setZValue(30)
            plot.addItem(line, ignoreBounds=True)
        self.cursor.sigPositionChanged.connect(lambda line: self.entropy_cursor.setValue(line.value()))
        # Spans the reader needs to read the entropy too: no visible context (gaps) and fully masked windows.
        self.entropy_masked_spans = SpanPool(self.entropy_plot, MASKED_SPAN, z=-12)
        self.entropy_no_context_spans = SpanPool(self.entropy_plot, NO_CONTEXT_SPAN, z=-13)
        # The spectrogram track: a third row on the same time axis, made when a channel is chosen.
        self.spectrogram_box = view_combo(self)
        self.spectrogram_box.setToolTip("Spectrogram of one channel over the whole recording, under the "
                                        "trajectory on the same time axis")
        self.spectrogram_box.addItem(SPECTROGRAM_OFF)
        self.spectrogram_box.currentTextChanged.connect(self.set_spectrogram_channel)
        self.spectrogram_box.textActivated.connect(_remember_spectrogram_channel)  # the user's choice only
        self.spectrogram_label = QLabel(self)
        self.spectrogram_plot = new_plot_item()
        style_plot(self.spectrogram_plot)
        self.spectrogram_plot.showGrid(x=True, y=False)
        self.spectrogram_plot.getViewBox().setMouseEnabled(x=True, y=False)
        self.spectrogram_plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.spectrogram_plot.setLabel("left", "Hz")
        use_time_axis(self.spectrogram_plot)
        self.spectrogram_plot.setXLink(self.plot)
        self.spectrogram_image = pg.ImageItem()
        self.spectrogram_image.setZValue(-20)
        self.spectrogram_plot.addItem(self.spectrogram_image)
        self.spectrogram_cursor = pg.InfiniteLine(angle=90, movable=False, pen=CURSOR_PEN)
        self.spectrogram_cursor.setZValue(30)
        self.spectrogram_plot.addItem(self.spectrogram_cursor, ignoreBounds=True)
        self.cursor.sigPositionChanged.connect(lambda line: self.spectrogram_cursor.setValue(line.value()))
        self.spectrogram_track: Any = None  # the SpectrogramTrack drawn (None: no track)
        self._spectrogram_future: Future | None = None
        self._spectrogram_poll = QTimer(self)
        self._spectrogram_poll.setInterval(40)
        self._spectrogram_poll.timeout.connect(self._check_spectrogram)
        controls = QHBoxLayout()
        controls.setContentsMargins(6, 2, 6, 2)
        controls.addWidget(QLabel("Spectrogram track:", self))
        controls.addWidget(self.spectrogram_box)
        controls.addWidget(self.spectrogram_label, 1)
        self.controls = QWidget(self)
        self.controls.setLayout(controls)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.controls)
        layout.addWidget(self.plot_widget, 1)
        self.plot_widget.scene().sigMouseClicked.connect(self._on_spectrogram_click)  # the row joins the scene later
        model.recordingLoaded.connect(self._on_recording)
        model.recordingChanged.connect(self._on_recording)
        if model.recording is not None:
            self._fill_channels(model.recording)
        on_left_click(self.plot, lambda x, _y: self._on_click(x))
        on_left_click(self.entropy_plot, lambda x, _y: self._on_click(x))
        model.analysisFinished.connect(self.set_result)
        model.cursorMoved.connect(self.cursor.setValue)
        self.cursor_keys = CursorKeys(self.plot_widget, model, self.jumpRequested.emit)  # Left/Right/Home/End
        self.set_result(model.analysis)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Give the entropy row its share of the height (a grid layout's stretch factors apply only to the
        space left over by the plots' minimum heights, which left the probability row a thin strip)."""
        super().resizeEvent(event)
        self._size_rows()

    def _fit_legend(self) -> None:
        """As many legend entries side by side as the width allows, on at most :data:`LEGEND_MAX_SHARE` of the
        height (fewer rows: more height for the plots; the rest behind "+N more")."""
        legend = self.legend
        if not legend.items:
            return
        left, _, right, _ = self.plot_widget.ci.layout.getContentsMargins()
        room = self.plot_widget.width() - left - right
        columns = next((c for c in range(len(legend.items), 1, -1) if legend.width_for(c) <= room), 1)
        max_rows = max(1, int(self.plot_widget.height() * LEGEND_MAX_SHARE // LEGEND_ROW_PX))
        if (columns, max_rows) != (legend.columnCount, legend.max_rows):
            legend.arrange(columns, max_rows)

    def _size_rows(self) -> None:
        self._fit_legend()
        # Height of the rows under the legend, and the least the probability row keeps: as much as the entropy
        # row's data area (that row also holds the time axis) -- in a short dock a fixed least entropy row
        # left the probability row nothing.
        grid = self.plot_widget.ci.layout
        _, top, _, bottom = grid.getContentsMargins()
        legend_px = self.legend.effectiveSizeHint(Qt.SizeHint.PreferredSize).height() if self.legend.items else 0.0
        n_rows = 3 if self.spectrogram_shown else 2
        rows_px = max(0.0, self.plot_widget.height() - top - bottom - legend_px
                      - (n_rows - 1) * grid.verticalSpacing())
        if self.spectrogram_shown:
            track = max(ENTROPY_ROW_MIN_PX, round(self.plot_widget.height() * SPECTROGRAM_ROW_SHARE))
            track = min(track, round(rows_px / 3 + self.spectrogram_plot.getAxis("bottom").minimumHeight()))
            self.spectrogram_plot.setMinimumHeight(track)
            self.spectrogram_plot.setMaximumHeight(track)
            rows_px -= track
            axis_px = 0.0  # the time axis is under the track
        else:
            axis_px = self.entropy_plot.getAxis("bottom").minimumHeight()
        share = ENTROPY_ROW_SHARE * (0.75 if self.spectrogram_shown else 1.0)
        height = max(ENTROPY_ROW_MIN_PX, round(self.plot_widget.height() * share))
        height = max(1, min(height, round((rows_px + axis_px) / 2)))
        self.entropy_plot.setMinimumHeight(height)
        self.entropy_plot.setMaximumHeight(height)
        self._fit_entropy_axis(height - axis_px)

    def _fit_entropy_axis(self, data_px: float) -> None:
        """Fit the entropy row's axis title and ticks to its data height ``data_px`` (px): in a short dock (1024 x
        768) the vertical title "entropy (bits)" ran into the P(high) row's ("(bits)P(high)") and "0.5" was drawn
        over "0" and "1". A title that does not fit is shortened to "bits" (the legend and tooltip say entropy);
        the middle tick is left out when three labels do not fit."""
        axis = self.entropy_plot.getAxis("left")
        metrics = QFontMetricsF(axis.label.font())
        label = ENTROPY_LABEL if metrics.horizontalAdvance(ENTROPY_LABEL) + 4 <= data_px else "bits"
        if axis.labelText != label:
            self.entropy_plot.setLabel("left", label)
            axis.setToolTip(axis.toolTip() or "entropy (bits) of P(high): 0 = certain, 1 = chance")
        # 0-1 spans the row less END_LABEL_PX above and below (_pad_unit_range): labels 0.5 apart overlap when
        # that is less than a line of the tick font.
        spacing = (data_px - 2 * END_LABEL_PX) / 2 if data_px > 3 * END_LABEL_PX else data_px / 2.48
        ticks = ENTROPY_TICKS if spacing >= QFontMetricsF(axis.font()).height() else ENTROPY_TICKS[::2]
        if axis._tickLevels != [ticks]:
            axis.setTicks([ticks])

    # --- spectrogram track ------------------------------------------------------------------------------------
    @property
    def spectrogram_shown(self) -> bool:
        """Whether the spectrogram row is in the layout."""
        return self.spectrogram_plot.scene() is not None

    def _fill_channels(self, recording: Any) -> None:
        box = self.spectrogram_box
        box.blockSignals(True)
        try:
            box.clear()
            box.addItem(SPECTROGRAM_OFF)
            box.addItems(list(recording.ch_names))
        finally:
            box.blockSignals(False)
        remembered = str(make_settings().value(SPECTROGRAM_CHANNEL_KEY, "") or "")
        self.set_spectrogram_channel(remembered if remembered in recording.ch_names else SPECTROGRAM_OFF)

    def _on_spectrogram_click(self, ev) -> None:
        if not self.spectrogram_shown or ev.button() != Qt.MouseButton.LeftButton or ev.double():
            return
        view = self.spectrogram_plot.getViewBox()
        if view.sceneBoundingRect().contains(ev.scenePos()):
            self._on_click(float(view.mapSceneToView(ev.scenePos()).x()))

    def _on_recording(self, recording: Any) -> None:
        self._fill_channels(recording)

    def set_spectrogram_channel(self, channel: str | None) -> None:
        """Show the spectrogram track of ``channel`` (computed in the background), or none (``None``/"off")."""
        if channel in (None, "", SPECTROGRAM_OFF):
            self._spectrogram_future = None
            self._spectrogram_poll.stop()
            self._set_track(None)
            if self.spectrogram_box.currentText() != SPECTROGRAM_OFF:
                self.spectrogram_box.setCurrentIndex(0)
            return
        recording = self.model.recording
        if recording is None or channel not in recording.ch_names:
            return
        if self.spectrogram_box.currentText() != channel:
            self.spectrogram_box.blockSignals(True)
            self.spectrogram_box.setCurrentText(channel)
            self.spectrogram_box.blockSignals(False)
        from mmqnet_core.features.spectrogram_track import spectrogram_track  # light; scipy loads in the thread

        future: Future = Future()

        def run() -> None:  # one short-lived thread per track (~0.3 s for an hour): no pool to shut down
            try:
                future.set_result(spectrogram_track(recording, channel))
            except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, reported there
                future.set_exception(exc)

        self._spectrogram_future = future
        threading.Thread(target=run, name="spectrogram-track", daemon=True).start()
        self.spectrogram_label.setText(f"computing the spectrogram of {channel}...")
        self._spectrogram_poll.start()

    def wait_spectrogram(self, timeout_s: float = 30.0) -> None:
        """Block until a spectrogram under way is computed and drawn (tests, exports)."""
        future = self._spectrogram_future
        if future is not None:
            try:
                future.result(timeout=timeout_s)
            except Exception:  # noqa: BLE001 - reported by _check_spectrogram
                pass
            self._check_spectrogram()

    def _check_spectrogram(self) -> None:
        future = self._spectrogram_future
        if future is None or not future.done():
            if future is None:
                self._spectrogram_poll.stop()
            return
        self._spectrogram_poll.stop()
        self._spectrogram_future = None
        try:
            track = future.result()
        except Exception as exc:  # noqa: BLE001 - one error path: the window's error dialog
            self.spectrogram_label.setText("spectrogram failed")
            self.model.errorOccurred.emit(exc, "computing the spectrogram track")
            return
        self._set_track(track)

    def _set_track(self, track: Any) -> None:
        """Draw ``track`` (a SpectrogramTrack) in the third row, or take the row away (``None``)."""
        self.spectrogram_track = track
        layout = self.plot_widget.ci
        if track is None:
            if self.spectrogram_shown:
                layout.removeItem(self.spectrogram_plot)
            axis = self.entropy_plot.getAxis("bottom")
            axis.setStyle(showValues=True)
            axis.titled = True
            self.entropy_plot.setLabel("bottom", axis.title())  # the browser's time mode (clock time after T)
            self.spectrogram_label.setText("")
            self._size_rows()
            return
        if not self.spectrogram_shown:
            layout.addItem(self.spectrogram_plot, row=3, col=0)
            self.entropy_plot.getAxis("bottom").setStyle(showValues=False)  # the time labels go under the track
            self.entropy_plot.getAxis("bottom").titled = False
            self.entropy_plot.setLabel("bottom", "")
        times, freqs = track.times_s, track.freqs_hz
        df = float(freqs[1] - freqs[0]) if freqs.size > 1 else 1.0
        self.spectrogram_image.setImage(track.power_db, levels=track.levels(), autoLevels=False)
        self.spectrogram_image.setColorMap(pg.colormap.get("viridis"))
        self.spectrogram_image.setRect(QRectF(float(times[0]) - track.column_s / 2, float(freqs[0]) - df / 2,
                                              times.size * track.column_s, freqs.size * df))
        self.spectrogram_plot.setYRange(float(freqs[0]), float(freqs[-1]), padding=0)
        self.spectrogram_plot.setLabel("left", f"{track.ch_name} (Hz)")
        self.spectrogram_cursor.setValue(self.model.cursor_s)
        self.spectrogram_label.setText(self.spectrogram_caption())
        self._size_rows()

    def clock_changed(self, clock) -> None:
        """The browser's time mode (:func:`~app.plot_helpers.follow_clock`): also the spectrogram row's axis, which
        is in no scene while the row is hidden."""
        self.spectrogram_plot.getAxis("bottom").set_clock(clock)

    def spectrogram_caption(self) -> str:
        """What the track shows, for the view and its exports ("" without a track)."""
        track = self.spectrogram_track
        if track is None:
            return ""
        lo, hi = track.levels()
        unit = track.unit or "unit"
        return (f"Spectrogram track: {track.ch_name}, 0-{track.freqs_hz[-1]:g} Hz, power {lo:.0f} to {hi:.0f} dB "
                f"re 1 {unit}\u00b2/Hz (2-s segments, columns of {track.column_s:g} s; as recorded)")

    def _curve(self, name: str) -> pg.PlotDataItem:
        if name not in self.curves:
            colour = pg.mkColor(TARGET_COLOURS.get(name, "#6a1b9a"))
            curve = self.plot.plot(pen=pg.mkPen(colour, width=2), name=f"{name} P(high)")
            curve.setZValue(10)
            entropy = self.entropy_plot.plot(pen=pg.mkPen(with_alpha(colour, 200), width=1.5,
                                                          style=Qt.PenStyle.DashLine))
            entropy.setZValue(6)
            self.legend.addItem(entropy, f"{name} entropy (bits, lower plot)")
            self.curves[name], self.entropy_curves[name] = curve, entropy
            edge_pen = pg.mkPen(with_alpha(colour, 70), width=1)  # faint edges (pen=None would leave no path)
            lower, upper = pg.PlotDataItem(pen=edge_pen), pg.PlotDataItem(pen=edge_pen)
            for edge in (lower, upper):
                edge.setZValue(5)
                self.plot.addItem(edge)
            band = pg.FillBetweenItem(lower, upper, brush=pg.mkBrush(with_alpha(colour, 55)))
            self.plot.addItem(band)  # z 4: under the entropy trace and the curve
            self.band_edges[name], self.bands[name] = (lower, upper), band
        return self.curves[name]

    def _set_band(self, name: str, centres: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None,
                  n_samples: int) -> None:
        """Band ``mean ± std`` around the curve of ``name`` (NaN = gap); ``std`` None hides it."""
        lower, upper = self.band_edges[name]
        band = self.bands[name]
        if std is None or mean is None:
            lower.setData([], [])
            upper.setData([], [])
            band.setVisible(False)
            if name in self._band_in_legend:
                self.legend.removeItem(band)
                self._band_in_legend.discard(name)
            return
        lower.setData(centres, mean - std, connect="finite")
        upper.setData(centres, mean + std, connect="finite")
        band.setVisible(True)
        text = f"{name} ± std (MC, {n_samples} samples)"
        if name in self._band_in_legend:  # keep its place in the legend; the sample count may have changed
            for sample, label in self.legend.items:
                if sample.item is band:
                    label.setText(text)
        else:
            self.legend.addItem(_BandSample(band), text)
            self._band_in_legend.add(name)

    @property
    def span_legend(self) -> list[str]:
        """The legend texts of the shadings and the strip shown, in legend order."""
        return [label.text for sample, label in self.legend.items if isinstance(sample, _SpanSample)]

    def _set_span_legend(self, keys: set[str]) -> None:
        """Legend entries for the shadings and the strip in ``keys`` (those drawn), none for the others."""
        listed = set(self.span_legend)
        for key, colour in self.span_colours.items():
            text = SPAN_LEGEND[key]
            if key in keys and text not in listed:
                self.legend.addItem(_SpanSample(colour), text)
            elif key not in keys and text in listed:
                self.legend.removeItem(text)

    def _set_scores(self, result: Any, centres: np.ndarray, blind: np.ndarray) -> None:
        """Dotted predicted-score curves on the right-hand 1-9 axis (regression models), else hidden."""
        scores = None if result is None else getattr(result, "scores", None)
        self.plot.showAxis("right", scores is not None)
        # An empty right axis of the same width keeps the entropy row's time axis under the probability row's.
        self.entropy_plot.showAxis("right", scores is not None)
        if scores is not None:
            self.entropy_plot.getAxis("right").setStyle(showValues=False)
            for plot in (self.plot, self.entropy_plot):
                plot.getAxis("right").setWidth(LEFT_AXIS_WIDTH)
        for name, curve in self.score_curves.items():
            if scores is None or name not in result.targets:
                curve.setData([], [])
                curve.setVisible(False)
                self.legend.removeItem(curve)  # no legend entry for a curve that is not drawn
        if scores is None:
            return
        for k, name in enumerate(result.targets):
            if name not in self.score_curves:
                colour = pg.mkColor(TARGET_COLOURS.get(name, "#6a1b9a"))
                curve = self.plot.plot(pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DotLine),
                                       name=f"{name} score (right axis)")
                curve.setZValue(8)
                self.score_curves[name] = curve
            value = np.where(blind, np.nan, (np.asarray(scores[:, k], float) - 1.0) / 8.0)
            curve = self.score_curves[name]
            curve.setData(centres, value, connect="finite")
            if not curve.isVisible():
                curve.setVisible(True)
                self.legend.addItem(curve, f"{name} score (right axis)")

    def set_result(self, result: Any) -> None:
        """Show an AnalysisResult (``None`` clears the view)."""
        if result is None:
            for curve in list(self.curves.values()) + list(self.entropy_curves.values()):
                curve.setData([], [])
            for name in self.bands:
                self._set_band(name, np.zeros(0), None, None, 0)
            for pool in (self.masked_spans, self.interference_spans, self.no_context_spans,
                         self.entropy_masked_spans, self.entropy_no_context_spans):
                pool.set_spans([])
            self.masked_share.setData([], [])
            self._set_scores(None, np.zeros(0), np.zeros(0, bool))
            self._set_span_legend(set())
            self._fit_legend()
            empty_time_range(self.model, self.plot)  # the recording's span, not pyqtgraph's 0-1 s
            return
        starts = np.asarray(result.window_starts, float)
        centres = starts + result.window_s / 2
        # Windows whose context had no visible token carry only the model's prior: drawn as gaps, not values.
        blind = np.asarray(result.no_context, bool)
        # with the missing-evidence term the row is the entropy of P(high) marginalised over what the hidden
        # modalities could change (mmqnet_core.inference.evidence); the tooltip says which
        self.entropy_plot.getAxis("left").setToolTip(result.uncertainty_method)
        for k, name in enumerate(result.targets):
            prob = np.where(blind, np.nan, np.asarray(result.probabilities[:, k], float))
            ent = np.where(blind, np.nan, np.asarray(result.uncertainty[:, k], float))
            self._curve(name).setData(centres, prob, connect="finite")
            self.entropy_curves[name].setData(centres, ent, connect="finite")
            std = getattr(result, "probability_std", None)
            self._set_band(name, centres, prob, None if std is None else np.asarray(std[:, k], float),
                           int(getattr(result, "mc_samples", 0)))

        self._set_scores(result, centres, blind)
        self._fit_legend()  # entries came or went

        def spans(flags: np.ndarray) -> list[tuple[float, float]]:
            return [(starts[a], starts[b - 1] + result.window_s) for a, b in runs(flags)]

        present = np.array([c is not None for c in result.token_channels], bool)
        masked = np.asarray(result.user_masked)[:, present] if present.any() else np.asarray(result.user_masked)
        share = masked.mean(axis=1) if masked.shape[1] else np.zeros(len(starts))
        self.masked_spans.set_spans(spans(share >= 1.0))
        self.entropy_masked_spans.set_spans(self.masked_spans.shown)
        edges = np.append(starts, starts[-1] + result.window_s) if starts.size else np.zeros(0)
        if share.any():
            self.masked_share.setData(edges, share * STRIP_HEIGHT)
        else:
            self.masked_share.setData([], [])
        self.interference_spans.set_spans(spans(np.asarray(result.interference_detected) >= INTERFERENCE_THRESHOLD))
        self.no_context_spans.set_spans(spans(np.asarray(result.no_context)))
        self.entropy_no_context_spans.set_spans(self.no_context_spans.shown)
        drawn = {key for key, on in (("masked", bool(self.masked_spans.shown)), ("share", bool(share.any())),
                                     ("interference", bool(self.interference_spans.shown)),
                                     ("no_context", bool(self.no_context_spans.shown))) if on}
        self._set_span_legend(drawn)
        self._fit_legend()
        if starts.size:
            self.plot.setXRange(starts[0], starts[-1] + result.window_s, padding=0.01)
        self.cursor.setValue(self.model.cursor_s)

    def _on_click(self, x: float) -> None:
        result = self.model.analysis
        if result is None or result.n_windows == 0:
            return
        t = float(np.clip(x, result.window_starts[0], result.window_starts[-1] + result.window_s))
        self.model.set_cursor(t)
        self.jumpRequested.emit(t)

    def export_parts(self) -> list:
        """What an exported image shows: the banner, the spectrogram track's caption (when shown) and the plots
        (see :mod:`app.view_export`); the track's channel box is left out, the caption names the channel."""
        return [self.banner, self.spectrogram_caption(), self.plot_widget]

    def copy_state_from(self, other: "TrajectoryView") -> None:
        """Show what ``other`` shows (for off-screen copies used by exports)."""
        if other.spectrogram_track is not None:
            self._fill_channels(other.model.recording) if other.model.recording is not None else None
            self.spectrogram_box.blockSignals(True)
            self.spectrogram_box.setCurrentText(other.spectrogram_track.ch_name)
            self.spectrogram_box.blockSignals(False)
            self._set_track(other.spectrogram_track)
        self.plot.setXRange(*other.plot.getViewBox().viewRange()[0], padding=0)
