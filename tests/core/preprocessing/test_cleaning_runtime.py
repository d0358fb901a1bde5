"""Run-time behaviour of the cleaning that is not about values: memory advice, cancel inside the fit."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mmqnet_core.preprocessing.pipeline import small_pages

_multiarray = getattr(getattr(np, "_core", None), "multiarray", None)
_setter = getattr(_multiarray, "_set_madvise_hugepage", None)


@pytest.mark.skipif(_setter is None, reason="this numpy has no huge-page switch")
@pytest.mark.parametrize("before", [True, False])
def test_small_pages_turns_the_advice_off_and_restores_it(before):
    old = _setter(before)
    try:
        with small_pages():
            with small_pages():  # re-entrant
                assert _setter(False) is False  # off inside (the call returns the setting it replaces)
            assert _setter(False) is False  # still off: the outer block is still running
        assert _setter(before) is before  # restored on leaving the outermost block
    finally:
        _setter(old)


@pytest.mark.skipif(_setter is None, reason="this numpy has no huge-page switch")
def test_small_pages_restores_after_the_last_of_two_threads():
    old = _setter(True)
    inside, leave = threading.Event(), threading.Event()

    def other():
        with small_pages():
            inside.set()
            leave.wait(5)

    try:
        t = threading.Thread(target=other)
        t.start()
        inside.wait(5)
        with small_pages():
            pass
        assert _setter(False) is False  # the other thread is still inside: still off
        leave.set()
        t.join(5)
        assert _setter(True) is True  # the last one out restored it
    finally:
        leave.set()
        _setter(old)
