"""The long-context read-out's span is computed only for the contexts where it can add evidence.

With ``evidence_long_fill`` (the shipped checkpoint) a token's long-context logit is weighted by its hidden share
of the short context: a context whose tokens are all measured throughout reads nothing from the long span, so
``run_contexts`` skips computing it there (``long_context_rows``). The outputs must be bit-identical to those with
every context's span computed, with and without hidden tokens, invalid features and NaN in unmeasured entries.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import mmqnet_core.model.mmqnet as mmqnet_module
from mmqnet_core.inference.engine import run_contexts
from mmqnet_core.model import MMQNet
from mmqnet_core.model.mmqnet import long_context_rows, sequence_long_context

from ..model.conftest import small_config


def _model(fill: bool = True, seed: int = 0) -> MMQNet:
    """A small model with the long read-out's (and the short read-out's) weights random, not zero."""
    cfg = small_config(evidence_long=("arousal",), long_context_windows=5, evidence_long_fill=fill,
                       context_windows=1)
    torch.manual_seed(seed)
    model = MMQNet.from_config(cfg).eval()
    g = torch.Generator().manual_seed(seed + 3)
    with torch.no_grad():
        model.evidence_long_weight.copy_(torch.randn(model.evidence_long_weight.shape, generator=g))
        model.evidence_weight.copy_(torch.randn(model.evidence_weight.shape, generator=g))
    return model


def _sequence(cfg, n: int = 61, hidden: bool = True, seed: int = 0):
    """One sequence of n windows: features with NaN where unmeasured; a few hidden token-windows (a masked span,
    scattered missing tokens, a token whose features are all invalid for a while) when ``hidden``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, n, cfg.n_tokens, cfg.n_features)).astype(np.float32)
    missing = np.zeros((1, n, cfg.n_tokens), bool)
    fv = np.ones(x.shape, bool)
    fv[0, 5:9, 2, 1] = False  # one invalid feature: the token stays measured (others are valid)
    if hidden:
        missing[0, 20:23, 1] = True  # a masked span of one channel
        if n > 52:
            missing[0, 40, [0, 6]] = True
            fv[0, 50:52, 8] = False  # every feature of a token invalid: hidden there
    x[np.broadcast_to(missing[..., None], x.shape) | ~fv] = np.nan
    return x, missing, fv


def _all_rows(config, missing, feature_valid=None):
    return torch.ones(missing.shape[0], dtype=torch.bool)


def _outputs(model, x, missing, fv):
    out = run_contexts(model, x, missing, feature_valid=fv, batch_size=4, return_recon=True,
                       return_attention=True)
    return {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}


def _assert_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if isinstance(a[name], dict):
            _assert_identical(a[name], b[name])
        elif a[name] is None:
            assert b[name] is None, name
        else:
            assert np.array_equal(a[name], b[name], equal_nan=True), name


@pytest.mark.parametrize("hidden", [False, True], ids=["all-measured", "hidden-tokens"])
def test_run_contexts_skips_the_long_span_where_it_adds_nothing_with_identical_outputs(monkeypatch, hidden):
    model = _model()
    cfg = model.config
    x, missing, fv = _sequence(cfg, hidden=hidden)
    computed = []
    real_mean = mmqnet_module.long_context_mean

    def counting_mean(x_, used, h):
        computed.append(x_.shape[0])  # contexts whose span was computed
        return real_mean(x_, used, h)

    monkeypatch.setattr(mmqnet_module, "long_context_mean", counting_mean)
    skipped = _outputs(model, x, missing, fv)
    n_skipping = sum(computed)
    computed.clear()
    monkeypatch.setattr(mmqnet_module, "long_context_rows", _all_rows)  # the path before: every context
    every = _outputs(model, x, missing, fv)
    n_contexts = sum(computed)
    _assert_identical(skipped, every)
    # what was skipped: the contexts with a hidden token-window (t = 4 windows from 0, stride 4; the last from 57)
    starts = list(range(0, 58, 4)) + [57]
    hidden_windows = [20, 21, 22, 40, 50, 51] if hidden else []
    expected = sum(any(s <= w < s + 4 for w in hidden_windows) for s in starts)
    assert n_contexts == len(starts)
    assert n_skipping == expected
    assert np.isfinite(skipped["probabilities"]).all()


def test_the_model_forward_is_bit_identical_with_the_placeholder_rows():
    """Model level: logits, per-modality logits and presence flags equal with the skipped rows' placeholder."""
    model = _model(seed=1)
    cfg = model.config
    x, missing, fv = _sequence(cfg, seed=2)
    seq = np.zeros(8, np.int64)
    starts = np.array([0, 4, 8, 16, 18, 20, 32, 36])  # some contexts cover the masked span (20-22)
    wi = starts[:, None] + np.arange(cfg.n_windows)
    xb = torch.from_numpy(np.nan_to_num(x[0][wi]))
    mb = torch.from_numpy(missing[0][wi])
    fb = torch.from_numpy(fv[0][wi])
    rows = long_context_rows(cfg, mb, fb)
    assert rows.tolist() == [False, False, False, False, True, True, False, False]
    args = (x, missing, fv, seq, starts, cfg.n_windows, cfg.long_context_windows, np.array([61]),
            np.asarray(cfg.feature_valid, bool))
    with torch.no_grad():
        a = model(xb, mb, feature_valid=fb, long_context=sequence_long_context(*args, rows=rows))
        b = model(xb, mb, feature_valid=fb, long_context=sequence_long_context(*args))
    for name in ("logits", "probabilities", "modality_logits", "modality_present", "no_context"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    # the read-out does speak where a token is hidden (the skip is not vacuous)
    with torch.no_grad():
        model.evidence_long_weight.zero_()
        c = model(xb, mb, feature_valid=fb, long_context=sequence_long_context(*args))
    assert not torch.equal(c.logits[rows], b.logits[rows])
    assert torch.equal(c.logits[~rows], b.logits[~rows])


def test_without_the_fill_every_context_reads_its_long_span():
    model = _model(fill=False)
    _, missing, fv = _sequence(model.config, hidden=False)
    rows = long_context_rows(model.config, torch.from_numpy(missing[:, :4]), torch.from_numpy(fv[:, :4]))
    assert rows.tolist() == [True]


def test_a_long_context_with_a_non_finite_mean_where_it_has_a_count_is_refused():
    from mmqnet_core.errors import ConfigError

    model = _model()
    cfg = model.config
    x, missing, fv = _sequence(cfg, n=cfg.n_windows, hidden=False)
    xb, mb = torch.from_numpy(x), torch.from_numpy(missing)
    mean = torch.zeros(xb.shape)
    count = torch.ones(xb.shape)
    count[0, 1, 2, 3] = 0.0
    mean[0, 1, 2, 3] = float("nan")  # no count: never read, accepted
    with torch.no_grad():
        model(xb, mb, feature_valid=torch.from_numpy(fv), long_context=(mean, count))
    mean[0, 2, 2, 3] = float("inf")
    with pytest.raises(ConfigError, match="NaN/infinite means where its count is > 0"):
        with torch.no_grad():
            model(xb, mb, feature_valid=torch.from_numpy(fv), long_context=(mean, count))


def test_overlapping_last_context_sums_like_add_at():
    """Per-window outputs are the sums over the contexts covering each window (np.add.at, batch by batch), also
    where a sequence's last context overlaps the one before it in the same batch."""
    from mmqnet_core.inference.engine import context_starts

    model = _model(seed=4)
    cfg = model.config
    x, missing, fv = _sequence(cfg, n=30, seed=5)  # starts 0, 4, ..., 24, 26: the last overlaps in a batch
    out = run_contexts(model, x, missing, feature_valid=fv, batch_size=4, return_recon=True)
    starts = context_starts(30, cfg.n_windows)
    assert starts[-1] == 26 and len(starts) % 4 != 1  # the overlap lies inside the last batch
    probs = np.zeros((1, 30, cfg.n_targets), np.float32)
    recon = np.zeros(x.shape, np.float32)
    count = np.zeros((1, 30), np.float32)
    for b0 in range(0, len(starts), 4):
        st = starts[b0:b0 + 4]
        si, wi = np.zeros((len(st), 1), np.int64), st[:, None] + np.arange(cfg.n_windows)
        mb, fb = torch.from_numpy(missing[si, wi]), torch.from_numpy(fv[si, wi])
        long = sequence_long_context(x, missing, fv, si[:, 0], st, cfg.n_windows, cfg.long_context_windows,
                                     np.array([30]), np.asarray(cfg.feature_valid, bool),
                                     rows=long_context_rows(cfg, mb, fb))
        with torch.no_grad():
            o = model(torch.from_numpy(np.ascontiguousarray(x[si, wi])), mb, allow_empty=True, recon_tokens=mb,
                      feature_valid=fb, long_context=long)
        np.add.at(probs, (si, wi), o.probabilities.float().numpy())
        np.add.at(recon, (si, wi), o.recon.float().numpy())
        np.add.at(count, (si, wi), 1.0)
    assert count.max() == 2.0  # windows 26-27 are covered twice
    np.testing.assert_array_equal(out.probabilities, probs / count[..., None])
    np.testing.assert_array_equal(out.recon, recon / count[..., None, None])
