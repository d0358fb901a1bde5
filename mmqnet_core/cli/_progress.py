"""A tqdm progress bar that fits the core's ``progress(fraction, message)`` callback."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from tqdm import tqdm

from ..progress import ProgressCallback

#: What the command is doing now ("features: EEG reference and EOG removal"), for the last-resort error line of
#: :func:`mmqnet_core.cli.main`. Set by :func:`progress_bar` and :func:`set_step`.
CURRENT_STEP: dict[str, str] = {"step": "starting"}


def set_step(step: str) -> None:
    """Record the step the command is in (named by the error line if something unexpected fails)."""
    CURRENT_STEP["step"] = step


@contextmanager
def progress_bar(desc: str) -> Iterator[ProgressCallback]:
    """Yield a progress callback drawing a bar on stderr."""
    bar = tqdm(total=1000, desc=desc, unit="‰", file=sys.stderr, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    set_step(desc)

    def _cb(fraction: float, message: str = "") -> None:
        if message:
            set_step(f"{desc}: {message}")
        bar.n = int(round(fraction * 1000))
        if message:
            bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    try:
        yield _cb
    finally:
        bar.close()
