"""The ``mmqnet`` command line interface.

Each sub-command lives in its own module of this package and exposes ``register(subparsers)``, which adds a
parser whose ``func(args) -> int`` runs it. User errors (:class:`~mmqnet_core.errors.MMQNetError`) are printed
as one line, ``error: ...``, with exit code 2; there is never a traceback for bad input.

Last line of defence: any other exception (a bug, or a bad input no check caught) also ends as ONE line,
``error: <command> of <file> failed while <step>: <type>: <message>``, exit code 2; the traceback is printed only
with ``--debug``. Every message is made safe to print (:func:`mmqnet_core.check.safe_text`: control characters
escaped, one line) and the output streams escape what their encoding cannot show, so a file name that is not
UTF-8 or a channel label holding ESC bytes can neither crash the output nor drive the terminal.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
import warnings

from .. import __version__
from ..check import safe_text
from ..errors import Cancelled, MMQNetError
from ._progress import CURRENT_STEP, set_step

#: Sub-command modules, in the order shown by ``mmqnet --help``.
COMMANDS = ("info", "preprocess", "features", "synth", "train", "evaluate", "analyze")

log = logging.getLogger(__name__)

#: Set by a command (:func:`allow_fast_exit`) whose process may end without the interpreter's teardown.
_FAST_EXIT = False


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's error shape: one ``error: ...`` line, exit 2 (argparse prints its usage first)."""

    def error(self, message: str):  # noqa: D102 (argparse API)
        self.exit(2, f"error: {safe_text(self.prog)}: {safe_text(message)} (see '{safe_text(self.prog)} --help').\n")


def _command_in(argv: list[str] | None) -> str | None:
    """The sub-command named in ``argv`` (the first argument that is not an option; the top-level options take
    no value), or None when there is none or it is not one of :data:`COMMANDS`."""
    args = sys.argv[1:] if argv is None else argv
    first = next((a for a in args if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def build_parser(argv: list[str] | None = None, *, only_named: bool = False) -> argparse.ArgumentParser:
    """The ``mmqnet`` parser with every sub-command; with ``only_named``, only the one ``argv`` names (when it
    names one).

    Registering a command imports its module's option helpers: ``evaluate`` imports torch and pandas, ``synth``
    scipy.signal (seconds of start-up together); ``mmqnet analyze ...`` registers ``analyze`` alone. Without a
    known command (``mmqnet --help``, a typo) every command is registered, so help and argparse's "invalid
    choice" message list them all.
    """
    named = _command_in(argv) if only_named else None
    parser = _Parser(
        prog="mmqnet",
        description="MMQ-Net Studio command line: inspect, clean and featurise physiological recordings, "
        "train and run MMQ-Net.",
    )
    parser.add_argument("--version", action="version", version=f"mmqnet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an unexpected error (and log details)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (named,) if named else COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.cmd_{name}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != f"{__name__}.cmd_{name}":
                raise
            continue
        module.register(sub)
    return parser


class _SafeStream:
    """A text stream that escapes control characters (except newline and tab) before writing them.

    Command output holds channel labels, annotation texts and file names taken from the input files; an ESC or
    NUL byte there must not reach the terminal raw.
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        safe = "\n".join("\t".join(safe_text(part) for part in line.split("\t")) for line in text.split("\n"))
        self._stream.write(safe)
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _harden_streams() -> None:
    """Let stdout/stderr write any text: characters the locale cannot encode are written as escapes."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # pragma: no cover - a replaced stream (pytest capture)
            pass


def _target(args: argparse.Namespace) -> str:
    """The file a command works on, for the error line."""
    for key in ("path", "file", "checkpoint", "output"):
        value = getattr(args, key, None)
        if value:
            if isinstance(value, (list, tuple)):  # nargs="+" (analyze FILE...): the paths, not a Python list
                value = ", ".join(str(v) for v in value)
            return safe_text(value, 200)
    return "(no file)"


def _unexpected(args: argparse.Namespace, exc: BaseException) -> str:
    """One line for an exception no check caught: the command, the file, the step and the exception."""
    step = CURRENT_STEP.get("step") or "starting"
    text = str(exc).strip() or "(no message)"
    return (f"{args.command} of {_target(args)} failed while {safe_text(step, 120)} "
            f"({type(exc).__name__}: {safe_text(text, 300)}). The input may be damaged or of a kind not handled; "
            "run again with --debug to see the traceback and report it.")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our own warnings (masks that may not line up...) become one ``warning:`` line; library warnings
    (numpy's RuntimeWarning on odd data...) go to the log: what the user must know is said in our words."""
    if issubclass(category, UserWarning) and "mmqnet_core" in str(filename):
        from ._recording_args import _say  # on a line of its own (a plain print continued a progress bar's line)

        _say(f"warning: {safe_text(message)}")
    else:
        log.debug("%s: %s (%s:%s)", category.__name__, message, filename, lineno)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 error, 130 cancelled)."""
    global _FAST_EXIT
    _FAST_EXIT = False
    _harden_streams()
    parser = build_parser(argv, only_named=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    set_step("starting")
    out = sys.stdout
    sys.stdout = _SafeStream(out)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
    except MMQNetError as exc:
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print(f"error: {safe_text(exc)}", file=sys.stderr)
        return 2
    except (Exception, RecursionError, MemoryError) as exc:  # the last line of defence: never a bare traceback
        log.debug("unexpected error", exc_info=True)
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print(f"error: {_unexpected(args, exc)}", file=sys.stderr)
        return 2
    finally:
        sys.stdout = out


def allow_fast_exit() -> None:
    """Let :func:`run` end the process at once when the command returns (see :func:`run`).

    For commands that start no process and leave nothing to do at exit but freeing memory: every file they write
    is closed before they return (results are written atomically), their helper threads are done or may be
    dropped (a model still loading after an error), and their temp files are deleted when made. Not for commands
    with worker processes or a cluster client (the cohort), whose exit handlers end and reap those.
    """
    global _FAST_EXIT
    _FAST_EXIT = True


def run() -> None:
    """The ``mmqnet`` program (``python -m mmqnet_core.cli`` and the console script): :func:`main`, then exit.

    The interpreter's own teardown after an analysis -- freeing thousands of modules (torch, scipy, pandas) and
    torch's thread pools -- takes 0.7-1.4 s, most of the fixed cost of a short run once the work is done. A
    command that has called :func:`allow_fast_exit` is therefore ended with ``os._exit`` once its output streams
    and log handlers are flushed; every other command exits normally.
    """
    code = main()
    if _FAST_EXIT:
        import os

        logging.shutdown()  # flushes the log handlers
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
