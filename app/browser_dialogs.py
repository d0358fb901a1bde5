"""Dialogs of the signal browser's display: montage editor, display filters, screen calibration.

Each dialog edits plain values (a :class:`~mmqnet_core.montage.Montage`, :class:`DisplayFilter` per modality,
pixels per mm) and hands them back; the window applies them to the browser's state and saves them.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from mmqnet_core.errors import ConfigError
from mmqnet_core.montage import Montage, montage_from_text
from mmqnet_core.preprocessing.display_filter import DisplayFilter
from mmqnet_core.recording import Modality

#: Filters a reader usually starts from, per modality (high-pass, low-pass), Hz.
FILTER_PRESETS: dict[Modality, tuple[float | None, float | None]] = {
    Modality.EEG: (0.5, 35.0), Modality.EOG: (0.1, 15.0), Modality.EMG: (10.0, None), Modality.ECG: (0.5, 40.0),
    Modality.PPG: (0.1, 8.0), Modality.RESP: (0.05, 2.0), Modality.GSR: (None, 1.0), Modality.TEMP: (None, 0.5),
}


class MontageEditor(QDialog):
    """Name and derivations (one ``A - B`` per line) of a custom montage; :meth:`montage` gives it back."""

    def __init__(self, montage: Montage | None = None, channels: Iterable[str] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Montage editor")
        self.name_edit = QLineEdit(montage.name if montage is not None else "My montage", self)
        self.text_edit = QPlainTextEdit(self)
        self.text_edit.setTabChangesFocus(True)  # Tab reaches Save (it typed a tab: the keyboard was trapped)
        self._channels = set(channels)
        self.text_edit.setPlaceholderText("Fp1 - F7\nF7 - T7\n# one derivation per line: A - B, or a channel alone")
        if montage is not None and montage.kind == "custom":
            self.text_edit.setPlainText("\n".join(d.to_text() for d in montage.derivations))
        names = ", ".join(channels)
        hint = QLabel(f"Derivations as <b>A - B</b>, one per line (a channel alone: as recorded). The montage "
                      f"changes only what is drawn; the model reads its own input.<br>Channels: {names}", self)
        hint.setWordWrap(True)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel,
                                   parent=self)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        # Checked as typed, but an empty montage is not an error until it is saved: a new one showed
        # "has no derivations" in red before anything was typed.
        self.text_edit.textChanged.connect(self._check)
        self.name_edit.textChanged.connect(self._check)
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.text_edit, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self.resize(460, 420)
        self._check()

    #: Shown, in the neutral colour, while no derivation has been typed.
    EMPTY_HINT = "Type one derivation per line, e.g. 'Fp1 - F7', then Save."

    def montage(self) -> Montage:
        """The montage typed (raises ConfigError with what is wrong)."""
        return montage_from_text(self.name_edit.text().strip(), self.text_edit.toPlainText())

    def _show(self, text: str, error: bool) -> None:
        self.error_label.setText(text)
        self.error_label.setProperty("error", error)
        self.error_label.setStyleSheet("color: #b71c1c" if error else "color: palette(mid)")

    def _has_derivations(self) -> bool:
        lines = (line.split("#", 1)[0].strip() for line in self.text_edit.toPlainText().splitlines())
        return any(lines)

    def _check(self) -> None:
        """Neutral hint while nothing is typed; the error of what was typed otherwise (none when it is valid)."""
        if not self._has_derivations():
            self._show(self.EMPTY_HINT, error=False)
            return
        try:
            montage = self.montage()
        except ConfigError as exc:
            self._show(str(exc), error=True)
        else:
            note = self._absent_note(montage)
            self._show(note, error=False)
            if note:  # a warning, readable (the neutral hint's grey was faint)
                self.error_label.setStyleSheet("color: #8a5a00")

    def _absent_note(self, montage: Montage) -> str:
        """Names of derivations that read a channel this recording lacks (they are not drawn: "Xx - Yy" was
        saved and silently left out)."""
        if not self._channels:
            return ""
        absent = [d.name for d in montage.derivations if any(c not in self._channels for c in d.channels)]
        return (f"Not in this recording, so not drawn: {', '.join(absent)} (kept in the montage for other "
                "recordings)." if absent else "")

    def _accept(self) -> None:
        try:
            self.montage()
        except ConfigError as exc:
            self._show(str(exc), error=True)
            return
        self.accept()


class _HzSpinBox(QDoubleSpinBox):
    """A frequency box whose 0 reads "off": a digit typed while it reads "off" replaces the word.

    QDoubleSpinBox selects its text only when Tab brings the focus; in the box that has the focus when the dialog
    opens, or one clicked into, "0.5" was typed after "off", rejected, and the filter stayed off.
    """

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        text = event.text()
        if text and text in "0123456789.," and self.lineEdit().text() == self.specialValueText() != "":
            self.lineEdit().selectAll()
        super().keyPressEvent(event)


def _spin(value: float | None, maximum: float, parent: QWidget | None = None) -> QDoubleSpinBox:
    box = _HzSpinBox(parent)  # made in the dialog: Tab goes along each row (it went down the Notch column first)
    box.setRange(0.0, maximum)
    box.setDecimals(2)
    box.setSpecialValueText("off")
    box.setSuffix(" Hz")
    box.setValue(value or 0.0)
    return box


class DisplayFilterDialog(QDialog):
    """High-pass, low-pass and notch per modality (0 = off); :meth:`filters` gives them back."""

    def __init__(self, modalities: Iterable[Modality], filters: Mapping[Modality, DisplayFilter],
                 sfreq: float, line_freq: float | None = 50.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Display filters")
        grid = QGridLayout()
        for col, text in enumerate(("", "High-pass", "Low-pass", "Notch")):
            grid.addWidget(QLabel(f"<b>{text}</b>", self), 0, col)
        self.boxes: dict[Modality, tuple[QDoubleSpinBox, QDoubleSpinBox, QComboBox]] = {}
        nyq = sfreq / 2
        for row, m in enumerate(modalities, start=1):
            f = filters.get(m, DisplayFilter())
            hp, lp = _spin(f.highpass_hz, nyq, self), _spin(f.lowpass_hz, nyq, self)
            notch = QComboBox(self)
            notch.addItems(["off", "50 Hz", "60 Hz"])
            notch.setCurrentText(f"{f.notch_hz:g} Hz" if f.notch_hz in (50.0, 60.0) else "off")
            grid.addWidget(QLabel(m.value, self), row, 0)
            grid.addWidget(hp, row, 1)
            grid.addWidget(lp, row, 2)
            grid.addWidget(notch, row, 3)
            self.boxes[m] = (hp, lp, notch)
        note = QLabel("Display filters change only what is drawn (zero-phase, on the page shown). The "
                      "<b>cleaned signal</b> (orange) is what the model reads; it is set in Preferences.", self)
        note.setWordWrap(True)
        self.error_label = QLabel(self)
        self.error_label.setStyleSheet("color: #b71c1c")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults, parent=self)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).setText("Presets")
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            lambda: self.apply_presets(line_freq))
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(note)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)

    def apply_presets(self, line_freq: float | None = 50.0) -> None:
        for m, (hp, lp, notch) in self.boxes.items():
            lo, hi = FILTER_PRESETS.get(m, (None, None))
            hp.setValue(lo or 0.0)
            lp.setValue(hi or 0.0)
            electro = m in (Modality.EEG, Modality.EOG, Modality.EMG, Modality.ECG)
            notch.setCurrentText(f"{line_freq:g} Hz" if electro and line_freq in (50.0, 60.0) else "off")

    def filters(self) -> dict[Modality, DisplayFilter]:
        """The filters set (modalities with everything off are left out); raises ConfigError when invalid."""
        out = {}
        for m, (hp, lp, notch) in self.boxes.items():
            n = None if notch.currentText() == "off" else float(notch.currentText().split()[0])
            f = DisplayFilter(hp.value() or None, lp.value() or None, n)
            if f.active:
                out[m] = f
        return out

    def _accept(self) -> None:
        try:
            self.filters()
        except ConfigError as exc:
            self.error_label.setText(str(exc))
            return
        self.accept()


class _Ruler(QWidget):
    """A horizontal bar meant to be ``length_mm`` long at ``px_per_mm``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.px_per_mm = 96 / 25.4
        self.length_mm = 100.0
        self.setMinimumHeight(40)

    def paintEvent(self, event):  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setPen(QPen(Qt.GlobalColor.black, 2))
        length = self.length_mm * self.px_per_mm
        y = self.height() / 2
        p.drawLine(QPointF(10, y), QPointF(10 + length, y))
        for k in range(int(self.length_mm // 10) + 1):
            x = 10 + k * 10 * self.px_per_mm
            p.drawLine(QPointF(x, y - (8 if k % 5 == 0 else 4)), QPointF(x, y + (8 if k % 5 == 0 else 4)))
        p.end()


class CalibrationDialog(QDialog):
    """Screen calibration: measure the bar with a ruler and type its length; :meth:`px_per_mm` gives the result."""

    def __init__(self, px_per_mm: float, reported: float | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Calibrate the screen")
        self._current = px_per_mm
        self.ruler = _Ruler(self)
        self.ruler.px_per_mm = px_per_mm
        self.ruler.setMinimumWidth(int(100 * px_per_mm) + 20)
        self.measured = QDoubleSpinBox(self)
        self.measured.setRange(10.0, 1000.0)
        self.measured.setDecimals(1)
        self.measured.setSuffix(" mm")
        self.measured.setValue(100.0)
        source = (f"the screen reports {reported * 25.4:.0f} dpi" if reported else "the screen reports no size")
        text = QLabel(f"The bar below should be 100 mm long ({source}). Measure it with a ruler held against the "
                      "screen and type what you measured: sensitivities (µV/mm) and timebases (mm/s) are then "
                      "true on this screen.", self)
        text.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
                                   parent=self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Measured length of the bar", self.measured)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.ruler)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def px_per_mm(self) -> float:
        """Pixels per mm that make the bar measure 100 mm."""
        measured = self.measured.value()
        if not measured > 0 or not math.isfinite(measured):
            raise ConfigError(f"Measured length must be > 0 mm, got {measured}.")
        return self._current * 100.0 / measured
