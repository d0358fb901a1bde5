"""Loss terms of MMQ-Net (our design; see the model docstring): reconstruction, classification, regression,
interference and decorrelation, plus :func:`mmqnet_loss` that combines them.

Shape legend: B batch, T windows, N tokens, F features, K targets, A artifact types, D width.
Every term returns a scalar tensor that is 0 (still differentiable) when it has nothing to average over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .mmqnet import MMQNetOutput


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask``; 0 (keeping the graph) when the mask is empty."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def binarize(scores: torch.Tensor, threshold: float = 5.0) -> torch.Tensor:
    """1-9 scores -> class index (long): 1 = high (score >= threshold), 0 = low; NaN scores -> -1 (ignored)."""
    labels = (scores >= threshold).long()
    return labels.masked_fill(torch.isnan(scores), -1)


def reconstruction_loss(
    recon: torch.Tensor, target: torch.Tensor, recon_mask: torch.Tensor, feature_valid: torch.Tensor
) -> torch.Tensor:
    """MSE of reconstructed features on the valid columns of tokens in ``recon_mask``.

    Parameters
    ----------
    recon, target
        (B, T, N, F) normalised features (model output, ground truth).
    recon_mask
        (B, T, N) bool: tokens hidden from the model *that have ground truth* (e.g. the extra random mask of
        training, not tokens that were absent in the recording).
    feature_valid
        (N, F) bool.
    """
    mask = recon_mask[..., None] & feature_valid  # (B, T, N, F)
    err = torch.where(mask, recon - torch.nan_to_num(target), torch.zeros((), dtype=recon.dtype, device=recon.device))
    return _masked_mean(err**2, mask)


def classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy of the binary heads.

    logits (B, T, K, 2); labels (B, T, K) or (B, K) long class indices (-1 = unknown, ignored);
    weight (B, T) optional per-window weight (e.g. 0 where ``no_context``).
    """
    if labels.dim() == logits.dim() - 2:  # one label per sample: the same for all its windows
        labels = labels[:, None, :].expand(logits.shape[:-1])  # (B, T, K)
    ce = F.cross_entropy(  # (B*T*K,)
        logits.flatten(0, -2), labels.clamp(min=0).flatten(), reduction="none"  # (B*T*K, 2), (B*T*K,)
    )
    mask = (labels >= 0).flatten()  # (B*T*K,)
    if weight is not None:
        mask = mask.to(ce.dtype) * weight[..., None].expand(labels.shape).flatten()  # (B*T*K,)
    return _masked_mean(ce, mask)


def regression_loss(pred: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """MSE on the 1-9 scale, pred (B, T, K), scores (B, T, K) or (B, K); NaN scores ignored. Divided by 16 so
    that a 4-point error costs about as much as a confident wrong class."""
    if scores.dim() == pred.dim() - 1:
        scores = scores[:, None, :].expand(pred.shape)  # (B, T, K)
    known = ~torch.isnan(scores)
    return _masked_mean((pred - torch.nan_to_num(scores)) ** 2 / 16.0, known)


def interference_loss(
    logit: torch.Tensor,
    score: torch.Tensor,
    artifact_logits: torch.Tensor | None = None,
    artifact_targets: torch.Tensor | None = None,
) -> torch.Tensor:
    """BCE of the interference score (B, T) vs ``score`` in [0, 1] (NaN ignored), plus multi-label BCE of the
    artifact types (B, T, A) when targets (B, T, A) in {0, 1} are given."""
    known = ~torch.isnan(score)
    bce = F.binary_cross_entropy_with_logits(logit, torch.nan_to_num(score).clamp(0, 1), reduction="none")
    loss = _masked_mean(bce, known)
    if artifact_logits is not None and artifact_targets is not None:
        target = artifact_targets.to(artifact_logits.dtype)
        loss = loss + F.binary_cross_entropy_with_logits(artifact_logits, target)
    return loss


def decorrelation_loss(category_features: torch.Tensor, interference_features: torch.Tensor) -> torch.Tensor:
    """Mean squared cross-correlation between batch-standardised category and interference features.

    category_features (B, T, K, D) or (B, T, D); interference_features (B, T, D). Each window is one sample;
    the loss is 0 when the two carry linearly unrelated information (as in Barlow Twins' off-diagonal term,
    here between two different representations). Needs at least 2 windows.
    """
    if category_features.dim() == 4:
        category_features = category_features.flatten(2)  # (B, T, K*D)
    c = category_features.flatten(0, 1)  # (M, K*D)
    z = interference_features.flatten(0, 1)  # (M, D)
    m = c.shape[0]
    if m < 2:
        return c.sum() * 0.0
    c = (c - c.mean(0)) / (c.std(0) + 1e-5)
    z = (z - z.mean(0)) / (z.std(0) + 1e-5)
    corr = c.T @ z / (m - 1)  # (K*D, D) correlation matrix
    return (corr**2).mean()


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms in :func:`mmqnet_loss`."""

    classification: float = 1.0  # cross-entropy of the binary valence/arousal heads
    regression: float = 0.5  # MSE of the 1-9 scores (only when the model regresses)
    reconstruction: float = 1.0  # MSE of modality-query reconstructions on masked tokens
    interference: float = 0.5  # BCE of interference score and artifact types
    decorrelation: float = 0.1  # squared cross-correlation of category vs interference features

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not value >= 0:
                raise ConfigError(f"Invalid value for loss weight {name!r}: must be >= 0, got {value}.")


def mmqnet_loss(
    output: MMQNetOutput,
    *,
    labels: torch.Tensor | None = None,
    scores: torch.Tensor | None = None,
    target: torch.Tensor | None = None,
    recon_mask: torch.Tensor | None = None,
    feature_valid: torch.Tensor | None = None,
    interference: torch.Tensor | None = None,
    artifacts: torch.Tensor | None = None,
    weights: LossWeights = LossWeights(),
) -> tuple[torch.Tensor, Mapping[str, torch.Tensor]]:
    """Weighted sum of the terms that the output and the given targets allow.

    Parameters
    ----------
    output
        The model output.
    labels
        (B, T, K) or (B, K) class indices (see :func:`binarize`).
    scores
        (B, T, K) or (B, K) 1-9 scores for the regression head.
    target, recon_mask, feature_valid
        Ground-truth normalised features (B, T, N, F), tokens to score (B, T, N), valid columns (N, F).
    interference, artifacts
        Per-window interference score (B, T) in [0, 1] and artifact-type targets (B, T, A).
    weights
        Term weights.

    Returns
    -------
    total, terms
        The scalar loss and each unweighted term (detached) for logging.
    """
    terms: dict[str, torch.Tensor] = {}
    if labels is not None:
        terms["classification"] = classification_loss(output.logits, labels, (~output.no_context).float())
    if scores is not None and output.regression is not None:
        terms["regression"] = regression_loss(output.regression, scores)
    if output.recon is not None and target is not None and recon_mask is not None:
        valid = feature_valid if feature_valid is not None else torch.ones(target.shape[-2:], dtype=torch.bool)
        terms["reconstruction"] = reconstruction_loss(output.recon, target, recon_mask, valid.to(target.device))
    if output.interference is not None and interference is not None:
        terms["interference"] = interference_loss(output.interference, interference, output.artifact_logits,
                                                  artifacts)
    if output.interference_features is not None and weights.decorrelation > 0:
        terms["decorrelation"] = decorrelation_loss(output.category_features, output.interference_features)
    if not terms:
        raise ConfigError("mmqnet_loss got no targets: pass labels, scores, target/recon_mask or interference.")
    total = sum(getattr(weights, name) * value for name, value in terms.items())
    return total, {name: value.detach() for name, value in terms.items()}
