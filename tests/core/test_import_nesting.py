"""The core must never pull in Qt (MNE-Python's test_import_nesting does the same for its heavy imports)."""

import subprocess
import sys


def test_core_imports_no_qt():
    code = (
        "import sys, importlib, pkgutil, mmqnet_core\n"
        "for m in pkgutil.walk_packages(mmqnet_core.__path__, 'mmqnet_core.'):\n"
        "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        "bad = [m for m in ('PySide6', 'pyqtgraph', 'PyQt5', 'PyQt6', 'app') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
