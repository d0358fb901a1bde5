"""Benchmark: quitting the app during an analysis -- time from "Stop and quit" to the end of the process.

Each measurement runs in a fresh process (offscreen Qt): the main window opens a recording, waits for the
display's cleaning fit, starts the analysis, and after ``--after`` seconds closes the window answering "Stop and
quit"; the process then leaves as ``app.main`` does (``MainWindow.shutdown``, then
``app.main.end_after_quit_during_work``: flush, then ``os._exit``). Printed: the seconds from the answer to the process's end, as the parent sees it (target 2 s).

    python bench/bench_quit.py --file /tmp/mmqnet_bench/bench_3600s_40ch_512Hz_SYNTHETIC.bdf --after 1 2 3 4 7
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import os, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
app = QApplication(sys.argv)
from app.main_window import MainWindow
from app.main import end_after_quit_during_work
QMessageBox.exec = lambda box: int(QMessageBox.StandardButton.Ok)  # the quit question: "Stop and quit"
w = MainWindow(); w.show()
w.open_file(sys.argv[1])
after = float(sys.argv[2])
def start():
    if w.runner.busy:  # the display's cleaning fit still runs
        QTimer.singleShot(100, start); return
    w.run_analysis()
    QTimer.singleShot(int(after * 1000), stop)
def stop():
    print(f"QUIT_AT {time.time():.4f} busy={w.runner.busy}", flush=True)
    w.close(); app.quit()
QTimer.singleShot(300, start)
app.exec()
w.shutdown()  # as app.main does after its event loop
print(f"ABANDONED {len(w.runner.abandoned)}", flush=True)
end_after_quit_during_work(w, 0)  # as app.main does: ends the process now after "Stop and quit"
print("NORMAL_EXIT", flush=True)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, required=True, help="recording to analyse (e.g. a 1-h BDF)")
    parser.add_argument("--after", type=float, nargs="+", default=[1, 2, 3, 4, 7],
                        help="seconds of analysis before quitting")
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    worst = 0.0
    for after in args.after:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(args.file), str(after)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        quit_at, busy, abandoned, how = None, "?", "?", "os._exit"
        for line in proc.stdout:
            if line.startswith("QUIT_AT"):
                parts = line.split()
                quit_at, busy = float(parts[1]), parts[2].split("=")[1]
            elif line.startswith("ABANDONED"):
                abandoned = line.split()[1]
            elif line.startswith("NORMAL_EXIT"):
                how = "normal exit (teardown)"
        proc.wait(120)
        gone = time.time()
        if quit_at is None:
            print(f"after {after:g} s: the analysis ended before the quit (exit {proc.returncode})")
            continue
        worst = max(worst, gone - quit_at)
        print(f"quit after {after:g} s of analysis (work running: {busy}): process gone {gone - quit_at:.2f} s "
              f"after 'Stop and quit'; tasks abandoned {abandoned}; {how}; exit code {proc.returncode}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}; worst {worst:.2f} s (target 2 s: "
          f"{'OK' if worst <= 2.0 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
