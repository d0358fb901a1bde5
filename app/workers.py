"""Run long core functions off the GUI thread.

A :class:`Worker` wraps one call of a Qt-free core function that takes the ``progress=`` and ``cancel=`` keyword
arguments of :mod:`mmqnet_core.progress`. It runs in a :class:`QThreadPool`; its result, error, progress and
cancellation come back as Qt signals delivered in the GUI thread. A worker never touches a widget.

A :class:`TaskRunner` owns the pool, keeps every running worker alive, tells the status bar what is running, and
can cancel and wait for all of them (on close, and in tests so that no thread outlives a test).
"""

from __future__ import annotations

import inspect
import itertools
import logging
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from mmqnet_core.errors import Cancelled

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    """Signals of one :class:`Worker` (a QRunnable is not a QObject, so it carries this one)."""

    progress = Signal(float, str)  # fraction in [0, 1], message
    finished = Signal(object)  # the function's return value
    failed = Signal(object)  # the exception (its __traceback__ is kept)
    cancelled = Signal()  # the function stopped because cancel was set
    done = Signal()  # emitted last, whatever the outcome


def _accepts(fn: Callable, name: str) -> bool:
    """Whether ``fn`` takes a keyword argument ``name`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class Worker(QRunnable):
    """One call of ``fn(*args, **kwargs)`` in a pool thread.

    ``progress=`` and ``cancel=`` are passed when ``fn`` accepts them. ``cancel`` is a
    :class:`threading.Event`; :meth:`cancel` sets it. If it is set when ``fn`` returns, the result is dropped and
    :attr:`WorkerSignals.cancelled` is emitted, so a stale result never reaches the application.

    Create workers in the GUI thread: their signals then live there and are delivered there.
    """

    _ids = itertools.count(1)

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the TaskRunner holds the Python object until ``done``
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "task")
        self.id = next(self._ids)
        self.cancel_event = threading.Event()
        self.signals = WorkerSignals()
        self._finished = threading.Event()
        if _accepts(fn, "progress"):
            self.kwargs.setdefault("progress", self._report)
        if _accepts(fn, "cancel"):
            self.kwargs.setdefault("cancel", self.cancel_event)

    # --- called from any thread ----------------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the function to stop at its next check."""
        self.cancel_event.set()

    @property
    def is_done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until :meth:`run` has returned; ``False`` on timeout."""
        return self._finished.wait(timeout_s)

    # --- pool thread ---------------------------------------------------------------------------------------
    def _report(self, fraction: float, message: str = "") -> None:
        self.signals.progress.emit(float(fraction), str(message))

    def run(self) -> None:  # noqa: D102 (QRunnable API)
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Cancelled:
            self.signals.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - every error goes to the one notification path
            self.signals.failed.emit(exc)
        else:
            if self.cancel_event.is_set():
                self.signals.cancelled.emit()
            else:
                self.signals.finished.emit(result)
        finally:
            # Drop references to the (possibly large) inputs before signalling the end.
            self.args, self.kwargs = (), {}
            self._finished.set()
            self.signals.done.emit()


class TaskRunner(QObject):
    """Owns a thread pool and the workers running in it.

    Tasks are submitted with a ``key``; submitting a task with the key of a running one cancels the old one
    (opening a new file cancels the loading of the previous one).
    """

    busyChanged = Signal(bool)  # True while at least one task runs
    taskProgress = Signal(str, float, str)  # task name, fraction in [0, 1], message

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._workers: dict[int, Worker] = {}
        self._keys: dict[str, Worker] = {}

    @property
    def busy(self) -> bool:
        return bool(self._workers)

    @property
    def workers(self) -> list[Worker]:
        """Workers submitted and not yet done, oldest first."""
        return list(self._workers.values())

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        key: str | None = None,
        name: str = "",
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Worker:
        """Run ``fn(*args, **kwargs)`` in the pool; callbacks are called in the GUI thread.

        Parameters
        ----------
        fn : callable
            A core function; it gets ``progress=``/``cancel=`` when it accepts them.
        key : str, optional
            Tasks with the same key replace each other: a running one is cancelled first.
        name : str
            Shown in the status bar and the log.
        on_result, on_error, on_cancelled : callable, optional
            Called with the result, with the exception, or with nothing.
        """
        if key is not None and key in self._keys:
            self._keys.pop(key).cancel()
        worker = Worker(fn, *args, name=name, **kwargs)
        sig = worker.signals
        if on_result is not None:
            sig.finished.connect(on_result)
        if on_error is not None:
            sig.failed.connect(on_error)
        if on_cancelled is not None:
            sig.cancelled.connect(on_cancelled)
        sig.cancelled.connect(lambda w=worker: log.info("%s cancelled", w.name))
        sig.progress.connect(lambda f, m, w=worker: self.taskProgress.emit(w.name, f, m))
        sig.done.connect(lambda w=worker, k=key: self._on_done(w, k))
        was_busy = self.busy
        self._workers[worker.id] = worker
        if key is not None:
            self._keys[key] = worker
        log.debug("start %s", worker.name)
        self.pool.start(worker)
        if not was_busy:
            self.busyChanged.emit(True)
        return worker

    def _on_done(self, worker: Worker, key: str | None) -> None:
        self._workers.pop(worker.id, None)
        if key is not None and self._keys.get(key) is worker:
            del self._keys[key]
        if not self._workers:
            self.busyChanged.emit(False)

    def cancel(self, key: str) -> None:
        """Cancel the running task submitted with ``key``, if any."""
        worker = self._keys.get(key)
        if worker is not None:
            worker.cancel()

    def cancel_all(self) -> None:
        """Ask every running task to stop; tasks still queued are dropped without running."""
        for worker in list(self._workers.values()):
            worker.cancel()
            if self.pool.tryTake(worker):  # never started: finish it here
                worker._finished.set()
                worker.signals.cancelled.emit()
                worker.signals.done.emit()

    def wait_for_all(self, timeout_s: float = 10.0) -> bool:
        """Block until every pool thread is idle; ``False`` if some task still runs after ``timeout_s``.

        Signals already emitted by finished workers are delivered at the next turn of the event loop.
        """
        return bool(self.pool.waitForDone(int(timeout_s * 1000)))

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Cancel all tasks and wait for the pool threads to finish (on close and in tests)."""
        self.cancel_all()
        ok = self.wait_for_all(timeout_s)
        if not ok:
            log.warning("tasks still running after %.0f s: %s", timeout_s, [w.name for w in self.workers])
        return ok
