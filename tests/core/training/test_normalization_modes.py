"""Feature normalisation modes of training / evaluation: global, per subject, per trial."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.evaluation import TrainedModel, evaluate, format_table
from mmqnet_core.model.checkpoint import load_checkpoint
from mmqnet_core.model.normalization import Normalizer
from mmqnet_core.training import TrainConfig, prepare, train
from mmqnet_core.training.loop import impute

from .conftest import toy_corpus

TINY = dict(d_model=32, n_heads=2, n_enc_layers=1, n_windows=4, batch_size=16, folds=2)


def _offset_corpus():
    """The toy corpus with a large per-subject offset and gain on every feature (like the synthetic corpus)."""
    c = toy_corpus(n_subjects=4, n_trials=6, n_windows=32)  # 32 windows: one trial has enough for its own
    gain = np.array([1.0, 3.0, 0.5, 2.0], np.float32)[c.subjects][:, None, None, None]
    offset = np.array([0.0, 20.0, -10.0, 5.0], np.float32)[c.subjects][:, None, None, None]
    x = np.where(c.valid, c.X * gain + offset, 0.0).astype(np.float32)
    miss = c.missing.copy()
    miss[0, :5, 2] = True
    return dataclasses.replace(c, X=x, missing=miss)


def test_config_option_and_old_configs_read_as_global():
    assert TrainConfig().normalization == "subject"
    assert TrainConfig(normalization="global").to_dict()["normalization"] == "global"
    old = TrainConfig().to_dict()
    del old["normalization"]  # a config.json written before the option existed
    assert TrainConfig.from_dict(old).normalization == "global"
    with pytest.raises(ConfigError, match="'normalization': allowed global, subject, recording, got 'session'"):
        TrainConfig(normalization="session")


@pytest.mark.parametrize("mode", ["subject", "recording"])
def test_prepare_z_scores_each_group_with_its_own_statistics(mode):
    c = _offset_corpus()
    glob = Normalizer.fit(c.X, c.missing)
    data = prepare(c, glob, normalization=mode)
    assert data.normalization == mode and data.trial_zero.shape == (c.n_trials, c.n_tokens, c.n_features)
    groups = c.subjects if mode == "subject" else np.arange(c.n_trials)
    for g in np.unique(groups):
        sel = groups == g
        present = ~c.missing[sel][:, :, 0]  # token 0
        z = data.x[sel][:, :, 0][present][:, c.valid[0]]  # (values, F)
        raw = c.X[sel][:, :, 0][present][:, c.valid[0]]
        np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)
        np.testing.assert_allclose(z.std(0), 1.0, atol=1e-3)
        # the normalised value of 0 in original units is -mean / std of the trial's group
        expected_zero = -raw.mean(0) / raw.std(0)
        np.testing.assert_allclose(data.trial_zero[np.flatnonzero(sel)[0], 0, c.valid[0]], expected_zero, rtol=1e-3)
    assert (data.x[c.missing] == 0).all() and (data.x[..., ~c.valid] == 0).all()
    # global mode keeps the subject offsets
    g = prepare(c, glob)
    assert g.trial_zero is None and abs(g.x[c.subjects == 1].mean() - g.x[c.subjects == 2].mean()) > 1
    # zero-fill uses each trial's own value of 0
    hidden = np.zeros(c.missing.shape, bool)
    hidden[:, 0, 0] = True
    filled = impute(data.x, hidden, "zero", data.zero_for(np.arange(c.n_trials)))
    np.testing.assert_allclose(filled[:, 0, 0], data.trial_zero[:, 0])


def test_subject_run_stores_the_mode_in_the_checkpoint(tmp_path):
    from mmqnet_core.inference import load_model

    c = _offset_corpus()
    res = train(c, TrainConfig(epochs=1, normalization="subject", **TINY), run_dir=tmp_path / "run")
    assert "features z-scored per subject" in (tmp_path / "run" / "train.log").read_text()
    _, meta = load_checkpoint(tmp_path / "run" / "checkpoint")
    assert meta.extra["normalization"]["mode"] == "subject"
    assert meta.extra["train_config"]["normalization"] == "subject"
    np.testing.assert_allclose(meta.normalizer.mean, res.normalizer.mean)  # the global fallback statistics
    loaded = load_model(tmp_path / "run" / "checkpoint", device="cpu")
    assert loaded.normalization == "subject" and loaded.min_windows == 30


def test_evaluation_states_the_normalisation_and_refuses_mixed_modes():
    c = _offset_corpus()
    cfg = TrainConfig(epochs=1, normalization="subject", **TINY)
    table = evaluate(c, train_config=cfg, methods=("logistic regression",), missing_rates=(0.0,))
    assert table["split"].str.contains("held-out subjects with their own statistics").all()
    assert "z-scored per subject, held-out subjects with their own statistics" in format_table(table)
    res = train(c, TrainConfig(epochs=1, normalization="global", **TINY))
    with pytest.raises(ConfigError, match=r"another feature normalisation than 'subject' \(MMQ-Net: 'global'\)"):
        evaluate(c, train_config=cfg, methods=("MMQ-Net",), missing_rates=(0.0,),
                 trained={"MMQ-Net": TrainedModel(res.model, res.normalizer, res.config)})


def test_old_configs_read_with_the_regularisation_they_were_trained_with():
    assert (TrainConfig().dropout, TrainConfig().drop_path, TrainConfig().recon_tokens_max) == (0.0, 0.1, 64)
    old = TrainConfig().to_dict()
    for key in ("drop_path", "recon_tokens_max", "dropout"):
        del old[key]  # written before stochastic depth and the reconstruction cap existed
    cfg = TrainConfig.from_dict(old)
    assert (cfg.dropout, cfg.drop_path, cfg.recon_tokens_max) == (0.1, 0.0, 0)
    assert cfg.model_kwargs()["drop_path"] == 0.0
    with pytest.raises(ConfigError, match="'drop_path': allowed 0 <= drop_path < 0.9, got 0.95"):
        TrainConfig(drop_path=0.95)
    with pytest.raises(ConfigError, match="'recon_tokens_max': must be an integer >= 0, got -1"):
        TrainConfig(recon_tokens_max=-1)
