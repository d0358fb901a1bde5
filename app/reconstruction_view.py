"""ReconstructionView: what MMQ-Net's modality queries reconstructed for a masked channel, beside the original.

Pick a channel (or select a mask in the Masks table, or click a masked segment in the browser) and a feature:

* top: the feature per window (EEG band power / differential entropy, EOG blink rate, GSR level, heart rate,
  ...) -- the original where the channel has data (solid, dark) and the reconstruction (dashed, orange) in every
  window; windows the model did not see are shaded red, the picked mask darker;
* bottom, for slow signals (GSR, respiration, temperature): the downsampled waveform the features carry -- the
  original and, inside hidden windows, the reconstructed waveform.

A left click inside a shaded (hidden) span zooms both plots to that span with a margin on each side
(:data:`ZOOM_MARGIN`); "Reset zoom" or Esc shows the whole recording again.

Reconstruction quality is summarised as the RMSE between reconstruction and original over the hidden windows
that have an original (simulated missingness of a recorded channel), beside the RMSE of the baseline a reviewer
expects on the same windows, both computed in the core (:func:`mmqnet_core.inference.recon_baseline.
reconstruction_errors`): spherical-spline interpolation (MNE's ``interpolate_bads``) from the visible EEG channels
for an EEG channel, linear interpolation across the gap for a slow signal (GSR, respiration, temperature). The
baseline is drawn too (grey, dotted).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget
from mmqnet_core.features.missing import describe_hidden

from .analysis import runs
from .analysis_banner import AnalysisBanner
from .browser_state import format_hms
from .model import AppModel, MaskFocus
from .plot_helpers import (
    add_plot,
    view_combo,
    CURSOR_PEN,
    FOCUS_SPAN,
    MASKED_SPAN,
    ORIGINAL_COLOUR,
    RECON_COLOUR,
    RowLegend,
    SpanPool,
    empty_time_range,
    on_left_click,
    style_plot,
    use_time_axis,
)

#: Feature shown first for each modality (the most familiar one); otherwise the first defined column.
#: Said instead of an error when the hidden windows have no original (a user mask removes the data).
NO_ORIGINAL_TEXT = ("No error to show: the masked windows have no original to compare with (a mask removes the "
                    "data from the cleaning on; Edit > Simulate missing data keeps it for this comparison).")
#: Colour of the baseline reconstruction (spherical splines / linear interpolation).
BASELINE_COLOUR = "#757575"
PREFERRED_FEATURE = {"EEG": "psd_alpha", "EOG": "blink_rate", "EMG": "log_rms", "GSR": "level", "RESP": "rate",
                     "PPG": "hr", "ECG": "hr", "TEMP": "level"}
#: Margin shown on each side of a span zoomed to by a click, as a fraction of the span's length (at least one
#: analysis window, so the windows next to the span are visible for comparison).
ZOOM_MARGIN = 0.25


class ReconstructionView(QWidget):
    """Original vs reconstructed features (and waveform) of one token of the analysis."""

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.banner = AnalysisBanner(model, self)
        self.token_combo = view_combo(self)
        self.token_combo.setToolTip("Channel (model token) to show")
        self.token_combo.currentIndexChanged.connect(lambda _i: self._on_token_changed())
        self.feature_combo = view_combo(self)
        self.feature_combo.setToolTip("Feature to show")
        self.feature_combo.currentIndexChanged.connect(lambda _i: self.redraw())
        self.info = QLabel(self)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        controls = QHBoxLayout()
        controls.setContentsMargins(4, 0, 4, 0)
        controls.addWidget(QLabel("Channel", self))
        controls.addWidget(self.token_combo)
        controls.addWidget(QLabel("Feature", self))
        controls.addWidget(self.feature_combo)
        controls.addWidget(self.info, 1)
        self.reset_zoom_button = QPushButton("Reset zoom", self)
        self.reset_zoom_button.setToolTip("Show the whole recording again (Esc); click a shaded span to zoom to it")
        self.reset_zoom_button.setEnabled(False)
        self.reset_zoom_button.clicked.connect(self.reset_zoom)
        controls.addWidget(self.reset_zoom_button)
        self.controls = controls
        self.errors_label = QLabel(self)  # model vs baseline RMSE of the feature shown (from the core)
        self.errors_label.setWordWrap(True)
        self.errors_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.errors_label.setStyleSheet("color: #202020;")

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        # Each plot's legend in a row of its own above it, its entries side by side: over the plot (top left) it
        # covered the first 20 s of the curves.
        self.feature_legend = RowLegend(labelTextColor="#202020", colCount=3)
        self.wave_legend = RowLegend(labelTextColor="#202020", colCount=3)
        self.graphics.ci.addItem(self.feature_legend, row=0, col=0)
        self.feature_plot = add_plot(self.graphics.ci, row=1, col=0)
        self.graphics.ci.addItem(self.wave_legend, row=2, col=0)
        self.wave_plot = add_plot(self.graphics.ci, row=3, col=0)
        for legend in (self.feature_legend, self.wave_legend):
            self.graphics.ci.layout.setAlignment(legend, Qt.AlignmentFlag.AlignLeft)
        for plot, legend in ((self.feature_plot, self.feature_legend), (self.wave_plot, self.wave_legend)):
            style_plot(plot)
            use_time_axis(plot)
            plot.getViewBox().setMouseEnabled(x=True, y=False)
            plot.legend = legend  # where the PlotItem puts the entries of the curves it makes with a name
        self.wave_plot.setXLink(self.feature_plot)
        self.original_curve = self.feature_plot.plot(pen=pg.mkPen(ORIGINAL_COLOUR, width=2), name="original",
                                                     connect="finite")
        self.recon_curve = self.feature_plot.plot(pen=pg.mkPen(RECON_COLOUR, width=2, style=Qt.PenStyle.DashLine),
                                                  name="reconstruction", connect="finite", symbol="o",
                                                  symbolSize=5, symbolPen=None, symbolBrush=RECON_COLOUR)
        # (only hidden windows are reconstructed: dots keep a single hidden window visible between the gaps)
        self.baseline_curve = self.feature_plot.plot(pen=pg.mkPen(BASELINE_COLOUR, width=2,
                                                                  style=Qt.PenStyle.DotLine),
                                                     name="baseline", connect="finite", symbol="t", symbolSize=5,
                                                     symbolPen=None, symbolBrush=BASELINE_COLOUR)
        self.wave_original = self.wave_plot.plot(pen=pg.mkPen(ORIGINAL_COLOUR, width=1.5), name="original waveform",
                                                 connect="finite")
        self.wave_recon = self.wave_plot.plot(pen=pg.mkPen(RECON_COLOUR, width=2), name="reconstructed waveform",
                                              connect="finite")
        self.wave_baseline = self.wave_plot.plot(pen=pg.mkPen(BASELINE_COLOUR, width=1.5, style=Qt.PenStyle.DotLine),
                                                 name="linear interpolation", connect="finite")
        self.hidden_spans = [SpanPool(p, MASKED_SPAN, z=-12) for p in (self.feature_plot, self.wave_plot)]
        self.focus_spans = [SpanPool(p, FOCUS_SPAN, z=-11) for p in (self.feature_plot, self.wave_plot)]
        self.cursors = [pg.InfiniteLine(angle=90, movable=False, pen=CURSOR_PEN) for _ in range(2)]
        for plot, cursor in zip((self.feature_plot, self.wave_plot), self.cursors):
            plot.addItem(cursor, ignoreBounds=True)

        for plot in (self.feature_plot, self.wave_plot):
            on_left_click(plot, lambda x, _y: self.zoom_to_span_at(x))
        self.graphics.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Esc reaches the view after a click or Tab
        self.reset_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.reset_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.reset_shortcut.activated.connect(self.reset_zoom)
        self.zoomed: tuple[float, float] | None = None  # the span zoomed to (s), None when showing everything
        self._spans: list[tuple[float, float]] = []  # hidden spans of the token shown (s)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.banner)
        layout.addLayout(controls)
        layout.addWidget(self.errors_label)
        layout.addWidget(self.graphics, 1)
        self.rmse: float | None = None  # of the shown feature over hidden windows with an original
        self.errors = None  # ReconstructionErrors of the token and feature shown (model vs baseline), or None
        model.analysisFinished.connect(self.set_result)
        model.maskFocusChanged.connect(self.show_focus)
        model.cursorMoved.connect(lambda t: [c.setValue(t) for c in self.cursors])
        self.set_result(model.analysis)

    # --- state ----------------------------------------------------------------------------------------------
    @property
    def token(self) -> str | None:
        """Name of the token shown."""
        return self.token_combo.currentData()

    @property
    def feature(self) -> str | None:
        """Name of the feature shown."""
        return self.feature_combo.currentData()

    def set_token(self, name: str) -> None:
        i = self.token_combo.findData(name)
        if i >= 0:
            self.token_combo.setCurrentIndex(i)

    def set_feature(self, name: str) -> None:
        i = self.feature_combo.findData(name)
        if i >= 0:
            self.feature_combo.setCurrentIndex(i)

    def set_result(self, result: Any) -> None:
        """Show an AnalysisResult (``None`` clears the view)."""
        current = self.token
        self.token_combo.blockSignals(True)
        self.token_combo.clear()
        if result is not None:
            for n, name in enumerate(result.token_names):
                channel = result.token_channels[n]
                masked = bool(result.user_masked[:, n].any())
                text = f"{name} ({result.token_modalities[n]})"
                if channel is None:
                    text += " - absent"
                elif masked:
                    text += " - masked"
                self.token_combo.addItem(text, name)
        self.token_combo.blockSignals(False)
        if result is None:
            self.feature_combo.clear()
            self.redraw()
            return
        focus = self.model.mask_focus
        pick = self._token_for_channel(result, focus.channel) if focus is not None else None
        if pick is None and current is not None and current in result.token_names:
            pick = current
        if pick is None:
            masked = np.flatnonzero(np.asarray(result.user_masked).any(axis=0))
            present = [n for n, c in enumerate(result.token_channels) if c is not None]
            first = int(masked[0]) if masked.size else (present[0] if present else 0)
            pick = result.token_names[first]
        self.token_combo.setCurrentIndex(max(0, self.token_combo.findData(pick)))
        self._on_token_changed()

    @staticmethod
    def _token_for_channel(result: Any, channel: str | None) -> str | None:
        if channel is None:
            return None
        for n, c in enumerate(result.token_channels):
            if c == channel:
                return result.token_names[n]
        return None

    def show_focus(self, focus: MaskFocus | None) -> None:
        """Show the token of the focused mask's channel, with the masked span highlighted."""
        result = self.model.analysis
        if result is not None and focus is not None:
            token = self._token_for_channel(result, focus.channel)
            if token is not None and token != self.token:
                self.set_token(token)
                return  # set_token redraws
        self.redraw()

    def _on_token_changed(self) -> None:
        self._set_zoom(None)  # another channel has other spans: show all of it
        result = self.model.analysis
        current = self.feature
        self.feature_combo.blockSignals(True)
        self.feature_combo.clear()
        if result is not None and self.token is not None:
            n = result.token_index(self.token)
            mod = result.token_modalities[n]
            names = result.feature_names.get(mod, ())
            units = result.feature_units.get(mod, ())
            wave = result.waveform.get(mod)
            wave_cols = set(range(*wave.indices(len(names)))) if wave is not None else set()
            for f, name in enumerate(names):
                if f in wave_cols or not result.valid[n, f]:
                    continue
                unit = units[f] if f < len(units) else ""
                self.feature_combo.addItem(f"{name} [{unit}]" if unit else name, name)
            pick = current if self.feature_combo.findData(current) >= 0 else PREFERRED_FEATURE.get(mod)
            self.feature_combo.setCurrentIndex(max(0, self.feature_combo.findData(pick)))
        self.feature_combo.blockSignals(False)
        self.redraw()

    # --- drawing --------------------------------------------------------------------------------------------
    _format_time = None  # the browser's time format (clock_changed); None: h:mm:ss from the start

    def clock_changed(self, clock) -> None:
        """The browser's time mode (:func:`~app.plot_helpers.follow_clock`): the masked span's times in the caption
        read as the time axes do (it said "mask 00:03.2-00:05.8" under a clock-time axis)."""
        if self._format_time != clock.format_time or self._clock_shown != clock.clock_time:
            self._format_time, self._clock_shown = clock.format_time, clock.clock_time
            if self.model.analysis is not None:
                self.redraw()

    _clock_shown = False

    def redraw(self) -> None:
        result = self.model.analysis
        curves = (self.original_curve, self.recon_curve, self.wave_original, self.wave_recon, self.baseline_curve,
                  self.wave_baseline)
        if result is None or self.token is None or self.feature is None:
            for curve in curves:
                curve.setData([], [])
            for pool in self.hidden_spans + self.focus_spans:
                pool.set_spans([])
            self._spans = []
            self._set_zoom(None)
            self.info.setText("")
            self.errors_label.setText("")
            self.rmse = None
            self.errors = None
            self._sync_legends()
            empty_time_range(self.model, self.feature_plot)  # the recording's span, not pyqtgraph's 0-1 s
            return
        n = result.token_index(self.token)
        mod = result.token_modalities[n]
        names = result.feature_names[mod]
        f = names.index(self.feature)
        unit = result.feature_units[mod][f] if f < len(result.feature_units[mod]) else ""
        starts = np.asarray(result.window_starts, float)
        centres = starts + result.window_s / 2
        missing = np.asarray(result.data_missing[:, n], bool)
        hidden = np.asarray(result.hidden[:, n], bool)
        original = np.where(missing, np.nan, result.features[:, n, f]).astype(float)
        recon = None if result.recon is None else np.asarray(result.recon[:, n, f], float)
        self.original_curve.setData(centres, original)
        if recon is None or not np.isfinite(recon).any():  # nothing hidden here: nothing reconstructed
            self.recon_curve.setData([], [])
        else:
            self.recon_curve.setData(centres, recon)
        baseline = (None if result.baseline_recon is None
                    else np.asarray(result.baseline_recon[:, n, f], float))
        if baseline is None or not np.isfinite(baseline).any():
            self.baseline_curve.setData([], [])
        else:
            self.baseline_curve.setData(centres, baseline)
        self.feature_plot.getAxis("left").setLabel(f"{self.feature} [{unit}]" if unit else self.feature)
        spans = [(starts[a], starts[b - 1] + result.window_s) for a, b in runs(hidden)]
        focus = self.model.mask_focus
        focus_spans = [(focus.start_s, focus.end_s)] if focus is not None and (
            focus.channel is None or focus.channel == result.token_channels[n]) else []
        from mmqnet_core.inference.recon_baseline import reconstruction_errors

        self.errors = reconstruction_errors(result, self.token, self.feature)  # model vs baseline, in the core
        self.rmse = self.errors.model_rmse

        wave = result.waveform.get(mod)
        self.wave_plot.setVisible(wave is not None)
        self.wave_legend.setVisible(wave is not None)
        if wave is not None:
            cols = result.features[:, n, wave].astype(float)  # (T, P)
            p = cols.shape[1]
            times = (starts[:, None] + (np.arange(p) + 0.5) * result.window_s / p)  # (T, P)
            # NaN in windows without data breaks the lines (connect="finite"); neighbouring windows join.
            self.wave_original.setData(times.ravel(), np.where(missing[:, None], np.nan, cols).ravel())
            if result.recon is not None:
                rec_w = np.where(hidden[:, None], result.recon[:, n, wave].astype(float), np.nan)
                self.wave_recon.setData(times.ravel(), rec_w.ravel())
            else:
                self.wave_recon.setData([], [])
            if result.baseline_recon is not None and np.isfinite(result.baseline_recon[:, n, wave]).any():
                base_w = np.where(hidden[:, None], result.baseline_recon[:, n, wave].astype(float), np.nan)
                self.wave_baseline.setData(times.ravel(), base_w.ravel())
            else:
                self.wave_baseline.setData([], [])
            wunit = result.feature_units[mod][wave.start] if wave.start < len(result.feature_units[mod]) else ""
            self.wave_plot.getAxis("left").setLabel(f"{mod} waveform [{wunit}]" if wunit else f"{mod} waveform")
        else:
            self.wave_original.setData([], [])
            self.wave_recon.setData([], [])
            self.wave_baseline.setData([], [])
        for pool in self.hidden_spans:
            pool.set_spans(spans)
        self._spans = spans + [sp for sp in focus_spans if not any(a <= sp[0] and sp[1] <= b for a, b in spans)]
        for pool in self.focus_spans:
            pool.set_spans(focus_spans)
        for cursor in self.cursors:
            cursor.setValue(self.model.cursor_s)
        if starts.size and self.zoomed is None:
            self.feature_plot.setXRange(starts[0], starts[-1] + result.window_s, padding=0.01)
        if starts.size:
            finite = np.concatenate([original[np.isfinite(original)],
                                     recon[np.isfinite(recon)] if recon is not None else [],
                                     baseline[np.isfinite(baseline)] if baseline is not None else []])
            if finite.size:
                lo, hi = float(finite.min()), float(finite.max())
                pad = 0.05 * (hi - lo) or 0.5
                self.feature_plot.setYRange(lo - pad, hi + pad, padding=0)
            self.wave_plot.enableAutoRange(axis="y")
        channel = result.token_channels[n]
        reason = result.reason
        if reason is not None:  # why each window is hidden (user mask, no breath found, ...), from the core
            parts = [describe_hidden(channel or "absent channel", reason[:, n], result.token_modalities[n])]
        else:
            parts = [f"{channel or 'absent channel'}: {int(hidden.sum())}/{len(hidden)} windows hidden"]
        if focus_spans:
            fmt = self._format_time or (lambda t, d: format_hms(t, decimals=d))  # the browser's clock time (T)
            parts.append(f"mask {fmt(focus.start_s, 1)}-{fmt(focus.end_s, 1)}")
        self.info.setText(" | ".join(parts))
        errors = self.errors.text()
        if not errors and hidden.any() and not np.isfinite(original[hidden]).any():
            errors = NO_ORIGINAL_TEXT  # say why there is no error, not nothing
        self.errors_label.setText(errors)
        self.errors_label.setVisible(bool(errors))
        self._sync_legends()

    def _sync_legends(self) -> None:
        """Legend entries for the curves drawn only (the legends named a reconstruction and a baseline where
        nothing was hidden, and an original where the mask had removed it); the baseline by its name."""
        base = self.errors.baseline if self.errors is not None and self.errors.baseline else ""
        names = {self.original_curve: "original", self.recon_curve: "reconstruction (MMQ-Net)",
                 self.baseline_curve: f"baseline: {base}" if base else "baseline",
                 self.wave_original: "original waveform", self.wave_recon: "reconstructed waveform",
                 self.wave_baseline: "linear interpolation"}
        for legend, curves in ((self.feature_legend, (self.original_curve, self.recon_curve, self.baseline_curve)),
                               (self.wave_legend, (self.wave_original, self.wave_recon, self.wave_baseline))):
            wanted = [(c, names[c]) for c in curves if c.xData is not None and len(c.xData)
                      and np.isfinite(c.yData).any()]
            if [(s.item, lab.text) for s, lab in legend.items] != wanted:
                legend.clear()
                for curve, name in wanted:
                    legend.addItem(curve, name)

    # --- zoom -----------------------------------------------------------------------------------------------
    def span_at(self, t: float) -> tuple[float, float] | None:
        """The shaded (hidden or picked-mask) span containing time ``t`` (s), None outside every span."""
        for a, b in self._spans:
            if a <= t <= b:
                return (a, b)
        return None

    def zoom_to_span_at(self, t: float) -> bool:
        """Zoom both plots to the span containing ``t`` (s) with a margin; False (no change) outside spans."""
        span = self.span_at(t)
        result = self.model.analysis
        if span is None or result is None:
            return False
        a, b = span
        margin = max(ZOOM_MARGIN * (b - a), float(result.window_s))
        self._set_zoom(span)
        self.feature_plot.setXRange(a - margin, b + margin, padding=0)
        return True

    def reset_zoom(self) -> None:
        """Show the whole recording again."""
        if self.zoomed is None:
            return
        self._set_zoom(None)
        self.redraw()

    def _set_zoom(self, span: tuple[float, float] | None) -> None:
        self.zoomed = span
        self.reset_zoom_button.setEnabled(span is not None)

    def export_parts(self) -> list:
        """What an exported image shows: the banner, what the channel/feature boxes chose, the plots."""
        chosen = f"Channel {self.token_combo.currentText()}, feature {self.feature_combo.currentText()}"
        info = self.info.text()
        parts = [self.banner, f"{chosen}. {info}" if info else chosen]
        return parts + ([self.errors_label.text()] if self.errors_label.text() else []) + [self.graphics]

    def copy_state_from(self, other: "ReconstructionView") -> None:
        """Show what ``other`` shows (channel, feature) -- for off-screen copies used by exports."""
        if other.token is not None:
            self.set_token(other.token)
        if other.feature is not None:
            self.set_feature(other.feature)
        if other.zoomed is not None:
            self._set_zoom(other.zoomed)
            self.feature_plot.setXRange(*other.feature_plot.getViewBox().viewRange()[0], padding=0)
