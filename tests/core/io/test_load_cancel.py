"""Cancel while a recording is opened: the library steps of the reading path (mne's open, the DEAP unpickler,
the trigger scan) are cancellable, and the trigger channel is read in blocks with a check between them.

How fast a cancel takes effect is measured by ``bench/bench_scale.py --cancel-latency`` (not timed here): these
tests check that ``load_recording`` returns with ``Cancelled`` while a step is still blocked, i.e. that it does
not wait for the step.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import mmqnet_core.io as mio
import mmqnet_core.io.edf as edf
from mmqnet_core.errors import Cancelled
from mmqnet_core.io import load_recording
from mmqnet_core.io._cancel import call_cancellable

from .helpers import write_edf


class _Blocked:
    """A stand-in for a slow library step: blocks until released (at most 30 s) and records that it ran."""

    def __init__(self, result=None):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.returned = threading.Event()
        self.thread = None
        self.result = result

    def __call__(self, *args, **kwargs):
        self.thread = threading.current_thread()
        self.entered.set()
        self.release.wait(30.0)
        self.returned.set()
        return self.result


def _cancel_when(entered: threading.Event, cancel: threading.Event) -> threading.Thread:
    """Set ``cancel`` from another thread once the step has started."""
    def run() -> None:
        if entered.wait(30.0):
            cancel.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _cancel_while_blocked(path, monkeypatch, module, name: str) -> "_Blocked":
    """Replace ``module.name`` with a blocking step, cancel once it has started, and check that
    ``load_recording`` raises ``Cancelled`` while the step is still blocked; returns the step."""
    step = _Blocked()
    monkeypatch.setattr(module, name, step)
    cancel = threading.Event()
    _cancel_when(step.entered, cancel)
    try:
        with pytest.raises(Cancelled):
            load_recording(path, cancel=cancel)
        assert step.entered.is_set() and not step.returned.is_set()  # the library step is still running
    finally:
        step.release.set()
    return step


def test_cancel_while_mne_opens_the_file_returns_before_mne(tmp_path, monkeypatch):
    step = _cancel_while_blocked(write_edf(tmp_path / "open.edf"), monkeypatch, edf, "_open_raw")
    assert step.thread is not threading.current_thread()


def test_cancel_while_a_deap_file_is_unpickled_returns_before_the_read(tmp_path, monkeypatch):
    path = tmp_path / "s01.dat"
    path.write_bytes(b"not read: the reader is replaced")
    _cancel_while_blocked(path, monkeypatch, mio, "read_deap_file")


def _trigger_file(tmp_path, seconds: float = 1000.0, sfreq: float = 8.0):
    n = int(seconds * sfreq)
    status = np.zeros(n)
    status[100:110] = 5
    status[n - 50:n - 40] = 7
    return write_edf(tmp_path / "trig.bdf", (("Fp1", sfreq, "uV"), ("Status", sfreq, "")), kind="bdf",
                     duration_s=seconds, data={"Status": status})


def test_trigger_scan_checks_between_blocks(tmp_path):
    path = _trigger_file(tmp_path)  # 1000 s: four blocks of 300 s
    rec = load_recording(path)
    assert [a.description for a in rec.annotations if a.description.startswith("trigger")] == [
        "trigger 5", "trigger 7"]
    cancel = threading.Event()
    scanned = []

    def progress(fraction: float, message: str = "") -> None:
        if message.startswith("scanning"):
            scanned.append(fraction)
            cancel.set()  # after the first block: the next check stops the scan

    with pytest.raises(Cancelled):
        load_recording(path, progress=progress, cancel=cancel)
    assert len(scanned) == 1


def test_cancel_while_the_trigger_steps_are_found_returns_before_them(tmp_path, monkeypatch):
    _cancel_while_blocked(_trigger_file(tmp_path), monkeypatch, edf, "_find_steps")


def test_without_a_token_the_step_runs_in_the_calling_thread():
    seen = []
    assert call_cancellable(lambda x, y=0: seen.append(threading.current_thread()) or x + y, 1, y=2) == 3
    assert seen == [threading.current_thread()]
    with pytest.raises(ZeroDivisionError):  # the step's own error reaches the caller, with or without a token
        call_cancellable(lambda: 1 / 0, cancel=threading.Event())
    done = threading.Event()
    done.set()
    ran = []
    with pytest.raises(Cancelled):  # a token already set: the step does not start
        call_cancellable(ran.append, 1, cancel=done)
    assert ran == []
