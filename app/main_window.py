"""MainWindow: menus, toolbar, docks and status bar around the SignalBrowser.

The window wires the widgets to the :class:`~app.model.AppModel` and runs the long work (opening a file,
cleaning it) through a :class:`~app.workers.TaskRunner`. It holds no signal processing: it calls
``mmqnet_core.io.load_recording`` and ``mmqnet_core.preprocessing.preprocess``, imported when first used so
that the window opens even when a core module is missing (the action then reports the missing module).
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mmqnet_core.errors import MMQNetError, RecordingError
from mmqnet_core.progress import CancelToken, ProgressCallback
from mmqnet_core.recording import Modality, Recording

from .channel_panel import ChannelPanel
from .errors import notify_error
from .log_panel import LogPanel
from .mask_table import MaskTable
from .model import AppModel
from .overview_bar import OverviewBar
from .preferences import Preferences, PreferencesDialog, add_recent_file, load_preferences, make_settings, \
    recent_files, save_preferences
from .qt_compat import install_refcount_guard, top_up_refcounts
from .signal_browser import MODES, PAGE_LENGTHS, SCALE_STEP, SignalBrowser
from .workers import TaskRunner

log = logging.getLogger(__name__)

#: File dialog filter for recordings.
OPEN_FILTER = "Recordings (*.bdf *.edf *.BDF *.EDF *.dat);;All files (*)"


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


def clean_recording(recording: Recording, prefs: Preferences, *, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> Any:
    """Clean the whole recording with ``mmqnet_core.preprocessing.preprocess`` using the preferences."""
    try:
        from mmqnet_core.preprocessing import PreprocessConfig, preprocess
    except ImportError as exc:
        raise RecordingError(f"Cannot clean {recording.title}: the module mmqnet_core.preprocessing is not "
                             f"available ({exc}). Reinstall MMQ-Net Studio.") from exc
    config = PreprocessConfig(line_freq=prefs.line_freq_hz)
    bands = getattr(config, "bands", None)
    if bands is not None:  # the EEG pass band comes from the preferences
        bands = tuple((m, prefs.eeg_low_hz or None, prefs.eeg_high_hz) if m == Modality.EEG else (m, lo, hi)
                      for m, lo, hi in bands)
        config = replace(config, bands=bands)
    return preprocess(recording, config, progress=progress, cancel=cancel)


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


class MainWindow(QMainWindow):
    """The MMQ-Net Studio main window."""

    def __init__(self, settings: QSettings | None = None, device: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        install_refcount_guard(QApplication.instance())
        self.setWindowTitle("MMQ-Net Studio")
        self.setAcceptDrops(True)
        self.settings = settings or make_settings()
        self.prefs = load_preferences(self.settings)
        if device is not None:
            self.prefs = replace(self.prefs, device=device)
        self.model = AppModel(self)
        self.runner = TaskRunner(self)
        self.last_error: Any = None  # the last ErrorMessage shown (for the selftest and tests)
        self._generation = 0  # bumped whenever the recording changes; stale cleaning results are dropped

        self.browser = SignalBrowser(self.model, self)
        self.browser.set_colours(self.prefs.raw_colour, self.prefs.cleaned_colour)
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
        self.resizeDocks([self.channel_dock, self.mask_dock], [220, 330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.log_dock], [110], Qt.Orientation.Vertical)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()

        self.model.recordingLoaded.connect(self._on_recording_loaded)
        self.model.recordingChanged.connect(self._on_recording_changed)
        self.model.cleanedReady.connect(lambda _r: self._update_status())
        self.model.errorOccurred.connect(self.report_error)
        self.browser.pageChanged.connect(self.overview.set_page)
        self.browser.pageChanged.connect(lambda *_: self._update_page_label())
        self.browser.modeChanged.connect(self._on_mode_changed)
        self.browser.maskModeChanged.connect(self.mask_mode_action.setChecked)
        self.overview.jumpRequested.connect(self.browser.center_on)
        self.mask_table.jumpRequested.connect(self.browser.jump_to)
        self.runner.busyChanged.connect(self._on_busy)
        self.runner.taskProgress.connect(self._on_progress)
        self.resize(1280, 800)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self._update_status()
        self.device_label.setText("Device: ...")
        QTimer.singleShot(300, self._update_device_label)
        self.browser.setFocus()

    # --- construction ---------------------------------------------------------------------------------------
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
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.StandardKey.Redo])
        self.prefs_action = self._action("&Preferences...", self.ask_preferences,
                                         QKeySequence.StandardKey.Preferences)
        self.mask_mode_action = self._action("&Mask mode", self.browser.set_mask_mode, None,
                                             "Drag across the traces to mask a segment (or Shift+drag); key M",
                                             checkable=True)
        self.jump_action = self._action("&Go to time...", self.browser.ask_jump, "Ctrl+G", "Jump to a time")
        self.cycle_mode_action = self._action("Raw / cleaned / both", self.browser.cycle_mode, None,
                                              "Show raw, cleaned or both overlaid; key C")
        self.clean_action = self._action("&Clean again", self.start_cleaning,
                                         tip="Run the cleaning again with the current preferences")
        self.cancel_action = self._action("Cancel running tasks", self.runner.cancel_all, None)
        for a in (self.export_masks_action, self.clean_action):
            a.setEnabled(False)
        # These actions live in the window so that their shortcuts work whatever widget has the focus.
        for a in (self.undo_action, self.redo_action, self.jump_action):
            self.addAction(a)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.export_masks_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.mask_mode_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.prefs_action)

        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.cycle_mode_action)
        view_menu.addAction(self.jump_action)
        view_menu.addSeparator()
        for dock in (self.channel_dock, self.mask_dock, self.log_dock):
            view_menu.addAction(dock.toggleViewAction())

        analysis_menu = bar.addMenu("&Analysis")
        analysis_menu.addAction(self.clean_action)
        analysis_menu.addAction(self.cancel_action)

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
            tb.addWidget(button)
        tb.addSeparator()
        tb.addAction(self.mask_mode_action)
        # The menu's undo/redo actions carry the name of the edit ("Undo Mask Fz"): too long for a toolbar.
        stack = self.model.undo_stack
        for text, slot, signal, tip in (("Undo", stack.undo, stack.canUndoChanged, "Undo the last mask edit"),
                                        ("Redo", stack.redo, stack.canRedoChanged, "Redo the mask edit")):
            action = QAction(text, self)
            action.setToolTip(tip)
            action.setEnabled(False)
            action.triggered.connect(slot)
            signal.connect(action.setEnabled)
            tb.addAction(action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.file_label = QLabel(self)
        self.info_label = QLabel(self)
        self.page_label = QLabel(self)
        self.device_label = QLabel(self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the running task")
        self.cancel_button.clicked.connect(self.runner.cancel_all)
        bar.addWidget(self.file_label)
        bar.addWidget(self.info_label)
        bar.addWidget(self.page_label)
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
        try:
            add_recent_file(path, self.settings)
        except OSError as exc:  # a read-only settings file must not stop the recording from opening
            log.warning("cannot update the recent files: %s", exc)

    def set_recording(self, recording: Recording, path: str | os.PathLike | None = None) -> None:
        """Show a recording made in memory (tests, synthetic data); it is cleaned like an opened file."""
        self.model.set_recording(recording, path)

    def _on_recording_loaded(self, recording: Recording) -> None:
        self._generation += 1
        self.setWindowTitle(f"{recording.title} - MMQ-Net Studio")
        self.export_masks_action.setEnabled(self.model.masks is not None)
        self.clean_action.setEnabled(True)
        self._fill_scale_combo(recording)
        self.mode_combo.setCurrentText(self.browser.mode)
        self._update_status()
        self.start_cleaning()

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
                self.model.set_preprocess_result(result)  # the core has logged each step
                log.info("cleaned %s", recording.title)

        self.runner.submit(clean_recording, recording, self.prefs, key="clean",
                           name=f"Cleaning {recording.title}", on_result=done,
                           on_error=lambda exc: self.report_error(exc, f"cleaning {recording.title}"))

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
                masks.to_annotations(duration_s=duration).save(path, overwrite=True)
            else:
                masks.save(path, recording=self.model.path)
        except Exception as exc:  # noqa: BLE001 - one error path
            self.report_error(exc, f"exporting the masks to {path.name}")
            return None
        log.info("masks exported to %s", path)
        return path

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
        cleaning = ("line_freq", "eeg_low_hz", "eeg_high_hz")
        if any(getattr(old, f) != getattr(prefs, f) for f in cleaning):
            self.start_cleaning()

    # --- errors ---------------------------------------------------------------------------------------------
    def report_error(self, exc: BaseException, context: str = "") -> None:
        """Show an error through the one notification path (app.errors)."""
        self.last_error = notify_error(exc, self, context) or self.last_error

    # --- status ---------------------------------------------------------------------------------------------
    def _update_status(self) -> None:
        rec = self.model.recording
        if rec is None:
            self.file_label.setText("No recording: File > Open or drop a file here")
            self.info_label.setText("")
        else:
            self.file_label.setText(rec.title)
            rates = sorted({c.sfreq for c in rec.channels})
            rate_text = ", ".join(f"{r:g}" for r in rates)
            minutes, seconds = divmod(rec.duration_s, 60)
            cleaned = "cleaned" if self.model.preprocess_result is not None else "cleaning..."
            self.info_label.setText(f"| {int(minutes)}:{seconds:04.1f} min | {rec.n_channels} ch | "
                                    f"{rate_text} Hz (shown at {rec.sfreq:g} Hz) | {cleaned}")
        self._update_page_label()

    def _update_device_label(self) -> None:
        # Deferred after the window shows: describing the device imports torch (a second or two).
        self.device_label.setText(f"Device: {describe_device(self.prefs.device)}")

    def _update_page_label(self) -> None:
        if self.model.recording is None:
            self.page_label.setText("")
            return
        start, stop = self.browser.visible_range()
        note = f" | {self.browser.status}" if self.browser.status else ""
        self.page_label.setText(f"| {start:.1f}-{stop:.1f} s | {self.browser.mode}{note}")
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
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("working...")
        else:
            self._update_status()

    def _on_progress(self, name: str, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(fraction * 1000))
        self.progress_bar.setFormat(f"{name}: {message or ''} %p%".replace(":  ", ": "))

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
    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Cancel running tasks and wait for them; detach the log handler. Safe to call twice."""
        ok = self.runner.shutdown(timeout_s)
        self.log_panel.detach()
        top_up_refcounts()
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)

