"""SignalBrowser: a page of stacked traces, one row per channel, with annotations, interference and masks.

Conventions follow EDFbrowser and MNE's browser:

=====================  ==========================================================================
PageDown / PageUp      next / previous page; the mouse wheel does the same
Right / Left           a quarter page forward / back
Home / End             start / end of the recording
``,`` / ``.``          shorter / longer page (also Ctrl+wheel); lengths in :data:`PAGE_LENGTHS`
``+`` / ``-``          larger / smaller amplitude of the modality chosen by :meth:`set_scale_target`
C                      raw -> cleaned -> both overlaid (cleaned in a second colour)
M                      mask mode: a drag across the traces masks a segment (or Shift+drag)
Ctrl+G                 jump to a time
=====================  ==========================================================================

Clicking a channel label masks (or unmasks) the whole channel; a right click on a masked segment deletes it.
Clicking a masked segment focuses it (the reconstruction view shows it) and gives it handles: dragging its edges
(or its body) adjusts it as one undoable edit when the mouse is released.

Speed: one PlotItem holds every trace at its own vertical offset (one scene, one ViewBox, as MNE's Qt browser
does: cheaper than one PlotItem per channel). Curves are created once per recording and only get ``setData`` on
a page step. A page reads only its own span (``Recording.get_data``; cleaned signals are in memory) and is
decimated to the plot width with :func:`app.decimate.peak_decimate`. Spans (annotations, interference, masks)
are drawn with pooled graphics items: only those on the page are shown, and the items are reused.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QPen, QWheelEvent
from PySide6.QtWidgets import QGraphicsRectItem, QInputDialog, QVBoxLayout, QWidget

from mmqnet_core.recording import Modality, Recording

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


class SignalBrowser(QWidget):
    """Stacked traces of the open recording, one page at a time (see the module docstring for the keys)."""

    pageChanged = Signal(float, float)  # start, stop of the page, s
    modeChanged = Signal(str)  # "raw", "cleaned" or "both"
    scaleChanged = Signal()
    maskModeChanged = Signal(bool)
    channelLabelClicked = Signal(str)  # channel name

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._rec: Recording | None = None
        self._rows: list[int] = []  # recording channel index shown on each row, top to bottom
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
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        bottom = self.plot.getAxis("bottom")
        bottom.setLabel("time", units="s")
        for axis in (bottom, self._axis):
            axis.setTextPen(pg.mkPen("#303030"))
            axis.setPen(pg.mkPen("#808080"))
        self._vb.invertY(True)
        self._vb.setDefaultPadding(0.0)

        self._raw_curves: list[pg.PlotCurveItem] = []
        self._clean_curves: list[pg.PlotCurveItem] = []
        self._annotation_regions = _Pool(self._vb, lambda: self._make_region(ANNOTATION_COLOUR))
        self._interference_regions = _Pool(self._vb, lambda: self._make_region(INTERFERENCE_COLOUR))
        self._row_spans = _Pool(self._vb, lambda: _SpanRect(INTERFERENCE_COLOUR))
        self._labels = _Pool(self._vb, self._make_label)
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

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)

        # A resize changes the number of pixels, hence the decimation: redraw once the resizing settles.
        self._resize_timer = single_shot_timer(self, 60)
        self._resize_timer.timeout.connect(self.refresh)
        self._vb.sigResized.connect(self._resize_timer.start)

        model.recordingLoaded.connect(self._on_recording_loaded)
        model.recordingChanged.connect(self._on_recording_changed)
        model.cleanedReady.connect(lambda _result: self.refresh())
        model.masksChanged.connect(self._on_masks_changed)
        model.visibilityChanged.connect(lambda _hidden: self._rebuild_rows())
        model.selectionChanged.connect(self._on_selection_changed)
        model.cursorMoved.connect(self._on_cursor_moved)
        model.maskFocusChanged.connect(lambda _f: self._show_edit_region())

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
        """Names of the channels shown, top to bottom."""
        if self._rec is None:
            return []
        return [self._rec.channels[i].name for i in self._rows]

    def scale(self, modality: Modality | str) -> float:
        """Amplitude shown per row spacing for ``modality``, in the channel's unit (e.g. V for EEG)."""
        return self._scales.get(Modality.parse(modality), 1.0)

    @property
    def scale_target(self) -> Modality | None:
        return self._scale_target

    def row_of(self, ch_name: str) -> int:
        """Row (0 = top) of a shown channel, in view coordinates."""
        return self.visible_channels.index(ch_name)

    def curves(self, ch_name: str) -> tuple[pg.PlotCurveItem, pg.PlotCurveItem]:
        """The raw and cleaned curve items of a shown channel."""
        row = self.row_of(ch_name)
        return self._raw_curves[row], self._clean_curves[row]

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

    # --- navigation ----------------------------------------------------------------------------------------
    def set_start(self, start_s: float) -> None:
        """Show the page that starts at ``start_s`` (clamped to the recording), s."""
        duration = self._rec.duration_s if self._rec is not None else 0.0
        start_s = min(float(start_s), max(0.0, duration - self._page_s))
        start_s = max(0.0, start_s)
        if start_s != self._start_s:
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
        target = self._scale_target
        if key == Qt.Key.Key_PageDown:
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
        step = -1 if delta > 0 else 1  # wheel away from the user = back in time / shorter page
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            self.step_page_length(step)
        else:
            self.scroll_pages(step)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API), wheel over the margins
        self._on_wheel(event.angleDelta().y(), event.modifiers())
        event.accept()

    def _row_name(self, y: float) -> str | None:
        row = int(round(y))
        names = self.visible_channels
        return names[row] if 0 <= row < len(names) else None

    def _on_label_click(self, row: int) -> None:
        names = self.visible_channels
        if 0 <= row < len(names):
            self.channelLabelClicked.emit(names[row])
            self.model.toggle_channel_mask(names[row])

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
        self._start_s = 0.0
        self._page_s = min(self._page_s, max(PAGE_LENGTHS[0], recording.duration_s))
        self._scales = {}
        self._rebuild_rows(autoscale=True)

    def _on_recording_changed(self, recording: Recording) -> None:
        self._rec = recording
        self._rebuild_rows(autoscale=True)

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

    def _rebuild_rows(self, autoscale: bool = False) -> None:
        """Create the curve items for the shown channels (only when the channel list changes)."""
        rec = self._rec
        if rec is None:
            return
        hidden = self.model.hidden
        self._rows = [i for i, c in enumerate(rec.channels) if c.name not in hidden]
        for curve in self._raw_curves + self._clean_curves:
            self._vb.removeItem(curve)
        self._raw_curves, self._clean_curves = [], []
        for _ in self._rows:
            raw = pg.PlotCurveItem(skipFiniteCheck=True)
            clean = pg.PlotCurveItem(skipFiniteCheck=True)
            raw.setZValue(1)
            clean.setZValue(2)
            self._vb.addItem(raw)
            self._vb.addItem(clean)
            self._raw_curves.append(raw)
            self._clean_curves.append(clean)
        self._apply_pens()
        self._axis.set_names(self.visible_channels)
        n = max(1, len(self._rows))
        self._vb.setYRange(-0.7, n - 0.3, padding=0)
        missing = {c.modality for c in rec.channels} - set(self._scales)
        if autoscale or missing:
            self._autoscale(missing if not autoscale else None)
        self._on_masks_changed(self.model.masks)
        self.refresh()

    def _apply_pens(self) -> None:
        raw_pen = pg.mkPen(self._raw_colour, width=1)
        # In "both" mode the raw trace is drawn lighter so that the cleaned trace on top stays readable.
        raw_both = QColor(self._raw_colour)
        raw_both.setAlpha(110)
        raw_pen_both = pg.mkPen(raw_both, width=1)
        clean_pen = pg.mkPen(self._cleaned_colour, width=1)
        for curve in self._raw_curves:
            curve.setPen(raw_pen_both if self._mode == "both" else raw_pen)
        for curve in self._clean_curves:
            curve.setPen(clean_pen)

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
        n_bins = self._n_bins()
        draw_raw = self._mode in ("raw", "both")
        draw_clean = self._mode in ("cleaned", "both")
        cleaned = getattr(self.model.preprocess_result, "cleaned", None)
        self.status = ""
        if draw_clean and cleaned is None:
            draw_raw = True  # nothing else to show yet
            self.status = "cleaned signals not ready: showing raw"
        if draw_raw and self._rows:
            data = rec.get_data(start, stop, picks=self._rows)
            first = int(round(start * rec.sfreq))
            self._set_curves(self._raw_curves, data, first / rec.sfreq, rec.sfreq, n_bins,
                             [rec.channels[i].modality for i in self._rows])
        else:
            for curve in self._raw_curves:
                curve.setData([], [])
        if draw_clean and cleaned is not None and self._rows:
            offset = float(getattr(self.model.preprocess_result, "start_s", 0.0))
            self._draw_cleaned(cleaned, start - offset, stop - offset, offset, n_bins)
        else:
            for curve in self._clean_curves:
                curve.setData([], [])
        self._draw_spans()
        self.pageChanged.emit(start, stop)

    def _draw_cleaned(self, cleaned: Any, start: float, stop: float, offset: float, n_bins: int) -> None:
        """Draw cleaned signals (in memory); ``start``/``stop`` are relative to their sample 0 at ``offset`` s."""
        index = {name: i for i, name in enumerate(cleaned.ch_names)}
        rows = [index.get(self._rec.channels[i].name) for i in self._rows]
        present = [r for r in rows if r is not None]
        first = max(0, int(round(start * cleaned.sfreq)))
        last = min(cleaned.n_times, int(round(stop * cleaned.sfreq)))
        block = np.asarray(cleaned.data[present, first:last], dtype=np.float64) if present else np.zeros((0, 0))
        data = np.full((len(rows), block.shape[1] if present else 0), np.nan)
        k = 0
        for j, r in enumerate(rows):
            if r is not None:
                data[j] = block[k]
                k += 1
        self._set_curves(self._clean_curves, data, offset + first / cleaned.sfreq, cleaned.sfreq, n_bins,
                         [self._rec.channels[i].modality for i in self._rows])

    def _set_curves(self, curves: list[pg.PlotCurveItem], data: np.ndarray, t0: float, sfreq: float,
                    n_bins: int, modalities: list[Modality]) -> None:
        """Offset, scale, decimate and hand one page to the curve items (row ``i`` at y = i)."""
        if data.shape[1] == 0:
            for curve in curves:
                curve.setData([], [])
            return
        # Per-page mean removal (MNE's remove_dc): slow signals (GSR, temperature) stay centred on their row.
        with np.errstate(all="ignore"):
            centre = np.nanmean(data, axis=1, keepdims=True)
        centre = np.nan_to_num(centre)
        scales = np.array([self._scales.get(m, 1.0) for m in modalities])[:, None]
        # The y axis points down (row 0 on top), hence the minus: positive values are drawn upwards.
        y = np.arange(len(curves))[:, None] - (data - centre) / scales
        times, y = peak_decimate(y, t0, sfreq, n_bins)
        finite = bool(np.isfinite(y).all())
        for curve, row in zip(curves, y):
            curve.setData(times, row, connect="all" if finite else "finite")

    def _draw_spans(self) -> None:
        """Show the annotations, interference spans and masks that fall on the page."""
        rec = self._rec
        if rec is None:
            return
        start, stop = self.visible_range()
        names = self.visible_channels
        row = {n: i for i, n in enumerate(names)}
        top, bottom = -0.7, len(names) - 0.3
        for pool in (self._annotation_regions, self._interference_regions, self._row_spans, self._labels,
                     self._mask_rects):
            pool.begin()

        def on_page(onset: float, end: float) -> bool:
            return end >= start and onset <= stop

        interference = getattr(self.model.preprocess_result, "interference", ()) or ()
        for spans, regions, kind in ((rec.annotations, self._annotation_regions, "annotation"),
                                     (interference, self._interference_regions, "interference")):
            for ann in spans:
                if not on_page(ann.onset, ann.end):
                    continue
                rows = [row[c] for c in ann.ch_names if c in row]
                if ann.ch_names and not rows:
                    continue  # only on hidden channels
                if rows:
                    for r in rows:
                        item = self._row_spans.take()
                        item.setBrush(QBrush(ANNOTATION_COLOUR if kind == "annotation" else INTERFERENCE_COLOUR))
                        item.setRect(QRectF(ann.onset, r - 0.5, max(ann.duration, 1e-3), 1.0))
                else:
                    region = regions.take()
                    region.setRegion((ann.onset, ann.end))
                label = self._labels.take()
                label.setText(ann.description)
                label.setPos(QPointF(max(ann.onset, start), top if not rows else rows[0] - 0.5))

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

    def shown_mask_rects(self) -> list[QRectF]:
        """Rectangles (view coordinates: s, rows) of the masks drawn on the page (for tests)."""
        return [item.rect() for item in self._mask_rects.shown()]

    def shown_annotation_count(self) -> int:
        """Number of annotation and interference spans drawn on the page (for tests)."""
        return self._annotation_regions.used + self._interference_regions.used + self._row_spans.used
