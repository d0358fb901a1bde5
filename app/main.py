"""Entry point of MMQ-Net Studio: ``mmqnet-studio [FILE] [--device DEV] [--settings INI] [--selftest]``.

``--selftest`` opens FILE (or the bundled synthetic sample), waits until it is read and cleaned, pages through
it, masks a segment, runs MMQ-Net on it (the shipped checkpoint if there is one, else a small untrained model
built in-process, and says which), renders every analysis view off-screen, writes the results
(``AnalysisResult.save`` + view PNGs + the one-page report as PNG and PDF) to a temporary folder, checks them
(files exist and are not empty, trajectories are finite), prints one line and exits: 0 when everything worked,
1 otherwise. No dialog is shown (errors are printed).
``--time-to-first-paint`` prints the seconds from start to the first painted window and exits (packaging
smoke test).
"""

from __future__ import annotations

import gc
import time

_T0 = time.perf_counter()  # as early as possible, for --time-to-first-paint
# No cyclic garbage collection while the imports below create ~50,000 long-lived objects (classes, functions,
# modules): it would run ~150 times and traverse them again and again for nothing (75-90 ms of CPU to the first
# paint, measured). Restored at the end of this module; main() keeps it off until the window has painted.
_GC_WAS_ENABLED = gc.isenabled()
gc.disable()

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from . import errors  # noqa: E402
from .preferences import APPLICATION, DEVICE_CHOICES, ORGANISATION, SETTINGS_ENV  # noqa: E402
from .resources import app_icon, resources_dir  # noqa: E402

log = logging.getLogger(__name__)

if _GC_WAS_ENABLED:
    gc.enable()

#: Bundled sample opened by --selftest when no FILE is given (relative to the resources folder).
SAMPLE = Path("sample") / "synthetic_sample.bdf"
SELFTEST_TIMEOUT_S = 180.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmqnet-studio",
        description="MMQ-Net Studio: browse, clean and mask multimodal physiological recordings.",
    )
    parser.add_argument("file", nargs="?", help="EDF/BDF file, DEAP sNN.dat or MAHNOB-HCI session folder to open")
    parser.add_argument("--device", choices=DEVICE_CHOICES, help="compute device for the model (default: "
                        "the one set in Preferences)")
    parser.add_argument("--settings", metavar="INI", help=f"settings file to use instead of the user's "
                        f"(also ${SETTINGS_ENV})")
    parser.add_argument("--selftest", action="store_true",
                        help="open FILE or the bundled sample, check that it is read and cleaned, then exit")
    parser.add_argument("--time-to-first-paint", action="store_true", help=argparse.SUPPRESS)
    # Self-test options: always use the untrained in-process model; keep the written files in DIR.
    parser.add_argument("--untrained", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--selftest-dir", metavar="DIR", help=argparse.SUPPRESS)
    return parser


def _end_start_up_without_gc() -> None:
    """Turn the garbage collector back on after the start-up (idempotent).

    What the start-up made (modules, classes, the window) lives as long as the application: ``gc.freeze()`` moves
    it out of the collector's generations, so that no later collection traverses it again (a full one would take
    50-80 ms, e.g. while paging). The few hundred unreachable objects the imports leave (~0.1 MB, measured) stay.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


class _StartUpDone(QObject):
    """At the window's first paint, turns the garbage collector back on (see :func:`_end_start_up_without_gc`)."""

    def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, _end_start_up_without_gc)  # after this paint
        return False


class _FirstPaint(QObject):
    """Prints the time to the first paint of the window, then quits."""

    def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint:
            print(f"time to first paint: {time.perf_counter() - _T0:.2f} s", flush=True)
            QTimer.singleShot(0, QApplication.instance().quit)
            obj.removeEventFilter(self)
        return False


def _check_outputs(window, folder: Path) -> str:
    """Write the analysis results into ``folder`` and check them; returns a summary, raises RuntimeError."""
    import numpy as np

    result = window.model.analysis
    files = list(window.save_analysis(folder / "analysis").values())
    files += window.export_views(folder / "views")
    files += [window.export_report(folder / "report.png"), window.export_report(folder / "report.pdf")]
    if window.last_error is not None:
        raise RuntimeError(window.last_error.text)
    bad = [str(f) for f in files if f is None or not Path(f).is_file() or Path(f).stat().st_size == 0]
    if bad or len(files) < 11:
        raise RuntimeError(f"missing or empty output files: {bad or len(files)}")
    if not np.isfinite(result.probabilities).all() or not np.isfinite(result.uncertainty).all():
        raise RuntimeError("the trajectories contain NaN or infinite values")
    views = window.analysis_views()
    if window.attention_view.image_data is None or window.circumplex_view.n_points != result.n_windows:
        raise RuntimeError("an analysis view shows no data")
    return f"{len(files)} files for {len(views)} views"


def _run_selftest(window, path: Path | None, *, untrained: bool = False, keep_dir: str | None = None) -> None:
    """Drive the window through open -> clean -> page -> mask -> analyse -> export, then exit with 0 or 1."""
    app = QApplication.instance()
    errors.dialogs_enabled = False
    window.model.autosave = False  # the test mask must not be saved beside the (possibly read-only) sample
    start = time.perf_counter()
    state = {"stage": "open", "page": "", "model": ""}

    def finish(code: int, message: str) -> None:
        print(f"selftest {'ok' if code == 0 else 'FAILED'}: {message}", flush=True)
        app.exit(code)

    def choose_model() -> None:
        from dataclasses import replace

        from .analysis import build_untrained_model, resolve_checkpoint

        shipped = None
        if not untrained:
            try:
                shipped = resolve_checkpoint("")
            except Exception:  # noqa: BLE001 - no shipped checkpoint: fall back to the untrained model
                shipped = None
        if shipped is None:
            window.use_model(factory=build_untrained_model)
            state["model"] = "no checkpoint used: an UNTRAINED model built in-process"
        else:
            window.prefs = replace(window.prefs, checkpoint=str(shipped))
            window.use_model(None)
            state["model"] = f"shipped checkpoint {shipped}"

    def poll() -> None:
        if window.last_error is not None:
            finish(1, f"{window.last_error.text}")
            return
        if time.perf_counter() - start > SELFTEST_TIMEOUT_S:
            finish(1, f"timeout after {SELFTEST_TIMEOUT_S:.0f} s ({state['stage']})")
            return
        rec = window.model.recording
        if path is None:
            finish(0, "window opened (no sample file to open)")
            return
        if state["stage"] == "open":
            if rec is None or window.model.preprocess_result is None or window.runner.busy:
                QTimer.singleShot(100, poll)
                return
            window.browser.scroll_pages(1)
            window.browser.set_mode("both")
            start_s, stop_s = window.browser.visible_range()
            state["page"] = (f"{rec.title}: {rec.n_channels} channels, {rec.duration_s:.1f} s, cleaned, page "
                             f"{start_s:.1f}-{stop_s:.1f} s drawn")
            names = [c.name for c in rec.channels][:2]
            window.model.add_segment(0.3 * rec.duration_s, 0.4 * rec.duration_s, names)
            choose_model()
            state["stage"] = "analyse"
            if not window.run_analysis():
                finish(1, f"the analysis did not start ({state['model']})")
                return
        if state["stage"] == "analyse":
            if window.model.analysis is None or window.runner.busy:
                QTimer.singleShot(100, poll)
                return
            folder = Path(keep_dir) if keep_dir else Path(tempfile.mkdtemp(prefix="mmqnet-selftest-"))
            try:
                written = _check_outputs(window, folder)
            except Exception as exc:  # noqa: BLE001 - reported as the self-test's failure
                finish(1, f"{state['page']}; analysis outputs: {exc}")
                return
            finally:
                if not keep_dir:
                    shutil.rmtree(folder, ignore_errors=True)
            result = window.model.analysis
            helper = getattr(window._analysis_model, "_proc", None)  # the model's helper process, if it ran there
            where = (f" (in a helper process, pid {helper.pid}, torch not imported by the window's process: "
                     f"{'torch' not in sys.modules})" if helper is not None else " (in this process)")
            finish(0, f"{state['page']}; analysed {result.n_windows} windows with {state['model']}{where}; wrote "
                      f"and checked {written} in {time.perf_counter() - start:.1f} s")

    if path is not None:
        window.open_file(path)
    QTimer.singleShot(100, poll)


def _owns_clipboard() -> bool:
    """Whether this application holds the system clipboard: Qt hands its content over (to the X11 clipboard
    manager; Windows renders it) when the QApplication is destroyed at a normal exit, so a copy would be lost."""
    app = QApplication.instance()
    try:
        return bool(app is not None and app.clipboard().ownsClipboard())
    except RuntimeError:  # the application object is already gone
        return False


def end_after_quit_during_work(window, code: int) -> None:
    """After the event loop: end the process at once when the window was closed with "Stop and quit" (or a task
    had to be abandoned), skipping the interpreter's teardown; otherwise return (a normal exit follows).

    The teardown with torch, scipy and Qt loaded takes 0.5-1.3 s after the work has stopped (measured,
    ``bench/bench_quit.py``), while the user asked to quit within 2 s. Everything a normal exit writes is written
    first: the settings (synced by ``closeEvent``, synced again here), the log handlers (``logging.shutdown``, as
    at a normal exit) and the standard streams; mask and annotation sidecars are written when they change, and
    the tasks still running only read (their results are dropped, as the user was told). Their threads are not
    waited for: an abandoned one would hold a QThreadPool's destructor, a cancelled one has nothing to write.
    Not while this application owns the clipboard (Qt hands it over at a normal exit), unless a task was
    abandoned (a normal exit would wait for it).
    """
    abandoned = window.runner.abandoned
    if not (abandoned or window.closed_during_work):
        return
    if not abandoned and _owns_clipboard():
        return
    if abandoned:
        log.info("exiting without waiting for %s", [w.name for w in abandoned])
    from mmqnet_core.fileio import remove_unfinished_writes

    for tmp in remove_unfinished_writes():  # an export still being written: nothing half written stays behind
        log.info("unfinished file removed: %s", tmp)
    window.settings.sync()
    logging.shutdown()  # flushes and closes every handler, as the interpreter's exit does
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    remove_unfinished_writes()  # again, last: a writer that reopened its temporary file meanwhile
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run the application; returns the exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    # The application's own start (not a caller that made the QApplication, e.g. a test): no garbage collection
    # until the window has painted, as during this module's imports.
    own_start = QApplication.instance() is None and gc.isenabled()
    if own_start:
        gc.disable()
    if args.settings:
        os.environ[SETTINGS_ENV] = str(Path(args.settings).resolve())
    # Warnings and errors go to stderr; the log panel shows the INFO records as well.
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(stderr)

    import pyqtgraph as pg

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "mmqnet-studio"])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("MMQ-Net Studio")
    app.setWindowIcon(app_icon())
    pg.setConfigOptions(antialias=False, background="w", foreground="k")

    window = MainWindow(device=args.device)
    errors.install_excepthook(lambda: window)
    _previous_hook = sys.excepthook

    def _last_line_of_defence(exc_type, exc, tb):  # an exception escaping a slot: one dialog naming the file
        if issubclass(exc_type, KeyboardInterrupt):
            _previous_hook(exc_type, exc, tb)
            return
        exc.__traceback__ = tb
        window.report_error(exc, "handling a window event")

    sys.excepthook = _last_line_of_defence
    if own_start:
        start_up_done = _StartUpDone(window)
        window.installEventFilter(start_up_done)
        QTimer.singleShot(5000, _end_start_up_without_gc)  # should the window not paint (e.g. minimised)
    if args.time_to_first_paint:
        painter = _FirstPaint(window)
        window.installEventFilter(painter)
    window.show()

    path = Path(args.file) if args.file else None
    if args.selftest:
        if path is None and (resources_dir() / SAMPLE).exists():
            path = resources_dir() / SAMPLE
        _run_selftest(window, path, untrained=args.untrained, keep_dir=args.selftest_dir)
    elif path is not None:
        window.open_file(path)
    try:
        code = app.exec()
    finally:
        if own_start:
            _end_start_up_without_gc()  # the loop ended before the first paint
        window.shutdown()  # cancels what still runs and waits at most QUIT_WAIT_S; what does not stop is abandoned
        logging.getLogger().removeHandler(stderr)
    if window.runner.abandoned or own_start:
        end_after_quit_during_work(window, int(code))
    return int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
