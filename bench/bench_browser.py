"""Benchmark: first painted page and page steps of our browser vs MNE's Qt browser on a 1 h, 40-channel BDF.

Each measurement runs offscreen in a fresh process of its own, in the same state for both browsers: the same
modules imported beforehand (PySide6, pyqtgraph, mne, torch, our window's module and MNE's browser), a
QApplication made, and the first 10 s of the file read once (so that both find it in the OS page cache); then
one browser is timed, from cold for everything else (no window, font or item of either was made before). The
file is the same synthetic one (1 h, 40 channels, 512 Hz, written once with edfio by
:func:`bench.bench_open.write_long_bdf` into a cache folder; the name says SYNTHETIC). Both read the file lazily (ours: ``mmqnet_core.io.load_recording``; MNE:
``read_raw_bdf(preload=False)``), show all 40 channels and 10 s per page in a 1280 x 800 window.

* first paint: from "open this file" to the first paint of the page of traces (ours: ``MainWindow.open_file``
  on the open, empty window, whose reading runs in a worker thread; MNE: ``read_raw_bdf`` + ``raw.plot``, which
  makes its window too: the time to make and show our empty window -- ``MainWindow()``, resize, show, its
  first paint -- is printed as well, and a second ratio counts it). Ours includes reading the header, the
  channel panel, the overview bar, the autoscale and the first page; the recent-files entry is written just
  after the page's paint (as the user sees it); the automatic cleaning is off (below). The automatic cleaning that our window starts after opening is switched off: MNE's browser
  cleans nothing. ``--with-cleaning`` times our window twice more: with the raw view while the display cleaning
  starts in the background (its imports and fit; as it does for the user, who may page at once; says whether the
  cleaning was still running at the last step), and with the cleaned view on once the cleaning's fit is done
  (pages cleaned on demand, tile by tile, and prefetched: the target "paging with the cleaned view on"; a page
  whose tile is still being cleaned is drawn without its cleaned trace, which follows: such pages are counted, and
  the wait for the last one's trace is timed).
* page step: one key press (ours: PageDown; MNE: Shift+Right, its "full page" step) until the traces are
  painted again; median over ``--steps`` steps, as wall time and as CPU time of the GUI thread (steadier on a
  machine shared with other work, and blind to the cleaning worker of ``--with-cleaning``).
* page step with a reader's display: ours again with the bipolar longitudinal montage ("double banana") and
  display filters (EEG 0.5-35 Hz + 50 Hz notch, zero-phase with 3 s of padding read on each side of the page).

A page is "painted" when the graphics view's viewport received its Paint event, waited for by spinning the Qt
event loop (what a user would see on screen). Prints the numbers and the ratios. Targets: first paint
< 0.5 s and >= 3x faster than MNE's browser counting the making of our window; median page step < 16 ms,
also with the bipolar montage and display filters.

MNE's Qt browser is not a project dependency. Install it into a private folder (never into the project
environment)::

    .venv/bin/pip install --no-deps --target /tmp/mneqt_pkgs mne-qt-browser qtpy scooby

and this script puts that folder on ``sys.path`` (``--mne-qt-path``). Without it, only our numbers are printed.

Usage::

    QT_QPA_PLATFORM=offscreen python bench/bench_browser.py [--cache DIR] [--steps N] [--rounds R] [--interval MS]
                                                           [--baseline DIR]
                                                           [--mne-qt-path DIR]

``--rounds R`` repeats every measurement in R fresh processes and prints medians. ``--baseline DIR`` measures
the page steps of the checkout in DIR too (e.g. ``git archive <commit> | tar -x -C DIR``), in the same rounds,
alternating with ours. ``--interval MS`` spaces the steps (default: back to back).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
#: The checkout whose app is measured: this one, or the older one given by ``--baseline`` (passed to the
#: measuring processes in this environment variable).
CODE = Path(os.environ.get("MMQNET_BENCH_CODE") or ROOT)
if str(ROOT) not in sys.path:  # run as a script: import the writer of bench_open and the app from the checkout
    sys.path.insert(0, str(ROOT))
if CODE != ROOT:
    sys.path.insert(0, str(CODE))

from bench.bench_open import write_long_bdf  # noqa: E402

DURATION_S = 3600  # length of the benchmark file, s
PAGE_S = 10.0  # page length shown by both browsers, s
WINDOW_SIZE = (1280, 800)  # window size of both browsers, pixels
PAINT_TIMEOUT_S = 30.0  # give up waiting for one paint after this, s


class PaintWatcher:
    """Counts the Paint events of one widget (an event filter; installed by :meth:`watch`)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QEvent, QObject

        class _Filter(QObject):
            def __init__(self, owner: "PaintWatcher") -> None:
                super().__init__()
                self.owner = owner

            def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
                if event.type() == QEvent.Type.Paint:
                    self.owner.count += 1
                return False

        self.count = 0
        self._filter = _Filter(self)
        self._widget = None

    def watch(self, widget) -> None:
        """Count the Paint events of ``widget`` from now on."""
        if self._widget is not None:
            self._widget.removeEventFilter(self._filter)
        self._widget = widget
        widget.installEventFilter(self._filter)

    def wait(self, after: int, ready: Callable[[], bool] = lambda: True) -> None:
        """Spin the event loop until ``ready()`` holds and the count of Paint events exceeds ``after``."""
        from PySide6.QtWidgets import QApplication

        deadline = time.perf_counter() + PAINT_TIMEOUT_S
        while not (ready() and self.count > after):
            QApplication.processEvents()
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no paint within {PAINT_TIMEOUT_S:.0f} s")


def load_text() -> str:
    """The system's load average over 1, 5 and 15 minutes, e.g. "3.2 / 2.9 / 2.1" ("n/a" where unknown)."""
    try:
        return " / ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


#: Seconds between the end of one timed step and the next key press (``--interval``; 0: back to back).
STEP_INTERVAL_S = 0.0


def _thread_times() -> dict[int, tuple[str, float, float]]:
    """Every thread of this process: native id -> (name, CPU time, time spent runnable but waiting for a core),
    s, from Linux's per-thread scheduler statistics (empty elsewhere). Python threads by their Python name (the
    page-prefetching threads are "page-prefetch_N"), others by the kernel's."""
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[int, tuple[str, float, float]] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            run, wait = open(f"/proc/self/task/{tid}/schedstat").read().split()[:2]
            comm = open(f"/proc/self/task/{tid}/comm").read().strip()
        except (OSError, ValueError):
            continue
        out[int(tid)] = (names.get(int(tid), comm), int(run) / 1e9, int(wait) / 1e9)
    return out


#: Per step of the last :func:`_time_steps` (s; empty where the scheduler's statistics are not readable): the GUI
#: thread's time runnable but without a core ("gui_core_wait": other processes or our own threads on the cores)
#: and the CPU time of the page-prefetching threads ("prefetch_cpu") and of all other threads but the GUI thread
#: ("other_cpu").
LAST_THREADS: dict[str, float] = {}


def _time_steps(watcher: PaintWatcher, press: Callable[[], None], steps: int
                ) -> tuple[list[float], list[float], float]:
    """Wall and main-thread CPU times, s, of ``steps`` repeats of ``press`` followed by the next paint, and the
    CPU time of the whole process (all threads) per step, s. Where Linux's scheduler statistics are readable, the
    GUI thread's wait for a core and the other threads' CPU per step are left in :data:`LAST_THREADS` (they tell
    a loaded machine's wait from our own threads' work).

    Back to back by default (the next key press as soon as the page is painted: throughput, the worst case); with
    ``--interval MS`` the event loop runs for that long between steps, as between a keyboard's auto-repeated key
    presses (~33 ms at 30 Hz) or a reader's page turns. The process CPU per step counts the prefetching thread's
    work as well (over all the steps, intervals included, divided by the steps): back to back on 2 cores it is
    what a step costs when other work leaves those cores free, and it is far less sensitive to other work on the
    machine than the wall time.
    """
    from PySide6.QtWidgets import QApplication

    import threading

    wall, cpu = [], []
    gui = threading.get_native_id()
    threads_before = _thread_times()
    process = time.process_time()
    for _ in range(steps):
        end = time.perf_counter() + STEP_INTERVAL_S
        while time.perf_counter() < end:
            QApplication.processEvents()
            time.sleep(0.001)
        before = watcher.count
        t, c = time.perf_counter(), time.thread_time()
        press()
        watcher.wait(before)
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    process = (time.process_time() - process) / max(1, steps)
    threads_after = _thread_times()
    LAST_THREADS.clear()
    if gui in threads_after and gui in threads_before:
        n = max(1, steps)
        LAST_THREADS["gui_core_wait"] = (threads_after[gui][2] - threads_before[gui][2]) / n
        for key, prefetch in (("prefetch_cpu", True), ("other_cpu", False)):
            LAST_THREADS[key] = sum(
                run - threads_before.get(tid, (name, 0.0, 0.0))[1] for tid, (name, run, _) in threads_after.items()
                if tid != gui and name.startswith("page-prefetch") == prefetch) / n
    return wall, cpu, process


def bench_ours(path: Path, steps: int, *, settings_file: Path, with_cleaning: bool,
               reader_display: bool = False, cleaned_view: bool = False) -> dict[str, float]:
    """First paint and median page step of ``app.main_window.MainWindow`` on ``path``; times in s.

    ``settings_file`` is a throw-away INI file: the benchmark must not touch the user's recent files or window
    geometry.
    """
    import pyqtgraph as pg
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest

    from app.main_window import MainWindow

    pg.setConfigOptions(antialias=False, background="w", foreground="k")  # as app.main does
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    t_window = time.perf_counter()
    window = MainWindow(settings=settings)
    if not with_cleaning:
        window.start_cleaning = lambda: None  # MNE's browser cleans nothing: compare like with like
    window.resize(*WINDOW_SIZE)
    window.show()
    browser = window.browser
    viewport = browser.plot_widget.viewport()
    watcher = PaintWatcher()
    watcher.watch(viewport)
    watcher.wait(0)  # the first paint of the empty window
    t_window = time.perf_counter() - t_window
    # The empty window is on screen and its deferred start-up work (the device label) is done: opening starts here.
    watcher.wait(0, ready=lambda: window.device_label.text() != "Device: ...")

    # The traces' first paint is the first Paint event after the model announced the recording (the reading runs
    # in a worker thread; a repaint of the still empty view before that must not count).
    paints_at_load: list[int] = []
    window.model.recordingLoaded.connect(lambda _rec: paints_at_load.append(watcher.count))
    t0 = time.perf_counter()
    window.open_file(path)
    watcher.wait(-1, ready=lambda: bool(paints_at_load) and watcher.count > paints_at_load[0])
    first_paint = time.perf_counter() - t0
    if window.last_error is not None:
        raise RuntimeError(f"our browser failed to open {path}: {window.last_error.text}")
    assert browser.recording.n_channels == 40, browser.recording.n_channels
    assert abs(browser.page_s - PAGE_S) < 1e-9, browser.page_s
    if reader_display:
        from mmqnet_core.montage import bipolar_longitudinal
        from mmqnet_core.preprocessing.display_filter import DisplayFilter
        from mmqnet_core.recording import Modality

        before = watcher.count
        browser.set_montage(bipolar_longitudinal())
        browser.state.set_filters({Modality.EEG: DisplayFilter(0.5, 35.0, 50.0)})
        watcher.wait(before)
        assert "-" in browser.visible_channels[0], browser.visible_channels[:3]

    fit_s = None
    if cleaned_view:  # the cleaned trace alone, as a reader switches to it once the cleaning's fit is done
        t_fit = time.perf_counter()
        watcher.wait(-1, ready=lambda: getattr(window.model.preprocess_result, "cleaned", None) is not None)
        fit_s = time.perf_counter() - t_fit
        before = watcher.count
        browser.state.set_mode("cleaned")
        watcher.wait(before, ready=lambda: getattr(browser, "cleaning_pending", None) is None)  # its trace drawn
        assert browser.trace_items()[1].isVisible() and not browser.trace_items()[0].isVisible()

    pending_steps: list[int] = []  # steps whose page was painted before its cleaned trace (still being cleaned)

    def press() -> None:
        QTest.keyClick(browser, Qt.Key.Key_PageDown)
        if getattr(browser, "cleaning_pending", None) is not None:  # (getattr: older code waits for the trace)
            pending_steps.append(1)

    times, cpu, process_cpu = _time_steps(watcher, press, steps)
    threads = dict(LAST_THREADS)
    trace_after = 0.0  # the last page's cleaned trace drawn this long after that page's step, s
    if getattr(browser, "cleaning_pending", None) is not None:
        t_wait = time.perf_counter()
        watcher.wait(watcher.count, ready=lambda: browser.cleaning_pending is None)
        trace_after = time.perf_counter() - t_wait
    cleaning_ran = with_cleaning and window.runner.busy  # still cleaning at the last step: every step overlapped
    curve = browser.trace_items()[0]
    # (getattr: the same script also measures older code, whose curve items count no images)
    rasters, paths = getattr(curve, "raster_paints", 0), getattr(curve, "path_paints", 0)
    raster_share = rasters / max(1, rasters + paths)
    moved = browser.start_s
    window.shutdown()
    window.close()
    window.deleteLater()
    if moved < steps * PAGE_S * 0.99:
        raise RuntimeError(f"our browser did not page: start {moved:.1f} s after {steps} PageDown")
    return {"first_paint": first_paint, "window": t_window, "step": statistics.median(times),
            "step_max": max(times), "step_p90": sorted(times)[int(0.9 * (len(times) - 1))],
            "step_times": [round(x, 5) for x in times],
            "step_cpu": statistics.median(cpu), "step_process_cpu": process_cpu,
            **{f"step_{key}": value for key, value in threads.items()},
            "cleaning_ran": cleaning_ran, "fit_wait": fit_s,
            "pages_before_trace": len(pending_steps), "last_trace_after": trace_after,
            "raster_share": float(raster_share)}


def bench_mne(path: Path, steps: int) -> dict[str, float]:
    """First paint and median page step of MNE's Qt browser (``raw.plot``) on ``path``; times in s."""
    import mne
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    mne.viz.set_browser_backend("qt", verbose="error")
    watcher = PaintWatcher()
    t0 = time.perf_counter()
    raw = mne.io.read_raw_bdf(path, preload=False, verbose="error")
    fig = raw.plot(duration=PAGE_S, n_channels=40, show=False, block=False, verbose="error")
    fig.resize(*WINDOW_SIZE)
    view = fig.mne.view
    watcher.watch(view.viewport())
    fig.show()
    watcher.wait(0)
    first_paint = time.perf_counter() - t0

    # Shift+Right is MNE's "full page forward" (its PageDown changes the number of channels shown).
    times, cpu, process_cpu = _time_steps(
        watcher, lambda: QTest.keyClick(fig, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier), steps)
    moved = fig.mne.viewbox.viewRange()[0][0]
    fig.close()
    fig.deleteLater()
    if moved < steps * PAGE_S * 0.99:
        raise RuntimeError(f"MNE's browser did not page: start {moved:.1f} s after {steps} Shift+Right")
    return {"first_paint": first_paint, "step": statistics.median(times), "step_max": max(times),
            "step_cpu": statistics.median(cpu), "step_process_cpu": process_cpu}


CASES = ("ours", "ours_display", "ours_cleaning", "ours_cleaned", "mne")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mmqnet_bench",
                        help="folder of the cached benchmark file (written once)")
    parser.add_argument("--steps", type=int, default=50, help="page steps timed per browser")
    parser.add_argument("--rounds", type=int, default=1, help="fresh processes per measurement (medians printed)")
    parser.add_argument("--interval", type=float, default=0.0,
                        help="ms between page steps (0: back to back; 33: a keyboard's 30-Hz auto-repeat)")
    parser.add_argument("--mne-qt-path", type=Path, default=Path("/tmp/mneqt_pkgs"),
                        help="private folder where mne-qt-browser, qtpy and scooby are installed")
    parser.add_argument("--with-cleaning", action="store_true",
                        help="also time our window while it cleans the recording in the background, as it does "
                             "for the user")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout of this project (e.g. an older commit's) whose browser is measured in "
                             "the same rounds, alternating with ours (MNE's browser is not)")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # one measurement, in this process
    args = parser.parse_args(argv)
    global STEP_INTERVAL_S
    STEP_INTERVAL_S = max(0.0, args.interval) / 1000.0
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    args.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mmqnet_bench_browser_") as scratch:
        # MNE's browser saves its window size in MNE's config file when closed: point MNE at a throw-away home
        # folder (the variable MNE's own test suite uses) so that the benchmark leaves ~/.mne alone.
        os.environ["_MNE_FAKE_HOME_DIR"] = scratch
        if args.case:
            return _run_case(args, Path(scratch))
        return _run(args, Path(scratch))


def _bench_path(cache: Path) -> Path:
    return cache / f"bench_{DURATION_S}s_40ch_512Hz_SYNTHETIC.bdf"


def _run_case(args: argparse.Namespace, scratch: Path) -> int:
    """One measurement in this (fresh) process; prints one JSON line."""
    import json

    path = _bench_path(args.cache)
    if args.mne_qt_path.is_dir():
        sys.path.insert(0, str(args.mne_qt_path))
    from PySide6.QtWidgets import QApplication

    qapp = QApplication.instance() or QApplication(["bench_browser"])  # noqa: F841 (kept alive)
    # The same modules for both browsers, imported before any timing; neither browser has made anything yet.
    import mne
    import pyqtgraph  # noqa: F401
    import torch  # noqa: F401 (imported by our window's first analysis; here so that neither side pays it)

    import app.main_window  # noqa: F401
    from mmqnet_core.io import load_recording

    try:
        import mne_qt_browser  # noqa: F401
    except ImportError:
        mne_qt_browser = None
    load_recording(path).get_data(0.0, PAGE_S)  # the file's first page in the OS page cache, for both
    mne.set_log_level("ERROR")
    if args.case == "mne":
        if mne_qt_browser is None:
            print(json.dumps({"missing": True}))
            return 0
        out = bench_mne(path, args.steps)
        out["version"] = mne_qt_browser.__version__
    else:
        out = bench_ours(path, args.steps, settings_file=scratch / "settings.ini",
                         with_cleaning=args.case in ("ours_cleaning", "ours_cleaned"),
                         reader_display=args.case == "ours_display", cleaned_view=args.case == "ours_cleaned")
    out["load"] = os.getloadavg()[0]
    print(json.dumps(out), flush=True)
    # MNE's browser may leave its loading thread running: leave without tearing Qt down (Qt aborts then).
    os._exit(0)


def _child(args: argparse.Namespace, case: str, *, with_baseline: bool = True) -> dict:
    """Run ``case`` in ``args.rounds`` fresh processes; the median of each number (and the first of others).

    With ``--baseline DIR`` every round also runs the case on the code in DIR, just after ours (same conditions,
    alternating); its medians are under the key "baseline".
    """
    import json
    import subprocess

    codes = [None] + ([args.baseline] if args.baseline is not None and with_baseline else [])
    runs: dict = {code: [] for code in codes}
    for _ in range(args.rounds):
        for code in codes:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--case", case, "--cache", str(args.cache),
                   "--steps", str(args.steps), "--mne-qt-path", str(args.mne_qt_path),
                   "--interval", str(args.interval)]
            env = dict(os.environ, MMQNET_BENCH_CODE=str(code.resolve() if code is not None else ROOT))
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=code or ROOT, env=env)
            if proc.returncode != 0:
                raise RuntimeError(f"{case} failed{f' on {code}' if code else ''}:\n{proc.stderr[-3000:]}")
            runs[code].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    outs = []
    for code in codes:
        out = {}
        for key, value in runs[code][0].items():
            values = [r[key] for r in runs[code]]
            out[key] = statistics.median(values) if isinstance(value, float) else value
            if isinstance(value, float):
                out[key + "_runs"] = values
        outs.append(out)
    if len(outs) > 1:
        outs[0]["baseline"] = outs[1]
    return outs[0]


def _step_text(out: dict) -> str:
    """"median (max; GUI CPU, all threads' CPU; per thread)" of a page-step measurement, ms."""
    text = (f"{out['step'] * 1000:.1f} ms (runs {_ms(out['step_runs'])}; max {out['step_max'] * 1000:.1f} ms; CPU "
            f"{out['step_cpu'] * 1000:.1f} ms, all threads {out['step_process_cpu'] * 1000:.1f} ms")
    if "step_gui_core_wait" in out:  # older results, other platforms: without
        text += (f"; per step the prefetching threads' CPU {out['step_prefetch_cpu'] * 1000:.1f} ms, other threads' "
                 f"{out['step_other_cpu'] * 1000:.1f} ms, the GUI thread waited for a core "
                 f"{out['step_gui_core_wait'] * 1000:.1f} ms")
    return text + ")"


def _ms(values: list[float]) -> str:
    return "/".join(f"{1000 * v:.0f}" for v in values)


def _run(args: argparse.Namespace, scratch: Path) -> int:
    """Write (once) the file, time both browsers (each measurement in fresh processes), print the figures."""
    print(f"load average at start (1/5/15 min): {load_text()} on {os.cpu_count()} CPUs")
    t = time.perf_counter()
    path = write_long_bdf(_bench_path(args.cache), DURATION_S)
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB, ready in {time.perf_counter() - t:.1f} s); "
          f"each measurement in {args.rounds} fresh process(es), medians")

    spacing = "back to back" if args.interval <= 0 else f"{args.interval:g} ms apart"
    ours = _child(args, "ours")
    print(f"ours: first paint {ours['first_paint'] * 1000:.0f} ms (runs {_ms(ours['first_paint_runs'])}; empty "
          f"window made and shown before: {ours['window'] * 1000:.0f} ms, runs {_ms(ours['window_runs'])}) | "
          f"page step median {_step_text(ours)} over {args.steps} steps {spacing}; pages copied from prefetched "
          f"images {ours['raster_share']:.0%}")
    base = ours.get("baseline")
    if base is not None:
        print(f"baseline {args.baseline}, same rounds: page step median {_step_text(base)}; pages copied from "
              f"images {base['raster_share']:.0%} (loads {'/'.join(f'{v:.1f}' for v in base['load_runs'])})")
    shown = _child(args, "ours_display")
    print(f"ours, bipolar montage + display filters (EEG 0.5-35 Hz, notch 50 Hz): page step median "
          f"{_step_text(shown)}")
    if shown.get("baseline") is not None:
        print(f"baseline {args.baseline}, same rounds, montage + filters: page step median "
              f"{_step_text(shown['baseline'])}")
    busy = cleaned = None
    if args.with_cleaning:
        busy = _child(args, "ours_cleaning")
        for who, out in (("ours", busy), (f"baseline {args.baseline}", busy.get("baseline"))):
            if out is not None:
                still = "still running after the last step" if out["cleaning_ran"] else "finished before the last step"
                print(f"{who}, raw view while the display cleaning starts in the background ({still}): first paint "
                      f"{out['first_paint'] * 1000:.0f} ms | page step median {_step_text(out)}")
        cleaned = _child(args, "ours_cleaned")
        for who, out in (("ours", cleaned), (f"baseline {args.baseline}", cleaned.get("baseline"))):
            if out is not None:
                print(f"{who}, cleaned view on (after the cleaning's fit, {out['fit_wait']:.1f} s after the first "
                      f"paint; pages cleaned on demand and prefetched): page step median {_step_text(out)}"
                      + (f"; pages drawn before their cleaned trace (its tile still being cleaned): "
                         f"{out['pages_before_trace']} of {args.steps}, the last one's trace "
                         f"{out['last_trace_after'] * 1000:.0f} ms after its step" if "pages_before_trace" in out
                         else ""))

    theirs = _child(args, "mne", with_baseline=False)
    if theirs.get("missing"):
        print(f"MNE's Qt browser not importable: only our numbers are shown. Install it privately with "
              f"'.venv/bin/pip install --no-deps --target {args.mne_qt_path} mne-qt-browser qtpy scooby'.")
        theirs = None
    else:
        print(f"MNE Qt browser {theirs['version']}: first paint {theirs['first_paint'] * 1000:.0f} ms (runs "
              f"{_ms(theirs['first_paint_runs'])}; read_raw_bdf + raw.plot, which makes its window) | "
              f"page step median {theirs['step'] * 1000:.1f} ms (max {theirs['step_max'] * 1000:.1f} ms; "
              f"CPU {theirs['step_cpu'] * 1000:.1f} ms)")
        with_window = ours["first_paint"] + ours["window"]
        print(f"ratio MNE / ours: first paint {theirs['first_paint'] / ours['first_paint']:.1f}x "
              f"({theirs['first_paint'] / with_window:.1f}x counting the making of our window, as MNE's "
              f"raw.plot makes its own), "
              f"page step {theirs['step'] / ours['step']:.1f}x (CPU {theirs['step_cpu'] / ours['step_cpu']:.1f}x)")

    with_window = ours["first_paint"] + ours["window"]
    ok_first = ours["first_paint"] < 0.5 and (theirs is None or theirs["first_paint"] >= 3 * with_window)
    ok_step = ours["step"] < 0.016 and shown["step"] < 0.016
    ok_cleaned = None if busy is None else busy["step"] < 0.016 and cleaned["step"] < 0.016
    print(f"load average at the end: {load_text()} (a load above the number of CPUs inflates wall times: compare "
          "the CPU times)")
    print(f"targets: first paint < 500 ms and >= 3x faster than MNE counting our window's creation: "
          f"{'OK' if ok_first else 'MISSED'}; page step < 16 ms (plain and with montage + filters): "
          f"{'OK' if ok_step else 'MISSED'}"
          + ("" if ok_cleaned is None else f"; with the cleaning (while it starts, and the cleaned view on): "
                                           f"{'OK' if ok_cleaned else 'MISSED'}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
