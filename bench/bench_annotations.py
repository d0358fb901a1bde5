"""Benchmark: page steps of the browser with 10,000 user annotations vs none, on a 1 h, 40-channel BDF.

The same window, file and page as ``bench/bench_browser.py`` (1 h, 40 channels, 512 Hz, SYNTHETIC; 10 s pages in
a 1280 x 800 window, cleaning switched off). The page step (PageDown until the traces are painted again) is
timed twice: with no user annotation, then with 10,000 user annotations spread over the hour (2-s spans, about
28 on each page, some on single channels), drawn by ``app.annotation_layer.AnnotationLayer``. The peer is the
same window without annotations: the difference is what the annotations cost. Target: median step < 16 ms with
10,000 annotations.

Usage::

    QT_QPA_PLATFORM=offscreen python bench/bench_annotations.py [--cache DIR] [--steps N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: import the app and the other benchmarks from the checkout
    sys.path.insert(0, str(ROOT))

from bench.bench_browser import LAST_THREADS, PAGE_S, WINDOW_SIZE, PaintWatcher, _time_steps, load_text  # noqa: E402
from bench.bench_open import write_long_bdf  # noqa: E402

N_ANNOTATIONS = 10_000
DURATION_S = 3600


def make_annotations(duration_s: float, n: int, channels: list[str]):
    """``n`` user annotations over ``duration_s`` s: 2-s spans, every tenth on one channel (an AnnotationSet)."""
    import numpy as np

    from mmqnet_core.annotations import AnnotationEntry, AnnotationSet

    rng = np.random.default_rng(0)
    onsets = np.sort(rng.uniform(0, duration_s - 2, n))
    kinds = ("event", "artifact", "note")
    return AnnotationSet(tuple(
        AnnotationEntry(float(t), 2.0, f"event {i}", kinds[i % 3], (channels[i % len(channels)],) if i % 10 == 0 else ())
        for i, t in enumerate(onsets)))


def run(path: Path, steps: int, settings_file: Path) -> dict[str, float]:
    import pyqtgraph as pg
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from mmqnet_core.annotations import AnnotationSet

    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    window = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    window.start_cleaning = lambda: None
    window.resize(*WINDOW_SIZE)
    window.show()
    browser = window.browser
    watcher = PaintWatcher()
    watcher.watch(browser.plot_widget.viewport())
    watcher.wait(0)
    window.open_file(path)
    watcher.wait(0, ready=lambda: window.model.recording is not None)
    assert abs(browser.page_s - PAGE_S) < 1e-9
    out: dict[str, float] = {}
    press = lambda: QTest.keyClick(browser, Qt.Key.Key_PageDown)  # noqa: E731
    for label, n in (("none", 0), ("10k", N_ANNOTATIONS)):
        store = window.review.store
        store.autosave = False  # the benchmark file's folder stays clean
        t = time.perf_counter()
        store.set_annotations(make_annotations(DURATION_S, n, browser.visible_channels) if n else
                              AnnotationSet())
        out[f"set_{label}"] = time.perf_counter() - t
        browser.set_start(60.0)
        QApplication.processEvents()
        _time_steps(watcher, press, 5)  # warm up
        wall, cpu, process_cpu = _time_steps(watcher, press, steps)
        out[f"step_{label}"] = statistics.median(wall)
        out[f"max_{label}"] = max(wall)
        out[f"cpu_{label}"] = statistics.median(cpu)
        out[f"process_cpu_{label}"] = process_cpu  # every thread, per step (s)
        for key, value in LAST_THREADS.items():  # prefetching threads' CPU, GUI's wait for a core (Linux)
            out[f"{key}_{label}"] = value
        out[f"drawn_{label}"] = len(set(browser.annotation_layer.shown_entry_ids()))
    window.shutdown()
    window.close()
    return out


def _threads_text(r: dict, label: str) -> str:
    """", all threads' CPU ...; ..." of one case, ms per step (the thread figures where Linux gives them)."""
    text = f", all threads {r[f'process_cpu_{label}'] * 1000:.1f} ms"
    if f"gui_core_wait_{label}" in r:
        text += (f"; prefetching threads {r[f'prefetch_cpu_{label}'] * 1000:.1f} ms, other threads "
                 f"{r[f'other_cpu_{label}'] * 1000:.1f} ms; the GUI thread waited for a core "
                 f"{r[f'gui_core_wait_{label}'] * 1000:.1f} ms")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mmqnet_bench",
                        help="folder for the benchmark BDF (written once, ~220 MB)")
    parser.add_argument("--steps", type=int, default=50, help="page steps timed per case")
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])  # noqa: F841 (kept alive)
    args.cache.mkdir(parents=True, exist_ok=True)
    path = write_long_bdf(args.cache / f"bench_{DURATION_S}s_40ch_512Hz_SYNTHETIC.bdf", DURATION_S)
    print(f"load average at start (1/5/15 min): {load_text()}")
    with tempfile.TemporaryDirectory() as tmp:
        r = run(path, args.steps, Path(tmp) / "settings.ini")
    print(f"load average at the end: {load_text()} (wall times are inflated above the number of CPUs)")
    print(f"page step, no user annotation: median {r['step_none'] * 1000:.1f} ms (max {r['max_none'] * 1000:.1f}; "
          f"GUI-thread CPU {r['cpu_none'] * 1000:.1f} ms{_threads_text(r, 'none')})")
    print(f"page step, {N_ANNOTATIONS} annotations: median {r['step_10k'] * 1000:.1f} ms (max "
          f"{r['max_10k'] * 1000:.1f}; GUI-thread CPU {r['cpu_10k'] * 1000:.1f} ms{_threads_text(r, '10k')}; "
          f"{r['drawn_10k']:.0f} drawn on the last page; set in {r['set_10k'] * 1000:.0f} ms)")
    print(f"cost of the annotations per step: {(r['step_10k'] - r['step_none']) * 1000:+.1f} ms; "
          f"target median < 16 ms: {'OK' if r['step_10k'] < 0.016 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
