"""Start-up: the window opens without torch and without building the analysis views; they come when needed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from app.attention_map_view import AttentionMapView
from app.trajectory_view import TrajectoryView

from .conftest import wait_analysis, write_test_bdf

ROOT = Path(__file__).resolve().parents[2]


def test_window_opens_without_torch_or_analysis_views(tmp_path):
    """In a fresh process (other tests import torch): create, show and idle past the deferred start-up, then
    open a recording."""
    bdf = write_test_bdf(tmp_path / "synthetic_startup.bdf")
    code = textwrap.dedent(f"""
        import json, os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication
        from app.main_window import MainWindow
        import PySide6.QtCore, PySide6.QtGui, PySide6.QtWidgets
        qt_modules = (PySide6.QtCore, PySide6.QtGui, PySide6.QtWidgets)
        app = QApplication([])
        classes_before = sum(len(m.__dict__) for m in qt_modules)
        t0 = time.perf_counter()
        win = MainWindow(settings=QSettings({str(tmp_path / "s.ini")!r}, QSettings.Format.IniFormat))
        created = time.perf_counter() - t0
        classes_made_by_window = sum(len(m.__dict__) for m in qt_modules) - classes_before
        late_modules = sorted(m for m in ("app.report", "app.view_export", "app.shortcuts_dialog",
                                          "app.simulate_dialog", "app.subject_files_dialog") if m in sys.modules)
        mirrors = [sys.modules["pyqtgraph.Qt." + m.__name__.split(".")[1]] for m in qt_modules]
        mirror_kind = sorted({{type(m).__name__ for m in mirrors}})
        mirror_share = sum(len(m.__dict__) for m in mirrors) / sum(len(dir(m)) for m in qt_modules)
        heavy_before_paint = sorted(m for m in ("scipy.signal", "torch", "mne.filter") if m in sys.modules)
        view_modules = sorted(m for m in ("app.trajectory_view", "app.circumplex_view", "app.attention_map_view",
                                          "app.reconstruction_view") if m in sys.modules)
        win.show()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:  # the deferred start-up runs 300 ms after creation
            app.processEvents()
            time.sleep(0.01)
        torch_at_start = "torch" in sys.modules
        win.open_file({str(bdf)!r})  # opening a recording and drawing its first page do not import torch
        end = time.monotonic() + 20.0
        while win.model.recording is None and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.01)
        torch_after_open = "torch" in sys.modules
        print(json.dumps({{"torch": torch_at_start, "torch_after_open": torch_after_open,
                          "opened": win.model.recording is not None, "views": sorted(win._views),
                          "device": win.device_label.text(), "created_ms": 1000 * created,
                          "heavy_before_paint": heavy_before_paint, "view_modules": view_modules,
                          "late_modules": late_modules, "mirror_kind": mirror_kind, "mirror_share": mirror_share,
                          "classes_made_by_window": classes_made_by_window}}), flush=True)
        os._exit(0)  # the cleaning started by the open may still run: closing would ask first
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["torch"] is False
    assert out["opened"] and out["torch_after_open"] is False
    assert out["views"] == []
    # nothing that costs a second or more to import (scipy.signal ~1.5 s) before the first paint
    assert out["heavy_before_paint"] == []
    assert out["view_modules"] == []  # not even the analysis views' modules are imported to make the window
    assert out["late_modules"] == []  # nor the dialogs, the report or the view export (imported on first use)
    # pyqtgraph's copies of PySide6's modules are filled on first use (app.lazy_qt): most of PySide6's classes
    # (and their enums) are never created; made eagerly, the copies hold every name (share ~1).
    assert out["mirror_kind"] == ["LazyQtMirror"]
    assert out["mirror_share"] < 0.3, out["mirror_share"]
    # the PySide6 classes the window needs are made at import (lazy_qt.WINDOW_CLASSES), not by MainWindow()
    assert out["classes_made_by_window"] <= 10, out["classes_made_by_window"]
    assert out["device"] == "Device: auto"
    print(f"MainWindow() took {out['created_ms']:.0f} ms")  # bench/bench_startup.py measures it properly


def test_an_analysis_view_is_built_when_its_dock_is_first_shown(qtbot, window, recording):
    window.set_recording(recording)
    assert window._views == {}
    placeholder = window.trajectory_dock.widget()
    window.show_dock(window.trajectory_dock)
    qtbot.waitUntil(lambda: "trajectory" in window._views, timeout=2000)
    view = window.trajectory_dock.widget()
    assert isinstance(view, TrajectoryView) and view is window.trajectory_view and view is not placeholder
    assert set(window._views) == {"trajectory"}  # the others wait until they are shown
    assert not window.browser.visible_range()[0] <= 42.0 <= window.browser.visible_range()[1]
    view.jumpRequested.emit(42.0)  # wired to the browser like the views built with the window were
    start, stop = window.browser.visible_range()
    assert start <= 42.0 <= stop


def test_a_view_built_after_the_analysis_shows_it(qtbot, window, recording, tiny_model):
    window.set_recording(recording)
    window.use_model(tiny_model)
    assert window.run_analysis()
    wait_analysis(qtbot, window)
    assert "attention" not in window._views
    view = window.attention_view  # first use: built from the model's current state
    assert isinstance(view, AttentionMapView) and window.attention_dock.widget() is view
    assert view.image_data is not None and view.image_data.shape[1] == window.model.analysis.n_windows
    # the device is described once torch is there (the analysis imported it)
    assert window.device_label.text().startswith("Device: ") and window.device_label.text() != "Device: auto"


def test_no_garbage_collection_until_the_first_paint(tmp_path):
    """``mmqnet-studio`` (a fresh process, main() makes the QApplication): the collector is off while the window
    is made and turned back on, with the start-up's objects frozen, once it has painted."""
    code = textwrap.dedent(f"""
        import gc, json, os, sys
        sys.path.insert(0, {str(ROOT)!r})
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QTimer
        from app import main as app_main
        from app.main_window import MainWindow
        seen = {{"after_import": gc.isenabled()}}
        make, show = MainWindow.__init__, MainWindow.show

        def init(self, *args, **kwargs):
            seen["while_making_the_window"] = gc.isenabled()
            make(self, *args, **kwargs)

        def shown(self):
            show(self)

            def later():
                seen["after_the_paint"] = gc.isenabled()
                seen["frozen"] = gc.get_freeze_count()
                self.close()

            QTimer.singleShot(1000, later)

        MainWindow.__init__, MainWindow.show = init, shown
        code = app_main.main(["--settings", {str(tmp_path / "s.ini")!r}])
        print(json.dumps(seen), flush=True)
        sys.exit(code)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["after_import"] is True  # importing app.main alone leaves the collector on
    assert seen["while_making_the_window"] is False
    assert seen["after_the_paint"] is True
    assert seen["frozen"] > 10_000  # the modules, classes and window made by the start-up
