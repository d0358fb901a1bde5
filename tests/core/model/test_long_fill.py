"""Long-context read-out that fills in what the short context lacks (``evidence_long_fill``, session 10): each
token's long-span logit weighted by its hidden share of windows t-k..t+k, so a complete short context gives
exactly the parent's prediction; saved and loaded with the checkpoint; configs without the field are off."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from mmqnet_core.errors import ConfigError
from mmqnet_core.inference.engine import run_contexts
from mmqnet_core.model import MMQNet, MMQNetConfig, load_checkpoint, save_checkpoint

from .conftest import make_batch, small_config


def _models(seed=0):
    """(plain, fill): the same perturbed weights, the long read-out unweighted / weighted by the hidden share."""
    cfg = small_config(evidence_long=("arousal",), long_context_windows=5)
    torch.manual_seed(seed)
    plain = MMQNet.from_config(cfg).eval()
    g = torch.Generator().manual_seed(seed + 3)
    with torch.no_grad():
        plain.evidence_long_weight.copy_(torch.randn(plain.evidence_long_weight.shape, generator=g))
        plain.evidence_weight.copy_(torch.randn(plain.evidence_weight.shape, generator=g))
    fill = MMQNet.from_config(dataclasses.replace(cfg, evidence_long_fill=True)).eval()
    fill.load_state_dict(plain.state_dict())  # no new parameter: the weighting is fixed
    short = MMQNet.from_config(cfg).eval()  # the parent: the long weights zero
    short.load_state_dict(plain.state_dict())
    with torch.no_grad():
        short.evidence_long_weight.zero_()
    return cfg, plain, fill, short


def test_each_token_speaks_by_its_hidden_share_of_the_short_context():
    cfg, plain, fill, short = _models()
    k_v, k_a = cfg.targets.index("valence"), cfg.targets.index("arousal")
    x, missing = make_batch(4, seed=5, rate=0.4, config=cfg)
    with torch.no_grad():
        base = short(x, missing).modality_logits
        long_p = plain(x, missing).modality_logits - base  # (B, T, G, K, 2) long part, unweighted
        out_f = fill(x, missing)
        long_f = out_f.modality_logits - base
        # reference: the per-token long logits of the plain model times the token's hidden share
        used = ~missing[..., None] & torch.tensor(cfg.feature_valid)
        xe = torch.where(used, x, torch.zeros(()))
        from mmqnet_core.model.mmqnet import long_context_mean
        mean_l, count_l = long_context_mean(xe, used, cfg.long_context_windows)
        mean_l = torch.where((count_l > 0) & torch.tensor(cfg.feature_valid), mean_l, torch.zeros(()))
        z = torch.einsum("btnf,nf->btn", mean_l, plain.evidence_long_weight[..., k_a])  # (B, T, N)
        t = x.shape[1]
        hidden = np.zeros(missing.shape, np.float32)
        for w in range(t):
            lo, hi = max(0, w - cfg.context_windows), min(t, w + cfg.context_windows + 1)
            hidden[:, w] = 1.0 - (~missing[:, lo:hi]).float().sum(1).numpy() / (hi - lo)
        ref = torch.zeros(*z.shape[:2], len(cfg.groups)).index_add(2, fill.group_index, z * torch.from_numpy(hidden))
        torch.testing.assert_close(long_f[..., k_a, 1], 0.5 * ref, rtol=1e-4, atol=1e-5)
        assert torch.equal(out_f.logits[..., k_v, :], short(x, missing).logits[..., k_v, :])  # valence untouched
        assert float((long_f[..., k_a, 1] - long_p[..., k_a, 1]).abs().max()) > 1e-3  # a real reweighting
        assert float(long_f[..., k_a, 1].abs().max()) > 1e-3  # and it does move arousal

        # a short context with every token measured: exactly the parent (nothing to fill in) ...
        complete = torch.zeros_like(missing)
        torch.testing.assert_close(fill(x, complete).logits, short(x, complete).logits, rtol=0, atol=0)
        assert not torch.allclose(plain(x, complete).logits, short(x, complete).logits)  # the unweighted one moves
        # ... and a token hidden over the whole input has no measured long span either: it gives nothing
        gone = complete.clone()
        gone[:, :, 3] = True
        torch.testing.assert_close(fill(x, gone).logits, short(x, gone).logits, rtol=0, atol=0)


def test_the_long_span_fills_a_gap_through_the_analysis_path():
    """With a token hidden over a 6-window gap, windows whose short context holds the gap move (the long span still
    measures that token around the gap); windows far from the gap keep the parent's probabilities exactly."""
    cfg, _, fill, short = _models(seed=1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 30, cfg.n_tokens, cfg.n_features)).astype(np.float32)
    missing = np.zeros(x.shape[:3], bool)
    missing[:, 12:18, 2] = True
    a = run_contexts(fill, x, missing, batch_size=4).probabilities
    b = run_contexts(short, x, missing, batch_size=4).probabilities
    k_v, k_a = cfg.targets.index("valence"), cfg.targets.index("arousal")
    np.testing.assert_array_equal(a[..., k_v], b[..., k_v])
    k = cfg.context_windows
    far = [w for w in range(30) if w + k < 12 or w - k > 17]
    near = [w for w in range(30) if 12 <= w <= 17]
    np.testing.assert_array_equal(a[0, far, k_a], b[0, far, k_a])
    assert np.abs(a[0, near, k_a] - b[0, near, k_a]).min() > 1e-6


def test_config_and_checkpoint_round_trip(tmp_path):
    cfg, _, fill, _ = _models(seed=2)
    assert fill.config.evidence_long_fill is True
    folder = save_checkpoint(fill, tmp_path / "ckpt")
    saved = json.loads((folder / "config.json").read_text())
    assert saved["model_config"]["evidence_long_fill"] is True
    loaded, meta = load_checkpoint(folder)
    assert meta.config.evidence_long_fill is True and loaded.config == fill.config
    x, missing = make_batch(3, seed=7, rate=0.3, config=cfg)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, missing).logits, fill(x, missing).logits, rtol=0, atol=0)
    # configs written before the field existed: off; the option needs the long read-out
    data = json.loads(fill.config.to_json())
    del data["evidence_long_fill"]
    assert MMQNetConfig.from_dict(data).evidence_long_fill is False
    with pytest.raises(ConfigError, match="'evidence_long_fill'.*set evidence_long"):
        small_config(evidence_long_fill=True)


def _vset(cfg, seed=0, n=24):
    """A hand-made validation set: contexts, masks with hidden token-windows, labels that follow arousal's
    direction in the first token's first feature, and the long span of each context's own windows."""
    from mmqnet_core.model.mmqnet import long_context_mean
    from mmqnet_core.training.loop import ValidationSet

    x, missing = make_batch(n, seed=seed, rate=0.4, config=cfg)
    used = ~missing[..., None] & torch.tensor(cfg.feature_valid)
    mean, count = long_context_mean(torch.where(used, x, torch.zeros(())), used, cfg.long_context_windows)
    labels = np.stack([np.zeros(n, np.int64), (x[:, :, 0, 0].mean(1) > 0).numpy().astype(np.int64)], 1)
    batch = {"x": x.numpy(), "missing": missing.numpy(), "feature_valid": used.expand(*x.shape).numpy() | True,
             "labels": labels[:, [cfg.targets.index("valence"), cfg.targets.index("arousal")]],
             "long_mean": mean.numpy(), "long_count": count.numpy()}
    return ValidationSet(batches=[batch])


def test_long_scale_is_the_validation_nll_minimiser_in_zero_one():
    """``training.fit_long_scale``: an over-loud random read-out is shrunk almost to nothing, the factor minimises
    the validation NLL over [0, 1] (checked on a grid) and a read-out without weights is left alone (1)."""
    import torch.nn.functional as F

    from mmqnet_core.training.loop import _long_kwargs, _to_torch, fit_long_scale

    cfg, _, fill, _ = _models(seed=4)
    vset = _vset(cfg)
    with torch.no_grad():
        fill.evidence_long_weight.mul_(20.0)  # loud and random: new subjects would not follow it
    scale = fit_long_scale(fill, vset, torch.device("cpu"))
    k_a = cfg.targets.index("arousal")
    assert 0.0 <= scale[k_a] < 0.2 and scale[cfg.targets.index("valence")] == 1.0
    tb = _to_torch(vset.batches[0], torch.device("cpu"))
    kwargs = dict(allow_empty=True, feature_valid=tb["feature_valid"], **_long_kwargs(tb))
    kept = fill.evidence_long_weight.detach().clone()

    def nll(c: float) -> float:
        with torch.no_grad():
            fill.evidence_long_weight.copy_(kept * c)
            out = fill(tb["x"], tb["missing"], **kwargs)
            fill.evidence_long_weight.copy_(kept)
        keep = ~out.no_context
        y = tb["labels"][:, None, :].expand(*keep.shape, -1)[keep]
        return float(F.cross_entropy(out.logits[keep][:, k_a].float(), y[:, k_a]))

    best = nll(scale[k_a])
    assert all(best <= nll(c) + 1e-6 for c in np.linspace(0, 1, 21))
    with torch.no_grad():  # a read-out that follows the labels' direction is kept (mostly)
        fill.evidence_long_weight.zero_()
        fill.evidence_long_weight[0, 0, k_a] = 2.0
    assert fit_long_scale(fill, vset, torch.device("cpu"))[k_a] > 0.5
    with torch.no_grad():
        fill.evidence_long_weight.zero_()
    assert fit_long_scale(fill, vset, torch.device("cpu")) == [1.0, 1.0]
