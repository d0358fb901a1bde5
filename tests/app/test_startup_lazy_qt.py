"""app.lazy_qt: pyqtgraph's copies of PySide6's QtCore/QtGui/QtWidgets are filled on first use, with the same
objects as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import PySide6.QtCore

from app.lazy_qt import DISABLE_ENV, LazyQtMirror

ROOT = Path(__file__).resolve().parents[2]

CHECK = textwrap.dedent(f"""
    import json, sys
    sys.path.insert(0, {str(ROOT)!r})
    import app  # installs app.lazy_qt, as the app's entry point does
    import pyqtgraph  # noqa: F401
    import PySide6.QtCore, PySide6.QtGui, PySide6.QtWidgets
    from pyqtgraph.Qt import QtCore, QtGui, QtWidgets
    pairs = [(QtCore, PySide6.QtCore), (QtGui, PySide6.QtGui), (QtWidgets, PySide6.QtWidgets)]
    out = {{"kind": sorted({{type(m).__name__ for m, _ in pairs}}),
           "held_at_import": sum(len(m.__dict__) for m, _ in pairs),
           "names": sum(len(dir(src)) for _, src in pairs),
           "finders_left": [type(f).__name__ for f in sys.meta_path if "Mirror" in type(f).__name__]}}
    # every name of the binding (the modules' own dunders aside) answers through pyqtgraph's module with the
    # very same object
    out["different"] = [f"{{src.__name__}}.{{n}}" for m, src in pairs for n in dir(src)
                        if not n.startswith("__") and getattr(m, n) is not getattr(src, n)]
    out["dir_missing"] = [n for m, src in pairs for n in dir(src) if n not in dir(m)]
    # what pyqtgraph.Qt adds after its copy is still there
    out["extras"] = [QtWidgets.QOpenGLWidget.__name__, QtGui.QFileSystemModel is PySide6.QtWidgets.QFileSystemModel]
    try:
        QtCore.NoSuchThing
    except AttributeError:
        out["missing_raises"] = True
    print(json.dumps(out))
""")


def _run(env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    env.update(env_extra)
    proc = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_pyqtgraph_mirrors_are_filled_on_first_use_with_the_same_objects():
    out = _run({})
    assert out["kind"] == ["LazyQtMirror"]
    assert out["held_at_import"] < 0.2 * out["names"]  # pyqtgraph's import looked up a few of ~720 names
    assert out["different"] == [] and out["dir_missing"] == []
    assert out["extras"] == ["QOpenGLWidget", True]
    assert out["missing_raises"] is True
    assert out["finders_left"] == []  # the import hook leaves once the three modules are made


def test_the_eager_copy_can_be_chosen():
    out = _run({DISABLE_ENV: "1"})
    assert out["kind"] == ["module"]
    assert out["held_at_import"] >= out["names"]  # pyqtgraph's own copy: every name at import
    assert out["different"] == []


def _copy_as_pyqtgraph_does(qt_lib: str, dst: LazyQtMirror) -> None:
    """pyqtgraph.Qt's ``_copy_attrs`` (0.14), run with that module's name and a given binding."""
    namespace = {"__name__": "pyqtgraph.Qt", "QT_LIB": qt_lib}
    exec(textwrap.dedent("""
        def _copy_attrs(src, dst):
            for o in dir(src):
                if not hasattr(dst, o):
                    setattr(dst, o, getattr(src, o))
    """), namespace)
    namespace["_copy_attrs"](PySide6.QtCore, dst)


def test_the_copy_is_skipped_for_pyside6_only():
    lazy = LazyQtMirror("pyqtgraph.Qt.QtCore")
    _copy_as_pyqtgraph_does("PySide6", lazy)
    assert "QTimer" not in lazy.__dict__  # nothing copied: fetched on first use
    assert lazy.QTimer is PySide6.QtCore.QTimer and "QTimer" in lazy.__dict__

    other = LazyQtMirror("pyqtgraph.Qt.QtCore")
    _copy_as_pyqtgraph_does("PyQt6", other)  # another binding: copied as pyqtgraph does it
    assert other.__dict__["QTimer"] is PySide6.QtCore.QTimer
    assert all(n in other.__dict__ for n in dir(PySide6.QtCore) if not n.startswith("__"))
