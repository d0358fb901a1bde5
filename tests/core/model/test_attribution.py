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
