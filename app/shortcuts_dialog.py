"""ShortcutsDialog: Help > Keyboard shortcuts, built from the window's actions and the browser's keys."""

from __future__ import annotations

from typing import Iterable, Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: Keys handled by the signal browser itself (not menu actions).
BROWSER_KEYS: tuple[tuple[str, str], ...] = (
    ("PageDown / PageUp, mouse wheel", "Next / previous page"),
    ("Right / Left", "A quarter page forward / back"),
    ("Home / End", "Start / end of the recording"),
    ("Down / Up", "Channels: one row down / up"),
    ("Shift+Down / Shift+Up", "Next / previous page of channels"),
    ("Shift+wheel", "Channels: three rows down / up"),
    ("Ctrl+Shift+Down / Ctrl+Shift+Up", "More / fewer channels per page"),
    (", / .  (Ctrl+wheel)", "Shorter / longer page"),
    ("+ / -", "Larger / smaller traces"),
    ("C", "Raw -> cleaned -> both overlaid"),
    ("M", "Mask mode on/off (Esc leaves it)"),
    ("Shift+drag on the traces", "Mask a segment on the selected channels (all when none)"),
    ("Click a channel name", "Mask / unmask the whole channel"),
    ("Click a masked segment", "Show its reconstruction; drag its edges to adjust it"),
    ("Right click a masked segment", "Remove it"),
    ("Click in an analysis view", "Move the time cursor and the browser there"),
)


def action_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(shortcut, what it does) of the actions that have a shortcut, in the given order."""
    rows = []
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if keys:
            text = action.text().replace("&", "").rstrip(".").rstrip("\u2026")
            rows.append((" / ".join(keys), text))
    return rows


class ShortcutsDialog(QDialog):
    """A two-column table of every keyboard shortcut."""

    def __init__(self, rows: Sequence[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for r, (keys, what) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(keys))
            self.table.setItem(r, 1, QTableWidgetItem(what))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, parent=self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())]
