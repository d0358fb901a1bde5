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

from typing import TYPE_CHECKING, Callable, Protocol

from .errors import Cancelled

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future

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


def start_daemon(fn: Callable[..., object], *args: object, name: str = "mmqnet-worker", **kwargs: object) -> "Future":
    """Run ``fn(*args, **kwargs)`` in a new daemon thread; returns its :class:`concurrent.futures.Future`.

    Daemon threads (not a ThreadPoolExecutor, whose threads the interpreter joins at exit): a cancelled step
    still running until its own next check must not hold up quitting the app.
    """
    import threading
    from concurrent.futures import Future

    fut: Future = Future()

    def run() -> None:
        if not fut.set_running_or_notify_cancel():  # pragma: no cover - nobody cancels these futures
            return
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the waiting thread
            fut.set_exception(exc)

    threading.Thread(target=run, daemon=True, name=name).start()
    return fut


def wait_checking(future: "Future", cancel: CancelToken | None, poll_s: float = 0.05) -> object:
    """``future.result()``, checking ``cancel`` before waiting and every ``poll_s`` s while waiting.

    Raises :class:`~mmqnet_core.errors.Cancelled` as soon as ``cancel`` is seen set; an exception the future
    holds is raised here.
    """
    from concurrent.futures import TimeoutError as FutureTimeout

    while True:
        check_cancel(cancel)
        try:
            return future.result(timeout=poll_s)
        except FutureTimeout:
            continue
