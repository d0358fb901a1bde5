"""MaskTable: the masks of the recording as a list (whole channels first, then segments).

Selecting a row focuses that mask (the reconstruction view shows it, the browser gives a segment edge handles);
double-clicking a segment asks to show it; Delete (key or button) removes the selected masks as one undoable
step.
"""

from __future__ import annotations

import datetime as _dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .browser_state import format_clock, format_hms
from .model import AppModel

#: Start and end read as the browser's time axis and the event list do (h:mm:ss from the recording's start; a
#: 1-h recording's masks read "2873.45" in seconds before), with the seconds in the cell's tooltip.
COLUMNS = ("What", "Start", "End", "Channels", "Source")
#: Narrowest a column gets, px (the channel list is stretched into what the others leave).
CHANNELS_MIN_PX = 72


class MaskTable(QWidget):
    """Table of the current MaskSet; ``jumpRequested(t)`` asks to show time ``t`` (s)."""

    jumpRequested = Signal(float)

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)  # the channel list takes the rest
        header.setStretchLastSection(False)
        # The channel list (stretched) keeps room for a name or two in a narrow dock (it was squeezed to "P..."):
        # past that the table scrolls sideways.
        header.setMinimumSectionSize(CHANNELS_MIN_PX)
        # Shown in the order a reader needs them, so that a narrow dock shows channels and times without
        # scrolling: Channels, Start, End, Source, What ("segment" on nearly every row; a whole-channel mask has
        # no times).
        header.moveSection(header.visualIndex(COLUMNS.index("Channels")), 0)
        header.moveSection(header.visualIndex(COLUMNS.index("What")), len(COLUMNS) - 1)
        self.table.cellDoubleClicked.connect(self._on_double_click)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        self.table.installEventFilter(self)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)  # on one line it held the dock (and the window's docks) 300 px wide
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setToolTip("Remove the selected masks (Delete)")
        self.delete_button.clicked.connect(self.delete_selected)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table)
        layout.addLayout(row)
        self._rows: list[tuple[str, object]] = []  # ("channel", name) or ("segment", index)
        self.clock_start: _dt.datetime | None = None  # times as clock times from it (the browser's T), else h:mm:ss
        model.masksChanged.connect(lambda _m: self.refresh())
        self.refresh()

    def set_clock_start(self, start: _dt.datetime | None) -> None:
        """Start and end as clock times from ``start`` (the browser's axis in clock time, T), or from the
        recording's start (``None``): beside a clock axis and event list they read "0:03.19" for 14:00:03."""
        if start != self.clock_start:
            self.clock_start = start
            self.refresh()

    def _time_text(self, t_s: float) -> str:
        if self.clock_start is not None:
            return format_clock(t_s, self.clock_start, decimals=2)
        return format_hms(t_s, decimals=2)

    def refresh(self) -> None:
        """Show the model's masks."""
        masks = self.model.masks
        self._rows = []
        if masks is not None:
            self._rows += [("channel", name) for name in sorted(masks.channels)]
            self._rows += [("segment", i) for i in range(len(masks.segments))]
        self.table.setRowCount(len(self._rows))
        for r, (kind, key) in enumerate(self._rows):
            if kind == "channel":  # the whole recording: its times, not blank cells (the "What" column that
                # says "whole channel" is last, out of sight in a narrow dock)
                rec = self.model.recording
                end = self._time_text(rec.duration_s) if rec is not None else "end"
                cells = ("whole channel", self._time_text(0.0), end, str(key), "user")
            else:
                seg = masks.segments[key]
                cells = ("segment", self._time_text(seg.start_s), self._time_text(seg.end_s),
                         ", ".join(seg.channels) if seg.channels else "all", seg.source)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c in (1, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    if kind == "segment":
                        seconds = masks.segments[key].start_s if c == 1 else masks.segments[key].end_s
                        item.setToolTip(f"{seconds:.2f} s from the start")
                    else:
                        item.setToolTip("The whole channel is masked: the whole recording")
                self.table.setItem(r, c, item)
        n_ch = sum(k == "channel" for k, _ in self._rows)
        self.summary.setText(f"{n_ch} channel(s), {len(self._rows) - n_ch} segment(s) masked")
        self.delete_button.setEnabled(bool(self._rows))

    def delete_selected(self) -> None:
        """Remove the selected masks (one undo step)."""
        masks = self.model.masks
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        if masks is None or not rows:
            return
        # Segments go from the last index down so that earlier indices stay valid.
        for r in sorted(rows, key=lambda r: (0, -self._rows[r][1]) if self._rows[r][0] == "segment" else (1, 0)):
            kind, key = self._rows[r]
            masks = masks.with_channel(key, False) if kind == "channel" else masks.without_segment(key)
        self.model.edit_masks(masks, f"Delete {len(rows)} mask(s)")

    def _on_selection_changed(self) -> None:
        """Focus the mask of the current row (the reconstruction view and the browser's handles follow)."""
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        if len(rows) != 1 or self.model.masks is None:
            return
        kind, key = self._rows[rows[0]]
        if kind == "segment":
            self.model.focus_segment(key)
        else:
            self.model.focus_channel(key)

    def _on_double_click(self, row: int, _column: int) -> None:
        kind, key = self._rows[row]
        if kind == "segment" and self.model.masks is not None:
            self.jumpRequested.emit(self.model.masks.segments[key].start_s)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if obj is self.table and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress:
            if event.matches(QKeySequence.StandardKey.Delete) or event.key() == Qt.Key.Key_Backspace:
                self.delete_selected()
                return True
        return super().eventFilter(obj, event)
