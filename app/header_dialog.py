"""HeaderDialog: the recording's header, patient and recording information, and its channels as recorded.

The fields come from :func:`mmqnet_core.io.header_info.recording_header` (the EDF/BDF header as written, read
from the header bytes only); the dialog only lays them out: a form of recording fields and a table of channels
(name, modality, rate, unit, physical range, transducer, prefiltering).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mmqnet_core.io.header_info import RecordingHeader, recording_header
from mmqnet_core.recording import Recording

CHANNEL_COLUMNS = ("channel", "modality", "rate (Hz)", "unit", "physical range", "transducer", "prefiltering")


class HeaderDialog(QDialog):
    """Recording information and channel table of one recording."""

    def __init__(self, recording: Recording, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Recording info - {recording.title}")
        self.resize(860, 620)
        self.header: RecordingHeader = recording_header(recording)
        form = QFormLayout()
        for label, value in self.header.fields:
            text = QLabel(value or "-", self)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{label}:", text)
        self.table = QTableWidget(len(self.header.channels), len(CHANNEL_COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(CHANNEL_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        for r, ch in enumerate(self.header.channels):
            for c, value in enumerate((ch.name, ch.modality, f"{ch.sfreq:g}", ch.unit or "-",
                                       ch.physical_range or "-", ch.transducer or "-", ch.prefiltering or "-")):
                self.table.setItem(r, c, QTableWidgetItem(value))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(f"<b>{len(self.header.channels)} channels</b> (as recorded)", self))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def field_text(self, label: str) -> str:
        return self.header.field(label)
