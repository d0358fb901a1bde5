"""Run a model over whole trials / recordings: sliding contexts of T windows, batched, outputs averaged.

A sequence of ``n_total`` windows is cut into contexts of the model's ``T`` windows at stride ``T``; when
``n_total`` is not a multiple of ``T`` one last context is aligned to the end, and the windows it shares with
the previous context get the mean of both predictions. Shared by :mod:`mmqnet_core.inference`,
:mod:`mmqnet_core.evaluation` and the validation step of :mod:`mmqnet_core.training`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..progress import CancelToken, ProgressCallback, check_cancel, report


def context_starts(n_total: int, t: int) -> np.ndarray:
    """First window of every context covering ``n_total`` windows with contexts of ``t`` windows."""
    if n_total <= t:
        return np.zeros(1, dtype=np.int64)
    starts = list(range(0, n_total - t + 1, t))
    if starts[-1] + t < n_total:
        starts.append(n_total - t)
    return np.asarray(starts, dtype=np.int64)


@dataclass(frozen=True)
class ContextOutputs:
    """Per-window model outputs over whole sequences (S sequences of n windows)."""

    probabilities: np.ndarray  # (S, n, K) probability of the high class per target
    no_context: np.ndarray  # (S, n) bool: no visible token in the window's context (prediction = prior)
    interference: np.ndarray | None  # (S, n) predicted interference score in [0, 1], or None
    artifacts: np.ndarray | None  # (S, n, A) artifact-type probabilities, or None
    recon: np.ndarray | None  # (S, n, N, F) reconstructed normalised features, or None
    attention: dict[str, np.ndarray] | None  # family -> (S, n, N) attention mass over tokens (see below)


def attention_to_tokens(weights: torch.Tensor, t: int, n: int) -> torch.Tensor:
    """Aggregate (B, Q, L) attention weights (L = t*n keys, Q = t*q queries, window-major) to (B, t, n).

    For window t: the mean over that window's *active* queries of the attention mass they put on token n summed
    over all key windows, i.e. how much the window's output relied on channel n. A query is active when its row
    has mass (category and interference queries whenever the window's context has a visible key; modality
    queries only for the tokens that were reconstructed, see ``recon_tokens``). Each row sums to 1 (or 0 when
    no query of the window was active).
    """
    b, q_total, l_total = weights.shape
    q = q_total // t
    w = weights.reshape(b, t, q, t, n)  # (B, T, q, T', N)
    active = (w.sum((3, 4)) > 0).sum(2).clamp(min=1)  # (B, T) queries with attention mass
    return w.sum((2, 3)) / active[..., None]  # (B, T, N)


@torch.no_grad()
def run_contexts(
    model: torch.nn.Module,
    x: np.ndarray,
    missing: np.ndarray,
    *,
    n_valid: np.ndarray | None = None,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    return_recon: bool = False,
    return_attention: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ContextOutputs:
    """Predict every window of S sequences with sliding contexts.

    Parameters
    ----------
    model : MMQNet
        In eval mode; its ``config.n_windows`` is the context length T.
    x : ndarray, shape (S, n, N, F)
        Normalised features (values of missing tokens are ignored).
    missing : ndarray, shape (S, n, N)
        True = token missing or masked.
    n_valid : ndarray, shape (S,), optional
        Real windows per sequence (the rest is padding); default all ``n``.
    batch_size : int
        Contexts per forward pass.
    device
        Device of the model.
    return_recon, return_attention : bool
        Also collect reconstructions / attention maps (more memory). Only the ``missing`` tokens are
        reconstructed (the modality queries' job; a visible token's own value would reach its reconstruction
        through the encoder), the others get 0, and the modality family's attention map covers those
        reconstructions only. Without ``return_recon`` nothing is reconstructed (much faster on the CPU).
    progress, cancel
        Progress per batch; cancel checked between batches.
    """
    cfg = model.config
    s_total, n_total, n_tok, n_feat = x.shape
    t = min(cfg.n_windows, n_total)
    n_valid = np.full(s_total, n_total) if n_valid is None else np.asarray(n_valid)
    items = [(s, int(st)) for s in range(s_total) for st in context_starts(int(n_valid[s]), t)]
    k = cfg.n_targets
    probs = np.zeros((s_total, n_total, k), np.float32)
    count = np.zeros((s_total, n_total), np.float32)
    no_ctx = np.zeros((s_total, n_total), bool)
    has_int = cfg.use_interference_queries
    inter = np.zeros((s_total, n_total), np.float32) if has_int else None
    arts = np.zeros((s_total, n_total, len(cfg.artifact_types)), np.float32) if has_int else None
    want_recon = return_recon and cfg.use_modality_queries
    recon = np.zeros((s_total, n_total, n_tok, n_feat), np.float32) if want_recon else None
    att: dict[str, np.ndarray] | None = {} if return_attention else None
    offs = np.arange(t)
    n_batches = max(1, -(-len(items) // batch_size))
    for bi in range(n_batches):
        check_cancel(cancel)
        chunk = items[bi * batch_size:(bi + 1) * batch_size]
        si = np.array([c[0] for c in chunk])
        wi = np.array([c[1] for c in chunk])[:, None] + offs  # (B, T)
        xb = torch.from_numpy(np.ascontiguousarray(x[si[:, None], wi])).to(device)  # (B, T, N, F)
        mb = torch.from_numpy(np.ascontiguousarray(missing[si[:, None], wi])).to(device)  # (B, T, N)
        recon_tokens = None
        if cfg.use_modality_queries:  # reconstruct what is missing, or nothing when no reconstruction is wanted
            recon_tokens = mb if want_recon else torch.zeros_like(mb)
        out = model(xb, mb, return_attention=return_attention, allow_empty=True, recon_tokens=recon_tokens)
        sl = (si[:, None], wi)
        np.add.at(probs, sl, out.probabilities.float().cpu().numpy())
        np.add.at(count, sl, 1.0)
        no_ctx[sl] |= out.no_context.cpu().numpy()
        if inter is not None and out.interference is not None:
            np.add.at(inter, sl, torch.sigmoid(out.interference).float().cpu().numpy())
            np.add.at(arts, sl, torch.sigmoid(out.artifact_logits).float().cpu().numpy())
        if recon is not None and out.recon is not None:
            np.add.at(recon, sl, out.recon.float().cpu().numpy())
        if att is not None and out.attention:
            for family, w in out.attention.items():
                agg = attention_to_tokens(w.float(), t, n_tok).cpu().numpy()  # (B, T, N)
                if family not in att:
                    att[family] = np.zeros((s_total, n_total, n_tok), np.float32)
                np.add.at(att[family], sl, agg)
        report(progress, (bi + 1) / n_batches, f"batch {bi + 1}/{n_batches}")
    c = np.maximum(count, 1.0)
    probs /= c[..., None]
    if inter is not None:
        inter /= c
        arts /= c[..., None]
    if recon is not None:
        recon /= c[..., None, None]
    if att is not None:
        for family in att:
            att[family] /= c[..., None]
    return ContextOutputs(probs, no_ctx, inter, arts, recon, att)
