"""Train / validation / test splits of a corpus that never leak windows of one trial across sides.

The unit of every split is the *trial*: all windows of a trial are on one side. Two kinds of split:

``subject-independent``
    leave-subjects-out K folds: the test subjects of a fold are never seen in training; the validation
    subjects (for early stopping) are held out from the training subjects of the same fold.
``subject-dependent``
    per subject, its trials are split into K folds; training and test share subjects but never trials;
    validation trials are held out from each subject's training trials.

Every reported figure must say which split it comes from: :meth:`Split.describe` gives the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

SPLIT_KINDS = ("subject", "trial")


@dataclass(frozen=True)
class Split:
    """One fold: indices into the corpus' trial axis for the three sides."""

    kind: str  # "subject" (subject-independent, leave-subjects-out) or "trial" (subject-dependent, by trial)
    fold: int  # 0-based fold number
    n_folds: int  # K
    train: np.ndarray  # (n_train,) int trial indices used to fit the model and the normaliser
    val: np.ndarray  # (n_val,) int trial indices for early stopping (may be empty)
    test: np.ndarray  # (n_test,) int trial indices for the reported figures

    def describe(self) -> str:
        """Human-readable name of the split, stated beside every figure."""
        unit = "subject-independent (leave-subjects-out)" if self.kind == "subject" else (
            "subject-dependent (by trial)")
        return f"{unit}, fold {self.fold + 1}/{self.n_folds}"

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "fold": self.fold,
            "n_folds": self.n_folds,
            "train": self.train.tolist(),
            "val": self.val.tolist(),
            "test": self.test.tolist(),
        }


def _check_k(k: int, n: int, what: str) -> None:
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"Invalid value for 'folds': need an integer >= 2, got {k!r}.")
    if k > n:
        raise ConfigError(f"Invalid value for 'folds': {k} folds need at least {k} {what}, the corpus has {n}.")


def subject_folds(
    subjects: np.ndarray, k: int = 5, *, seed: int = 0, val_subjects: int = 1
) -> list[Split]:
    """Leave-subjects-out folds (subject-independent).

    Parameters
    ----------
    subjects : ndarray, shape (n_trials,)
        Subject id of every trial of the corpus.
    k : int
        Number of folds; subjects are shuffled (``seed``) and dealt into ``k`` groups.
    seed : int
        Seed of the shuffle.
    val_subjects : int
        Number of the training subjects of each fold held out for validation (0 = no validation side).

    Returns
    -------
    list of Split
        ``k`` splits whose test subjects partition the subjects.
    """
    subjects = np.asarray(subjects)
    ids = np.unique(subjects)
    _check_k(k, len(ids), "subjects")
    if val_subjects < 0 or len(ids) - int(np.ceil(len(ids) / k)) - val_subjects < 1:
        raise ConfigError(
            f"Invalid value for 'val_subjects': {val_subjects} validation subjects leave no training subject "
            f"with {len(ids)} subjects in {k} folds; use fewer validation subjects or more subjects."
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(ids)
    groups = np.array_split(order, k)
    out = []
    for f, test_ids in enumerate(groups):
        rest = np.array([s for s in order if s not in set(test_ids.tolist())])
        val_ids = rest[:val_subjects]
        train_ids = rest[val_subjects:]
        out.append(
            Split(
                kind="subject",
                fold=f,
                n_folds=k,
                train=np.flatnonzero(np.isin(subjects, train_ids)),
                val=np.flatnonzero(np.isin(subjects, val_ids)),
                test=np.flatnonzero(np.isin(subjects, test_ids)),
            )
        )
    return out


def trial_folds(subjects: np.ndarray, k: int = 5, *, seed: int = 0, val_fraction: float = 0.1) -> list[Split]:
    """Per-subject trial folds (subject-dependent): each subject's trials are dealt into ``k`` groups.

    Parameters
    ----------
    subjects : ndarray, shape (n_trials,)
        Subject id of every trial.
    k : int
        Number of folds; every subject needs at least ``k`` trials.
    seed : int
        Seed of the per-subject shuffles.
    val_fraction : float
        Share (0-0.5) of each subject's training trials held out for validation (at least one trial when > 0).
    """
    subjects = np.asarray(subjects)
    if not 0.0 <= val_fraction <= 0.5:
        raise ConfigError(f"Invalid value for 'val_fraction': allowed 0 to 0.5, got {val_fraction}.")
    ids, counts = np.unique(subjects, return_counts=True)
    _check_k(k, int(counts.min()) if len(counts) else 0, "trials per subject")
    rng = np.random.default_rng(seed)
    per_subject = {s: np.array_split(rng.permutation(np.flatnonzero(subjects == s)), k) for s in ids}
    out = []
    for f in range(k):
        train, val, test = [], [], []
        for s in ids:
            chunks = per_subject[s]
            test.append(chunks[f])
            rest = np.concatenate([c for j, c in enumerate(chunks) if j != f])
            n_val = int(np.ceil(val_fraction * len(rest))) if val_fraction > 0 else 0
            n_val = min(n_val, len(rest) - 1)
            val.append(rest[:n_val])
            train.append(rest[n_val:])
        out.append(
            Split(
                kind="trial",
                fold=f,
                n_folds=k,
                train=np.sort(np.concatenate(train)).astype(int),
                val=np.sort(np.concatenate(val)).astype(int),
                test=np.sort(np.concatenate(test)).astype(int),
            )
        )
    return out


def make_folds(
    kind: str, subjects: np.ndarray, k: int, *, seed: int = 0, val_subjects: int | None = None
) -> list[Split]:
    """Folds of the given kind ("subject" or "trial").

    ``val_subjects`` (subject folds only): validation subjects per fold; None = about 10 % of the training
    subjects, at least 1 when two or more training subjects remain, else 0.
    """
    if kind == "subject":
        n = len(np.unique(subjects))
        if val_subjects is None:
            n_train = n - int(np.ceil(n / max(k, 1)))
            val_subjects = max(1, round(0.1 * n_train)) if n_train >= 2 else 0
        return subject_folds(subjects, k, seed=seed, val_subjects=val_subjects)
    if kind == "trial":
        return trial_folds(subjects, k, seed=seed)
    raise ConfigError(f"Invalid value for 'split': allowed {', '.join(SPLIT_KINDS)}, got {kind!r}.")
