"""Entry point of MMQ-Net Studio: ``mmqnet-studio [FILE] [--device DEV] [--settings INI] [--selftest]``.

``--selftest`` opens FILE (or the bundled synthetic sample), waits until it is read and cleaned, pages through
it, prints one line and exits: 0 when everything worked, 1 otherwise. No dialog is shown (errors are printed).
``--time-to-first-paint`` prints the seconds from start to the first painted window and exits (packaging
smoke test).
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()  # as early as possible, for --time-to-first-paint

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from . import errors  # noqa: E402
from .preferences import APPLICATION, DEVICE_CHOICES, ORGANISATION, SETTINGS_ENV  # noqa: E402

log = logging.getLogger(__name__)

#: Bundled sample opened by --selftest when no FILE is given (relative to the resources folder).
SAMPLE = Path("sample") / "synthetic_sample.bdf"
SELFTEST_TIMEOUT_S = 180.0


def resources_dir() -> Path:
    """The ``resources`` folder (inside the PyInstaller bundle when frozen)."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[1]))
    return base / "resources"


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
    return parser


class _FirstPaint(QObject):
    """Prints the time to the first paint of the window, then quits."""

    def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint:
            print(f"time to first paint: {time.perf_counter() - _T0:.2f} s", flush=True)
            QTimer.singleShot(0, QApplication.instance().quit)
            obj.removeEventFilter(self)
        return False


def _run_selftest(window, path: Path | None) -> None:
    """Drive the window through open -> clean -> page, then exit the event loop with 0 or 1."""
    app = QApplication.instance()
    errors.dialogs_enabled = False
    start = time.perf_counter()

    def finish(code: int, message: str) -> None:
        print(f"selftest {'ok' if code == 0 else 'FAILED'}: {message}", flush=True)
        app.exit(code)

    def poll() -> None:
        if window.last_error is not None:
            finish(1, f"{window.last_error.text}")
            return
        if time.perf_counter() - start > SELFTEST_TIMEOUT_S:
            finish(1, f"timeout after {SELFTEST_TIMEOUT_S:.0f} s")
            return
        rec = window.model.recording
        if path is None:
            finish(0, "window opened (no sample file to open)")
            return
        if rec is None or window.model.preprocess_result is None or window.runner.busy:
            QTimer.singleShot(100, poll)
            return
        window.browser.scroll_pages(1)
        window.browser.set_mode("both")
        start_s, stop_s = window.browser.visible_range()
        finish(0, f"{rec.title}: {rec.n_channels} channels, {rec.duration_s:.1f} s, cleaned, page "
                  f"{start_s:.1f}-{stop_s:.1f} s drawn in {time.perf_counter() - start:.1f} s")

    if path is not None:
        window.open_file(path)
    QTimer.singleShot(100, poll)


def main(argv: list[str] | None = None) -> int:
    """Run the application; returns the exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
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
    pg.setConfigOptions(antialias=False, background="w", foreground="k")

    window = MainWindow(device=args.device)
    errors.install_excepthook(lambda: window)
    if args.time_to_first_paint:
        painter = _FirstPaint(window)
        window.installEventFilter(painter)
    window.show()

    path = Path(args.file) if args.file else None
    if args.selftest:
        if path is None and (resources_dir() / SAMPLE).exists():
            path = resources_dir() / SAMPLE
        _run_selftest(window, path)
    elif path is not None:
        window.open_file(path)
    try:
        code = app.exec()
    finally:
        window.shutdown()
        logging.getLogger().removeHandler(stderr)
    return int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
