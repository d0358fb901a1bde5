"""Command-line options shared by the commands that open one recording (info, preprocess, features, analyze)."""

from __future__ import annotations

import argparse
import sys

from ..check import safe_text
from ..errors import ConfigError
from ..recording import Modality, Recording


def add_modality_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--modality CH=MOD`` (repeatable): override the modality inferred for a channel."""
    parser.add_argument(
        "--modality", action="append", default=[], metavar="CH=MOD",
        help="set a channel's modality, e.g. --modality EXG1=ECG (repeatable; modalities: "
        + ", ".join(m.value for m in Modality) + ")",
    )


def parse_modalities(items: list[str]) -> dict[str, Modality] | None:
    """Turn ``["EXG1=ECG", ...]`` into ``{"EXG1": Modality.ECG}``; a clear error for a malformed item."""
    out: dict[str, Modality] = {}
    for item in items or ():
        name, sep, mod = item.partition("=")
        if not sep or not name.strip() or not mod.strip():
            raise ConfigError(f"Invalid value for '--modality': expected CHANNEL=MODALITY (e.g. EXG1=ECG), got {item!r}.")
        out[name.strip()] = Modality.parse(mod)
    return out or None


def print_warnings(recording: Recording) -> None:
    """Say loudly what was wrong with the file: one ``warning: ...`` line on stderr per :attr:`Recording.warnings`
    (truncated data, records beyond the end, a corrected header, dropped labels), each with what was read and
    what was not."""
    for w in recording.warnings:
        print(f"warning: {safe_text(w)}", file=sys.stderr)


#: Preprocessing steps that mean data were left out: said as ``warning:`` lines too.
_LOUD_STEPS = ("channel(s) flat or NaN", "no usable EEG channel")


def print_step_warnings(steps) -> None:
    """A ``warning:`` line for each preprocessing step that left data out (flat channels, no usable EEG)."""
    for step in steps:
        if str(step).startswith(_LOUD_STEPS):
            print(f"warning: {safe_text(step)}", file=sys.stderr)
