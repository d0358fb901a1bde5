"""SubjectFilesDialog: Analysis > Subject recordings... (other recordings of the open recording's subject).

A model trained with per-subject normalisation z-scores a recording with the statistics of all of the subject's
recordings; this dialog lets the user name the others (EDF/BDF/DEAP files, MAHNOB-HCI session folders) and
say whether those found automatically (a DEAP file's trials, the MAHNOB-HCI sessions of the same subject beside
the open one) are used too. :meth:`SubjectFilesDialog.values` gives what
:func:`app.analysis.run_analysis` takes as ``subject_files`` and ``find_subject_recordings``. Nothing is opened
here: the files are read by the analysis, which names any that cannot be used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mmqnet_core.io import SUPPORTED_SUFFIXES, is_mahnob_session

#: File filter of the "Add files..." chooser.
FILES_FILTER = "Recordings (*.bdf *.edf *.BDF *.EDF *.dat);;All files (*)"
#: Text of the check box (quoted by the core's error for an unreadable sibling session).
AUTO_TEXT = "Also use the subject's other sessions and trials found automatically"


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


class SubjectFilesDialog(QDialog):
    """Pick other recordings of the open recording's subject; :meth:`values` returns (paths, automatic)."""

    def __init__(self, paths: Sequence[str | os.PathLike] = (), find_automatically: bool = True, *,
                 recording_source: str | os.PathLike | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Subject recordings")
        self.setMinimumWidth(560)
        self._own = Path(recording_source) if recording_source is not None else None
        layout = QVBoxLayout(self)
        note = QLabel(
            "A model trained with per-subject normalisation scales a recording with the statistics of all of the "
            "subject's recordings. A short recording of one emotional state, scaled with its own, loses its "
            "level: name the subject's other recordings here. They are read when MMQ-Net runs (F5); a model "
            "trained with global normalisation does not use them.", self)
        note.setWordWrap(True)
        layout.addWidget(note)

        self.automatic = QCheckBox(AUTO_TEXT, self)
        self.automatic.setChecked(bool(find_automatically))
        self.automatic.setToolTip("MAHNOB-HCI: rated sessions in the same parent folder whose session.xml names "
                                  "the same subject (only the XML is read to decide). DEAP: the other trials of "
                                  "the .dat file.")
        layout.addWidget(self.automatic)
        auto_note = QLabel("MAHNOB-HCI: the rated sessions beside this one whose session.xml names the same "
                           "subject; DEAP: the other trials of the file. Nothing is found for EDF/BDF files.", self)
        auto_note.setWordWrap(True)
        auto_note.setStyleSheet("color: #555555; margin-left: 22px;")
        layout.addWidget(auto_note)

        layout.addWidget(QLabel("Other recordings of this subject:", self))
        self.list = QListWidget(self)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setToolTip("EDF/BDF files, DEAP .dat files (all their trials) and MAHNOB-HCI session folders")
        layout.addWidget(self.list, 1)

        row = QHBoxLayout()
        self.add_files_button = QPushButton("Add &files...", self)
        self.add_files_button.clicked.connect(self.ask_files)
        self.add_folder_button = QPushButton("Add session f&older...", self)
        self.add_folder_button.clicked.connect(self.ask_folder)
        self.remove_button = QPushButton("&Remove", self)
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = QPushButton("&Clear", self)
        self.clear_button.clicked.connect(self.list.clear)
        for b in (self.add_files_button, self.add_folder_button, self.remove_button, self.clear_button):
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)

        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #a01010;")
        layout.addWidget(self.message)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        # Remove and Clear only when they have something to act on (they were enabled over an empty list)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.list.model().rowsInserted.connect(self._update_buttons)
        self.list.model().rowsRemoved.connect(self._update_buttons)
        self.list.model().modelReset.connect(self._update_buttons)
        self.add_paths(paths)
        self.message.setText("")
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.list.selectedItems()))
        self.clear_button.setEnabled(self.list.count() > 0)

    # --- editing the list ---------------------------------------------------------------------------------------
    def paths(self) -> tuple[Path, ...]:
        """The recordings in the list, in order."""
        return tuple(Path(self.list.item(i).text()) for i in range(self.list.count()))

    def _problem(self, path: Path) -> str:
        """Why ``path`` cannot be added ("" if it can)."""
        if not path.exists():
            return f"{path}: no such file or folder."
        if self._own is not None and _same(path, self._own):
            return f"{path.name} is the open recording itself; it is always used."
        if any(_same(path, p) for p in self.paths()):
            return f"{path.name} is already in the list."
        if path.is_dir():
            if not is_mahnob_session(path):
                return (f"{path} is not a MAHNOB-HCI session folder (session.xml and a .bdf file); add a "
                        "session folder or a recording file.")
            return ""
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            known = ", ".join(SUPPORTED_SUFFIXES)
            return f"{path.name}: unknown file type {path.suffix or '(no extension)'!r}; allowed {known}."
        return ""

    def add_paths(self, paths: Iterable[str | os.PathLike]) -> list[Path]:
        """Add recordings to the list; those that cannot be used are named below the list. Returns those added."""
        added, problems = [], []
        for p in paths:
            path = Path(p).expanduser()
            problem = self._problem(path)
            if problem:
                problems.append(problem)
                continue
            self.list.addItem(str(path))
            added.append(path)
        self.message.setText("\n".join(problems))
        return added

    def remove_selected(self) -> None:
        """Remove the selected rows."""
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self.message.setText("")

    def ask_files(self) -> None:
        """Add files... : choose recording files."""
        start = str(self._own.parent) if self._own is not None else ""
        chosen, _ = QFileDialog.getOpenFileNames(self, "Other recordings of this subject", start, FILES_FILTER)
        if chosen:
            self.add_paths(chosen)

    def ask_folder(self) -> None:
        """Add session folder... : choose a MAHNOB-HCI session folder."""
        start = str(self._own.parent) if self._own is not None else ""
        chosen = QFileDialog.getExistingDirectory(self, "Another MAHNOB-HCI session of this subject", start)
        if chosen:
            self.add_paths([chosen])

    def values(self) -> tuple[tuple[Path, ...], bool]:
        """(the recordings in the list, whether those found automatically are used too)."""
        return self.paths(), self.automatic.isChecked()
