"""End-to-end training: run folder, loadable checkpoint, reproducibility, options, cancel."""

from __future__ import annotations

import copy
import dataclasses

import json
import threading

import numpy as np
import pandas as pd
import pytest
import torch

from mmqnet_core.errors import Cancelled, ConfigError
from mmqnet_core.model.checkpoint import load_checkpoint
from mmqnet_core.training import TrainConfig, prepare, train
from mmqnet_core.training.loop import draw_masks, lr_at, make_batch

from .conftest import toy_corpus

TINY = dict(d_model=32, n_heads=2, n_enc_layers=1, n_windows=4, batch_size=16, folds=2)


@pytest.mark.slow
def test_tiny_end_to_end_run_writes_a_loadable_checkpoint(tmp_path, synthetic_corpus):
    run = tmp_path / "run"
    cfg = TrainConfig(epochs=2, **{**TINY, "split": "trial"})  # 2 subjects: subject-dependent split has val trials
    res = train(synthetic_corpus, cfg, run_dir=run)
    assert (run / "config.json").is_file() and (run / "train.log").is_file()
    metrics = pd.read_csv(run / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2] and {"train_loss", "val_loss", "train_reconstruction"} <= set(metrics)
    assert np.isfinite(metrics["train_loss"]).all()
    assert "subject-dependent" in (run / "train.log").read_text()
    model, meta = load_checkpoint(run / "checkpoint")
    assert meta.is_synthetic and meta.extra["layout"]["token_names"][0] == "Fp1"
    assert meta.normalizer is not None and meta.normalizer.shape == (40, synthetic_corpus.n_features)
    assert meta.extra["split"]["kind"] == "trial"
    x = torch.randn(2, 4, 40, synthetic_corpus.n_features)
    m = torch.zeros(2, 4, 40, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(model(x, m).logits, res.model(x, m).logits)
    assert TrainConfig.from_dict(json.loads((run / "config.json").read_text())) == res.config


def test_same_seed_same_run_other_seed_differs(corpus):
    cfg = TrainConfig(epochs=1, **TINY)
    a, b = train(corpus, cfg), train(corpus, cfg)
    c = train(corpus, TrainConfig(epochs=1, seed=1, **TINY))
    assert a.history[0]["train_loss"] == b.history[0]["train_loss"]
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        torch.testing.assert_close(va, vb, msg=k)
    assert a.history[0]["train_loss"] != c.history[0]["train_loss"]


def test_normaliser_is_fitted_on_training_trials_only(corpus):
    res = train(corpus, TrainConfig(epochs=1, **TINY))
    tr = res.split.train
    np.testing.assert_allclose(res.normalizer.mean[0, 0], corpus.X[tr][:, :, 0, 0].mean(), rtol=1e-4)
    assert not np.isclose(res.normalizer.mean[0, 0], corpus.X[:, :, 0, 0].mean(), rtol=1e-4)


def test_batches_hide_tokens_and_keep_targets(corpus):
    data = prepare(corpus, train(corpus, TrainConfig(epochs=1, **TINY)).normalizer)
    cfg = TrainConfig(mask_rate_max=0.7, extra_mask_rate=0.2, n_windows=4)
    rng = np.random.default_rng(0)
    b = make_batch(data, np.arange(16) % corpus.n_trials, np.zeros(16, int), 4, cfg, rng, pairs=False)
    assert b["missing"].mean() > 0.2  # simulated missingness + extra masking
    np.testing.assert_array_equal(b["recon_mask"], b["missing"] & ~data.missing[np.arange(16) % 24, :4])
    assert not b["missing"].reshape(16, -1).all(1).any()
    np.testing.assert_array_equal(b["target"], data.x[np.arange(16) % 24, :4])
    # the reconstruction loss of a sample scores at most recon_tokens_max of its hidden tokens, drawn at random
    capped = make_batch(data, np.arange(16) % corpus.n_trials, np.zeros(16, int), 4,
                        dataclasses.replace(cfg, recon_tokens_max=3), np.random.default_rng(0), pairs=False)
    np.testing.assert_array_equal(capped["missing"], b["missing"])  # same draw, only the scored subset differs
    available = b["recon_mask"].reshape(16, -1).sum(1)
    assert (capped["recon_mask"] <= b["recon_mask"]).all()
    np.testing.assert_array_equal(capped["recon_mask"].reshape(16, -1).sum(1), np.minimum(available, 3))
    assert available.max() > 3
    mean_cfg = TrainConfig(use_modality_queries=False, impute="mean", n_windows=4)
    bm = make_batch(data, np.arange(4), np.zeros(4, int), 4, mean_cfg, np.random.default_rng(1))
    assert not bm["missing"].any()  # imputed tokens are fed as present


def test_paired_views_hide_one_more_modality_and_keep_the_rest(corpus):
    data = prepare(corpus, train(corpus, TrainConfig(epochs=1, **TINY)).normalizer)
    cfg = TrainConfig(n_windows=4, modality_dropout=0.5, feature_drop_rate=0.3)
    b = make_batch(data, np.arange(16) % corpus.n_trials, np.arange(16) % 3, 4, cfg, np.random.default_rng(2))
    p = int(b["n_pairs"])
    assert p == 8 and len(b["x"]) == 16
    np.testing.assert_array_equal(b["x"][p:], b["x"][:p])  # the same crops...
    np.testing.assert_array_equal(b["feature_valid"][p:], b["feature_valid"][:p])
    assert (b["missing"][p:] >= b["missing"][:p]).all()  # ...with everything hidden in the first view hidden too
    more = b["missing"][p:] & ~b["missing"][:p]  # (P, T, N): what the second view hides in addition
    assert more.any()
    groups = data.groups
    for i in np.flatnonzero(more.any((1, 2))):  # whole tokens over every window, of one modality or EEG/peripheral
        tokens = more[i].any(0)
        assert (b["missing"][p + i][:, tokens]).all()
        chosen = np.unique(groups[tokens])
        assert len(chosen) == 1 or set(tokens.nonzero()[0]) <= set((~data.eeg_tokens).nonzero()[0])
    # feature-level missingness never removes every feature of a token
    kept = (b["feature_valid"] & data.valid).sum(-1)
    assert (kept >= 1).all() and (~b["feature_valid"]).any()
    off = make_batch(data, np.arange(16) % corpus.n_trials, np.zeros(16, int), 4,
                     dataclasses.replace(cfg, w_consistency=0.0), np.random.default_rng(2))
    assert int(off["n_pairs"]) == 0


def test_modality_dropout_hides_whole_modalities_for_long_spans():
    from mmqnet_core.training.loop import modality_dropout

    groups = np.array([0] * 6 + [1, 2])
    eeg = groups == 0
    drop = modality_dropout(400, 8, groups, eeg, np.random.default_rng(0), 0.5)
    hit = drop.any((1, 2))
    assert 0.4 < hit.mean() < 0.6
    for d in drop[hit]:
        tokens = d.any(0)
        assert tokens.tolist() in (eeg.tolist(), (~eeg).tolist()) or len(np.unique(groups[tokens])) == 1
        assert d[:, tokens].all(1).sum() >= 4  # at least half the windows, whole modality at once
    assert (drop[hit].all(1).any(1)).mean() > 0.3  # about half over the whole sample


def test_ablations_keep_the_same_augmentation(corpus):
    data = prepare(corpus, train(corpus, TrainConfig(epochs=1, **TINY)).normalizer)
    full = make_batch(data, np.arange(8), np.zeros(8, int), 4, TrainConfig(n_windows=4), np.random.default_rng(3))
    ablated = make_batch(data, np.arange(8), np.zeros(8, int), 4,
                         TrainConfig(n_windows=4, use_modality_queries=False), np.random.default_rng(3))
    np.testing.assert_array_equal(full["missing"], ablated["missing"])  # extra masking included


@pytest.mark.parametrize("name", ["w/o modality queries", "w/o category queries", "w/o interference queries"])
def test_query_ablations_differ_only_in_the_component_removed(corpus, name):
    """Each query ablation, built as ``evaluate --train`` builds it, keeps the evidence read-outs, their gate and
    every augmentation option, and sees exactly the full model's masks in every batch and in its validation set:
    the reconstruction cap consumes the generator for every variant (the ablation without modality queries used
    to skip it, so from its second batch on it trained and validated on other masks)."""
    from mmqnet_core.evaluation import MODEL_VARIANTS
    from mmqnet_core.model import MMQNet, MMQNetConfig
    from mmqnet_core.training.loop import _Tok, make_validation_set

    base = TrainConfig(**{**TINY, "recon_tokens_max": 3, "epochs": 1})  # the cap binds on the toy's 32 tokens
    ablated = dataclasses.replace(base, **MODEL_VARIANTS[name])
    assert ablated.variant == name
    same = [f.name for f in dataclasses.fields(TrainConfig) if not f.name.startswith("use_")]
    assert {k: getattr(ablated, k) for k in same} == {k: getattr(base, k) for k in same}
    data = prepare(corpus, train(corpus, dataclasses.replace(base, epochs=1)).normalizer)
    rngs = np.random.default_rng(5), np.random.default_rng(5)
    for step in range(3):
        starts = np.arange(16) % 3
        b_full, b_abl = (make_batch(data, np.arange(16) % corpus.n_trials, starts, 4, cfg, rng)
                         for cfg, rng in zip((base, ablated), rngs))
        for key in ("x", "missing", "feature_valid", "labels"):
            np.testing.assert_array_equal(b_full[key], b_abl[key], err_msg=f"{key}, batch {step}")
    val_full, val_abl = (make_validation_set(data, np.arange(6), cfg, seed=1) for cfg in (base, ablated))
    for bf, ba in zip(val_full.batches, val_abl.batches):
        np.testing.assert_array_equal(bf["missing"], ba["missing"])
        np.testing.assert_array_equal(bf["feature_valid"], ba["feature_valid"])
    mcfg = MMQNetConfig.for_layout([_Tok(n, m) for n, m in zip(corpus.token_names, corpus.token_modalities)],
                                   corpus.valid, **ablated.model_kwargs())
    model = MMQNet.from_config(mcfg).eval()
    assert mcfg.modality_evidence and mcfg.evidence_gate
    out = model(torch.from_numpy(b_abl["x"]), torch.from_numpy(b_abl["missing"]))
    assert out.modality_logits is not None and out.modality_logits.shape[2] == len(mcfg.groups)


def test_draw_masks_rate():
    groups = np.array([0] * 32 + [1, 1, 2, 2, 3, 4, 5, 6])
    drop, extra = draw_masks(200, 8, groups, np.random.default_rng(0), rate_max=0.6, dropout_share=0.3,
                             extra_rate=0.1)
    assert 0.2 < drop.mean() < 0.4  # mean of U(0, 0.6)
    assert 0.07 < extra.mean() < 0.13


def test_lr_schedule():
    assert lr_at(0, 100, 1.0, 10) == pytest.approx(0.1)
    assert lr_at(9, 100, 1.0, 10) == pytest.approx(1.0)
    assert lr_at(99, 100, 1.0, 10) == pytest.approx(0.05, abs=1e-3)


def test_cancel_between_steps(corpus):
    ev = threading.Event()

    def progress(fraction, message):
        if fraction > 0.2:
            ev.set()

    with pytest.raises(Cancelled):
        train(corpus, TrainConfig(epochs=3, **TINY), progress=progress, cancel=ev)


def test_config_errors():
    with pytest.raises(ConfigError, match="'impute': allowed none, zero, mean, got 'median'"):
        TrainConfig(impute="median")
    with pytest.raises(ConfigError, match="set use_modality_queries=False for imputation baselines"):
        TrainConfig(impute="zero")
    with pytest.raises(ConfigError, match="'fold': allowed 0..1, got 2"):
        TrainConfig(folds=2, fold=2)
    with pytest.raises(ConfigError, match="'mask_rate_max': allowed 0 to 0.9, got 0.95"):
        TrainConfig(mask_rate_max=0.95)
    with pytest.raises(ConfigError, match=r"Unknown training option\(s\) \['lr_max'\]"):
        TrainConfig.from_dict({"lr_max": 1})


@pytest.mark.parametrize("switch", ["use_modality_queries", "use_category_queries", "use_interference_queries"])
def test_ablations_train(switch):
    res = train(toy_corpus(n_subjects=3, n_trials=3), TrainConfig(epochs=1, **{switch: False}, **TINY))
    assert np.isfinite(res.history[0]["train_loss"])
    assert getattr(res.model.config, switch) is False


def test_regression_option_trains_the_score_heads_and_analysis_reports_scores(corpus):
    from mmqnet_core.inference.engine import run_contexts

    res = train(corpus, TrainConfig(epochs=3, regression=True, lr=3e-3, **TINY))
    assert res.model.config.regression and res.config.model_kwargs()["regression"]
    losses = [row["train_regression"] for row in res.history]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]  # the 1-9 score term is trained
    plain = train(corpus, TrainConfig(epochs=1, **TINY))
    assert "train_regression" not in plain.history[0] and not plain.model.config.regression
    data = prepare(corpus, res.normalizer)
    out = run_contexts(res.model, data.x, data.missing)
    assert out.scores.shape == (corpus.n_trials, corpus.max_windows, 2)
    assert ((out.scores >= 1) & (out.scores <= 9)).all()
    # the scores follow the true ones (the toy corpus encodes valence in EEG column 0, arousal in the GSR level)
    r = np.corrcoef(out.scores[:, :, 0].mean(1), corpus.labels[:, 0])[0, 1]
    assert r > 0.3
    assert run_contexts(plain.model, data.x, data.missing).scores is None


def test_temperature_is_fitted_on_validation_and_stored(tmp_path, corpus):
    from mmqnet_core.training.loop import fit_temperature, make_validation_set

    cfg = TrainConfig(epochs=1, val_subjects=1, **TINY)
    res = train(corpus, cfg, run_dir=tmp_path / "run")
    t = res.model.config.temperature
    assert len(t) == 2 and all(0.05 <= v <= 20 for v in t)
    assert res.metadata["temperature"]["values"] == list(t)
    model, meta = load_checkpoint(tmp_path / "run" / "checkpoint")
    assert meta.config.temperature == t and model.config.fusion == "mmq"
    # fitting again on the calibrated model finds the same temperature (its raw logits are recovered first)
    data = prepare(corpus, res.normalizer, normalization=cfg.normalization)
    vset = make_validation_set(data, np.asarray(res.split.val), cfg, seed=cfg.seed)
    again = fit_temperature(res.model, vset, torch.device("cpu"))
    np.testing.assert_allclose(again, t, rtol=1e-3)
    off = train(corpus, dataclasses.replace(cfg, calibrate=False))
    assert off.model.config.temperature == ()


def test_evidence_spread_is_fitted_with_the_temperature_and_refitted_for_a_checkpoint(tmp_path, corpus):
    """Each modality's spread makes the missing-evidence term's variance equal to the mean square of the measured
    change when the modality is hidden on the validation subjects; it is stored in the checkpoint, and
    ``fit_checkpoint_evidence_spread`` recovers it for a checkpoint without retraining."""
    from mmqnet_core.training import fit_checkpoint_evidence_spread
    from mmqnet_core.training.loop import complete_validation_set, fit_evidence_spread

    cfg = TrainConfig(epochs=1, val_subjects=1, **TINY)
    res = train(corpus, cfg, run_dir=tmp_path / "run")
    spread = res.model.config.evidence_spread
    groups = res.model.config.groups
    assert len(spread) == len(groups) and all(len(row) == 2 for row in spread)
    assert all(v >= 0 for row in spread for v in row)  # 0 where the restoration already counts the whole change
    assert res.metadata["evidence_spread"]["values"] == [list(r) for r in spread]
    # by hand for the EEG group, on the model with read-outs that matter (two steps leave them near 0): hide it, restore it with the reconstruction; the term's (pi/2) d^2 plus
    # (s / T)^2 equals the mean square of the measured change (where that leaves something to count)
    data = prepare(corpus, res.normalizer, normalization=cfg.normalization)
    vset = complete_validation_set(data, np.asarray(res.split.val), cfg, seed=cfg.seed)
    assert not any(b["missing"].any() for b in vset.batches)  # the toy corpus misses nothing: nothing hidden
    m = copy.deepcopy(res.model)
    with torch.no_grad():
        m.evidence_weight.copy_(torch.randn(m.evidence_weight.shape, generator=torch.Generator().manual_seed(0)))
    eeg = torch.as_tensor(np.asarray(m.config.group_index) == 0)
    valid = torch.as_tensor(np.asarray(m.config.feature_valid, bool))
    logit = (lambda out: (out.logits[..., 1] - out.logits[..., 0]).double().reshape(-1, 2))
    change, restoration = [], []
    with torch.no_grad():
        for b in vset.batches:
            x, fv = torch.as_tensor(b["x"]), torch.as_tensor(b["feature_valid"])
            hid = torch.as_tensor(b["missing"]) | eeg
            z = logit(m(x, torch.as_tensor(b["missing"]), feature_valid=fv))
            out = m(x, hid, feature_valid=fv & ~hid[..., None])
            xr = torch.where(eeg[:, None] & valid, out.recon, torch.where(eeg[:, None], 0.0, x))
            shown = (fv & ~hid[..., None]) | (eeg[:, None] & valid)  # restored: its defined features
            zr = logit(m(xr, torch.as_tensor(b["missing"]), feature_valid=shown))
            change.append(z - logit(out))
            restoration.append(zr - logit(out))
    ms_change = torch.cat(change).pow(2).mean(0).numpy()
    ms_restor = np.pi / 2 * torch.cat(restoration).pow(2).mean(0).numpy()
    temp = np.asarray(m.config.temperature)
    own = fit_evidence_spread(m, vset, torch.device("cpu"))[0]
    np.testing.assert_allclose(own, np.sqrt(np.maximum(ms_change - ms_restor, 0)) * temp,
                               rtol=1e-4, atol=1e-6)
    left = ms_change > ms_restor
    assert left.any()  # the fitted model's EEG moves the logit beyond what its reconstruction shows
    np.testing.assert_allclose((ms_restor + (np.asarray(own) / temp) ** 2)[left], ms_change[left], rtol=1e-4)
    # for an existing checkpoint: the same values, written where asked, the rest of the checkpoint unchanged
    again, folder = fit_checkpoint_evidence_spread(corpus, tmp_path / "run" / "checkpoint", out=tmp_path / "refit")
    np.testing.assert_allclose(again, spread, rtol=1e-5)
    model, meta = load_checkpoint(folder)
    np.testing.assert_allclose(meta.config.evidence_spread, spread, rtol=1e-5)
    assert meta.config.temperature == res.model.config.temperature
    np.testing.assert_allclose(fit_evidence_spread(model, vset, torch.device("cpu")), spread, rtol=1e-5)


def test_cli_fits_the_evidence_spread_of_an_existing_checkpoint(tmp_path, corpus, monkeypatch, capsys):
    import mmqnet_core.cli.cmd_train as cmd_train
    from mmqnet_core.cli import main

    cfg = TrainConfig(epochs=1, val_subjects=1, calibrate=False, **TINY)  # no spread fitted in training
    train(corpus, cfg, run_dir=tmp_path / "run")
    assert load_checkpoint(tmp_path / "run" / "checkpoint")[1].config.evidence_spread == ()
    monkeypatch.setattr(cmd_train, "load_corpus", lambda args, progress=None: corpus)
    assert main(["train", "--data", "synthetic", "--fit-evidence-spread", str(tmp_path / "run" / "checkpoint"),
                 "-o", str(tmp_path / "refit")]) == 0
    model, meta = load_checkpoint(tmp_path / "refit" / "checkpoint")
    assert len(meta.config.evidence_spread) == len(model.config.groups)
    assert "evidence spread" in capsys.readouterr().out
    # a checkpoint without read-outs: one error line, exit 2
    plain = train(corpus, dataclasses.replace(cfg, modality_evidence=False), run_dir=tmp_path / "plain")
    assert not plain.model.config.modality_evidence
    assert main(["train", "--data", "synthetic", "--fit-evidence-spread", str(tmp_path / "plain" / "checkpoint"),
                 "-o", str(tmp_path / "x")]) == 2
    assert "no per-modality evidence read-outs" in capsys.readouterr().err


def test_evidence_common_option_reaches_the_model_and_survives_the_run_folder():
    """``--evidence-common arousal`` -> TrainConfig -> MMQNetConfig; config.json round trip; off by default."""
    import argparse

    from mmqnet_core.cli.cmd_train import add_train_args, train_config_from_args

    p = argparse.ArgumentParser()
    add_train_args(p)
    on = train_config_from_args(p.parse_args(["--evidence-common", "arousal"]))
    off = train_config_from_args(p.parse_args([]))
    assert on.evidence_common == ("arousal",) and off.evidence_common == ()
    assert on.model_kwargs()["evidence_common"] == ("arousal",) and "evidence_common" not in off.model_kwargs()
    assert TrainConfig.from_dict(json.loads(json.dumps(on.to_dict()))) == on
    with pytest.raises(ConfigError, match="evidence_common"):
        TrainConfig(evidence_common=("arousal",), modality_evidence=False)
