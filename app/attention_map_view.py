"""AttentionMapView: where one query family of MMQ-Net looked, token by token, window by window.

A heatmap (rows = tokens grouped by modality, columns = windows on the time axis) of
``AnalysisResult.attention[family]``: for window t, the share of the family's attention that went to token n
(each column sums to 1 over all tokens; for modality queries only windows with hidden tokens have a column, as
only hidden tokens are reconstructed -- a note under the controls says so). The family is chosen in a combo: *modality* queries (reconstruction),
*category* queries (emotion) or *interference* queries. Token names are on the left axis, modality groups on the
right with separators. A green line follows the app's time cursor; a left click moves the cursor and browser.

Under it, time-aligned, the **occlusion map** (``AnalysisResult.occlusion``, computed by the core in the same
sliding-context passes as the analysis): for each modality (or token) and window, the change of P(high) of the
target chosen in the second combo when that unit is hidden -- what actually moved the prediction. Blue: hiding
the unit lowers P(high) (it was evidence for "high"); red: it raises it. Grey: the unit was hidden already in
that window (nothing to take away). The right axis gives each unit's mean |change| over the windows where it was
visible. A line above the plots says plainly that attention is not attribution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from mmqnet_core.features.missing import describe_hidden

from .analysis_banner import AnalysisBanner
from .model import AppModel
from .plot_helpers import (CURSOR_PEN, CursorKeys, add_plot, empty_time_range, on_left_click, style_plot,
                           use_time_axis, view_combo)

#: Channels whose hidden windows the note lists (the rest are counted, and all are in its tooltip).
NOTE_LINES = 2
#: Smallest height of the two maps together, px.
GRAPHICS_MIN_PX = 220
#: What each query family is, for the combo.
FAMILY_TEXT = {
    "modality": "modality queries (reconstruction)",
    "category": "category queries (emotion)",
    "interference": "interference queries",
}
#: Room beside the longest row label of an axis, px (tick offset and a gap).
AXIS_TEXT_MARGIN_PX = 12
#: Least vertical distance between two row labels, px (denser labels are thinned out).
LABEL_SPACING_PX = 12
#: Colour map of attention.
ATTENTION_COLOURMAP = "inferno"
#: Diverging colour map of the occlusion map (blue: hiding lowers P(high), red: hiding raises it).
OCCLUSION_COLOURMAP = "CET-D1"
#: What the view says about attention and attribution, above the plots.
NOT_ATTRIBUTION_TEXT = ("Attention is not attribution: the heatmap shows where the queries looked, not what moved "
                        "the prediction. The occlusion map below shows that: ΔP(high), the change of P(high) when "
                        "each modality is hidden (blue: lowers it, red: raises it, grey: hidden already; right: "
                        "mean |Δ|).")
#: The statement before an analysis (it spoke of "the occlusion map below" over an empty view).
NO_RESULT_STATEMENT = ("Attention is not attribution: the heatmap shows where the queries looked, not what moved "
                       "the prediction. The occlusion map, which shows that, comes under it after an analysis with "
                       "Attribution on (Edit > Preferences).")
#: Share of the plot height given to the occlusion map (by modality: a few rows).
OCCLUSION_SHARE = 0.3
#: Least height of the occlusion map's row (with its time axis), px: room for its colour bar's ticks and label.
OCCLUSION_MIN_PX = 130
#: Height of the occlusion map's time axis with its labels and title, px.
OCCLUSION_AXIS_PX = 40


def absent_text(n_absent: int, n_tokens: int) -> str:
    """The note's line for the model's channels that the recording lacks (the model reads them as hidden)."""
    return (f"{n_absent} of the model's {n_tokens} channels are not in this recording: the model reads them as "
            "hidden (untick 'Only channels in the recording' to show them).")


class AttentionMapView(QWidget):
    """Attention heatmap of one query family; ``jumpRequested(t)`` asks the browser to show time ``t`` (s)."""

    jumpRequested = Signal(float)

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.banner = AnalysisBanner(model, self)
        self.family_combo = view_combo(self)
        self.family_combo.setToolTip("Query family whose attention is shown")
        self.family_combo.currentIndexChanged.connect(lambda _i: self.redraw())
        self.present_only = QCheckBox("Only channels in the recording", self)
        self.present_only.setChecked(True)
        self.present_only.setToolTip("Hide the model's tokens that have no channel in this recording")
        self.present_only.toggled.connect(lambda _on: self.redraw())
        self.target_combo = view_combo(self)
        self.target_combo.setToolTip("Output whose change is shown in the occlusion map")
        self.target_combo.currentIndexChanged.connect(lambda _i: self.redraw())
        controls = QHBoxLayout()
        controls.setContentsMargins(4, 0, 4, 0)
        controls.addWidget(QLabel("Family", self))
        controls.addWidget(self.family_combo)
        controls.addWidget(self.present_only)
        controls.addWidget(QLabel("Occlusion of", self))
        controls.addWidget(self.target_combo)
        controls.addStretch(1)
        self.statement = QLabel(NOT_ATTRIBUTION_TEXT, self)
        self.statement.setWordWrap(True)
        self.statement.setStyleSheet("color: #202020; font-weight: bold;")
        self.note = QLabel(self)  # what the family's map covers (modality: only windows with hidden tokens)
        self.note.setStyleSheet("color: #404040;")
        self.note.setWordWrap(True)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plot = add_plot(self.graphics.ci, row=0, col=0)
        style_plot(self.plot)
        self.plot.showGrid(x=False, y=False)
        use_time_axis(self.plot)
        self.plot.showAxis("right")
        self.plot.getAxis("right").setStyle(tickLength=0)
        self.plot.getAxis("right").setTextPen(pg.mkPen("#5d4037"))
        self.plot.getAxis("left").setStyle(tickLength=0)
        view = self.plot.getViewBox()
        view.invertY(True)  # first token on top
        view.setMouseEnabled(x=True, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colour_bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(ATTENTION_COLOURMAP),
                                          interactive=False, label="attention share", width=14)
        self.colour_bar.setImageItem(self.image, insert_in=self.plot)
        # The colour bars' titles, longest first (_fit_bar_labels shows the longest that fits the bar).
        self._bar_labels = [("attention share", "attention", ""), ("ΔP(high)", "ΔP")]
        self.separators: list[pg.InfiniteLine] = []
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=CURSOR_PEN)
        self.cursor.setZValue(30)
        self.plot.addItem(self.cursor, ignoreBounds=True)

        # the occlusion map: rows = occluded units, columns = windows, time-linked to the attention map
        self.occ_plot = add_plot(self.graphics.ci, row=1, col=0)
        style_plot(self.occ_plot)
        self.occ_plot.showGrid(x=False, y=False)
        use_time_axis(self.occ_plot)
        self.occ_plot.showAxis("right")
        for side in ("left", "right"):
            self.occ_plot.getAxis(side).setStyle(tickLength=0)
        self.occ_plot.getAxis("right").setTextPen(pg.mkPen("#5d4037"))
        self.occ_plot.setXLink(self.plot)
        occ_view = self.occ_plot.getViewBox()
        occ_view.invertY(True)
        occ_view.setMouseEnabled(x=True, y=False)
        occ_view.setBackgroundColor("#bdbdbd")  # grey where the unit was hidden already (NaN: transparent)
        self.occ_image = pg.ImageItem(axisOrder="row-major")
        self.occ_plot.addItem(self.occ_image)
        self.occ_bar = pg.ColorBarItem(values=(-0.1, 0.1), colorMap=pg.colormap.get(OCCLUSION_COLOURMAP),
                                       interactive=False, label="ΔP(high)", width=14)
        self.occ_bar.setImageItem(self.occ_image, insert_in=self.occ_plot)
        self.occ_bar.axis.enableAutoSIPrefix(False)  # probabilities: no "x0.001" scaling
        self.occ_cursor = pg.InfiniteLine(angle=90, movable=False, pen=CURSOR_PEN)
        self.occ_cursor.setZValue(30)
        self.occ_plot.addItem(self.occ_cursor, ignoreBounds=True)
        self.occ_rows: list[str] = []  # unit name of each occlusion row, top to bottom
        self._occ_labels: tuple[list, list] = ([], [])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.banner)
        layout.addLayout(controls)
        layout.addWidget(self.statement)
        layout.addWidget(self.note)
        self.graphics.setMinimumHeight(GRAPHICS_MIN_PX)  # the maps are never squeezed below readable
        layout.addWidget(self.graphics, 1)
        self.rows: list[int] = []  # token index of each image row, top to bottom
        self._labels: tuple[list, list] = ([], [])  # (row centre, text) for the left and right axes
        view.sigResized.connect(lambda _v: self._apply_ticks())
        occ_view.sigResized.connect(lambda _v: self._apply_ticks())
        for bar in (self.colour_bar, self.occ_bar):
            bar.getViewBox().sigResized.connect(lambda _v: self._fit_bar_labels())
        on_left_click(self.plot, lambda x, _y: self._on_click(x))
        on_left_click(self.occ_plot, lambda x, _y: self._on_click(x))
        model.analysisFinished.connect(self.set_result)
        model.cursorMoved.connect(self.cursor.setValue)
        model.cursorMoved.connect(self.occ_cursor.setValue)
        self.cursor_keys = CursorKeys(self.graphics, model, self.jumpRequested.emit)  # Left/Right/Home/End
        self.set_result(model.analysis)

    @property
    def family(self) -> str | None:
        """The query family shown."""
        return self.family_combo.currentData()

    def set_family(self, family: str) -> None:
        i = self.family_combo.findData(family)
        if i < 0:
            have = [self.family_combo.itemData(j) for j in range(self.family_combo.count())]
            raise ValueError(f"no attention family {family!r}; have {have}")
        self.family_combo.setCurrentIndex(i)

    def set_result(self, result: Any) -> None:
        """Show an AnalysisResult (``None`` clears the view)."""
        current = self.family
        self.family_combo.blockSignals(True)
        self.family_combo.clear()
        for fam in (result.attention if result is not None else {}):
            self.family_combo.addItem(FAMILY_TEXT.get(fam, fam), fam)
        i = self.family_combo.findData(current if current is not None else "category")
        self.family_combo.setCurrentIndex(max(i, 0))
        self.family_combo.blockSignals(False)
        target = self.target_combo.currentData()
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        for name in (result.targets if result is not None and result.occlusion is not None else ()):
            self.target_combo.addItem(f"P(high {name})", name)
        self.target_combo.setCurrentIndex(max(self.target_combo.findData(target), 0))
        self.target_combo.setEnabled(self.target_combo.count() > 0)
        self.target_combo.blockSignals(False)
        self.redraw()

    @property
    def target(self) -> str | None:
        """The output whose occlusion is shown."""
        return self.target_combo.currentData()

    def set_target(self, target: str) -> None:
        i = self.target_combo.findData(target)
        if i < 0:
            raise ValueError(f"no occlusion target {target!r}")
        self.target_combo.setCurrentIndex(i)

    def _row_order(self, result: Any) -> list[int]:
        """Tokens to show, grouped by modality in order of first appearance."""
        keep = [n for n in range(len(result.token_names))
                if not self.present_only.isChecked() or result.token_channels[n] is not None]
        first = {}
        for n in keep:
            first.setdefault(result.token_modalities[n], len(first))
        return sorted(keep, key=lambda n: (first[result.token_modalities[n]], n))

    def redraw(self) -> None:
        self._redraw_attention()
        self._redraw_occlusion()
        self._apply_ticks()

    def _redraw_attention(self) -> None:
        result = self.model.analysis
        family = self.family
        for line in self.separators:
            self.plot.removeItem(line)
        self.separators = []
        self.note.setText("")
        self.note.setToolTip("")
        if result is None or family is None or family not in result.attention:
            self.rows = []
            self.image.clear()
            self._labels = ([], [])
            self._apply_ticks()
            empty_time_range(self.model, self.plot)  # not pyqtgraph's -0.5..0.5 ("-00:00.4")
            return
        self.rows = self._row_order(result)
        att = np.asarray(result.attention[family], np.float32)  # (T, N)
        if family == "modality":
            n_hidden = int(np.asarray(result.hidden, bool).any(1).sum())
            self.note.setText(
                f"Modality queries reconstruct hidden tokens only: {n_hidden} of {result.n_windows} windows have "
                "hidden tokens and a map; the other columns are empty." if n_hidden < result.n_windows else "")
        reason = result.reason
        absent = [n for n, c in enumerate(result.token_channels) if c is None]
        if absent and self.present_only.isChecked():
            # One line for the model's channels this recording lacks (a one-channel EDF listed 39 of them, one
            # per line, under "Only channels in the recording"); each is in the tooltip.
            self.note.setText("\n".join(filter(None, [self.note.text(), absent_text(
                len(absent), len(result.token_names))])))
        if reason is not None and np.any(reason):  # why tokens are hidden (zero attention there), from the core
            listed = [n for n in range(reason.shape[1]) if np.any(reason[:, n])
                      and not (self.present_only.isChecked() and result.token_channels[n] is None)]
            why = [describe_hidden(result.token_names[n], reason[:, n], result.token_modalities[n]) for n in listed]
            every = [describe_hidden(result.token_names[n], reason[:, n], result.token_modalities[n])
                     for n in range(reason.shape[1]) if np.any(reason[:, n])]
            # At most NOTE_LINES channels here (6 lines and more squeezed the maps to a sliver in the dock); every
            # one in the tooltip and in the channel panel's tooltips.
            shown = why if len(why) <= NOTE_LINES + 1 else why[:NOTE_LINES] + [
                f"... and {len(why) - NOTE_LINES} more channels with hidden windows (hover here for all)"]
            self.note.setText("\n".join(filter(None, [self.note.text()] + shown)))
            self.note.setToolTip("\n".join(every))
        img = att[:, self.rows].T if self.rows else np.zeros((0, att.shape[0]), np.float32)  # (N_shown, T)
        self.image.setImage(img, autoLevels=False)
        hi = float(np.nanmax(img)) if img.size else 1.0
        self.colour_bar.setLevels((0.0, max(hi, 1e-6)))
        t0 = float(result.window_starts[0]) if result.n_windows else 0.0
        width = result.n_windows * result.window_s
        self.image.setRect(QRectF(t0, 0.0, width, float(len(self.rows))))
        names = [result.token_names[n] for n in self.rows]
        left = [(i + 0.5, name) for i, name in enumerate(names)]
        groups: list[tuple[str, int, int]] = []  # modality, first row, stop row
        for i, n in enumerate(self.rows):
            mod = result.token_modalities[n]
            if groups and groups[-1][0] == mod:
                groups[-1] = (mod, groups[-1][1], i + 1)
            else:
                groups.append((mod, i, i + 1))
        self._labels = (left, [((a + b) / 2, mod) for mod, a, b in groups])
        self._apply_ticks()
        for _mod, a, _b in groups[1:]:
            line = pg.InfiniteLine(a, angle=0, pen=pg.mkPen(255, 255, 255, 200, width=1))
            self.plot.addItem(line, ignoreBounds=True)
            self.separators.append(line)
        self.plot.setYRange(0, max(1, len(self.rows)), padding=0)
        self.plot.setXRange(t0, t0 + width, padding=0)
        self.cursor.setValue(self.model.cursor_s)

    def occlusion_matrix(self, result: Any) -> tuple[list[str], np.ndarray]:
        """Units shown and their (U_shown, T) change of P(high) of the chosen target when hidden, NaN where the
        unit was hidden already in the window (nothing to take away)."""
        if result is None or result.occlusion is None or self.target not in result.targets:
            return [], np.zeros((0, 0), np.float32)
        k = result.targets.index(self.target)
        hidden = np.asarray(result.hidden, bool)
        present = [c is not None for c in result.token_channels]
        rows, values = [], []
        for u, unit in enumerate(result.occlusion_units):
            if result.occlusion_by == "token":
                tokens = np.array([name == unit for name in result.token_names])
            else:
                tokens = np.array([m == unit for m in result.token_modalities])
            if self.present_only.isChecked() and not any(p for p, t in zip(present, tokens) if t):
                continue  # no channel of this unit in the recording
            seen = (~hidden[:, tokens]).any(1)  # (T,) windows where the unit had something to hide
            rows.append(unit)
            values.append(np.where(seen, result.occlusion[:, u, k], np.nan))
        return rows, (np.asarray(values, np.float32) if values else np.zeros((0, result.n_windows), np.float32))

    def _redraw_occlusion(self) -> None:
        result = self.model.analysis
        have = result is not None and result.occlusion is not None
        self.occ_plot.setVisible(have)
        # The time labels go under the occlusion map when it is shown (the maps share their time axis): the
        # attention map's own labels took ~35 px of a short dock from its rows.
        axis = self.plot.getAxis("bottom")
        axis.setStyle(showValues=not have)
        axis.titled = not have
        self.plot.setLabel("bottom", "" if have else axis.title())
        self.statement.setText(NOT_ATTRIBUTION_TEXT if have else NO_RESULT_STATEMENT if result is None else (
            "Attention is not attribution: the heatmap shows where the queries looked, not what moved the "
            "prediction (no occlusion map was computed for this analysis)."))
        if not have:
            self.occ_rows = []
            self.occ_image.clear()
            self._occ_labels = ([], [])
            return
        self.occ_rows, img = self.occlusion_matrix(result)
        # at most what shows every unit's name (rows of LABEL_SPACING_PX + 1 px); in a short dock the attention
        # map keeps three quarters of the extra height (stretch 3 : 1)
        # never below OCCLUSION_MIN_PX: with one unit (a one-channel recording) its colour bar's tick labels
        # ran into each other and its label "ΔP(high valence)" was cut
        # and never below what names every unit: its minimum was 70 px, and in a short dock ("EEG, EMG, RESP,
        # TEMP" of 7 modalities) every other row went unnamed
        height = max(OCCLUSION_MIN_PX, (LABEL_SPACING_PX + 1) * max(1, len(self.occ_rows)) + OCCLUSION_AXIS_PX)
        self.occ_plot.setMinimumHeight(height)
        self.occ_plot.setMaximumHeight(height)
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 1)
        self.occ_image.setImage(img, autoLevels=False)
        hi = float(np.nanmax(np.abs(img))) if np.isfinite(img).any() else 0.0
        self.occ_bar.setLevels((-max(hi, 1e-3), max(hi, 1e-3)))  # symmetric: white is "no change"
        self._bar_labels[1] = (f"ΔP(high {self.target})", "ΔP(high)", "ΔP")  # see _fit_bar_labels
        self._fit_bar_labels()
        t0 = float(result.window_starts[0]) if result.n_windows else 0.0
        self.occ_image.setRect(QRectF(t0, 0.0, result.n_windows * result.window_s, float(len(self.occ_rows))))
        mean = [float(np.nanmean(np.abs(row))) if np.isfinite(row).any() else float("nan") for row in img]
        self._occ_labels = ([(i + 0.5, u) for i, u in enumerate(self.occ_rows)],
                            [(i + 0.5, f"{m:.3f}" if np.isfinite(m) else "hidden") for i, m in enumerate(mean)])
        self.occ_plot.setYRange(0, max(1, len(self.occ_rows)), padding=0)
        self.occ_plot.getAxis("right").setLabel("mean |Δ|")
        self.occ_cursor.setValue(self.model.cursor_s)

    def _apply_ticks(self) -> None:
        """Put the row labels on the axes, skipping those closer than LABEL_SPACING_PX to the previous one."""
        for plot, rows, labels in ((self.plot, self.rows, self._labels),
                                   (self.occ_plot, self.occ_rows, self._occ_labels)):
            px_per_row = plot.getViewBox().height() / max(1, len(rows))
            for axis, lab in zip(("left", "right"), labels):
                shown, last = [], -1e9
                for pos, text in lab:
                    if (pos - last) * px_per_row >= LABEL_SPACING_PX:
                        shown.append((pos, text))
                        last = pos
                plot.getAxis(axis).setTicks([shown])
        self._align_axes()
        self._fit_bar_labels()

    def _fit_bar_labels(self) -> None:
        """Each colour bar's title, the longest of its forms that fits the bar's height (the whole one in its
        tooltip): in a short dock "attention share" and "ΔP(high valence)", written along bars 50 px high, ran
        into each other."""
        for bar, texts in zip((self.colour_bar, self.occ_bar), self._bar_labels):
            axis = bar.getAxis("left")  # where ColorBarItem puts its label
            room = bar.getViewBox().height()
            metrics = QFontMetrics(axis.label.font())
            text = next((t for t in texts if room <= 0 or metrics.horizontalAdvance(t) + 6 <= room), "")
            if axis.labelText != text:
                axis.setLabel(text)
            axis.setToolTip(texts[0])

    def _align_axes(self) -> None:
        """Give both maps' left axes one width and both right axes another, so that their time axes line up
        (each axis sized itself to its own labels: with one channel "Cz" over "EEG" the occlusion map's windows sat
        up to 20 px right of the attention map's, and a time read on one did not fall under it on the other)."""
        fm = QFontMetrics(self.graphics.font())
        for side, extra in (("left", 0), ("right", fm.height() + 4)):  # room for the "mean |Δ|" axis label
            texts = [t for _, t in self._labels[0 if side == "left" else 1]]
            texts += [t for _, t in self._occ_labels[0 if side == "left" else 1]]
            width = max((fm.horizontalAdvance(t) for t in texts), default=0) + AXIS_TEXT_MARGIN_PX + extra
            for plot in (self.plot, self.occ_plot):
                if plot.getAxis(side).width() != width:
                    plot.getAxis(side).setWidth(width)

    @property
    def image_data(self) -> np.ndarray | None:
        """The attention array shown, shape (tokens shown, windows)."""
        return self.image.image

    @property
    def occlusion_data(self) -> np.ndarray | None:
        """The occlusion array shown, shape (units shown, windows); None when there is none."""
        return self.occ_image.image

    def _on_click(self, x: float) -> None:
        result = self.model.analysis
        if result is None or result.n_windows == 0:
            return
        t = float(np.clip(x, result.window_starts[0], result.window_starts[-1] + result.window_s))
        self.model.set_cursor(t)
        self.jumpRequested.emit(t)

    def export_parts(self) -> list:
        """What an exported image shows: the banner, the family chosen, its note, the map (no controls)."""
        family = f"Family: {self.family_combo.currentText()}"
        if self.present_only.isChecked():
            family += " (only channels in the recording)"
        if self.target is not None:
            family += f"; occlusion of {self.target_combo.currentText()}"
        return [self.banner, family, self.statement.text(), self.note.text(), self.graphics]

    def copy_state_from(self, other: "AttentionMapView") -> None:
        """Show what ``other`` shows (family, token filter) -- for off-screen copies used by exports."""
        self.present_only.setChecked(other.present_only.isChecked())
        if other.family is not None:
            self.set_family(other.family)
        if other.target is not None:
            self.set_target(other.target)
