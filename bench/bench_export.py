"""Benchmark: the annotation EDF+ export (*Annotations > Export recording with annotations*) of long recordings --
wall time and peak memory, against peers in the same run.

Each export runs in a fresh Python process that opens the recording as the app does
(:func:`mmqnet_core.io.load_recording`), adds 200 user annotations and exports it; the child prints the time of the
open and of the export, and its peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) before and
after the export. Runs (``--runs``):

- ``bdf``: this tree's streaming export (:mod:`mmqnet_core.io.edf_writer`) into ``.bdf`` (BDF+, the file's 24-bit
  records copied);
- ``edf``: the same into ``.edf`` (each channel requantised to 16 bits: what the peers write);
- ``main``: the export of another source tree (``--peer TREE``, e.g. main at e735def: ``mne.export.export_raw`` of
  the whole recording, loaded into memory) -- only for files whose signal fits ``--peer-max-gb`` (default 3 GB of
  float64: the 24-h file would need ~21 GB);
- ``mne``: ``mne.io.read_raw_bdf(preload=True)`` + ``mne.export.export_raw(fmt="edf")`` (same limit);
- ``cancel``: this tree's export cancelled after 2 s: the time until it stopped, and the files it left (none).

The 1-minute load average is printed with each run (a loaded machine slows every number). Outputs are written to
``--out`` (default /tmp/export14/) and removed after each run.

Usage::

    python bench/bench_export.py [FILE ...] [--runs bdf edf main mne cancel] [--peer /tmp/export14/peer] [--out DIR]

Default files: /tmp/mmqnet_bench/synthetic_scale_1h_512hz.bdf and synthetic_scale_24h_256hz.bdf (see
``bench/bench_scale.py``, which writes them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = ("/tmp/mmqnet_bench/synthetic_scale_1h_512hz.bdf", "/tmp/mmqnet_bench/synthetic_scale_24h_256hz.bdf")

CHILD = r"""
import json, resource, sys, time
code, how, src, out = sys.argv[1:5]
sys.path.insert(0, code)
t0 = time.perf_counter()
if how == "cancel":  # cancel after 2 s of export; the time until it stopped, and what it left in the folder
    import os, threading
    from mmqnet_core.errors import Cancelled
    from mmqnet_core.io import load_recording
    from mmqnet_core.annotations import AnnotationSet
    rec = load_recording(src)
    t1 = time.perf_counter()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ev, stopped = threading.Event(), []
    def work():
        try:
            AnnotationSet().export_edf(out, rec, cancel=ev)
        except Cancelled:
            stopped.append(time.perf_counter())
    th = threading.Thread(target=work); th.start(); time.sleep(2.0); asked = time.perf_counter(); ev.set(); th.join()
    folder = os.path.dirname(out)
    left = [n for n in os.listdir(folder) if os.path.basename(out) in n]
    print("CANCEL", json.dumps({"latency_s": stopped[0] - asked if stopped else None, "left": left}))
elif how == "mne":
    import mne
    raw = mne.io.read_raw_bdf(src, preload=True, verbose="error")
    t1 = time.perf_counter()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mne.export.export_raw(out, raw, fmt="edf", overwrite=True, verbose="error")
else:
    from mmqnet_core.annotations import AnnotationSet
    from mmqnet_core.io import load_recording
    rec = load_recording(src)
    notes = AnnotationSet.from_recording(rec.annotations)
    for k in range(200):
        notes = notes.added(k * rec.duration_s / 200, 1.0, f"note {k}", "event")
    t1 = time.perf_counter()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    notes.export_edf(out, rec)
t2 = time.perf_counter()
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("RESULT", json.dumps({"open_s": t1 - t0, "export_s": t2 - t1, "rss_before_kb": rss0, "peak_kb": rss1}))
"""


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def _signal_gb(path: Path) -> float:
    """Size of the recording's samples as float64, GB (what a loaded copy holds)."""
    sys.path.insert(0, str(ROOT))
    from mmqnet_core.io.edf_header import read_edf_header

    h = read_edf_header(path)
    return sum(h.n_samples[i] for i in h.signal_indices) * h.n_records * 8 / 1e9


def run_one(code: Path, how: str, src: Path, out: Path) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(code)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(code), how, str(src), str(out)], capture_output=True,
                          text=True, env=env, cwd=str(code))
    wall = time.perf_counter() - t0
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"], "wall_s": wall}
    res = json.loads(line[7:])
    res["wall_s"] = wall
    cancel = next((ln for ln in proc.stdout.splitlines() if ln.startswith("CANCEL ")), None)
    if cancel is not None:
        res.update(json.loads(cancel[7:]))
    res["out_mb"] = out.stat().st_size / 1e6 if out.exists() else 0.0
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", default=list(DEFAULT_FILES))
    ap.add_argument("--runs", nargs="+", default=["bdf", "edf", "main", "mne"],
                    choices=["bdf", "edf", "main", "mne", "cancel"])
    ap.add_argument("--peer", default="/tmp/export14/peer", help="source tree of the 'main' run (e735def)")
    ap.add_argument("--peer-max-gb", type=float, default=3.0)
    ap.add_argument("--out", default="/tmp/export14")
    args = ap.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"{'file':38s} {'run':5s} {'open s':>7s} {'export s':>9s} {'peak MB':>8s} {'before MB':>9s} "
          f"{'out MB':>8s} {'load':>5s}")
    for f in args.files:
        src = Path(f)
        if not src.exists():
            print(f"{src.name}: missing (bench/bench_scale.py writes it)")
            continue
        gb = _signal_gb(src)
        for how in args.runs:
            if how in ("main", "mne") and gb > args.peer_max_gb:
                print(f"{src.name:38s} {how:5s} skipped: {gb:.1f} GB of signal as float64 (the peer holds ~3 copies)")
                continue
            code = Path(args.peer) if how == "main" else ROOT
            suffix = ".bdf" if how == "bdf" else ".edf"
            out = out_dir / f"bench_{src.stem}_{how}{suffix}"
            res = run_one(code, how, src, out)
            out.unlink(missing_ok=True)
            if "error" in res:
                print(f"{src.name:38s} {how:5s} failed after {res['wall_s']:.1f} s: {res['error'][0]}")
                continue
            if how == "cancel":
                stop = (f"stopped in {res['latency_s']:.3f} s" if res["latency_s"] is not None else
                        "finished before the cancel")
                print(f"{src.name:38s} {how:5s} cancel after 2 s of export: {stop}, left {res['left'] or 'nothing'} "
                      f"{_load():>5s}", flush=True)
                continue
            print(f"{src.name:38s} {how:5s} {res['open_s']:7.2f} {res['export_s']:9.2f} {res['peak_kb'] / 1024:8.0f} "
                  f"{res['rss_before_kb'] / 1024:9.0f} {res['out_mb']:8.0f} {_load():>5s}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
