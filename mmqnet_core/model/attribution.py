"""Occlusion attribution: how much each prediction moves when a token (channel) or a whole modality is hidden.

Attention weights say where a query looked, not what moved its output (a key can be attended and ignored by the
value path, and with fusion "mmq" a hidden token still speaks through its reconstruction). Occlusion measures the
effect directly: the model is run again with one unit hidden -- through the data mask, exactly as a missing
sensor, with the same forward pass and the same sliding contexts as the analysis -- and the change of the
high-class probability of every window and target is reported.

:func:`analysis_attribution` is the analysis' version (``analyze(..., attribution=...)``, ``mmqnet analyze
--attribution``): one probability-only pass per unit, in the analysis' sliding contexts and in batches (cancel
checked between batches and inside the forward), run only on the contexts that cover the windows the unit changes;
it also *restores* hidden units with the model's reconstruction, which gives the missing-evidence term of the
uncertainty (:mod:`mmqnet_core.inference.evidence`).

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


@dataclass(frozen=True)
class AnalysisAttribution:
    """Per-window occlusion of every unit over whole sequences, and the restoration of the hidden ones
    (:func:`analysis_attribution`)."""

    by: str  # "modality" or "token"
    units: tuple[str, ...]  # U unit names
    occlusion: np.ndarray  # (U, S, n, K) P(high) with the unit hidden minus P(high) as analysed; 0 where the
    #                        unit was hidden in the window already (nothing to take away)
    restoration: np.ndarray  # (U, S, n, K) logit of P(high) with the unit's hidden tokens restored (filled with the
    #                          model's reconstruction, or the normalised mean, and shown) minus the analysed logit;
    #                          0 where none of the unit's tokens was hidden in the window
    base: np.ndarray  # (S, n, K) P(high) of the deterministic pass with what was visible


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def _probabilities_where_needed(model: torch.nn.Module, x: np.ndarray, mask: np.ndarray, fv: np.ndarray | None,
                                need: np.ndarray, *, n_valid: np.ndarray | None, batch_size: int,
                                device: torch.device | str, progress: ProgressCallback | None,
                                cancel: CancelToken | None, window_range: tuple[int, int] | None = None) -> np.ndarray:
    """P(high) (S, n, K) of ``run_contexts`` on the windows in ``need`` (S, n), from only the contexts covering
    them (exact there: every context covering such a window is run and averaged as ``run_contexts`` does; 0 on
    the other windows). A unit hidden in a 5-min span of a 1-h recording costs 5 min of passes, not 1 h."""
    from ..inference.engine import context_starts, run_contexts

    s_total, n_total = need.shape
    t = min(model.config.n_windows, n_total)
    n_valid = np.full(s_total, n_total) if n_valid is None else np.asarray(n_valid)
    every = [(s, int(st)) for s in range(s_total) for st in context_starts(int(n_valid[s]), t)]
    items = [(s, st) for s, st in every if need[s, st:st + t].any()]
    # all of them: the plain pass; likewise with the long-context read-out (``evidence_long``), whose contexts read
    # the windows around them, so a context run alone would see less, and a hidden unit reaches h windows further
    if len(items) == len(every) or getattr(model.config, "evidence_long", ()):
        return run_contexts(model, x, mask, n_valid=n_valid, feature_valid=fv, batch_size=batch_size,
                            device=device, progress=progress, cancel=cancel, window_range=window_range).probabilities
    out = np.zeros((s_total, n_total, model.config.n_targets), np.float32)
    if not items:
        return out
    si = np.array([s for s, _ in items])[:, None]  # (C, 1)
    wi = np.array([st for _, st in items])[:, None] + np.arange(t)  # (C, t) windows of each context
    p = run_contexts(model, x[si, wi], mask[si, wi], feature_valid=None if fv is None else fv[si, wi],
                     batch_size=batch_size, device=device, progress=progress, cancel=cancel).probabilities
    count = np.zeros((s_total, n_total), np.float32)
    np.add.at(out, (si, wi), p)  # (C, t, K) contexts -> windows, averaged where two contexts overlap
    np.add.at(count, (si, wi), 1.0)
    return out / np.maximum(count, 1.0)[..., None]


def analysis_attribution(
    model: torch.nn.Module,
    x: np.ndarray,
    missing: np.ndarray,
    *,
    by: str = "modality",
    base: np.ndarray | None = None,
    fill: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    n_valid: np.ndarray | None = None,
    feature_valid: np.ndarray | None = None,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    window_range: tuple[int, int] | None = None,
) -> AnalysisAttribution:
    """Occlusion and restoration of every unit, with the analysis' sliding contexts and batches.

    Two kinds of probability-only passes of ``inference.engine.run_contexts`` (no reconstruction, no attention,
    so each costs a fraction of the analysis' own pass), one per unit and kind where it changes anything:

    * *occlusion*: the unit's visible tokens are hidden (a missing sensor, through the data mask) -- what the
      unit's evidence did to the prediction;
    * *restoration*: the unit's hidden tokens are shown with ``fill`` (the model's own reconstruction of them, or
      the normalised mean 0) -- how far the prediction moves when the missing evidence takes its most likely
      value. :func:`mmqnet_core.inference.evidence.missing_evidence_sd` turns this into the spread of the
      prediction owed to missing evidence.

    Parameters
    ----------
    model : MMQNet
        In eval mode.
    x : ndarray, shape (S, n, N, F)
        Normalised features (values of hidden tokens ignored).
    missing : ndarray, shape (S, n, N)
        Data mask (missing or masked by the user).
    by : {"modality", "token"}
        Unit: a modality group (U = groups, a few passes) or a token (U = N passes).
    base : ndarray, shape (S, n, K), optional
        P(high) of the deterministic pass on ``x``/``missing`` when the caller has it (saves one pass).
    fill : ndarray, shape (S, n, N, F), optional
        Normalised values shown for restored tokens (the model's reconstruction); None = 0 (the mean).
    valid : ndarray, shape (N, F), optional
        Defined feature columns (restored tokens show these); default ``model.config.feature_valid``.
    n_valid, feature_valid, batch_size, device
        As for ``run_contexts``.
    progress, cancel
        Progress over the passes; cancel checked between passes, between batches and inside the forward.
    window_range : (int, int), optional
        Only windows ``lo <= w < hi`` are wanted (as for ``run_contexts``): the passes run only the contexts
        covering them, and the maps are 0 elsewhere. None: every window.

    Returns
    -------
    AnalysisAttribution
    """
    units = occlusion_units(model.config, by)
    missing = np.asarray(missing, bool)
    valid = np.asarray(model.config.feature_valid if valid is None else valid, bool)  # (N, F)
    todo_occ = [(u, tokens) for u, (_, tokens) in enumerate(units) if (~missing[..., tokens]).any()]
    todo_res = [(u, tokens) for u, (_, tokens) in enumerate(units) if missing[..., tokens].any()]
    passes = len(todo_occ) + len(todo_res) + (base is None)
    done = 0

    def run(xx: np.ndarray, mask: np.ndarray, fv: np.ndarray | None, need: np.ndarray) -> np.ndarray:
        nonlocal done
        check_cancel(cancel)
        fv = None if fv is None else fv & ~mask[..., None]  # a hidden token has no valid feature
        if window_range is not None:
            need = need.copy()
            need[:, :window_range[0]] = False
            need[:, window_range[1]:] = False
        p = _probabilities_where_needed(model, xx, mask, fv, need, n_valid=n_valid, batch_size=batch_size,
                                        device=device, progress=scaled(progress, done / passes, (done + 1) / passes),
                                        cancel=cancel, window_range=window_range)
        done += 1
        return p

    if base is None:
        base = run(x, missing, feature_valid, np.ones(missing.shape[:2], bool))
    base = np.asarray(base, np.float32)
    occ = np.zeros((len(units), *base.shape), np.float32)
    res = np.zeros((len(units), *base.shape), np.float32)
    for u, tokens in todo_occ:
        seen = (~missing[..., tokens]).any(-1)  # (S, n) windows where the unit has something to hide
        occ[u] = np.where(seen[..., None], run(x, missing | tokens[None, None, :], feature_valid, seen) - base, 0.0)
    base_logit = _logit(base)
    for u, tokens in todo_res:
        restore = missing & tokens[None, None, :]  # (S, n, N) the unit's hidden tokens
        shown = np.zeros_like(x) if fill is None else np.asarray(fill, np.float32)
        xr = np.where(restore[..., None], np.where(valid, shown, 0.0), x).astype(np.float32)
        fv = None if feature_valid is None else (np.asarray(feature_valid, bool) | (restore[..., None] & valid))
        need = restore.any(-1)  # (S, n) windows where some token of the unit was hidden
        p = run(xr, missing & ~restore, fv, need)
        res[u] = np.where(need[..., None], _logit(p) - base_logit, 0.0)
    report(progress, 1.0, "attribution done")
    return AnalysisAttribution(by, tuple(n for n, _ in units), occ, res, base)
