"""EventList: a dock table of every annotation, with a search box and a type filter.

Double-click (or Enter on) a row to show that time in the browser (:attr:`EventList.jumpRequested`); F2 edits
it (:attr:`EventList.editRequested`); Delete removes the selected user annotations (one undo step each); the
recording's own annotations are listed but read-only. The table is a Qt model over the filtered tuple of entries,
so 10,000 rows cost nothing to show.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mmqnet_core.annotations import AnnotationEntry, AnnotationSet

from .annotation_layer import kind_colour
from .annotation_model import AnnotationModel
from .browser_state import format_clock

ALL_TYPES = "all types"
COLUMNS = ("onset", "duration", "type", "text", "channels")  # text takes the rest (see EventList)
TEXT_COLUMN = COLUMNS.index("text")
#: Narrowest the text column gets, px.
TEXT_MIN_PX = 120
#: Width of the onset column while it reads time from the start ("1:23:45.6"), px; wider for clock times.
ONSET_MIN_PX = 64


def format_time(t_s: float) -> str:
    """``h:mm:ss.s`` (or ``m:ss.s`` under an hour) of a time in s."""
    # Rounded to the tenth first: 59.97 s read "0:60.0" (the seconds rounded after the minutes were taken).
    minutes, seconds = divmod(round(max(t_s, 0.0) * 10) / 10, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{seconds:04.1f}" if hours else f"{minutes}:{seconds:04.1f}"


class EventTableModel(QAbstractTableModel):
    """The filtered annotations as rows (onset, duration, type, text, channels)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: tuple[AnnotationEntry, ...] = ()
        self.clock_start: _dt.datetime | None = None  # onsets as clock times from this start (None: from 0)

    def onset_text(self, t_s: float) -> str:
        """An onset as the browser's time axis reads it: clock time (T) or time from the recording's start."""
        return format_time(t_s) if self.clock_start is None else format_clock(t_s, self.clock_start, decimals=1)

    def set_clock_start(self, start: _dt.datetime | None) -> None:
        """Show onsets as clock times from ``start`` (``None``: from the recording's start)."""
        if start != self.clock_start:
            self.clock_start = start
            if self.entries:
                self.dataChanged.emit(self.index(0, 0), self.index(len(self.entries) - 1, 0))

    def set_entries(self, entries: tuple[AnnotationEntry, ...]) -> None:
        self.beginResetModel()
        self.entries = entries
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e = self.entries[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (self.onset_text(e.onset), f"{e.duration:.2f} s" if e.duration else "-", e.kind, e.text,
                    ", ".join(e.channels) or "all")[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            ro = " (from the recording file: read-only)" if e.read_only else ""
            clock = f" ({format_clock(e.onset, self.clock_start, decimals=3)})" if self.clock_start else ""
            return f"{e.text} at {e.onset:.3f} s{clock}{ro}"
        if role == Qt.ItemDataRole.ForegroundRole and col == 2:
            return kind_colour(e.kind).darker(120)
        if role == Qt.ItemDataRole.ForegroundRole and e.read_only:
            return QColor("#606060")
        if role == Qt.ItemDataRole.UserRole:
            return e.id
        return None


class EventList(QWidget):
    """Search box, type filter and the table of annotations."""

    jumpRequested = Signal(float)  # onset of the annotation to show, s
    leaveRequested = Signal()  # Esc: the keyboard goes back to the traces
    editRequested = Signal(int)  # F2 (or the context menu) on a row: edit that annotation (its id)

    def __init__(self, store: AnnotationModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Search text...")
        self.search_edit.setClearButtonEnabled(True)
        self.type_combo = QComboBox(self)
        self.type_combo.addItem(ALL_TYPES)
        self.type_combo.setToolTip("Show one type of annotation")
        self.count_label = QLabel(self)
        self.table_model = EventTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        header = self.table.horizontalHeader()
        # Fixed widths (ResizeToContents would measure all 10,000 rows); the text takes the rest, but at least
        # TEXT_MIN_PX: stretched, it was squeezed to "..." in the default dock (the table now scrolls sideways).
        for col, width in ((0, ONSET_MIN_PX), (1, 58), (2, 66), (4, 56)):
            header.resizeSection(col, width)
        header.setSectionResizeMode(TEXT_COLUMN, QHeaderView.ResizeMode.Fixed)
        header.moveSection(header.visualIndex(TEXT_COLUMN), 1)  # onset, text, ...: both seen in a narrow dock
        self.table.viewport().installEventFilter(self)
        # Keyboard: Enter in the search box goes to the first match (Enter there jumps to it), Esc back to the traces.
        self.search_edit.returnPressed.connect(self.focus_table)
        for w in (self.search_edit, self.table, self.type_combo):
            w.installEventFilter(self)
        self.table.setAlternatingRowColors(True)
        self.table.doubleClicked.connect(self._on_activated)
        self.table.activated.connect(self._on_activated)
        # F2: edit the current row in the annotation dialog (editing took a double-click on the traces: no way
        # with the keyboard alone).
        edit = QAction("Edit annotation...", self.table)
        edit.setShortcut(QKeySequence(Qt.Key.Key_F2))
        edit.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        edit.triggered.connect(self.edit_current)
        self.table.addAction(edit)
        delete = QAction("Delete annotation", self.table)
        delete.setShortcut(QKeySequence.StandardKey.Delete)
        delete.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        delete.triggered.connect(self.delete_selected)
        self.table.addAction(delete)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        top = QHBoxLayout()
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.type_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)

        self.search_edit.textChanged.connect(lambda _t: self.refresh())
        self.type_combo.currentTextChanged.connect(lambda _t: self.refresh())
        store.annotationsChanged.connect(self._on_annotations_changed)
        self._on_annotations_changed(store.annotations)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if obj is self.table.viewport() and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._fit_text_column()
        elif (event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape
              and obj in (self.search_edit, self.table, self.type_combo)):
            self.leaveRequested.emit()
            return True
        return super().eventFilter(obj, event)

    def focus_search(self) -> None:
        """Put the keyboard in the search box (Alt+6: the dock was shown but the keys stayed in the traces)."""
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def focus_table(self) -> None:
        """The keyboard to the table, on the first row when none is current (Enter then jumps there)."""
        if not self.table_model.entries:
            return
        if not self.table.currentIndex().isValid():
            self.table.selectRow(0)
        self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _fit_text_column(self) -> None:
        """The text column takes the width the others leave, at least :data:`TEXT_MIN_PX`."""
        header = self.table.horizontalHeader()
        others = sum(header.sectionSize(c) for c in range(len(COLUMNS)) if c != TEXT_COLUMN)
        header.resizeSection(TEXT_COLUMN, max(TEXT_MIN_PX, self.table.viewport().width() - others))

    def _on_annotations_changed(self, annotations: AnnotationSet) -> None:
        kinds = list(annotations.kinds)
        current = self.type_combo.currentText()
        if [self.type_combo.itemText(i) for i in range(1, self.type_combo.count())] != kinds:
            self.type_combo.blockSignals(True)
            self.type_combo.clear()
            self.type_combo.addItems([ALL_TYPES] + kinds)
            self.type_combo.setCurrentText(current if current in kinds else ALL_TYPES)
            self.type_combo.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        """Fill the table with the annotations matching the search text and the type."""
        kind = self.type_combo.currentText()
        entries = self.store.annotations.search(self.search_edit.text(), None if kind == ALL_TYPES else [kind])
        self.table_model.set_entries(entries)
        total = len(self.store.annotations)
        self.count_label.setText(f"{len(entries)} of {total} annotations" if len(entries) != total
                                 else f"{total} annotations")

    def set_clock_start(self, start: _dt.datetime | None) -> None:
        """Onsets as clock times from ``start`` (the browser's T), or from the recording's start (``None``): they
        read "1:10.5" beside an axis in clock time (00:01:10)."""
        self.table_model.set_clock_start(start)
        # wide enough for the longer clock text ("00:01:10.5" was elided to "00:00:...")
        sample = "00:00:00.0" if start is not None else "0:00:00.0"
        width = max(ONSET_MIN_PX, self.table.fontMetrics().horizontalAdvance(sample) + 14)
        header = self.table.horizontalHeader()
        if header.sectionSize(0) != width:
            header.resizeSection(0, width)
            self._fit_text_column()

    def shown_entries(self) -> tuple[AnnotationEntry, ...]:
        return self.table_model.entries

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.jumpRequested.emit(self.table_model.entries[index.row()].onset)

    def edit_current(self) -> None:
        """Ask to edit the annotation of the current row (:attr:`editRequested`)."""
        index = self.table.currentIndex()
        if index.isValid():
            self.editRequested.emit(self.table_model.entries[index.row()].id)

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.table_model.entries[r].id for r in rows]

    def delete_selected(self) -> None:
        """Delete the selected user annotations (read-only ones are skipped)."""
        for entry_id in self.selected_ids():
            if not self.store.annotations.get(entry_id).read_only:
                self.store.delete(entry_id)
