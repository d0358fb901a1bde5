"""Long-context evidence read-out (``evidence_long``): old checkpoints unchanged, what it reads, what it never reads."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from mmqnet_core.errors import ConfigError
from mmqnet_core.inference.engine import run_contexts
from mmqnet_core.model import MMQNet, MMQNetConfig
from mmqnet_core.model.mmqnet import long_context_mean, sequence_long_context

from .conftest import make_batch, small_config


def _model(cfg, seed=0):
    torch.manual_seed(seed)
    return MMQNet.from_config(cfg).eval()


def _perturbed(model: MMQNet, seed: int = 3) -> MMQNet:
    with torch.no_grad():
        model.evidence_long_weight.copy_(torch.randn(model.evidence_long_weight.shape,
                                                     generator=torch.Generator().manual_seed(seed)))
        model.evidence_weight.copy_(torch.randn(model.evidence_weight.shape,
                                                generator=torch.Generator().manual_seed(seed + 1)))
    return model


def _sequence(cfg, n=23, seed=0, rate=0.3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, n, cfg.n_tokens, cfg.n_features)).astype(np.float32)
    missing = rng.random((2, n, cfg.n_tokens)) < rate
    missing[:, :, 0] = False
    return x, missing


def test_long_context_mean_is_the_measured_mean_over_the_span():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 11, 3, 4)).astype(np.float32)
    used = rng.random(x.shape) < 0.6
    x_nan = np.where(used, x, np.nan).astype(np.float32)  # unmeasured values never enter
    mean, count = long_context_mean(torch.from_numpy(x_nan), torch.from_numpy(used), 2)
    for w in range(11):
        lo, hi = max(0, w - 2), min(11, w + 3)
        c = used[:, lo:hi].sum(1)
        s = np.where(used[:, lo:hi], x[:, lo:hi], 0).sum(1)
        np.testing.assert_allclose(count[:, w].numpy(), c)
        np.testing.assert_allclose(mean[:, w].numpy(), np.where(c > 0, s / np.maximum(c, 1), 0), rtol=1e-5, atol=1e-6)


def test_old_checkpoint_predicts_exactly_as_before():
    """A model without the option (older configs) warm-started into one with it: identical outputs (zero init)."""
    old_cfg = small_config()
    data = json.loads(old_cfg.to_json())
    del data["evidence_long"], data["long_context_windows"]
    assert MMQNetConfig.from_dict(data).evidence_long == ()  # configs without the field: off
    old = _model(old_cfg)
    assert "evidence_long_weight" not in dict(old.named_parameters())
    with torch.no_grad():
        old.evidence_weight.normal_()
    new = MMQNet.from_config(dataclasses.replace(old_cfg, evidence_long=("arousal",), long_context_windows=5)).eval()
    result = new.load_state_dict(old.state_dict(), strict=False)
    assert result.missing_keys == ["evidence_long_weight"] and not result.unexpected_keys
    x, missing = _sequence(old_cfg)
    a = run_contexts(old, x, missing, batch_size=4)
    b = run_contexts(new, x, missing, batch_size=4)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    xb, mb = make_batch(3, seed=2, rate=0.3, config=old_cfg)
    torch.testing.assert_close(old(xb, mb).logits, new(xb, mb).logits, rtol=0, atol=0)


def test_perturbed_weights_move_only_the_named_target():
    cfg = small_config(evidence_long=("arousal",), long_context_windows=5)
    model = _model(cfg)
    x, missing = _sequence(cfg)
    base = run_contexts(model, x, missing, batch_size=4).probabilities
    _perturbed(model)
    with torch.no_grad():
        model.evidence_weight.zero_()
    moved = run_contexts(model, x, missing, batch_size=4).probabilities
    k_v, k_a = cfg.targets.index("valence"), cfg.targets.index("arousal")
    np.testing.assert_array_equal(moved[..., k_v], base[..., k_v])
    assert np.abs(moved[..., k_a] - base[..., k_a]).max() > 0.05


def test_the_span_reaches_beyond_the_input_and_masked_tokens_never_enter():
    """Windows outside the model's T-window input but inside the span move the prediction; a masked token's
    values (anywhere in the span) never do, through the analysis' sliding contexts."""
    cfg = small_config(evidence_long=("arousal",), long_context_windows=6)
    model = _perturbed(_model(cfg))
    x, missing = _sequence(cfg, n=24)
    base = run_contexts(model, x, missing, batch_size=4).probabilities
    hidden = x.copy()
    hidden[missing] = 1e3 * np.random.default_rng(3).normal(size=hidden[missing].shape)
    np.testing.assert_array_equal(run_contexts(model, hidden, missing, batch_size=4).probabilities, base)
    nan = x.copy()
    nan[missing] = np.nan
    np.testing.assert_array_equal(run_contexts(model, nan, missing, batch_size=4).probabilities, base)
    # the context of windows 0-3 (T = 4) reads windows up to 3 + 6: a visible token at window 8 moves window 3
    far = x.copy()
    far[:, 8, 0] += 3.0
    moved = run_contexts(model, far, missing, batch_size=4).probabilities
    k_a = cfg.targets.index("arousal")
    assert abs(moved[0, 3, k_a] - base[0, 3, k_a]) > 1e-4
    assert np.array_equal(moved[0, 0:2, k_a], base[0, 0:2, k_a])  # windows 0, 1: 8 is beyond 1 + 6


def test_sequence_long_context_matches_the_whole_sequence_mean_and_ignores_padding():
    cfg = small_config(evidence_long=("arousal",), long_context_windows=3)
    x, missing = _sequence(cfg, n=12)
    n_valid = np.array([12, 9])
    x[1, 9:] = np.nan  # padding past n_valid never enters
    columns = np.asarray(cfg.feature_valid, bool)
    mean, count = sequence_long_context(x, missing, None, np.array([0, 1]), np.array([4, 4]), 4, 3, n_valid, columns)
    for s, last in ((0, 12), (1, 9)):
        used = ~missing[s, :last, :, None] & columns
        ref_m, ref_c = long_context_mean(torch.from_numpy(np.where(used, x[s, :last], 0)[None]),
                                         torch.from_numpy(used[None]), 3)
        torch.testing.assert_close(mean[s], ref_m[0, 4:8])
        torch.testing.assert_close(count[s], ref_c[0, 4:8])


def test_without_long_context_the_input_windows_are_the_span_and_bad_inputs_are_refused():
    cfg = small_config(evidence_long=("arousal",), long_context_windows=2)
    model = _perturbed(_model(cfg))
    x, missing = make_batch(2, seed=4, rate=0.3, config=cfg)
    used = ~missing[..., None] & torch.tensor(cfg.feature_valid)
    own = long_context_mean(torch.where(used, x, torch.zeros(())), used, 2)
    torch.testing.assert_close(model(x, missing).logits, model(x, missing, long_context=own).logits)
    with pytest.raises(ConfigError, match="long_context"):
        model(x, missing, long_context=(own[0],))
    with pytest.raises(ConfigError, match="evidence_long"):
        small_config(evidence_long=("dominance",))
    with pytest.raises(ConfigError, match="evidence_long"):
        small_config(evidence_long=("arousal",), modality_evidence=False)
    with pytest.raises(ConfigError, match="long_context_windows"):
        small_config(evidence_long=("arousal",), long_context_windows=0)


def test_occlusion_passes_see_the_same_long_context_as_the_analysis():
    """The occlusion's probability-only passes on a few windows equal the plain pass there (a context run alone
    would read only its own windows' long-context mean)."""
    from mmqnet_core.model.attribution import _probabilities_where_needed

    cfg = small_config(evidence_long=("arousal",), long_context_windows=6)
    model = _perturbed(_model(cfg))
    x, missing = _sequence(cfg, n=24)
    need = np.zeros(missing.shape[:2], bool)
    need[:, 9:11] = True
    full = run_contexts(model, x, missing, batch_size=4).probabilities
    part = _probabilities_where_needed(model, x, missing, None, need, n_valid=None, batch_size=4, device="cpu",
                                       progress=None, cancel=None)
    np.testing.assert_allclose(part[need], full[need], rtol=0, atol=1e-6)


def test_long_gate_starts_at_one_and_scales_the_long_logits_by_what_the_short_context_lacks():
    """``evidence_long_gate``: zero weights give exactly the ungated model; trained weights scale only the named
    target's long-context logits, by 2 * sigmoid(a + w . share) of the short context's visible shares."""
    cfg = small_config(evidence_long=("arousal",), long_context_windows=5)
    plain = _perturbed(_model(cfg))
    gated = MMQNet.from_config(dataclasses.replace(cfg, evidence_long_gate=True)).eval()
    result = gated.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(result.missing_keys) == ["evidence_long_gate_bias", "evidence_long_gate_weight"]
    xb, mb = make_batch(3, seed=2, rate=0.3, config=cfg)
    with torch.no_grad():
        torch.testing.assert_close(plain(xb, mb).logits, gated(xb, mb).logits, rtol=0, atol=0)
        gated.evidence_long_gate_bias.fill_(-1.0)
        gated.evidence_long_gate_weight.fill_(0.5)
        out_p, out_g = plain(xb, mb), gated(xb, mb)
        k_v, k_a = cfg.targets.index("valence"), cfg.targets.index("arousal")
        assert torch.equal(out_p.logits[..., k_v, :], out_g.logits[..., k_v, :])  # valence untouched
        # the long part alone: the model with the long weights zeroed
        plain_short = _model(cfg)
        plain_short.load_state_dict(plain.state_dict())
        plain_short.evidence_long_weight.zero_()
        short = plain_short(xb, mb).modality_logits
        long_p = out_p.modality_logits - short  # (B, T, G, K, 2)
        long_g = out_g.modality_logits - short
        share = gated._group_share(~mb)  # every feature valid in the small config: used = visible
        scale = 2 * torch.sigmoid(-1.0 + 0.5 * share.sum(-1))  # (B, T)
        torch.testing.assert_close(long_g[..., k_a, :], long_p[..., k_a, :] * scale[:, :, None, None],
                                   rtol=1e-5, atol=1e-6)
    assert float(scale.min()) < 0.99  # the check compares a real scaling
    with pytest.raises(ConfigError, match="evidence_long_gate"):
        small_config(evidence_long_gate=True)
    data = json.loads(dataclasses.replace(cfg, evidence_long_gate=True).to_json())
    del data["evidence_long_gate"]
    assert MMQNetConfig.from_dict(data).evidence_long_gate is False  # configs without the field: off
