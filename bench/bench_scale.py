"""Benchmark: ``mmqnet analyze`` on recordings of 1, 4 and 24 h -- wall time, time per recorded hour, peak memory.

Writes (once, cached) SYNTHETIC 40-channel BDF files (DEAP channel names: EEG, EOG, EMG, GSR, respiration,
plethysmograph, temperature) of each length and rate, then analyses each in a fresh subprocess
(``python -m mmqnet_core.cli analyze FILE -o OUT --no-masks``, the shipped checkpoint) and prints its wall time,
its time per recorded hour and its peak resident memory (``ru_maxrss`` of that child from ``os.wait4``), then
the ratio of the longest recording to the 1-h one at the same rate (time per hour and peak memory: 1.0 means
constant per hour / memory bounded independently of length).

Targets (issue #12, 2 cores): peak memory <= 1.5 GB at any length; 1 h at 512 Hz in <= 10 s; 24 h at 256 Hz in
<= 3 min; time per recorded hour constant within 20 % from 1 h to 24 h.

The analysis of a long span is bounded in memory (:mod:`mmqnet_core.inference.streaming`: the cleaning is fitted
once on a subsample, the recording is cleaned in 10-minute pieces with the context its filters need and featurised
in 1-hour blocks), so the peak should not grow with the length and the time per hour should stay constant. The
load column is the 1-minute load average at the end of each run (a loaded machine slows everything).

A long file is the 10-minute SYNTHETIC session of :func:`mmqnet_core.datasets.synthetic.make_sample_recording`
repeated: its BDF data records are copied over and over into a plain BDF (its annotation signal dropped), so
writing 24 h needs no more memory than the 10-minute block. Longer recordings than the memory of this machine
allows (extrapolated linearly from the 1-h run's peak) are skipped with a note unless ``--force``.

``--cancel-latency``: instead, how long a cancel takes to stop ``analyze`` in each stage of the 1-h analysis
(the first ``--sfreq``). One analysis runs in this process with a cancel token that records the time of every
check and never fires; for each stage (the text of the progress message) the worst case is the longest time
from a moment in that stage to the next check, and the mean is that over a uniformly random moment. Then one
real cancel is sent half-way through the model stage and timed (target: <= 1 s everywhere).

``--timeline``: instead, one 1-h analysis (``mmqnet analyze`` in a fresh process, as above) with a clock on it:
when each stage starts (the progress messages), the cleaning's imports, the model load and the saving start and
end, when the program
ends (``os._exit`` or the interpreter's teardown) and when the process is reaped, with the CPU time of each
thread and of the whole process at each event (the CPU of a stage, whatever else runs on the machine);
``--code`` times other source trees in turn (the same minutes: before/after on a shared machine).

Usage::

    python bench/bench_scale.py [--hours 1 4] [--sfreq 256 512] [--cache DIR] [--threads N] [--force]
    python bench/bench_scale.py --cancel-latency [--sfreq 512]
    python bench/bench_scale.py --timeline [--sfreq 256] [--code . /other/checkout] [--repeat 2]

Default ``--hours 1 4`` keeps the run short; ``--hours 1 4 24`` is the full benchmark (24 h at 512 Hz is a
5.3 GB file).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BLOCK_S = 600  # the repeated block, s
HEADER_FIELDS = ((16, "label"), (80, "transducer"), (8, "dimension"), (8, "physical_min"), (8, "physical_max"),
                 (8, "digital_min"), (8, "digital_max"), (80, "prefilter"), (8, "n_samples"), (32, "reserved"))


def _block(cache: Path, sfreq: int) -> Path:
    """The 10-minute SYNTHETIC BDF+ session repeated into long files (written once)."""
    from mmqnet_core.datasets.synthetic import make_sample_recording

    path = cache / f"synthetic_block_{BLOCK_S}s_{sfreq}hz.bdf"
    if not path.is_file():
        make_sample_recording(path, duration_s=float(BLOCK_S), sfreq=float(sfreq), seed=0)
    return path


def write_long_bdf(path: Path, hours: float, sfreq: int, cache: Path) -> Path:
    """Write a plain BDF of ``hours`` by repeating the block's data records (skipped if it exists).

    Byte copying written by hand: edfio and pyedflib write a file from whole arrays, which for 24 h at 512 Hz
    would need several GB of memory; here only one block is held.
    """
    if path.is_file():
        return path
    block = _block(cache, sfreq).read_bytes()
    ns = int(block[252:256])
    header_bytes = int(block[184:192])
    fields, off = {}, 256
    for width, name in HEADER_FIELDS:  # the signal header is stored field by field, every signal each time
        fields[name] = [block[off + i * width: off + (i + 1) * width] for i in range(ns)]
        off += ns * width
    n_samples = [int(x) for x in fields["n_samples"]]
    keep = [i for i in range(ns) if fields["label"][i].strip() != b"BDF Annotations"]
    record_bytes = 3 * sum(n_samples)
    n_block = (len(block) - header_bytes) // record_bytes
    starts = [3 * sum(n_samples[:i]) for i in range(ns)]
    n_records = int(round(hours * 3600))  # 1-s records
    head = bytearray(block[:256])
    head[184:192] = f"{256 * (len(keep) + 1):<8d}".encode()
    head[192:236] = b"24BIT".ljust(44)  # plain BDF: no annotation signal
    head[236:244] = f"{n_records:<8d}".encode()
    head[252:256] = f"{len(keep):<4d}".encode()
    for _, name in HEADER_FIELDS:
        head += b"".join(fields[name][i] for i in keep)
    records = []
    for r in range(n_block):
        rec = block[header_bytes + r * record_bytes: header_bytes + (r + 1) * record_bytes]
        records.append(b"".join(rec[starts[i]: starts[i] + 3 * n_samples[i]] for i in keep))
    chunk = b"".join(records)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(head)
        for _ in range(n_records // n_block):
            fh.write(chunk)
        fh.write(b"".join(records[: n_records % n_block]))
    os.replace(tmp, path)
    return path


def _load() -> str:
    """The 1-minute load average now (how busy the machine was: other processes slow every number here)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def mem_available_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def analyse(path: Path, out: Path, threads: int | None) -> tuple[float, float, int, str, float]:
    """Analyse in a subprocess: (wall s, peak RSS of the child in bytes, exit code, last lines of its output,
    CPU s of the child: user + system, all threads)."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, "-m", "mmqnet_core.cli", "-v", "analyze", str(path), "-o", str(out), "--no-masks",
           "--device", "cpu"]
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (RUSAGE_CHILDREN would mix children)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read().decode(errors="replace")
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)  # kB on Linux, bytes on macOS
    lines = text.replace("\r", "\n").splitlines()
    tail = " | ".join(line.strip() for line in lines if line.startswith(("timings", "error")))
    # a model process (inference.model_process): wait4 gives the larger of the two processes' peaks; while the
    # child works (where its peak lies) this process holds what it logs: their sum counts if it is larger
    child = [line for line in lines if "model process: peak resident memory" in line]
    if child:
        words = child[-1].split("memory")[1].split()
        peak = max(peak, (float(words[0]) + float(words[4])) * 1e6)
    return wall, peak, proc.returncode, tail, usage.ru_utime + usage.ru_stime


class RecordingToken:
    """A cancel token that is never set and records when it was asked (``check_cancel`` calls ``is_set``)."""

    def __init__(self) -> None:
        self.checks: list[float] = []

    def is_set(self) -> bool:
        self.checks.append(time.perf_counter())
        return False


def stage_latencies(events: list[tuple[float, str]], checks: list[float], end: float) -> list[tuple[str, float, float, float, int]]:
    """(stage, duration s, worst s, mean s, checks) per stage from the progress events and the check times.

    A cancel at time t takes effect at the first check after t: worst = max over t in the stage, mean = the
    average over t (uniform), both counted to the next check even when it lies in a later stage.
    """
    import bisect

    checks = sorted(checks) + [end]
    out = []
    for i, (start, name) in enumerate(events):
        stop = events[i + 1][0] if i + 1 < len(events) else end
        if stop - start <= 0:
            continue
        worst, area, t = 0.0, 0.0, start
        k = bisect.bisect_right(checks, start)
        n = 0
        while t < stop and k < len(checks):
            nxt = checks[k]
            seg_end = min(nxt, stop)
            worst = max(worst, nxt - t)
            area += (seg_end - t) * ((nxt - t) + (nxt - seg_end)) / 2  # integral of (nxt - tau) over [t, seg_end]
            n += nxt < stop
            t, k = nxt, k + 1
        out.append((name, stop - start, worst, area / (stop - start), n))
    return out


#: The child of ``--cancel-latency``'s cold-open cancels: opens argv[1], sets the token argv[2] s later.
_LOAD_CANCEL_CHILD = """
import sys, threading, time
from mmqnet_core.errors import Cancelled
from mmqnet_core.io import load_recording
ev, box = threading.Event(), {}
def fire():
    box["set"] = time.perf_counter(); ev.set()
t0 = time.perf_counter(); threading.Timer(float(sys.argv[2]), fire).start()
try:
    load_recording(sys.argv[1], cancel=ev)
    print(f"finished in {time.perf_counter() - t0:.2f} s, before the cancel")
except Cancelled:
    print(f"stopped {time.perf_counter() - box['set']:.3f} s after the cancel")
"""


#: The child of ``--timeline``: the ``mmqnet`` program with a clock on its stages and threads. Events are
#: (perf_counter, thread, what, CPU s of that thread); perf_counter is the system's monotonic clock, shared with the
#: parent. Written as JSON to $MMQNET_TIMELINE just before the process ends (at os._exit or at exit).
_TIMELINE_CHILD = r"""
import time
T_FIRST = time.perf_counter()
import contextlib, json, os, resource, sys, threading
EV, THREADS = [(T_FIRST, "MainThread", "interpreter running (first line of the program)", 0.0, time.process_time())], []
OUT = os.environ["MMQNET_TIMELINE"]
def forked():  # the model process (inference.model_process): its own events, written beside the parent's
    global OUT
    OUT = OUT + ".model"
    del EV[:], THREADS[:]
    EV.append((time.perf_counter(), "model-process", "forked", 0.0, time.process_time()))
os.register_at_fork(after_in_child=forked)
def mark(what):
    EV.append((time.perf_counter(), threading.current_thread().name, what, time.thread_time(), time.process_time()))
_run = threading.Thread.run
def run_timed(self):
    t0 = time.perf_counter()
    try:
        _run(self)
    finally:
        ru = resource.getrusage(resource.RUSAGE_THREAD)
        THREADS.append((self.name, t0, time.perf_counter(), ru.ru_utime, ru.ru_stime, ru.ru_minflt))
threading.Thread.run = run_timed
def timed(owner, attr, what):
    fn = getattr(owner, attr)
    def call(*a, **k):
        mark(what + " starts")
        try:
            return fn(*a, **k)
        finally:
            mark(what + " ends")
    setattr(owner, attr, call)
import mmqnet_core.cli as cli
mark("mmqnet_core.cli imported")
from mmqnet_core.cli import cmd_analyze
from mmqnet_core.inference import model_loading
timed(model_loading, "load_model", "model load")
analyze_module = sys.modules["mmqnet_core.inference.analyze"]
timed(analyze_module.AnalysisResult, "save", "saving")
if hasattr(analyze_module, "_import_cleaning"):  # the cleaning's and the features' modules (scipy.signal...)
    timed(analyze_module, "_import_cleaning", "cleaning imports")
bar = cmd_analyze.progress_bar
@contextlib.contextmanager
def progress_bar(name):
    with bar(name) as inner:
        last = [None]
        def cb(fraction, message=""):
            key = message.split(" ")[0] if message else None
            if key and key != last[0]:
                mark(message)
                last[0] = key
            return inner(fraction, message)
        yield cb
cmd_analyze.progress_bar = progress_bar
def dump():
    ru, main = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_THREAD)
    main_flt, proc_flt = main.ru_minflt, ru.ru_minflt
    heavy = [m for m in ("mne", "scipy.signal", "scipy.stats", "pandas", "pyarrow", "torch") if m in sys.modules]
    with open(OUT, "w") as fh:
        json.dump({"events": EV, "threads": THREADS, "process": [ru.ru_utime, ru.ru_stime],
                   "maxrss_kb": ru.ru_maxrss, "faults": [proc_flt, main_flt],
                   "main": [main.ru_utime, main.ru_stime], "modules": len(sys.modules), "heavy": heavy}, fh)
import atexit
atexit.register(lambda: (mark("interpreter teardown starts (atexit)"), dump()))
_exit = os._exit
def fast_exit(code):
    mark("os._exit")
    dump()
    _exit(code)
os._exit = fast_exit
if hasattr(cli, "run"):
    cli.run()
else:  # an older tree
    code = cli.main(sys.argv[1:])
    mark("main returned")
    sys.exit(code)
"""


def timeline(args) -> int:
    """The timeline of one ``mmqnet analyze`` run of the 1-h file (first ``--sfreq``), per ``--code`` tree."""
    import json

    sfreq = args.sfreq[0]
    path = write_long_bdf(args.cache / f"synthetic_scale_1h_{sfreq}hz.bdf", 1.0, sfreq, args.cache)
    trees = args.code or [ROOT]
    for rep in range(args.repeat):
        for tree in trees:
            with tempfile.TemporaryDirectory() as out:
                tl = Path(out) / "timeline.json"
                env = dict(os.environ, MMQNET_TIMELINE=str(tl), PYTHONPATH=str(tree))
                if args.threads:
                    env["OMP_NUM_THREADS"] = str(args.threads)
                cmd = [sys.executable, "-c", _TIMELINE_CHILD, "analyze", str(path), "-o", str(Path(out) / "res"),
                       "--no-masks", "--device", "cpu"]
                load0 = _load()
                t0 = time.perf_counter()
                proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                _, status, usage = os.wait4(proc.pid, 0)
                end = time.perf_counter()
                err = proc.stderr.read().decode(errors="replace")
                if os.waitstatus_to_exitcode(status) != 0 or not tl.is_file():
                    print(f"{tree}: FAILED: {err[-500:]}")
                    continue
                d = json.loads(tl.read_text())
                mp = Path(str(tl) + ".model")  # the model process, when the analysis forked one
                m = json.loads(mp.read_text()) if mp.is_file() else None
            if m is not None:  # its events in the parent's list; its threads as one group
                d["events"] = sorted(d["events"] + [[t, "[model] " + th, what, *cpu] for t, th, what, *cpu in
                                                    m["events"]])
            print(f"\n== {tree} (run {rep + 1}), 1 h x 40 channels at {sfreq} Hz: wall {end - t0:.2f} s, CPU user "
                  f"{usage.ru_utime:.2f} s + system {usage.ru_stime:.2f} s ({usage.ru_minflt / 1e3:.0f}k page faults), "
                  f"peak {usage.ru_maxrss / 1e3:.0f} MB, "
                  f"load {load0} -> {_load()}")
            print(f"{'t s':>7} {'CPU s':>6} {'proc s':>6}  {'thread':<18} event   (t from the parent's Popen; CPU of "
                  "that thread; CPU of its process, all threads, so far: the CPU of a stage is the difference)")
            print(f"{0.0:7.2f} {'':>6} {'':>6}  {'(parent)':<18} Popen")
            for t, thread, what, cpu, *proc in d["events"]:
                proc_s = f"{proc[0]:6.2f}" if proc else f"{'':>6}"  # (an older bench's events: no process CPU)
                print(f"{t - t0:7.2f} {cpu:6.2f} {proc_s}  {thread[:18]:<18} {what[:72]}")
            print(f"{end - t0:7.2f} {'':>6} {'':>6}  {'(parent)':<18} process reaped (exit status read)")
            groups: dict[str, list[float]] = {}
            for name, a, b, user, sys_, *flt in d["threads"]:
                g = groups.setdefault(name.rstrip("0123456789_").removesuffix("-"), [0, 0.0, 0.0, a - t0, b - t0, 0])
                g[0] += 1
                g[1] += user
                g[2] += sys_
                g[3], g[4] = min(g[3], a - t0), max(g[4], b - t0)
                g[5] += flt[0] if flt else 0
            py = sum(g[1] + g[2] for g in groups.values()) + sum(d["main"])
            print("CPU by thread (user + system, page faults): main " + f"{d['main'][0]:.2f} + {d['main'][1]:.2f} s; "
                  + "; ".join(f"{name} x{n} {u:.2f} + {s_:.2f} s, {f / 1e3:.0f}k ({a:.1f}-{b:.1f})"
                              for name, (n, u, s_, a, b, f) in groups.items()))
            if m is not None:
                mpy = sum(t[3] + t[4] for t in m["threads"])
                print(f"model process: CPU {m['process'][0]:.2f} + {m['process'][1]:.2f} s (main thread "
                      f"{m['main'][0]:.2f} + {m['main'][1]:.2f}, torch/OpenMP threads "
                      f"{sum(m['process']) - sum(m['main']) - mpy:.2f} s), peak {m['maxrss_kb'] / 1e3:.0f} MB, "
                      f"{m['modules']} modules; counted in the CPU above (reaped by the analysis)")
            if "faults" in d:
                print(f"page faults: main thread {d['faults'][1] / 1e3:.0f}k of this process's "
                      f"{d['faults'][0] / 1e3:.0f}k" + (f"; model process {m['faults'][0] / 1e3:.0f}k"
                                                        if m is not None and "faults" in m else ""))
            print(f"other threads (torch/OpenMP, BLAS): {sum(d['process']) - py:.2f} s; "
                  f"{d['modules']} modules, heavy: {', '.join(d['heavy'])}")
    return 0


def _stage_name(message: str) -> str:
    if message.startswith("batch"):
        return "model batches" if "sample" not in message else "model batches (Monte-Carlo)"
    if message.startswith("subject statistics"):
        return "subject statistics"
    return message


def cancel_latency(args) -> int:
    import threading

    import torch

    from mmqnet_core.errors import Cancelled
    from mmqnet_core.inference import analyze, load_model
    from mmqnet_core.io import load_recording

    if args.threads:
        torch.set_num_threads(args.threads)
    sfreq = args.sfreq[0]
    path = write_long_bdf(args.cache / f"synthetic_scale_1h_{sfreq}hz.bdf", 1.0, sfreq, args.cache)
    model = load_model(device="cpu")
    events: list[tuple[float, str]] = []

    last_batch_message = ""

    def progress(fraction: float, message: str = "") -> None:
        nonlocal last_batch_message
        if message.startswith("batch"):
            last_batch_message = message
        name = _stage_name(message)
        if message and (not events or events[-1][1] != name):
            events.append((time.perf_counter(), name))

    token = RecordingToken()
    t0 = time.perf_counter()
    events.append((t0, "load"))
    rec = load_recording(path, cancel=token)
    load_s = time.perf_counter() - t0
    analyze(rec, None, model, progress=progress, cancel=token)
    end = time.perf_counter()
    print(f"cancel latency, 1 h x 40 channels at {sfreq} Hz (analysis {end - t0:.1f} s, {len(token.checks)} "
          "cancel checks); per stage: time in the stage, worst and mean time from a cancel to the next check")
    print(f"{'stage':<34} {'stage s':>8} {'worst s':>8} {'mean s':>8} {'checks':>7}")
    merged: dict[str, list[float]] = {}
    for name, dur, worst, mean, n in stage_latencies(events, token.checks, end):
        m = merged.setdefault(name, [0.0, 0.0, 0.0, 0])
        m[2] = (m[2] * m[0] + mean * dur) / (m[0] + dur)
        m[0] += dur
        m[1] = max(m[1], worst)
        m[3] += n
    for name, (dur, worst, mean, n) in merged.items():
        flag = "  > 1 s" if worst > 1.0 else ""
        print(f"{name[:34]:<34} {dur:8.2f} {worst:8.2f} {mean:8.2f} {n:7d}{flag}")

    # real cancels while the file is opened, each in a fresh process (a cold open imports mne's reader: the slow
    # part; mne's open runs in a helper thread polled by the caller)
    print(f"load_recording took {load_s:.2f} s in this process (cold)")
    for at in (0.05, 0.15, 0.3, 0.5):
        out = subprocess.run([sys.executable, "-c", _LOAD_CANCEL_CHILD, str(path), str(at)], cwd=ROOT,
                             capture_output=True, text=True)
        print(f"real cancel {at:.2f} s into a cold load_recording (fresh process): "
              f"{(out.stdout.strip() or out.stderr.strip()[-200:])}")

    # one real cancel, half-way through the second model batch of a second run
    batches = [n for _, n in events if n == "model batches"]
    model_start = next((t for t, n in events if n == "model batches"), None)
    if model_start is not None:
        n_batches = max(1, int(last_batch_message.split("/")[-1].split(",")[0])) if last_batch_message else 1
        half_batch = 0.5 * (end - model_start) / n_batches
        cancel = threading.Event()
        box: dict = {}

        def set_cancel() -> None:
            box["set"] = time.perf_counter()
            cancel.set()

        def progress2(fraction: float, message: str = "") -> None:
            if message.startswith("batch 1/") and "timer" not in box:
                box["timer"] = threading.Timer(half_batch, set_cancel)
                box["timer"].start()

        try:
            analyze(load_recording(path), None, model, progress=progress2, cancel=cancel)
        except Cancelled:
            box["stopped"] = time.perf_counter()
        if "timer" in box:
            box["timer"].cancel()
        print(f"real cancel {half_batch:.2f} s into the second model batch: stopped "
              f"{box.get('stopped', float('nan')) - box.get('set', float('nan')):.2f} s later ({len(batches)} stage "
              f"entries, {n_batches} batches of {2 * half_batch:.2f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, nargs="+", default=[1.0, 4.0], help="recording lengths, h (1 4 24)")
    p.add_argument("--sfreq", type=int, nargs="+", default=[256, 512], help="sampling rates, Hz")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mmqnet_bench",
                   help="folder for the (large) synthetic files")
    p.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of the analysis (default: torch's)")
    p.add_argument("--force", action="store_true", help="also run lengths whose extrapolated memory exceeds what "
                   "is available")
    p.add_argument("--cancel-latency", action="store_true", help="time from a cancel to the stop in each stage of "
                   "the 1-h analysis at the first --sfreq (in this process)")
    p.add_argument("--timeline", action="store_true", help="instead, the timeline of one 1-h analysis (first "
                   "--sfreq) with every stage, thread and its CPU time, from the process start to its exit")
    p.add_argument("--code", type=Path, nargs="+", default=None, metavar="TREE",
                   help="--timeline: source trees to time, alternating (e.g. this one and another checkout)")
    p.add_argument("--repeat", type=int, default=1, help="--timeline: rounds over the --code trees")
    args = p.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.cancel_latency:
        return cancel_latency(args)
    if args.timeline:
        return timeline(args)
    hours = sorted(set(args.hours))
    if 1.0 not in hours:
        hours = [1.0] + hours  # the reference of the ratios
    print(f"mmqnet analyze, 40 channels, SYNTHETIC; {os.cpu_count()} CPU(s); lengths {hours} h; rates {args.sfreq} Hz")
    print(f"load average before: {_load()} (1 min; a quiet machine has about 0; the targets are for 2 free cores)")
    print(f"{'length':>7} {'rate':>6} {'file MB':>8} {'wall s':>8} {'s per h':>8} {'CPU s':>8} {'peak MB':>8} "
          f"{'load':>9}  stages")
    failed = False
    for sfreq in args.sfreq:
        rows: dict[float, tuple[float, float]] = {}
        for h in hours:
            if 1.0 in rows and not args.force:
                # extrapolated from the shortest and longest runs so far (linear growth: the worst case)
                done = sorted(rows)
                slope = 0.0 if len(done) < 2 else max(0.0, (rows[done[-1]][1] - rows[done[0]][1])
                                                      / (done[-1] - done[0]))
                need = rows[done[-1]][1] + slope * (h - done[-1])
                avail = mem_available_bytes()
                if avail is not None and need > 0.8 * avail:
                    print(f"{h:>6g}h {sfreq:>5d}Hz  skipped: ~{need / 1e9:.1f} GB extrapolated from {done} h, "
                          f"{avail / 1e9:.1f} GB available (--force to run anyway)")
                    continue
            path = write_long_bdf(args.cache / f"synthetic_scale_{h:g}h_{sfreq}hz.bdf", h, sfreq, args.cache)
            with tempfile.TemporaryDirectory() as out:
                wall, peak, code, tail, cpu = analyse(path, Path(out), args.threads)
            if code != 0:
                failed = True
                print(f"{h:>6g}h {sfreq:>5d}Hz  FAILED (exit {code}): {tail}")
                continue
            rows[h] = (wall / h, peak)
            print(f"{h:>6g}h {sfreq:>5d}Hz {path.stat().st_size / 1e6:8.0f} {wall:8.1f} {wall / h:8.1f} {cpu:8.1f} "
                  f"{peak / 1e6:8.0f} {_load():>9}  {tail.removeprefix('timings: ')}", flush=True)
        longest = max(rows) if rows else None
        if longest is not None and longest > 1.0 and 1.0 in rows:
            t_ratio = rows[longest][0] / rows[1.0][0]
            m_ratio = rows[longest][1] / rows[1.0][1]
            print(f"  {sfreq} Hz, {longest:g} h vs 1 h: time per recorded hour x{t_ratio:.2f} (target within "
                  f"1.2), peak memory x{m_ratio:.2f} (bounded: ~1)")
    print("peak = ru_maxrss of the analysing process (includes Python, torch and the model, ~0.35 GB on its own); "
          "with a model process, at least the child's peak plus this process's memory meanwhile")
    print(f"load average after: {_load()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
