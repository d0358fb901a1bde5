"""Command-line options shared by the commands that open one recording (info, preprocess, features, analyze)."""

from __future__ import annotations

import argparse
import os
import sys

from ..check import check_size, safe_text
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


#: Copies of the signals that cleaning and featurising hold at once (raw, working copy, filtered, resampled).
_COPIES_IN_MEMORY = 4


def _available_bytes() -> int:
    """Memory available to this process now, bytes (the whole memory if the OS does not say)."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * 1024**3


def check_fits_memory(recording: Recording, start_s: float = 0.0, stop_s: float | None = None) -> None:
    """Refuse, before reading, a span whose cleaning would not fit in the memory available.

    A sparse or forged file can declare billions of records; cleaning reads the span at once (in float64), so
    it is bounded here with a message that says how long a span fits.
    """
    stop = recording.duration_s if stop_s is None else min(stop_s, recording.duration_s)
    span = max(0.0, stop - max(0.0, start_s))
    per_s = recording.n_channels * recording.sfreq * 8 * _COPIES_IN_MEMORY
    budget = _available_bytes() // 2
    fits_s = budget / per_s if per_s else float("inf")
    check_size(
        "span to clean", span * per_s, budget, where=recording.title, error=ConfigError,
        hint=f"{span:g} s of {recording.n_channels} channels at {recording.sfreq:g} Hz; about {fits_s:.0f} s fit. "
        "Choose a shorter span with --start/--stop.",
    )
