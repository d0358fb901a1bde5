"""Contract tests of MMQNet, parametrised over every model variant (STYLE.md §12)."""

from __future__ import annotations


import pytest
import torch

from mmqnet_core.errors import ConfigError, MaskError
from mmqnet_core.model import MMQNet, binarize, mmqnet_loss

from .conftest import N_FEATURES, N_WINDOWS, VALID, make_batch, small_config

FAMILY_SWITCH = {"modality": "use_modality_queries", "interference": "use_interference_queries"}


def _model(cfg, seed=0):
    torch.manual_seed(seed)
    return MMQNet.from_config(cfg).eval()


def _all_outputs(out) -> dict[str, torch.Tensor]:
    tensors = {k: getattr(out, k) for k in ("logits", "regression", "recon", "interference", "artifact_logits",
                                            "category_features", "interference_features")}
    tensors.update({f"attention.{k}": v for k, v in (out.attention or {}).items()})
    return {k: v for k, v in tensors.items() if v is not None}


def test_output_shapes(variant):
    cfg = variant
    model = _model(cfg)
    b, t, n, f = 3, N_WINDOWS, cfg.n_tokens, N_FEATURES
    x, missing = make_batch(b, config=cfg)
    out = model(x, missing, return_attention=True)
    k, a = cfg.n_targets, len(cfg.artifact_types)
    assert out.logits.shape == (b, t, k, 2)
    assert out.probabilities.shape == (b, t, k)
    assert out.no_context.shape == (b, t) and out.no_context.dtype == torch.bool
    assert out.category_features.shape == (b, t, k, cfg.d_model)
    assert (out.regression is None) == (not cfg.regression)
    if cfg.regression:
        assert out.regression.shape == (b, t, k)
        assert ((out.regression > 1) & (out.regression < 9)).all()
    assert (out.recon is None) == (not cfg.use_modality_queries)
    if out.recon is not None:
        assert out.recon.shape == (b, t, n, f)
        invalid = ~torch.tensor(VALID)
        assert (out.recon[..., invalid] == 0).all()  # undefined feature columns are never "reconstructed"
    assert (out.interference is None) == (not cfg.use_interference_queries)
    if out.interference is not None:
        assert out.interference.shape == (b, t)
        assert out.artifact_logits.shape == (b, t, a)
        assert out.interference_features.shape == (b, t, cfg.d_model)
    families = {"category"} | {f for f, s in FAMILY_SWITCH.items() if getattr(cfg, s)}
    assert set(out.attention) == families
    n_queries = {"modality": t * n, "interference": t * cfg.n_interference_queries,
                 "category": t * cfg.n_category_queries if cfg.use_category_queries else t}
    for family, w in out.attention.items():
        assert w.shape == (b, n_queries[family], t * n), family
    for name, tensor in _all_outputs(out).items():
        assert torch.isfinite(tensor).all(), name
    assert model(x, missing).attention is None


def test_missing_and_invalid_values_never_reach_any_output(variant):
    model = _model(variant)
    x, missing = make_batch(4, seed=1, rate=0.4, config=variant)
    ref = _all_outputs(model(x, missing, return_attention=True))
    changed = x.clone()
    changed[missing] = torch.randn(int(missing.sum()), N_FEATURES) * 100.0
    changed[tuple(missing.nonzero()[0].tolist())] = float("nan")  # NaN in a missing token is fine too
    invalid = ~torch.tensor(VALID)
    changed[..., invalid] = 1e6  # undefined feature columns are ignored as well
    got = _all_outputs(model(changed, missing, return_attention=True))
    assert got.keys() == ref.keys()
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], atol=1e-6, rtol=0, msg=name)
    # ...while changing a visible token does change the predictions
    visible = tuple((~missing).nonzero()[0].tolist())
    changed[visible] += 3.0
    assert not torch.allclose(model(changed, missing).logits, ref["logits"])


def test_attention_is_a_distribution_over_visible_keys_in_context(variant):
    cfg = variant
    model = _model(cfg)
    x, missing = make_batch(2, seed=2, rate=0.4, config=cfg)
    out = model(x, missing, return_attention=True)
    b, t, n = missing.shape
    key_missing = missing.reshape(b, 1, t * n)
    key_window = torch.arange(t).repeat_interleave(n)  # (L,) window of every key
    reads_reconstructions = cfg.fusion == "mmq" and cfg.use_modality_queries
    for family, w in out.attention.items():
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:2]), msg=family)
        if family == "modality" or not reads_reconstructions:
            assert (w.masked_select(key_missing.expand_as(w)) == 0).all(), family
        else:  # fusion "mmq": missing tokens are read through their reconstructed states
            assert (w.masked_select(key_missing.expand_as(w)) > 0).any(), family
        query_window = torch.arange(t).repeat_interleave(w.shape[1] // t)  # (Q,) window of every query
        k = {"modality": cfg.recon_context_windows, "category": cfg.context_windows,
             "interference": cfg.context_windows}[family]
        if family == "category" and not cfg.use_category_queries:
            k = 0  # the pooled ablation reads its own window only
        if k is not None:
            far = (query_window[:, None] - key_window[None, :]).abs() > k  # (Q, L)
            assert (w[:, far] == 0).all(), family
    if "modality" in out.attention:  # a modality query never attends to the token it reconstructs
        assert (torch.diagonal(out.attention["modality"], dim1=1, dim2=2) == 0).all()


def test_category_queries_never_read_interference_queries():
    cfg = small_config(fusion="legacy")
    model = _model(cfg)
    x, missing = make_batch(2, config=cfg)
    ref = model(x, missing)
    with torch.no_grad():
        model.interference_queries.add_(torch.randn_like(model.interference_queries))
    out = model(x, missing)
    torch.testing.assert_close(out.logits, ref.logits, atol=0, rtol=0)
    torch.testing.assert_close(out.recon, ref.recon, atol=0, rtol=0)
    assert not torch.allclose(out.interference, ref.interference)


def test_window_without_visible_context_is_flagged_and_finite():
    cfg = small_config(context_windows=0)
    model = _model(cfg)
    x, missing = make_batch(2, config=cfg)
    missing[0, 2] = True  # window 2 of sample 0 has no data at all
    out = model(x, missing, return_attention=True)
    assert out.no_context.tolist() == [[False, False, True, False], [False] * 4]
    for name, tensor in _all_outputs(out).items():
        assert torch.isfinite(tensor).all(), name
    q = cfg.n_category_queries
    assert (out.attention["category"][0, 2 * q:3 * q] == 0).all()  # attends nowhere rather than NaN
    # its prediction is the learned prior: the same whatever the other windows contain
    other = x.clone()
    other[0, [0, 1, 3]] += 5.0
    torch.testing.assert_close(model(other, missing).logits[0, 2], out.logits[0, 2])


def test_every_token_masked_is_refused_or_gives_priors():
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(3, config=cfg)
    missing[1] = True
    with pytest.raises(MaskError, match="Every token of sample 1 is missing or masked.*unmask at least one channel"):
        model(x, missing)
    out = model(x, missing, allow_empty=True)
    assert out.no_context[1].all() and not out.no_context[0].any()
    for name, tensor in _all_outputs(out).items():
        assert torch.isfinite(tensor).all(), name


def test_bad_inputs_are_named():
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(2, config=cfg)
    bad = x.clone()
    bad[1, 2, 7, 0] = float("nan")
    missing[1, 2, 7] = False
    with pytest.raises(ConfigError, match="NaN/infinite value.*sample 1, window 2, token 'vEOG', feature 0"):
        model(bad, missing)
    with pytest.raises(ConfigError, match=r"tokens=9, features=6\) do not fit this model.*tokens=10"):
        model(x[:, :, :9], missing[:, :, :9])
    with pytest.raises(ConfigError, match=r"windows 1..4"):
        model(torch.cat([x, x], 1), torch.cat([missing, missing], 1))
    with pytest.raises(ConfigError, match="'missing': expected a bool tensor of shape"):
        model(x, missing.float())


def test_shorter_context_than_configured_works():
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(2, config=cfg)
    out = model(x[:, :2], missing[:, :2])
    assert out.logits.shape == (2, 2, cfg.n_targets, 2)


def test_dropout_only_in_training_mode():
    cfg = small_config(dropout=0.5)
    model = _model(cfg)
    x, missing = make_batch(2, config=cfg)
    torch.testing.assert_close(model(x, missing).logits, model(x, missing).logits)
    model.train()
    assert not torch.allclose(model(x, missing).logits, model(x, missing).logits)


def test_tiny_overfit_loss_drops_clearly():
    """A few dozen steps on one toy batch: every loss term the model has must fall."""
    cfg = small_config(regression=True)
    torch.manual_seed(0)
    model = MMQNet(cfg).train()
    x, missing = make_batch(8, seed=3, rate=0.2, config=cfg)
    hidden = torch.rand(missing.shape, generator=torch.Generator().manual_seed(4)) < 0.25
    hidden &= ~missing  # extra random masking (masked-autoencoder style): these have ground truth
    scores = torch.rand(8, cfg.n_targets, generator=torch.Generator().manual_seed(5)) * 8 + 1
    interference = torch.rand(8, N_WINDOWS, generator=torch.Generator().manual_seed(6))
    artifacts = torch.rand(8, N_WINDOWS, len(cfg.artifact_types), generator=torch.Generator().manual_seed(7)) > 0.7
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    history = []
    for _ in range(60):
        out = model(x, missing | hidden)
        total, terms = mmqnet_loss(
            out, labels=binarize(scores), scores=scores, target=x, recon_mask=hidden,
            feature_valid=model.feature_valid, interference=interference, artifacts=artifacts,
        )
        opt.zero_grad()
        total.backward()
        opt.step()
        history.append({k: float(v) for k, v in terms.items()})
    first, last = history[0], history[-1]
    assert set(first) == {"classification", "regression", "reconstruction", "interference", "decorrelation"}
    for term in ("classification", "regression", "reconstruction", "interference"):
        assert last[term] < 0.6 * first[term], (term, first[term], last[term])
    model.eval()
    predicted = model(x, missing | hidden).logits.argmax(-1)  # (B, T, K)
    assert (predicted == binarize(scores)[:, None, :]).float().mean() > 0.9


@pytest.mark.parametrize("fusion", ["mmq", "legacy"])
def test_reconstructing_a_subset_matches_the_full_reconstruction(fusion):
    cfg = small_config(recon_context_windows=1, n_dec_layers=2, fusion=fusion)
    model = _model(cfg)
    x, missing = make_batch(3, seed=8, rate=0.3, config=cfg)
    full = model(x, missing, return_attention=True)
    wanted = missing.clone()
    wanted[2] = False  # a sample with nothing to reconstruct
    wanted[0, 1, 3] = True  # a visible token may be asked for as well
    sub = model(x, missing, return_attention=True, recon_tokens=wanted)
    torch.testing.assert_close(sub.recon[wanted], full.recon[wanted], atol=1e-6, rtol=1e-5)
    assert (sub.recon[~wanted] == 0).all()
    rows = wanted.reshape(3, -1)
    torch.testing.assert_close(sub.attention["modality"][rows], full.attention["modality"][rows], atol=1e-6, rtol=0)
    assert (sub.attention["modality"][~rows] == 0).all()
    # other families untouched (fusion "mmq": they read the missing tokens' reconstructions, decoded in both
    # calls but in batches of another size, hence float rounding)
    torch.testing.assert_close(sub.logits, full.logits, atol=0 if cfg.fusion == "legacy" else 1e-6, rtol=0)
    with pytest.raises(ConfigError, match="'recon_tokens': expected a bool tensor of shape \\(3, 4, 10\\)"):
        model(x, missing, recon_tokens=wanted[:, :2])


def test_attention_of_chosen_families_only():
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(2, config=cfg)
    out = model(x, missing, return_attention=("category", "interference"))
    assert set(out.attention) == {"category", "interference"}
    full = model(x, missing, return_attention=True)
    torch.testing.assert_close(out.attention["category"], full.attention["category"])
    with pytest.raises(ConfigError, match=r"unknown famil\(ies\) \['emotion'\]"):
        model(x, missing, return_attention=["emotion"])


def test_float64_features_give_the_same_result():
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(2, config=cfg)
    torch.testing.assert_close(model(x.double(), missing).logits, model(x, missing).logits)
