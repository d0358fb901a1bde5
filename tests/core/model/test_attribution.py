"""Occlusion attribution: the change of each output when a token or a modality is hidden."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmqnet_core.errors import ConfigError
from mmqnet_core.model import MMQNet
from mmqnet_core.model.attribution import occlusion, occlusion_contexts, occlusion_units

from .conftest import make_batch, small_config


def _model(cfg):
    torch.manual_seed(0)
    return MMQNet.from_config(cfg).eval()


def test_units_by_modality_and_by_token():
    cfg = small_config()
    mods = occlusion_units(cfg, "modality")
    assert [n for n, _ in mods] == ["EEG", "EOG", "GSR", "TEMP"]
    assert mods[0][1].sum() == 6 and mods[2][1].tolist() == [False] * 8 + [True, False]
    toks = occlusion_units(cfg, "token")
    assert [n for n, _ in toks] == list(cfg.names) and all(t.sum() == 1 for _, t in toks)
    with pytest.raises(ConfigError, match="'by': allowed modality, token, got 'window'"):
        occlusion_units(cfg, "window")


def test_occlusion_is_the_change_of_the_forward_with_the_unit_hidden():
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(3, seed=1, rate=0.2, config=cfg)
    missing[1, :, 8] = True  # GSR already missing in sample 1: nothing to take away there
    occ = occlusion(model, x, missing, by="modality")
    assert occ.delta.shape == (4, 3, cfg.n_windows, cfg.n_targets)
    with torch.no_grad():
        base = model(x, missing).probabilities
        hidden = missing.clone()
        hidden[:, :, 6:8] = True  # EOG
        eog = model(x, hidden, allow_empty=True).probabilities
    np.testing.assert_allclose(occ.base, base.numpy(), atol=1e-6)
    np.testing.assert_allclose(occ.delta[1], (eog - base).numpy(), atol=1e-6)
    assert (occ.delta[2, 1] == 0).all() and (occ.delta[2, 0] != 0).any()
    assert occ.importance().shape == (4, cfg.n_targets)


def test_recording_level_occlusion_matches_the_batch_level_one_for_a_single_context():
    cfg = small_config()
    model = _model(cfg)
    x, missing = make_batch(2, seed=2, rate=0.2, config=cfg)
    rec = occlusion_contexts(model, x.numpy(), missing.numpy(), by="token")
    ctx = occlusion(model, x, missing, by="token")
    assert rec.units == ctx.units
    np.testing.assert_allclose(rec.delta, ctx.delta, atol=1e-5)
    np.testing.assert_allclose(rec.base, ctx.base, atol=1e-5)


def test_analysis_attribution_runs_only_the_contexts_it_needs_and_matches_full_passes():
    from mmqnet_core.inference.engine import run_contexts
    from mmqnet_core.model.attribution import analysis_attribution

    cfg = small_config()
    model = _model(cfg)
    rng = np.random.default_rng(3)
    n = 4 * cfg.n_windows + 2  # the last context overlaps the one before it
    x = rng.standard_normal((2, n, cfg.n_tokens, cfg.n_features)).astype(np.float32)
    missing = np.zeros((2, n, cfg.n_tokens), bool)
    missing[0, 5:7, 8] = True  # GSR hidden in a short span of sequence 0 ...
    missing[1, n - 3:, 8] = True  # ... and at the end of sequence 1 (windows covered by two contexts)
    fill = rng.standard_normal(x.shape).astype(np.float32)
    calls = []

    def progress(fraction, message=""):
        calls.append(message)

    att = analysis_attribution(model, x, missing, fill=fill, progress=progress)
    u = att.units.index("GSR")
    full_missing = missing.copy()
    full_missing[..., 8] = False
    xr = np.where(missing[..., None], np.where(np.asarray(cfg.feature_valid)[None, None], fill, 0.0), x)
    p = run_contexts(model, xr.astype(np.float32), full_missing).probabilities
    base = run_contexts(model, x, missing).probabilities
    need = missing[..., 8]
    logit = lambda q: np.log(q) - np.log1p(-q)  # noqa: E731
    np.testing.assert_allclose(att.restoration[u][need], (logit(p) - logit(base))[need], atol=1e-4)
    assert (att.restoration[u][~need] == 0).all() and (att.restoration[att.units.index("EOG")] == 0).all()
    hide = missing.copy()
    hide[..., 6:8] = True
    np.testing.assert_allclose(att.occlusion[att.units.index("EOG")], run_contexts(model, x, hide).probabilities
                               - base, atol=1e-5)
    np.testing.assert_allclose(att.base, base, atol=1e-6)
    assert calls and calls[-1] == "attribution done"
