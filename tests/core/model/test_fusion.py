"""Every query family shapes the prediction (fusion "mmq"); feature-level missingness; legacy checkpoints."""

from __future__ import annotations

import json

import pytest
import torch

from mmqnet_core.errors import ConfigError
from mmqnet_core.model import MMQNet, MMQNetConfig, binarize, mmqnet_loss

from .conftest import N_FEATURES, VALID, make_batch, small_config

#: Parameters that belong to each family (prefixes of the state-dict names).
FAMILY_PARAMETERS = {
    "modality": ("modality_queries", "modality_decoder.", "modality_norm.", "mask_token"),
    "interference": ("interference_queries", "interference_decoder.", "interference_norm.", "compete_"),
    "category": ("category_queries", "category_decoder."),
}


def _model(cfg, seed=0):
    torch.manual_seed(seed)
    return MMQNet.from_config(cfg).eval()


def _scramble(model: MMQNet, family: str, seed: int = 1) -> list[str]:
    """Replace every weight of a family by fresh random values; return the names touched."""
    g = torch.Generator().manual_seed(seed)
    touched = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(FAMILY_PARAMETERS[family]):
                p.copy_(torch.randn(p.shape, generator=g) * max(float(p.std()), 0.1) if p.numel() > 1
                        else torch.randn(p.shape, generator=g))
                touched.append(name)
    return touched


@pytest.mark.parametrize("family", list(FAMILY_PARAMETERS))
def test_perturbing_each_familys_weights_changes_the_logits(family):
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(3, seed=11, rate=0.4, config=cfg)
    ref = model(x, missing).logits
    touched = _scramble(model, family)
    assert touched, family
    delta = (model(x, missing).logits - ref).abs().max().item()
    assert delta > 1e-3, (family, delta)


@pytest.mark.parametrize("family", ["modality", "interference"])
def test_legacy_fusion_keeps_the_prediction_to_category_queries(family):
    """How checkpoints written before were built: the two families could not change a prediction."""
    cfg = small_config(fusion="legacy")
    model = _model(cfg)
    x, missing = make_batch(3, seed=11, rate=0.4, config=cfg)
    ref = model(x, missing).logits
    assert _scramble(model, family)
    assert (model(x, missing).logits - ref).abs().max().item() == 0.0


def test_reconstruction_of_a_missing_token_reaches_the_prediction():
    """Hiding a token changes the prediction through its reconstruction: with modality queries the result
    depends on the other tokens that imply it, without them it does not."""
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(2, seed=3, rate=0.0, config=cfg)
    missing[:, :, 0] = True  # token 0 missing everywhere: only its reconstruction can speak for it
    ref = model(x, missing)
    with torch.no_grad():
        model.recon_head.weight.add_(1.0)  # the reconstruction head is a side output: no effect on logits
    torch.testing.assert_close(model(x, missing).logits, ref.logits, atol=0, rtol=0)
    with torch.no_grad():
        # the query that decodes token 0; a random direction (adding a constant to every element would be
        # removed by the LayerNorms and change nothing)
        q = model.modality_queries[cfg.group_index[0]]
        q.add_(torch.randn(q.shape, generator=torch.Generator().manual_seed(2)))
    assert (model(x, missing).logits - ref.logits).abs().max().item() > 1e-3


def test_every_parameter_gets_a_gradient_mask_token_included():
    cfg = small_config()
    torch.manual_seed(0)
    model = MMQNet(cfg).train()
    x, missing = make_batch(4, seed=5, rate=0.4, config=cfg)
    feature_valid = torch.rand(x.shape, generator=torch.Generator().manual_seed(6)) > 0.2
    hidden = torch.rand(missing.shape, generator=torch.Generator().manual_seed(7)) < 0.2
    hidden &= ~missing
    scores = torch.rand(4, cfg.n_targets, generator=torch.Generator().manual_seed(8)) * 8 + 1
    out = model(x, missing | hidden, feature_valid=feature_valid)
    total, _ = mmqnet_loss(out, labels=binarize(scores), target=x, recon_mask=hidden,
                           feature_valid=model.feature_valid, interference=torch.rand(4, x.shape[1]),
                           artifacts=torch.rand(4, x.shape[1], len(cfg.artifact_types)) > 0.5)
    total.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not bool((p.grad != 0).any())]
    assert no_grad == [], no_grad


def test_without_modality_queries_there_is_no_mask_token():
    assert not hasattr(_model(small_config(use_modality_queries=False)), "mask_token")
    assert hasattr(_model(small_config(use_modality_queries=False, fusion="legacy")), "mask_token")


def test_interference_gate_is_a_share_per_token_and_down_weights_keys(monkeypatch):
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(2, seed=2, rate=0.0, config=cfg)
    out = model(x, missing, return_attention=True)
    gate = out.interference_gate
    assert gate.shape == missing.shape and ((gate > 0) & (gate < 1)).all()
    assert _model(small_config(fusion="legacy"))(x, missing).interference_gate is None

    def claimed(token):  # the interference queries claim one token entirely, nothing else
        def competition(interference_q, category_q, memory):
            g = torch.zeros(memory.shape[:3])
            g[:, :, token] = 1.0
            return g
        return competition

    monkeypatch.setattr(model, "_competition", claimed(3))
    att = model(x, missing, return_attention=True).attention["category"]  # (B, T*Q, L)
    n = cfg.n_tokens
    key_token = torch.arange(att.shape[-1]) % n
    assert att[..., key_token == 3].max() < 1e-3  # the claimed token no longer reaches the category queries
    assert out.attention["category"][..., key_token == 3].max() > 1e-2
    torch.testing.assert_close(att.sum(-1), torch.ones(att.shape[:2]))  # the others share the attention


def test_invalid_features_are_ignored_and_announced():
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(2, seed=4, rate=0.2, config=cfg)
    fv = torch.ones(x.shape, dtype=torch.bool)
    visible = (~missing).nonzero()[0].tolist()
    fv[visible[0], visible[1], visible[2], 1] = False  # one band of one visible token rejected
    changed = x.clone()
    changed[visible[0], visible[1], visible[2], 1] = float("nan")  # its value may be anything, NaN included
    with pytest.raises(ConfigError, match="NaN/infinite.*'feature_valid'"):
        model(changed, missing)
    a = model(changed, missing, feature_valid=fv).logits
    changed[visible[0], visible[1], visible[2], 1] = 123.0
    b = model(changed, missing, feature_valid=fv).logits
    torch.testing.assert_close(a, b, atol=0, rtol=0)  # the invalid value never reaches the output
    zeroed = x.clone()
    zeroed[visible[0], visible[1], visible[2], 1] = 0.0
    # "missing" differs from "measured 0": the learned per-feature vector tells the embedding
    assert not torch.allclose(model(zeroed, missing).logits, a)
    # all features of the (default) full validity: same as passing nothing
    torch.testing.assert_close(model(x, missing, feature_valid=torch.ones_like(fv)).logits, model(x, missing).logits)


def test_a_token_without_valid_features_counts_as_missing():
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(2, seed=4, rate=0.2, config=cfg)
    missing[0, 1, 2] = False
    fv = torch.ones(x.shape, dtype=torch.bool)
    fv[0, 1, 2] = False
    as_missing = missing.clone()
    as_missing[0, 1, 2] = True
    torch.testing.assert_close(model(x, missing, feature_valid=fv).logits, model(x, as_missing).logits)
    with pytest.raises(ConfigError, match=r"'feature_valid': expected None or a bool tensor of shape"):
        model(x, missing, feature_valid=fv[..., :2])


def test_temperature_divides_the_logits_and_round_trips():
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(2, config=cfg)
    ref = model(x, missing).logits
    model.set_temperature([2.0, 0.5])
    got = model(x, missing).logits
    torch.testing.assert_close(got[..., 0, :], ref[..., 0, :] / 2.0)
    torch.testing.assert_close(got[..., 1, :], ref[..., 1, :] / 0.5)
    again = MMQNet.from_config(MMQNetConfig.from_json(model.get_config().to_json()))
    again.load_state_dict(model.state_dict())
    torch.testing.assert_close(again.eval()(x, missing).logits, got)
    with pytest.raises(ConfigError, match="'temperature'"):
        small_config(temperature=(1.0,))


def test_configs_without_the_fusion_field_are_legacy():
    data = json.loads(small_config().to_json())
    assert data["fusion"] == "mmq"
    del data["fusion"], data["temperature"]
    old = MMQNetConfig.from_dict(data)
    assert old.fusion == "legacy" and old.temperature == ()
    with pytest.raises(ConfigError, match="'fusion': allowed mmq, legacy"):
        small_config(fusion="late")


def test_shipped_legacy_checkpoint_still_loads():
    from pathlib import Path

    from mmqnet_core.model import load_checkpoint

    folder = Path(__file__).resolve().parents[3] / "resources" / "checkpoint"
    model, meta = load_checkpoint(folder)
    assert meta.config.fusion in ("mmq", "legacy")
    x = torch.zeros(1, 2, meta.config.n_tokens, meta.config.n_features)
    missing = torch.zeros(1, 2, meta.config.n_tokens, dtype=torch.bool)
    assert torch.isfinite(model(x, missing).logits).all()
    assert VALID and N_FEATURES  # the shared layout of the other tests is untouched


@pytest.mark.parametrize("family", list(FAMILY_PARAMETERS))
def test_every_family_of_the_shipped_checkpoint_shapes_its_prediction(family):
    """The checkpoint the app loads is fused: scrambling any family's weights moves its logits (the legacy
    checkpoint shipped before session 4 gave exactly 0.0 for the modality and interference families)."""
    from pathlib import Path

    from mmqnet_core.model import load_checkpoint

    model, meta = load_checkpoint(Path(__file__).resolve().parents[3] / "resources" / "checkpoint")
    model = model.eval()
    assert meta.config.fusion == "mmq" and meta.config.channel_embedding
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, meta.config.n_tokens, meta.config.n_features, generator=g)
    missing = torch.rand(2, 4, meta.config.n_tokens, generator=g) < 0.4
    missing[:, :, 0] = True  # a hidden token for the modality family to reconstruct
    with torch.no_grad():
        ref = model(x, missing).logits
        assert _scramble(model, family)
        delta = (model(x, missing).logits - ref).abs().max().item()
    assert delta > 1e-3, (family, delta)
