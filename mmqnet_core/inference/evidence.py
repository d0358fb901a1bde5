"""Uncertainty that reflects missing evidence.

The binary entropy of a prediction is a function of its probability alone, so a model that becomes *more*
confident when a modality is missing (the shipped checkpoint does, with EEG: it reads the absence itself as
evidence, and its calibration error triples there) shows a window with missing data as more certain than a
complete one. The term here adds what the entropy cannot know: how far the prediction could move if the missing
evidence were there.

For every window and every unit (modality) hidden in it, :func:`~mmqnet_core.model.attribution.analysis_attribution`
*restores* the unit -- shows its hidden tokens with the model's own reconstruction (the most likely value given
what is visible) -- and measures the change ``d_m`` of the logit. The value of the missing data is unknown, so
the shift it would cause is treated as a zero-mean normal variable whose mean absolute size is ``d_m``
(SD ``d_m * sqrt(pi / 2)``), independent across units::

    sigma^2 = (pi / 2) * sum_m d_m^2                     (logit units; 0 when nothing is hidden)

and the prediction is marginalised over it with the probit approximation of the logistic-normal integral
(MacKay 1992; Bishop, *PRML* eq. 4.153)::

    p_bar = sigmoid(logit(p) / sqrt(1 + pi * sigma^2 / 8))

The uncertainty is the binary entropy of ``p_bar`` (bits): the same scale as before, equal to it for windows
where nothing is hidden, and higher the more the hidden evidence matters to this model in this window. The
probability shown stays ``p`` (the model's own output); ``sigma`` is kept as ``AnalysisResult.missing_evidence``.

This is a sensitivity, not a posterior: it says "the missing data would have moved this prediction by about
this much", measured with the model, so a model that ignores a modality gets no extra uncertainty when that
modality is missing.
"""

from __future__ import annotations

import numpy as np


def missing_evidence_sd(restoration: np.ndarray) -> np.ndarray:
    """SD (logit units) of the prediction's shift owed to missing evidence.

    Parameters
    ----------
    restoration : ndarray, shape (U, ..., K)
        Per unit, the logit change when its hidden tokens are restored (0 where nothing of it was hidden).

    Returns
    -------
    ndarray, shape (..., K)
        ``sqrt(pi / 2 * sum_u restoration_u^2)``, float32.
    """
    r = np.asarray(restoration, np.float64)
    return np.sqrt(np.pi / 2 * np.sum(r * r, axis=0)).astype(np.float32)


def marginal_probability(p: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """P(high) marginalised over a zero-mean normal logit shift of SD ``sd`` (probit approximation).

    Parameters
    ----------
    p : ndarray
        Probability of the high class.
    sd : ndarray
        SD of the logit shift (same shape as ``p``), >= 0.

    Returns
    -------
    ndarray
        ``sigmoid(logit(p) / sqrt(1 + pi * sd^2 / 8))``: pulled towards 0.5, equal to ``p`` where ``sd`` is 0.
    """
    q = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    z = (np.log(q) - np.log1p(-q)) / np.sqrt(1.0 + np.pi * np.asarray(sd, np.float64) ** 2 / 8.0)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
