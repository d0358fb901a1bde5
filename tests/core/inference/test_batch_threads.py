"""The model stage's batches in helper threads (``run_contexts(batch_threads=2)``, what ``analyze`` asks for on
the CPU): the outputs of one batch at a time with the same intra-op threads, in batch order, within float
rounding of the default; a cancel inside a helper's batch stops it; an error there is raised in the caller;
torch's thread setting is restored."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from mmqnet_core.errors import Cancelled
from mmqnet_core.inference import engine
from mmqnet_core.inference.engine import run_contexts

FIELDS = ("probabilities", "no_context", "interference", "artifacts", "recon")


def _inputs(features, repeat: int = 6):
    x = np.nan_to_num(features.values).astype(np.float32)
    missing = np.asarray(features.missing, bool).copy()
    missing[::5, 2] = True  # some tokens to reconstruct
    x, missing = np.concatenate([x] * repeat)[None], np.concatenate([missing] * repeat)[None]  # (1, n, N, F)
    x, missing = x[:, 1:], missing[:, 1:]  # not a multiple of the context: the last context overlaps
    fv = np.ones(x.shape, bool)
    return x, missing, fv


def _run(model, x, missing, fv, **kwargs):
    return run_contexts(model.model, x, missing, feature_valid=fv, batch_size=8, return_recon=True,
                        return_attention=True, **kwargs)


def _same(a, b) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.attention.keys() == b.attention.keys()
    for k in a.attention:
        np.testing.assert_array_equal(a.attention[k], b.attention[k], err_msg=k)


def test_batches_in_threads_give_the_outputs_of_one_batch_at_a_time(features, model):
    x, missing, fv = _inputs(features)
    n_batches = -(-len(engine.context_starts(x.shape[1], model.model.config.n_windows)) // 8)
    assert n_batches >= 4 and x.shape[1] % model.model.config.n_windows  # a last context that overlaps
    torch.set_num_threads(2)  # (the fixture restores it)
    names: set[str] = set()
    seen: list[str] = []
    start = threading.Thread.start

    def named(self):
        names.add(self.name)
        return start(self)

    threading.Thread.start = named
    try:
        threaded = _run(model, x, missing, fv, batch_threads=2, progress=lambda f, m="": seen.append(m))
    finally:
        threading.Thread.start = start
    assert "mmqnet-batch" in names  # the batches did run in helper threads
    assert seen == [f"batch {i + 1}/{n_batches}" for i in range(n_batches)]  # reported in batch order
    assert torch.get_num_threads() == 2  # restored
    torch.set_num_threads(1)  # each helper ran its batches with one intra-op thread: exactly those outputs
    _same(threaded, _run(model, x, missing, fv))
    torch.set_num_threads(2)  # the default (two intra-op threads on one batch): within float rounding
    default = _run(model, x, missing, fv)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(threaded, name), getattr(default, name), rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_monte_carlo_samples_and_one_thread_run_one_batch_at_a_time():
    assert engine._batch_threads(2, 8, 0, "cpu") == min(2, torch.get_num_threads())
    assert engine._batch_threads(2, 8, 5, "cpu") == 1  # the random draws come in batch order
    assert engine._batch_threads(2, 1, 0, "cpu") == 1
    assert engine._batch_threads(None, 8, 0, "cpu") == 1
    assert engine._batch_threads(2, 8, 0, "meta") == 1


def test_a_cancel_inside_a_helpers_batch_stops_it_and_leaves_nothing_behind(features, model):
    x, missing, fv = _inputs(features)
    torch.set_num_threads(2)
    net = model.model
    cancel = threading.Event()
    calls = []
    modules = [m for m in net.modules() if m is not net]

    def on_forward(*_):
        calls.append(threading.current_thread().name)
        if len(calls) == 3:  # while a helper's batch runs
            cancel.set()

    after: list[str] = []

    def on_last(*_) -> None:
        if cancel.is_set():
            after.append("last")

    handles = [modules[0].register_forward_hook(on_forward), modules[-1].register_forward_hook(on_last)]
    try:
        with pytest.raises(Cancelled):
            _run(model, x, missing, fv, batch_threads=2, cancel=cancel)
    finally:
        for h in handles:
            h.remove()
    assert calls and all(name == "mmqnet-batch" for name in calls)
    assert after == []  # the batches in flight stopped inside, at their next submodule, not at their end
    assert sum(len(m._forward_pre_hooks) for m in net.modules()) == 0
    assert torch.get_num_threads() == 2 and engine._INTRA_USERS[0] == 0
    assert not any(t.name == "mmqnet-batch" for t in threading.enumerate())  # the helpers have ended


def test_an_error_in_a_helpers_batch_is_raised_in_the_caller(features, model):
    x, missing, fv = _inputs(features)
    torch.set_num_threads(2)
    net = model.model
    calls = []

    def broken(*_):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("a broken layer")

    handle = [m for m in net.modules() if m is not net][0].register_forward_hook(broken)
    try:
        with pytest.raises(ValueError, match="a broken layer"):
            _run(model, x, missing, fv, batch_threads=2)
    finally:
        handle.remove()
    assert torch.get_num_threads() == 2 and engine._INTRA_USERS[0] == 0
    assert np.isfinite(_run(model, x, missing, fv, batch_threads=2).probabilities).all()  # runs again
