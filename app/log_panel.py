"""LogPanel: the log records of the app and the core, shown in a text panel (STYLE §9)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

#: Loggers whose records are shown: the app, the core and mne (its warnings about files matter to users).
SHOWN_LOGGERS = ("app", "mmqnet_core", "mne")


class _Bridge(QObject):
    """Carries formatted records from any thread to the GUI thread."""

    record = Signal(str, int)  # formatted text, level number


class QtLogHandler(logging.Handler):
    """A logging handler that emits each record as a Qt signal (safe from worker threads)."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bridge = _Bridge()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102 (logging API)
        try:
            self.bridge.record.emit(self.format(record), record.levelno)
        except RuntimeError:  # the bridge was deleted while the app closes
            pass


class LogPanel(QWidget):
    """A read-only text view of the log, with a Clear button.

    The panel attaches a :class:`QtLogHandler` to :data:`SHOWN_LOGGERS` and detaches it in :meth:`detach`
    (called when the main window closes), so no handler outlives its widget.
    """

    MAX_LINES = 5000  # older lines are dropped

    def __init__(self, parent: QWidget | None = None, level: int = logging.INFO) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(self.MAX_LINES)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        clear = QPushButton("Clear", self)
        clear.clicked.connect(self.text.clear)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.text)
        layout.addLayout(buttons)

        self.handler = QtLogHandler(level)
        self.handler.bridge.record.connect(self._append)
        self._loggers = [logging.getLogger(name) for name in SHOWN_LOGGERS]
        for logger in self._loggers:
            logger.addHandler(self.handler)
            if logger.getEffectiveLevel() > level and logger.name != "mne":
                logger.setLevel(level)

    def _append(self, text: str, level: int) -> None:
        if level >= logging.ERROR:
            text = f"<span style='color:#c62828'>{_escape(text)}</span>"
            self.text.appendHtml(text)
        elif level >= logging.WARNING:
            self.text.appendHtml(f"<span style='color:#b26a00'>{_escape(text)}</span>")
        else:
            self.text.appendPlainText(text)

    def contents(self) -> str:
        """All text shown (for tests and the selftest)."""
        return self.text.toPlainText()

    def detach(self) -> None:
        """Remove the handler from the loggers (call before the widget is deleted)."""
        for logger in self._loggers:
            logger.removeHandler(self.handler)
        self._loggers = []


def _escape(text: str) -> str:
    """Make ``text`` safe inside HTML, keeping line breaks of tracebacks."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "<pre style='margin:0'>" + text + "</pre>" if "\n" in text else text
