"""MainWindow: menus, toolbar, docks and status bar around the SignalBrowser.

The window wires the widgets to the :class:`~app.model.AppModel` and runs the long work (opening a file,
cleaning it, analysing it with MMQ-Net) through a :class:`~app.workers.TaskRunner`. The analysis views
(trajectory, circumplex, attention map, reconstruction) live in tabbed docks whose layout is restored from
QSettings. It holds no signal processing: it calls
``mmqnet_core.io.load_recording`` and ``mmqnet_core.preprocessing.preprocess``, imported when first used so
that the window opens even when a core module is missing (the action then reports the missing module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mmqnet_core.errors import CheckpointError, MMQNetError, RecordingError
from mmqnet_core.progress import CancelToken, ProgressCallback
from mmqnet_core.recording import Modality, Recording

from .analysis import (AnalysisRun, atomic_write, model_usable, resolve_checkpoint, run_analysis,
                       start_model_process, write_trajectories_csv)
from .browser_controls import BrowserControls, return_focus
from .channel_panel import ChannelPanel
from .dialog_focus import DialogFocusReturn
from .elided_label import ElidedLabel, warning_label
from . import errors as errors_module
from . import key_bindings
from .errors import ANALYSIS_CONTEXT, notify_error
from .log_panel import LogPanel
from .mask_table import MaskTable
from .model import AppModel
from .overview_bar import OverviewBar
from .plot_helpers import follow_clock, prepare_plot_item
from .preferences import Preferences, PreferencesDialog, add_recent_file, load_preferences, make_settings, \
    recent_files, save_preferences
from .qt_compat import install_refcount_guard, top_up_refcounts
from .resources import app_icon
from .review_tools import ReviewTools
from .signal_browser import CHANNELS_PER_PAGE, MODES, PAGE_LENGTHS, SCALE_STEP, SignalBrowser
from .workers import TaskRunner
from .lazy_qt import create_window_classes

create_window_classes()  # PySide6 classes the window needs: made at import (as before app.lazy_qt), not in MainWindow()


if TYPE_CHECKING:  # the analysis views are imported when first built (see _view_specs)
    # and the dialogs, the report and the view export on first use (none is needed for the first paint)
    from .report import ReportInfo
    from .shortcuts_dialog import ShortcutsDialog
    from .attention_map_view import AttentionMapView
    from .circumplex_view import CircumplexView
    from .reconstruction_view import ReconstructionView
    from .trajectory_view import TrajectoryView

log = logging.getLogger(__name__)

ANALYSIS_DOCK_MIN_PX = 280  # an analysis view shown is at least this tall (where the window allows it), px
ANALYSIS_DOCK_SHARE = 0.38  # ... or this share of the window's height, whichever is more

#: File dialog filter for recordings.
OPEN_FILTER = "Recordings (*.bdf *.edf *.BDF *.EDF *.dat);;All files (*)"
#: Version of the dock layout saved in QSettings (bump when docks are added or renamed).
STATE_VERSION = 2
#: Size (px) of an analysis view exported while its dock is hidden.
VIEW_SIZES = {"trajectory": (1100, 380), "circumplex": (620, 560), "attention": (1000, 520),
              "reconstruction": (1000, 560)}
#: On quit, how long running tasks get to stop after being cancelled before they are abandoned, s (the process
#: must be gone within 2 s of the user's answer). The core's loops stop within ~0.3 s of a cancel (measured,
#: ``bench_scale.py --cancel-latency``); a step that cannot be interrupted (torch's import, a library's filter)
#: would not stop within 1.5 s either, and the process then ends without waiting for it (``app.main``).
QUIT_WAIT_S = 0.5
#: Run the model of a checkpoint in a helper process (``mmqnet_core.inference.model_process``): torch's import and
#: the checkpoint's load held the GUI thread's interpreter lock for up to ~1 s at a time in a worker thread
#: (``bench/bench_gui_stall.py``). Spans longer than the core's ``REMOTE_MAX_S`` keep it in this process (their
#: features and results would be copied between the processes, as in ``mmqnet analyze``).
ANALYSIS_PROCESS = True
#: While an analysis runs, the trajectory view (shown when it ends) is made ahead, one small step per turn of the
#: event loop this many ms apart (its modules, each of its three PlotItems, then the view): built at the end, it
#: held the GUI thread ~0.1-0.3 s just as the result arrived (``bench/bench_gui_stall.py``, phase "shown 1").
VIEW_PREPARATION_STEP_MS = 40
#: Said first in the status bar's page label while a drag on the traces masks / annotates (what a drag does).
MASK_MODE_TEXT = "MASK MODE: a drag masks (M or Esc leaves) | "
ANNOTATE_MODE_TEXT = "ANNOTATE MODE: a drag annotates (A leaves) | "
#: Status bar message after the user cancelled an analysis, and how long status messages stay, ms.
ANALYSIS_CANCELLED_TEXT = "Analysis of {title} cancelled: the views keep what they showed (F5 runs it again)."
STATUS_MESSAGE_MS = 8000
#: Help > About: what a reader must know before trusting a number on screen.
ABOUT_CAVEAT = ("Not a medical device. The shipped model was trained on SYNTHETIC recordings only: its valence "
                "and arousal on real recordings mean nothing until a model trained on real data is set in "
                "Edit > Preferences (README, 'Training on real data').")
#: Default width of the channel and mask docks, px, and the most of the window's width each takes by default.
SIDE_DOCK_PX = (220, 330)
SIDE_DOCK_SHARE = 0.23
#: Default height of the log (and analysis) docks, px, and the most of the window's height it takes by default.
BOTTOM_DOCK_PX = 200
BOTTOM_DOCK_SHARE = 0.25
#: When the window is made narrower, the side docks shrink while the browser has less than this share of it.
BROWSER_MIN_SHARE = 0.5
#: Width of the status bar's progress bar, px (its text is elided to it).
PROGRESS_MIN_PX = 150
PROGRESS_MAX_PX = 260
#: Room the style keeps around a progress bar's text, px.
PROGRESS_TEXT_MARGIN_PX = 12
#: Size (px) of the views drawn for the report (close to the boxes they fill).
REPORT_VIEW_SIZES = {"trajectory": (1100, 450), "circumplex": (540, 600), "attention": (540, 600),
                     "reconstruction": (1000, 560)}


def format_duration(seconds: float) -> str:
    """A recording's length for the status bar: "12.0 s", "4 min 00 s", "1 h 25 min 03 s"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


# --- core calls run in workers (module level: no widget or model is reachable from a worker) -----------------
def load_file(path: Path, *, progress: ProgressCallback | None = None,
              cancel: CancelToken | None = None) -> Recording:
    """Open ``path`` with ``mmqnet_core.io.load_recording`` (a clear error if that module is missing)."""
    try:
        from mmqnet_core.io import load_recording
    except ImportError as exc:
        raise RecordingError(f"Cannot open {path}: the reader module mmqnet_core.io is not available ({exc}). "
                             "Reinstall MMQ-Net Studio.") from exc
    return load_recording(path, progress=progress, cancel=cancel)


def clean_recording(recording: Recording, prefs: Preferences, masks: Any = None, *,
                    progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> Any:
    """Clean the whole recording with its masks (missing data) using the preferences.

    Goes through the core's cleaning cache (``mmqnet_core.preprocessing.cached_preprocess``), which the analysis
    also uses: running MMQ-Net after the display cleaning does not clean again. A long recording is cleaned on
    demand, page by page (``mmqnet_core.preprocessing.on_demand.clean_for_display``: only the fit here).
    """
    try:
        from mmqnet_core._stepwise_import import CLEANING_MODULES, import_in_steps

        # The first cleaning of a session imports scipy's stack (~0.7 s of CPU): in steps, so that the task pauses
        # between them while the reader turns pages (app.workers.UserActivity).
        import_in_steps(CLEANING_MODULES, cancel=cancel)
        from mmqnet_core.preprocessing import PreprocessConfig  # noqa: F401 (checks the install)
        from mmqnet_core.preprocessing.on_demand import clean_for_display
    except ImportError as exc:
        raise RecordingError(f"Cannot clean {recording.title}: the module mmqnet_core.preprocessing is not "
                             f"available ({exc}). Reinstall MMQ-Net Studio.") from exc
    return clean_for_display(recording, display_cleaning_config(prefs), masks=masks, progress=progress,
                             cancel=cancel)


def display_cleaning_config(prefs: Preferences) -> Any:
    """The cleaning settings of the displayed cleaned trace: the core's defaults with the preferences' line
    frequency and EEG pass band (a PreprocessConfig)."""
    from mmqnet_core.preprocessing import PreprocessConfig

    config = PreprocessConfig(line_freq=prefs.line_freq_hz)
    bands = getattr(config, "bands", None)
    if bands is not None:  # the EEG pass band comes from the preferences
        bands = tuple((m, prefs.eeg_low_hz or None, prefs.eeg_high_hz) if m == Modality.EEG else (m, lo, hi)
                      for m, lo, hi in bands)
        config = replace(config, bands=bands)
    return config


def cleaning_matches_model(prefs: Preferences) -> bool | None:
    """Whether the displayed cleaned trace is the analysis' input: True when the display cleaning's settings equal
    those of the checkpoint set in the preferences (the analysis cleans as its checkpoint was trained), False
    when they differ, None when the checkpoint's settings cannot be read without loading it."""
    from mmqnet_core.inference.model_loading import checkpoint_preprocess_config

    model_config = checkpoint_preprocess_config(prefs.checkpoint or None)
    return None if model_config is None else display_cleaning_config(prefs) == model_config


def clean_for_browser(recording: Recording, prefs: Preferences, masks: Any = None, *,
                      progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> tuple:
    """The window's cleaning task: (:func:`clean_recording`'s result, :func:`cleaning_matches_model`)."""
    result = clean_recording(recording, prefs, masks, progress=progress, cancel=cancel)
    return result, cleaning_matches_model(prefs)


def _display_masks(masks: Any) -> Any:
    """The masks the display cleaning uses: all but the simulated ones, so that the data a simulation hides stay
    visible (and are the truth the analysis compares its reconstructions with; the analysis cleans with all)."""
    return None if masks is None else masks.without_source("simulated")


def _remote_max_s() -> float:
    """The longest span whose model runs in a helper process, s (the core's ``REMOTE_MAX_S``)."""
    from mmqnet_core.inference.model_process import REMOTE_MAX_S

    return REMOTE_MAX_S


def describe_device(device: str) -> str:
    """Compute device text for the status bar (``mmqnet_core.device`` when present, else "CPU")."""
    try:
        from mmqnet_core.device import describe_device as core_describe, select_device
    except ImportError:
        return "CPU"
    try:
        return str(core_describe(select_device(device)))
    except MMQNetError as exc:  # e.g. "cuda" asked for on a machine without it
        log.warning("%s", exc)
        return f"{device} not available"
    except Exception as exc:  # noqa: BLE001 - the status bar must not stop the window from opening
        log.warning("cannot describe compute device %r: %s", device, exc)
        return "CPU"


#: Work kept for after the first page's paint runs at the latest this long after it was asked for, ms.
AFTER_PAINT_LIMIT_MS = 1000


class _FirstPaint(QObject):
    """Calls ``then`` once, when ``widget`` receives its first Paint event."""

    def __init__(self, widget: QWidget, then: Callable[[], None], *, delete: bool = False) -> None:
        super().__init__(widget)
        self._then = then
        self._delete = delete  # deleted once it has called ``then``
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint and self._then is not None:
            then, self._then = self._then, None
            obj.removeEventFilter(self)
            then()
            if self._delete:
                self.deleteLater()
        return False


class MainWindow(QMainWindow):
    """The MMQ-Net Studio main window."""

    def __init__(self, settings: QSettings | None = None, device: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        install_refcount_guard(QApplication.instance())
        self.setWindowTitle("MMQ-Net Studio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.settings = settings or make_settings()
        self.prefs = load_preferences(self.settings)
        if device is not None:
            self.prefs = replace(self.prefs, device=device)
        self.model = AppModel(self)
        self.runner = TaskRunner(self)
        self.last_error: Any = None  # the last ErrorMessage shown (for the selftest and tests)
        self.closed_during_work = False  # closed with "Stop and quit": app.main then ends the process at once
        self._generation = 0  # bumped whenever the recording changes; stale cleaning results are dropped

        self.browser = SignalBrowser(self.model, self)
        self.dialog_focus = DialogFocusReturn(self)  # the keys back after a dialog, also with no window manager
        self.browser.set_colours(self.prefs.raw_colour, self.prefs.cleaned_colour)
        self.browser_controls = BrowserControls(self.browser, self.settings, self)
        self.overview = OverviewBar(self.model, self)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 0)
        layout.setSpacing(2)
        layout.addWidget(self.overview)
        layout.addWidget(self.browser, 1)
        self.setCentralWidget(central)

        self.channel_panel = ChannelPanel(self.model, self)
        self.mask_table = MaskTable(self.model, self)
        self.log_panel = LogPanel(self)
        self.channel_dock = self._dock("Channels", self.channel_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.mask_dock = self._dock("Masks", self.mask_table, Qt.DockWidgetArea.RightDockWidgetArea)
        self.log_dock = self._dock("Log", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        # The analysis views are built when their dock is first shown or a view is first used (see _view below):
        # the four plots took about three quarters of the window's creation time.
        self._views: dict[str, QWidget] = {}
        self._view_preparation: Any = None  # steps making the trajectory view ahead (see _prepare_views)
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.trajectory_dock = self._dock("Trajectory", QWidget(self), bottom)
        self.circumplex_dock = self._dock("Circumplex", QWidget(self), bottom)
        self.attention_dock = self._dock("Attention", QWidget(self), bottom)
        self.reconstruction_dock = self._dock("Reconstruction", QWidget(self), bottom)
        for name, dock in self._view_docks().items():  # the views' modules are not imported here
            dock.visibilityChanged.connect(lambda visible, n=name: self._view(n) if visible else None)
        self.analysis_docks = (self.trajectory_dock, self.circumplex_dock, self.attention_dock,
                               self.reconstruction_dock)
        for dock in self.analysis_docks:
            self.tabifyDockWidget(self.log_dock, dock)
        self.log_dock.raise_()
        self._default_size()  # first: the docks' default sizes are shares of the window
        self._size_docks()
        self._analysis_model: Any = None  # LoadedModel or RemoteModel (helper process) cached between runs
        self._analysis_model_key: Any = None  # (checkpoint, device) it was loaded for
        self._retired_models: list[Any] = []  # model processes no longer cached: ended once no analysis uses them
        self._device_text: tuple[str, str] | None = None  # (device preference, its description) from an analysis
        self._model_factory: Callable[[Recording], Any] | None = None  # builds a model when none is set
        self._simulate_values = (0.3, 0)  # last rate and seed of Edit > Simulate missing data

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.review = ReviewTools(self)  # annotations, event list, spectrum, recording info (app/review_tools.py)
        self._default_state = self.saveState(STATE_VERSION)  # View > Reset layout goes back to this

        self.model.recordingLoaded.connect(self._on_recording_loaded)
        self.model.recordingChanged.connect(self._on_recording_changed)
        self.model.cleanedReady.connect(lambda _r: self._update_status())
        # Masks are missing data for the cleaning: a mask edit re-cleans (once the edits pause).
        self._cleaning_masks: Any = None
        self._reclean_timer = QTimer(self, singleShot=True, interval=500)
        self._reclean_timer.timeout.connect(self._reclean_for_masks)
        self.model.masksChanged.connect(lambda _m: self._reclean_timer.start())
        self.model.errorOccurred.connect(self.report_error)
        self.browser.pageChanged.connect(self.overview.set_page)
        self.browser.pageChanged.connect(lambda *_: self._update_page_label())
        # A reader turning pages comes first: background tasks (the display cleaning, an analysis) pause at their
        # next check while pages are being drawn (app.workers.UserActivity).
        self.browser.pageChanged.connect(self.runner.activity.touch)
        # The browser's hints ("no ECG or PPG channel ...", "select channels ... to change their gain", "no start
        # time") come with displayChanged: the page label only followed page changes, so they were never shown.
        self.browser.displayChanged.connect(self._update_page_label)
        self.browser.modeChanged.connect(self._on_mode_changed)
        self.browser.maskModeChanged.connect(self.mask_mode_action.setChecked)
        # Mask and annotate modes change what a drag does: said in the status bar (their toolbar buttons are
        # in the toolbar's overflow menu below ~1700 px, and nothing else showed them).
        self.browser.maskModeChanged.connect(lambda _on: self._update_page_label())
        self.browser.annotation_layer.annotateModeChanged.connect(lambda _on: self._update_page_label())
        self.overview.jumpRequested.connect(self.browser.center_on)
        self.mask_table.jumpRequested.connect(self.browser.jump_to)
        self.browser.displayChanged.connect(  # mask times read as the axis does (clock time after T)
            lambda: self.mask_table.set_clock_start(self.browser.state.start_time if self.browser.state.clock_time
                                                    else None))
        self.browser.displayChanged.connect(self._views_follow_clock)  # the views' time axes too (T)
        self.model.analysisFinished.connect(lambda _r: self._update_analysis_actions())
        self.model.analysisStaleChanged.connect(lambda _s: self._update_analysis_actions())
        self.runner.busyChanged.connect(self._on_busy)
        self.runner.taskProgress.connect(self._on_progress)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state, STATE_VERSION)
        self._update_analysis_actions()
        self._update_status()
        self.device_label.setText("Device: ...")
        # Deferred start-up runs once the window has been painted (the traces' viewport got its first Paint),
        # or after 300 ms when the window is not shown: on a busy machine a fixed delay could come before the paint.
        self._started_up = False
        self._first_paint = _FirstPaint(self.browser.plot_widget.viewport(), self._after_first_paint)
        QTimer.singleShot(300, self, self._start_up_if_hidden)
        self.browser.setFocus()

    # --- lazy analysis views ---------------------------------------------------------------------------------
    def _view_docks(self) -> dict[str, QDockWidget]:
        return {"trajectory": self.trajectory_dock, "circumplex": self.circumplex_dock,
                "attention": self.attention_dock, "reconstruction": self.reconstruction_dock}

    def _view_specs(self) -> dict[str, tuple[QDockWidget, type]]:
        # imported here, not at the top: the views pull in the features package (scipy.signal), about 1.5 s
        # of start-up before the first paint (and their own modules, ~60 ms, when the window is made)
        from .attention_map_view import AttentionMapView
        from .circumplex_view import CircumplexView
        from .reconstruction_view import ReconstructionView
        from .trajectory_view import TrajectoryView

        return {"trajectory": (self.trajectory_dock, TrajectoryView),
                "circumplex": (self.circumplex_dock, CircumplexView),
                "attention": (self.attention_dock, AttentionMapView),
                "reconstruction": (self.reconstruction_dock, ReconstructionView)}

    def _view(self, name: str) -> QWidget:
        """The analysis view ``name``, built (from the model's current state) and put in its dock on first use."""
        view = self._views.get(name)
        if view is None:
            dock, cls = self._view_specs()[name]
            view = self._views[name] = cls(self.model, self)
            if hasattr(view, "jumpRequested"):
                view.jumpRequested.connect(self.browser.center_on)
            follow_clock(view, self.browser.state)  # its time axes read as the browser's (clock time after T)
            placeholder = dock.widget()
            dock.setWidget(view)
            if placeholder is not None:
                placeholder.deleteLater()
        return view

    def _views_follow_clock(self) -> None:
        """The analysis views built so far read time as the browser does (h:mm:ss from the start or clock time)."""
        for view in self._views.values():
            follow_clock(view, self.browser.state)

    @property
    def trajectory_view(self) -> TrajectoryView:
        return self._view("trajectory")

    @property
    def circumplex_view(self) -> CircumplexView:
        return self._view("circumplex")

    @property
    def attention_view(self) -> AttentionMapView:
        return self._view("attention")

    @property
    def reconstruction_view(self) -> ReconstructionView:
        return self._view("reconstruction")

    # --- construction ---------------------------------------------------------------------------------------
    def _default_size(self) -> None:
        """First start: 90 % of the screen's free area (at least 1280 x 800 where it fits), centred."""
        screen = QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(1280, 800)
            return
        area = screen.availableGeometry()
        w = max(min(1280, area.width()), int(area.width() * 0.9))
        h = max(min(800, area.height()), int(area.height() * 0.9))
        self.resize(w, h)
        self.move(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2)

    def _size_docks(self) -> None:
        """Default sizes of the docks: :data:`SIDE_DOCK_PX` / :data:`BOTTOM_DOCK_PX`, at most their share of the
        window (fixed sizes left a 1024-px window's signal browser 43 % of the width)."""
        w, h = max(self.width(), 1), max(self.height(), 1)
        side = [min(px, int(SIDE_DOCK_SHARE * w)) for px in SIDE_DOCK_PX]
        self.resizeDocks([self.channel_dock, self.mask_dock], side, Qt.Orientation.Horizontal)
        self.resizeDocks([self.log_dock], [min(BOTTOM_DOCK_PX, int(BOTTOM_DOCK_SHARE * h))], Qt.Orientation.Vertical)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if event.oldSize().isValid() and event.size().width() < event.oldSize().width():
            QTimer.singleShot(0, self, self._keep_browser_room)

    def _keep_browser_room(self) -> None:
        """After the window was made narrower: shrink the side docks (to their share of the window) while the
        signal browser has less than :data:`BROWSER_MIN_SHARE` of the width. Qt keeps the docks' widths and
        takes the whole loss from the browser."""
        w = self.width()
        if self.centralWidget().width() >= BROWSER_MIN_SHARE * w:
            return
        docks = [d for d in (self.channel_dock, self.mask_dock) if d.isVisible() and not d.isFloating()
                 and self.dockWidgetArea(d) in (Qt.DockWidgetArea.LeftDockWidgetArea,
                                                Qt.DockWidgetArea.RightDockWidgetArea)]
        if docks:
            self.resizeDocks(docks, [min(d.width(), int(SIDE_DOCK_SHARE * w)) for d in docks],
                             Qt.Orientation.Horizontal)

    def restoreState(self, state, version: int = 0) -> bool:  # noqa: N802 (Qt API)
        """Qt's, then the tools toolbar back in the menu bar's corner: a layout saved before session 13 had it in
        the toolbar area, and restoring it took the toolbar there and hid it (no Measure, Filters or Run)."""
        restored = super().restoreState(state, version)
        tools = getattr(self, "tools_toolbar", None)
        if tools is not None and not self.menuBar().isNativeMenuBar():
            self.removeToolBar(tools)
            self.menuBar().setCornerWidget(tools, Qt.Corner.TopRightCorner)
            tools.show()
        return restored

    def reset_layout(self) -> None:
        """View > Reset layout: every dock and the toolbar back where a first start puts them."""
        self.restoreState(self._default_state, STATE_VERSION)
        for dock in (self.channel_dock, self.mask_dock, self.log_dock) + self.analysis_docks:
            dock.setFloating(False)
        for dock in (self.channel_dock, self.mask_dock, self.log_dock):
            dock.show()
        self.log_dock.raise_()
        self._size_docks()
        log.info("window layout reset")

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title}Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot: Callable, shortcut: QKeySequence | str | None = None,
                tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open...", self.ask_open, QKeySequence.StandardKey.Open,
                                        "Open an EDF/BDF recording, a DEAP file or a MAHNOB-HCI session")
        self.open_folder_action = self._action("Open session &folder...", self.ask_open_folder,
                                               tip="Open a MAHNOB-HCI session folder")
        self.export_masks_action = self._action("&Export masks...", self.ask_export_masks,
                                                tip="Save the masks as JSON or as MNE annotations (CSV)")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        stack = self.model.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.redo_action = stack.createRedoAction(self, "&Redo")
        # Undo, redo and go-to-time keys come from the one key table (app/key_bindings.py: Ctrl+Y and Ctrl+Shift+Z
        # for redo on every platform, each once, so that no shortcut is ambiguous).
        self.undo_action.setShortcuts([QKeySequence(k) for k in key_bindings.shortcuts("undo")])
        self.redo_action.setShortcuts([QKeySequence(k) for k in key_bindings.shortcuts("redo")])
        self.prefs_action = self._action("&Preferences...", self.ask_preferences,
                                         QKeySequence.StandardKey.Preferences)
        # The menus show the browser's key after a tab (shown, not bound: the key table binds it once), as the
        # heart-rate row's "H"; these two showed none beside menu items that did.
        self.mask_mode_action = self._action("&Mask mode\tM", self.browser.set_mask_mode, None,
                                             "Drag across the traces to mask a segment (or Shift+drag); key M",
                                             checkable=True)
        self.mask_mode_action.setIconText("Mask mode")  # the toolbar button
        self.jump_action = self._action("&Go to time...", self.browser.ask_jump,
                                        key_bindings.shortcuts("go_to_time")[0], "Jump to a time")
        self.cycle_mode_action = self._action("Raw / cleaned / both\tC", self.browser.cycle_mode, None,
                                              "Show raw, cleaned or both overlaid; key C")
        self.clean_action = self._action("&Clean again", self.start_cleaning,
                                         tip="Run the cleaning again with the current preferences")
        self.cancel_action = self._action("Ca&ncel running tasks", self.runner.cancel_all, "Ctrl+.",
                                          "Stop loading, cleaning or analysing")
        self.run_action = self._action("&Run MMQ-Net", self.run_analysis, "F5",
                                       "Analyse the recording with MMQ-Net (valence/arousal, reconstructions, "
                                       "attention)")
        self.run_action.setShortcuts([QKeySequence("F5"), QKeySequence("Ctrl+R")])
        self.run_action.setToolTip("Analyse the recording with MMQ-Net (F5 or Ctrl+R)")
        self.subject_files_action = self._action(
            "&Subject recordings...", self.ask_subject_files,
            tip="Other recordings of this subject, whose statistics a per-subject model normalises with")
        self.simulate_action = self._action("&Simulate missing data...", self.ask_simulate_missing, "Ctrl+Shift+M",
                                            "Mask a share of the channel-time at random, as failing sensors would")
        self.clear_simulated_action = self._action("C&lear simulated masks", self.clear_simulated_masks,
                                                   "Ctrl+Shift+L", "Remove the masks made by a simulation")
        self.export_csv_action = self._action("Export &trajectories (CSV)...", self.ask_export_trajectories,
                                              "Ctrl+Shift+T", "Save valence/arousal probabilities per window")
        self.export_png_action = self._action("Export analysis &views (PNG)...", self.ask_export_views,
                                              "Ctrl+Shift+P", "Save every analysis view as a PNG image")
        self.export_report_action = self._action("Export &report (PNG/PDF)...", self.ask_export_report,
                                                 "Ctrl+Shift+R", "Save a one-page report of the analysis")
        self.save_analysis_action = self._action("Save &analysis folder...", self.ask_save_analysis,
                                                 "Ctrl+Shift+S", "Write trajectories, reconstructions, attention "
                                                 "and a summary into a folder")
        self.shortcuts_action = self._action("&Keyboard shortcuts", self.show_shortcuts, "F1",
                                             "List every keyboard shortcut")
        self.about_action = self._action("&About MMQ-Net Studio", self.show_about,
                                         tip="Version, the model in use and what this program is not")
        self.reset_layout_action = self._action("&Reset layout", self.reset_layout,
                                                tip="Put the docks and the toolbar back where they were at first start")
        self.analysis_output_actions = (self.export_csv_action, self.export_png_action, self.export_report_action,
                                        self.save_analysis_action)
        for a in (self.export_masks_action, self.clean_action, self.run_action, self.subject_files_action,
                  self.simulate_action,
                  self.clear_simulated_action) + self.analysis_output_actions:
            a.setEnabled(False)
        # These actions live in the window so that their shortcuts work whatever widget has the focus.
        for a in (self.undo_action, self.redo_action, self.jump_action, self.run_action, self.shortcuts_action):
            self.addAction(a)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        self.recent_menu = file_menu.addMenu("Open re&cent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.export_masks_action)
        file_menu.addAction(self.export_csv_action)
        file_menu.addAction(self.export_png_action)
        file_menu.addAction(self.export_report_action)
        file_menu.addAction(self.save_analysis_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.mask_mode_action)
        edit_menu.addAction(self.simulate_action)
        edit_menu.addAction(self.clear_simulated_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.prefs_action)

        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.cycle_mode_action)
        view_menu.addAction(self.jump_action)
        view_menu.addSeparator()
        self.browser_controls.add_to_menu(view_menu)
        view_menu.addSeparator()
        for dock in (self.channel_dock, self.mask_dock, self.log_dock) + self.analysis_docks:
            view_menu.addAction(dock.toggleViewAction())
        self.show_dock_actions: list[QAction] = []
        shortcuts = {self.trajectory_dock: "Alt+1", self.circumplex_dock: "Alt+2", self.attention_dock: "Alt+3",
                     self.reconstruction_dock: "Alt+4", self.log_dock: "Alt+5"}
        for dock, key in shortcuts.items():
            action = QAction(f"Show {dock.windowTitle().lower()}", self)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _=False, d=dock: self.show_dock(d))
            view_menu.addAction(action)
            self.addAction(action)
            self.show_dock_actions.append(action)
        view_menu.addSeparator()
        view_menu.addAction(self.reset_layout_action)

        analysis_menu = bar.addMenu("&Analysis")
        analysis_menu.addAction(self.run_action)
        analysis_menu.addAction(self.subject_files_action)
        analysis_menu.addAction(self.clean_action)
        analysis_menu.addAction(self.cancel_action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("MainToolBar")
        tb.addAction(self.open_action)
        tb.addSeparator()
        tb.addWidget(QLabel(" Show ", self))
        self.mode_combo = QComboBox(self)
        self.mode_combo.addItems(list(MODES))
        self.mode_combo.setToolTip("Raw, cleaned or both overlaid (key C)")
        self.mode_combo.currentTextChanged.connect(self.browser.set_mode)
        tb.addWidget(self.mode_combo)
        tb.addWidget(QLabel(" Page ", self))
        self.page_combo = QComboBox(self)
        self.page_combo.addItems([f"{p:g} s" for p in PAGE_LENGTHS])
        self.page_combo.setCurrentText(f"{self.browser.page_s:g} s")
        self.page_combo.setToolTip("Page length (keys , and . or Ctrl+wheel)")
        self.page_combo.activated.connect(lambda i: self.browser.set_page_length(PAGE_LENGTHS[i]))
        tb.addWidget(self.page_combo)
        tb.addWidget(QLabel(" Channels ", self))
        self.channels_combo = QComboBox(self)
        self.channels_combo.addItems(["auto"] + [str(n) for n in CHANNELS_PER_PAGE])
        self.channels_combo.setToolTip("Channels per page (Ctrl+Shift+Up / Ctrl+Shift+Down); auto: as many as fit")
        self.channels_combo.activated.connect(
            lambda i: self.browser.set_channels_per_page(None if i == 0 else CHANNELS_PER_PAGE[i - 1]))
        self.browser.channelPageChanged.connect(self._sync_channels_combo)
        tb.addWidget(self.channels_combo)
        tb.addWidget(QLabel(" Scale ", self))
        self.scale_combo = QComboBox(self)
        self.scale_combo.addItem("all")
        self.scale_combo.setToolTip("Modality whose amplitude + and - change")
        self.scale_combo.currentTextChanged.connect(
            lambda text: self.browser.set_scale_target(None if text in ("all", "") else text))
        tb.addWidget(self.scale_combo)
        for text, factor, tip in (("-", 1 / SCALE_STEP, "Smaller traces (key -)"),
                                  ("+", SCALE_STEP, "Larger traces (key +)")):
            button = QToolButton(self)
            button.setText(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, f=factor: self.browser.change_scale(f, self.browser.scale_target))
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            tb.addWidget(button)
        for control in (self.mode_combo, self.page_combo, self.channels_combo, self.scale_combo):
            return_focus(control, self.browser)  # the browser's keys work again at once
        self.browser_controls.add_to_toolbar(tb)
        # The tools in a toolbar of their own (in one toolbar a 1024-px window hid Montage, Measure, Mask mode and
        # Run behind >>), at the right of the menu bar, whose menus leave it room from ~750 px wide. As a second
        # toolbar it moved to a row of its own below ~1400 px (the first start's 1280-px window too), taking a
        # row of traces' height (clin13).
        tools = self.tools_toolbar = QToolBar("Tools", self)
        tools.setObjectName("ToolsToolBar")
        tools.setMovable(False)
        tools.setContentsMargins(0, 0, 0, 0)
        tools.layout().setContentsMargins(0, 0, 0, 0)
        tools.setStyleSheet("QToolBar { border: none; padding: 0px; } QToolButton { padding: 0px 2px; }")
        if self.menuBar().isNativeMenuBar():  # macOS' global menu bar shows no corner widget: a toolbar then
            self.addToolBar(tools)
        else:
            self.menuBar().setCornerWidget(tools, Qt.Corner.TopRightCorner)
        for action in (self.browser_controls.measure_action, self.browser_controls.filters_action):
            tb.removeAction(action)
            tools.addAction(action)
        tb = tools
        tb.addSeparator()
        tb.addAction(self.mask_mode_action)
        # The menu's undo/redo actions carry the name of the edit ("Undo Mask Fz"): too long for a toolbar; arrows
        # (with the words in their tooltips) let the toolbar fit a 1024-px window.
        stack = self.model.undo_stack
        for text, slot, signal, tip in (("\u21b6", stack.undo, stack.canUndoChanged, "Undo the last mask edit (Ctrl+Z)"),
                                        ("\u21b7", stack.redo, stack.canRedoChanged, "Redo the mask edit (Ctrl+Y)")):
            action = QAction(text, self)
            action.setToolTip(tip)
            action.setEnabled(False)
            action.triggered.connect(slot)
            signal.connect(action.setEnabled)
            tb.addAction(action)
        tb.addSeparator()
        tb.addAction(self.run_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        # Elided labels: in a narrow window (or beside the progress bar) a plain label was cut in mid-word
        # ("cleanec", "| : |"); these end in "..." with the full text in their tooltip.
        self.file_label = ElidedLabel("", self)
        self.info_label = ElidedLabel("", self)
        self.page_label = ElidedLabel("", self)
        self.device_label = QLabel(self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMinimumWidth(PROGRESS_MIN_PX)
        self.progress_bar.setMaximumWidth(PROGRESS_MAX_PX)
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the running task")
        self.cancel_button.clicked.connect(self.runner.cancel_all)
        self.synthetic_label = QLabel("<b style='color:#b71c1c'>SYNTHETIC data</b>", self)
        self.synthetic_label.setToolTip("This recording was generated, not recorded from a person")
        self.synthetic_label.hide()
        # Damaged file (truncated, records beyond the end, corrected header, dropped labels): said loudly, with
        # what was read and what was not in the tooltip (Recording.warnings).
        # It is elided to its share of the bar; a click shows every warning in full (show_damage_details).
        self.damage_label = warning_label(self, self.show_damage_details)
        bar.addWidget(self.synthetic_label)
        bar.addWidget(self.damage_label, 1)  # the damage warning gets the room the other labels leave
        bar.addWidget(self.file_label)
        bar.addWidget(self.info_label)
        bar.addWidget(self.page_label)
        bar.addWidget(self.browser_controls.display_label, 1)  # montage and filters: the room left (clin13)
        self.analysis_label = QLabel(self)
        bar.addWidget(self.analysis_label)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)
        bar.addPermanentWidget(self.device_label)
        self.progress_bar.hide()
        self.cancel_button.hide()

    # --- opening --------------------------------------------------------------------------------------------
    def ask_open(self) -> None:
        start = str(Path(recent_files(self.settings)[0]).parent) if recent_files(self.settings) else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open recording", start, OPEN_FILTER)
        if path:
            self.open_file(path)

    def ask_open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open MAHNOB-HCI session folder")
        if path:
            self.open_file(path)

    def open_file(self, path: str | os.PathLike) -> None:
        """Open ``path`` in the background; the recording appears when it is read, then it is cleaned."""
        path = Path(path)
        self.runner.cancel("clean")
        log.info("opening %s", path)
        self.runner.submit(load_file, path, key="load", name=f"Opening {path.name}",
                           on_result=lambda rec: self._on_file_loaded(path, rec),
                           on_error=lambda exc: self.report_error(exc, f"opening {path.name}"))

    def _on_file_loaded(self, path: Path, recording: Recording) -> None:
        self.model.set_recording(recording, path)
        # Writing the settings file (QSettings.sync) waits for the disk: after the first page is painted.
        self._after_next_paint(lambda: self._remember_recent(path))

    def _after_next_paint(self, then: Callable[[], None]) -> None:
        """Call ``then`` once the traces' viewport has been painted (at the next turn of the event loop after its
        next Paint event), at the latest after :data:`AFTER_PAINT_LIMIT_MS`. A zero-delay timer alone can fire
        before the window's pending paint, holding the first page back by the work of ``then``."""
        pending = [then]

        def once() -> None:
            if pending:
                pending.pop()()

        _FirstPaint(self.browser.plot_widget.viewport(), lambda: QTimer.singleShot(0, self, once), delete=True)
        QTimer.singleShot(AFTER_PAINT_LIMIT_MS if self.isVisible() else 0, self, once)

    def _remember_recent(self, path: Path) -> None:
        try:
            add_recent_file(path, self.settings)
        except OSError as exc:  # a read-only settings file must not stop the recording from opening
            log.warning("cannot update the recent files: %s", exc)

    def set_recording(self, recording: Recording, path: str | os.PathLike | None = None) -> None:
        """Show a recording made in memory (tests, synthetic data); it is cleaned like an opened file."""
        self.model.set_recording(recording, path)

    def _on_recording_loaded(self, recording: Recording) -> None:
        self._generation += 1
        for warning in recording.warnings:
            log.warning("damaged file: %s", warning)
        self.setWindowTitle(f"{recording.title} - MMQ-Net Studio")
        self.export_masks_action.setEnabled(self.model.masks is not None)
        self.clean_action.setEnabled(True)
        self.run_action.setEnabled(True)
        self.subject_files_action.setEnabled(True)
        self.simulate_action.setEnabled(self.model.masks is not None)
        self.clear_simulated_action.setEnabled(self.model.masks is not None)
        self._fill_scale_combo(recording)
        self.mode_combo.setCurrentText(self.browser.mode)
        self._update_status()
        # The cleaning starts once the first page is on screen: started now, its thread held the GUI thread's
        # interpreter lock while the page was being drawn (a 1-h file's first page took seconds instead of ms).
        generation = self._generation
        self._after_next_paint(lambda: self.start_cleaning() if generation == self._generation else None)

    def _left_out(self) -> tuple[str, ...]:
        """The cleaning's notes that data were left out (channels flat or NaN for most of the span, no usable
        EEG): said in the status banner like a damaged file, not only as an INFO line in the log."""
        result = self.model.preprocess_result
        if result is None:
            return ()
        from mmqnet_core.preprocessing.left_out import left_out_steps  # imported with the cleaning already

        return left_out_steps(result.steps)

    def show_damage_details(self) -> None:
        """Every warning about the open (damaged) file and the data the cleaning left out in one dialog (the
        status bar shows the first, elided)."""
        rec = self.model.recording
        if rec is None or not (rec.warnings or self._left_out()):
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        if rec.warnings:
            box.setWindowTitle(f"Damaged file: {rec.title}")
            box.setText(f"{rec.title} is damaged; what could be read is shown.")
        else:
            box.setWindowTitle(f"Data left out: {rec.title}")
            box.setText(f"The cleaning of {rec.title} left channels out (see below): check the electrodes, or "
                        "mask those channels (click their names) so that the analysis reads them as missing.")
        box.setInformativeText("\n\n".join(rec.warnings + self._left_out()))
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.exec()

    def _on_recording_changed(self, recording: Recording) -> None:
        self._generation += 1
        self._fill_scale_combo(recording)
        self.model.set_preprocess_result(None)  # cleaned with the old modalities: stale
        self.start_cleaning()

    def _fill_scale_combo(self, recording: Recording) -> None:
        current = self.scale_combo.currentText()
        self.scale_combo.blockSignals(True)
        self.scale_combo.clear()
        self.scale_combo.addItem("all")
        self.scale_combo.addItems(sorted({c.modality.value for c in recording.channels}))
        self.scale_combo.blockSignals(False)
        self.scale_combo.setCurrentText(current if self.scale_combo.findText(current) >= 0 else "all")

    def start_cleaning(self) -> None:
        """Clean the open recording in the background; the cleaned signals appear when ready."""
        recording = self.model.recording
        if recording is None:
            return
        generation = self._generation

        def done(result: Any) -> None:
            if generation == self._generation:
                cleaned, matches = result
                self.browser.set_cleaned_is_model_input(matches)
                self.model.set_preprocess_result(cleaned)  # the core has logged each step
                log.info("cleaned %s", recording.title)

        masks = self._cleaning_masks = _display_masks(self.model.masks)
        self.runner.submit(clean_for_browser, recording, self.prefs, masks, key="clean", background=True,
                           name=f"Cleaning {recording.title}", on_result=done,
                           on_error=lambda exc: self.report_error(exc, f"cleaning {recording.title}"))

    def _reclean_for_masks(self) -> None:
        if self.model.recording is not None and _display_masks(self.model.masks) != self._cleaning_masks:
            self.start_cleaning()

    # --- masks ----------------------------------------------------------------------------------------------
    def ask_export_masks(self) -> None:
        if self.model.masks is None or self.model.path is None:
            return
        default = str(self.model.path.with_name(self.model.path.name + ".masks-export.json"))
        path, chosen = QFileDialog.getSaveFileName(self, "Export masks", default,
                                                   "Mask JSON (*.json);;MNE annotations (*.csv)")
        if path:
            self.export_masks(path)

    def export_masks(self, path: str | os.PathLike) -> Path | None:
        """Write the masks to ``path``: MNE annotations for ``.csv``/``.txt``, mask JSON otherwise.

        Returns the path written, or None after showing the error to the user.
        """
        path = Path(path)
        masks = self.model.masks
        rec = self.model.recording
        try:
            if path.suffix.lower() in (".csv", ".txt"):
                duration = rec.duration_s if rec is not None else None
                annotations = masks.to_annotations(duration_s=duration)  # atomically, and never over a recording
                atomic_write(path, lambda tmp: annotations.save(tmp, overwrite=True))
            else:
                masks.save(path, recording=self.model.path)
        except Exception as exc:  # noqa: BLE001 - one error path
            self.report_error(self._write_error(exc, path), f"exporting the masks to {path.name}")
            return None
        log.info("masks exported to %s", path)
        return path

    def ask_simulate_missing(self) -> None:
        """Edit > Simulate missing data...: ask for rate and seed, then mask (one undoable step)."""
        if self.model.recording is None or self.model.masks is None:
            return
        from .simulate_dialog import SimulateMissingDialog

        dialog = SimulateMissingDialog(*self._simulate_values, parent=self)
        if dialog.exec():
            self.simulate_missing(*dialog.values())

    def simulate_missing(self, rate: float, seed: int) -> bool:
        """Replace the simulated masks by a new simulation at ``rate`` (0-0.9 of channel-time) as one undo step."""
        rec, masks = self.model.recording, self.model.masks
        if rec is None or masks is None:
            return False
        self._simulate_values = (rate, seed)
        try:
            from mmqnet_core.masking import simulate_missing

            simulated = simulate_missing(rec.channels, rec.duration_s, rate, seed=seed)
        except Exception as exc:  # noqa: BLE001 - one error path
            self.report_error(exc, "simulating missing data")
            return False
        new = masks.without_source("simulated").union(simulated)
        done = self.model.edit_masks(new, f"Simulate {100 * rate:.0f} % missing data (seed {seed})")
        log.info("simulated %.0f %% missing data (seed %d): %d segment(s)", 100 * rate, seed,
                 len(simulated.segments))
        return done

    def clear_simulated_masks(self) -> bool:
        """Edit > Clear simulated masks (one undoable step)."""
        masks = self.model.masks
        if masks is None:
            return False
        return self.model.edit_masks(masks.without_source("simulated"), "Clear simulated masks")

    # --- analysis -------------------------------------------------------------------------------------------
    def use_model(self, model: Any = None, *, factory: Callable[[Recording], Any] | None = None) -> None:
        """Analyse with ``model`` (a LoadedModel) or with one built by ``factory(recording)`` instead of the
        checkpoint of the preferences (self-test, tests). ``use_model()`` goes back to the checkpoint."""
        self._analysis_model = model
        self._analysis_model_key = "given" if model is not None else None
        self._model_factory = factory

    def run_analysis(self) -> bool:
        """Analyse the open recording with its masks in the background (F5); False if it could not start."""
        rec = self.model.recording
        if rec is None:
            return False
        kwargs: dict[str, Any] = {"device": self.prefs.device, "subject_files": self.model.subject_files,
                                  "find_subject_recordings": self.model.find_subject_recordings}
        kwargs["mc_samples"] = self.prefs.mc_samples
        kwargs["attribution"] = "modality" if self.prefs.occlusion else None
        key = (self.prefs.checkpoint, self.prefs.device)
        cached = self._analysis_model
        if cached is not None and self._analysis_model_key not in (None, "given") and (
                not model_usable(cached)  # its process was stopped (a cancel) or failed
                or (hasattr(cached, "close") and any(getattr(w, "model_in_use", None) is cached
                                                     for w in self.runner.workers))):
            # a model process still busy with the analysis this one replaces (F5 again while it runs) would be
            # killed by that analysis' cancel: a new one is started, the old one ends with its analysis
            self._retire_model()
        if self._analysis_model_key == "given" or (self._analysis_model is not None
                                                   and self._analysis_model_key == key):
            kwargs["model"] = self._analysis_model
        elif self._model_factory is not None and not self.prefs.checkpoint:
            kwargs["model_factory"] = self._model_factory
        else:
            try:
                checkpoint = resolve_checkpoint(self.prefs.checkpoint)
            except CheckpointError as exc:
                self.report_error(exc, "running MMQ-Net")
                return False
            remote = None
            if ANALYSIS_PROCESS and rec.duration_s <= _remote_max_s():
                # the model loads and runs in a helper process started here, in the GUI thread (it ends with
                # the thread that started it): torch's import never holds this process's interpreter lock
                remote = start_model_process(checkpoint, self.prefs.device)
            if remote is not None:
                kwargs["model"] = remote
                self._retire_model()
                self._analysis_model, self._analysis_model_key = remote, key
            else:
                kwargs["checkpoint"] = checkpoint
        generation = self._generation

        def done(run: AnalysisRun) -> None:
            if run.device:
                self._device_text = (key[1], run.device)
            if kwargs.get("model") is None:
                self._analysis_model = run.model
                self._analysis_model_key = key if self._model_factory is None else None
            if generation != self._generation:
                log.info("analysis of a previous recording dropped")
                return
            self.model.set_analysis(run.result, run.label, masks=masks, notes=run.notes)
            log.info("analysis of %s finished: %d windows (%s)", run.result.title, run.result.n_windows,
                     ", ".join(f"{k} {v:.2f} s" for k, v in run.result.timings.items()))
            self.show_dock(self.trajectory_dock)

        log.info("running MMQ-Net on %s", rec.title)
        masks = self.model.masks  # (immutable) what this run sees: the report lists these
        this: list[Any] = []

        def cancelled() -> None:
            # Said in the status bar (it was only a line in the log panel): unless another analysis replaced it.
            if not any(w is not this[0] and w.name == this[0].name for w in self.runner.workers):
                self.statusBar().showMessage(ANALYSIS_CANCELLED_TEXT.format(title=rec.title), STATUS_MESSAGE_MS)

        this.append(self.runner.submit(
            run_analysis, rec, masks, key="analysis", name=f"Analysing {rec.title}", background=True,
            on_result=done, on_error=lambda exc: self.report_error(exc, f"{ANALYSIS_CONTEXT}{rec.title}"),
            on_cancelled=cancelled, **kwargs))
        this[0].model_in_use = kwargs.get("model")
        this[0].signals.done.connect(self._close_retired_models)
        self._prepare_views(this[0])
        return True

    def _prepare_views(self, worker: Any) -> None:
        """Make the trajectory view ahead while ``worker`` (the analysis) runs, in small steps (see
        :data:`VIEW_PREPARATION_STEP_MS`); nothing when it exists already."""
        if "trajectory" in self._views or self._view_preparation is not None:
            return

        def steps():
            import importlib

            for name in ("trajectory_view", "circumplex_view", "attention_map_view", "reconstruction_view"):
                importlib.import_module(f"{__package__}.{name}")  # _view_specs imports them all
                yield
            for _ in range(3):  # the trajectory view's PlotItems (plot_helpers.prepare_plot_item)
                prepare_plot_item()
                yield
            if not worker.is_done:
                self._view("trajectory")
            yield

        self._view_preparation = (worker, steps())
        QTimer.singleShot(VIEW_PREPARATION_STEP_MS, self._next_view_preparation_step)

    def _next_view_preparation_step(self) -> None:
        if self._view_preparation is None:
            return
        worker, steps = self._view_preparation
        if worker.is_done or "trajectory" in self._views or next(steps, StopIteration) is StopIteration:
            self._view_preparation = None  # finished, or the analysis ended first: the rest as before, on use
            return
        QTimer.singleShot(VIEW_PREPARATION_STEP_MS, self._next_view_preparation_step)

    def _retire_model(self) -> None:
        """Stop caching the model; a model process is ended once no running analysis uses it."""
        model, self._analysis_model, self._analysis_model_key = self._analysis_model, None, None
        if model is not None and hasattr(model, "close"):
            self._retired_models.append(model)
        self._close_retired_models()

    def _close_retired_models(self, *, all_of_them: bool = False) -> None:
        in_use = set() if all_of_them else {id(getattr(w, "model_in_use", None)) for w in self.runner.workers}
        keep = []
        for model in self._retired_models:
            if id(model) in in_use:
                keep.append(model)
            else:
                model.close(kill=True)
        self._retired_models = keep

    def ask_subject_files(self) -> None:
        """Let the user name other recordings of this subject (Analysis > Subject recordings...)."""
        if self.model.recording is None:
            return
        from .subject_files_dialog import SubjectFilesDialog

        dialog = SubjectFilesDialog(self.model.subject_files, self.model.find_subject_recordings,
                                    recording_source=self.model.path, parent=self)
        if dialog.exec():
            files, auto = dialog.values()
            if (tuple(files), auto) != (self.model.subject_files, self.model.find_subject_recordings):
                self.model.subject_files, self.model.find_subject_recordings = tuple(files), auto
                self.model.mark_analysis_stale()

    def _sync_channels_combo(self, first: int, count: int, total: int) -> None:
        """Keep the channels-per-page combo (and the status bar's channel range) in step with the keys."""
        self._update_page_label()
        choice = self.browser.channels_per_page_choice
        index = 0 if choice is None or choice not in CHANNELS_PER_PAGE else CHANNELS_PER_PAGE.index(choice) + 1
        if self.channels_combo.currentIndex() != index:
            self.channels_combo.setCurrentIndex(index)

    def show_dock(self, dock: Any) -> None:
        """Show a dock and bring its tab to the front; an analysis view gets enough height to be read (its
        plots were squeezed to ~140 px under the log's default height)."""
        dock.show()
        dock.raise_()
        if dock in self.analysis_docks and not dock.isFloating():
            want = max(ANALYSIS_DOCK_MIN_PX, int(self.height() * ANALYSIS_DOCK_SHARE))
            if dock.height() < want:
                self.resizeDocks([dock], [want], Qt.Orientation.Vertical)

    def _update_analysis_actions(self) -> None:
        result = self.model.analysis
        for action in self.analysis_output_actions:
            action.setEnabled(result is not None)
        if result is None:
            self.analysis_label.setText("")
        elif self.model.analysis_stale:
            self.analysis_label.setText("| <b style='color:#7a4f00'>analysis stale: F5 to re-run</b>")
        else:
            self.analysis_label.setText(f"| analysed ({result.n_windows} windows)")

    @staticmethod
    def _write_error(exc: BaseException, path: str | os.PathLike) -> BaseException:
        """A file-system error as a user error that names the file and says what to do."""
        if isinstance(exc, OSError) and not isinstance(exc, MMQNetError):  # (OutputError names the file already)
            return MMQNetError(f"Cannot write {path}: {exc.strerror or exc}. Choose another file or folder, or "
                               "check that it is writable and that the disk is not full.")
        return exc

    def analysis_views(self) -> dict[str, QWidget]:
        """The analysis views by name (also the PNG file names of File > Export analysis views)."""
        return {"trajectory": self.trajectory_view, "circumplex": self.circumplex_view,
                "attention": self.attention_view, "reconstruction": self.reconstruction_view}

    def render_view(self, name: str, size: tuple[int, int] | None = None) -> QImage:
        """One analysis view as an image: its plots without the UI controls (see :func:`app.view_export.view_image`).

        A view shown large enough is grabbed as it is on screen. Otherwise (hidden tab, or a fixed ``size`` as
        the report wants) an off-screen copy is drawn at ``size`` (default :data:`VIEW_SIZES`): it follows a
        snapshot of the model, so it keeps no connection to the window once it is deleted.
        """
        from .view_export import view_image

        view = self.analysis_views()[name]
        if size is None and view.isVisible() and view.width() >= 400 and view.height() >= 200:
            return view_image(view)
        snapshot = AppModel()
        snapshot.recording, snapshot.masks = self.model.recording, self.model.masks
        snapshot.cursor_s, snapshot.mask_focus = self.model.cursor_s, self.model.mask_focus
        snapshot.analysis = self.model.analysis
        snapshot.analysis_stale = self.model.analysis_stale
        snapshot.analysis_model_label = self.model.analysis_model_label
        snapshot.analysis_notes = self.model.analysis_notes
        copy = type(view)(snapshot)
        copy.copy_state_from(view)
        follow_clock(copy, self.browser.state)  # its times as the window's views read them (clock time after T)
        copy.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
        copy.resize(*(size or VIEW_SIZES[name]))
        copy.show()
        QApplication.sendPostedEvents()
        try:
            return view_image(copy)
        finally:
            copy.close()
            copy.deleteLater()
            snapshot.deleteLater()

    def view_images(self, sizes: dict[str, tuple[int, int]] | None = None) -> dict[str, QImage]:
        """Every analysis view as an image (see :meth:`render_view`)."""
        return {name: self.render_view(name, (sizes or {}).get(name)) for name in self.analysis_views()}

    def _ask_save(self, title: str, suffix: str, filters: str) -> Path | None:
        base = self.model.path.with_suffix("") if self.model.path is not None else Path("analysis")
        path, _ = QFileDialog.getSaveFileName(self, title, str(base) + suffix, filters)
        return Path(path) if path else None

    def ask_export_trajectories(self) -> None:
        path = self._ask_save("Export trajectories", ".trajectories.csv", "CSV (*.csv)")
        if path is not None:
            self.export_trajectories(path)

    def export_trajectories(self, path: str | os.PathLike) -> Path | None:
        """Write the trajectories of the analysis as CSV (atomic); None after reporting an error."""
        if self.model.analysis is None:
            return None
        try:
            out = write_trajectories_csv(self.model.analysis, path)
        except Exception as exc:  # noqa: BLE001 - one error path
            self.report_error(self._write_error(exc, path), f"exporting the trajectories to {Path(path).name}")
            return None
        log.info("trajectories exported to %s", out)
        return out

    def ask_export_views(self) -> None:
        # Starts in the recording's folder, as the other exports do (it opened in the working directory).
        start = str(self.model.path.parent) if self.model.path is not None else ""
        folder = QFileDialog.getExistingDirectory(self, "Folder for the view images", start)
        if folder:
            self.export_views(folder)

    def export_views(self, folder: str | os.PathLike, prefix: str = "") -> list[Path]:
        """Save every analysis view as ``<prefix><view>.png`` in ``folder``; [] after reporting an error."""
        folder = Path(folder)
        written = []
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, image in self.view_images().items():
                path = folder / f"{prefix}{name}.png"

                def write(tmp: str, image: QImage = image, path: Path = path) -> None:
                    if not image.save(tmp, "PNG"):
                        raise OSError(f"cannot write {path}")

                written.append(atomic_write(path, write))
        except Exception as exc:  # noqa: BLE001 - one error path
            self.report_error(self._write_error(exc, folder), f"saving the view images in {folder}")
            return []
        log.info("view images saved in %s", folder)
        return written

    def ask_export_report(self) -> None:
        path = self._ask_save("Export report", ".report.png", "PNG image (*.png);;PDF (*.pdf)")
        if path is not None:
            self.export_report(path)

    def report_info(self) -> ReportInfo:
        from .report import ReportInfo

        # The masks the analysis was run with: after a mask edit (a stale analysis) the current ones were listed
        # beside the analysis' own figures ("segments: 294 simulated; 0.0 % of tokens masked").
        masks = self.model.analysis_masks if self.model.analysis_masks is not None else self.model.masks
        return ReportInfo.from_analysis(self.model.analysis, masks,
                                        model_label=self.model.analysis_model_label,
                                        stale=self.model.analysis_stale,
                                        display="; ".join(self.browser.display_parts()),
                                        notes=self.model.analysis_notes)

    def export_report(self, path: str | os.PathLike) -> Path | None:
        """Write the one-page report as PNG, or PDF when ``path`` ends in .pdf; None after reporting an error."""
        if self.model.analysis is None:
            return None
        path = Path(path)
        try:
            from .report import save_report_pdf, save_report_png

            save = save_report_pdf if path.suffix.lower() == ".pdf" else save_report_png
            out = save(path, self.report_info(), self.view_images(REPORT_VIEW_SIZES))
        except Exception as exc:  # noqa: BLE001 - one error path
            self.report_error(self._write_error(exc, path), f"writing the report {path.name}")
            return None
        log.info("report written to %s", out)
        return out

    def ask_save_analysis(self) -> None:
        start = str(self.model.path.parent) if self.model.path is not None else ""
        folder = QFileDialog.getExistingDirectory(self, "Folder for the analysis results", start)
        if folder:
            self.save_analysis(folder)

    def save_analysis(self, folder: str | os.PathLike) -> dict[str, Path] | None:
        """``AnalysisResult.save(folder)`` (trajectories, reconstructions, attention, summary)."""
        if self.model.analysis is None:
            return None
        try:
            files = self.model.analysis.save(folder)
        except Exception as exc:  # noqa: BLE001 - one error path
            self.report_error(self._write_error(exc, folder), f"saving the analysis in {folder}")
            return None
        log.info("analysis saved in %s", folder)
        return files

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """Every keyboard shortcut: the window's actions, then the browser's keys."""
        # Go to time (Ctrl+G) is listed with the browser's keys.
        actions = [self.open_action, self.quit_action, self.undo_action, self.redo_action,
                   self.run_action, self.cancel_action, self.simulate_action, self.clear_simulated_action,
                   self.export_csv_action, self.export_png_action, self.export_report_action,
                   self.save_analysis_action, self.prefs_action, self.shortcuts_action]
        actions += self.show_dock_actions + self.review.shortcut_actions
        from .shortcuts_dialog import BROWSER_KEYS, action_rows

        return action_rows(actions) + list(BROWSER_KEYS)

    def show_shortcuts(self) -> ShortcutsDialog:
        from .shortcuts_dialog import ShortcutsDialog

        dialog = ShortcutsDialog(self.shortcut_rows(), self)
        dialog.show()
        return dialog

    def about_text(self) -> tuple[str, str]:
        """(text, informative text) of Help > About: version, model in use, settings file, the caveats."""
        from mmqnet_core import __version__

        checkpoint = self.prefs.checkpoint or "the checkpoint shipped with the application"
        text = (f"MMQ-Net Studio {__version__}: browse, clean and mask multimodal physiological recordings "
                "and run MMQ-Net (Xu, Zuo & Li, arXiv 2507.20737) on them.")
        info = (f"Model: {checkpoint} (Edit > Preferences).\n"
                f"Settings: {self.settings.fileName()}\n\n"
                f"{ABOUT_CAVEAT}")
        return text, info

    def show_about(self) -> None:
        """Help > About: what this is, which model it uses, and that it is not a medical device."""
        text, info = self.about_text()
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle("About MMQ-Net Studio")
        box.setText(text)
        box.setInformativeText(info)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.exec()

    # --- preferences ----------------------------------------------------------------------------------------
    def ask_preferences(self) -> None:
        dialog = PreferencesDialog(self.prefs, self)
        if dialog.exec():
            try:
                self.apply_preferences(dialog.preferences())
            except MMQNetError as exc:
                self.report_error(exc, "changing the preferences")

    def apply_preferences(self, prefs: Preferences) -> None:
        """Use and store new preferences; the recording is cleaned again if the cleaning options changed."""
        old, self.prefs = self.prefs, prefs
        save_preferences(prefs, self.settings)
        self.browser.set_colours(prefs.raw_colour, prefs.cleaned_colour)
        self._update_status()
        if old.device != prefs.device:
            self._update_device_label()
        if (old.checkpoint, old.device) != (prefs.checkpoint, prefs.device):
            if self._analysis_model_key != "given":  # the cached model was loaded for the old settings
                self._retire_model()
        cleaning = ("line_freq", "eeg_low_hz", "eeg_high_hz")
        if any(getattr(old, f) != getattr(prefs, f) for f in cleaning):
            self.start_cleaning()  # says again whether the cleaned trace is the model's input
        elif old.checkpoint != prefs.checkpoint and self.model.preprocess_result is not None:
            self.browser.set_cleaned_is_model_input(cleaning_matches_model(prefs))

    # --- errors ---------------------------------------------------------------------------------------------
    def report_error(self, exc: BaseException, context: str = "") -> None:
        """Show an error through the one notification path (app.errors); the dialog names the step and the open
        file (the last line of defence: also for exceptions escaping a slot, see app.main)."""
        rec = self.model.recording
        if rec is not None and context in ("", "handling a window event", "running MMQ-Net",
                                           "simulating missing data"):  # steps that do not name the file
            context = f"{context or 'working'} on {rec.title}"
        self.last_error = notify_error(exc, self, context) or self.last_error

    # --- status ---------------------------------------------------------------------------------------------
    def _set_status_widget_visible(self, widget: QWidget, visible: bool) -> None:
        """Show or hide a label of the status bar's left part, minding a temporary message: the bar hides those
        labels while one shows and shows them again when it ends; showing one meanwhile drew it over the message
        ("SYNTHETIC data" over "Analysis of ... cancelled")."""
        if visible and self.statusBar().currentMessage() and not widget.isVisible():
            # Hidden, to be shown again with the others when the message ends (Qt's QStatusBar shows the labels
            # it hid, i.e. those not hidden explicitly).
            widget.setAttribute(Qt.WidgetAttribute.WA_WState_ExplicitShowHide, False)
            return
        widget.setVisible(visible)

    def _update_status(self) -> None:
        rec = self.model.recording
        self._set_status_widget_visible(self.synthetic_label, rec is not None and rec.is_synthetic)
        damage = tuple(rec.warnings) if rec is not None else ()
        notes = damage + self._left_out()
        self._set_status_widget_visible(self.damage_label, bool(notes))
        if notes:
            more = f" (+{len(notes) - 1} more)" if len(notes) > 1 else ""
            head = "Damaged file" if damage else "Left out of the cleaning"
            self.damage_label.setText(f"\u26a0 {head}: {notes[0]}{more}")
            self.damage_label.setToolTip("\n".join(notes) + "\n(click for details)")
        if rec is None:
            self.file_label.setText("No recording: File > Open or drop a file here")
            self.info_label.setText("")
        else:
            self.file_label.setText(rec.title)
            rates = sorted({c.sfreq for c in rec.channels})
            rate_text = ", ".join(f"{r:g}" for r in rates)
            cleaned = "cleaned" if self.model.preprocess_result is not None else "cleaning..."
            self.info_label.setText(f"| {format_duration(rec.duration_s)} | {rec.n_channels} ch | "
                                    f"{rate_text} Hz (shown at {rec.sfreq:g} Hz) | {cleaned}")
        self._update_page_label()

    def _after_first_paint(self) -> None:
        QTimer.singleShot(0, self, self._deferred_start_up)

    def _start_up_if_hidden(self) -> None:
        if not self.isVisible():
            self._deferred_start_up()

    def _deferred_start_up(self) -> None:
        """Work kept out of the first paint of the window: import what opening a file needs.

        The compute device is described once torch is imported anyway (by the first analysis): importing it
        here only to fill the status bar held the GUI thread for a second or two just after start-up.
        """
        if self._started_up:
            return
        self._started_up = True
        if self.isVisible():  # a layout restored from a wider window may leave the browser a sliver
            self._keep_browser_room()
        try:
            import mmqnet_core.masking  # noqa: F401 (read at the first open: mask sidecars)
        except ImportError:
            pass  # reported when a recording is opened (masking disabled)
        # After an analysis (torch is imported then); opening a recording announces "no analysis" (None) and
        # must not import torch before its first page.
        self.model.analysisFinished.connect(lambda r: self._update_device_label() if r is not None else None)
        if "torch" in sys.modules:
            self._update_device_label()
        else:
            self.device_label.setText(f"Device: {self.prefs.device or 'auto'}")
            self.device_label.setToolTip("Compute device of the model (checked at the first analysis)")

    def _update_device_label(self) -> None:
        # Deferred after the window shows: describing the device imports torch (a second or two), so it is
        # described here only when torch is imported anyway; an analysis whose model ran in its helper process
        # brings the description back with its result.
        if self._device_text is not None and self._device_text[0] == self.prefs.device:
            self.device_label.setText(f"Device: {self._device_text[1]}")
        elif "torch" in sys.modules:
            self.device_label.setText(f"Device: {describe_device(self.prefs.device)}")
        else:
            self.device_label.setText(f"Device: {self.prefs.device or 'auto'}")
            self.device_label.setToolTip("Compute device of the model (checked at the first analysis)")

    def _update_page_label(self) -> None:
        if self.model.recording is None:
            self.page_label.setText("")
            return
        start, stop = self.browser.data_range()  # a page past a short recording's end: up to its end (clin13)
        note = f" | {self.browser.status}" if self.browser.status else ""
        shown = self.browser.page_channels
        total = len(self.browser.visible_channels)
        channels = (f" | ch {self.browser.first_channel + 1}-{self.browser.first_channel + len(shown)}/{total}"
                    if shown and len(shown) < total else "")
        fmt = self.browser.state.format_time
        drag = (MASK_MODE_TEXT if self.browser.mask_mode else "") + (
            ANNOTATE_MODE_TEXT if self.browser.annotation_layer.annotate_mode else "")
        where = f"| {drag}{fmt(start, 1)}-{fmt(stop, 1)}{channels} | {self.browser.mode}"
        self.page_label.setText(where + note)
        # Where the page is (and MASK MODE) is never elided, only a hint after it: the file name and the header
        # line shrink first (with montage and filters in the bar, it read "| 00:00.0..."; clin13).
        m = self.page_label.contentsMargins()
        least = self.page_label.fontMetrics().horizontalAdvance(where) + m.left() + m.right() + 2
        if self.page_label.minimumWidth() != least:
            self.page_label.setMinimumWidth(least)
        if self.page_combo.currentText() != f"{self.browser.page_s:g} s":
            self.page_combo.setCurrentText(f"{self.browser.page_s:g} s")

    def _on_mode_changed(self, mode: str) -> None:
        if self.mode_combo.currentText() != mode:
            self.mode_combo.setCurrentText(mode)
        self._update_page_label()

    def _on_busy(self, busy: bool) -> None:
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress_bar.setMinimumWidth(PROGRESS_MIN_PX)  # grows to its task's texts (_on_progress)
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("working...")
            self.progress_bar.setToolTip("")
        else:
            self._update_status()

    def _on_progress(self, name: str, fraction: float, message: str) -> None:
        """Show a task's progress: its step and percentage, elided to the bar (the style wrapped a longer text
        onto two clipped lines); the task's full name and step are the bar's tooltip."""
        self.progress_bar.setValue(int(fraction * 1000))
        percent = f" {int(round(100 * fraction))} %"
        text = message or name
        metrics = self.progress_bar.fontMetrics()
        # As wide as the step's text needs, up to PROGRESS_MAX_PX (it stayed at its 150-px minimum beside an
        # empty status bar: "Fitting the cleani... 8 %"); it only grows during a task, so it does not jitter.
        needed = metrics.horizontalAdvance(text) + metrics.horizontalAdvance(percent) + PROGRESS_TEXT_MARGIN_PX + 4
        if needed > self.progress_bar.minimumWidth():
            self.progress_bar.setMinimumWidth(min(needed, PROGRESS_MAX_PX))
            self.progress_bar.resize(self.progress_bar.minimumWidth(), self.progress_bar.height())
        room = max(self.progress_bar.width(), self.progress_bar.minimumWidth()) - PROGRESS_TEXT_MARGIN_PX - \
            metrics.horizontalAdvance(percent)
        shown = self.progress_bar.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, max(room, 0))
        self.progress_bar.setFormat((shown + percent).strip())
        self.progress_bar.setToolTip(f"{name}: {message}" if message else name)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = recent_files(self.settings)
        if not files:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for f in files:
            self.recent_menu.addAction(f, lambda p=f: self.open_file(p))

    # --- drag and drop --------------------------------------------------------------------------------------
    @staticmethod
    def _dropped_path(urls: list[QUrl]) -> Path | None:
        for url in urls:
            if url.isLocalFile():
                return Path(url.toLocalFile())
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if event.mimeData().hasUrls() and self._dropped_path(event.mimeData().urls()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        path = self._dropped_path(event.mimeData().urls())
        if path is not None:
            event.acceptProposedAction()
            self.open_file(path)

    # --- closing --------------------------------------------------------------------------------------------
    def shutdown(self, timeout_s: float = QUIT_WAIT_S) -> bool:
        """Cancel running tasks and wait up to ``timeout_s`` for them; abandon those still running (see
        :meth:`TaskRunner.abandon`); detach the log handler. Safe to call twice. False if a task was abandoned."""
        ok = self.runner.shutdown(timeout_s)
        if not ok:
            self.runner.abandon()
            from mmqnet_core.fileio import remove_unfinished_writes

            # an abandoned export is still writing its temporary file: removed now (its rename then fails), so
            # that nothing half written is left beside the output, whether or not the process waits for it
            for tmp in remove_unfinished_writes():
                log.info("unfinished file removed: %s", tmp)
        self._retire_model()  # the model's helper process ends now (it would die with the process anyway)
        self._close_retired_models(all_of_them=True)
        self.browser.shutdown()
        self.log_panel.detach()
        top_up_refcounts()
        return ok

    def confirm_quit(self) -> bool:
        """While tasks run, ask whether to stop them and quit (True) or keep working (False)."""
        names = [w.name for w in self.runner.workers]
        if not names or not errors_module.dialogs_enabled:
            return True
        box = QMessageBox(QMessageBox.Icon.Question, "Quit MMQ-Net Studio",
                          f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} still running.", parent=self)
        box.setInformativeText("Stop and quit now (what is not finished is lost), or keep working?")
        box.setStandardButtons(QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Ok).setText("Stop and quit")
        box.button(QMessageBox.StandardButton.Cancel).setText("Keep working")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Ok

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if self.runner.busy:
            if not self.confirm_quit():
                event.ignore()
                return
            self.closed_during_work = True
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)

