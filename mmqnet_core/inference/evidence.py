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

**Hidden evidence read-outs.** A model with per-modality evidence read-outs (``modality_evidence``) adds each
group's own linear read-out of its *measured* features to the logits; a hidden group contributes 0, and so does
its restoration, because reconstructions carry too little of what the read-out reads (the EEG read-out reads
left/right pair differences; reconstructions carry no hemispheric asymmetry), so the restoration alone misses
that share of the evidence. What hiding the group changes beyond what the restoration shows is unknown for the
window but has a measured size: ``MMQNetConfig.evidence_spread`` ``s_{g,k}``, fitted after training on the
validation subjects (``training.fit_evidence_spread``) so that the term's variance equals the mean square of the
*measured* change of the logit when group g is hidden there (the restoration's share subtracted; session 6
measured that the read-out's own logit RMS, used before, over-counted EEG on valence and under-counted it on
arousal). Marginalising over it adds its variance, scaled by the share ``h_g`` of group g's tokens hidden over
the window's context (the windows t-k..t+k the read-out averages; its logit is a mean over what is measured
there) and divided by the target's temperature like every logit::

    sigma^2 = (pi / 2) * sum_m d_m^2 + sum_g h_g * (s_{g,k} / temperature_k)^2

(:func:`hidden_readout_variance`; 0 for models without read-outs or with no fitted spread, whose term is
unchanged). The restoration's ``d_m`` still counts what the fused read-out would gain from the hidden tokens.

This is a sensitivity, not a posterior: it says "the missing data would have moved this prediction by about
this much", measured with the model, so a model that ignores a modality gets no extra uncertainty when that
modality is missing.
"""

from __future__ import annotations

import numpy as np


def missing_evidence_sd(restoration: np.ndarray, readout_variance: np.ndarray | None = None) -> np.ndarray:
    """SD (logit units) of the prediction's shift owed to missing evidence.

    Parameters
    ----------
    restoration : ndarray, shape (U, ..., K)
        Per unit, the logit change when its hidden tokens are restored (0 where nothing of it was hidden).
    readout_variance : ndarray, shape (..., K), optional
        Variance (logit units squared) of the hidden groups' evidence read-outs
        (:func:`hidden_readout_variance`); None = 0.

    Returns
    -------
    ndarray, shape (..., K)
        ``sqrt(pi / 2 * sum_u restoration_u^2 + readout_variance)``, float32.
    """
    r = np.asarray(restoration, np.float64)
    var = np.pi / 2 * np.sum(r * r, axis=0)
    if readout_variance is not None:
        var = var + np.asarray(readout_variance, np.float64)
    return np.sqrt(var).astype(np.float32)


def hidden_readout_variance(config: object, hidden: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray | None:
    """Variance (logit units squared) of the evidence read-outs of the modality groups hidden around each window.

    Parameters
    ----------
    config : MMQNetConfig
        The model's configuration (``groups``, ``group_index``, ``context_windows``, ``evidence_spread``,
        ``temperature``).
    hidden : ndarray, shape (..., T, N)
        Tokens hidden from the model (missing or masked), windows in time order along axis -2.
    valid : ndarray, shape (..., T), optional
        Windows that exist (a padded sequence's tail does not count in a context); default all.

    Returns
    -------
    ndarray, shape (..., T, K) or None
        ``sum_g h_g * (s_{g,k} / temperature_k)^2`` with ``h_g`` the share of group g's tokens hidden over windows
        t-k..t+k (k = ``context_windows``); None when the model has no fitted spread (``evidence_spread`` empty).
    """
    spread = np.asarray(getattr(config, "evidence_spread", ()) or (), np.float64)  # (G, K)
    if not getattr(config, "modality_evidence", False) or spread.size == 0:
        return None
    temp = np.asarray(config.temperature or (1.0,) * spread.shape[1], np.float64)  # (K,)
    hidden = np.asarray(hidden, bool)
    t = hidden.shape[-2]
    ok = np.ones(hidden.shape[:-1], bool) if valid is None else np.asarray(valid, bool)  # (..., T)
    group = np.asarray(config.group_index)  # (N,)
    g = spread.shape[0]
    onehot = np.eye(g)[group]  # (N, G)
    # hidden and existing token-windows of each group per window, then summed over the context t-k..t+k
    hid = (hidden & ok[..., None]).astype(np.float64) @ onehot  # (..., T, G)
    tot = ok[..., None].astype(np.float64) * onehot.sum(0)  # (..., T, G)
    win = np.arange(t)
    near = (np.abs(win[:, None] - win[None, :]) <= int(config.context_windows)).astype(np.float64)  # (T, T)
    share = np.einsum("st,...tg->...sg", near, hid) / np.maximum(np.einsum("st,...tg->...sg", near, tot), 1.0)
    return np.einsum("...g,gk->...k", share, (spread / temp) ** 2)


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
