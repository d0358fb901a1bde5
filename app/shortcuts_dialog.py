"""ShortcutsDialog: Help > Keyboard shortcuts, built from the window's actions and the browser's key table
(:data:`app.key_bindings.BINDINGS`)."""

from __future__ import annotations

from typing import Iterable, Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import key_bindings

#: Keys and gestures of the signal browser itself (not menu actions), from its one key-binding table.
BROWSER_KEYS: tuple[tuple[str, str], ...] = tuple(key_bindings.rows())


def action_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(shortcut, what it does) of the actions that have a shortcut, in the given order; actions whose keys the
    key table owns (:func:`app.key_bindings.shortcuts`) are left out: the table's rows list them once."""
    table = {k for b in key_bindings.BINDINGS if b.action for k in b.keys}
    rows = []
    for action in actions:
        shortcuts = [k for k in action.shortcuts() if not k.isEmpty()]
        if shortcuts and all(k.toString(QKeySequence.SequenceFormat.PortableText) in table for k in shortcuts):
            continue
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in shortcuts]
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
        # Rows as tall as the text (the default 30 px showed 15 of ~60 rows) and a filter: find a key by what it
        # does ("undo", "montage") or what a key does ("Ctrl+G").
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter: part of a key or of an action (e.g. montage, Ctrl+G)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.set_filter)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for r, (keys, what) in enumerate(rows):
            for c, text in enumerate((keys, what)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)  # the whole text where a narrow dialog elides it
                self.table.setItem(r, c, item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, parent=self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        # Typing filters at once (the table had the focus: "event" typed after F1 jumped between rows)
        self.setTabOrder(self.filter_edit, self.table)
        self.filter_edit.setFocus()
        # wide enough for the longest action at the default font (at 560 px "Go to a time (hh:mm:ss, mm:ss,
        # seconds, ..." and the spectrum's row were cut)
        self.resize(max(560, self.table.horizontalHeader().length() + 60, self._needed_width()), 560)

    def _needed_width(self) -> int:
        """Width (px) that shows every row's keys and action in full."""
        fm = self.table.fontMetrics()
        keys = max((fm.horizontalAdvance(self.table.item(r, 0).text()) for r in range(self.table.rowCount())),
                   default=0)
        what = max((fm.horizontalAdvance(self.table.item(r, 1).text()) for r in range(self.table.rowCount())),
                   default=0)
        return keys + what + 80  # cell margins, the scroll bar, the dialog's margins

    def set_filter(self, text: str) -> None:
        """Show only the rows whose keys or action contain ``text`` (any case); all rows for ""."""
        needle = text.strip().lower()
        for r in range(self.table.rowCount()):
            row = f"{self.table.item(r, 0).text()} {self.table.item(r, 1).text()}".lower()
            self.table.setRowHidden(r, bool(needle) and needle not in row)

    def shown_rows(self) -> list[tuple[str, str]]:
        """The rows the filter leaves visible."""
        return [row for r, row in enumerate(self.rows()) if not self.table.isRowHidden(r)]

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())]
