"""Frozen fine-tune (``TrainConfig.train_only`` / ``mmqnet train --train-only``): only the named parameters learn,
so a long-context arousal read-out added to a trained model leaves its valence exactly as it was."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from mmqnet_core.errors import ConfigError
from mmqnet_core.model import MMQNet
from mmqnet_core.model.checkpoint import load_checkpoint
from mmqnet_core.model.mmqnet import long_context_mean
from mmqnet_core.training import TrainConfig, prepare, train

from .conftest import toy_corpus

TINY = dict(d_model=32, n_heads=2, n_enc_layers=1, n_windows=4, batch_size=16, folds=2, val_subjects=1)


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """A trained tiny model with evidence read-outs, drop-path, a fitted temperature and evidence spread."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("parent")
    corpus = toy_corpus(n_windows=20)
    train(corpus, TrainConfig(epochs=1, drop_path=0.2, **TINY), run_dir=folder)
    return corpus, folder / "checkpoint"


def _inputs(corpus, normalizer):
    data = prepare(corpus, normalizer, normalization="subject")
    x = torch.from_numpy(data.x[:6, :4])
    missing = torch.from_numpy(data.missing[:6, :4]).clone()
    missing[:3, :, 7] = True  # GSR hidden in half of them
    used = (~missing[..., None] & torch.from_numpy(data.valid)).expand(*x.shape).clone()
    return x, missing, long_context_mean(torch.where(used, x, torch.zeros(())), used, 8)


def test_only_the_named_read_out_learns_and_valence_stays_bit_identical(parent, tmp_path):
    corpus, ckpt = parent
    base, base_meta = load_checkpoint(ckpt)
    modes = []
    hook = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda m, _: modes.append(m.training) if isinstance(m, MMQNet) else None)
    try:
        child = train(corpus, TrainConfig(epochs=2, evidence_long=("arousal",), long_context_windows=8, lr=5e-3,
                                          init_from=str(ckpt), train_only=("evidence_long_weight",), **TINY),
                      run_dir=tmp_path / "child").model
    finally:
        hook.remove()
    assert modes and not any(modes)  # eval mode throughout: no drop-path on the frozen parts
    k_v, k_a = (base.config.targets.index(k) for k in ("valence", "arousal"))
    assert float(child.evidence_long_weight.detach()[..., k_a].abs().max()) > 0  # the read-out learned
    theirs = base.state_dict()
    for name, value in child.state_dict().items():  # every frozen weight is the parent's, bit for bit
        if name != "evidence_long_weight":
            assert torch.equal(value, theirs[name]), name
    # calibration: valence keeps the parent's temperature and spread, arousal is refitted
    assert child.config.temperature[k_v] == base.config.temperature[k_v]
    assert [row[k_v] for row in child.config.evidence_spread] == [row[k_v] for row in base.config.evidence_spread]
    assert "calibration refitted for arousal; the parent's kept for the rest" in (tmp_path / "child" / "train.log"
                                                                                    ).read_text()
    loaded, meta = load_checkpoint(tmp_path / "child" / "checkpoint")
    np.testing.assert_array_equal(meta.normalizer.mean, base_meta.normalizer.mean)  # the parent's inputs
    x, missing, long = _inputs(corpus, base_meta.normalizer)
    with torch.no_grad():
        a = base.eval()(x, missing).logits
        b = loaded.eval()(x, missing, long_context=long).logits
    assert torch.equal(a[..., k_v, :], b[..., k_v, :])  # valence logits bit-identical
    assert not torch.allclose(a[..., k_a, :], b[..., k_a, :])  # arousal reads the long span

    # the same fine-tune without train_only moves valence: the check above can fail
    free = train(corpus, TrainConfig(epochs=1, evidence_long=("arousal",), long_context_windows=8, lr=5e-3,
                                     init_from=str(ckpt), **TINY)).model
    with torch.no_grad():
        c = free.eval()(x, missing, long_context=long).logits
    assert not torch.equal(a[..., k_v, :], c[..., k_v, :])


def test_bad_train_only_values_say_what_to_do(parent, tmp_path):
    corpus, ckpt = parent
    with pytest.raises(ConfigError, match="'train_only'.*set init_from"):
        TrainConfig(train_only=("evidence_long_weight",))
    with pytest.raises(ConfigError, match=r"\['evidence_long_weight'\] match no parameter.*--evidence-long"):
        train(corpus, TrainConfig(epochs=1, init_from=str(ckpt), train_only=("evidence_long_weight",), **TINY))
    # a frozen weight that the parent lacks would stay random: refused
    with pytest.raises(ConfigError, match="evidence_long_weight would be frozen at a random initialisation"):
        train(corpus, TrainConfig(epochs=1, evidence_long=("arousal",), init_from=str(ckpt),
                                  train_only=("evidence_gate_*",), **TINY))


def test_cli_option_reaches_the_config():
    from mmqnet_core.cli.cmd_train import add_train_args, train_config_from_args

    p = argparse.ArgumentParser()
    add_train_args(p)
    cfg = train_config_from_args(p.parse_args(["--init-from", "ck", "--train-only", "evidence_long_weight, x*"]))
    assert cfg.train_only == ("evidence_long_weight", "x*")
    assert train_config_from_args(p.parse_args([])).train_only == ()
    assert TrainConfig.from_dict(cfg.to_dict()).train_only == cfg.train_only
    gate = train_config_from_args(p.parse_args(["--evidence-long", "arousal", "--evidence-long-gate"]))
    assert gate.evidence_long_gate and gate.model_kwargs()["evidence_long_gate"] is True
    assert "evidence_long_gate" not in cfg.model_kwargs()
    with pytest.raises(ConfigError, match="'evidence_long_gate'.*set evidence_long"):
        TrainConfig(evidence_long_gate=True)


def test_frozen_fill_read_out_keeps_valence_and_the_complete_short_context(parent, tmp_path):
    """``evidence_long_fill`` under ``--train-only``: the read-out learns, valence logits are bit-identical to
    the parent's, arousal moves where a token is hidden in the short context and nowhere else."""
    corpus, ckpt = parent
    base, base_meta = load_checkpoint(ckpt)
    child = train(corpus, TrainConfig(epochs=2, evidence_long=("arousal",), long_context_windows=8, lr=5e-3,
                                      evidence_long_fill=True, init_from=str(ckpt),
                                      train_only=("evidence_long_*",), **TINY), run_dir=tmp_path / "fill").model
    k_v, k_a = (base.config.targets.index(k) for k in ("valence", "arousal"))
    assert float(child.evidence_long_weight.detach()[..., k_a].abs().max()) > 0  # learned and not shrunk to 0
    loaded, meta = load_checkpoint(tmp_path / "fill" / "checkpoint")
    assert meta.config.evidence_long_fill is True
    # calibration: the parent's temperature for every target (a complete short context is the parent's
    # prediction); the read-out is shrunk by a factor in [0, 1] fitted on the validation subjects instead
    assert loaded.config.temperature == base.config.temperature
    scale = meta.extra["long_scale"]["values"]
    assert 0.0 <= scale[k_a] <= 1.0 and scale[k_v] == 1.0
    assert "long-context read-out shrunk on the validation subjects" in (tmp_path / "fill" / "train.log").read_text()
    x, missing, _ = _inputs(corpus, base_meta.normalizer)
    missing[:3] = False
    missing[:3, :2] = True  # samples 0-2: every token hidden in windows 0-1, measured in windows 2-3
    used = (~missing[..., None]).expand(*x.shape) & torch.tensor(loaded.config.feature_valid)
    long = long_context_mean(torch.where(used, x, torch.zeros(())), used, 8)
    with torch.no_grad():
        a = base.eval()(x, missing).logits
        b = loaded.eval()(x, missing, long_context=long).logits
        assert torch.equal(a[..., k_v, :], b[..., k_v, :])  # valence bit-identical
        moved = (b[:3, :, k_a] - a[:3, :, k_a]).abs()  # half the short context hidden: the long span fills in
        assert float(moved.max()) > 1e-6, float(moved.max())  # small: the toy read-out is shrunk on validation
        # every token measured in the short context: exactly the parent's arousal logits
        complete = torch.zeros_like(missing)
        assert torch.equal(loaded(x, complete, long_context=long).logits, base(x, complete).logits)


def test_cli_fill_option_reaches_the_config():
    from mmqnet_core.cli.cmd_train import add_train_args, train_config_from_args

    p = argparse.ArgumentParser()
    add_train_args(p)
    fill = train_config_from_args(p.parse_args(["--evidence-long", "arousal", "--evidence-long-fill"]))
    assert fill.evidence_long_fill and fill.model_kwargs()["evidence_long_fill"] is True
    assert TrainConfig.from_dict(fill.to_dict()).evidence_long_fill is True
    assert "evidence_long_fill" not in train_config_from_args(p.parse_args([])).model_kwargs()
    with pytest.raises(ConfigError, match="'evidence_long_fill'.*set evidence_long"):
        TrainConfig(evidence_long_fill=True)
