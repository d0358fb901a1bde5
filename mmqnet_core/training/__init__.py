"""Training of MMQ-Net on a feature corpus: configuration, splits and the training loop.

Typical use::

    corpus = build_corpus("synthetic")                      # mmqnet_core.datasets.corpus
    result = train(corpus, TrainConfig(seed=0), run_dir="runs/default")

Every run is reproducible from ``config.json`` in its run folder (seeded torch/numpy, fixed split).
"""

from __future__ import annotations

from .config import IMPUTE_MODES, TrainConfig
from .loop import (DistInfo, PreparedData, TrainResult, dist_info_from_env, fit_checkpoint_evidence_spread,
                   fit_evidence_spread, prepare, seed_everything, train)
from .splits import Split, make_folds, subject_folds, trial_folds

__all__ = [
    "IMPUTE_MODES",
    "DistInfo",
    "PreparedData",
    "Split",
    "TrainConfig",
    "TrainResult",
    "dist_info_from_env",
    "fit_checkpoint_evidence_spread",
    "fit_evidence_spread",
    "make_folds",
    "prepare",
    "seed_everything",
    "subject_folds",
    "train",
    "trial_folds",
]
