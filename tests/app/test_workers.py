"""Workers run core functions off the GUI thread; results, errors, progress and cancellation come back as signals."""

import os
import sys
import threading
import time

import pytest

from app.workers import BACKGROUND_NICE, BUSY_SWITCH_INTERVAL_S, TaskRunner, Worker
from mmqnet_core.errors import RecordingError
from mmqnet_core.progress import check_cancel, report


def add(a, b, *, progress=None, cancel=None):
    report(progress, 0.5, "half")
    check_cancel(cancel)
    return a + b


def fail(path):
    raise RecordingError(f"{path} is corrupt")


def wait_for_cancel(started: threading.Event, *, cancel=None):
    started.set()
    while not cancel.is_set():
        time.sleep(0.005)
    check_cancel(cancel)


@pytest.fixture
def runner(qtbot):
    r = TaskRunner(max_threads=2)
    yield r
    assert r.shutdown(5)
    qtbot.wait(5)


def test_result_and_progress_arrive_in_the_gui_thread(qtbot, runner):
    got, progress, threads = [], [], []
    gui = threading.get_ident()
    with qtbot.waitSignal(runner.busyChanged, timeout=5000, check_params_cb=lambda busy: not busy):
        runner.submit(add, 2, 3, name="adding",
                      on_result=lambda r: (got.append(r), threads.append(threading.get_ident())),
                      on_progress=lambda f, m: progress.append((f, m, threading.get_ident())))
    assert got == [5]
    assert threads == [gui]
    assert progress == [(0.5, "half", gui)]
    assert not runner.busy


def test_errors_come_back_as_the_exception(qtbot, runner):
    errors = []
    with qtbot.waitSignal(runner.busyChanged, timeout=5000, check_params_cb=lambda busy: not busy):
        runner.submit(fail, "x.bdf", on_error=errors.append, on_result=lambda r: pytest.fail("no result"))
    assert len(errors) == 1 and isinstance(errors[0], RecordingError)
    assert "x.bdf is corrupt" in str(errors[0])


def test_shutdown_cancels_and_joins_a_running_task(qtbot, runner):
    started = threading.Event()
    cancelled, results = [], []
    w = runner.submit(wait_for_cancel, started, on_cancelled=lambda: cancelled.append(True),
                      on_result=results.append)
    assert started.wait(5)
    assert runner.busy
    assert runner.shutdown(5)
    assert w.is_done
    qtbot.waitUntil(lambda: cancelled == [True], timeout=2000)
    assert results == []
    assert not runner.busy


def test_the_runner_is_idle_as_soon_as_shutdown_says_every_task_stopped(qtbot, runner):
    # A close right after shutdown() asked "still running?" about a task that had already stopped: the runner
    # stayed busy until the task's done signal came through the event loop (bench_browser's --with-cleaning hung
    # on that dialog). The queued signals still arrive, once.
    started = threading.Event()
    cancelled, busy = [], []
    runner.busyChanged.connect(busy.append)
    runner.submit(wait_for_cancel, started, key="clean", on_cancelled=lambda: cancelled.append(True))
    assert started.wait(5)
    assert runner.shutdown(5)
    assert not runner.busy and runner.workers == []  # no turn of the event loop in between
    assert busy == [True, False]
    qtbot.waitUntil(lambda: cancelled == [True], timeout=2000)
    qtbot.wait(20)
    assert busy == [True, False] and cancelled == [True]


def test_same_key_cancels_the_previous_task_and_drops_its_result(qtbot, runner):
    started = threading.Event()
    first_results, second_results = [], []
    first = runner.submit(wait_for_cancel, started, key="load", on_result=first_results.append)
    assert started.wait(5)
    with qtbot.waitSignal(runner.busyChanged, timeout=5000, check_params_cb=lambda busy: not busy):
        runner.submit(add, 1, 1, key="load", on_result=second_results.append)
    assert first.cancel_event.is_set()
    assert first_results == [] and second_results == [2]


def test_a_result_returned_after_cancel_is_dropped(qtbot):
    # A function that ignores the cancel flag: its late result must not reach the application.
    gate = threading.Event()
    w = Worker(lambda: gate.wait(5) and "late")
    results, cancelled = [], []
    w.signals.finished.connect(results.append)
    w.signals.cancelled.connect(lambda: cancelled.append(True))
    runner = TaskRunner(max_threads=1)
    runner.pool.start(w)
    w.cancel()
    gate.set()
    assert w.wait(5)
    qtbot.waitUntil(lambda: cancelled == [True], timeout=2000)
    assert results == []
    runner.shutdown(5)


def test_queued_tasks_are_dropped_on_shutdown(qtbot):
    runner = TaskRunner(max_threads=1)
    started = threading.Event()
    ran = []
    runner.submit(wait_for_cancel, started)
    queued = runner.submit(lambda: ran.append(True))
    assert started.wait(5)
    assert runner.shutdown(5)
    qtbot.wait(20)
    assert ran == [] and queued.is_done
    assert not runner.busy


def _niceness_and_switch_interval():
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), sys.getswitchinterval()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is a Linux feature")
def test_background_tasks_run_at_lower_priority_and_the_gui_gets_the_gil_sooner(qtbot, runner):
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    interval = sys.getswitchinterval()
    seen = {}
    runner.submit(_niceness_and_switch_interval, background=True, on_result=lambda v: seen.__setitem__("bg", v))
    runner.submit(_niceness_and_switch_interval, on_result=lambda v: seen.__setitem__("fg", v))
    qtbot.waitUntil(lambda: len(seen) == 2 and not runner.busy, timeout=5000)
    assert seen["bg"] == (max(base, BACKGROUND_NICE), min(interval, BUSY_SWITCH_INTERVAL_S))
    assert seen["fg"][0] == base  # tasks the user waits for keep the normal priority
    assert sys.getswitchinterval() == interval  # restored when no task runs
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the GUI thread is untouched


def test_a_result_arriving_after_the_owner_was_destroyed_is_dropped(qtbot):
    """A window closed while a task it had abandoned still ran: the late result, progress and done signals reach
    no deleted object (no 'Signal source has been deleted' in the event loop) and no callback runs."""
    from PySide6.QtCore import QObject

    owner = QObject()
    runner = TaskRunner(owner)
    release, called = threading.Event(), []

    def task(progress=None):
        release.wait(5)
        report(progress, 0.5, "late")
        return 42

    worker = runner.submit(task, on_result=called.append, on_error=called.append,
                           on_cancelled=lambda: called.append("cancelled"))
    threading.Timer(0.3, release.set).start()  # the task ends after its owner is gone
    owner.deleteLater()  # destroys the runner with it
    qtbot.waitUntil(lambda: not __import__("shiboken6").isValid(runner), timeout=2000)
    assert worker.wait(5)
    qtbot.wait(100)  # deliver the queued signals
    assert called == []


# --- yielding to the reader -----------------------------------------------------------------------------------
def _count_checks(*, cancel=None, steps: int = 40, step_s: float = 0.005) -> list[float]:
    """A background step loop: the times (monotonic) at which each step started."""
    times = []
    for _ in range(steps):
        check_cancel(cancel)
        times.append(time.monotonic())
        time.sleep(step_s)
    return times


def test_a_background_task_pauses_at_its_checks_while_the_reader_turns_pages(qtbot, runner):
    """While pages are being drawn (the activity touched every 50 ms), a background task makes no step; it goes
    on once the reader has been quiet for YIELD_QUIET_S. A task the user waits for is never held back."""
    from app.workers import YIELD_QUIET_S

    out: dict[str, list[float]] = {}
    runner.activity.touch()
    t0 = time.monotonic()
    runner.submit(_count_checks, background=True, on_result=lambda v: out.__setitem__("bg", v))
    runner.submit(_count_checks, on_result=lambda v: out.__setitem__("fg", v))
    while time.monotonic() - t0 < 0.6:  # the reader pages for 0.6 s
        runner.activity.touch()
        qtbot.wait(50)
    paging_ended = runner.activity._last
    qtbot.waitUntil(lambda: len(out) == 2, timeout=10000)
    assert out["fg"][0] - t0 < 0.2  # started at once, paging or not
    assert out["bg"][0] >= paging_ended + YIELD_QUIET_S - 0.02  # no step while pages were drawn, nor just after
    assert len(out["bg"]) == 40 and out["bg"][-1] - out["bg"][0] < 1.0  # then it runs at full speed


def _step_forever(steps: list[float], *, cancel=None) -> None:
    while True:
        check_cancel(cancel)
        steps.append(time.monotonic())


def test_a_paused_task_goes_on_after_yield_max_s_and_stops_at_once_when_cancelled(qtbot, runner):
    """A reader paging without end still lets the task make a step every YIELD_MAX_S; cancel ends a pause at
    once (the cancel target: within 1 s)."""
    from app.workers import YIELD_MAX_S

    out: dict[str, float] = {}
    steps: list[float] = []
    stop_paging = threading.Event()

    def page_forever() -> None:
        while not stop_paging.is_set():
            runner.activity.touch()
            time.sleep(0.02)

    pager = threading.Thread(target=page_forever, daemon=True)
    pager.start()
    try:
        worker = runner.submit(_step_forever, steps, background=True,
                               on_cancelled=lambda: out.__setitem__("cancelled", time.monotonic()))
        qtbot.wait(int(3.5 * YIELD_MAX_S * 1000))
        # One step per YIELD_MAX_S: neither stopped for good nor running free (a free loop makes millions).
        assert 2 <= len(steps) <= 5, len(steps)
        assert min(b - a for a, b in zip(steps, steps[1:])) >= 0.9 * YIELD_MAX_S
        t = time.monotonic()
        worker.cancel()
        qtbot.waitUntil(lambda: "cancelled" in out, timeout=3000)
        assert out["cancelled"] - t < 0.5
    finally:
        stop_paging.set()
        pager.join(1)


def test_the_window_tells_the_runner_of_every_page_drawn(qtbot, window, bdf_path, monkeypatch):
    """The window touches its runner's activity on each page step, so that the display cleaning yields."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from tests.app.conftest import wait_loaded

    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.open_file(bdf_path)
    wait_loaded(qtbot, window)
    window.browser.set_page_length(2.0)
    window.browser.setFocus()
    before = window.runner.activity.touches
    QTest.keyClick(window.browser, Qt.Key.Key_PageDown)
    assert window.runner.activity.touches > before
    assert window.runner.activity.quiet_for() < 1.0
