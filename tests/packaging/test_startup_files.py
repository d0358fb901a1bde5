"""The bundle ships shiboken6's support modules as files with their .pyc (start-up: no compiling at each start)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import PySide6.QtCore  # noqa: F401 (shiboken6's support modules are loaded)
import pytest

from .test_spec_inputs import spec  # noqa: F401 (the fixture: the spec run with stand-ins)


def test_shiboken_support_files_are_shipped_compiled(spec):  # noqa: F811
    zfile = getattr(sys.modules["shibokensupport"].__loader__, "zfile", None)
    if zfile is None:
        pytest.skip("this PySide6 already loads its support modules from files: the spec ships none")
    (src,) = [src for src, dest in spec["analysis"].kwargs["datas"] if dest == "shiboken6/files.dir"]
    root = Path(src)
    modules = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    # every Python file of the zip this PySide6 carries (what its SBK_EMBED=0 would write)
    assert modules == sorted(n for n in zfile.namelist() if n.endswith(".py"))
    assert "shibokensupport/signature/loader.py" in modules
    for module in modules:
        path = root / module
        cached = Path(importlib.util.cache_from_source(str(path)))
        header = cached.read_bytes()[:8]
        assert header[:4] == importlib.util.MAGIC_NUMBER, module  # this Python's bytecode
        # hash-based and not checked against the source: used whatever the files' times in the bundle
        assert int.from_bytes(header[4:8], "little") == 0b01, module
