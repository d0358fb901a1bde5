"""pyqtgraph's copies of PySide6's QtCore/QtGui/QtWidgets, filled on first use instead of at import (start-up).

``pyqtgraph.Qt`` keeps its own modules ``pyqtgraph.Qt.QtCore``, ``.QtGui`` and ``.QtWidgets`` and fills them at
import with every attribute of PySide6's modules (``_copy_attrs``: ``for o in dir(src): if not hasattr(dst, o):
setattr(dst, o, getattr(src, o))``). PySide6 creates its classes when they are first looked up (6.11, measured),
each with all of its enums as Python ``enum`` classes, so that copy makes it create all ~720 classes and ~600
enums on every start. Up to the first painted window the app needs about half of those classes (its own, pyqtgraph's
and those PySide6 creates itself to find a pointer's exact type); the other ~350 cost 85-105 ms of CPU (measured
on the 2-core development machine), 11 % of the instructions of a packaged start (callgrind, session 6).

:func:`install` gives those three modules a class whose ``__getattr__`` fetches a name from PySide6 when it is
first used (and keeps it), and which tells ``_copy_attrs`` that every name is already there, so that it copies
nothing. Everything else stays pyqtgraph's: the names it sets on its modules after the copy (``QOpenGLWidget``,
``QFileSystemModel``) are ordinary attributes, and ``pyqtgraph.Qt.QtWidgets.QStyle is PySide6.QtWidgets.QStyle``
as before. Written here because pyqtgraph has no option for it. Where anything differs from what this expects
(another binding than PySide6, a ``_copy_attrs`` that does not ask ``hasattr``, pyqtgraph already imported) the
copy happens as before: slower, never wrong. ``MMQNET_EAGER_QT_MIRROR=1`` turns it off (for comparisons).
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import types

#: pyqtgraph's mirror modules and the names of the PySide6 modules they copy.
MIRRORS = {f"pyqtgraph.Qt.{name}": name for name in ("QtCore", "QtGui", "QtWidgets")}
DISABLE_ENV = "MMQNET_EAGER_QT_MIRROR"
#: PySide6 classes created while the main window is built and first painted (PySide6 6.11, pyqtgraph 0.14,
#: listed from a MainWindow() offscreen): those its plots look up through pyqtgraph (PlotItem, ViewBox, the forms
#: of their menus) and those PySide6 creates by itself when the first QWidget or event reaches Python (it creates
#: every subclass of the pointer's class to find the exact type: QWizard, QMdiArea, all the event classes, ...).
#: :func:`create_window_classes` creates them at import, where pyqtgraph's copy created them before, so that
#: ``MainWindow()`` measures building the window. A name missing here is created when first needed, as usual.
WINDOW_CLASSES = {
    "QtCore": ("QByteArray", "QChildEvent", "QDynamicPropertyChangeEvent", "QItemSelectionModel", "QKeyCombination",
               "QLine", "QLineF", "QMetaMethod", "QMetaObject", "QRect", "QSize", "QSizeF", "QTimerEvent"),
    "QtGui": ("QActionEvent", "QChildWindowEvent", "QContextMenuEvent", "QCursor", "QDragLeaveEvent", "QExposeEvent",
              "QFileOpenEvent", "QFocusEvent", "QGradient", "QHelpEvent", "QHideEvent", "QHoverEvent", "QIcon",
              "QIconDragEvent", "QIconEngine", "QInputMethodEvent", "QInputMethodQueryEvent", "QMoveEvent",
              "QNativeGestureEvent", "QPlatformSurfaceEvent", "QResizeEvent", "QRgba64", "QScreen", "QScrollEvent",
              "QScrollPrepareEvent", "QShortcutEvent", "QShowEvent", "QStatusTipEvent", "QTabletEvent",
              "QToolBarChangeEvent", "QTouchEvent", "QWhatsThisClickedEvent", "QWindowStateChangeEvent"),
    "QtWidgets": ("QAbstractItemDelegate", "QCalendarWidget", "QColumnView", "QCommandLinkButton", "QDateEdit",
                  "QDateTimeEdit", "QDial", "QErrorMessage", "QFocusFrame", "QFontComboBox", "QFontDialog", "QFrame",
                  "QGestureEvent", "QGraphicsEllipseItem", "QGraphicsGridLayout", "QGraphicsItem",
                  "QGraphicsItemGroup", "QGraphicsLayout", "QGraphicsLineItem", "QGraphicsPixmapItem",
                  "QGraphicsPolygonItem", "QGraphicsProxyWidget", "QGraphicsRectItem",
                  "QGraphicsSceneContextMenuEvent", "QGraphicsSceneDragDropEvent", "QGraphicsSceneEvent",
                  "QGraphicsSceneHelpEvent", "QGraphicsSceneHoverEvent", "QGraphicsSceneMouseEvent",
                  "QGraphicsSceneMoveEvent", "QGraphicsSceneResizeEvent", "QGraphicsSceneWheelEvent",
                  "QGraphicsSimpleTextItem", "QGraphicsTextItem", "QGridLayout", "QHBoxLayout", "QKeySequenceEdit",
                  "QLCDNumber", "QListWidget", "QMdiArea", "QMdiSubWindow", "QMenuBar", "QRhiWidget", "QRubberBand",
                  "QScrollArea", "QSizeGrip", "QSizePolicy", "QSpacerItem", "QSplashScreen", "QSplitterHandle",
                  "QStackedWidget", "QStatusBar", "QStyledItemDelegate", "QTabBar", "QTabWidget", "QTextBrowser",
                  "QTextEdit", "QTimeEdit", "QToolBox", "QUndoView", "QVBoxLayout", "QWidgetAction", "QWidgetItem",
                  "QWizard", "QWizardPage"),
}


class LazyQtMirror(types.ModuleType):
    """A pyqtgraph mirror module that takes each attribute from the Qt binding's module when first asked for."""

    def __getattr__(self, name: str):
        caller = sys._getframe(1)
        if caller.f_code.co_name == "_copy_attrs" and caller.f_globals.get("__name__") == "pyqtgraph.Qt":
            # pyqtgraph's import-time copy asks hasattr(mirror, name) for every name of the binding's module.
            if caller.f_globals.get("QT_LIB") == "PySide6":
                return None  # "present": nothing is copied, the name is fetched on first real use
            raise AttributeError(name)  # another binding: let the copy happen as pyqtgraph does it
        qt_lib = getattr(sys.modules.get("pyqtgraph.Qt"), "QT_LIB", "PySide6")
        value = getattr(sys.modules[f"{qt_lib}.{MIRRORS[self.__name__]}"], name)
        self.__dict__[name] = value  # once: later look-ups are plain module attributes
        return value

    def __dir__(self):
        qt_lib = getattr(sys.modules.get("pyqtgraph.Qt"), "QT_LIB", "PySide6")
        source = sys.modules.get(f"{qt_lib}.{MIRRORS[self.__name__]}")
        return sorted(set(self.__dict__) | set(dir(source) if source is not None else ()))


class _MirrorLoader:
    """Runs the mirror module's own (empty) code with pyqtgraph's loader, then makes the module lazy."""

    def __init__(self, loader, finder: _MirrorFinder):
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        module.__class__ = LazyQtMirror
        self._finder.loaded(module.__name__)

    def __getattr__(self, name: str):  # get_code, get_source, is_package, ...: the real loader's
        return getattr(self._loader, name)


class _MirrorFinder(importlib.abc.MetaPathFinder):
    """Finds pyqtgraph's three mirror modules with the other finders and wraps their loader; leaves once done."""

    def __init__(self):
        self._pending = set(MIRRORS)

    def find_spec(self, fullname, path, target=None):
        if fullname not in self._pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _MirrorLoader(spec.loader, self)
                return spec
        return None

    def loaded(self, fullname: str) -> None:
        self._pending.discard(fullname)
        if not self._pending:
            uninstall()


def install() -> bool:
    """Make pyqtgraph's Qt mirror modules lazy when pyqtgraph is imported later; returns whether it will be.

    A no-op (False) when pyqtgraph.Qt is already imported or ``MMQNET_EAGER_QT_MIRROR`` is set to 1.
    """
    if "pyqtgraph.Qt" in sys.modules or os.environ.get(DISABLE_ENV) == "1":
        return False
    if not any(isinstance(f, _MirrorFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MirrorFinder())
    return True


def create_window_classes() -> None:
    """Create the PySide6 classes of :data:`WINDOW_CLASSES` (~20 ms; a no-op for those that exist already)."""
    import importlib

    for module, names in WINDOW_CLASSES.items():
        qt_module = importlib.import_module(f"PySide6.{module}")
        for name in names:
            getattr(qt_module, name, None)  # a name this PySide6 lacks is skipped


def uninstall() -> None:
    """Remove the finder (mirrors made lazy stay lazy)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _MirrorFinder)]
