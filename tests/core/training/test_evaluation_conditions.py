"""Evaluation conditions (whole modalities, long gaps), calibration and the context-feature baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmqnet_core.evaluation.baselines import LateFusion, context_features, spherical_spline
from mmqnet_core.evaluation.protocol import calibration, conditions, masks_for_condition
from mmqnet_core.model.normalization import Normalizer
from mmqnet_core.training import prepare

from .conftest import toy_corpus


def test_calibration_by_hand():
    probs = np.array([0.9, 0.9, 0.9, 0.9, 0.6, 0.6])
    labels = np.array([1, 1, 1, 0, 0, 1])
    ece, brier = calibration(probs, labels)
    # bins: confidence 0.9 (4 samples, 3/4 right) and 0.6 (2 samples, 1/2 right)
    assert ece == pytest.approx(4 / 6 * abs(0.75 - 0.9) + 2 / 6 * abs(0.5 - 0.6))
    assert brier == pytest.approx(np.mean((probs - labels) ** 2))
    assert np.isnan(calibration(np.array([]), np.array([]))[0])


def test_condition_masks_hide_whole_modalities_and_long_gaps():
    c = toy_corpus(n_windows=70)
    data = prepare(c, Normalizer.fit(c.X, c.missing))
    idx = np.arange(c.n_trials)
    mods = c.token_modalities
    names = [n for n, _ in conditions(data, (0.0, 0.3), ("modalities", "gaps"), mods)]
    assert names == ["0 %", "30 %", "EEG missing", "peripheral missing", "EOG missing", "GSR missing",
                     "gaps 10-60 s"]
    eeg = np.asarray(mods) == "EEG"
    m = masks_for_condition(data, idx, "EEG missing", float("nan"), 0, mods)
    assert m[:, :, eeg].all() and not m[:, :, ~eeg].any()
    m = masks_for_condition(data, idx, "peripheral missing", float("nan"), 0, mods)
    assert m[:, :, ~eeg].all() and not m[:, :, eeg].any()
    m = masks_for_condition(data, idx, "GSR missing", float("nan"), 0, mods)
    assert m.sum() == c.n_trials * 70
    gaps = masks_for_condition(data, idx, "gaps 10-60 s", float("nan"), 0, mods)
    again = masks_for_condition(data, idx, "gaps 10-60 s", float("nan"), 0, mods)
    np.testing.assert_array_equal(gaps, again)  # the same masks for every method
    for trial in gaps:
        for group in dict.fromkeys(mods):
            hit = trial[:, np.asarray(mods) == group].all(1)  # windows where the whole modality is gone
            if hit.any():
                assert hit.sum() >= 10  # contiguous gaps of at least 10 s (1-s windows)
    assert gaps.any(1).any(1).all()


def test_context_features_average_visible_windows():
    x = np.arange(10, dtype=np.float32).reshape(1, 10, 1, 1)
    hidden = np.zeros((1, 10, 1), bool)
    hidden[0, 4] = True
    f = context_features(x, hidden, n_windows=4)  # windows t-2..t+1
    assert f.shape == (1, 10, 1, 2)
    assert f[0, 5, 0, 0] == pytest.approx((3 + 5 + 6) / 3)  # window 4 hidden: not averaged
    assert f[0, 5, 0, 1] == pytest.approx(3 / 4)
    assert f[0, 0, 0, 0] == pytest.approx(0.5) and f[0, 0, 0, 1] == pytest.approx(1.0)  # edge: windows 0, 1
    none = context_features(x, np.ones((1, 10, 1), bool))
    assert (none == 0).all()


def test_late_fusion_averages_the_modalities_present():
    torch.manual_seed(0)
    model = LateFusion(np.array([0, 0, 1]), n_features=3)
    x = torch.randn(4, 3, 3)
    x[..., -1] = 1.0  # everything visible
    only_first = x.clone()
    only_first[:, 2] = 0.0  # modality 1 absent: its classifier must not count
    z0 = model.heads[0](x[:, :2].flatten(1))
    torch.testing.assert_close(model(only_first), z0)
    both = model(x)
    z1 = model.heads[1](x[:, 2:].flatten(1))
    torch.testing.assert_close(both, (z0 + z1) / 2)  # equal weights at initialisation
    nothing = torch.zeros(4, 3, 3)
    assert (model(nothing) == 0).all()


def test_spherical_spline_recovers_a_smooth_field_better_than_the_mean():
    from mmqnet_core.evaluation.baselines import standard_montage

    names = ["Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
             "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2"]
    pos = standard_montage().get_positions()["ch_pos"]
    xyz = np.array([pos[n] for n in names])  # (C, 3) m
    field = (xyz[:, 1] / np.abs(xyz[:, 1]).max())[None, :, None] * np.array([1.0, -2.0])  # (1, C, 2) front-back
    x = np.repeat(field, 3, 0).astype(np.float32)
    hidden = np.zeros((3, len(names)), bool)
    hidden[0, names.index("C3")] = True
    hidden[1, [names.index("Fz"), names.index("O1")]] = True
    recon, done = spherical_spline(x, hidden, names)
    assert done.tolist() == [True, True, False]  # window 2 hides nothing
    err = np.mean((recon[hidden] - x[hidden]) ** 2)
    assert err < 0.25 * np.mean(x[hidden] ** 2)
    np.testing.assert_array_equal(recon[~hidden], x[~hidden])


@pytest.mark.slow
def test_evaluation_with_scenarios_baselines_and_spline(tmp_path):
    import dataclasses

    from mmqnet_core.evaluation import evaluate, markdown_table, write_report
    from mmqnet_core.evaluation.protocol import FITTED_BASELINES, SPLINE
    from mmqnet_core.training import TrainConfig

    c = toy_corpus(n_subjects=4, n_trials=6, n_windows=24)
    c = dataclasses.replace(c, token_names=("Fp1", "F3", "C3", "P3", "O1", "Cz", "hEOG", "GSR"))
    cfg = TrainConfig(d_model=32, n_heads=2, n_enc_layers=1, n_windows=4, batch_size=16, folds=2, epochs=1)
    table = evaluate(c, train_config=cfg, methods=("MMQ-Net", *FITTED_BASELINES), missing_rates=(0.0, 0.5),
                     scenarios=("modalities", "gaps"))
    conds = list(dict.fromkeys(table["condition"]))
    assert conds == ["0 %", "50 %", "EEG missing", "peripheral missing", "EOG missing", "GSR missing",
                     "gaps 10-60 s"]
    cls = table[table["valence_acc"].notna()]
    assert len(cls) == 4 * len(conds)
    assert cls[["valence_ece", "arousal_brier", "valence_acc_min_subject"]].notna().all().all()
    assert (cls["valence_acc_min_subject"] <= cls["valence_acc"] + 1e-9).all()
    # the toy corpus' valence lives in EEG column 0: without EEG a linear model falls to chance
    lin = cls[cls["method"] == "logistic regression"].set_index("condition")
    assert lin.loc["0 %", "valence_acc"] > 0.6 and lin.loc["EEG missing", "valence_acc"] < 0.6
    spline = table[table["method"] == SPLINE]
    assert len(spline) and spline["recon_mse_eeg"].notna().all() and spline["recon_mse_mmqnet_same"].notna().all()
    assert table.loc[(table["method"] == "linear interpolation") & (table["condition"] == "GSR missing"),
                     "recon_mse_slow"].notna().all()
    md = markdown_table(table)
    assert "| V@0% | A@0% | V@50% | A@50% | V@-EEG | A@-EEG | V@-periph |" in md
    assert "Calibration per window" in md and "spherical spline (mne) | MMQ-Net" in md
    assert "Worst test subject" in md
    paths = write_report(table, tmp_path, title="t")
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
