"""Give the main window its keys back after one of its dialogs closed, also when no window manager runs.

A window manager activates the main window again when a dialog (Preferences, Simulate missing data, a message box,
a file dialog) closes. Without one (a bare X server, a kiosk session, Xvfb) nothing does: Qt's focus window stays
empty, and the window's shortcuts (F5, Ctrl+G, A, ...) need an active window, so they were dead until the window
was clicked. :class:`DialogFocusReturn` watches the application's focus window (one Qt signal, no event filter
on every event): when it goes from a window of ours that is now hidden to none, the main window is activated again
and its last focus widget (the browser, the event list) gets the keys back.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QGuiApplication, QWindow
from PySide6.QtWidgets import QApplication, QWidget
from shiboken6 import isValid

#: Property set on a window whose hiding is watched.
WATCHED = "mmqnet_focus_return_watched"


class DialogFocusReturn(QObject):
    """Activates ``window`` again after a window of the application that had the focus was hidden and no window
    took the focus (see the module docstring)."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self._watched = f"{WATCHED}_{id(self)}"  # per window: another main window's watcher marks its own
        app = QGuiApplication.instance()
        if app is not None:
            app.focusWindowChanged.connect(self._on_focus_window)

    def _on_focus_window(self, focus: QWindow | None) -> None:
        """A window of ours (a dialog) got the focus: watch it hide (Qt does not say that the focus then went
        nowhere: the focus window is just empty)."""
        # A closed main window's watcher may still be called (its C++ side deleted first), and the window that
        # got the focus may be gone by the time this runs: neither may raise in Qt's event loop.
        if focus is None or not isValid(self) or not isValid(self.window) or not isValid(focus):
            return
        own = self.window.windowHandle()
        if own is None or focus is own or not self.window.isVisible():
            return
        parent = focus.transientParent()
        while parent is not None and parent is not own:
            parent = parent.transientParent()
        if parent is own and not focus.property(self._watched):  # a dialog of this window, not yet watched
            focus.setProperty(self._watched, True)  # connected once, however often it gets the focus
            focus.visibleChanged.connect(lambda visible, w=focus: self._on_hidden(w) if not visible else None)

    def _on_hidden(self, previous: QWindow) -> None:
        # After the event loop ran: a window manager (or Qt) may still give the focus to a window.
        if isValid(self):  # the lambda connected to the dialog's window outlives a closed main window
            QTimer.singleShot(0, lambda: self._restore(previous))

    def _restore(self, previous: QWindow) -> None:
        if not isValid(self) or not isValid(self.window):
            return
        app = QApplication.instance()
        window = self.window
        if isValid(previous) and previous.isVisible():  # open again
            return
        if (app is None or QGuiApplication.focusWindow() is not None or app.activeModalWidget() is not None
                or app.activePopupWidget() is not None or not window.isVisible() or window.isMinimized()):
            return
        window.activateWindow()
        focus = window.focusWidget()
        if focus is not None:
            focus.setFocus()
