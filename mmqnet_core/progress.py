"""Progress reporting and cancellation for long work.

Long operations in the core take two optional keyword arguments:

``progress``
    a callable ``progress(fraction, message)`` with ``fraction`` in [0, 1];
``cancel``
    any object with an ``is_set() -> bool`` method (a :class:`threading.Event` works); the operation checks
    it between steps and raises :class:`~mmqnet_core.errors.Cancelled`.

The GUI wraps such functions in a worker thread; the CLI passes a tqdm bar.
"""

from __future__ import annotations

from typing import Callable, Protocol

from .errors import Cancelled

ProgressCallback = Callable[[float, str], None]


class CancelToken(Protocol):
    """Anything that can say whether the user asked to stop (e.g. ``threading.Event``)."""

    def is_set(self) -> bool: ...


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("Cancelled by the user.")


def report(progress: ProgressCallback | None, fraction: float, message: str = "") -> None:
    """Call ``progress`` if given, clipping ``fraction`` to [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), message)


def scaled(progress: ProgressCallback | None, start: float, stop: float) -> ProgressCallback | None:
    """Map a sub-task's progress [0, 1] onto [start, stop] of the parent's progress."""
    if progress is None:
        return None

    def _sub(fraction: float, message: str = "") -> None:
        report(progress, start + (stop - start) * fraction, message)

    return _sub
