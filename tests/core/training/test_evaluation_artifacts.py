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
