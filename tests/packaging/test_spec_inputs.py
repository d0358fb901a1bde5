"""Fast checks of the packaging inputs (no PyInstaller build): the spec's files, imports and exclusions.

The spec is executed with stand-ins for PyInstaller's build steps (``Analysis``, ``PYZ``, ``EXE``, ``COLLECT``)
and for ``collect_submodules`` (which would import every mne submodule), so that what it hands to PyInstaller
can be checked in well under a second. The full build is ``packaging/build.sh`` (minutes), not part of the suite.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "mmqnet_studio.spec"


class _Step:
    """Stand-in for a PyInstaller build step: keeps its arguments."""

    instances: list["_Step"] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs
        _Step.instances.append(self)


class _Analysis(_Step):
    def __init__(self, scripts: list[str], **kwargs: Any) -> None:
        super().__init__(scripts, **kwargs)
        self.scripts_in = scripts
        # What the hooks would collect: a few files the filter must drop and a few it must keep.
        self.binaries = [(dest, "/src/" + dest, "BINARY") for dest in (
            "torch/lib/libtorch_cpu.so", "torch/lib/libtorchbind_test.so", "torch/bin/torch_shm_manager",
            "torch/bin/protoc", "torch/test/Dict_test", "PySide6/Qt/plugins/platforms/libqxcb.so",
            "PySide6/Qt/plugins/platforms/libqoffscreen.so", "PySide6/Qt/plugins/platforms/libqwayland.so",
            "PySide6/Qt/plugins/platforms/libqvnc.so", "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
            "libatk-1.0.so.0", "pyarrow/libparquet.so.2600", "torch/lib/libfoo.a")]
        self.datas = [(dest, "/src/" + dest, "DATA") for dest in (
            "torch/include/ATen/ATen.h", "PySide6/Qt/translations/qtbase_de.qm", "mne/__init__.pyi",
            "resources/sample/synthetic_sample.bdf", "resources/sample/synthetic_sample.bdf.masks.json",
            "pyarrow/include/arrow/api.h")]
        self.pure: list = []
        self.scripts: list = []


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The spec's namespace after running it with the stand-ins; ``analysis`` is the Analysis stand-in."""
    from PyInstaller.utils import hooks

    _Step.instances = []
    saved = hooks.collect_submodules
    hooks.collect_submodules = lambda package, filter=None: [package]  # noqa: A002 (PyInstaller's name)
    try:
        namespace: dict[str, Any] = {"SPECPATH": str(PACKAGING), "Analysis": _Analysis, "PYZ": _Step,
                                     "EXE": _Step, "COLLECT": _Step, "__file__": str(SPEC)}
        exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    finally:
        hooks.collect_submodules = saved
    namespace["analysis"] = next(s for s in _Step.instances if isinstance(s, _Analysis))
    return namespace


def test_spec_scripts_and_datas_exist(spec):
    analysis = spec["analysis"]
    (script,) = analysis.scripts_in
    assert Path(script) == PACKAGING / "launcher.py"
    assert Path(script).is_file()
    sources = {Path(src): dest for src, dest in analysis.kwargs["datas"] if dest == "resources"}
    assert sources == {ROOT / "resources": "resources"}, "resources/ must be shipped whole"
    assert (ROOT / "resources" / "sample" / "synthetic_sample.bdf").is_file()
    assert (ROOT / "resources" / "checkpoint").is_dir()
    # mne's lazy_loader stubs must be shipped as data, or the app dies at start.
    assert any(dest.startswith("mne") and src.endswith("__init__.pyi") for src, dest in analysis.kwargs["datas"])


def test_launcher_runs_the_app_entry_point():
    text = (PACKAGING / "launcher.py").read_text(encoding="utf-8")
    assert "from app.main import main" in text
    assert "multiprocessing.freeze_support()" in text  # child processes of the frozen app must not open windows
    from app.main import main

    assert callable(main)


def test_hidden_imports_are_importable(spec):
    hidden = spec["analysis"].kwargs["hiddenimports"]
    assert {"mne", "mmqnet_core", "app"} <= set(hidden)
    missing = [name for name in hidden if importlib.util.find_spec(name) is None]
    assert not missing, f"hidden imports that do not exist: {missing}"


def test_filter_drops_unused_files_and_keeps_needed_ones(spec):
    analysis = spec["analysis"]
    binaries = {dest for dest, _src, _kind in analysis.binaries}
    datas = {dest for dest, _src, _kind in analysis.datas}
    assert binaries == {
        "torch/lib/libtorch_cpu.so", "torch/bin/torch_shm_manager", "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/platforms/libqoffscreen.so", "PySide6/Qt/plugins/platforms/libqwayland.so",
        "pyarrow/libparquet.so.2600"}
    assert datas == {"mne/__init__.pyi", "resources/sample/synthetic_sample.bdf"}


@pytest.mark.slow
def test_excluded_modules_are_not_imported_by_the_app(spec):
    """Importing every module of the app and the core must not import what the spec leaves out."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import app, mmqnet_core\n"
        "for pkg in (app, mmqnet_core):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if not m.name.endswith('__main__'):\n"
        "            importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300, check=True).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert {"app.main_window", "mmqnet_core.io", "torch", "mne", "pyqtgraph"} <= loaded  # the walk worked
    excluded = set(spec["excludes"])
    imported = sorted(m for m in loaded if m in excluded or m.split(".")[0] in excluded)
    assert not imported, f"modules excluded from the bundle but imported by the app or the core: {imported}"


@pytest.mark.parametrize("script", ["build.sh", "smoke.sh"])
def test_shell_scripts_are_executable_and_parse(script):
    path = PACKAGING / script
    assert os.access(path, os.X_OK), f"{path} is not executable (chmod +x)"
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
