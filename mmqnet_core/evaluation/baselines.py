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
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).flatten(1)
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32))
    model = LogisticRegression(xt.shape[1], yt.shape[1])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        for idx in torch.randperm(len(xt), generator=gen).split(batch_size):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def predict_logistic_regression(model: LogisticRegression, x: np.ndarray) -> np.ndarray:
    """Probabilities of the high class, (n, 2), for windows ``x`` (n, N, F)."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return torch.sigmoid(model(xt)).numpy()
