"""BrowserControls: the window's toolbar controls, menu entries and status-bar labels for the browser's display.

Sensitivity (units/mm) and timebase (mm/s) combos, the montage choice, measurement and display-filter toggles,
the montage editor, display-filter and screen-calibration dialogs, and the status-bar read-outs. It keeps the
user's montages (JSON beside the settings file), display filters and screen calibration in the settings. Every
control hands the keyboard focus back to the browser when used, so that the browser's keys keep working.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QSizePolicy, QToolBar, QWidget

from mmqnet_core.errors import ConfigError
from mmqnet_core.montage import BUILTIN, Montage, load_montages, save_montages
from mmqnet_core.preprocessing.display_filter import DisplayFilter
from mmqnet_core.recording import Modality

from .browser_dialogs import CalibrationDialog, DisplayFilterDialog, MontageEditor
from .browser_state import TIMEBASES_MM_S, format_number
from .elided_label import MIN_CHARS, ElidedLabel

if TYPE_CHECKING:  # pragma: no cover
    from .signal_browser import SignalBrowser

log = logging.getLogger(__name__)

#: Sensitivities offered in the toolbar, in the shown unit per mm (µV/mm for EEG).
SENSITIVITIES: tuple[float, ...] = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 500)
#: Settings keys.
PX_PER_MM_KEY = "browser/px_per_mm"
FILTERS_KEY = "browser/display_filters"
NEGATIVE_UP_KEY = "browser/negative_up"
MONTAGE_FILE = "montages.json"
#: Characters the toolbar's montage box shows (its list shows the names in full)
MONTAGE_COMBO_CHARS = 8


def screen_px_per_mm() -> float | None:
    """Pixels per mm of the primary screen from its reported physical size (None when it reports nothing)."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return None
    dpi = screen.physicalDotsPerInch()
    return dpi / 25.4 if dpi and math.isfinite(dpi) and 30 < dpi < 1000 else None


def return_focus(control: QWidget, browser: QWidget) -> None:
    """Give the keyboard focus back to ``browser`` after ``control`` (combo box, button) was used."""
    for signal in ("activated", "clicked"):
        if hasattr(control, signal):
            getattr(control, signal).connect(lambda *_: browser.setFocus())
    if isinstance(control, QComboBox) and control.isEditable():
        control.lineEdit().editingFinished.connect(browser.setFocus)


class BrowserControls:
    """Toolbar, menu and status-bar controls of one browser (see the module docstring)."""

    def __init__(self, browser: "SignalBrowser", settings: QSettings, parent: QWidget) -> None:
        self.browser = browser
        self.settings = settings
        self.parent = parent
        self.user_montages: list[Montage] = []
        self._syncing = False
        self._shown: dict[str, str] = {}  # the sensitivity and timebase texts the boxes show (the values in force)
        self.reported_px_per_mm = screen_px_per_mm()
        self._load()
        # Elided (full text in the tooltip): a plain QLabel was cut mid-word in a narrow window.
        self.display_label = ElidedLabel("", parent)
        # It takes the room the other status texts leave (its text is long, and the plot's legend and its tooltip
        # give it in full): with its width asked for, the page's time span was elided to "| 00:00.0..." instead.
        self.display_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        metrics = self.display_label.fontMetrics()  # "| montag…" at least (an Ignored width could reach 0)
        self.display_label.setMinimumWidth(metrics.horizontalAdvance("| " + "x" * MIN_CHARS + "\u2026"))
        self.build_actions()
        browser.displayChanged.connect(self.sync)
        browser.scaleChanged.connect(self.sync)
        self._page_length: float | None = None
        browser.pageChanged.connect(self._on_page)
        browser.channelPageChanged.connect(lambda *_: self.sync())

    # --- settings ------------------------------------------------------------------------------------------
    @property
    def montage_path(self) -> Path:
        return Path(self.settings.fileName()).parent / MONTAGE_FILE

    def _load(self) -> None:
        state = self.browser.state
        value = self.settings.value(PX_PER_MM_KEY)
        try:
            state.set_px_per_mm(float(value) if value is not None else (self.reported_px_per_mm or state.px_per_mm))
        except (TypeError, ValueError):
            log.warning("ignoring the stored screen calibration %r", value)
        try:
            self.user_montages = load_montages(self.montage_path)
        except ConfigError as exc:
            log.warning("%s", exc)
        self.browser.montages = list(BUILTIN) + self.user_montages
        self._negative_up_saved = bool(self.settings.value(NEGATIVE_UP_KEY, False, type=bool))
        state.set_negative_up(self._negative_up_saved)
        text = self.settings.value(FILTERS_KEY)
        if text:
            try:
                filters = {Modality.parse(m): DisplayFilter(*v) for m, v in json.loads(str(text)).items()}
                state.set_filters(filters)
            except (ValueError, TypeError, ConfigError) as exc:
                log.warning("ignoring the stored display filters (%s)", exc)

    def _save_filters(self) -> None:
        data = {m.value: [f.highpass_hz, f.lowpass_hz, f.notch_hz] for m, f in self.browser.state.filters.items()}
        self.settings.setValue(FILTERS_KEY, json.dumps(data))

    # --- toolbar ---------------------------------------------------------------------------------------------
    def add_to_toolbar(self, tb: QToolBar) -> None:
        parent, browser = self.parent, self.browser
        # no "Sens" label: the unit after the box says what it is ("7 µV/mm (EEG)"; the toolbar fits 1024 px)
        self.sens_combo = QComboBox(parent)
        self.sens_combo.setEditable(True)
        # a typed value is applied, not added to the list (each Enter appended it: "abc", "7.3", ...)
        self.sens_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.sens_combo.addItems([f"{s:g}" for s in SENSITIVITIES])
        self.sens_combo.setMinimumContentsLength(5)
        self.sens_combo.setToolTip("Sensitivity of the modality shown (the Scale choice, else the top row's): "
                                   "amplitude per mm on screen (calibrate in View > Calibrate screen)")
        self.sens_combo.activated.connect(lambda _i: self._set_sensitivity(self.sens_combo.currentText()))
        self.sens_combo.lineEdit().returnPressed.connect(lambda: self._set_sensitivity(self.sens_combo.currentText()))
        tb.addWidget(self.sens_combo)
        self.sens_unit = QLabel("\u00b5V/mm ", parent)
        tb.addWidget(self.sens_unit)
        self.timebase_combo = QComboBox(parent)
        self.timebase_combo.setEditable(True)
        self.timebase_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.timebase_combo.addItems([f"{t:g}" for t in TIMEBASES_MM_S])
        self.timebase_combo.setMinimumContentsLength(4)
        self.timebase_combo.setToolTip("Timebase: mm of screen per second (30 mm/s is the EEG standard)")
        self.timebase_combo.activated.connect(lambda _i: self._set_timebase(self.timebase_combo.currentText()))
        self.timebase_combo.lineEdit().returnPressed.connect(
            lambda: self._set_timebase(self.timebase_combo.currentText()))
        tb.addWidget(self.timebase_combo)
        tb.addWidget(QLabel("mm/s ", parent))
        tb.addWidget(QLabel(" Montage ", parent))
        self.montage_combo = QComboBox(parent)
        # as wide as a short name (the toolbar fits a 1024-px window: it held Measure and Filters behind >>); the
        # list shows the names in full (_fill_montage_combo)
        self.montage_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.montage_combo.setMinimumContentsLength(MONTAGE_COMBO_CHARS)
        self.montage_combo.setToolTip("EEG montage drawn (Ctrl+1..Ctrl+6); the model's input is not changed")
        self.montage_combo.activated.connect(lambda i: browser.set_montage_index(i))
        tb.addWidget(self.montage_combo)
        self._fill_montage_combo()
        for control in (self.sens_combo, self.timebase_combo, self.montage_combo):
            return_focus(control, browser)
        tb.addAction(self.measure_action)
        tb.addAction(self.filters_action)
        self.sync()

    def _set_sensitivity(self, text: str) -> None:
        if text.strip() == self._shown.get("sens"):  # the value in force (Enter also sends it as 'activated'
            self.browser.setFocus()                   # after a rejected one: that redraw wiped the hint)
            return
        try:
            value = float(text.replace(",", "."))
            self.browser.set_sensitivity(value)
        except ValueError:
            self._invalid(f"invalid sensitivity {text!r}: type a number > 0 (e.g. 7 for 7 \u00b5V/mm)")
            return
        self.browser.setFocus()

    def _set_timebase(self, text: str) -> None:
        if text.strip() == self._shown.get("timebase"):
            self.browser.setFocus()
            return
        try:
            self.browser.set_timebase(float(text.replace(",", ".")))
        except ValueError:
            self._invalid(f"invalid timebase {text!r}: type a number > 0 in mm/s (30 is the standard)")
            return
        self.browser.setFocus()

    def _invalid(self, hint: str) -> None:
        """A typed value that is no number > 0: said in the status bar, the box back to the value in force (it
        was a modal "An unexpected error ... please report it" with Python's "could not convert string")."""
        self.browser.setFocus()
        self.browser.status = hint
        self.browser.displayChanged.emit()  # the status bar shows the hint, sync() puts the value back

    def _fill_montage_combo(self) -> None:
        combo = self.montage_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItems([m.name for m in self.browser.montages])
        combo.blockSignals(False)
        for i in range(combo.count()):  # the name in force in full when the box shows it cut
            combo.setItemData(i, combo.itemText(i), Qt.ItemDataRole.ToolTipRole)
        view, metrics = combo.view(), combo.fontMetrics()
        view.setMinimumWidth(max((metrics.horizontalAdvance(combo.itemText(i)) for i in range(combo.count())),
                                 default=0) + 2 * metrics.averageCharWidth() + view.verticalScrollBar().sizeHint().width())

    # --- menu --------------------------------------------------------------------------------------------------
    def build_actions(self) -> None:
        parent, browser = self.parent, self.browser
        self.measure_action = QAction("Measure (Q)", parent)
        self.measure_action.setCheckable(True)
        self.measure_action.setToolTip("Two cursors: \u0394t, 1/\u0394t and \u0394amplitude of the clicked channel "
                                       "(key Q)")
        self.measure_action.triggered.connect(lambda _c: browser.toggle_measure())
        self.measure_action.setIconText("Measure")  # the toolbar button (the key is in the tooltip)
        self.filters_action = QAction("Display filters on (F)", parent)
        self.filters_action.setCheckable(True)
        self.filters_action.setToolTip("Display filters on/off (key F); set them in View > Display filters")
        self.filters_action.triggered.connect(lambda _c: browser.toggle_filters())
        self.filters_action.setIconText("Filters")  # the toolbar button
        self.clip_action = QAction("Clip traces to their rows (K)", parent)
        self.clip_action.setCheckable(True)
        self.clip_action.triggered.connect(lambda _c: browser.toggle_clip())
        self.polarity_action = QAction("Negative up (I)", parent)
        self.polarity_action.setCheckable(True)
        self.polarity_action.setToolTip("Draw negative values upwards, the clinical EEG convention (key I)")
        self.polarity_action.triggered.connect(lambda _c: browser.toggle_negative_up())
        self.clock_action = QAction("Clock time on the time axis (T)", parent)
        self.clock_action.setCheckable(True)
        self.clock_action.triggered.connect(lambda _c: browser.toggle_clock_time())
        self.filter_dialog_action = QAction("Display &filters...", parent)
        self.filter_dialog_action.triggered.connect(self.ask_filters)
        self.montage_editor_action = QAction("&Montage editor...", parent)
        self.montage_editor_action.triggered.connect(self.ask_montage)
        self.calibrate_action = QAction("&Calibrate screen...", parent)
        self.calibrate_action.triggered.connect(self.ask_calibration)
        self.reset_gains_action = QAction("Reset channel gains (\\)", parent)
        self.reset_gains_action.triggered.connect(browser.reset_gains)

    def add_to_menu(self, menu: QMenu) -> None:
        self.montage_menu = menu.addMenu("M&ontage")
        self.montage_menu.aboutToShow.connect(self._fill_montage_menu)
        menu.addAction(self.montage_editor_action)
        menu.addAction(self.filter_dialog_action)
        menu.addAction(self.filters_action)
        menu.addAction(self.calibrate_action)
        menu.addAction(self.clip_action)
        menu.addAction(self.polarity_action)
        menu.addAction(self.clock_action)
        menu.addAction(self.measure_action)
        menu.addAction(self.reset_gains_action)

    def _fill_montage_menu(self) -> None:
        menu = self.montage_menu
        menu.clear()
        group = QActionGroup(menu)
        for i, m in enumerate(self.browser.montages):
            action = menu.addAction(m.name + (f"\tCtrl+{i + 1}" if i < len(BUILTIN) else ""))
            action.setCheckable(True)
            action.setChecked(m == self.browser.state.montage)
            action.triggered.connect(lambda _c=False, k=i: self.browser.set_montage_index(k))
            group.addAction(action)

    # --- dialogs ----------------------------------------------------------------------------------------------
    def ask_montage(self) -> MontageEditor | None:
        rec = self.browser.recording
        current = self.browser.state.montage
        dialog = MontageEditor(current if current.kind == "custom" else None,
                               rec.ch_names if rec is not None else (), self.parent)
        if not dialog.exec():
            return None
        self.add_montage(dialog.montage())
        return dialog

    def add_montage(self, montage: Montage) -> None:
        """Keep (or replace by name) a custom montage, save the montages and show it."""
        self.user_montages = [m for m in self.user_montages if m.name != montage.name] + [montage]
        try:
            save_montages(self.montage_path, self.user_montages)
        except OSError as exc:
            self.browser.model.errorOccurred.emit(exc, f"saving the montages to {self.montage_path}")
        self.browser.montages = list(BUILTIN) + self.user_montages
        if hasattr(self, "montage_combo"):
            self._fill_montage_combo()
        self.browser.set_montage(montage)

    def ask_filters(self) -> None:
        rec = self.browser.recording
        mods = sorted({c.modality for c in rec.channels}, key=lambda m: list(Modality).index(m)) if rec else \
            [Modality.EEG]
        dialog = DisplayFilterDialog(mods, self.browser.state.filters, rec.sfreq if rec else 256.0,
                                     parent=self.parent)
        if dialog.exec():
            self.set_filters(dialog.filters())

    def set_filters(self, filters: dict[Modality, DisplayFilter]) -> None:
        self.browser.state.set_filters(filters)
        self.browser.state.set_filters_on(True)
        self._save_filters()

    def ask_calibration(self) -> None:
        dialog = CalibrationDialog(self.browser.state.px_per_mm, self.reported_px_per_mm, self.parent)
        if dialog.exec():
            self.set_px_per_mm(dialog.px_per_mm())

    def set_px_per_mm(self, px_per_mm: float) -> None:
        self.browser.state.set_px_per_mm(px_per_mm)
        self.settings.setValue(PX_PER_MM_KEY, float(px_per_mm))

    # --- sync ---------------------------------------------------------------------------------------------------
    def _on_page(self, start: float, stop: float) -> None:
        """A page step changes none of the controls (~0.5 ms saved per step); a new page length changes the
        timebase shown."""
        if stop - start != self._page_length:
            self._page_length = stop - start
            self.sync()

    def sync(self) -> None:
        """Show the browser's current values in the controls (no signal is sent back)."""
        browser, state = self.browser, self.browser.state
        self.measure_action.setChecked(browser.measuring)
        self.filters_action.setChecked(state.filters_on and bool(state.filters))
        self.clip_action.setChecked(state.clip)
        self.polarity_action.setChecked(state.negative_up)
        if self._negative_up_saved != state.negative_up:  # kept for the next start (K, T are not: per reading)
            self._negative_up_saved = state.negative_up
            self.settings.setValue(NEGATIVE_UP_KEY, state.negative_up)
        self.clock_action.setChecked(state.clock_time)
        self.clock_action.setEnabled(state.start_time is not None)
        summary = browser.display_summary()
        self.display_label.setText(f"| {summary}" if summary else "")
        self.display_label.setToolTip(summary)
        if not hasattr(self, "sens_combo"):
            return
        text = browser.calibration_text()
        self.sens_combo.setToolTip(f"Sensitivity: {text or 'not known yet'} (Scale choice, else the top row's "
                                   "modality)")
        if browser.recording is not None and browser._row_mods:
            mod = browser._scale_modality()
            row = browser._row_mods.index(mod)
            unit, factor = browser.row_unit(row)
            sens = state.sensitivity(mod) * factor
            if math.isfinite(sens) and not self.sens_combo.lineEdit().hasFocus():
                self._shown["sens"] = format_number(sens)
                self.sens_combo.setEditText(self._shown["sens"])
            self.sens_unit.setText(f"{unit}/mm ({mod.value}) ")
        tb = state.timebase_mm_s
        if math.isfinite(tb) and not self.timebase_combo.lineEdit().hasFocus():
            self._shown["timebase"] = format_number(tb)
            self.timebase_combo.setEditText(self._shown["timebase"])
        names = [m.name for m in browser.montages]
        if names != [self.montage_combo.itemText(i) for i in range(self.montage_combo.count())]:
            self._fill_montage_combo()
        if state.montage.name in names:
            self.montage_combo.setCurrentIndex(names.index(state.montage.name))
