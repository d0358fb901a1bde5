"""A tqdm progress bar that fits the core's ``progress(fraction, message)`` callback."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from tqdm import tqdm

from ..progress import ProgressCallback


@contextmanager
def progress_bar(desc: str) -> Iterator[ProgressCallback]:
    """Yield a progress callback drawing a bar on stderr."""
    bar = tqdm(total=1000, desc=desc, unit="‰", file=sys.stderr, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def _cb(fraction: float, message: str = "") -> None:
        bar.n = int(round(fraction * 1000))
        if message:
            bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    try:
        yield _cb
    finally:
        bar.close()
