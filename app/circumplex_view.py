"""CircumplexView: the analysis as a path in the valence-arousal plane (Russell's circumplex).

x = probability of high valence, y = probability of high arousal, one point per window coloured by time (colour
bar: h:mm:ss from the start, as the other views' time axes; hidden while there is no analysis). The quadrants are labelled happy/excited (high V, high A), angry/stressed (low V, high A),
sad/bored (low V, low A) and calm/relaxed (high V, low A). The window under the time cursor is ringed; clicking
near a point moves the cursor and the browser to that window.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .analysis_banner import AnalysisBanner
from .model import AppModel
from .browser_state import format_hms
from .plot_helpers import TIME_LABEL_PX, add_plot, CursorKeys, TimeAxis, style_plot
from .trajectory_view import P_HIGH_TIP

#: (label, x, y, anchor) of the quadrant labels, in the plane's coordinates.
QUADRANTS = (
    ("happy / excited", 0.98, 0.98, (1, 0)),
    ("angry / stressed", 0.02, 0.98, (0, 0)),
    ("sad / bored", 0.02, 0.02, (0, 1)),
    ("calm / relaxed", 0.98, 0.02, (1, 1)),
)
#: Colour map of time along the path.
TIME_COLOURMAP = "viridis"
#: Colours of the points along the time colour map (enough to read time by; one symbol is drawn per colour).
TIME_COLOUR_LEVELS = 64
#: Label of the colour bar (it read "time (s)": 3 h showed as 0-10800 beside views in h:mm:ss).
TIME_BAR_LABEL = "time ([h:]mm:ss)"
#: The same in clock time (the browser's T).
TIME_BAR_CLOCK_LABEL = "clock time (hh:mm:ss)"
#: At most this many steps between the colour bar's tick labels.
TIME_BAR_TICKS = 6
#: A click counts on a point when it is this close, as a fraction of the plane's side.
PICK_RADIUS = 0.06
#: Said instead of an empty plane when the model predicts fewer than the two targets the plane needs.
ONE_TARGET_NOTE = ("This model predicts only {targets}: the valence-arousal plane needs both valence and arousal. "
                   "The trajectory view (Alt+1) shows what it predicts.")


class CircumplexView(QWidget):
    """Valence-arousal path; ``jumpRequested(t)`` asks the browser to show time ``t`` (s)."""

    jumpRequested = Signal(float)

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.banner = AnalysisBanner(model, self)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plot = add_plot(self.graphics.ci, row=0, col=0)
        style_plot(self.plot)
        self.plot.setLabel("bottom", "P(high valence)")
        self.plot.setLabel("left", "P(high arousal)")
        for side in ("left", "bottom"):  # what "P(high ...)" means
            self.plot.getAxis(side).setToolTip(P_HIGH_TIP)
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.getViewBox().setMouseEnabled(x=False, y=False)
        dash = pg.mkPen("#9e9e9e", style=Qt.PenStyle.DashLine)
        self.plot.addItem(pg.InfiniteLine(0.5, angle=90, pen=dash))
        self.plot.addItem(pg.InfiniteLine(0.5, angle=0, pen=dash))
        self.quadrant_labels = []
        for text, x, y, anchor in QUADRANTS:
            label = pg.TextItem(text, color="#5d4037", anchor=anchor)
            label.setPos(x, y)
            self.plot.addItem(label, ignoreBounds=True)
            self.quadrant_labels.append(label)
        self.colourmap = pg.colormap.get(TIME_COLOURMAP)
        self.path = pg.PlotCurveItem(pen=pg.mkPen(150, 150, 150, 120, width=1))
        self.points = pg.ScatterPlotItem(size=7, pen=pg.mkPen(None))
        self.marker = pg.ScatterPlotItem(size=16, pen=pg.mkPen("#2e7d32", width=2.5), brush=pg.mkBrush(None))
        self.marker.setZValue(20)
        for item in (self.path, self.points, self.marker):
            self.plot.addItem(item)
        self.colour_bar = pg.ColorBarItem(values=(0, 1), colorMap=self.colourmap, interactive=False,
                                          label=TIME_BAR_LABEL, width=14)
        self.graphics.addItem(self.colour_bar, row=0, col=1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        # Said when the plane stays empty because the model has one target (an empty plane with no word before).
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setContentsMargins(8, 4, 8, 4)
        self.note.setStyleSheet("color: #5d4037; background: #fff8e1")
        self.note.hide()
        layout.addWidget(self.banner)
        layout.addWidget(self.note)
        layout.addWidget(self.graphics, 1)
        self._xy = np.zeros((0, 2))
        self._centres = np.zeros(0)
        self.plot.scene().sigMouseClicked.connect(self._on_scene_click)
        model.analysisFinished.connect(self.set_result)
        model.cursorMoved.connect(self._show_cursor)
        self.cursor_keys = CursorKeys(self.graphics, model, self.jumpRequested.emit)  # Left/Right/Home/End
        self.set_result(model.analysis)

    @property
    def n_points(self) -> int:
        """Number of windows drawn."""
        return int(self._xy.shape[0])

    def set_result(self, result: Any) -> None:
        """Show an AnalysisResult (``None`` clears the view)."""
        one_target = result is not None and len(result.targets) < 2
        self.note.setText(ONE_TARGET_NOTE.format(targets=" and ".join(result.targets) or "no target")
                          if one_target else "")
        self.note.setVisible(one_target)
        if result is None or len(result.targets) < 2:
            self._xy, self._centres = np.zeros((0, 2)), np.zeros(0)
            self.path.setData([], [])
            self.points.setData([], [])
            self.marker.setData([], [])
            self.colour_bar.setVisible(False)  # an empty plane has no time to show (it read 0-1 s)
            return
        kv = result.targets.index("valence") if "valence" in result.targets else 0
        ka = result.targets.index("arousal") if "arousal" in result.targets else 1
        xy = np.column_stack([result.probabilities[:, kv], result.probabilities[:, ka]]).astype(float)
        centres = np.asarray(result.window_starts, float) + result.window_s / 2
        seen = ~np.asarray(result.no_context, bool)  # windows with no visible data hold only the prior: left out
        xy, centres = xy[seen], centres[seen]
        self._xy, self._centres = xy, centres
        t0, t1 = (float(centres[0]), float(centres[-1])) if centres.size else (0.0, 1.0)
        frac = (centres - t0) / max(t1 - t0, 1e-9)
        # One brush object per colour level, shared by the points: pyqtgraph renders a symbol per distinct brush
        # object, and a brush per window rendered 240 symbols for the 4-min sample (0.2-0.45 s of frozen window
        # at each analysis) and 3,600 for an hour.
        palette = self._palette()
        brushes = [palette[i] for i in np.rint(frac * (len(palette) - 1)).astype(int).tolist()]
        self.path.setData(xy[:, 0], xy[:, 1])
        self.points.setData(x=xy[:, 0], y=xy[:, 1], brush=brushes, data=np.arange(len(xy)))
        self.colour_bar.setLevels((t0, max(t1, t0 + 1e-6)))
        self.colour_bar.setVisible(True)
        self._set_time_bar(t0, t1)
        self._show_cursor(self.model.cursor_s)

    def _palette(self) -> list:
        """:data:`TIME_COLOUR_LEVELS` brushes along the time colour map (made once)."""
        if getattr(self, "_brushes", None) is None:
            levels = np.linspace(0.0, 1.0, TIME_COLOUR_LEVELS)
            self._brushes = [pg.mkBrush(c) for c in self.colourmap.map(levels, mode="qcolor")]
        return self._brushes

    def _set_time_bar(self, t0: float, t1: float) -> None:
        """The colour bar's times from ``t0`` to ``t1`` (s), as the browser reads time, and its title."""
        ticks = self.time_ticks(t0, t1, self._format_time)
        axis = self.colour_bar.axis
        axis.setTicks([ticks])
        title = self.colour_bar.getAxis("left")  # where ColorBarItem puts its label
        wanted = TIME_BAR_CLOCK_LABEL if self._clock_key else TIME_BAR_LABEL
        if title.labelText != wanted:
            title.setLabel(wanted)
        # Room for the widest label: the bar's axis kept the width of "0:30", and clock times ("00:01:00") were
        # dropped by pyqtgraph as too wide, leaving a bar with ticks and no times.
        font = axis.style["tickFont"] or axis.font()
        widest = max((QFontMetrics(font).horizontalAdvance(text) for _, text in ticks), default=0)
        axis.setWidth(widest + max(0, axis.style["tickLength"]) + axis.style["tickTextOffset"][0] + 6)

    _format_time = None  # the colour bar's time labels: h:mm:ss, or the browser's (clock_changed)
    _clock_key = False  # the browser shows clock time

    def clock_changed(self, clock) -> None:
        """The browser's time mode (:func:`~app.plot_helpers.follow_clock`): the colour bar's times read as its
        axis does (h:mm:ss from the start, or clock time)."""
        if self._format_time != clock.format_time or self._clock_key != clock.clock_time:
            self._format_time = clock.format_time
            self._clock_key = clock.clock_time
            if self._centres.size:  # only the bar's times change (redrawing the points took 0.5 s)
                self._set_time_bar(float(self._centres[0]), float(self._centres[-1]))

    @staticmethod
    def time_ticks(t0: float, t1: float, format_time=None) -> list[tuple[float, str]]:
        """Colour-bar ticks from ``t0`` to ``t1`` (s): at most :data:`TIME_BAR_TICKS`, on the time axes' clock
        steps (at most TIME_BAR_TICKS intervals), labelled h:mm:ss (mm:ss under an hour) like them, or as
        ``format_time(seconds, decimals)`` reads them (the browser's clock time)."""
        step = TimeAxis.step_for(max(t1 - t0, 1e-9), TIME_BAR_TICKS * TIME_LABEL_PX)
        first = np.ceil(t0 / step) * step
        values = np.arange(first, t1 + 1e-9, step)
        decimals = 0 if step >= 1 else 1
        if format_time is None:
            return [(float(v), format_hms(float(v), decimals=decimals)) for v in values]
        return [(float(v), format_time(float(v), decimals)) for v in values]

    def window_at_time(self, t_s: float) -> int | None:
        """Index of the window containing ``t_s`` (the nearest one), or None without a result."""
        result = self.model.analysis
        if result is None or self._centres.size == 0:
            return None
        return int(np.argmin(np.abs(self._centres - t_s)))

    def _show_cursor(self, t_s: float) -> None:
        i = self.window_at_time(t_s)
        if i is None:
            self.marker.setData([], [])
        else:
            self.marker.setData([self._xy[i, 0]], [self._xy[i, 1]])

    def point_near(self, x: float, y: float) -> int | None:
        """Index of the window whose point is nearest to (x, y), if within :data:`PICK_RADIUS`."""
        if self._xy.shape[0] == 0:
            return None
        d = np.hypot(self._xy[:, 0] - x, self._xy[:, 1] - y)
        i = int(np.argmin(d))
        return i if d[i] <= PICK_RADIUS else None

    def _on_scene_click(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        view = self.plot.getViewBox()
        if not view.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = view.mapSceneToView(ev.scenePos())
        i = self.point_near(p.x(), p.y())
        if i is not None:
            t = float(self._centres[i])
            self.model.set_cursor(t)
            self.jumpRequested.emit(t)

    def export_parts(self) -> list:
        """What an exported image shows: the banner and the plot (see :mod:`app.view_export`)."""
        return [self.banner, self.note, self.graphics]  # view_export leaves a hidden note out

    def copy_state_from(self, other: "CircumplexView") -> None:
        """Show what ``other`` shows (nothing to copy: the plane is fixed)."""
