"""The ``mmqnet`` command line interface.

Each sub-command lives in its own module of this package and exposes ``register(subparsers)``, which adds a
parser whose ``func(args) -> int`` runs it. User errors (:class:`~mmqnet_core.errors.MMQNetError`) are printed
as one line, ``error: ...``, with exit code 2; there is never a traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__
from ..errors import Cancelled, MMQNetError

#: Sub-command modules, in the order shown by ``mmqnet --help``.
COMMANDS = ("info", "preprocess", "features", "synth", "train", "evaluate", "analyze")

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmqnet",
        description="MMQ-Net Studio command line: inspect, clean and featurise physiological recordings, "
        "train and run MMQ-Net.",
    )
    parser.add_argument("--version", action="version", version=f"mmqnet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.cmd_{name}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != f"{__name__}.cmd_{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MMQNetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
