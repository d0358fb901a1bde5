"""Stroking a page's path into an image without holding Python's interpreter lock.

The browser draws prefetched pages into images in a background thread (``signal_browser.render_raster``), so that
a page step only copies an image. PySide6 keeps the interpreter lock (GIL) held for the whole of
``QPainter.drawPath`` (measured: a Python loop in another thread ran at 2-25 % of its speed meanwhile, at ~50 %
beside pure Python code that yields the lock every 5 ms), so the background drawing of a 40-row page (~6 ms)
stopped the GUI thread for as long: with page steps back to back, the two threads' drawing was serialised.

No library offers a lock-free call of Qt's painter, and ``ctypes`` does release the lock around a foreign call:
:func:`stroke_path` calls Qt's own ``QPainter::drawPath(const QPainterPath &)`` (the same function, the same
pixels: checked once by :func:`gil_free_available` and by the tests) through ``ctypes`` on the painter's and
the path's C++ objects. Where that function cannot be found (another C++ ABI, a Qt built differently) or the
check fails, :func:`stroke_path` is ``QPainter.drawPath`` as usual; ``MMQNET_LOCKFREE_PAINT=0`` in the environment
turns the lock-free call off (for support: the ordinary call, slower back to back, same pixels).

Safe because the painter (on a QImage, which Qt allows outside the GUI thread) and the path are used by this
call only while it runs: the caller keeps both alive, and a QPainterPath shared with the GUI thread is only read
(its implicit sharing counts references atomically).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen

log = logging.getLogger(__name__)

#: Qt's ``void QPainter::drawPath(const QPainterPath &)`` under the Itanium C++ ABI (Linux, macOS).
_DRAW_PATH_SYMBOL = "_ZN8QPainter8drawPathERK12QPainterPath"

_lock = threading.Lock()
_state: dict[str, Callable | None | bool] = {}  # "fn": the lock-free call (None: unavailable), "checked": bool


def _qt_gui_library() -> ctypes.CDLL | None:
    """The QtGui library PySide6 has loaded (``None`` where it cannot be opened by name)."""
    if sys.platform.startswith("linux"):
        names = ["libQt6Gui.so.6"]  # already loaded by PySide6: dlopen finds it by its soname
    elif sys.platform == "darwin":
        names = ["QtGui.framework/QtGui", "libQt6Gui.6.dylib"]
    else:
        return None  # MSVC mangles names otherwise: QPainter.drawPath is used as it is
    import PySide6

    lib_dir = Path(PySide6.__file__).resolve().parent / "Qt" / "lib"
    for name in names:
        for candidate in (name, str(lib_dir / name)):
            try:
                return ctypes.CDLL(candidate)  # CDLL (not PyDLL): the interpreter lock is released per call
            except OSError:
                continue
    return None


def _load() -> Callable | None:
    lib = _qt_gui_library()
    if lib is None:
        return None
    try:
        fn = getattr(lib, _DRAW_PATH_SYMBOL)
    except AttributeError:
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    fn.restype = None
    return fn


def _pointer(obj) -> int:
    import shiboken6

    return int(shiboken6.getCppPointer(obj)[0])


def _check(fn: Callable) -> bool:
    """Whether ``fn`` draws what ``QPainter.drawPath`` draws (a small path with a cosmetic pen and with AA)."""
    path = QPainterPath(QPointF(1.0, 2.0))
    for x, y in ((5.5, 9.0), (9.0, 1.5), (14.0, 12.0), (18.0, 3.0)):
        path.lineTo(x, y)
    path.moveTo(2.0, 14.0)
    path.lineTo(17.0, 15.5)
    blank = QImage(20, 18, QImage.Format.Format_ARGB32_Premultiplied)
    blank.fill(Qt.GlobalColor.transparent)
    for antialias in (False, True):
        images = []
        for lock_free in (False, True):
            image = QImage(20, 18, QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, antialias)
            painter.setPen(QPen(QColor("#1f4e9c"), 1))
            if lock_free:
                fn(_pointer(painter), _pointer(path))
            else:
                painter.drawPath(path)
            painter.end()
            images.append(image)
        if images[1] != images[0] or images[1] == blank:
            return False
    return True


def gil_free_available() -> bool:
    """Whether :func:`stroke_path` strokes without the interpreter lock (found and checked once)."""
    with _lock:
        if "checked" not in _state:
            fn = None
            try:
                if os.environ.get("MMQNET_LOCKFREE_PAINT", "1").strip() in {"0", "no", "off", "false"}:
                    raise RuntimeError("turned off by MMQNET_LOCKFREE_PAINT")
                fn = _load()
                if fn is not None and not _check(fn):
                    log.info("QPainter::drawPath through ctypes drew other pixels: not used")
                    fn = None
            except Exception as exc:  # noqa: BLE001 - any failure: the ordinary call
                log.info("QPainter::drawPath not callable through ctypes (%s)", exc)
                fn = None
            _state["fn"] = fn
            _state["checked"] = True
        return _state["fn"] is not None


def stroke_path(painter: QPainter, path: QPainterPath) -> None:
    """``painter.drawPath(path)``, with the interpreter lock released during the drawing where possible."""
    if gil_free_available():
        _state["fn"](_pointer(painter), _pointer(path))
    else:
        painter.drawPath(path)
