"""The "artifacts" evaluation scenario: held-out SYNTHETIC trials regenerated with more injected artifacts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mmqnet_core.datasets.corpus import rebuild_synthetic
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial
from mmqnet_core.errors import ConfigError
from mmqnet_core.evaluation import evaluate
from mmqnet_core.evaluation.protocol import ARTIFACT_CONDITIONS, ARTIFACT_FACTOR, conditions
from mmqnet_core.model.normalization import Normalizer
from mmqnet_core.training import TrainConfig, prepare

from .conftest import toy_corpus


def test_rebuilt_trials_equal_the_corpus_at_factor_1_and_carry_more_artifacts_at_4(synthetic_corpus):
    c = synthetic_corpus
    idx = np.array([5, 0, 2])  # any order: the result follows it
    same = rebuild_synthetic(c, idx, workers=1)
    for name in ("X", "missing", "interference", "artifacts", "labels", "subjects", "trials", "n_windows"):
        np.testing.assert_array_equal(getattr(same, name), getattr(c, name)[idx], err_msg=name)
    heavy = rebuild_synthetic(c, idx, artifact_factor=ARTIFACT_FACTOR, workers=1)
    np.testing.assert_array_equal(heavy.labels, c.labels[idx])  # separate seeded streams: labels kept
    assert heavy.X.shape == c.X[idx].shape and heavy.config["synth"]["artifact_rate"] == ARTIFACT_FACTOR
    # more injected artifacts: the generator's own annotations and the per-window targets the corpus stores
    base_cfg = SynthConfig(n_subjects=2, n_trials=4, trial_s=20.0)
    n_base = sum(len(generate_trial(base_cfg, int(c.subjects[i]), int(c.trials[i])).artifacts) for i in idx)
    heavy_cfg = dataclasses.replace(base_cfg, artifact_rate=ARTIFACT_FACTOR)
    n_heavy = sum(len(generate_trial(heavy_cfg, int(c.subjects[i]), int(c.trials[i])).artifacts) for i in idx)
    assert n_heavy > 2 * n_base > 0
    share_base = c.artifacts[idx].any(-1).mean()
    share_heavy = heavy.artifacts.any(-1).mean()
    assert share_heavy > share_base + 0.15, (share_base, share_heavy)
    assert heavy.artifacts.sum() > 2 * c.artifacts[idx].sum()
    assert not np.array_equal(heavy.X, same.X)  # the features see them


def test_rebuild_refuses_what_it_cannot_regenerate(synthetic_corpus):
    with pytest.raises(ConfigError, match="not a generated SYNTHETIC corpus"):
        rebuild_synthetic(toy_corpus(), [0])  # no build settings
    with pytest.raises(ConfigError, match="artifact_factor"):
        rebuild_synthetic(synthetic_corpus, [0], artifact_factor=21.0)
    with pytest.raises(ConfigError, match="artifact_factor"):
        rebuild_synthetic(synthetic_corpus, [0], artifact_factor=-1.0)


def test_artifact_conditions_are_named_and_opt_in():
    c = toy_corpus(n_windows=20)
    data = prepare(c, Normalizer.fit(c.X, c.missing))
    names = [n for n, _ in conditions(data, (0.0,), ("modalities", "gaps"), c.token_modalities)]
    assert not set(ARTIFACT_CONDITIONS) & set(names)  # not in the default scenarios
    names = [n for n, _ in conditions(data, (0.0,), ("artifacts",), c.token_modalities)]
    assert names == ["0 %", "artifacts x1 (rebuilt)", "artifacts x4"]


@pytest.mark.slow
def test_evaluate_scores_the_rebuilt_test_trials(synthetic_corpus):
    # 2 subjects, 2 subject folds: the test subject's every trial is rebuilt, so with per-subject statistics the
    # factor-1 condition is exactly the corpus' (same code): its scores equal the 0 % row's; factor 4 differs
    cfg = TrainConfig(folds=2, split="subject", normalization="subject")
    table = evaluate(synthetic_corpus, train_config=cfg, methods=("logistic regression",), missing_rates=(0.0,),
                     scenarios=("artifacts",))
    rows = table.set_index("condition")
    assert list(rows.index) == ["0 %", *ARTIFACT_CONDITIONS]
    cols = ["valence_acc", "arousal_acc", "valence_brier", "arousal_brier", "valence_ece", "arousal_ece"]
    np.testing.assert_array_equal(rows.loc["artifacts x1 (rebuilt)", cols].to_numpy(float),
                                  rows.loc["0 %", cols].to_numpy(float))
    assert rows.loc["artifacts x4", "valence_brier"] != rows.loc["0 %", "valence_brier"]
    assert (rows["n_test_trials"] == 4).all() and rows["achieved_rate"].eq(0).all()
    with pytest.raises(ConfigError, match="SYNTHETIC corpus"):
        evaluate(dataclasses.replace(synthetic_corpus, is_synthetic=False), train_config=cfg,
                 methods=("logistic regression",), missing_rates=(0.0,), scenarios=("artifacts",))


def test_half_of_the_eeg_channels_missing_for_whole_trials():
    from mmqnet_core.evaluation.protocol import HALF_EEG, masks_for_condition

    c = toy_corpus(n_windows=20)  # 6 EEG channels
    data = prepare(c, Normalizer.fit(c.X, c.missing))
    names = [n for n, _ in conditions(data, (), ("channels",), c.token_modalities)]
    assert names == [HALF_EEG]
    idx = np.arange(c.n_trials)
    eeg = np.asarray(c.token_modalities) == "EEG"
    m = masks_for_condition(data, idx, HALF_EEG, float("nan"), 0, c.token_modalities)
    assert not m[:, :, ~eeg].any()
    assert (m[:, :, eeg].all(1).sum(1) == 3).all()  # 3 of 6 channels per trial, for every window
    assert (m.any(1) == m.all(1)).all()  # whole trials, never single windows
    assert len({tuple(t[0]) for t in m}) > 1  # the channels differ between trials
    np.testing.assert_array_equal(m, masks_for_condition(data, idx, HALF_EEG, float("nan"), 0, c.token_modalities))


def test_uncleaned_conditions_are_opt_in_and_paired_with_their_references():
    from mmqnet_core.evaluation.protocol import PAIRED_REFERENCE, UNCLEANED_CONDITIONS, artifact_factor

    c = toy_corpus(n_windows=20)
    data = prepare(c, Normalizer.fit(c.X, c.missing))
    names = [n for n, _ in conditions(data, (0.0,), ("modalities", "gaps", "artifacts"), c.token_modalities)]
    assert not set(UNCLEANED_CONDITIONS) & set(names)
    names = [n for n, _ in conditions(data, (), ("artifacts", "uncleaned"), c.token_modalities)]
    assert names == [*ARTIFACT_CONDITIONS, *UNCLEANED_CONDITIONS]
    # every reference is evaluated before the condition paired with it
    for cond, ref in PAIRED_REFERENCE.items():
        assert names.index(ref) < names.index(cond)
    assert [artifact_factor(n) for n in names] == [1.0, ARTIFACT_FACTOR, 1.0, ARTIFACT_FACTOR]


def test_uncleaned_rebuild_lets_the_blinks_reach_the_frontal_eeg(synthetic_corpus):
    """Without the EOG regression the blinks the generator injects raise the frontal EEG's low-band power in the
    windows that hold one; with it (the corpus' own rebuild) they do not."""
    from mmqnet_core.evaluation.protocol import UNCLEANED_PREPROCESS

    c = synthetic_corpus
    idx = np.arange(c.n_trials)
    clean = rebuild_synthetic(c, idx, artifact_factor=ARTIFACT_FACTOR, workers=1)
    raw = rebuild_synthetic(c, idx, artifact_factor=ARTIFACT_FACTOR, workers=1,
                            preprocess_overrides=UNCLEANED_PREPROCESS)
    assert raw.config["preprocess"]["eog_method"] == "none" and raw.config["preprocess"]["notch"] is False
    assert clean.config["preprocess"]["eog_method"] == "regression"
    np.testing.assert_array_equal(raw.labels, clean.labels)
    np.testing.assert_array_equal(raw.artifacts, clean.artifacts)  # the same injected artifacts
    names = list(c.token_names)
    frontal = [names.index(n) for n in ("Fp1", "Fp2", "AF3", "AF4")]
    theta = list(c.feature_names["EEG"]).index("de_theta")
    blink = raw.artifacts[..., 0] > 0  # (n, T) windows with an injected blink
    real = np.arange(c.max_windows)[None, :] < c.n_windows[:, None]
    assert blink[real].mean() > 0.1
    lift = (raw.X[:, :, frontal, theta] - clean.X[:, :, frontal, theta]).mean(-1)  # nat, per window
    assert lift[blink & real].mean() > 0.3, lift[blink & real].mean()
    assert lift[blink & real].mean() > lift[~blink & real].mean() + 0.2
    with pytest.raises(ConfigError, match="preprocess_overrides"):
        rebuild_synthetic(c, [0], preprocess_overrides={"no_such_setting": 1})


@pytest.mark.slow
def test_paired_condition_differences_are_each_methods_own_change(synthetic_corpus):
    from mmqnet_core.evaluation.protocol import UNCLEANED_CONDITIONS

    cfg = TrainConfig(folds=2, split="subject", normalization="subject")
    table = evaluate(synthetic_corpus, train_config=cfg, methods=("logistic regression",), missing_rates=(0.0,),
                     scenarios=("artifacts", "uncleaned"))
    rows = table.set_index("condition")
    pairs = {ARTIFACT_CONDITIONS[1]: ARTIFACT_CONDITIONS[0], UNCLEANED_CONDITIONS[0]: ARTIFACT_CONDITIONS[0],
             UNCLEANED_CONDITIONS[1]: UNCLEANED_CONDITIONS[0]}
    for cond, ref in pairs.items():
        for t in ("valence", "arousal"):  # one test subject: the mean paired difference is the difference
            assert rows.loc[cond, f"{t}_acc_cond_diff"] == pytest.approx(
                rows.loc[cond, f"{t}_acc"] - rows.loc[ref, f"{t}_acc"], abs=1e-12)
    for cond in ("0 %", ARTIFACT_CONDITIONS[0]):  # no reference: no paired difference
        assert np.isnan(rows.loc[cond, "valence_acc_cond_diff"])
    assert rows.loc[UNCLEANED_CONDITIONS[1], "valence_brier"] != rows.loc[ARTIFACT_CONDITIONS[1], "valence_brier"]


def test_every_scenario_condition_has_a_column_label_of_its_own():
    from mmqnet_core.evaluation.protocol import UNCLEANED_CONDITIONS
    from mmqnet_core.evaluation.report import _short

    c = toy_corpus(n_windows=20)
    data = prepare(c, Normalizer.fit(c.X, c.missing))
    names = [n for n, _ in conditions(data, (0.0, 0.3), ("modalities", "gaps", "artifacts", "channels", "uncleaned"),
                                      c.token_modalities)]
    assert set(UNCLEANED_CONDITIONS) <= set(names)
    labels = [_short(n) for n in names]
    assert len(set(labels)) == len(labels), labels
    assert [_short(n) for n in (*ARTIFACT_CONDITIONS, *UNCLEANED_CONDITIONS)] == [
        "art.x1", "art.x4", "art.x1-raw", "art.x4-raw"]


def test_the_markdown_report_shows_each_methods_change_from_its_paired_reference():
    import pandas as pd

    from mmqnet_core.evaluation.protocol import COLUMNS
    from mmqnet_core.evaluation.report import markdown_table

    def row(method, condition, v, a, dv=np.nan, dv_se=np.nan):
        r = dict.fromkeys(COLUMNS, np.nan)
        r.update(split="subject-independent, fold 1/5", fold=0, method=method, condition=condition, missing_rate=(
            0.0 if condition == "0 %" else np.nan), valence_acc=v, arousal_acc=a, valence_acc_cond_diff=dv,
            valence_acc_cond_diff_se=dv_se, arousal_acc_cond_diff=(0.003 if not np.isnan(dv) else np.nan),
            arousal_acc_cond_diff_se=(0.006 if not np.isnan(dv) else np.nan), n_test_subjects=7)
        return r

    table = pd.DataFrame([row("MMQ-Net", "0 %", 0.728, 0.765), row("MMQ-Net", ARTIFACT_CONDITIONS[0], 0.729, 0.766),
                          row("MMQ-Net", ARTIFACT_CONDITIONS[1], 0.705, 0.769, -0.0244, 0.0226)])
    md = markdown_table(table)
    assert "Change from the paired reference condition" in md and "art.x4 vs art.x1" in md
    assert "| MMQ-Net | -2.4 ± 2.3 | +0.3 ± 0.6 |" in md
    no_pairs = markdown_table(table.assign(valence_acc_cond_diff=np.nan))
    assert "Change from the paired reference" not in no_pairs
