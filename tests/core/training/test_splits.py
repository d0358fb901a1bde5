"""Splits never put windows of one trial (or, subject-independent, one subject) on two sides."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.training import make_folds, subject_folds, trial_folds


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_subject_folds_are_disjoint_and_cover(seed, k):
    rng = np.random.default_rng(seed)
    subjects = rng.integers(0, 11, size=200)
    folds = subject_folds(subjects, k, seed=seed, val_subjects=1)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(subjects)))  # every trial tested exactly once
    for f in folds:
        sides = [set(subjects[f.train]), set(subjects[f.val]), set(subjects[f.test])]
        assert not sides[0] & sides[1] and not sides[0] & sides[2] and not sides[1] & sides[2]
        assert len(sides[1]) == 1
        assert len(np.concatenate([f.train, f.val, f.test])) == len(subjects)
        assert "subject-independent" in f.describe()


@pytest.mark.parametrize("seed", [0, 3])
def test_trial_folds_share_subjects_never_trials(seed):
    subjects = np.repeat(np.arange(4), 10)
    folds = trial_folds(subjects, 5, seed=seed, val_fraction=0.1)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(40))
    for f in folds:
        tr, va, te = set(f.train.tolist()), set(f.val.tolist()), set(f.test.tolist())
        assert not tr & va and not tr & te and not va & te
        assert tr | va | te == set(range(40))
        assert set(subjects[f.test]) == set(subjects[f.train]) == set(range(4))  # subject-dependent
        assert "subject-dependent" in f.describe()


def test_split_errors_are_explicit():
    with pytest.raises(ConfigError, match="'folds': 6 folds need at least 6 subjects, the corpus has 3"):
        subject_folds(np.arange(3), 6)
    with pytest.raises(ConfigError, match="'val_subjects': 2 validation subjects leave no training subject"):
        subject_folds(np.repeat(np.arange(3), 2), 3, val_subjects=2)
    with pytest.raises(ConfigError, match="allowed subject, trial, got 'random'"):
        make_folds("random", np.arange(4), 2)


def test_make_folds_default_validation_size():
    folds = make_folds("subject", np.repeat(np.arange(32), 2), 4)
    assert all(len(set(np.repeat(np.arange(32), 2)[f.val])) == 2 for f in folds)  # ~10 % of 24
