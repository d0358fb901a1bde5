"""Per-modality evidence read-outs (``modality_evidence``): what each one reads, and that it reaches the logits."""

from __future__ import annotations

import json

import torch

from mmqnet_core.model import MMQNet, MMQNetConfig
from mmqnet_core.model.mmqnet import hemisphere_pairs
from mmqnet_core.training.loop import unimodal_loss

from .conftest import GROUPS, make_batch, small_config

DEAP_EEG = ("Fp1 AF3 F3 F7 FC5 FC1 C3 T7 CP5 CP1 P3 P7 PO3 O1 Oz Pz Fp2 AF4 Fz F4 F8 FC6 FC2 Cz C4 T8 CP6 CP2 P4 "
            "P8 PO4 O2").split()


def _model(cfg, seed=0):
    torch.manual_seed(seed)
    return MMQNet.from_config(cfg).eval()


def _with_weights(model: MMQNet, seed: int = 4) -> MMQNet:
    with torch.no_grad():
        model.evidence_weight.copy_(torch.randn(model.evidence_weight.shape, generator=torch.Generator().manual_seed(seed)))
    return model


def test_hemisphere_pairs_of_the_deap_montage():
    pairs = hemisphere_pairs(DEAP_EEG, ["EEG"] * len(DEAP_EEG))
    named = {(DEAP_EEG[a], DEAP_EEG[b]) for a, b in pairs}
    assert len(pairs) == 14  # 32 channels minus the 4 midline sites, in pairs
    assert {("F3", "F4"), ("Fp1", "Fp2"), ("T7", "T8"), ("PO3", "PO4"), ("O1", "O2")} <= named
    assert not any("z" in a or "z" in b for a, b in named)
    # a non-EEG token never pairs, whatever its name
    assert hemisphere_pairs(["F3", "F4"], ["EEG", "EMG"]) == []


def test_evidence_starts_at_zero_and_adds_to_the_fused_logits():
    cfg = small_config()
    assert cfg.modality_evidence
    model = _model(cfg)
    x, missing = make_batch(3, seed=1, rate=0.3, config=cfg)
    out = model(x, missing)
    assert out.modality_logits.shape == (3, cfg.n_windows, len(cfg.groups), cfg.n_targets, 2)
    assert float(out.modality_logits.detach().abs().max()) == 0.0  # a warm start begins where its checkpoint was
    fused = out.logits
    _with_weights(model)
    out = model(x, missing)
    torch.testing.assert_close(out.logits, fused + out.modality_logits.sum(2))
    assert float(out.modality_logits.detach().abs().max()) > 1e-3


def test_eeg_evidence_reads_right_minus_left_differences():
    """F3/F4-like pairs: adding the same value to both sides of a pair changes nothing; one side does."""
    names = ("F3", "F4", "Fp1", "Fp2", "Oz", "GSR")
    groups = ("EEG",) * 5 + ("GSR",)
    cfg = small_config(token_groups=groups, token_names=names, feature_valid=((True,) * 6,) * 6)
    model = _with_weights(_model(cfg))
    x, missing = make_batch(2, seed=2, rate=0.0, config=cfg)
    eeg = cfg.groups.index("EEG")
    ref = model(x, missing).modality_logits[:, :, eeg]
    both = x.clone()
    both[:, :, [0, 1]] += 1.5  # common mode of the F3/F4 pair
    torch.testing.assert_close(model(both, missing).modality_logits[:, :, eeg], ref)
    one = x.clone()
    one[:, :, 1] += 1.5  # right side only
    with torch.no_grad():
        assert float((model(one, missing).modality_logits[:, :, eeg] - ref).abs().max()) > 1e-3
    # a pair with one side missing is no evidence: its other side's value does not matter
    missing[:, :, 0] = True
    ref = model(x, missing).modality_logits[:, :, eeg]
    torch.testing.assert_close(model(one, missing).modality_logits[:, :, eeg], ref)


def test_an_absent_modality_contributes_nothing():
    cfg = small_config()
    model = _with_weights(_model(cfg))
    x, missing = make_batch(2, seed=3, rate=0.0, config=cfg)
    gsr = cfg.groups.index("GSR")
    missing[:, :, [i for i, g in enumerate(GROUPS) if g == "GSR"]] = True
    out = model(x, missing)
    assert not bool(out.modality_present[..., gsr].any())
    assert float(out.modality_logits[:, :, gsr].detach().abs().max()) == 0.0
    assert bool(out.modality_present[..., cfg.groups.index("EEG")].all())


def test_configs_without_the_field_have_no_evidence_and_old_weights_load():
    data = json.loads(small_config().to_json())
    del data["modality_evidence"], data["evidence_gate"]
    old = MMQNetConfig.from_dict(data)
    assert not old.modality_evidence and not old.evidence_gate
    model = _model(old)
    assert not hasattr(model, "evidence_weight")
    x, missing = make_batch(2, seed=3, config=old)
    assert model(x, missing).modality_logits is None


def test_unimodal_loss_uses_only_present_groups():
    logits = torch.zeros(2, 3, 2, 1, 2)
    logits[:, :, 1, :, 1] = 5.0  # group 1 confidently "high"
    labels = torch.ones(2, 1, dtype=torch.long)
    present = torch.zeros(2, 3, 2, dtype=torch.bool)
    present[..., 1] = True
    only_1 = unimodal_loss(logits, present, labels)
    assert float(only_1) < 0.01  # group 0 (absent, chance logits) is not counted
    present[..., 0] = True
    assert abs(float(unimodal_loss(logits, present, labels)) - (float(only_1) + 0.6931) / 2) < 1e-3


def test_evidence_gate_scales_the_fused_read_out_by_the_modalities_present():
    cfg = small_config(evidence_gate=True)
    model = _model(cfg)
    x, missing = make_batch(2, seed=5, rate=0.0, config=cfg)
    plain = MMQNet.from_config(small_config(evidence_gate=False))
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("evidence_gate")})
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x, missing).logits, plain(x, missing).logits)  # scale 1 at zero
        eeg = cfg.groups.index("EEG")
        model.evidence_gate_weight[eeg] = 3.0  # the fused read-out trusted more the more EEG is present
        full = model._fused_reliability(~missing)
        hidden = missing.clone()
        hidden[:, :, [i for i, g in enumerate(GROUPS) if g == "EEG"]] = True
        less = model._fused_reliability(~hidden)
    assert bool((full > 1.9).all()) and torch.allclose(less, torch.ones_like(less))


def test_evidence_spread_is_stored_validated_and_absent_from_older_configs():
    cfg = small_config()
    assert cfg.evidence_spread == ()  # not fitted: the missing-evidence term counts the restoration only
    spread = [[0.5, 0.25]] * len(cfg.groups)
    model = _model(cfg)
    model.set_evidence_spread(spread)
    back = MMQNetConfig.from_dict(json.loads(json.dumps(model.config.to_dict())))
    assert back.evidence_spread == tuple(tuple(r) for r in spread)
    older = model.config.to_dict()
    del older["evidence_spread"]
    assert MMQNetConfig.from_dict(older).evidence_spread == ()
    import pytest

    from mmqnet_core.errors import ConfigError

    for bad in ([[0.5, 0.25]], [[0.5]] * len(cfg.groups), [[-1.0, 0.2]] * len(cfg.groups),
                [[float("nan"), 0.2]] * len(cfg.groups)):
        with pytest.raises(ConfigError, match="evidence_spread"):
            small_config(evidence_spread=bad)


def test_eeg_common_mode_reaches_only_the_targets_named():
    """``evidence_common=("arousal",)``: a shift of every EEG channel (arousal's EEG marker is common to all
    channels) moves the arousal read-out by the channel-mean weight and leaves valence's pair differences alone;
    without the option the pair differences cancel it (the diagnosis of session 7). The mean is over the
    channels measured, so hiding some of them keeps a common shift's effect."""
    names = ("F3", "F4", "Fp1", "Fp2", "Oz", "GSR")
    groups = ("EEG",) * 5 + ("GSR",)
    base = dict(token_groups=groups, token_names=names, feature_valid=((True,) * 6,) * 6)
    x, missing = make_batch(2, seed=5, rate=0.0, config=small_config(**base))
    eeg_tok = [0, 1, 2, 3, 4]
    shifted = x.clone()
    shifted[:, :, eeg_tok] += 0.8
    plain = _with_weights(_model(small_config(**base)))
    assert not hasattr(plain, "evidence_common_weight")
    eeg = plain.config.groups.index("EEG")
    torch.testing.assert_close(plain(shifted, missing).modality_logits[:, :, eeg],
                               plain(x, missing).modality_logits[:, :, eeg])
    cfg = small_config(**base, evidence_common=("arousal",))
    model = _with_weights(_model(cfg))
    with torch.no_grad():
        model.evidence_common_weight.copy_(torch.randn(model.evidence_common_weight.shape,
                                                       generator=torch.Generator().manual_seed(2)))
    k_v, k_a = cfg.targets.index("valence"), cfg.targets.index("arousal")
    for hide in ([], [0, 4]):  # everything measured; F3 and Oz hidden
        m = missing.clone()
        m[:, :, hide] = True
        ref = model(x, m).modality_logits[:, :, eeg]
        moved = model(shifted, m).modality_logits[:, :, eeg]
        torch.testing.assert_close(moved[..., k_v, :], ref[..., k_v, :])  # valence: pair differences only
        expected = 0.8 * float(model.evidence_common_weight[:, k_a].detach().sum())  # every feature valid, shifted by 0.8
        torch.testing.assert_close(moved[..., k_a, 1] - ref[..., k_a, 1], torch.full_like(ref[..., k_a, 1],
                                                                                          0.5 * expected))
    with torch.no_grad():  # all EEG hidden: no EEG evidence at all
        m = missing.clone()
        m[:, :, eeg_tok] = True
        out = model(shifted, m)
        assert float(out.modality_logits[:, :, eeg].abs().max()) == 0.0
        assert not bool(out.modality_present[..., eeg].any())


def test_evidence_common_is_validated_and_absent_from_older_configs():
    import pytest

    from mmqnet_core.errors import ConfigError

    with pytest.raises(ConfigError, match="evidence_common"):
        small_config(evidence_common=("dominance",))
    with pytest.raises(ConfigError, match="evidence_common"):
        small_config(evidence_common=("arousal",), modality_evidence=False)
    data = json.loads(small_config(evidence_common=["arousal"]).to_json())
    assert MMQNetConfig.from_dict(data).evidence_common == ("arousal",)  # JSON round trip
    del data["evidence_common"]
    old = MMQNetConfig.from_dict(data)
    assert old.evidence_common == ()
    assert "evidence_common_weight" not in dict(_model(old).named_parameters())
