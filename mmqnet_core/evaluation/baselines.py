"""Baselines without the query decoder: imputation rules and a logistic regression.

* :func:`mean_impute` - masked tokens take the training mean (0 in normalised units);
* :func:`zero_fill` - masked tokens take the value 0 in original units (normalised: ``-mean / std``);
* :func:`interpolate_time` - linear interpolation along time of each (token, feature) series between the
  visible windows of the same trial (constant extrapolation at the ends; mean when a token has no visible window);
* :class:`LogisticRegression` - a linear classifier on mean-imputed window features, written in torch (a few
  lines; scikit-learn is not a dependency).
"""

from __future__ import annotations

import numpy as np
import torch


def mean_impute(x: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Set masked tokens of normalised features ``x`` (..., N, F) to 0 (= the training mean)."""
    return np.where(missing[..., None], np.float32(0.0), x).astype(np.float32)


def zero_fill(x: np.ndarray, missing: np.ndarray, zero_normalised: np.ndarray) -> np.ndarray:
    """Set masked tokens to ``zero_normalised`` (N, F): the normalised value of 0 in original units."""
    return np.where(missing[..., None], zero_normalised.astype(np.float32), x).astype(np.float32)


def interpolate_time(x: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Linear interpolation along the window axis of every (token, feature) series of one trial.

    Parameters
    ----------
    x : ndarray, shape (T, N, F)
        Normalised features of one trial (values of missing tokens are ignored).
    missing : ndarray, shape (T, N)
        True where the token is missing or masked.

    Returns
    -------
    ndarray, shape (T, N, F)
        ``x`` with missing tokens replaced by the interpolation (0, the mean, for tokens never visible).
    """
    n_t, n_tok, _ = x.shape
    out = x.astype(np.float32).copy()
    t = np.arange(n_t)
    # np.interp works on one series at a time; the loop is over tokens (<= ~50), features are vectorised by
    # interpolating the index of the nearest visible windows once per token.
    for n in range(n_tok):
        miss = missing[:, n]
        if not miss.any():
            continue
        vis = np.flatnonzero(~miss)
        if vis.size == 0:
            out[:, n, :] = 0.0
            continue
        pos = np.interp(t[miss], vis, np.arange(vis.size))  # fractional index into the visible windows
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, vis.size - 1)
        w = (pos - lo)[:, None].astype(np.float32)
        out[miss, n, :] = (1 - w) * x[vis[lo], n, :] + w * x[vis[hi], n, :]
    return out


class LogisticRegression(torch.nn.Module):
    """Two independent binary logistic regressions (valence, arousal) on flattened window features.

    Input: normalised, mean-imputed features (B, N, F) with invalid columns zeroed; output logits (B, 2).
    """

    def __init__(self, n_inputs: int, n_targets: int = 2) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(n_inputs, n_targets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))  # (B, N*F) -> (B, n_targets)


def fit_logistic_regression(
    x: np.ndarray,
    y: np.ndarray,
    *,
    weight_decay: float = 1e-3,
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 1e-2,
    seed: int = 0,
) -> LogisticRegression:
    """Fit :class:`LogisticRegression` with AdamW on windows ``x`` (n, N, F) and binary targets ``y`` (n, 2)."""
    torch.manual_seed(seed)  # the initial weights
    model = LogisticRegression(int(np.prod(np.shape(x)[1:])), np.shape(y)[1])
    return fit_classifier(model, x, y, weight_decay=weight_decay, epochs=epochs, batch_size=batch_size, lr=lr,
                          seed=seed, min_steps=0)


@torch.no_grad()
def predict_logistic_regression(model: LogisticRegression, x: np.ndarray) -> np.ndarray:
    """Probabilities of the high class, (n, 2), for windows ``x`` (n, N, F)."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return torch.sigmoid(model(xt)).numpy()


# --- baselines on 8-s context features ---------------------------------------------------------------------------
def context_features(x: np.ndarray, hidden: np.ndarray, n_windows: int = 8) -> np.ndarray:
    """Mean of each token's visible features over a centred context of ``n_windows`` windows, plus the share of
    the context in which the token was visible.

    Parameters
    ----------
    x : ndarray, shape (S, T, N, F)
        Normalised features (values of hidden tokens are ignored).
    hidden : ndarray, shape (S, T, N)
        True where the token is missing or masked.
    n_windows : int
        Context length in windows (8 windows of 1 s = 8 s, the context MMQ-Net sees).

    Returns
    -------
    ndarray, shape (S, T, N, F + 1)
        Context means (0 = the normalisation mean where the token is never visible in the context) and, last,
        the visible share in [0, 1].
    """
    vis = (~hidden).astype(np.float32)  # (S, T, N)
    xv = np.where(hidden[..., None], np.float32(0.0), x).astype(np.float32)
    before = n_windows // 2
    after = n_windows - before - 1

    def window_sum(a: np.ndarray) -> np.ndarray:  # centred moving sum along axis 1 (cumulative sums)
        c = np.cumsum(np.pad(a, [(0, 0), (1, 0)] + [(0, 0)] * (a.ndim - 2)), axis=1)
        t = a.shape[1]
        hi = np.minimum(np.arange(t) + after + 1, t)
        lo = np.maximum(np.arange(t) - before, 0)
        return c[:, hi] - c[:, lo]

    count = window_sum(vis)  # (S, T, N)
    total = window_sum(xv)  # (S, T, N, F)
    mean = total / np.maximum(count, 1.0)[..., None]
    span = window_sum(np.ones_like(vis))
    return np.concatenate([mean, (count / np.maximum(span, 1.0))[..., None]], -1).astype(np.float32)


class LateFusion(torch.nn.Module):
    """Late fusion of per-modality linear classifiers: each modality group has its own logistic regression on its
    tokens' context features; their logits are averaged with learned positive weights over the modalities that
    have a visible token (no modality: logit 0, probability 0.5).

    Input: context features (B, N, F + 1) (:func:`context_features`), availability is read from the visible-share
    column; output logits (B, n_targets).
    """

    def __init__(self, groups: np.ndarray, n_features: int, n_targets: int = 2) -> None:
        super().__init__()
        self.register_buffer("groups", torch.as_tensor(np.asarray(groups), dtype=torch.long))
        self.n_groups = int(self.groups.max()) + 1
        self.heads = torch.nn.ModuleList(
            torch.nn.Linear(int((self.groups == g).sum()) * n_features, n_targets) for g in range(self.n_groups)
        )
        self.log_weight = torch.nn.Parameter(torch.zeros(self.n_groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits, avail = [], []
        for g, head in enumerate(self.heads):
            part = x[:, self.groups == g]  # (B, N_g, F + 1)
            logits.append(head(part.flatten(1)))  # (B, K)
            avail.append((part[..., -1] > 0).any(1))  # (B,)
        z = torch.stack(logits, 1)  # (B, G, K)
        w = self.log_weight.exp()[None] * torch.stack(avail, 1).to(z.dtype)  # (B, G)
        return (w[..., None] * z).sum(1) / w.sum(1, keepdim=True).clamp(min=1e-6)


def fit_classifier(
    model: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    weight_decay: float = 1e-3,
    epochs: int = 10,
    batch_size: int = 512,
    lr: float = 1e-2,
    seed: int = 0,
    min_steps: int = 300,
) -> torch.nn.Module:
    """Fit a (B, ...) -> (B, K) logit model with AdamW and binary cross-entropy on samples ``x`` and targets ``y``
    (n, K) in {0, 1}: ``epochs`` passes, or more until ``min_steps`` steps (small data sets)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = -(-len(xt) // batch_size)
    for _ in range(max(epochs, -(-min_steps // max(steps_per_epoch, 1)))):
        for idx in torch.randperm(len(xt), generator=gen).split(batch_size):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def predict_classifier(model: torch.nn.Module, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Probabilities of the high class (n, K) for samples ``x`` (n, ...)."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return torch.cat([torch.sigmoid(model(xt[i:i + batch_size])) for i in range(0, len(xt), batch_size)]).numpy()


# --- reconstruction baselines --------------------------------------------------------------------------------------
def standard_montage():  # noqa: ANN201 (mne.channels.DigMontage; mne is imported lazily)
    """MNE's 10-20 template montage ("colin27_1020"; "standard_1020" on MNE versions before that name)."""
    import mne

    try:
        return mne.channels.make_standard_montage("colin27_1020")
    except ValueError:
        return mne.channels.make_standard_montage("standard_1020")


def spherical_spline(x: np.ndarray, hidden: np.ndarray, eeg_names: list[str], *, min_visible: int = 4,
                     max_patterns: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Spherical-spline interpolation (MNE's ``interpolate_bads``) of hidden EEG tokens from the visible ones,
    applied to each feature column (the interpolation is linear in the data, so it carries over from voltages
    to band features as a spatial smoother).

    Parameters
    ----------
    x : ndarray, shape (W, C, F)
        Features of W windows of the C EEG tokens (hidden values ignored).
    hidden : ndarray, shape (W, C)
        True where the token is hidden.
    eeg_names : list of str
        The C channel names (positions from :func:`standard_montage`).
    min_visible : int
        Windows with fewer visible EEG channels are not interpolated.
    max_patterns : int, optional
        Interpolate at most this many distinct hidden-channel patterns (drawn at random with ``seed``); one MNE
        call per pattern.

    Returns
    -------
    recon : ndarray, shape (W, C, F)
        Interpolated values on the hidden tokens of the windows done (``x`` elsewhere).
    done : ndarray, shape (W,)
        True for the windows that were interpolated.
    """
    import mne

    recon = np.array(x, dtype=np.float32, copy=True)
    done = np.zeros(len(x), bool)
    some = hidden.any(1) & ((~hidden).sum(1) >= min_visible)
    if not some.any():
        return recon, done
    info = mne.create_info(list(eeg_names), 128.0, "eeg")
    montage = standard_montage()
    info.set_montage(montage, on_missing="raise", verbose="error")
    patterns, inverse = np.unique(hidden[some], axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.arange(len(patterns))
    if max_patterns is not None and len(patterns) > max_patterns:
        order = np.random.default_rng(seed).choice(len(patterns), max_patterns, replace=False)
    rows = np.flatnonzero(some)
    n_feat = x.shape[2]
    for p in order:
        win = rows[inverse == p]  # (w,) windows with this pattern
        data = np.transpose(x[win], (1, 0, 2)).reshape(x.shape[1], -1)  # (C, w*F)
        bads = [eeg_names[i] for i in np.flatnonzero(patterns[p])]
        evoked = mne.EvokedArray(data.astype(np.float64), info.copy(), verbose="error")
        evoked.info["bads"] = bads
        evoked.interpolate_bads(reset_bads=True, mode="accurate", verbose="error")
        out = evoked.data.reshape(x.shape[1], len(win), n_feat).transpose(1, 0, 2)
        recon[win] = np.where(hidden[win][..., None], out, x[win])
        done[win] = True
    return recon, done
