"""Occlusion attribution: how much each prediction moves when a token (channel) or a whole modality is hidden.

Attention weights say where a query looked, not what moved its output (a key can be attended and ignored by the
value path, and with fusion "mmq" a hidden token still speaks through its reconstruction). Occlusion measures the
effect directly: the model is run again with one unit hidden -- through the data mask, exactly as a missing
sensor, with the same forward pass and the same sliding contexts as the analysis -- and the change of the
high-class probability of every window and target is reported.

Shape legend: S sequences (trials / recordings), n windows per sequence, B batch of contexts, T windows per
context, N tokens, F features, K targets, U occluded units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..progress import CancelToken, ProgressCallback, check_cancel, report, scaled

#: Granularities of :func:`occlusion_units`.
OCCLUSION_UNITS = ("modality", "token")


@dataclass(frozen=True)
class Occlusion:
    """Result of :func:`occlusion` / :func:`occlusion_contexts`."""

    units: tuple[str, ...]  # U names: modality groups ("EEG", "EMG", ...) or token names ("Fp1", ...)
    delta: np.ndarray  # (U, S, n, K) or (U, B, T, K): P(high) with the unit hidden minus P(high) without;
    #                    0 where the unit was hidden already (nothing to take away)
    base: np.ndarray  # (S, n, K) or (B, T, K): P(high) with what the caller left visible

    def importance(self) -> np.ndarray:
        """(U, K) mean absolute change over all windows: how much each unit moves each target."""
        return np.abs(self.delta).reshape(len(self.units), -1, self.delta.shape[-1]).mean(1)


def occlusion_units(config: Any, by: str = "modality") -> list[tuple[str, np.ndarray]]:
    """(name, tokens (N,) bool) of every unit to occlude: each modality group (``by="modality"``) or each token
    (``by="token"``) of an :class:`~mmqnet_core.model.MMQNetConfig`."""
    if by not in OCCLUSION_UNITS:
        raise ConfigError(f"Invalid value for 'by': allowed {', '.join(OCCLUSION_UNITS)}, got {by!r}.")
    groups = np.asarray(config.token_groups)
    if by == "modality":
        return [(g, groups == g) for g in config.groups]
    eye = np.eye(config.n_tokens, dtype=bool)
    return [(name, eye[i]) for i, name in enumerate(config.names)]


@torch.no_grad()
def occlusion(model: torch.nn.Module, x: torch.Tensor, missing: torch.Tensor, *, by: str = "modality",
              feature_valid: torch.Tensor | None = None) -> Occlusion:
    """Occlusion of every unit for one batch of contexts (the model's own forward, in its current mode).

    Parameters
    ----------
    model : MMQNet
        The model (put it in eval mode for deterministic results).
    x, missing, feature_valid
        (B, T, N, F) normalised features, (B, T, N) data mask, optional (B, T, N, F) feature validity, as for
        ``MMQNet.forward``.
    by : {"modality", "token"}
        Hide whole modality groups or single tokens (over every window of the context).

    Returns
    -------
    Occlusion
        ``delta`` (U, B, T, K), ``base`` (B, T, K).
    """
    units = occlusion_units(model.config, by)
    base = model(x, missing, feature_valid=feature_valid, allow_empty=True).probabilities  # (B, T, K)
    deltas = []
    for _, tokens in units:
        hide = torch.as_tensor(tokens, device=missing.device)  # (N,)
        occluded = missing | hide
        changed = (occluded != missing).any(-1).any(-1)  # (B,) contexts where the unit was visible somewhere
        p = model(x, occluded, feature_valid=feature_valid, allow_empty=True).probabilities
        deltas.append(torch.where(changed[:, None, None], p - base, torch.zeros_like(base)))
    return Occlusion(tuple(n for n, _ in units), torch.stack(deltas).float().cpu().numpy(),
                     base.float().cpu().numpy())


def occlusion_contexts(
    model: torch.nn.Module,
    x: np.ndarray,
    missing: np.ndarray,
    *,
    by: str = "modality",
    n_valid: np.ndarray | None = None,
    feature_valid: np.ndarray | None = None,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Occlusion:
    """Occlusion over whole sequences with the analysis' sliding contexts (``inference.engine.run_contexts``).

    Parameters
    ----------
    model : MMQNet
        In eval mode.
    x : ndarray, shape (S, n, N, F)
        Normalised features.
    missing : ndarray, shape (S, n, N)
        Data mask (missing or masked by the user).
    by : {"modality", "token"}
        Unit to hide: a modality group or a token, over the whole sequence.
    n_valid, feature_valid, batch_size, device
        As for ``run_contexts``.
    progress, cancel
        Progress over the U + 1 passes; cancel checked between batches.

    Returns
    -------
    Occlusion
        ``delta`` (U, S, n, K): per window, P(high) with the unit hidden minus without; ``base`` (S, n, K).
    """
    from ..inference.engine import run_contexts  # the analysis' own sliding-context pass

    units = occlusion_units(model.config, by)
    passes = len(units) + 1

    def run(mask: np.ndarray, i: int) -> np.ndarray:
        return run_contexts(model, x, mask, n_valid=n_valid, feature_valid=feature_valid, batch_size=batch_size,
                            device=device, progress=scaled(progress, i / passes, (i + 1) / passes),
                            cancel=cancel).probabilities

    base = run(missing, 0)
    deltas = np.zeros((len(units), *base.shape), np.float32)
    for i, (_, tokens) in enumerate(units, start=1):
        check_cancel(cancel)
        occluded = missing | tokens[None, None, :]
        if (occluded != missing).any():
            deltas[i - 1] = run(occluded, i) - base
    report(progress, 1.0, "occlusion done")
    return Occlusion(tuple(n for n, _ in units), deltas, base)
