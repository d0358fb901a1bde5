"""Benchmark: time from a cancel to the stop, in every stage of an analysis, in the core API and the app's worker.

Issue #12's target: a cancel takes effect within 1 s at any stage. ``bench_scale.py --cancel-latency`` measures the
gaps between the cancel checks of one run (a never-firing token); this script cancels for real: each trial runs the
analysis of a recording from the start, sets the cancel token at a random moment inside one stage and measures the
time from setting it to the moment the call has returned (``Cancelled`` raised, helper threads joined). Per stage it
prints the worst and the median of ``--repeats`` trials.

Stages (named from the progress messages of a first, uncancelled run, which also gives each stage's span):

* load: ``load_recording`` (opening the file: header, mne's reader);
* fit: the cleaning's global fit (reference, EOG regression / ICA, line noise, muscle thresholds);
* clean: cleaning the pieces; features: feature blocks (they overlap the cleaning in a streamed analysis: the stage
  is the one the last progress message names);
* model: the model's batches; saving: writing the result files (core API only: the app saves on demand).

Paths:

* ``core``: :func:`mmqnet_core.inference.cohort.analyze_file` -- load, analyse, save, as ``mmqnet analyze`` does in
  one process (``--in-process``);
* ``app``: the app's analysis worker -- :class:`app.workers.Worker` running :func:`app.analysis.run_analysis` on an
  open recording in a pool thread, cancelled with :meth:`Worker.cancel`; the stop is :meth:`Worker.wait` returning
  (the GUI then only receives the ``cancelled`` signal). The load stage is the app's open worker
  (:func:`mmqnet_core.io.load_recording` with the worker's token), measured the same way.

The model is loaded once and reused (the app caches it; loading is not a stage of a cancel). The cleaning cache is
cleared before every trial. Usage::

    python bench/bench_cancel.py [--file REC] [--repeats 3] [--paths core app] [--seed 0]

Default file: the 1-h, 40-channel, 512-Hz SYNTHETIC BDF of ``bench_scale.py`` (``/tmp/mmqnet_bench``), written if
missing. Numbers depend on the load of the machine: note ``uptime`` beside them.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Stage of a progress message: the first keyword found (checked in this order) names it.
STAGE_WORDS = (
    ("saving", ("sav", "writ")),
    ("model", ("model", "batch", "mmq-net", "attention", "reconstruct", "occlusion")),
    ("features", ("feature",)),
    ("fit", ("fit",)),
    ("clean", ("clean", "piece", "filter", "resampl", "reference", "eog", "line", "muscle", "preprocess")),
    ("load", ("open", "read", "load")),
)
STAGES = ("load", "fit", "clean", "features", "model", "saving")


def stage_of(message: str) -> str | None:
    """The stage a progress message belongs to (None: no keyword)."""
    m = message.lower()
    for stage, words in STAGE_WORDS:
        if any(w in m for w in words):
            return stage
    return None


class Clock:
    """A progress callback that records (time, stage) of every message and knows the stage now."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []
        self.stage = "load"
        self.lock = threading.Lock()

    def __call__(self, fraction: float, message: str = "") -> None:
        st = stage_of(message) if message else None
        if st is not None:
            with self.lock:
                self.stage = st
                self.events.append((time.perf_counter(), st))


def spans(events: list[tuple[float, str]], t_end: float) -> dict[str, tuple[float, float]]:
    """First and last moment of each stage in a run (relative to its first event), from its progress events."""
    out: dict[str, list[float]] = {}
    t0 = events[0][0] if events else t_end
    for i, (t, st) in enumerate(events):
        nxt = events[i + 1][0] if i + 1 < len(events) else t_end
        lo, hi = out.setdefault(st, [t - t0, nxt - t0])
        out[st] = [min(lo, t - t0), max(hi, nxt - t0)]
    return {k: (v[0], v[1]) for k, v in out.items()}


# --- the two paths ---------------------------------------------------------------------------------------------
def run_core(path: Path, model, out: Path, progress, cancel) -> None:
    from mmqnet_core.inference.cohort import AnalysisOptions, analyze_file

    analyze_file(path, out, AnalysisOptions(), model=model, progress=progress, cancel=cancel)


def run_app(path: Path, model, out: Path, progress, cancel) -> None:
    """The app: the open worker (load_recording), then the analysis worker (run_analysis) -- each a Worker run in a
    pool thread, cancelled through the worker. ``cancel`` here is polled by a watcher that cancels the worker."""
    from app.analysis import run_analysis
    from app.workers import Worker
    from mmqnet_core.errors import Cancelled
    from mmqnet_core.io import load_recording

    def in_worker(fn, *args, **kwargs):
        w = Worker(fn, *args, **kwargs)
        w.kwargs["progress"] = progress  # the bench's clock instead of the Qt signal (the same calls)
        box: dict = {}

        def recorded(*a, **k):  # the outcome, seen without a Qt event loop (the signals would be queued)
            try:
                box["result"] = fn(*a, **k)
            except BaseException as exc:
                box["exc"] = exc
                raise
            return box["result"]

        w.fn = recorded
        th = threading.Thread(target=w.run, name=f"pool-{w.name}")
        th.start()
        while not w.wait(0.005):
            if cancel.is_set():
                w.cancel()
        th.join()
        if isinstance(box.get("exc"), Cancelled) or w.cancel_event.is_set():
            raise Cancelled("cancelled")
        if "exc" in box:
            raise box["exc"]
        return box["result"]

    rec = in_worker(load_recording, path)
    in_worker(run_analysis, rec, None, model=model)


PATHS = {"core": run_core, "app": run_app}
LAST_CPU = [0.0]


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def trial(fn, path: Path, model, stage: str | None, at_s: float, scratch: Path) -> tuple[float | None, str, dict]:
    """One run; with ``stage``, the token is set ``at_s`` seconds after the stage's first progress message.
    Returns (latency s or None when it finished first, the stage the cancel hit, spans of the stages); the CPU time
    this process spent from the cancel to the stop is in ``LAST_CPU[0]``."""
    from mmqnet_core.errors import Cancelled
    from mmqnet_core.preprocessing.cache import default_cache

    default_cache().clear()
    token = threading.Event()
    clock = Clock()
    box: dict = {}

    if stage is not None:
        def watch() -> None:
            while not box.get("done"):
                with clock.lock:
                    started = next((t for t, st in clock.events if st == stage), None)
                if started is not None and time.perf_counter() >= started + at_s:
                    with clock.lock:
                        box["hit"] = clock.stage
                    box["cpu"] = _cpu()
                    box["set"] = time.perf_counter()
                    token.set()
                    return
                time.sleep(0.001)

        threading.Thread(target=watch, daemon=True).start()
    clock(0.0, "opening")
    try:
        fn(path, model, scratch, clock, token)
        end = time.perf_counter()
        latency = None
        if "set" in box:  # set, but the call finished its work (a step without checks, e.g. the last file)
            latency = end - box["set"]
            LAST_CPU[0] = _cpu() - box["cpu"]
            box["hit"] = box.get("hit", "") + " (finished, not cancelled)"
    except Cancelled:
        end = time.perf_counter()
        latency = end - box["set"]
        LAST_CPU[0] = _cpu() - box["cpu"]
    box["done"] = True
    return latency, box.get("hit", ""), spans(clock.events, end)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--file", type=Path, default=Path(tempfile.gettempdir()) / "mmqnet_bench" /
                   "synthetic_scale_1h_512hz.bdf")
    p.add_argument("--repeats", type=int, default=3, help="cancels per stage and path (the worst is printed)")
    p.add_argument("--paths", nargs="+", choices=sorted(PATHS), default=["core", "app"])
    p.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if not args.file.is_file():
        print(f"{args.file} missing: run bench/bench_scale.py once (it writes it)", file=sys.stderr)
        return 2
    if "app" in args.paths:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from mmqnet_core.inference import load_model

    rng = random.Random(args.seed)
    model = load_model(None)
    print(f"file {args.file.name}; load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_cancel_") as scratch:
        rows = []
        for name in args.paths:
            fn = PATHS[name]
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            trial(fn, args.file, model, None, 0.0, Path(scratch) / "full")  # imports, first touches
            total = time.perf_counter() - t0
            _, _, full = trial(fn, args.file, model, None, 0.0, Path(scratch) / "full")  # the stages' spans
            print(f"[{name}] uncancelled runs {total:.1f} s (cold), stages of the second (s from the start): "
                  + ", ".join(f"{k} {a:.1f}-{b:.1f}" for k, (a, b) in full.items()), flush=True)
            for stage in args.stages:
                if stage not in full:
                    print(f"[{name}] {stage}: no progress message of this stage (not measured)", flush=True)
                    continue
                a, b = full[stage]
                lat: list[float] = []
                cpu: list[float] = []
                hits: list[str] = []
                for _ in range(args.repeats):
                    at = rng.uniform(0.0, max(0.0, 0.8 * (b - a)))
                    latency, hit, _ = trial(fn, args.file, model, stage, at, Path(scratch) / "t")
                    if latency is not None:
                        lat.append(latency)
                        cpu.append(LAST_CPU[0])
                        hits.append(hit)
                if not lat:
                    print(f"[{name}] {stage}: every run finished before the cancel", flush=True)
                    continue
                rows.append((name, stage, max(lat), statistics.median(lat), len(lat), sorted(set(hits))))
                print(f"[{name}] {stage:8s} worst {max(lat):.3f} s, median {statistics.median(lat):.3f} s over "
                      f"{len(lat)} cancels (hit in: {', '.join(sorted(set(hits)))}); CPU after the cancel: worst "
                      f"{max(cpu):.3f} s; load {os.getloadavg()[0]:.1f}", flush=True)
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            print(f"[{name}] CPU {cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime:.1f} s", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    worst = max((r[2] for r in rows), default=float("nan"))
    print(f"worst of all: {worst:.3f} s (target 1 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
