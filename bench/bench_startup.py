"""Start-up of MMQ-Net Studio in this process: imports, QApplication, MainWindow creation, first paint.

Prints the time of each step, the process' CPU time at the first paint, the load average, and whether torch was
imported before the window painted (the analysis views and torch must wait until they are needed). Target
(issue #12): creating the main window <= 100 ms. With ``--file`` the window then opens that recording and the
time to the first painted page of traces is printed too (the reading runs in a worker thread, the cleaning is
left to start as it does for the user). The packaged application's cold start (<= 1 s to the first paint) is
measured by ``packaging/smoke.sh`` on a built bundle, not here.

Each repeat runs in a fresh process with Python's bytecode cache allowed (as in an installed or packaged app,
whose modules are compiled once; an environment with ``PYTHONDONTWRITEBYTECODE`` would otherwise compile every
module of the app at each start). The first repeat may write the cache: its numbers are printed but the median
is over all repeats.

``--compare-eager-mirror`` alternates the runs with and without ``app.lazy_qt`` (pyqtgraph's copies of PySide6's
modules filled on first use, off with ``MMQNET_EAGER_QT_MIRROR=1``) and prints both. ``--main`` also times
``python -m app.main --time-to-first-paint`` (the entry point the packaged app runs) as a whole process.

Usage: ``QT_QPA_PLATFORM=offscreen python bench/bench_startup.py [--repeats 3] [--file REC.bdf]
[--compare-eager-mirror] [--main]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, ROOT)
from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication
t_qt = time.perf_counter()
import app  # first, as in app.main: installs app.lazy_qt before pyqtgraph is imported
import pyqtgraph  # noqa: F401
from app.main_window import MainWindow
t_import = time.perf_counter()
app = QApplication([])
t_app = time.perf_counter()
win = MainWindow(settings=QSettings(SETTINGS, QSettings.Format.IniFormat))
t_window = time.perf_counter()
out = {"import Qt": t_qt - t0, "import app": t_import - t_qt, "QApplication": t_app - t_import,
       "MainWindow()": t_window - t_app, "torch imported by MainWindow()": "torch" in sys.modules}

FILE = FILE_PATH

class Paint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "first paint" not in out:
            out["first paint"] = time.perf_counter() - t_window
            out["total to first paint"] = time.perf_counter() - t0
            out["CPU time at first paint"] = time.process_time()
            out["torch imported at first paint"] = "torch" in sys.modules
            if FILE is None:
                QTimer.singleShot(0, finish)
            else:
                QTimer.singleShot(0, open_file)  # not inside the window's paint
        return False


loaded, opened = [], []


class Page(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and loaded and "open to first page" not in out:
            out["open to first page"] = time.perf_counter() - opened[0]
            out["total to first page"] = time.perf_counter() - t0
            QTimer.singleShot(0, finish)
        return False


page = Page()


def open_file():
    win.model.recordingLoaded.connect(lambda _r: loaded.append(True))
    win.browser.plot_widget.viewport().installEventFilter(page)
    opened.append(time.perf_counter())
    win.open_file(FILE)

def finish():
    out["load average (1 min)"] = os.getloadavg()[0]
    out["lazy Qt mirror"] = type(sys.modules["pyqtgraph.Qt.QtWidgets"]).__name__ == "LazyQtMirror"
    print(json.dumps(out), flush=True)
    os._exit(0)  # at once: quitting while the cleaning started by opening a file runs would ask first


p = Paint()
win.installEventFilter(p)
win.show()
app.exec()
"""


def _print_runs(title: str, runs: list[dict]) -> None:
    print(title)
    for key in runs[0]:
        vals = [r[key] for r in runs]
        if isinstance(vals[0], bool):
            print(f"  {key:<34} {vals}")
        elif key.startswith("load"):
            print(f"  {key:<34} {', '.join(f'{v:.1f}' for v in vals)}")
        else:
            print(f"  {key:<34} {1000 * statistics.median(vals):7.0f} ms   (runs: "
                  + ", ".join(f"{1000 * v:.0f}" for v in vals) + ")")


def _run_main(env: dict, settings: Path) -> dict:
    """``python -m app.main --time-to-first-paint`` in a fresh process: its own figure, wall and CPU time."""
    import os
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "app.main", "--settings", str(settings), "--time-to-first-paint"],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("time to first paint")), None)
    if res.returncode != 0 or line is None:
        raise RuntimeError(f"app.main --time-to-first-paint failed: {res.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"app.main: time to first paint": float(line.split(":")[1].split()[0]),
            "app.main: whole process (wall)": wall, "app.main: whole process (CPU)": cpu,
            "load average (1 min)": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--file", type=Path, help="also open this recording and time its first painted page")
    p.add_argument("--compare-eager-mirror", action="store_true",
                   help="alternate runs with MMQNET_EAGER_QT_MIRROR=1 (pyqtgraph's eager copy) and print both")
    p.add_argument("--main", action="store_true", help="also time `python -m app.main --time-to-first-paint`")
    args = p.parse_args(argv)
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "MMQNET_EAGER_QT_MIRROR")}
    env["QT_QPA_PLATFORM"] = os.environ.get("QT_QPA_PLATFORM", "offscreen")
    variants = {"lazy Qt mirror (app.lazy_qt)": env}
    if args.compare_eager_mirror:
        variants["eager Qt mirror (pyqtgraph's copy)"] = {**env, "MMQNET_EAGER_QT_MIRROR": "1"}
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    main_runs: dict[str, list[dict]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        code = CHILD.replace("ROOT", repr(str(ROOT))).replace("SETTINGS", repr(str(Path(tmp) / "s.ini")))
        code = code.replace("FILE_PATH", repr(str(args.file.resolve())) if args.file else "None")
        for _ in range(args.repeats):
            for name, var_env in variants.items():  # alternated: both see the same load
                res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                     env=var_env)
                if res.returncode != 0:
                    print(res.stderr)
                    return 1
                runs[name].append(json.loads(res.stdout.strip().splitlines()[-1]))
                if args.main:
                    main_runs[name].append(_run_main(var_env, Path(tmp) / "main.ini"))
    for name in variants:
        _print_runs(f"start-up in a fresh process, {name}, median of {args.repeats} (machine shared with other "
                    f"jobs):", runs[name])
        if args.main:
            _print_runs(f"python -m app.main --time-to-first-paint, {name}:", main_runs[name])
    print("target: MainWindow() <= 100 ms, torch not imported before the first paint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
