"""Classification and reconstruction metrics (numpy; no scikit-learn dependency).

Accuracy and macro-F1 are computed by hand because they are three lines each and scikit-learn would be a
heavy dependency for them alone.
"""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of equal labels; NaN when there are no samples."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.size == 0:
        return float("nan")
    return float(np.mean(y_true == y_pred))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[int, ...] = (0, 1)) -> float:
    """Unweighted mean over ``classes`` of the per-class F1 score (a class absent from both gives F1 = 0,
    the convention of scikit-learn's ``zero_division=0``)."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.size == 0:
        return float("nan")
    scores = []
    for c in classes:
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        denom = 2 * tp + fp + fn
        scores.append(0.0 if denom == 0 else 2 * tp / denom)
    return float(np.mean(scores))


def masked_mse(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared error over the entries where ``mask`` is True (broadcast to ``pred``); NaN if none."""
    mask = np.broadcast_to(mask, pred.shape)
    n = int(mask.sum())
    if n == 0:
        return float("nan")
    d = (pred - target)[mask]
    return float(np.mean(d.astype(np.float64) ** 2))


def binarise(scores: np.ndarray, threshold: float = 5.0) -> np.ndarray:
    """High (1) / low (0) classes from 1-9 rating scores: high when score >= ``threshold``."""
    return (np.asarray(scores) >= threshold).astype(np.int64)
