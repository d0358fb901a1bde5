"""User preferences: a frozen dataclass, its storage in QSettings, and the Preferences dialog.

Settings live in the platform's usual place under organisation "MMQNet", application "Studio". When the
environment variable ``MMQNET_STUDIO_SETTINGS`` names a file, an INI file there is used instead (tests and
portable installs; ``mmqnet-studio --settings FILE`` sets it), so tests never touch the user's settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from mmqnet_core.errors import ConfigError

ORGANISATION = "MMQNet"
APPLICATION = "Studio"
SETTINGS_ENV = "MMQNET_STUDIO_SETTINGS"

LINE_FREQ_CHOICES = ("auto", "50", "60")
#: Under the message when OK is pressed with an inconsistent value (the dialog stays open).
INVALID_PREFERENCES_TEXT = "Correct the value and press OK again, or Cancel to keep the preferences as they were."
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
MAX_RECENT = 10
#: Most Monte-Carlo samples offered in the dialog (each is one more pass of the model over the recording).
MAX_MC_SAMPLES = 100
#: What the cleaning rows of the dialog change (the analysis cleans with its checkpoint's own settings:
#: ``LoadedModel.preprocess_config`` in mmqnet_core.inference).
CLEANING_SCOPE_TEXT = ("Line frequency and band-pass change the cleaned trace shown in the browser; the analysis "
                       "cleans as its model checkpoint was trained.")
#: Tooltip of each control of the dialog, by attribute name: what it changes, its unit and range.
TOOLTIPS = {
    "line_freq": "Mains frequency (Hz) whose line noise is notched out of the cleaned trace shown in the browser: "
                 "auto (found from the spectrum), 50 Hz or 60 Hz. The analysis cleans as its model checkpoint was "
                 "trained (auto for the shipped model).",
    "eeg_low": "Lower edge (Hz) of the EEG band-pass of the cleaned trace shown in the browser (0 Hz: no "
               "high-pass). The analysis uses its model checkpoint's band (1-45 Hz for the shipped model).",
    "eeg_high": "Upper edge (Hz) of the EEG band-pass of the cleaned trace shown in the browser. The analysis "
                "uses its model checkpoint's band (1-45 Hz for the shipped model).",
    "window": "The analysis window (s) is the one the model checkpoint was trained on (1 s for the shipped "
              "model); the report and the CSV export give it.",
    "device": "Where the model runs: auto (a CUDA GPU, else Apple MPS, else the CPU), cpu, cuda or mps. "
              "A GPU computes in reduced precision (bfloat16): probabilities may differ slightly from the CPU's.",
    "checkpoint": "Model checkpoint (a folder with model.safetensors and config.json, or that file) used by the "
                  "next analysis; empty: the checkpoint shipped with the application, trained on SYNTHETIC data.",
    "occlusion": "Occlusion maps in the attention view: ΔP(high), the change of the probability of the high class "
                 "(-1 to +1, no unit) when each modality is hidden; and the missing-evidence term of the "
                 "uncertainty (entropy, bits). One more model pass per modality: the model stage takes about 8x "
                 "as long (measured: 0.5 s -> 3.5 s for a 10-min recording on a quiet machine, more on a busy one), "
                 "a whole analysis about 2-3x.",
    "raw_colour": "Colour of the raw traces in the signal browser (display only).",
    "cleaned_colour": "Colour of the cleaned traces (the model's input) in the signal browser (display only).",
}


def make_settings() -> QSettings:
    """The QSettings of the app (an INI file named by ``$MMQNET_STUDIO_SETTINGS`` if set)."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


def _valid_colour(value: str) -> bool:
    return QColor(value).isValid()


@dataclass(frozen=True)
class Preferences:
    """What the user can set in Edit > Preferences."""

    line_freq: str = "auto"  # power-line frequency: "auto" (found from the spectrum), "50" or "60" Hz
    eeg_low_hz: float = 1.0  # EEG band-pass lower edge, Hz
    eeg_high_hz: float = 45.0  # EEG band-pass upper edge, Hz
    # feature/analysis window length, s; not used by the analysis (the model checkpoint fixes its window) and not
    # shown in the dialog (it was a control that did nothing); kept so that older settings files still read
    window_s: float = 1.0
    device: str = "auto"  # compute device for the model: "auto", "cpu", "cuda" or "mps"
    checkpoint: str = ""  # model checkpoint file; "" = the checkpoint shipped with the app
    raw_colour: str = "#1f4e9c"  # colour of raw traces (any Qt colour name or #rrggbb)
    cleaned_colour: str = "#e0600b"  # colour of cleaned traces
    mc_samples: int = 0  # Monte-Carlo (MC dropout) samples for the uncertainty band: 0 = off, else 2-MAX_MC_SAMPLES
    # occlusion maps (attention view) and the missing-evidence term of the uncertainty: one probability-only pass
    # per modality, about 8x the model stage's time (10-min SYNTHETIC recording, quiet machine: 0.46 -> 3.54 s;
    # 240-s sample 0.15 -> 1.0 s), a whole analysis 2-3x; off = faster analyses of long recordings
    occlusion: bool = True

    def __post_init__(self) -> None:
        if self.line_freq not in LINE_FREQ_CHOICES:
            raise ConfigError(
                f"Invalid value for 'line_freq': allowed {', '.join(LINE_FREQ_CHOICES)}, got {self.line_freq!r}."
            )
        if not 0 <= self.eeg_low_hz < self.eeg_high_hz:
            raise ConfigError(
                f"Invalid EEG band-pass {self.eeg_low_hz}-{self.eeg_high_hz} Hz: the low edge must be >= 0 and "
                "below the high edge."
            )
        if not self.window_s > 0:
            raise ConfigError(f"Invalid value for 'window_s': must be > 0 s, got {self.window_s}.")
        if self.device not in DEVICE_CHOICES:
            raise ConfigError(
                f"Invalid value for 'device': allowed {', '.join(DEVICE_CHOICES)}, got {self.device!r}."
            )
        if (isinstance(self.mc_samples, bool) or not isinstance(self.mc_samples, int)
                or not (self.mc_samples == 0 or 2 <= self.mc_samples <= MAX_MC_SAMPLES)):
            raise ConfigError(f"Invalid value for 'mc_samples' (Uncertainty samples): 0 (off) or 2-{MAX_MC_SAMPLES}, "
                              f"got {self.mc_samples!r}.")
        for name in ("raw_colour", "cleaned_colour"):
            if not _valid_colour(getattr(self, name)):
                raise ConfigError(f"Invalid colour for {name!r}: {getattr(self, name)!r} (use e.g. '#1f4e9c').")

    @property
    def line_freq_hz(self) -> float | None:
        """The line frequency in Hz, ``None`` for automatic detection."""
        return None if self.line_freq == "auto" else float(self.line_freq)


def load_preferences(settings: QSettings | None = None) -> Preferences:
    """Read :class:`Preferences` from ``settings``; values that are missing or invalid fall back to defaults."""
    settings = settings or make_settings()
    defaults = Preferences()
    values: dict[str, Any] = {}
    for f in fields(Preferences):
        default = getattr(defaults, f.name)
        raw = settings.value(f"preferences/{f.name}", default)
        try:
            if isinstance(default, bool):  # QSettings gives "true"/"false" strings from INI files
                values[f.name] = raw if isinstance(raw, bool) else str(raw).strip().lower() in ("true", "1", "yes")
            else:
                values[f.name] = type(default)(raw)
        except (TypeError, ValueError):
            values[f.name] = default
    try:
        return Preferences(**values)
    except ConfigError:
        # One bad stored value must not make the app unusable: keep the valid ones.
        prefs = defaults
        for name, value in values.items():
            try:
                prefs = replace(prefs, **{name: value})
            except ConfigError:
                pass
        return prefs


def save_preferences(prefs: Preferences, settings: QSettings | None = None) -> None:
    """Store ``prefs`` in ``settings``."""
    settings = settings or make_settings()
    for f in fields(Preferences):
        settings.setValue(f"preferences/{f.name}", getattr(prefs, f.name))
    settings.sync()


def recent_files(settings: QSettings | None = None) -> list[str]:
    """Recently opened files, most recent first (files that no longer exist are skipped)."""
    settings = settings or make_settings()
    value = settings.value("recent_files", [])
    if isinstance(value, str):  # QSettings returns a single-item list as a string
        value = [value]
    return [p for p in (value or []) if Path(p).exists()]


def add_recent_file(path: str | os.PathLike, settings: QSettings | None = None) -> list[str]:
    """Put ``path`` first in the recent files list and return the list."""
    settings = settings or make_settings()
    path = str(Path(path).resolve())
    files = [path] + [p for p in recent_files(settings) if p != path]
    files = files[:MAX_RECENT]
    settings.setValue("recent_files", files)
    settings.sync()
    return files


def _spin_box(parent: QWidget, decimals: int, minimum: float, maximum: float, suffix: str) -> QDoubleSpinBox:
    # Setters, not constructor keywords: see app.qt_compat (PySide6 6.12 loses a reference per keyword).
    box = QDoubleSpinBox(parent)
    box.setDecimals(decimals)
    box.setRange(minimum, maximum)
    box.setSuffix(suffix)
    return box


class _McSpinBox(QSpinBox):
    """Monte-Carlo samples: 0 ("off") or 2-MAX_MC_SAMPLES; 1 is skipped (one sample gives no spread)."""

    def __init__(self, value: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, MAX_MC_SAMPLES)
        self.setSpecialValueText("off")
        self.setKeyboardTracking(False)  # typing "12" must not stop at 1
        self.setValue(value)
        self.setToolTip("Run the model this many more times with its dropout layers on (MC dropout) and draw the "
                        "spread of the probability as a band (mean ± std) on the trajectory; each sample costs "
                        "one more pass over the recording. Needs a model trained with dropout or drop-path.")

    def stepBy(self, steps: int) -> None:
        target = self.value() + steps
        if target == 1:  # over the value that means nothing
            target = 2 if steps > 0 else 0
        self.setValue(max(self.minimum(), min(self.maximum(), target)))

    def valueFromText(self, text: str) -> int:
        value = super().valueFromText(text)
        return 2 if value == 1 else value


class _ColourButton(QPushButton):
    """A button showing a colour; clicking it opens a colour dialog."""

    def __init__(self, colour: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.set_colour(colour)
        self.clicked.connect(self._choose)

    def set_colour(self, colour: str) -> None:
        self.colour = QColor(colour).name()
        self.setText(self.colour)
        self.setStyleSheet(f"background-color: {self.colour}; color: white;")

    def _choose(self) -> None:
        colour = QColorDialog.getColor(QColor(self.colour), self, "Trace colour")
        if colour.isValid():
            self.set_colour(colour.name())


class PreferencesDialog(QDialog):
    """Edit > Preferences: edits a :class:`Preferences` value; :meth:`preferences` returns the result."""

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        form = QFormLayout(self)

        self.line_freq = QComboBox(self)
        self.line_freq.addItems(["auto", "50 Hz", "60 Hz"])
        self.line_freq.setCurrentIndex(LINE_FREQ_CHOICES.index(prefs.line_freq))
        form.addRow("Power-line frequency", self.line_freq)

        self.eeg_low = _spin_box(self, 2, 0.0, 100.0, " Hz")
        self.eeg_low.setValue(prefs.eeg_low_hz)
        self.eeg_high = _spin_box(self, 1, 1.0, 500.0, " Hz")
        self.eeg_high.setValue(prefs.eeg_high_hz)
        band = QHBoxLayout()
        band.addWidget(self.eeg_low)
        band.addWidget(self.eeg_high)
        form.addRow("EEG band-pass", band)

        self.cleaning_scope = QLabel(CLEANING_SCOPE_TEXT, self)
        self.cleaning_scope.setWordWrap(True)
        self.cleaning_scope.setStyleSheet("color: #555;")
        form.addRow("", self.cleaning_scope)

        # The window is the checkpoint's: an editable box here changed nothing (it was never passed on).
        self._window_s = prefs.window_s
        self.window = QLabel("set by the model checkpoint", self)
        form.addRow("Analysis window", self.window)

        self.device = QComboBox(self)
        self.device.addItems(list(DEVICE_CHOICES))
        self.device.setCurrentText(prefs.device)
        form.addRow("Compute device", self.device)

        self.checkpoint = QLineEdit(prefs.checkpoint, self)
        self.checkpoint.setPlaceholderText("shipped checkpoint")
        browse = QPushButton("Browse...", self)
        browse.clicked.connect(self._browse_checkpoint)
        row = QHBoxLayout()
        row.addWidget(self.checkpoint)
        row.addWidget(browse)
        form.addRow("Model checkpoint", row)

        self.mc_samples = _McSpinBox(prefs.mc_samples, self)
        form.addRow("Uncertainty samples (MC)", self.mc_samples)
        self.occlusion = QCheckBox("Occlusion maps and missing-evidence uncertainty (about 8x the model time)",
                                   self)
        self.occlusion.setChecked(prefs.occlusion)
        form.addRow("Attribution", self.occlusion)

        self.raw_colour = _ColourButton(prefs.raw_colour, self)
        form.addRow("Raw trace colour", self.raw_colour)
        self.cleaned_colour = _ColourButton(prefs.cleaned_colour, self)
        form.addRow("Cleaned trace colour", self.cleaned_colour)

        self.browse = browse
        for name, tip in TOOLTIPS.items():
            getattr(self, name).setToolTip(tip)
            label = form.labelForField(getattr(self, name))
            if label is not None:
                label.setToolTip(tip)
        browse.setToolTip(TOOLTIPS["checkpoint"])
        form.labelForField(self.mc_samples).setToolTip(self.mc_samples.toolTip())

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def accept(self) -> None:
        """OK: close only with consistent values; otherwise say what is wrong and keep the dialog and its edits
        open (it used to close, report the error and lose every value typed)."""
        try:
            self.preferences()
        except ConfigError as exc:
            box = QMessageBox(self)
            box.setIcon(QMessageBox.Icon.Warning)
            box.setWindowTitle("Preferences")
            box.setText(str(exc))
            box.setInformativeText(INVALID_PREFERENCES_TEXT)
            box.setStandardButtons(QMessageBox.StandardButton.Ok)
            box.exec()
            return
        super().accept()

    def _browse_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model checkpoint", self.checkpoint.text(),
                                              "Checkpoints (*.safetensors *.pt *.json);;All files (*)")
        if path:
            self.checkpoint.setText(path)

    def preferences(self) -> Preferences:
        """The values shown in the dialog (raises ConfigError if they are inconsistent)."""
        return Preferences(
            line_freq=LINE_FREQ_CHOICES[self.line_freq.currentIndex()],
            eeg_low_hz=self.eeg_low.value(),
            eeg_high_hz=self.eeg_high.value(),
            window_s=self._window_s,
            device=self.device.currentText(),
            checkpoint=self.checkpoint.text().strip(),
            raw_colour=self.raw_colour.colour,
            cleaned_colour=self.cleaned_colour.colour,
            mc_samples=self.mc_samples.value(),
            occlusion=self.occlusion.isChecked(),
        )
