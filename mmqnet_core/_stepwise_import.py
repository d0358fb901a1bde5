"""Importing a task's libraries in steps, checking its cancel token between them.

The first display cleaning of a session imports scipy's signal-processing stack (~500 modules, 0.6-0.75 s of CPU on
the reference machine, nearly all of it with the interpreter lock held). The window runs the cleaning in a
background thread whose cancel token also pauses while the reader turns pages (``app.workers``); one ``import``
statement is one step, so the whole import held the lock while the first pages were turned (page steps 15-20 ms
instead of 9-11 ms). :func:`import_in_steps` imports the same modules in the order the cleaning's own import reaches
them, in steps of at most ~0.25 s, and checks the token between steps. It imports nothing the cleaning would not,
and scipy ends up as after the cleaning's own import (the same capabilities table and docstrings; tested).

Written by hand: importlib has no "import in pieces"; this is the order and the grain, nothing more.
"""

from __future__ import annotations

import importlib
import sys
from typing import Iterable

from .progress import CancelToken, check_cancel

#: The display cleaning's imports (``mmqnet_core.preprocessing.on_demand`` and what it needs), in the order its
#: own import reaches them; the largest step is ~0.2 s of CPU (scipy.special).
CLEANING_MODULES = (
    "numpy.ma", "numpy.f2py", "scipy._lib._array_api", "scipy.linalg", "scipy.sparse", "scipy.special",
    "scipy.spatial", "scipy.optimize", "scipy.interpolate", "scipy.ndimage", "mmqnet_core._scipy_signal",
    "mmqnet_core.preprocessing.streaming", "mmqnet_core.preprocessing.on_demand",
)


def import_in_steps(names: Iterable[str] = CLEANING_MODULES, cancel: CancelToken | None = None) -> None:
    """Import ``names`` one at a time (those not imported yet), checking ``cancel`` before each; raises
    :class:`~mmqnet_core.errors.Cancelled` when it is set."""
    for name in names:
        if name in sys.modules:
            continue
        check_cancel(cancel)
        importlib.import_module(name)
