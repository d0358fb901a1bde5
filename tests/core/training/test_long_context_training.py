"""Training with the long-context evidence read-out (``--evidence-long``)."""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import pytest
import torch

from mmqnet_core.errors import ConfigError
from mmqnet_core.model.checkpoint import load_checkpoint
from mmqnet_core.training import TrainConfig, prepare, train
from mmqnet_core.training.loop import make_batch

from .conftest import toy_corpus

TINY = dict(d_model=32, n_heads=2, n_enc_layers=1, n_windows=4, batch_size=16, folds=2)


def test_option_reaches_the_model_and_is_off_by_default():
    from mmqnet_core.cli.cmd_train import add_train_args, train_config_from_args

    p = argparse.ArgumentParser()
    add_train_args(p)
    on = train_config_from_args(p.parse_args(["--evidence-long", "arousal", "--long-context", "20"]))
    off = train_config_from_args(p.parse_args([]))
    assert on.evidence_long == ("arousal",) and off.evidence_long == ()
    assert on.model_kwargs()["evidence_long"] == ("arousal",) and on.model_kwargs()["long_context_windows"] == 20
    assert "evidence_long" not in off.model_kwargs()
    assert TrainConfig.from_dict(json.loads(json.dumps(on.to_dict()))) == on
    with pytest.raises(ConfigError, match="evidence_long"):
        TrainConfig(evidence_long=("arousal",), modality_evidence=False)


def test_batches_carry_the_trial_mean_without_hidden_values():
    corpus = toy_corpus(n_windows=20)
    cfg = TrainConfig(evidence_long=("arousal",), long_context_windows=30, **TINY)
    from mmqnet_core.model.normalization import Normalizer

    norm = Normalizer.fit(corpus.X, corpus.missing)
    data = prepare(corpus, norm, normalization="subject")
    trials, starts = np.array([0, 1, 2, 3]), np.array([0, 5, 10, 16])
    batch = make_batch(data, trials, starts, 4, dataclasses.replace(cfg, w_consistency=0.0),
                       np.random.default_rng(0))
    mean, count = batch["long_mean"], batch["long_count"]
    assert mean.shape == count.shape == batch["x"].shape
    assert (count <= 20).all()  # at most the trial's windows (the span is wider than the trial)
    # a token the simulation hid over the whole crop is hidden over the whole trial: no count at all
    whole = batch["missing"].all(1)  # (B, N)
    assert (count.sum(-1)[whole[:, None, :].repeat(4, 1)] == 0).all()
    # a visible token's mean is a mean of the trial's own values of that token (within their range)
    lo, hi = data.x[trials].min(1), data.x[trials].max(1)  # (B, N, F)
    seen = count > 0
    assert (mean[seen] >= np.broadcast_to(lo[:, None], mean.shape)[seen] - 1e-5).all()
    assert (mean[seen] <= np.broadcast_to(hi[:, None], mean.shape)[seen] + 1e-5).all()
    # the option off: no such arrays, and the crops' masks are the same as with it (drawn after them)
    plain = make_batch(data, trials, starts, 4, dataclasses.replace(cfg, w_consistency=0.0, evidence_long=()),
                       np.random.default_rng(0))
    assert "long_mean" not in plain
    np.testing.assert_array_equal(plain["missing"], batch["missing"])


def test_a_run_with_it_trains_the_read_out_and_loads_back(tmp_path):
    corpus = toy_corpus(n_windows=20)
    cfg = TrainConfig(epochs=1, evidence_long=("arousal",), long_context_windows=8, val_subjects=1, **TINY)
    res = train(corpus, cfg, run_dir=tmp_path / "run")
    w = res.model.evidence_long_weight.detach()
    k_a = res.model.config.targets.index("arousal")
    assert float(w[..., k_a].abs().max()) > 0  # learned
    model, meta = load_checkpoint(tmp_path / "run" / "checkpoint")
    assert meta.config.evidence_long == ("arousal",) and meta.config.long_context_windows == 8
    torch.testing.assert_close(model.evidence_long_weight, w)
