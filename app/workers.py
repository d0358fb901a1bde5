"""Run long core functions off the GUI thread.

A :class:`Worker` wraps one call of a Qt-free core function that takes the ``progress=`` and ``cancel=`` keyword
arguments of :mod:`mmqnet_core.progress`. It runs in a :class:`QThreadPool`; its result, error, progress and
cancellation come back as Qt signals delivered in the GUI thread. A worker never touches a widget.

A :class:`TaskRunner` owns the pools, keeps every running worker alive, tells the status bar what is running, and
can cancel and wait for all of them (on close, and in tests so that no thread outlives a test). On quit, a task
that does not stop within the wait is abandoned (:meth:`TaskRunner.abandon`) instead of holding the window up:
core functions check their cancel token between steps, but a step inside a library (a long filter) cannot be
interrupted.

Background priority: work the user is not waiting for (cleaning, analysis) is submitted with
``background=True`` and runs in a second pool whose threads lower their own scheduling priority
(:func:`lower_thread_priority`). On 2 cores a cleaning worker otherwise takes CPU time from the GUI thread, and page
steps of the browser took about twice as long while it ran (``bench/bench_browser.py --with-cleaning``). The GIL
is shared whatever the priority; the GUI also shortens Python's thread switch interval while background tasks run
(:data:`BUSY_SWITCH_INTERVAL_S`) so that it waits less for the GIL after each call into Qt.

Yielding to the reader: priority alone left page steps at 15-20 ms while the display cleaning ran (the cleaning
thread still took its core share and the GIL; 9-11 ms without it). A background task therefore pauses while the
user is turning pages: the window tells the runner's :class:`UserActivity` of every page drawn, and a background
task's cancel token (:class:`_YieldingCancel`) waits at its next check -- the core checks it between steps only,
where nothing is half done -- until no page was drawn for :data:`YIELD_QUIET_S`, at most :data:`YIELD_MAX_S` per
check, so that a reader paging for minutes still lets the task go on. Cancel wakes it at once.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import math
import os
import sys
import threading
import time
from typing import Any, Callable

from shiboken6 import isValid
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal

from mmqnet_core.errors import Cancelled

log = logging.getLogger(__name__)

#: Niceness (Linux/macOS, 0-19, higher = lower priority) of background task threads. 10 gives the GUI thread
#: about 9x the CPU share of a busy background thread when both want the same core.
BACKGROUND_NICE = 10
#: Python's thread switch interval while tasks run, s (default 0.005): a thread that wants the GIL waits up to
#: this long for the running one to drop it, and the GUI thread asks for it again after every call into Qt.
BUSY_SWITCH_INTERVAL_S = 0.001
#: A background task waits at its next check while the user drew a page within this long, s.
YIELD_QUIET_S = 0.3
#: ... but at most this long at one check, s.
YIELD_MAX_S = 1.0


class UserActivity:
    """When the user last interacted in a way that wants the CPU now (a page drawn); thread-safe to read."""

    def __init__(self) -> None:
        self._last = -math.inf  # time.monotonic() of the last touch
        self.touches = 0  # (for tests)

    def touch(self, *_args: Any) -> None:
        """The user just did something (takes and ignores a signal's arguments)."""
        self._last = time.monotonic()
        self.touches += 1

    def quiet_for(self) -> float:
        """Seconds since the last touch (inf before the first)."""
        return time.monotonic() - self._last


class _YieldingCancel:
    """The cancel token of a background task (the core's ``CancelToken``): :meth:`is_set` says whether cancel was
    asked, after waiting while the user is active (:class:`UserActivity`: until it has been quiet for
    :data:`YIELD_QUIET_S`, at most :data:`YIELD_MAX_S`; a cancel ends the wait at once). The core calls it between
    steps only, so the task pauses where a step has ended."""

    def __init__(self, event: threading.Event, activity: UserActivity) -> None:
        self.event, self.activity = event, activity
        self.paused_s = 0.0  # time spent waiting for the user (for tests and the log)

    def is_set(self) -> bool:
        quiet = self.activity.quiet_for()
        if quiet < YIELD_QUIET_S and not self.event.is_set():
            t0 = time.monotonic()
            deadline = t0 + YIELD_MAX_S
            while quiet < YIELD_QUIET_S:
                left = min(YIELD_QUIET_S - quiet, deadline - time.monotonic())
                if left <= 0 or self.event.wait(left):
                    break
                quiet = self.activity.quiet_for()
            self.paused_s += time.monotonic() - t0
        return self.event.is_set()

    def set(self) -> None:
        """Ask the task to stop (as ``threading.Event.set``: code holding the token may cancel with it)."""
        self.event.set()


def lower_thread_priority() -> bool:
    """Lower the scheduling priority of the calling thread only; ``True`` if it could be lowered.

    Linux schedules threads individually, so ``setpriority`` on the thread's native id changes that thread alone
    (POSIX says it would change the process: not done elsewhere). Qt's ``QThread.setPriority`` does nothing for
    normal Linux threads (their static priority range is 0-0), so it is only used on other systems. A raised
    niceness cannot be lowered again without privileges: only threads of the background pool call this.
    """
    if sys.platform.startswith("linux"):
        try:
            current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            if current < BACKGROUND_NICE:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
            return True
        except OSError as exc:  # e.g. a sandbox that forbids it: run at normal priority
            log.debug("cannot lower the priority of a background thread: %s", exc)
            return False
    thread = QThread.currentThread()
    if thread is None:
        return False
    thread.setPriority(QThread.Priority.LowPriority)
    return True


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

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", background: bool = False,
                 activity: UserActivity | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.background = background  # run at lower priority (see lower_thread_priority)
        self.setAutoDelete(False)  # the TaskRunner holds the Python object until ``done``
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "task")
        self.id = next(self._ids)
        self.cancel_event = threading.Event()
        # What the function checks: the event itself, or (background work, with the user's activity known) a
        # token that also waits while the user is turning pages.
        self.cancel_token: Any = (_YieldingCancel(self.cancel_event, activity) if background and activity is not None
                                  else self.cancel_event)
        self.signals = WorkerSignals()
        self._finished = threading.Event()
        if _accepts(fn, "progress"):
            self.kwargs.setdefault("progress", self._report)
        if _accepts(fn, "cancel"):
            self.kwargs.setdefault("cancel", self.cancel_token)

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
        if self.background:
            lower_thread_priority()
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
        self.pool = QThreadPool(self)  # tasks the user waits for (opening a file)
        self.pool.setMaxThreadCount(max_threads)
        self.background_pool = QThreadPool(self)  # background=True tasks: threads at lower priority
        self.background_pool.setMaxThreadCount(max_threads)
        self._workers: dict[int, Worker] = {}
        self._keys: dict[str, Worker] = {}
        self._abandoned: list[Worker] = []  # cancelled but still running when the application quit
        self._switch_interval = sys.getswitchinterval()  # restored when the last task is done
        #: What the user is doing: background tasks pause while it is touched (the window touches it on every
        #: page drawn).
        self.activity = UserActivity()

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
        on_progress: Callable[[float, str], None] | None = None,
        background: bool = False,
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
        on_progress : callable, optional
            Called with ``(fraction, message)`` for each progress report. Connect here, not to the
            returned worker's signal: the worker may report before ``submit`` returns, and a report
            emitted before a connection exists is lost.
        background : bool
            Work the user does not wait for (cleaning, analysis): run it at lower priority, in
            :attr:`background_pool`, so that the GUI stays responsive.
        """
        if key is not None and key in self._keys:
            self._keys.pop(key).cancel()
        worker = Worker(fn, *args, name=name, background=background, activity=self.activity, **kwargs)
        sig = worker.signals
        # Callbacks belong to the runner's owner (the window): a result that arrives after the owner was
        # destroyed (a window closed while a task it had abandoned still ran) is dropped, never delivered to
        # deleted objects.
        if on_result is not None:
            sig.finished.connect(lambda r, f=on_result: isValid(self) and f(r))
        if on_error is not None:
            sig.failed.connect(lambda e, f=on_error: isValid(self) and f(e))
        if on_cancelled is not None:
            sig.cancelled.connect(lambda f=on_cancelled: isValid(self) and f())
        if on_progress is not None:
            sig.progress.connect(lambda fr, m, f=on_progress: isValid(self) and f(fr, m))
        sig.cancelled.connect(lambda w=worker: log.info("%s cancelled", w.name))
        # A queued signal can arrive after this runner was destroyed (its window closed while a task it had
        # abandoned still reported): such signals are dropped, never delivered to a deleted object.
        sig.progress.connect(lambda f, m, w=worker: isValid(self) and self.taskProgress.emit(w.name, f, m))
        sig.done.connect(lambda w=worker, k=key: isValid(self) and self._on_done(w, k))
        was_busy = self.busy
        self._workers[worker.id] = worker
        if key is not None:
            self._keys[key] = worker
        log.debug("start %s", worker.name)
        if not was_busy:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch_interval, BUSY_SWITCH_INTERVAL_S))
        self._pool_of(worker).start(worker)
        if not was_busy:
            self.busyChanged.emit(True)
        return worker

    def _pool_of(self, worker: Worker) -> QThreadPool:
        return self.background_pool if worker.background else self.pool

    def _on_done(self, worker: Worker, key: str | None) -> None:
        if self._workers.pop(worker.id, None) is None:
            return  # already settled by shutdown() (its done signal arrives later): nothing changes
        if key is not None and self._keys.get(key) is worker:
            del self._keys[key]
        if not self._workers:
            sys.setswitchinterval(self._switch_interval)
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
            if self._pool_of(worker).tryTake(worker):  # never started: finish it here
                worker._finished.set()
                worker.signals.cancelled.emit()
                worker.signals.done.emit()

    def wait_for_all(self, timeout_s: float = 10.0) -> bool:
        """Block until every pool thread is idle; ``False`` if some task still runs after ``timeout_s`` (both
        pools together: the deadline is shared).

        Signals already emitted by finished workers are delivered at the next turn of the event loop.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        if not self.pool.waitForDone(int(timeout_s * 1000)):
            return False
        left_ms = max(0, int((deadline - time.monotonic()) * 1000))
        return bool(self.background_pool.waitForDone(left_ms))

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Cancel all tasks and wait for the pool threads to finish (on close and in tests)."""
        self.cancel_all()
        if self._abandoned and all(w.is_done for w in self._workers.values()):
            return True  # only abandoned tasks hold pool threads: waiting for the pools would wait for them
        ok = self.wait_for_all(timeout_s)
        if not ok:
            log.warning("tasks still running after %.1f s: %s", timeout_s, [w.name for w in self.workers])
            return ok
        # Every task has stopped, but their done signals wait for the next turn of the event loop: settle them
        # now, so that the runner is not busy once shutdown() says so (a close right after it asked "still
        # running?" about a task that had already stopped; the signals themselves still arrive).
        for worker in [w for w in self._workers.values() if w.is_done]:
            key = next((k for k, w in self._keys.items() if w is worker), None)
            self._on_done(worker, key)
        return ok

    @property
    def abandoned(self) -> list[Worker]:
        """Workers given up by :meth:`abandon` that are still running."""
        return [w for w in self._abandoned if not w.is_done]

    def abandon(self) -> list[Worker]:
        """Give up the tasks that did not stop after being cancelled (on quit): their signals are blocked, so
        nothing they finish reaches the application, and the runner is no longer busy. Their threads cannot be
        stopped from outside; the application then exits without waiting for them (``app.main`` ends the
        process with ``os._exit`` when :attr:`abandoned` is not empty). Returns the workers given up."""
        left = [w for w in self._workers.values() if not w.is_done]
        for worker in left:
            worker.cancel()
            worker.signals.blockSignals(True)
            self._abandoned.append(worker)
            log.warning("%s did not stop in time after cancel: abandoned", worker.name)
        if self._workers:
            self._workers.clear()
            self._keys.clear()
            sys.setswitchinterval(self._switch_interval)
            self.busyChanged.emit(False)
        return left
