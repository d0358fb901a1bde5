"""Cancel inside a model batch (responsiveness of long analyses and cohorts): a cancel set during a forward pass
stops it at the next submodule, only in the thread that runs the analysis, and leaves no hook behind."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from mmqnet_core.errors import Cancelled
from mmqnet_core.inference.engine import cancel_inside_forward, run_contexts


def _inputs(features, model):
    x = np.nan_to_num(features.values).astype(np.float32)[None]  # (1, T, N, F)
    missing = np.asarray(features.missing, bool)[None]  # (1, T, N)
    return x, missing


def _hook_counts(module: torch.nn.Module) -> int:
    return sum(len(m._forward_pre_hooks) for m in module.modules())


def test_a_cancel_during_a_batch_stops_it_before_the_next_layer(features, model):
    net = model.model
    modules = [m for m in net.modules() if m is not net]
    assert len(modules) > 3
    cancel = threading.Event()
    ran: list[str] = []
    first, last = modules[0], modules[-1]
    h1 = first.register_forward_hook(lambda *_: cancel.set())  # the user cancels while the first layer runs
    h2 = last.register_forward_hook(lambda *_: ran.append("last"))
    assert _hook_counts(net) == 0
    try:
        x, missing = _inputs(features, model)
        with pytest.raises(Cancelled):
            run_contexts(net, x, missing, batch_size=64, return_recon=True, return_attention=True, cancel=cancel)
    finally:
        h1.remove()
        h2.remove()
    assert ran == []  # stopped inside the batch, not at its end
    assert _hook_counts(net) == 0  # the cancel hooks are removed again
    # without a cancel the same call runs to the end
    out = run_contexts(net, x, missing, batch_size=64, cancel=threading.Event())
    assert np.isfinite(out.probabilities).all()


def test_only_the_cancelled_thread_is_stopped(features, model):
    net = model.model
    x, missing = _inputs(features, model)
    xb = torch.from_numpy(x[:, :net.config.n_windows])
    mb = torch.from_numpy(missing[:, :net.config.n_windows])
    cancel = threading.Event()
    cancel.set()
    other: list = []
    with torch.no_grad(), cancel_inside_forward(net, cancel):
        thread = threading.Thread(target=lambda: other.append(net(xb, mb, allow_empty=True).probabilities))
        thread.start()
        thread.join(30)
        with pytest.raises(Cancelled):
            net(xb, mb, allow_empty=True)
    assert len(other) == 1 and torch.isfinite(other[0]).all()  # another analysis with the same model runs on
    assert _hook_counts(net) == 0
    with torch.no_grad():
        net(xb, mb, allow_empty=True)  # no hook left: runs although the token is still set
