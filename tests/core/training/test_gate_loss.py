"""Supervised interference gate (``w_gate``, off by default): a multiple-instance loss from window-level labels."""

from __future__ import annotations

import numpy as np
import torch

from mmqnet_core.training import TrainConfig, prepare
from mmqnet_core.training.loop import compute_loss, gate_loss, make_batch

from .conftest import toy_corpus

TINY = dict(d_model=32, n_heads=2, n_enc_layers=1, n_windows=4, batch_size=16, folds=2)


def test_gate_loss_scores_the_largest_measured_gate_of_each_window():
    gate = torch.full((1, 2, 3), 0.05)
    missing = torch.zeros(1, 2, 3, dtype=torch.bool)
    artifacts = torch.zeros(1, 2, 2)
    artifacts[0, 0, 1] = 1.0  # window 0 has an artifact, window 1 is clean
    known = torch.ones(1, 2, dtype=torch.bool)
    low = gate_loss(gate, missing, artifacts, known)
    high = gate.clone()
    high[0, 0, 2] = 0.95  # one token of the artifact window claimed
    assert gate_loss(high, missing, artifacts, known) < low - 1.0
    hidden = missing.clone()
    hidden[0, 0, 2] = True  # ... but that token is not measured: it does not count
    torch.testing.assert_close(gate_loss(high, hidden, artifacts, known), low)
    wrong = gate.clone()
    wrong[0, 1, 0] = 0.95  # a claimed token in the clean window costs
    assert gate_loss(wrong, missing, artifacts, known) > low + 1.0
    unknown = torch.tensor([[False, True]])  # no ground truth for window 0: only window 1 counts
    torch.testing.assert_close(gate_loss(high, missing, artifacts, unknown), gate_loss(gate, missing, artifacts, unknown))


def test_gate_loss_is_off_by_default_and_reaches_the_interference_family_when_on():
    corpus = toy_corpus()
    cfg = TrainConfig(**TINY)
    assert cfg.w_gate == 0.0
    from mmqnet_core.model import MMQNet, MMQNetConfig
    from mmqnet_core.model.normalization import Normalizer

    data = prepare(corpus, Normalizer.fit(corpus.X, corpus.missing), normalization="subject")
    batch = make_batch(data, np.arange(8), np.zeros(8, np.int64), 4, cfg, np.random.default_rng(0), pairs=False)
    tb = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}
    torch.manual_seed(0)
    model = MMQNet.from_config(MMQNetConfig.for_layout(
        [type("T", (), {"name": n, "modality": m})() for n, m in zip(corpus.token_names, corpus.token_modalities)],
        corpus.valid, **cfg.model_kwargs()))
    fv = torch.as_tensor(np.asarray(corpus.valid, bool))
    out = model(tb["x"], tb["missing"], feature_valid=tb["feature_valid"], recon_tokens=tb["recon_mask"])
    _, terms = compute_loss(out, tb, cfg, fv)
    assert "gate" not in terms
    on = TrainConfig(w_gate=1.0, **TINY)
    loss, terms = compute_loss(out, tb, on, fv)
    assert terms["gate"] > 0
    model.zero_grad()
    terms_only = gate_loss(out.interference_gate, tb["missing"], tb["artifacts"], tb["artifact_known"])
    terms_only.backward()
    assert float(model.compete_query.weight.grad.abs().sum()) > 0  # the competition learns from it
    assert model.class_head.weight.grad is None  # and nothing of the emotion heads
