"""MMQ-Net Studio, the PySide6 application (``python -m app.main`` or ``mmqnet-studio``)."""

from .lazy_qt import install as _install_lazy_qt

# Before any module of the app imports pyqtgraph: its copies of PySide6's modules are filled on first use (start-up).
_install_lazy_qt()
