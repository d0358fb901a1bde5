"""Training of MMQ-Net on a feature corpus (single process, or DistributedDataParallel under torchrun).

One *sample* is a random crop of ``T`` consecutive windows of one training trial. Per sample:

1. simulated missingness: ``masking.random_token_mask`` at a rate drawn from U(0, ``mask_rate_max``)
   (group drop-outs + token runs) on top of the data's own missing tokens;
2. extra random masking of ``extra_mask_rate`` of the still-visible tokens (masked-autoencoder style);
3. loss = CE(valence, arousal high/low at >= 5) [+ MSE of the 1-9 scores with ``regression``] + MSE of the modality-query reconstructions on the tokens
   hidden in 1-2 that have ground truth (normalised units; at most ``recon_tokens_max`` of them per sample, at
   random, and only those are decoded) + BCE(interference score) + multi-label BCE of the known artifact
   types + decorrelation of category vs interference query outputs.

Features are z-scored with a :class:`~mmqnet_core.model.normalization.Normalizer` fitted on the training side
of the split only (``normalization="global"``), or per subject / per trial with the group's own statistics
(``"subject"`` / ``"recording"``; the global statistics are the fallback and are stored in the checkpoint).
AdamW with linear warm-up and cosine decay; early stopping on the validation loss
(classification CE at simulated missing rates, fixed masks); the best epoch's weights are kept.

Distributed: when ``WORLD_SIZE`` > 1 in the environment (torchrun), the process group is initialised (gloo on
CPU, nccl on CUDA), each rank trains on its share of the samples (DistributedSampler) and gradients are
averaged by DDP; validation runs on every rank over the whole validation set (so early-stopping decisions
agree); only rank 0 writes the run folder.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import csv
import io
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

from ..errors import ConfigError
from ..fileio import atomic_write_text
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from .config import TrainConfig
from .splits import Split, make_folds

log = logging.getLogger(__name__)


# --- helpers -------------------------------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _select_device(preferred: str | None) -> torch.device:
    from ..device import select_device

    return select_device(preferred)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    from ..device import autocast

    return autocast(device)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a distributed run."""

    rank: int = 0  # global rank
    world_size: int = 1  # number of processes
    local_rank: int = 0  # rank on this machine (selects the GPU)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def dist_info_from_env() -> DistInfo:
    """Read RANK / WORLD_SIZE / LOCAL_RANK as set by torchrun (defaults: a single process)."""
    try:
        return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                        int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError as exc:
        raise ConfigError(f"Invalid torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK): {exc}.") from None


def lr_at(step: int, total: int, peak: float, warmup: int, schedule: str = "cosine") -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then cosine decay to 5 % of ``peak`` at ``total``
    (``schedule="cosine"``) or ``peak`` until the end (``"constant"``)."""
    if warmup > 0 and step < warmup:
        return peak * (step + 1) / warmup
    if schedule == "constant":
        return peak
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


# --- data on the token grid ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreparedData:
    """Normalised arrays of a corpus for one split (shared by training and evaluation)."""

    x: np.ndarray  # (n, Tt, N, F) float32 normalised features; missing tokens and invalid columns = 0
    missing: np.ndarray  # (n, Tt, N) bool
    labels: np.ndarray  # (n, K) int64 high/low classes
    scores: np.ndarray  # (n, K) float32 1-9 scores
    interference: np.ndarray  # (n, Tt) float32 [0, 1]
    artifacts: np.ndarray  # (n, Tt, A) float32
    artifact_known: np.ndarray  # (n,) bool
    n_windows: np.ndarray  # (n,) int64
    groups: np.ndarray  # (N,) int group id per token (for random_token_mask)
    valid: np.ndarray  # (N, F) bool
    zero_normalised: np.ndarray  # (N, F) float32: the normalised value of 0 in original units (zero-fill)
    normalization: str = "global"  # how x was normalised (TrainConfig.normalization)
    trial_zero: np.ndarray | None = None  # (n, N, F) per-trial zero_normalised in the per-group modes, else None
    eeg_tokens: np.ndarray | None = None  # (N,) bool: EEG tokens (the rest is "peripheral"); None = unknown

    def zero_for(self, trial_idx: np.ndarray) -> np.ndarray:
        """Normalised value of 0 in original units for trials ``trial_idx``: (B, 1, N, F) or (N, F)."""
        if self.trial_zero is None:
            return self.zero_normalised
        return self.trial_zero[np.asarray(trial_idx)][:, None]


#: What the evaluation text says about each normalisation mode (stated beside every figure).
NORMALIZATION_NOTES = {
    "global": "features z-scored with the training subjects' statistics",
    "subject": ("features z-scored per subject, held-out subjects with their own statistics "
                "(transductive, unsupervised)"),
    "recording": "features z-scored per trial with the trial's own statistics (transductive, unsupervised)",
}


def prepare(corpus: Any, normalizer: Any, threshold: float = 5.0, *, normalization: str = "global") -> PreparedData:
    """Normalise a corpus' features and collect the training targets.

    Parameters
    ----------
    corpus : Corpus
        Feature arrays.
    normalizer : Normalizer
        Statistics of the training side of the split: applied to everything in the ``"global"`` mode, the
        fallback of columns a subject / trial has too few values of in the other modes.
    threshold : float
        Scores >= ``threshold`` are the high class.
    normalization : str
        ``"global"``, ``"subject"`` (every subject z-scored with its own statistics, held-out ones included:
        transductive, unsupervised) or ``"recording"`` (every trial with its own).
    """
    from ..model.normalization import check_mode, normalize_groups

    check_mode(normalization)
    valid = np.asarray(corpus.valid, bool)
    trial_zero = None
    if normalization == "global":
        x = normalizer.apply(corpus.X, corpus.missing)
    else:
        groups = corpus.subjects if normalization == "subject" else np.arange(corpus.n_trials)
        x, mean, std = normalize_groups(corpus.X, corpus.missing, groups, normalizer)
        trial_zero = np.where(valid, -mean / std, 0.0).astype(np.float32)  # (n, N, F)
    x = np.where(valid, x, np.float32(0.0)).astype(np.float32)
    x = np.nan_to_num(x, copy=False)
    mods = list(corpus.token_modalities)
    groups = np.array([list(dict.fromkeys(mods)).index(m) for m in mods], dtype=np.int64)
    zero = normalizer.apply(np.zeros((1, *valid.shape), np.float32))[0]
    return PreparedData(
        x=x, missing=np.asarray(corpus.missing, bool), labels=(corpus.labels >= threshold).astype(np.int64),
        scores=corpus.labels.astype(np.float32), interference=corpus.interference.astype(np.float32),
        artifacts=corpus.artifacts.astype(np.float32), artifact_known=np.asarray(corpus.artifact_known, bool),
        n_windows=np.asarray(corpus.n_windows, np.int64), groups=groups, valid=valid,
        zero_normalised=np.where(valid, zero, 0.0).astype(np.float32), normalization=normalization,
        trial_zero=trial_zero, eeg_tokens=np.array([str(m).upper() == "EEG" for m in mods], bool),
    )


def impute(x: np.ndarray, hidden: np.ndarray, mode: str, zero_normalised: np.ndarray) -> np.ndarray:
    """Fill hidden tokens for the imputation baselines: "mean" -> 0 (the normalisation mean), "zero" -> the
    normalised value of 0 in original units (``zero_normalised`` (N, F), or (B, 1, N, F) per sample)."""
    if mode == "mean":
        return np.where(hidden[..., None], np.float32(0.0), x)
    if mode == "zero":
        return np.where(hidden[..., None], zero_normalised, x).astype(np.float32)
    return x


def draw_masks(
    n: int, t: int, groups: np.ndarray, rng: np.random.Generator, *, rate_max: float, dropout_share: float,
    extra_rate: float = 0.0, rates: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated missingness for ``n`` samples of ``t`` windows: (drop (n, t, N), extra (n, t, N)) bool.

    ``drop`` follows ``masking.random_token_mask`` at a rate per sample (``rates`` or U(0, ``rate_max``));
    ``extra`` hides a further ``extra_rate`` of the tokens at random (independent of ``drop``).
    """
    from ..masking import random_token_mask

    rates = rng.uniform(0.0, rate_max, size=n) if rates is None else np.asarray(rates, float)
    drop = np.stack([random_token_mask(t, groups, float(r), rng, dropout_share=dropout_share) for r in rates])
    extra = rng.random(drop.shape) < extra_rate if extra_rate > 0 else np.zeros_like(drop)
    return drop, extra


def modality_choice(groups: np.ndarray, eeg: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Tokens (N,) bool of one modality-level drop-out: all EEG, all peripheral channels (a third each) or the
    tokens of one random modality group."""
    r = rng.random()
    if eeg is not None and eeg.any() and (~eeg).any() and r < 2 / 3:
        return eeg.copy() if r < 1 / 3 else ~eeg
    return groups == rng.choice(np.unique(groups))


def modality_dropout(n: int, t: int, groups: np.ndarray, eeg: np.ndarray | None, rng: np.random.Generator,
                     rate: float) -> np.ndarray:
    """Whole-modality drop-outs (n, t, N) bool: a share ``rate`` of the samples loses the tokens of
    :func:`modality_choice` over all ``t`` windows (half of them) or over a run of at least ``t / 2`` windows."""
    out = np.zeros((n, t, groups.size), bool)
    for i in np.flatnonzero(rng.random(n) < rate):
        tokens = modality_choice(groups, eeg, rng)
        if rng.random() < 0.5:
            out[i][:, tokens] = True
        else:
            length = int(rng.integers(-(-t // 2), t + 1))
            start = int(rng.integers(0, t - length + 1))
            out[i, start:start + length][:, tokens] = True
    return out


def feature_dropout(shape: tuple[int, ...], valid: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
    """Feature-level missingness (B, T, N, F) bool, True = feature present: a share ``rate`` of the tokens loses
    a random half of its valid features (at least one feature of every token stays)."""
    present = np.ones(shape, bool)
    if rate <= 0:
        return present
    hit = rng.random(shape[:-1]) < rate  # (B, T, N)
    lose = (rng.random(shape) < 0.5) & hit[..., None] & valid  # (B, T, N, F)
    keep_one = lose.sum(-1) >= valid.sum(-1)  # every valid feature lost: give them back
    lose[keep_one] = False
    return ~lose


def make_batch(data: PreparedData, trial_idx: np.ndarray, starts: np.ndarray, t: int, cfg: TrainConfig,
               rng: np.random.Generator, *, pairs: bool = True) -> dict[str, np.ndarray]:
    """Crop, mask and (for baselines) impute one batch; numpy arrays ready for torch.

    Masks: the data's own missing tokens, random missingness (:func:`draw_masks`), whole-modality drop-outs
    (:func:`modality_dropout`) and the extra masked-autoencoder share, the same for every variant (ablations differ
    only in the component removed). With ``pairs`` and ``cfg.w_consistency`` > 0 the first half of the samples
    comes twice: rows ``n_pairs:`` repeat rows ``:n_pairs`` with one more modality (:func:`modality_choice`) hidden
    over the whole sample, for the consistency loss.
    """
    n_pairs = 0
    if pairs and cfg.w_consistency > 0 and len(trial_idx) >= 2:
        n_pairs = len(trial_idx) // 2
        trial_idx = np.concatenate([trial_idx[:n_pairs]] * 2)
        starts = np.concatenate([starts[:n_pairs]] * 2)
    n = len(trial_idx)
    win = starts[:, None] + np.arange(t)  # (B, T)
    win = np.minimum(win, data.x.shape[1] - 1)
    sel = (trial_idx[:, None], win)
    x = data.x[sel]  # (B, T, N, F)
    orig = data.missing[sel]  # (B, T, N)
    drop, extra = draw_masks(n, t, data.groups, rng, rate_max=cfg.mask_rate_max, dropout_share=cfg.dropout_share,
                             extra_rate=cfg.extra_mask_rate)
    drop |= modality_dropout(n, t, data.groups, data.eeg_tokens, rng, cfg.modality_dropout)
    hidden = orig | drop | extra
    # never hide every token of a sample (the model refuses it): fall back to the data's own mask
    empty = hidden.reshape(n, -1).all(1)
    hidden[empty] = orig[empty]
    if n_pairs:
        hidden[n_pairs:] = hidden[:n_pairs]
        more = np.stack([modality_choice(data.groups, data.eeg_tokens, rng) for _ in range(n_pairs)])  # (P, N)
        view = hidden[n_pairs:] | more[:, None, :]
        ok = ~view.reshape(n_pairs, -1).all(1)  # a view that would hide everything keeps the first one's mask
        hidden[n_pairs:][ok] = view[ok]
    feature_valid = feature_dropout(x.shape, data.valid, rng, cfg.feature_drop_rate)
    if n_pairs:
        feature_valid[n_pairs:] = feature_valid[:n_pairs]
    long_mean = long_count = None
    if cfg.evidence_long:  # drawn after every other mask: the crop's masks are those of a run without it
        long_mean, long_count = _long_context(data, trial_idx, starts, t, cfg.long_context_windows, hidden, orig,
                                              feature_valid, n_pairs, rng)
    recon_mask = hidden & ~orig
    # drawn for every variant, also without modality queries (whose loss does not read it): the cap consumes the
    # generator, and skipping it would give an ablation other masks in every later batch and in its validation set
    if cfg.recon_tokens_max:
        recon_mask = _cap_per_sample(recon_mask, cfg.recon_tokens_max, rng)
    if cfg.impute != "none":  # baselines: hidden (and absent) tokens are filled in and fed as present
        x = impute(x, hidden, cfg.impute, data.zero_for(trial_idx))
        model_missing = np.zeros_like(hidden)
    else:
        model_missing = hidden
    return {
        "x": np.ascontiguousarray(x, np.float32),
        "missing": model_missing,
        "feature_valid": feature_valid,
        "n_pairs": np.array(n_pairs, np.int64),
        "target": data.x[sel],
        "recon_mask": recon_mask,
        "labels": data.labels[trial_idx],
        "scores": data.scores[trial_idx],
        "interference": data.interference[sel],
        "artifacts": data.artifacts[sel],
        "artifact_known": np.broadcast_to(data.artifact_known[trial_idx][:, None], win.shape).copy(),
        **({"long_mean": long_mean, "long_count": long_count} if long_mean is not None else {}),
    }


def _long_context(data: PreparedData, trial_idx: np.ndarray, starts: np.ndarray, t: int, h: int,
                  hidden: np.ndarray, orig: np.ndarray, feature_valid: np.ndarray, n_pairs: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``long_context`` (mean, count), each (B, T, N, F) float32, of training crops: every token's measured values
    over windows t-h..t+h of its trial (``MMQNetConfig.evidence_long``).

    Inside the crop the sample's own masks apply (the model's ``missing`` and feature drop-outs). Outside it the
    trial's own missing tokens, every token the simulation hid over the whole crop (whole-sample modality drop-outs,
    the consistency view's extra modality: hidden over the whole trial, as the evaluation's "EEG missing" columns
    hide it) and, at random, each token-window with the share of the crop's windows the simulation hid of that
    token (random missingness spreads over the trial as in the evaluation, where masks cover whole trials).
    """
    from ..model.mmqnet import long_context_mean

    n = len(trial_idx)
    width = t + 2 * h
    wide = starts[:, None] - h + np.arange(width)  # (B, W)
    last = data.n_windows[trial_idx][:, None]
    inside = (wide >= 0) & (wide < last)
    idx = np.clip(wide, 0, np.maximum(last - 1, 0))
    rows = trial_idx[:, None]
    xw = data.x[rows, idx]  # (B, W, N, F)
    hid = data.missing[rows, idx].copy()  # (B, W, N)
    simulated = hidden & ~orig  # (B, T, N)
    always = simulated.all(1)  # (B, N)
    share = simulated.mean(1)  # (B, N)
    extra = rng.random(hid.shape) < share[:, None, :]
    if n_pairs:
        extra[n_pairs:] = extra[:n_pairs]
    crop = np.zeros(width, bool)
    crop[h:h + t] = True
    hid[:, ~crop] |= extra[:, ~crop] | always[:, None, :]
    hid[:, crop] = hidden  # the crop as the model sees it (crops start inside the trial: no clipping there)
    used = ~hid[..., None] & data.valid & inside[..., None, None]
    used[:, crop] &= feature_valid
    mean, count = long_context_mean(torch.from_numpy(np.where(used, xw, np.float32(0.0))), torch.from_numpy(used), h)
    return (np.ascontiguousarray(mean[:, h:h + t].numpy(), np.float32),
            np.ascontiguousarray(count[:, h:h + t].numpy(), np.float32))


def _long_kwargs(batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    """``long_context=`` of the model's forward for a batch of :func:`make_batch` (none without it)."""
    if "long_mean" not in batch:
        return {}
    return {"long_context": (batch["long_mean"], batch["long_count"])}


def _cap_per_sample(chosen: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Keep at most ``k`` True entries of each sample of ``chosen`` (B, ...), drawn uniformly at random."""
    flat = chosen.reshape(len(chosen), -1)
    if flat.shape[1] <= k or int(flat.sum(1).max(initial=0)) <= k:
        return chosen
    score = np.where(flat, rng.random(flat.shape), 2.0)  # chosen entries in [0, 1), the rest after them
    kth = np.partition(score, k - 1, axis=1)[:, k - 1:k]  # (B, 1) k-th smallest score
    return (flat & (score <= kth)).reshape(chosen.shape)


# --- losses -----------------------------------------------------------------------------------------------------
def compute_loss(out: Any, batch: dict[str, torch.Tensor], cfg: TrainConfig,
                 feature_valid: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted loss of one batch and its unweighted terms (floats, for logging)."""
    from ..model.losses import (
        classification_loss,
        decorrelation_loss,
        interference_loss,
        reconstruction_loss,
        regression_loss,
    )

    terms: dict[str, torch.Tensor] = {
        "classification": classification_loss(out.logits.float(), batch["labels"], (~out.no_context).float())
    }
    total = cfg.w_classification * terms["classification"]
    if out.regression is not None and "scores" in batch:
        terms["regression"] = regression_loss(out.regression.float(), batch["scores"])
        total = total + cfg.w_regression * terms["regression"]
    if out.recon is not None and cfg.w_reconstruction > 0:
        terms["reconstruction"] = reconstruction_loss(out.recon.float(), batch["target"], batch["recon_mask"],
                                                      feature_valid)
        total = total + cfg.w_reconstruction * terms["reconstruction"]
    if out.interference is not None:
        terms["interference"] = interference_loss(out.interference.float(), batch["interference"])
        total = total + cfg.w_interference * terms["interference"]
        known = batch["artifact_known"]  # (B, T) bool: artifact ground truth exists (synthetic data)
        if out.artifact_logits is not None:
            bce = F.binary_cross_entropy_with_logits(out.artifact_logits.float(), batch["artifacts"],
                                                     reduction="none").mean(-1)  # (B, T)
            mask = known.float()
            terms["artifact"] = (bce * mask).sum() / mask.sum().clamp(min=1.0)
            total = total + cfg.w_artifact * terms["artifact"]
        gate = getattr(out, "interference_gate", None)
        if gate is not None and getattr(cfg, "w_gate", 0.0) > 0:
            terms["gate"] = gate_loss(gate.float(), batch["missing"], batch["artifacts"], known)
            total = total + cfg.w_gate * terms["gate"]
        if out.interference_features is not None and cfg.w_decorrelation > 0:
            terms["decorrelation"] = decorrelation_loss(out.category_features.float(),
                                                        out.interference_features.float())
            total = total + cfg.w_decorrelation * terms["decorrelation"]
    if getattr(out, "modality_logits", None) is not None and cfg.w_unimodal > 0:
        terms["unimodal"] = unimodal_loss(out.modality_logits.float(), out.modality_present, batch["labels"])
        total = total + cfg.w_unimodal * terms["unimodal"]
    n_pairs = int(batch["n_pairs"]) if "n_pairs" in batch else 0
    if n_pairs and cfg.w_consistency > 0:
        terms["consistency"] = consistency_loss(out.logits.float(), out.no_context, n_pairs)
        total = total + cfg.w_consistency * terms["consistency"]
    return total, {k: float(v.detach()) for k, v in terms.items()}


def gate_loss(gate: torch.Tensor, missing: torch.Tensor, artifacts: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Supervision of the interference gate from window-level artifact labels (``TrainConfig.w_gate``).

    The corpus knows which windows carry an injected artifact, not which tokens, so the loss is a multiple-instance
    one: the window's largest gate over its *measured* tokens, max_n gate (B, T), is scored with binary cross-
    entropy against "some artifact in the window" (``artifacts`` (B, T, A) > 0.5), on windows with known artifacts
    and at least one measured token. A clean window pushes every token's gate down, an artifact window pushes at
    least one up; only the gates' differences across a window's tokens change the category read-out (log(1 -
    gate) is added to the keys' logits before their softmax), so a uniform shift is harmless.
    """
    score = gate.masked_fill(missing, 0.0).amax(-1).clamp(1e-4, 1.0 - 1e-4)  # (B, T)
    target = (artifacts > 0.5).any(-1).to(score.dtype)  # (B, T)
    use = (known & (~missing).any(-1)).to(score.dtype)
    bce = F.binary_cross_entropy(score, target, reduction="none")
    return (bce * use).sum() / use.sum().clamp(min=1.0)


def unimodal_loss(modality_logits: torch.Tensor, present: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each modality group's evidence read-out on its own, over the windows where the group has
    measured data, averaged over the groups present in the batch. modality_logits (B, T, G, K, 2), present
    (B, T, G) bool, labels (B, K)."""
    from ..model.losses import classification_loss

    losses = [classification_loss(modality_logits[:, :, g], labels, present[:, :, g].to(modality_logits.dtype))
              for g in range(modality_logits.shape[2]) if bool(present[:, :, g].any())]
    return torch.stack(losses).mean() if losses else modality_logits.sum() * 0.0


def consistency_loss(logits: torch.Tensor, no_context: torch.Tensor, n_pairs: int) -> torch.Tensor:
    """KL(p_full || p_less) between the predictions of rows ``:n_pairs`` (more evidence; not back-propagated) and
    rows ``n_pairs:2*n_pairs`` (the same samples with one more modality hidden), averaged over the windows both
    predict from data. logits (B, T, K, 2), no_context (B, T) bool."""
    teacher = logits[:n_pairs].detach().log_softmax(-1)  # (P, T, K, 2)
    student = logits[n_pairs:2 * n_pairs].log_softmax(-1)  # (P, T, K, 2)
    kl = (teacher.exp() * (teacher - student)).sum(-1).mean(-1)  # (P, T)
    use = (~no_context[:n_pairs] & ~no_context[n_pairs:2 * n_pairs]).to(kl.dtype)
    return (kl * use).sum() / use.sum().clamp(min=1.0)


# --- validation ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ValidationSet:
    """Fixed contexts and masks of the validation trials (the same every epoch)."""

    batches: list[dict[str, np.ndarray]]


def make_validation_set(data: PreparedData, idx: np.ndarray, cfg: TrainConfig, *, seed: int,
                        batch_size: int = 256) -> ValidationSet:
    """Every validation trial cut into contexts of T windows (stride T); masks at rates U(0, mask_rate_max)
    drawn once with ``seed``."""
    from ..inference.engine import context_starts

    t = cfg.n_windows
    items = [(i, s) for i in idx for s in context_starts(int(data.n_windows[i]), t)]
    rng = np.random.default_rng([seed, 7919])
    batches = []
    for b in range(0, len(items), batch_size):
        chunk = items[b:b + batch_size]
        trial_idx = np.array([c[0] for c in chunk], dtype=np.int64)
        starts = np.array([c[1] for c in chunk], dtype=np.int64)
        batches.append(make_batch(data, trial_idx, starts, t, cfg, rng, pairs=False))
    return ValidationSet(batches)


@torch.no_grad()
def validate(model: torch.nn.Module, vset: ValidationSet, cfg: TrainConfig, device: torch.device,
             feature_valid: torch.Tensor) -> dict[str, float]:
    """Validation losses and window-level accuracies (the model is put in eval mode and back)."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    n_total = 0
    correct = np.zeros(2)
    n_windows = 0
    for batch in vset.batches:
        tb = _to_torch(batch, device)
        with _autocast(device):
            out = model(tb["x"], tb["missing"], allow_empty=True, recon_tokens=_recon_tokens(tb, cfg),
                        feature_valid=tb["feature_valid"], **_long_kwargs(tb))
        _, terms = compute_loss(out, tb, cfg, feature_valid)
        bsz = len(batch["x"])
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v * bsz
        n_total += bsz
        pred = out.logits.argmax(-1).cpu().numpy()  # (B, T, K)
        correct += (pred == batch["labels"][:, None, :]).sum((0, 1))
        n_windows += pred.shape[0] * pred.shape[1]
    model.train(was_training)
    res = {f"val_{k}": v / max(n_total, 1) for k, v in sums.items()}
    res["val_loss"] = res.get("val_classification", float("nan"))
    res["val_acc_valence"], res["val_acc_arousal"] = (correct / max(n_windows, 1)).tolist()
    return res


@torch.no_grad()
def fit_temperature(model: torch.nn.Module, vset: ValidationSet, device: torch.device) -> list[float]:
    """Temperature scaling (Guo et al. 2017): per target, the T in [0.05, 20] minimising the negative log-likelihood
    of the validation windows' logits / T (golden-section search on log T; the NLL is convex in 1/T)."""
    was_training = model.training
    model.eval()
    raw, labels = [], []
    fitted = model.temperature.clone()
    model.temperature.fill_(1.0)  # the raw logits, exactly (multiplying back by a temperature already set rounds)
    for batch in vset.batches:
        tb = _to_torch(batch, device)
        out = model(tb["x"], tb["missing"], allow_empty=True, feature_valid=tb["feature_valid"], **_long_kwargs(tb))
        logits = out.logits.float()
        keep = ~out.no_context  # (B, T)
        raw.append(logits[keep].cpu())  # (M, K, 2)
        labels.append(tb["labels"][:, None, :].expand(*keep.shape, -1)[keep].cpu())  # (M, K)
    model.temperature.copy_(fitted)
    model.train(was_training)
    z, y = torch.cat(raw), torch.cat(labels)
    out = []
    for k in range(z.shape[1]):
        known = y[:, k] >= 0

        def nll(log_t: float, k: int = k, known: torch.Tensor = known) -> float:
            return float(F.cross_entropy(z[known, k] / math.exp(log_t), y[known, k]))

        out.append(float(math.exp(_golden_min(nll, math.log(0.05), math.log(20.0), 60))) if int(known.sum()) else 1.0)
    return out


def _golden_min(f, lo: float, hi: float, iterations: int) -> float:
    """The middle of the bracket left after ``iterations`` golden-section steps minimising ``f`` on [lo, hi] (a
    unimodal function: the NLL of a temperature or of a shrinkage factor). By hand rather than
    ``scipy.optimize.minimize_scalar``: the fixed iteration count keeps the fitted values the checkpoints store."""
    phi = (math.sqrt(5) - 1) / 2
    for _ in range(iterations):
        a, b = hi - phi * (hi - lo), lo + phi * (hi - lo)
        if f(a) < f(b):
            hi = b
        else:
            lo = a
    return (lo + hi) / 2


@torch.no_grad()
def fit_long_scale(model: torch.nn.Module, vset: ValidationSet, device: torch.device) -> list[float]:
    """Shrinkage (K,) of the long-context read-out (``evidence_long_fill`` in a frozen fine-tune): per target, the
    factor c in [0, 1] minimising the negative log-likelihood on the validation windows of z_0 + c * d, z_0 the
    logits with the read-out's weights zeroed (the parent's, with its temperature) and d what the read-out adds
    (the logits are linear in its weights); golden-section search (the NLL is convex in c). Why, instead of
    refitting the temperature: with the short context complete the prediction *is* the parent's, whose temperature
    was fitted on the same validation subjects; one refitted temperature cooled every window to absorb the
    read-out's over-confidence on new subjects (session 10, validation subjects: arousal temperature 1.64 -> 2.42,
    ECE 0.049 -> 0.090 with everything present). Its 480 weights are fitted on 920 training trials; one factor
    fitted on other subjects shrinks them towards zero (never beyond what training found)."""
    was_training = model.training
    model.eval()
    weight = model.evidence_long_weight
    kept = weight.detach().clone()
    base, full, labels = [], [], []
    for batch in vset.batches:
        tb = _to_torch(batch, device)
        kwargs = dict(allow_empty=True, feature_valid=tb["feature_valid"], **_long_kwargs(tb))
        out = model(tb["x"], tb["missing"], **kwargs)
        keep = ~out.no_context  # (B, T)
        full.append(out.logits.float()[keep].cpu())  # (M, K, 2)
        weight.zero_()
        base.append(model(tb["x"], tb["missing"], **kwargs).logits.float()[keep].cpu())
        weight.copy_(kept)
        labels.append(tb["labels"][:, None, :].expand(*keep.shape, -1)[keep].cpu())  # (M, K)
    model.train(was_training)
    z0, y = torch.cat(base), torch.cat(labels)
    d = torch.cat(full) - z0
    out = []
    for k in range(z0.shape[1]):
        known = y[:, k] >= 0
        if not int(known.sum()) or not bool(d[known, k].abs().gt(0).any()):
            out.append(1.0)
            continue

        def nll(c: float, k: int = k, known: torch.Tensor = known) -> float:
            return float(F.cross_entropy(z0[known, k] + c * d[known, k], y[known, k]))

        out.append(_golden_min(nll, 0.0, 1.0, 40))
    return out


def complete_validation_set(data: PreparedData, idx: np.ndarray, cfg: TrainConfig, *, seed: int) -> ValidationSet:
    """The validation contexts of :func:`make_validation_set` with only the data's own missing tokens hidden (no
    simulated missingness, no feature drop-out): each modality as it reads when it is there."""
    plain = dataclasses.replace(cfg, mask_rate_max=0.0, dropout_share=0.0, extra_mask_rate=0.0, modality_dropout=0.0,
                                feature_drop_rate=0.0)
    return make_validation_set(data, idx, plain, seed=seed)


@torch.no_grad()
def fit_evidence_spread(model: torch.nn.Module, vset: ValidationSet, device: torch.device) -> list[list[float]]:
    """Spread (G, K) of each modality group's hidden evidence: what hiding the group changes on the validation
    subjects, less what the restoration with reconstructions already counts.

    For every validation context and every group g with measured data in it, three passes: ``z`` (logit of
    P(high), temperature-scaled, as the analysis sees it) with everything measured shown; ``z_h`` with g hidden;
    ``z_r`` with g's hidden tokens restored by the model's own reconstruction from the ``z_h`` pass (what
    :func:`~mmqnet_core.model.attribution.analysis_attribution` does). The missing-evidence term
    (``inference/evidence.py``) counts ``(pi / 2) d^2`` for the restoration, ``d = z_r - z_h``, and
    ``(s_gk / temperature_k)^2`` for the rest, so ``s`` is fitted to make the term's variance equal to the
    measured change's mean square over the windows where g was present::

        (s_gk / temperature_k)^2 = max(0, mean((z - z_h)^2) - (pi / 2) mean(d^2))

    Measured first (session 6, ``resources/checkpoint/README.md``): the read-out's own logit RMS, the previous
    definition, over-counted what EEG changes on valence (term 0.84 vs measured 0.70 logit RMS on the
    validation subjects) and under-counted arousal (0.36 vs 0.50). The value is stored before temperature
    scaling (logit units; :func:`~mmqnet_core.inference.evidence.hidden_readout_variance` divides by it). Use
    ``vset`` from :func:`complete_validation_set` (only the data's own missing tokens hidden); a group never
    present gets 0.
    """
    if not getattr(model.config, "modality_evidence", False):
        raise ConfigError("The model has no per-modality evidence read-outs (modality_evidence is off): there is no "
                          "evidence spread to fit.")
    was_training = model.training
    model.eval()
    cfg = model.config
    g_total, k = len(cfg.groups), cfg.n_targets
    group = torch.as_tensor(np.asarray(cfg.group_index), device=device)  # (N,)
    valid = torch.as_tensor(np.asarray(cfg.feature_valid, bool), device=device)  # (N, F)
    temp = model.temperature.double().cpu().numpy()  # (K,)
    change, restor, count = np.zeros((g_total, k)), np.zeros((g_total, k)), np.zeros(g_total)

    def z_of(out: Any) -> torch.Tensor:
        return (out.logits[..., 1] - out.logits[..., 0]).double()  # (B, T, K)

    for batch in vset.batches:
        tb = _to_torch(batch, device)
        x, missing, fv = tb["x"], tb["missing"], tb["feature_valid"] & ~tb["missing"][..., None]
        long = _long_kwargs(tb)
        full = model(x, missing, allow_empty=True, feature_valid=fv, **long)
        z = z_of(full)
        for g in range(g_total):
            tokens = group == g  # (N,)
            hidden = missing | tokens
            fvh = fv & ~hidden[..., None]
            # hiding g hides it over the long span too (no long_context: nothing of g)
            long_h = {} if not long else {"long_context": tuple(
                torch.where(tokens[:, None], torch.zeros_like(v), v) for v in long["long_context"])}
            out = model(x, hidden, allow_empty=True, feature_valid=fvh, **long_h)
            use = (full.modality_present[..., g] & ~full.no_context & ~out.no_context).double()  # (B, T)
            if not use.any():
                continue
            restore = hidden & ~missing  # g's measured tokens, shown with the model's reconstruction
            fill = out.recon if out.recon is not None else torch.zeros_like(x)
            xr = torch.where(restore[..., None], torch.where(valid, fill, torch.zeros_like(fill)), x)
            zr = z_of(model(xr, missing, allow_empty=True, feature_valid=fvh | (restore[..., None] & valid), **long_h))
            zh = z_of(out)
            change[g] += torch.einsum("btk,bt->k", (z - zh) ** 2, use).cpu().numpy()
            restor[g] += torch.einsum("btk,bt->k", (zr - zh) ** 2, use).cpu().numpy()
            count[g] += float(use.sum())
    model.train(was_training)
    n = np.maximum(count, 1.0)[:, None]
    rest = np.maximum(change / n - np.pi / 2 * restor / n, 0.0)  # (G, K) temperature-scaled logit^2
    return (np.sqrt(rest) * temp[None, :]).tolist()


def fit_checkpoint_evidence_spread(corpus: Any, checkpoint: str | os.PathLike, train_config: TrainConfig | None = None,
                                   *, out: str | os.PathLike | None = None,
                                   device: str | None = None) -> tuple[list[list[float]], Path | None]:
    """Fit :func:`fit_evidence_spread` for an existing checkpoint without retraining, and save it.

    Parameters
    ----------
    corpus : Corpus
        The corpus it was trained on (the validation subjects of its split are read from it).
    checkpoint : path
        Checkpoint folder (``model.safetensors`` + ``config.json``).
    train_config : TrainConfig, optional
        Its training configuration (split, fold, seed, normalisation); default: the one stored in the checkpoint
        (``extra["train_config"]``).
    out : path, optional
        Folder to write the checkpoint with the fitted spread (may be ``checkpoint`` itself); None = write nothing.
    device : str, optional
        Where to run the model (default CPU).

    Returns
    -------
    spread : list of list of float
        (G, K) logit units, before temperature scaling.
    folder : Path or None
        Where the checkpoint was written.
    """
    from ..model.checkpoint import load_checkpoint, save_checkpoint

    model, meta = load_checkpoint(checkpoint)
    cfg = train_config if train_config is not None else TrainConfig.from_dict(meta.extra.get("train_config") or {})
    if meta.normalizer is None:
        raise ConfigError(f"The checkpoint {checkpoint} stores no normaliser: its features cannot be prepared; "
                          "use a checkpoint written by `mmqnet train`.")
    folds = make_folds(cfg.split, corpus.subjects, cfg.folds, seed=cfg.split_seed, val_subjects=cfg.val_subjects)
    split = folds[cfg.fold]
    if len(split.val) == 0:
        raise ConfigError(f"The split {split.describe()} has no validation subject to fit the evidence spread on.")
    dev = _select_device(device)
    data = prepare(corpus, meta.normalizer, normalization=cfg.normalization)
    spread = fit_evidence_spread(model.to(dev), complete_validation_set(data, np.asarray(split.val), cfg,
                                                                        seed=cfg.seed), dev)
    model.set_evidence_spread(spread)
    folder = None
    if out is not None:
        extra = dict(meta.extra)
        extra["evidence_spread"] = {"values": spread, "fitted_on": f"validation subjects of {split.describe()}, "
                                    "the data's own missing tokens only: the change when each group is hidden, less "
                                    "the restoration's share"}
        folder = save_checkpoint(model.to("cpu"), out, extra=extra, normalizer=meta.normalizer)
    return spread, folder


def _recon_tokens(batch: dict[str, torch.Tensor], cfg: TrainConfig) -> torch.Tensor | None:
    """The tokens the modality queries must reconstruct: those the loss scores (None: no modality queries)."""
    return batch["recon_mask"] if cfg.use_modality_queries else None


def _to_torch(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device, non_blocking=True) for k, v in batch.items()}


# --- the run ---------------------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train` returns."""

    model: torch.nn.Module  # the trained model (best validation epoch), in eval mode, on the CPU
    normalizer: Any  # the Normalizer fitted on the training split
    config: TrainConfig  # the configuration used
    split: Split  # the split (train/val/test trial indices)
    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch (as in metrics.csv)
    best_epoch: int = 0  # 1-based epoch whose weights were kept
    run_dir: Path | None = None  # run folder (None when not written)
    checkpoint_dir: Path | None = None  # folder of the saved checkpoint
    seconds: float = 0.0  # wall time of the training, s
    windows_per_s: float = 0.0  # training throughput (windows of all samples seen per second, this process)
    metadata: dict = field(default_factory=dict)  # the checkpoint's extra metadata


def checkpoint_metadata(corpus: Any, cfg: TrainConfig, split: Split) -> dict:
    """What inference needs besides the weights: token layout, features, preprocessing, normaliser, data."""
    from ..datasets.pinned import corpus_identity
    from ..model.normalization import MIN_GROUP_WINDOWS

    return {
        "format": "mmqnet-checkpoint-meta",
        "training_data": corpus.source,
        "synthetic": bool(corpus.is_synthetic),
        "corpus": corpus.describe(),
        # which corpus exactly (cache key, builder code, digest of the arrays): what `mmqnet evaluate --checkpoint`
        # needs to evaluate on the training corpus again (datasets.pinned)
        "training_corpus": corpus_identity(corpus),
        "layout": {"token_names": list(corpus.token_names), "token_modalities": list(corpus.token_modalities)},
        "feature_names": {k: list(v) for k, v in corpus.feature_names.items()},
        "feature_units": {k: list(v) for k, v in corpus.feature_units.items()},
        "waveform": {k: list(v) for k, v in corpus.waveform.items()},
        "window_s": corpus.window_s,
        "step_s": corpus.step_s,
        "feature_config": dict(corpus.config.get("features") or {}),
        "preprocess_config": dict(corpus.config.get("preprocess") or {}),
        "train_config": cfg.to_dict(),
        # how inference must normalise (inference.analyze): the "normalizer" stored beside it holds the
        # training subjects' global statistics (the fallback of the per-recording mode)
        "normalization": {"mode": cfg.normalization, "min_windows": MIN_GROUP_WINDOWS,
                          "description": NORMALIZATION_NOTES[cfg.normalization]},
        "split": {"description": split.describe(), "kind": split.kind, "fold": split.fold,
                  "n_folds": split.n_folds, "test_subjects": sorted({int(s) for s in corpus.subjects[split.test]})},
    }


def train(
    corpus: Any,
    config: TrainConfig = TrainConfig(),
    *,
    run_dir: str | os.PathLike | None = None,
    split: Split | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train MMQ-Net (or an ablation / baseline chosen by ``config``) on a corpus.

    Parameters
    ----------
    corpus : Corpus
        Feature arrays (``mmqnet_core.datasets.corpus.build_corpus``).
    config : TrainConfig
        Model size, optimisation, augmentation, split and seed.
    run_dir : path, optional
        Run folder to write (config.json, metrics.csv, train.log, checkpoint/); None = write nothing.
    split : Split, optional
        Train/val/test trial indices; default: fold ``config.fold`` of ``config.split`` folds.
    progress, cancel
        Progress callback and cancel token (checked between steps).

    Returns
    -------
    TrainResult
    """
    from ..model import MMQNet, MMQNetConfig
    from ..model.normalization import Normalizer

    t_start = time.perf_counter()
    cfg = config
    dist = dist_info_from_env()
    if split is None:
        split = make_folds(cfg.split, corpus.subjects, cfg.folds, seed=cfg.split_seed,
                           val_subjects=cfg.val_subjects)[cfg.fold]
    if len(split.train) == 0:
        raise ConfigError(f"The split {split.describe()} has no training trial; use more subjects or fewer folds.")
    if corpus.max_windows < 1:
        raise ConfigError("The corpus has no windows.")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    seed_everything(cfg.seed)
    device = _select_device(cfg.device if not dist.distributed or cfg.device != "cuda"
                            else f"cuda:{dist.local_rank}")
    pg_started = False
    if dist.distributed:
        import torch.distributed as tdist

        if not tdist.is_initialized():
            tdist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            pg_started = True
        if device.type == "cuda":
            device = torch.device(f"cuda:{dist.local_rank}")
            torch.cuda.set_device(device)

    writer = _RunWriter(Path(run_dir), cfg) if (run_dir is not None and dist.is_main) else None
    try:
        return _train(corpus, cfg, split, device, dist, writer, progress, cancel, t_start,
                      MMQNet, MMQNetConfig, Normalizer)
    finally:
        if writer is not None:
            writer.close()
        if pg_started:
            import torch.distributed as tdist

            tdist.destroy_process_group()


def _train(corpus, cfg, split, device, dist, writer, progress, cancel, t_start, MMQNet, MMQNetConfig, Normalizer):
    t = cfg.n_windows
    if writer is not None:
        writer.log(f"device {device}; world size {dist.world_size}; {corpus.describe()}")
        writer.log(f"split: {split.describe()}: {len(split.train)} train / {len(split.val)} val / "
                   f"{len(split.test)} test trials")
    parent_meta = None
    if cfg.train_only:  # frozen fine-tune: the frozen parts keep the inputs they were trained with
        from ..model.checkpoint import load_checkpoint

        _, parent_meta = load_checkpoint(cfg.init_from)
        normalizer = parent_meta.normalizer
        if normalizer is None:
            raise ConfigError(f"Invalid value for 'init_from': {cfg.init_from} stores no normaliser, so a frozen "
                              "fine-tune (train_only) cannot feed its frozen weights what they were trained on; "
                              "fine-tune the whole model instead (no train_only).")
    else:
        normalizer = Normalizer.fit(corpus.X[split.train], corpus.missing[split.train])
    data = prepare(corpus, normalizer, normalization=cfg.normalization)
    if writer is not None:
        writer.log(f"normalisation: {NORMALIZATION_NOTES[cfg.normalization]}")
    mcfg = MMQNetConfig.for_layout(
        [_Tok(n, m) for n, m in zip(corpus.token_names, corpus.token_modalities)], corpus.valid, **cfg.model_kwargs()
    )
    model = MMQNet.from_config(mcfg)
    if cfg.init_from is not None:
        copied, kept = warm_start(model, cfg.init_from)
        if writer is not None:
            writer.log(f"warm start from {cfg.init_from}: {len(copied)} tensors copied, {len(kept)} at initialisation "
                       f"({', '.join(kept) or 'none'})")
        if cfg.train_only:
            trainable = freeze_except(model, cfg.train_only, kept)
            if parent_meta.config.temperature:
                model.set_temperature(parent_meta.config.temperature)
            if parent_meta.config.evidence_spread and getattr(model.config, "modality_evidence", False):
                model.set_evidence_spread(parent_meta.config.evidence_spread)
            if writer is not None:
                writer.log(f"frozen fine-tune (train_only {', '.join(cfg.train_only)}): {', '.join(trainable)} learn; "
                           "every other weight, the normaliser, temperature and evidence spread are the parent's; "
                           "eval mode throughout")
    model = model.to(device)
    feature_valid = torch.as_tensor(corpus.valid, device=device)
    ddp_model: torch.nn.Module = model
    if dist.distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ddp_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None,
                        find_unused_parameters=True)
    decay, no_decay, evidence = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:  # frozen (train_only)
            continue
        (evidence if name.startswith("evidence_")
         else no_decay if p.ndim < 2 or "embedding" in name or "queries" in name or "mask_token" in name
         else decay).append(p)
    groups = [g for g in ({"params": decay, "weight_decay": cfg.weight_decay, "lr_scale": 1.0},
                          {"params": no_decay, "weight_decay": 0.0, "lr_scale": 1.0}) if g["params"]]
    if evidence:  # linear read-outs started at zero: a larger step (TrainConfig.evidence_lr_scale)
        groups.append({"params": evidence, "weight_decay": cfg.weight_decay, "lr_scale": cfg.evidence_lr_scale})
    opt = torch.optim.AdamW(groups, lr=cfg.lr)

    train_idx = np.asarray(split.train)
    crops = cfg.crops_per_trial or max(1, int(np.median(data.n_windows[train_idx])) // t)
    n_samples = len(train_idx) * crops
    per_rank = math.ceil(n_samples / dist.world_size)
    steps_per_epoch = max(1, math.ceil(per_rank / cfg.batch_size))
    total_steps = steps_per_epoch * cfg.epochs
    vset = make_validation_set(data, np.asarray(split.val), cfg, seed=cfg.seed) if len(split.val) else None
    meta = checkpoint_metadata(corpus, cfg, split)
    if writer is not None:
        writer.log(f"model {cfg.variant}: {model.n_parameters} parameters; {n_samples} samples of {t} windows "
                   f"per epoch, {steps_per_epoch} steps/epoch per process")

    from ..device import needs_grad_scaler

    # float16 autocast (a CUDA GPU without bf16) needs loss scaling; elsewhere the scaler passes everything through
    scaler = torch.amp.GradScaler(device.type, enabled=needs_grad_scaler(device))
    history: list[dict[str, float]] = []
    best = (math.inf, 0, copy.deepcopy(model.state_dict()))
    bad_epochs = 0
    step = 0
    windows_seen = 0
    train_seconds = 0.0
    ddp_model.train(not cfg.train_only)  # a frozen fine-tune runs the frozen parts exactly as at inference
    for epoch in range(1, cfg.epochs + 1):
        t_epoch = time.perf_counter()
        rng_epoch = np.random.default_rng([cfg.seed, epoch])  # identical on every rank
        order = rng_epoch.permutation(n_samples)
        sample_trials = train_idx[order % len(train_idx)]
        max_start = np.maximum(data.n_windows[sample_trials] - t, 0)
        sample_starts = (rng_epoch.random(n_samples) * (max_start + 1)).astype(np.int64)
        # this rank's share of the (already shuffled) samples; padded so that every rank does the same steps
        sampler = DistributedSampler(range(n_samples), num_replicas=dist.world_size, rank=dist.rank, shuffle=False)
        ids = np.fromiter(iter(sampler), dtype=np.int64, count=len(sampler))
        rng_aug = np.random.default_rng([cfg.seed, epoch, dist.rank, 1])
        sums: dict[str, float] = {}
        n_seen = 0
        for b in range(steps_per_epoch):
            check_cancel(cancel)
            sel = ids[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            step_cfg = ramped(cfg, step)
            batch = _to_torch(make_batch(data, sample_trials[sel], sample_starts[sel], t, step_cfg, rng_aug), device)
            lr = lr_at(step, total_steps, cfg.lr, min(cfg.warmup_steps, total_steps // 5), cfg.lr_schedule)
            for group in opt.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            with _autocast(device):
                out = ddp_model(batch["x"], batch["missing"], recon_tokens=_recon_tokens(batch, cfg),
                                feature_valid=batch["feature_valid"], **_long_kwargs(batch))
            loss, terms = compute_loss(out, batch, step_cfg, feature_valid)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip > 0:
                scaler.unscale_(opt)  # clip the true gradients (a no-op without float16 loss scaling)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(opt)
            scaler.update()
            step += 1
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise ConfigError(f"Training diverged (loss {loss_value}) at epoch {epoch}; lower 'lr' (now {cfg.lr}).")
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v * len(sel)
            sums["loss"] = sums.get("loss", 0.0) + loss_value * len(sel)
            n_seen += len(sel)
            windows_seen += len(sel) * t
            report(progress, ((epoch - 1) + (b + 1) / steps_per_epoch) / cfg.epochs,
                   f"epoch {epoch}/{cfg.epochs} loss {sums['loss'] / n_seen:.3f}")
        train_seconds += time.perf_counter() - t_epoch
        row: dict[str, float] = {"epoch": epoch, "lr": lr}
        row.update({f"train_{k}": v / max(n_seen, 1) for k, v in sums.items()})
        if vset is not None:
            row.update(validate(model, vset, cfg, device, feature_valid))
        row["epoch_s"] = time.perf_counter() - t_epoch
        history.append(row)
        score = row.get("val_loss", row["train_loss"])
        if score < best[0] - 1e-4:
            best = (score, epoch, copy.deepcopy(model.state_dict()))
            bad_epochs = 0
        else:
            bad_epochs += 1
        if writer is not None:
            writer.epoch(row)
        if cfg.patience and vset is not None and bad_epochs >= cfg.patience:
            if writer is not None:
                writer.log(f"early stop after epoch {epoch}: no better validation loss for {cfg.patience} epochs")
            break

    model.load_state_dict(best[2])
    if cfg.calibrate and vset is not None:
        shrink_long = bool(cfg.train_only and getattr(model.config, "evidence_long_fill", False)
                           and model.config.temperature and hasattr(model, "evidence_long_weight"))
        if shrink_long:  # the parent's temperature stays; the read-out is shrunk on the validation subjects instead
            scale = fit_long_scale(model, vset, device)
            with torch.no_grad():
                model.evidence_long_weight.mul_(torch.tensor(scale, dtype=model.evidence_long_weight.dtype,
                                                             device=model.evidence_long_weight.device))
            meta["long_scale"] = {"values": scale, "fitted_on": "validation subjects, simulated missingness as in "
                                  "validation; folded into evidence_long_weight"}
            if writer is not None:
                writer.log("long-context read-out shrunk on the validation subjects (factor per target): "
                           + ", ".join(f"{v:.3f}" for v in scale) + "; the parent's temperature kept")
        temperature = ([float(old) for old in model.config.temperature] if shrink_long
                       else fit_temperature(model, vset, device))
        moved = targets_reached(model, vset, device) if cfg.train_only else [True] * len(temperature)
        if not all(moved):  # a frozen fine-tune keeps the parent's temperature of targets it cannot change
            kept = model.config.temperature or (1.0,) * len(temperature)  # exact (the buffer is float32)
            temperature = [t if m else float(old) for t, m, old in zip(temperature, moved, kept)]
            if writer is not None:
                writer.log("calibration refitted for "
                           + (", ".join(k for k, m in zip(model.config.targets, moved) if m) or "no target")
                           + "; the parent's kept for the rest")
        model.set_temperature(temperature)
        meta["temperature"] = {"values": temperature, "fitted_on": "validation subjects, simulated missingness as "
                               "in validation (random 0-70 % + whole-modality drop-outs)"}
        if writer is not None:
            writer.log(f"temperature fitted on the validation subjects: {', '.join(f'{v:.3f}' for v in temperature)}")
        if getattr(model.config, "modality_evidence", False):
            spread = fit_evidence_spread(model, complete_validation_set(data, np.asarray(split.val), cfg,
                                                                        seed=cfg.seed), device)
            if not all(moved) and model.config.evidence_spread:
                spread = [[v if m else float(old) for v, m, old in zip(row, moved, old_row)]
                          for row, old_row in zip(spread, model.config.evidence_spread)]
            model.set_evidence_spread(spread)
            meta["evidence_spread"] = {"values": spread, "fitted_on": "validation subjects, the data's own missing "
                                       "tokens only: the change when each group is hidden, less the restoration's "
                                       "share"}
            if writer is not None:
                writer.log("evidence spread fitted on the validation subjects (logit per modality, target): "
                           + "; ".join(f"{gname} {', '.join(f'{v:.2f}' for v in row)}"
                                       for gname, row in zip(model.config.groups, spread)))
    model = model.to("cpu").eval()
    meta["best_epoch"] = best[1]
    meta["history"] = history
    result = TrainResult(model=model, normalizer=normalizer, config=cfg, split=split, history=history,
                         best_epoch=best[1], seconds=time.perf_counter() - t_start,
                         windows_per_s=windows_seen / max(train_seconds, 1e-9), metadata=meta)
    if writer is not None:
        result.run_dir = writer.folder
        result.checkpoint_dir = writer.save_checkpoint(model, meta, normalizer)
        writer.log(f"best epoch {best[1]} (validation loss {best[0]:.4f}); {result.seconds:.1f} s; "
                   f"{result.windows_per_s:.0f} windows/s")
    report(progress, 1.0, "training done")
    return result


def ramped(cfg: TrainConfig, step: int) -> TrainConfig:
    """The configuration of training step ``step`` (0-based) under the ``augment_ramp_steps`` curriculum: modality
    drop-outs and the consistency weight scaled by min(1, step / augment_ramp_steps)."""
    if cfg.augment_ramp_steps <= 0 or step >= cfg.augment_ramp_steps:
        return cfg
    share = step / cfg.augment_ramp_steps
    return dataclasses.replace(cfg, modality_dropout=cfg.modality_dropout * share,
                               w_consistency=cfg.w_consistency * share)


def warm_start(model: torch.nn.Module, checkpoint: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Copy into ``model`` every weight of a checkpoint folder whose name and shape match (loaded with
    safetensors / weights-only); returns (copied names, names left at their initialisation).

    Used to start ``fusion="mmq"`` from a ``fusion="legacy"`` checkpoint: the encoder, the three decoders and the
    heads have the same names and shapes; the competition projections and ``feature_missing`` are new.
    """
    from ..model.checkpoint import load_checkpoint

    source, _ = load_checkpoint(checkpoint)
    a, b = source.config, model.config
    if (a.token_groups, a.feature_valid, a.d_model, a.n_heads) != (b.token_groups, b.feature_valid, b.d_model,
                                                                  b.n_heads):
        raise ConfigError(f"Invalid value for 'init_from': no weight of {checkpoint} fits this model (token layout "
                          f"or width differ: d_model {a.d_model} vs {b.d_model}, {len(a.token_groups)} vs "
                          f"{len(b.token_groups)} tokens); train from scratch or choose a compatible checkpoint.")
    theirs = source.state_dict()
    mine = model.state_dict()
    copied = [k for k, v in mine.items() if k in theirs and theirs[k].shape == v.shape]
    with torch.no_grad():
        for k in copied:
            mine[k].copy_(theirs[k])
    return copied, [k for k in mine if k not in copied]


def freeze_except(model: torch.nn.Module, patterns: tuple[str, ...] | list[str], not_copied: list[str]) -> list[str]:
    """Freeze every parameter of ``model`` whose name matches none of ``patterns`` (fnmatch, e.g.
    ``"evidence_long_weight"`` or ``"evidence_*"``); returns the names left trainable.

    ``not_copied`` are the state names the warm start left at their initialisation: a frozen parameter among them
    would stay random for good, so that is an error, as are patterns that match no parameter.
    """
    from fnmatch import fnmatchcase

    names = [n for n, _ in model.named_parameters()]
    unmatched = [p for p in patterns if not any(fnmatchcase(n, p) for n in names)]
    if unmatched:
        raise ConfigError(f"Invalid value for 'train_only': {unmatched} match no parameter of this model; its "
                          f"parameters include {', '.join(n for n in names if n.startswith('evidence_')) or names[:5]} "
                          "(check the model options, e.g. --evidence-long for evidence_long_weight).")
    trainable = [n for n in names if any(fnmatchcase(n, p) for p in patterns)]
    random_frozen = [n for n in names if n not in trainable and n in set(not_copied)]
    if random_frozen:
        raise ConfigError(f"Invalid value for 'train_only': {', '.join(random_frozen)} would be frozen at a random "
                          "initialisation (the init_from checkpoint has no such weight); add them to train_only or "
                          "warm-start from a checkpoint that has them.")
    for n, p in model.named_parameters():
        p.requires_grad_(n in trainable)
    return trainable


def targets_reached(model: torch.nn.Module, vset: ValidationSet, device: torch.device) -> list[bool]:
    """Per target: whether a trainable parameter reaches its logits (a non-zero gradient of the target's logits on
    the first validation batch, eval mode). A frozen fine-tune (``train_only``) refits only those targets'
    calibration, so the others stay exactly the parent's."""
    params = [p for p in model.parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    tb = _to_torch(vset.batches[0], device)
    with torch.enable_grad():
        out = model(tb["x"], tb["missing"], allow_empty=True, feature_valid=tb["feature_valid"], **_long_kwargs(tb))
        reached = []
        # a random projection of the logits: their plain sum can cancel (the evidence logits are (-z/2, z/2))
        probe = torch.randn(out.logits.shape, generator=torch.Generator().manual_seed(0)).to(out.logits.device)
        for k in range(out.logits.shape[-2]):
            grads = torch.autograd.grad((out.logits[..., k, :].float() * probe[..., k, :]).sum(), params,
                                        allow_unused=True, retain_graph=True) if params else []
            reached.append(any(g is not None and bool((g != 0).any()) for g in grads))
    model.train(was_training)
    return reached


@dataclass(frozen=True)
class _Tok:
    name: str
    modality: str


class _RunWriter:
    """Writes the run folder: config.json, metrics.csv (rewritten every epoch), train.log, checkpoint/."""

    def __init__(self, folder: Path, cfg: TrainConfig) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "config.json", json.dumps(cfg.to_dict(), indent=1))
        self.rows: list[dict[str, float]] = []
        self.handler = logging.FileHandler(folder / "train.log", mode="w", encoding="utf-8")
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(self.handler)
        if log.getEffectiveLevel() > logging.INFO:
            self._level = log.level
            log.setLevel(logging.INFO)
        else:
            self._level = None

    def log(self, message: str) -> None:
        log.info(message)

    def epoch(self, row: dict[str, float]) -> None:
        self.rows.append(row)
        keys = list(dict.fromkeys(k for r in self.rows for k in r))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        for r in self.rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
        atomic_write_text(self.folder / "metrics.csv", buf.getvalue())
        self.log("epoch " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))

    def save_checkpoint(self, model: torch.nn.Module, meta: dict, normalizer: Any) -> Path:
        from ..model.checkpoint import save_checkpoint

        out = self.folder / "checkpoint"
        save_checkpoint(model, out, extra=meta, normalizer=normalizer)
        return out

    def close(self) -> None:
        log.removeHandler(self.handler)
        self.handler.close()
        if self._level is not None:
            log.setLevel(self._level)
