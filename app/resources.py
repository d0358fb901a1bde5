"""Files shipped beside the code: the ``resources`` folder (sample recording, checkpoint, icons).

When frozen by PyInstaller the folder is inside the bundle (``sys._MEIPASS``; the spec copies ``resources/``
whole), otherwise it is the checkout's ``resources/`` beside ``app/``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtGui import QIcon

log = logging.getLogger(__name__)

#: The application icon, relative to the resources folder (SVG: drawn sharp at every size by Qt's SVG icon engine).
ICON = Path("icons") / "mmqnet.svg"


def resources_dir() -> Path:
    """The ``resources`` folder (inside the PyInstaller bundle when frozen)."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[1]))
    return base / "resources"


def app_icon() -> QIcon:
    """The application icon (a null QIcon, and a log message, when the file or Qt's SVG support is missing)."""
    path = resources_dir() / ICON
    icon = QIcon(str(path)) if path.exists() else QIcon()
    if icon.isNull() or not icon.availableSizes() and icon.pixmap(32, 32).isNull():
        log.info("application icon %s not available: the window uses the system's default icon", path)
        return QIcon()
    return icon
