"""Benchmark: the longest GUI-thread stall around an analysis in the real main window, per phase.

Each round runs in a fresh process per tree (offscreen Qt, its own settings file): ``MainWindow`` opens the
recording, waits until the display's cleaning is done, then runs MMQ-Net twice with the checkpoint of the tree
(the shipped one). A 10-ms ``QTimer`` in the GUI thread records every gap between its ticks; a gap above 10 ms
is time the window could not react (repaint, a key, the mouse). Printed per phase, the worst gap in ms:

- ``open``: from ``open_file`` to the end of the display's cleaning;
- ``analysis 1``: from F5 to the result's arrival (model load: torch's import and the checkpoint; cleaning;
  features; model), ``shown 1``: the result handed to the window and 3 s after (the analysis views built and
  painted for the first time);
- ``analysis 2`` / ``shown 2``: the same with the model kept from the first run.

Trees are alternated in the same minutes (``--peer``: e.g. session 11's tree) and the load average is printed.

    python bench/bench_gui_stall.py --peer /work/wt-s11 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample" / "synthetic_sample.bdf"
PHASES = ("open", "analysis 1", "shown 1", "analysis 2", "shown 2")

CHILD = r"""
import json, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
app = QApplication(sys.argv)
import mmqnet_core
from app.main_window import MainWindow
errors = []
QMessageBox.exec = lambda box: (errors.append(box.text()), int(QMessageBox.StandardButton.Ok))[1]
ticks = []
timer = QTimer(); timer.setInterval(10); timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
w = MainWindow(); w.resize(1400, 900); w.show()
marks = {}
shown = []
original = w.model.set_analysis
def set_analysis(*a, **k):
    shown.append(time.perf_counter())
    return original(*a, **k)
w.model.set_analysis = set_analysis
SHOWN_S = 3.0
def mark(name):
    marks[name] = time.perf_counter()
def begin():
    timer.start(); mark("open"); w.open_file(sys.argv[1]); QTimer.singleShot(200, wait_open)
def wait_open():
    if w.runner.busy or w.model.preprocess_result is None:
        QTimer.singleShot(50, wait_open); return
    mark("opened"); QTimer.singleShot(500, lambda: run(1))
def run(n):
    mark(f"analysis {n}"); w.run_analysis(); QTimer.singleShot(50, lambda: wait_run(n))
def wait_run(n):
    if len(shown) < n:
        if not w.runner.busy and errors:
            finish(); return
        QTimer.singleShot(50, lambda: wait_run(n)); return
    marks[f"shown {n}"] = shown[n - 1]
    QTimer.singleShot(int(SHOWN_S * 1000), lambda: (mark(f"end {n}"), run(2) if n == 1 else finish()))
def finish():
    timer.stop()
    print("RESULT " + json.dumps({"ticks": ticks, "marks": marks, "errors": errors,
                                  "core": mmqnet_core.__file__, "torch": "torch" in sys.modules}), flush=True)
    app.quit()
QTimer.singleShot(300, begin)
app.exec()
w.shutdown()
"""


def phase_gaps(ticks: list[float], marks: dict[str, float]) -> dict[str, float]:
    """Worst gap (ms) between consecutive ticks, by the phase in which the gap ends."""
    bounds = [("open", "open", "opened"), ("analysis 1", "analysis 1", "shown 1"), ("shown 1", "shown 1", "end 1"),
              ("analysis 2", "analysis 2", "shown 2"), ("shown 2", "shown 2", "end 2")]
    out = {}
    for name, a, b in bounds:
        if a not in marks or b not in marks:
            continue
        gaps = [t1 - t0 for t0, t1 in zip(ticks, ticks[1:]) if marks[a] < t1 <= marks[b]]
        out[name] = 1000 * max(gaps, default=0.0)
    return out


def run_tree(tree: Path, recording: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="mmqnet_stall_") as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                   PYTHONPATH=str(tree) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   MMQNET_STUDIO_SETTINGS=str(Path(tmp) / "studio.ini"))
        env.pop("MMQNET_CHECKPOINT", None)
        proc = subprocess.run([sys.executable, "-c", CHILD, str(recording)], cwd=tree, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            data = json.loads(line[7:])
            if not str(data["core"]).startswith(str(tree)):
                raise SystemExit(f"{tree}: imported {data['core']}, not this tree's mmqnet_core")
            return {"gaps": phase_gaps(data["ticks"], data["marks"]), "errors": data["errors"],
                    "torch_in_gui_process": data["torch"]}
    raise SystemExit(f"{tree}: no result (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=SAMPLE, help="recording (default: the bundled sample)")
    parser.add_argument("--peer", type=Path, default=None, help="another tree measured in the same rounds")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    trees = [("this tree", ROOT)] + ([("peer " + str(args.peer), args.peer.resolve())] if args.peer else [])
    worst: dict[str, dict[str, float]] = {name: {} for name, _ in trees}
    for r in range(args.rounds):
        for name, tree in trees:
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            out = run_tree(tree, args.file)
            gaps = out["gaps"]
            for k, v in gaps.items():
                worst[name][k] = max(worst[name].get(k, 0.0), v)
            text = ", ".join(f"{k} {gaps[k]:.0f}" for k in PHASES if k in gaps)
            print(f"round {r + 1} {name} (load {load:.1f}, {time.perf_counter() - t0:.0f} s): worst GUI gap ms: "
                  f"{text}; torch in the GUI process: {out['torch_in_gui_process']}"
                  + (f"; ERRORS {out['errors']}" if out["errors"] else ""), flush=True)
    for name, _ in trees:
        print(f"worst over {args.rounds} round(s), {name}: "
              + ", ".join(f"{k} {worst[name][k]:.0f} ms" for k in PHASES if k in worst[name]))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
