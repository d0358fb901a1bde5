"""TrajectoryView: probability of high valence and high arousal over time, with the prediction's entropy.

One thick curve per target at the window centres: ``p``, the probability of the high class, on the upper plot
(left axis "P(high)"). Below it, in its own smaller plot row on the same time axis (x-linked, left axes of equal
width so the two line up), a dashed curve of the same colour: the analysis' uncertainty ``u``, the binary entropy
of ``p`` in bits (0 = certain, 1 = chance), axis "entropy (bits)". The legend names both ("valence P(high)",
"valence entropy (bits, lower plot)"). Sharing one 0-1 axis made the two unreadable wherever they crossed.

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

A model trained with ``regression`` also predicts the 1-9 score of each target (``result.scores``): a dotted
curve per target on a right-hand axis labelled 1-9, placed so that score 5 (the high/low threshold) sits on
the P = 0.5 line (``(score - 1) / 8`` on the left axis). Without scores that axis and the curves are hidden.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from .analysis import runs
from .analysis_banner import AnalysisBanner
from .model import AppModel
from .plot_helpers import (
    CURSOR_PEN,
    INTERFERENCE_SPAN,
    MASKED_SPAN,
    NO_CONTEXT_SPAN,
    SpanPool,
    TARGET_COLOURS,
    on_left_click,
    with_alpha,
    style_plot,
)

#: Interference score (0-1) from which a window is shaded as disturbed.
INTERFERENCE_THRESHOLD = 0.5
#: Height (in probability units) of the masked-share strip when every channel is masked.
STRIP_HEIGHT = 0.12
MASKED_STRIP = (200, 30, 30, 150)
#: Share of the plot height given to the entropy row (with the time axis under it), and its least height (px).
ENTROPY_ROW_SHARE = 0.35
ENTROPY_ROW_MIN_PX = 70
#: Width (px) of the left axes of both rows, so that their time axes line up.
LEFT_AXIS_WIDTH = 52


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


class TrajectoryView(QWidget):
    """Valence/arousal probability over time; ``jumpRequested(t)`` asks the browser to show time ``t`` (s)."""

    jumpRequested = Signal(float)

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.banner = AnalysisBanner(model, self)
        self.plot_widget = pg.GraphicsLayoutWidget()
        self.plot_widget.setBackground("w")
        self.plot = self.plot_widget.addPlot(row=0, col=0)
        self.entropy_plot = self.plot_widget.addPlot(row=1, col=0)
        for plot in (self.plot, self.entropy_plot):
            style_plot(plot)
            # Room above 1 and below 0 for the labels of those ticks (pyqtgraph drops a label that would
            # stick out of the plot).
            plot.setYRange(0.0, 1.0, padding=0.05 if plot is self.plot else 0.12)
            plot.getViewBox().setMouseEnabled(x=True, y=False)
            plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.entropy_plot.setXLink(self.plot)
        self.plot.getAxis("bottom").setStyle(showValues=False)  # the time labels are under the entropy row
        self.entropy_plot.setLabel("bottom", "time", units="s")
        self.plot.setLabel("left", "P(high)")
        self.entropy_plot.setLabel("left", "entropy (bits)")
        self.entropy_plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        self.legend = self.plot.addLegend(offset=(8, 4), labelTextColor="#202020",
                                          brush=pg.mkBrush(255, 255, 255, 200))
        self.legend.setColumnCount(2)  # "<target> P(high)" beside "<target> entropy": half the height
        self.plot.addItem(pg.InfiniteLine(0.5, angle=0, pen=pg.mkPen("#9e9e9e", style=Qt.PenStyle.DashLine)))
        self.masked_spans = SpanPool(self.plot, MASKED_SPAN, z=-12)
        self.interference_spans = SpanPool(self.plot, INTERFERENCE_SPAN, z=-11)
        self.no_context_spans = SpanPool(self.plot, NO_CONTEXT_SPAN, z=-13)
        self.masked_share = pg.PlotDataItem(stepMode="center", fillLevel=0.0, pen=pg.mkPen(None),
                                            brush=pg.mkBrush(MASKED_STRIP))
        self.masked_share.setZValue(-5)
        self.plot.addItem(self.masked_share)
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.plot_widget, 1)
        on_left_click(self.plot, lambda x, _y: self._on_click(x))
        on_left_click(self.entropy_plot, lambda x, _y: self._on_click(x))
        model.analysisFinished.connect(self.set_result)
        model.cursorMoved.connect(self.cursor.setValue)
        self.set_result(model.analysis)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Give the entropy row its share of the height (a grid layout's stretch factors apply only to the
        space left over by the plots' minimum heights, which left the probability row a thin strip)."""
        super().resizeEvent(event)
        height = max(ENTROPY_ROW_MIN_PX, round(self.plot_widget.height() * ENTROPY_ROW_SHARE))
        self.entropy_plot.setMinimumHeight(height)
        self.entropy_plot.setMaximumHeight(height)

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
        """What an exported image shows: the banner and the plots (see :mod:`app.view_export`)."""
        return [self.banner, self.plot_widget]

    def copy_state_from(self, other: "TrajectoryView") -> None:
        """Show what ``other`` shows (for off-screen copies used by exports)."""
        self.plot.setXRange(*other.plot.getViewBox().viewRange()[0], padding=0)
