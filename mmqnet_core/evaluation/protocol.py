"""Robustness evaluation: accuracy / macro-F1 of valence and arousal at simulated missing rates.

For every fold and every method the test trials are analysed with test-time masks drawn by
``masking.random_token_mask`` with a fixed seed per rate (the same masks for every method), on top of the
data's own missing tokens. Methods:

``MMQ-Net`` and its ablations
    the model with all query families, and with ``use_modality_queries`` / ``use_category_queries`` /
    ``use_interference_queries`` switched off (each trained with the same data, seed and augmentation);
``zero-fill encoder`` / ``mean-impute encoder``
    the same encoder without modality queries, trained and tested on features whose masked tokens are
    filled (0 in original units / the training mean) and fed as present (``missing=False``);
``logistic regression``
    a linear classifier on mean-imputed window features (torch, :mod:`.baselines`);
``linear model (8-s context)``
    a linear classifier on each token's features averaged over a centred 8-window context (8 s) plus its visible
    share (:func:`.baselines.context_features`);
``late fusion``
    per-modality linear classifiers on the same context features, their logits averaged with learned weights over
    the modalities present (:class:`.baselines.LateFusion`).
The three baselines are trained on the training trials with the masks MMQ-Net trains with (random 0-70 % plus
whole-modality drop-outs), so that they too have seen every modality missing.

Conditions (rows; the ``condition`` column): random missingness at each rate of ``missing_rates`` ("30 %"), and
with ``scenarios``: "EEG missing", "peripheral missing" (every non-EEG channel), "<modality> missing" for each
peripheral modality, and "gaps 10-60 s" (two contiguous gaps per trial, each of one modality -- all EEG or one
peripheral modality -- lasting 10-60 s). Each condition's masks are drawn once with a fixed seed and are the
same for every method.

Calibration: ``*_ece`` (expected calibration error, 10 equal-width bins of the predicted class' confidence) and
``*_brier`` (Brier score of the high-class probability), per window. ``*_acc_min_subject`` is the worst test
subject's window accuracy (a subject far below 0.5 is confidently inverted).

Uncertainty: ``*_acc_se`` is the standard error of the window accuracy over the test *subjects* (the unit that
varies most in cross-subject EEG), ``*_acc_diff_se`` the paired standard error of a method's accuracy minus
MMQ-Net's over the same subjects (what decides whether an ablation really differs).

Reconstruction error (MSE in normalised units, on the valid feature columns of tokens hidden by the test mask
that have ground truth) is reported for MMQ-Net (modality queries), mean imputation and linear interpolation
along time (rows ``mean imputation`` and ``linear interpolation``), overall (``recon_mse``), on EEG tokens
(``recon_mse_eeg``) and on the slow signals GSR, respiration and temperature (``recon_mse_slow``). Row
``spherical spline (mne)`` interpolates hidden EEG channels from the visible ones with MNE's ``interpolate_bads``
(applied to the feature columns; at most 300 hidden-channel patterns per condition, windows with at least 4 visible
EEG channels) and reports in ``recon_mse_mmqnet_same`` MMQ-Net's error on exactly the same entries. Classification figures are per *window*
(every window of a test trial is a sample) and per
*trial* (probabilities averaged over the trial's windows); the ``split`` column names the split and the
feature normalisation (``TrainConfig.normalization``): with ``"subject"`` every subject, the held-out test
subjects included, is z-scored with its own statistics (transductive but unsupervised: no label of a test
subject is used, as is standard in cross-subject EEG). Every method of a fold, the logistic regression
included, sees the same normalised features.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import ConfigError
from ..progress import CancelToken, ProgressCallback, check_cancel, report, scaled
from .baselines import fit_logistic_regression, interpolate_time, predict_logistic_regression
from .metrics import accuracy, macro_f1, masked_mse

log = logging.getLogger(__name__)

DEFAULT_RATES = (0.0, 0.1, 0.3, 0.5, 0.7)
#: Whole-modality and long-gap conditions (``evaluate(scenarios=...)``; "modalities" expands to EEG missing,
#: peripheral missing and each peripheral modality missing).
SCENARIOS = ("modalities", "gaps")
#: Slow peripheral signals whose reconstruction is compared with linear interpolation along time.
SLOW_MODALITIES = ("GSR", "RESP", "TEMP")

#: Trained variants: name -> TrainConfig overrides.
MODEL_VARIANTS: dict[str, dict[str, Any]] = {
    "MMQ-Net": {},
    "w/o modality queries": {"use_modality_queries": False},
    "w/o category queries": {"use_category_queries": False},
    "w/o interference queries": {"use_interference_queries": False},
    "zero-fill encoder": {"use_modality_queries": False, "impute": "zero"},
    "mean-impute encoder": {"use_modality_queries": False, "impute": "mean"},
}
LOGREG = "logistic regression"
LINEAR_CONTEXT = "linear model (8-s context)"
LATE_FUSION = "late fusion"
#: Classifiers fitted here (no neural network): name -> kind.
FITTED_BASELINES = (LOGREG, LINEAR_CONTEXT, LATE_FUSION)
SPLINE = "spherical spline (mne)"
#: Reconstruction-only rows (no classification): imputation rules compared with the modality queries.
MEAN_RECON = "mean imputation"
INTERP = "linear interpolation"
RECON_ONLY = (MEAN_RECON, INTERP, SPLINE)
#: Every method, in table order.
ALL_METHODS = (*MODEL_VARIANTS, *FITTED_BASELINES)
#: Half-width (windows) of the long-context baselines' span: the span of MMQ-Net's default long-context read-out
#: (``MMQNetConfig.long_context_windows``), so that a model with it is compared with linear models that see as much.
LONG_CONTEXT_WINDOWS = 30
LINEAR_LONG = f"linear model ({2 * LONG_CONTEXT_WINDOWS + 1}-s context)"
LATE_FUSION_LONG = f"late fusion ({2 * LONG_CONTEXT_WINDOWS + 1}-s context)"
#: Fitted baselines on long-context features (named with ``methods=``; not in the default set).
LONG_BASELINES = (LINEAR_LONG, LATE_FUSION_LONG)
_FITTED = (*FITTED_BASELINES, *LONG_BASELINES)

COLUMNS = ("split", "fold", "method", "condition", "missing_rate", "achieved_rate", "valence_acc", "valence_f1",
           "arousal_acc", "arousal_f1", "valence_acc_trial", "arousal_acc_trial", "valence_acc_se",
           "arousal_acc_se", "valence_acc_diff_se", "arousal_acc_diff_se", "valence_acc_min_subject",
           "arousal_acc_min_subject", "valence_ece", "arousal_ece", "valence_brier", "arousal_brier", "recon_mse",
           "recon_mse_eeg", "recon_mse_slow", "recon_mse_mmqnet_same", "n_test_trials", "n_test_windows",
           "n_test_subjects")
#: The reference of the paired ``*_diff_se`` columns (standard error of a method's difference to it).
REFERENCE = "MMQ-Net"


@dataclass(frozen=True)
class TrainedModel:
    """A model ready for evaluation (from :func:`~mmqnet_core.training.train` or a checkpoint)."""

    model: torch.nn.Module  # MMQNet in eval mode
    normalizer: Any  # its Normalizer (fitted on the training side of the same split)
    config: Any  # its TrainConfig (impute mode)


def masks_for_rate(data: Any, idx: np.ndarray, rate: float, seed: int, dropout_share: float = 0.3) -> np.ndarray:
    """Test-time masks (n_test, Tt, N) for ``rate``: the same for every method (seed fixed per rate)."""
    from ..training.loop import draw_masks

    rng = np.random.default_rng([seed, int(round(rate * 1000)), 104729])
    n, tt = len(idx), data.x.shape[1]
    if rate <= 0:
        return np.zeros((n, tt, data.x.shape[2]), bool)
    drop, _ = draw_masks(n, tt, data.groups, rng, rate_max=rate, dropout_share=dropout_share,
                         rates=np.full(n, rate))
    return drop


def rate_condition(rate: float) -> str:
    """Name of the random-missingness condition at ``rate``: "30 %"."""
    return f"{100 * float(rate):.0f} %"


def conditions(data: Any, missing_rates: Sequence[float], scenarios: Sequence[str],
               modalities: Sequence[str]) -> list[tuple[str, float]]:
    """(name, rate) of every condition, in table order; rate is NaN for the scenario conditions."""
    out = [(rate_condition(r), float(r)) for r in missing_rates]
    groups = list(dict.fromkeys(modalities))
    if "modalities" in scenarios:
        if "EEG" in groups:
            out.append(("EEG missing", float("nan")))
            if len(groups) > 1:
                out.append(("peripheral missing", float("nan")))
        out += [(f"{g} missing", float("nan")) for g in groups if g != "EEG"]
    if "gaps" in scenarios:
        out.append(("gaps 10-60 s", float("nan")))
    return out


def masks_for_condition(data: Any, idx: np.ndarray, condition: str, rate: float, seed: int,
                        modalities: Sequence[str], step_s: float = 1.0) -> np.ndarray:
    """Test-time masks (n_test, Tt, N) of a condition (see the module docstring), the same for every method."""
    if not np.isnan(rate):
        return masks_for_rate(data, idx, rate, seed)
    mods = np.asarray(list(modalities))
    n, tt, n_tok = len(idx), data.x.shape[1], data.x.shape[2]
    drop = np.zeros((n, tt, n_tok), bool)
    if condition == "EEG missing":
        drop[:, :, mods == "EEG"] = True
    elif condition == "peripheral missing":
        drop[:, :, mods != "EEG"] = True
    elif condition.endswith(" missing"):
        drop[:, :, mods == condition[: -len(" missing")]] = True
    elif condition == "gaps 10-60 s":
        rng = np.random.default_rng([seed, 60, 104729])
        groups = list(dict.fromkeys(mods))
        n_win = np.asarray(data.n_windows)
        for i in range(n):
            for _ in range(2):
                g = groups[int(rng.integers(len(groups)))]
                length = int(round(rng.uniform(10.0, 60.0) / step_s))
                length = min(length, int(n_win[i]))
                start = int(rng.integers(0, int(n_win[i]) - length + 1))
                drop[i, start:start + length][:, mods == g] = True
    else:
        raise ConfigError(f"Unknown evaluation condition {condition!r}.")
    return drop


def calibration(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> tuple[float, float]:
    """(ECE, Brier score) of high-class probabilities ``probs`` (n,) against binary ``labels`` (n,).

    ECE: the predicted class' confidence max(p, 1 - p) in ``n_bins`` equal-width bins; the mean over bins of
    |accuracy - mean confidence| weighted by the bin's share of samples. NaN for no samples.
    """
    probs = np.asarray(probs, np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if probs.size == 0:
        return float("nan"), float("nan")
    brier = float(np.mean((probs - labels) ** 2))
    conf = np.maximum(probs, 1 - probs)
    correct = ((probs >= 0.5).astype(np.int64) == labels).astype(np.float64)
    bins = np.minimum(((conf - 0.5) * 2 * n_bins).astype(np.int64), n_bins - 1)  # confidence lies in [0.5, 1]
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece), brier


def subject_accuracy(probs: np.ndarray, labels: np.ndarray, windows: np.ndarray,
                     subjects: np.ndarray) -> np.ndarray:
    """Per-window accuracy of every test subject: (S, K) for the sorted unique ``subjects`` (n,)."""
    correct = ((probs >= 0.5).astype(np.int64) == labels[:, None, :]) & windows[..., None]  # (n, Tt, K)
    ids = np.unique(subjects)
    return np.stack([correct[subjects == s].sum((0, 1)) / max(int(windows[subjects == s].sum()), 1)
                     for s in ids])  # (S, K)


def _standard_error(per_subject: np.ndarray) -> np.ndarray:
    """Standard error of the mean over subjects (axis 0); NaN with fewer than two subjects."""
    if len(per_subject) < 2:
        return np.full(per_subject.shape[1:], np.nan)
    return per_subject.std(0, ddof=1) / np.sqrt(len(per_subject))


def _scores(probs: np.ndarray, labels: np.ndarray, windows: np.ndarray, subjects: np.ndarray,
            reference: np.ndarray | None = None) -> dict[str, float]:
    """Window- and trial-level accuracy / macro-F1 from probabilities (n, Tt, K) and labels (n, K), with the
    standard error of the window accuracy over test subjects and, given the reference method's per-subject
    accuracies (S, K), the paired standard error of the difference to it."""
    pred = (probs >= 0.5).astype(np.int64)
    out: dict[str, float] = {}
    trial_p = np.where(windows[..., None], probs, 0).sum(1) / np.maximum(windows.sum(1), 1)[:, None]
    per_subject = subject_accuracy(probs, labels, windows, subjects)  # (S, K)
    se = _standard_error(per_subject)
    diff_se = _standard_error(per_subject - reference) if reference is not None else np.full(2, np.nan)
    for k, name in enumerate(("valence", "arousal")):
        y = np.broadcast_to(labels[:, None, k], windows.shape)[windows]
        p = pred[..., k][windows]
        out[f"{name}_acc"] = accuracy(y, p)
        out[f"{name}_f1"] = macro_f1(y, p)
        out[f"{name}_acc_trial"] = accuracy(labels[:, k], (trial_p[:, k] >= 0.5).astype(np.int64))
        out[f"{name}_acc_se"] = float(se[k])
        out[f"{name}_acc_diff_se"] = float(diff_se[k])
        out[f"{name}_acc_min_subject"] = float(per_subject[:, k].min())
        out[f"{name}_ece"], out[f"{name}_brier"] = calibration(probs[..., k][windows], y)
    return out


def _train_variants(corpus: Any, base: Any, names: Sequence[str], split: Any, run_dir: Path | None,
                    progress: ProgressCallback | None, cancel: CancelToken | None) -> dict[str, TrainedModel]:
    from ..training import train

    out = {}
    for i, name in enumerate(names):
        cfg = dataclasses.replace(base, **MODEL_VARIANTS[name])
        folder = None if run_dir is None else run_dir / f"fold{split.fold}" / _slug(name)
        res = train(corpus, cfg, run_dir=folder, split=split,
                    progress=scaled(progress, i / len(names), (i + 1) / len(names)), cancel=cancel)
        out[name] = TrainedModel(res.model, res.normalizer, cfg)
        log.info("trained %s (fold %d): best epoch %d", name, split.fold, res.best_epoch)
    return out


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_").lower()


def evaluate(
    corpus: Any,
    *,
    train_config: Any = None,
    methods: Sequence[str] = ALL_METHODS,
    missing_rates: Sequence[float] = DEFAULT_RATES,
    scenarios: Sequence[str] = (),
    folds: Sequence[int] | None = None,
    trained: Mapping[str, TrainedModel] | None = None,
    trained_folds: Mapping[int, Mapping[str, TrainedModel]] | None = None,
    run_dir: str | os.PathLike | None = None,
    seed: int = 0,
    batch_size: int = 128,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> pd.DataFrame:
    """Evaluate MMQ-Net, its ablations and baselines on held-out trials at several missing rates.

    Parameters
    ----------
    corpus : Corpus
        Feature corpus (``build_corpus``).
    train_config : TrainConfig, optional
        Base training configuration (split kind, K, seed, epochs...) for the variants that are trained here.
    methods : sequence of str
        Names from :data:`ALL_METHODS`.
    missing_rates : sequence of float
        Simulated test-time missing rates (0-0.9 of the tokens).
    scenarios : sequence of str
        Further conditions from :data:`SCENARIOS`: "modalities" (EEG / peripheral / each peripheral modality
        missing) and "gaps" (contiguous 10-60 s gaps of one modality).
    folds : sequence of int, optional
        Folds to evaluate (indices into ``train_config.folds``); default ``[train_config.fold]``.
    trained : mapping, optional
        Already trained models for the first fold in ``folds`` (e.g. ``{"MMQ-Net": TrainedModel(...)}``
        loaded from a run folder); they are not retrained.
    trained_folds : mapping, optional
        Already trained models per fold, ``{fold: {method: TrainedModel}}`` (overrides ``trained``).
    run_dir : path, optional
        Where the runs of trained variants are written (``fold<k>/<method>/``); None = not written.
    seed : int
        Seed of the test-time masks.
    batch_size : int
        Contexts per forward pass.
    progress, cancel
        Progress callback and cancel token.

    Returns
    -------
    pandas.DataFrame
        One row per (fold, method, missing rate) with the columns :data:`COLUMNS`, plus reconstruction-only
        rows ``mean imputation`` and ``linear interpolation`` for every rate > 0.
    """
    from ..training import TrainConfig, make_folds, prepare

    base = train_config if train_config is not None else TrainConfig()
    unknown = [m for m in methods if m not in ALL_METHODS and m not in LONG_BASELINES and m not in (trained or {})]
    if unknown:
        raise ConfigError(f"Unknown evaluation method(s) {unknown}; allowed: "
                          f"{', '.join((*ALL_METHODS, *LONG_BASELINES))}.")
    for r in missing_rates:
        if not 0.0 <= float(r) <= 0.9:
            raise ConfigError(f"Invalid value for 'missing_rates': each rate must be 0 to 0.9, got {r}.")
    bad = [sc for sc in scenarios if sc not in SCENARIOS]
    if bad:
        raise ConfigError(f"Unknown evaluation scenario(s) {bad}; allowed: {', '.join(SCENARIOS)}.")
    fold_ids = [base.fold] if folds is None else list(folds)
    splits = make_folds(base.split, corpus.subjects, base.folds, seed=base.split_seed,
                        val_subjects=base.val_subjects)
    run_dir = Path(run_dir) if run_dir is not None else None
    rows: list[dict[str, Any]] = []
    for fi, fold in enumerate(fold_ids):
        if not 0 <= fold < len(splits):
            raise ConfigError(f"Invalid fold {fold}: allowed 0..{len(splits) - 1}.")
        split = splits[fold]
        p_fold = scaled(progress, fi / len(fold_ids), (fi + 1) / len(fold_ids))
        if trained_folds is not None:
            given = dict(trained_folds.get(fold, {}))
        else:
            given = dict(trained or {}) if fi == 0 else {}
        to_train = [m for m in methods if m in MODEL_VARIANTS and m not in given]
        models = dict(given)
        models.update(_train_variants(corpus, base, to_train, split, run_dir, scaled(p_fold, 0.0, 0.85), cancel))
        check_cancel(cancel)
        rows += _evaluate_fold(corpus, split, models, methods, missing_rates, seed, batch_size,
                               scaled(p_fold, 0.85, 1.0), cancel, prepare, base.normalization, scenarios)
    report(progress, 1.0, "evaluation done")
    df = pd.DataFrame(rows)
    return df.reindex(columns=list(COLUMNS))


def _evaluate_fold(corpus, split, models, methods, rates, seed, batch_size, progress, cancel, prepare,
                   normalization="global", scenarios=()):
    from ..inference.engine import run_contexts
    from ..model.normalization import Normalizer
    from ..training.loop import NORMALIZATION_NOTES, impute

    rows = []
    test = np.asarray(split.test)
    if len(test) == 0:
        raise ConfigError(f"The split {split.describe()} has no test trial.")
    normalizer = next(iter(models.values())).normalizer if models else Normalizer.fit(
        corpus.X[split.train], corpus.missing[split.train])
    other = sorted({f"{name}: {getattr(tm.config, 'normalization', 'global')!r}" for name, tm in models.items()
                    if getattr(tm.config, "normalization", "global") != normalization})
    if other:
        raise ConfigError(
            f"Models trained with another feature normalisation than {normalization!r} ({', '.join(other)}) cannot "
            "share one evaluation: evaluate them separately, each with its own training configuration."
        )
    data_all = prepare(corpus, normalizer, normalization=normalization)
    per_trial = ["x", "missing", "labels", "scores", "interference", "artifacts", "artifact_known", "n_windows"]
    if data_all.trial_zero is not None:
        per_trial.append("trial_zero")
    data = dataclasses.replace(data_all, **{k: getattr(data_all, k)[test] for k in per_trial})
    windows = np.arange(data.x.shape[1])[None, :] < data.n_windows[:, None]  # (n, Tt) real windows
    fitted = {m: _fit_baseline(m, data_all, np.asarray(split.train), seed) for m in methods if m in _FITTED}
    subjects = np.asarray(corpus.subjects)[test]
    mods = np.asarray(corpus.token_modalities)
    eeg_tok = mods == "EEG"
    slow_tok = np.isin(mods, SLOW_MODALITIES)
    common = {"split": f"{split.describe()}; {NORMALIZATION_NOTES[normalization]}", "fold": split.fold,
              "n_test_trials": len(test), "n_test_windows": int(windows.sum()),
              "n_test_subjects": int(len(np.unique(subjects)))}
    # the reference method first, so that the others' paired differences to it can be computed
    methods = sorted(methods, key=lambda m: m != REFERENCE)
    conds = conditions(data, rates, scenarios, corpus.token_modalities)
    steps = len(conds) * max(1, len(methods))
    done = 0
    for condition, rate in conds:
        drop = masks_for_condition(data, test, condition, rate, seed, corpus.token_modalities,
                                   float(getattr(corpus, "step_s", 1.0) or 1.0))
        hidden = data.missing | drop
        empty = hidden.reshape(len(hidden), -1).all(1)
        hidden[empty] = data.missing[empty]
        present = ~data.missing & windows[..., None]
        achieved = float((hidden & present).sum() / max(present.sum(), 1))
        scored = (hidden & ~data.missing)[..., None] & data.valid & windows[..., None, None]  # (n, Tt, N, F)
        base_row = {**common, "condition": condition, "missing_rate": rate, "achieved_rate": achieved}
        reference = None
        mmq_recon = None
        for method in methods:
            check_cancel(cancel)
            row = {**base_row, "method": method, "recon_mse": np.nan}
            if method in _FITTED:
                probs = _predict_baseline(method, fitted[method], data.x, hidden)
            else:
                tm = models[method]
                if tm.config.impute != "none":
                    x_in = impute(data.x, hidden, tm.config.impute, data.zero_for(np.arange(len(test))))
                    m_in = np.zeros_like(hidden)
                else:
                    x_in, m_in = data.x, hidden
                out = run_contexts(tm.model, x_in, m_in, n_valid=data.n_windows, batch_size=batch_size,
                                   return_recon=tm.config.use_modality_queries and tm.config.impute == "none")
                probs = out.probabilities
                if out.recon is not None:
                    row.update(_recon_errors(out.recon, data.x, scored, eeg_tok, slow_tok))
                    if method == REFERENCE:
                        mmq_recon = out.recon
            row.update(_scores(probs, data.labels, windows, subjects, reference))
            if method == REFERENCE:
                reference = subject_accuracy(probs, data.labels, windows, subjects)
            rows.append(row)
            done += 1
            report(progress, done / steps, f"{method} at {condition}")
        if scored.any():
            rows.append({**base_row, "method": MEAN_RECON,
                         **_recon_errors(np.zeros_like(data.x), data.x, scored, eeg_tok, slow_tok)})
            interp = np.stack([interpolate_time(data.x[i], hidden[i]) for i in range(len(test))])
            rows.append({**base_row, "method": INTERP, **_recon_errors(interp, data.x, scored, eeg_tok, slow_tok)})
            spline = _spline_row(corpus, data, hidden, scored, eeg_tok, mmq_recon, seed)
            if spline is not None:
                rows.append({**base_row, "method": SPLINE, **spline})
    return rows


def _recon_errors(recon: np.ndarray, target: np.ndarray, scored: np.ndarray, eeg: np.ndarray,
                  slow: np.ndarray) -> dict[str, float]:
    """MSE over all scored entries, over those of EEG tokens and over those of slow-signal tokens."""
    return {"recon_mse": masked_mse(recon, target, scored),
            "recon_mse_eeg": masked_mse(recon, target, scored & eeg[:, None]),
            "recon_mse_slow": masked_mse(recon, target, scored & slow[:, None])}


def _spline_row(corpus: Any, data: Any, hidden: np.ndarray, scored: np.ndarray, eeg: np.ndarray,
                mmq_recon: np.ndarray | None, seed: int, max_patterns: int = 300) -> dict[str, float] | None:
    """Spherical-spline row: its EEG reconstruction error and MMQ-Net's on the same entries (None when the EEG
    tokens have no standard 10-20 positions or nothing can be interpolated)."""
    from .baselines import spherical_spline, standard_montage

    names = [str(n) for n in np.asarray(corpus.token_names)[eeg]]
    positions = standard_montage().ch_names
    if len(names) < 5 or not set(names) <= set(positions):
        return None
    n, tt = hidden.shape[:2]
    x_eeg = data.x[:, :, eeg].reshape(n * tt, len(names), -1)  # (W, C, F)
    h_eeg = (hidden[:, :, eeg] & ~data.missing[:, :, eeg]).reshape(n * tt, len(names))  # hidden with ground truth
    avail = ~hidden[:, :, eeg].reshape(n * tt, len(names))
    recon, done = spherical_spline(np.where(avail[..., None], x_eeg, 0.0), ~avail, names,
                                   max_patterns=max_patterns, seed=seed)
    mask = scored[:, :, eeg].reshape(n * tt, len(names), -1) & done[:, None, None] & h_eeg[..., None]
    if not mask.any():
        return None
    row = {"recon_mse_eeg": masked_mse(recon, x_eeg, mask)}
    if mmq_recon is not None:
        row["recon_mse_mmqnet_same"] = masked_mse(mmq_recon[:, :, eeg].reshape(n * tt, len(names), -1), x_eeg, mask)
    return row


def _baseline_training_set(data_all: Any, train_idx: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training trials with the masks MMQ-Net trains with: random 0-70 % plus whole-modality drop-outs."""
    from ..training.loop import draw_masks, modality_dropout

    rng = np.random.default_rng([seed, 31337])
    x = data_all.x[train_idx]
    miss = data_all.missing[train_idx]
    drop, _ = draw_masks(len(train_idx), x.shape[1], data_all.groups, rng, rate_max=0.7, dropout_share=0.3)
    drop |= modality_dropout(len(train_idx), x.shape[1], data_all.groups, data_all.eeg_tokens, rng, 0.5)
    return x, miss | drop


def _fit_baseline(method: str, data_all: Any, train_idx: np.ndarray, seed: int) -> Any:
    """Fit one of :data:`FITTED_BASELINES` on the training trials (windows of real data only)."""
    from .baselines import LateFusion, context_features, fit_classifier

    x, hidden = _baseline_training_set(data_all, train_idx, seed)
    win = np.arange(x.shape[1])[None, :] < data_all.n_windows[train_idx][:, None]  # (n, Tt)
    y = np.broadcast_to(data_all.labels[train_idx][:, None, :], (*win.shape, 2))[win]
    if method == LOGREG:
        x_in = np.where(hidden[..., None], 0.0, x).astype(np.float32)[win]  # (windows, N, F)
        return fit_logistic_regression(x_in, y, seed=seed)
    feats = context_features(x, hidden, _context_length(method))[win]  # (windows, N, F + 1)
    if method in (LINEAR_CONTEXT, LINEAR_LONG):
        model = torch.nn.Sequential(torch.nn.Flatten(1), torch.nn.Linear(feats.shape[1] * feats.shape[2], 2))
    else:
        model = LateFusion(data_all.groups, feats.shape[2])
    return fit_classifier(model, feats, y, seed=seed)


def _context_length(method: str) -> int:
    """Windows of the centred context a fitted baseline averages over (8, or the long-context span)."""
    return 2 * LONG_CONTEXT_WINDOWS + 1 if method in LONG_BASELINES else 8


def _predict_baseline(method: str, model: Any, x: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """High-class probabilities (n, Tt, K) of a fitted baseline on trials ``x`` with ``hidden`` tokens."""
    from .baselines import context_features, predict_classifier

    if method == LOGREG:
        x_in = np.where(hidden[..., None], 0.0, x).astype(np.float32)
        probs = predict_logistic_regression(model, x_in.reshape(-1, *x_in.shape[2:]))
    else:
        feats = context_features(x, hidden, _context_length(method))
        probs = predict_classifier(model, feats.reshape(-1, *feats.shape[2:]))
    return probs.reshape(*x.shape[:2], -1)


def with_conditions(table: pd.DataFrame) -> pd.DataFrame:
    """The table with a ``condition`` column (tables written before it existed: from ``missing_rate``)."""
    if "condition" in table and table["condition"].notna().all():
        return table
    named = table["missing_rate"].map(rate_condition)
    if "condition" in table:
        named = table["condition"].fillna(named)
    return table.assign(condition=named)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over folds of every metric per (method, condition); the split column is kept."""
    table = with_conditions(table)
    metrics = [c for c in table.columns if c not in ("split", "fold", "method", "condition", "n_test_trials",
                                                     "n_test_windows", "n_test_subjects")]
    kind = table["split"].map(lambda s: re.sub(r", fold \d+/\d+", "", str(s)))  # fold-free split name
    grouped = table.assign(split=kind).groupby(["split", "method", "condition"], sort=False)
    out = grouped[metrics].mean().reset_index()
    # the standard error of a mean over folds (independent test subjects): sqrt(sum of squared SEs) / folds
    for col in [c for c in metrics if c.endswith("_se")]:
        out[col] = grouped[col].apply(lambda v: float(np.sqrt((v ** 2).sum()) / len(v)) if v.notna().all()
                                      else float("nan")).to_numpy()
    for col in [c for c in metrics if c.endswith("_min_subject")]:  # the worst subject over all folds
        out[col] = grouped[col].min().to_numpy()
    out.insert(1, "folds", int(table["fold"].nunique()))
    return out
