"""A cancel while ``analyze`` imports the cleaning and feature modules (seconds on a loaded machine) is seen at
once: the imports run in a helper thread while the caller checks its token (timed by ``bench/bench_scale.py
--cancel-latency``; here: the call returns while the import step is still blocked)."""

from __future__ import annotations

import importlib
import threading

import pytest

from mmqnet_core.errors import Cancelled
from mmqnet_core.inference import analyze

analyze_mod = importlib.import_module("mmqnet_core.inference.analyze")  # the package exports analyze()


def test_cancel_while_the_cleaning_modules_are_imported(recording, model, monkeypatch):
    entered, release, returned = threading.Event(), threading.Event(), threading.Event()

    def slow_import(cancel=None):
        entered.set()
        release.wait(30.0)
        returned.set()

    monkeypatch.setattr(analyze_mod, "_import_cleaning", slow_import)
    cancel = threading.Event()
    threading.Thread(target=lambda: entered.wait(30.0) and cancel.set(), daemon=True).start()
    try:
        with pytest.raises(Cancelled):
            analyze(recording, None, model, cancel=cancel)
        assert entered.is_set() and not returned.is_set()
    finally:
        release.set()


def test_the_import_step_checks_the_token_between_modules():
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        analyze_mod._import_cleaning(cancel=stop)
    analyze_mod._import_cleaning()  # without a token: imports (already imported here: nothing to do)


def test_the_feature_block_signal_is_assembled_piece_by_piece_with_a_check_between():
    """Joining an hour of cleaned pieces for the features (~74 MB) took seconds under load without a check."""
    import numpy as np

    from mmqnet_core.inference.streaming import _Buffer

    rng = np.random.default_rng(0)
    buf = _Buffer()
    pieces = [rng.normal(size=(3, n)).astype(np.float32) for n in (50, 70, 40)]
    start = 0
    for p in pieces:
        buf.add(start, p)
        start += p.shape[1]
    whole = np.concatenate(pieces, axis=1)
    for a, b in ((0, 160), (10, 130), (60, 100), (55, 121)):
        got = buf.take(a, b, cancel=threading.Event())
        assert got.dtype == whole.dtype and np.array_equal(got, whole[:, a:b])

    class StopAfter:  # set after the first check: the copy stops before the second piece
        def __init__(self):
            self.calls = 0

        def is_set(self):
            self.calls += 1
            return self.calls > 1

    token = StopAfter()
    with pytest.raises(Cancelled):
        buf.take(0, 160, cancel=token)
    assert token.calls == 2
    import mmqnet_core.inference.streaming as streaming

    old = streaming._TAKE_ELEMENTS
    try:  # blocks of 3 x 10 values: several checks per piece, same result
        streaming._TAKE_ELEMENTS = 30
        calls = []

        class Counting:
            def is_set(self):
                calls.append(1)
                return False

        assert np.array_equal(buf.take(5, 160, cancel=Counting()), whole[:, 5:160])
        assert len(calls) == 5 + 7 + 4  # ceil(45/10) + ceil(70/10) + ceil(40/10)
    finally:
        streaming._TAKE_ELEMENTS = old
