"""Warm start from a checkpoint, the drop-out curriculum, the constant LR schedule, and a one-batch overfit check
of both fusions (the fused read-out must be able to fit what the legacy one fits)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mmqnet_core.errors import ConfigError
from mmqnet_core.model import MMQNet, MMQNetConfig
from mmqnet_core.model.checkpoint import load_checkpoint
from mmqnet_core.model.normalization import Normalizer
from mmqnet_core.training import TrainConfig, prepare, train
from mmqnet_core.training.loop import _Tok, _to_torch, compute_loss, lr_at, make_batch, ramped, warm_start

from .conftest import toy_corpus

TINY = dict(d_model=32, n_heads=2, n_enc_layers=1, n_windows=4, batch_size=16, folds=2)


def test_constant_schedule_keeps_the_peak_after_warm_up():
    assert lr_at(0, 100, 1.0, 10, "constant") == pytest.approx(0.1)
    assert lr_at(99, 100, 1.0, 10, "constant") == pytest.approx(1.0)
    assert lr_at(99, 100, 1.0, 10, "cosine") == pytest.approx(0.05, abs=1e-3)
    with pytest.raises(ConfigError, match="'lr_schedule': allowed cosine, constant, got 'step'"):
        TrainConfig(lr_schedule="step")


def test_curriculum_ramps_modality_dropout_and_consistency():
    cfg = TrainConfig(modality_dropout=0.6, w_consistency=2.0, augment_ramp_steps=100)
    assert ramped(cfg, 0).modality_dropout == 0.0 and ramped(cfg, 0).w_consistency == 0.0
    assert ramped(cfg, 50).modality_dropout == pytest.approx(0.3)
    assert ramped(cfg, 50).w_consistency == pytest.approx(1.0)
    assert ramped(cfg, 100) is cfg and ramped(TrainConfig(), 0) == TrainConfig()
    with pytest.raises(ConfigError, match="augment_ramp_steps"):
        TrainConfig(augment_ramp_steps=-1)


def test_warm_start_copies_matching_weights_from_a_legacy_checkpoint(tmp_path):
    corpus = toy_corpus(n_subjects=3, n_trials=3)
    legacy = train(corpus, TrainConfig(epochs=1, fusion="legacy", **TINY), run_dir=tmp_path / "legacy")
    cfg = TrainConfig(epochs=1, fusion="mmq", init_from=str(tmp_path / "legacy" / "checkpoint"), lr=1e-9,
                      warmup_steps=0, **TINY)
    fresh = MMQNet.from_config(dataclasses.replace(legacy.model.config, fusion="mmq"))
    copied, kept = warm_start(fresh, cfg.init_from)
    old = legacy.model.state_dict()
    assert set(kept) == {k for k in fresh.state_dict() if k not in old}  # only the new parts stay at init
    assert any(k.startswith("compete_") for k in kept) and "feature_missing" in kept
    assert {k for k in copied if k.startswith("encoder.")} and "class_head.weight" in copied
    for k in copied:
        torch.testing.assert_close(fresh.state_dict()[k], old[k], msg=k)
    # through train(): the run starts from those weights (lr ~0 keeps them) and records where it started
    run = train(corpus, cfg, run_dir=tmp_path / "warm")
    torch.testing.assert_close(run.model.state_dict()["encoder.0.attn.to_q.weight"],
                               old["encoder.0.attn.to_q.weight"])
    assert "warm start from" in (tmp_path / "warm" / "train.log").read_text()
    _, meta = load_checkpoint(tmp_path / "warm" / "checkpoint")
    assert meta.extra["train_config"]["init_from"] == cfg.init_from


def test_warm_start_refuses_a_checkpoint_that_fits_nothing(tmp_path):
    small = toy_corpus(n_subjects=3, n_trials=3)
    train(small, TrainConfig(epochs=1, **TINY), run_dir=tmp_path / "a")
    wide = MMQNet.from_config(train(small, TrainConfig(epochs=1, **{**TINY, "d_model": 16, "n_heads": 2}),
                                    ).model.config)
    with pytest.raises(ConfigError, match="no weight of .* fits this model"):
        warm_start(wide, tmp_path / "a" / "checkpoint")


@pytest.mark.parametrize("fusion", ["legacy", "mmq"])
def test_one_batch_overfits_with_either_read_out(fusion):
    """The classification path of each fusion can fit one fixed batch (with the full augmentation: simulated
    missingness, modality drop-outs, paired views): a read-out that blocks the signal cannot (checked: zeroing
    every cross-attention output makes this fail)."""
    corpus = toy_corpus(n_subjects=3, n_trials=6, seed=3)
    cfg = TrainConfig(fusion=fusion, drop_path=0.0, **TINY)
    data = prepare(corpus, Normalizer.fit(corpus.X, corpus.missing), normalization="subject")
    # labels independent of the data: only memorisation fits them, through every part of the read-out
    rng = np.random.default_rng(0)
    idx = np.arange(16)
    batch = make_batch(data, idx, np.zeros(16, np.int64), 4, cfg, rng)
    batch["labels"] = rng.integers(0, 2, batch["labels"].shape)
    batch["labels"][8:] = batch["labels"][:8]  # paired views share their labels
    tb = _to_torch(batch, "cpu")
    torch.manual_seed(0)
    model = MMQNet(MMQNetConfig.for_layout([_Tok(n, m) for n, m in zip(corpus.token_names, corpus.token_modalities)],
                                           corpus.valid, **cfg.model_kwargs())).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    fv = torch.as_tensor(corpus.valid)
    for _ in range(60):
        out = model(tb["x"], tb["missing"], recon_tokens=tb["recon_mask"], feature_valid=tb["feature_valid"])
        loss, _ = compute_loss(out, tb, cfg, fv)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(tb["x"], tb["missing"], feature_valid=tb["feature_valid"])
    keep = ~out.no_context  # (B, T)
    right = (out.logits.argmax(-1) == tb["labels"][:, None, :])[keep]  # (M, K)
    assert right.float().mean() > 0.95, right.float().mean(0)
