"""Loss terms: each scores what it should and ignores what it should not."""

from __future__ import annotations

import math

import pytest
import torch

from mmqnet_core.errors import ConfigError
from mmqnet_core.model import (
    LossWeights,
    MMQNet,
    binarize,
    classification_loss,
    decorrelation_loss,
    interference_loss,
    mmqnet_loss,
    reconstruction_loss,
    regression_loss,
)

from .conftest import make_batch, small_config


def test_binarize_threshold_and_unknown():
    scores = torch.tensor([1.0, 4.99, 5.0, 9.0, float("nan")])
    assert binarize(scores).tolist() == [0, 0, 1, 1, -1]


def test_reconstruction_scores_only_masked_valid_entries():
    target = torch.zeros(1, 2, 3, 2)
    recon = torch.zeros(1, 2, 3, 2)
    recon[0, 0, 0] = torch.tensor([2.0, 100.0])  # masked token; column 1 invalid for token 0
    recon[0, 1, 2] = 50.0  # visible token: not scored
    target[0, 1, 1] = float("nan")  # NaN target of a token that is not scored is harmless
    mask = torch.zeros(1, 2, 3, dtype=torch.bool)
    mask[0, 0, 0] = mask[0, 0, 1] = True
    valid = torch.tensor([[True, False], [True, True], [True, True]])
    # scored entries: (0,0,0,col0) err 2 -> 4; (0,0,1, col0/col1) err 0 -> mean = 4 / 3
    assert reconstruction_loss(recon, target, mask, valid).item() == pytest.approx(4 / 3)
    empty = reconstruction_loss(recon.requires_grad_(), target, torch.zeros_like(mask), valid)
    assert empty.item() == 0.0
    empty.backward()  # still part of the graph


def test_classification_ignores_unknown_labels_and_weighted_windows():
    logits = torch.zeros(1, 2, 1, 2)
    logits[0, 0, 0] = torch.tensor([0.0, 4.0])
    labels = torch.tensor([[[1], [-1]]])
    expected = -torch.log_softmax(torch.tensor([0.0, 4.0]), 0)[1]
    assert classification_loss(logits, labels).item() == pytest.approx(expected.item(), rel=1e-6)
    per_sample = classification_loss(logits, torch.tensor([[1]]))  # one label per sample -> every window
    assert per_sample.item() == pytest.approx((expected.item() + math.log(2)) / 2, rel=1e-6)
    weighted = classification_loss(logits, torch.tensor([[1]]), weight=torch.tensor([[0.0, 1.0]]))
    assert weighted.item() == pytest.approx(math.log(2), rel=1e-6)


def test_regression_and_interference_terms():
    pred = torch.full((1, 2, 2), 5.0)
    assert regression_loss(pred, torch.tensor([[9.0, float("nan")]])).item() == pytest.approx(1.0)
    logit = torch.tensor([[0.0, 10.0]])
    low = interference_loss(logit, torch.tensor([[0.5, 1.0]]))
    high = interference_loss(logit, torch.tensor([[0.5, 0.0]]))
    assert low.item() < high.item()
    with_types = interference_loss(logit, torch.tensor([[0.5, 1.0]]), torch.zeros(1, 2, 3), torch.ones(1, 2, 3))
    assert with_types.item() == pytest.approx(low.item() + math.log(2), rel=1e-5)


def test_decorrelation_is_high_for_dependent_and_low_for_independent_features():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(16, 8, 2, 4, generator=g)  # (B, T, K, D)
    independent = torch.randn(16, 8, 4, generator=g)
    dependent = a[:, :, 0, :] * 2 + 0.01 * independent
    assert decorrelation_loss(a, independent).item() < 0.03
    assert decorrelation_loss(a, dependent).item() > 0.1
    assert decorrelation_loss(a[:1, :1], dependent[:1, :1]).item() == 0.0  # one window: nothing to correlate


def test_mmqnet_loss_uses_what_the_model_and_targets_offer():
    cfg = small_config(use_interference_queries=False)
    model = MMQNet(cfg)
    x, missing = make_batch(2, config=cfg)
    out = model(x, missing)
    total, terms = mmqnet_loss(out, labels=torch.tensor([[1, 0], [0, 1]]), interference=torch.rand(2, 4))
    assert set(terms) == {"classification"}  # no interference family -> no interference/decorrelation term
    assert total.requires_grad
    with pytest.raises(ConfigError, match="mmqnet_loss got no targets"):
        mmqnet_loss(out, interference=torch.rand(2, 4))
    with pytest.raises(ConfigError, match="loss weight 'decorrelation': must be >= 0, got -1"):
        LossWeights(decorrelation=-1)
