"""Start-up of MMQ-Net Studio in this process: imports, QApplication, MainWindow creation, first paint.

Prints the time of each step and whether torch was imported before the window painted (the analysis views and
torch must wait until they are needed). Target (issue #12): creating the main window <= 100 ms. The packaged
application's cold start (<= 1 s to the first painted page) is measured by ``packaging/smoke.sh`` on a built
bundle, not here.

Usage: ``QT_QPA_PLATFORM=offscreen python bench/bench_startup.py [--repeats 3]`` (each repeat in a fresh process).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, ROOT)
from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication
t_qt = time.perf_counter()
import pyqtgraph  # noqa: F401
from app.main_window import MainWindow
t_import = time.perf_counter()
app = QApplication([])
t_app = time.perf_counter()
win = MainWindow(settings=QSettings(SETTINGS, QSettings.Format.IniFormat))
t_window = time.perf_counter()
out = {"import Qt": t_qt - t0, "import app": t_import - t_qt, "QApplication": t_app - t_import,
       "MainWindow()": t_window - t_app, "torch imported by MainWindow()": "torch" in sys.modules}

class Paint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "first paint" not in out:
            out["first paint"] = time.perf_counter() - t_window
            out["torch imported at first paint"] = "torch" in sys.modules
            QTimer.singleShot(0, app.quit)
        return False

p = Paint()
win.installEventFilter(p)
win.show()
app.exec()
out["total to first paint"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        code = CHILD.replace("ROOT", repr(str(ROOT))).replace("SETTINGS", repr(str(Path(tmp) / "s.ini")))
        for _ in range(args.repeats):
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                 env={**__import__("os").environ, "QT_QPA_PLATFORM":
                                      __import__("os").environ.get("QT_QPA_PLATFORM", "offscreen")})
            if res.returncode != 0:
                print(res.stderr)
                return 1
            runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"start-up in a fresh process, median of {len(runs)} (machine shared with other jobs):")
    for key in runs[0]:
        vals = [r[key] for r in runs]
        if isinstance(vals[0], bool):
            print(f"  {key:<34} {vals}")
        else:
            print(f"  {key:<34} {1000 * statistics.median(vals):7.0f} ms   (runs: "
                  + ", ".join(f"{1000 * v:.0f}" for v in vals) + ")")
    print("target: MainWindow() <= 100 ms, torch not imported before the first paint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
