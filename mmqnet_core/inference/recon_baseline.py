"""The reconstruction baselines a reviewer expects, beside MMQ-Net's reconstruction of hidden tokens.

* a hidden **EEG** token: spherical-spline interpolation (MNE's ``interpolate_bads``) from the EEG tokens visible
  in the same window (:func:`mmqnet_core.evaluation.baselines.spherical_spline`, applied to each feature column:
  the interpolation is linear in the data, so it acts as a spatial smoother of band features);
* a hidden **slow signal** (GSR, respiration, temperature): linear interpolation across the gap between the
  token's visible windows (:func:`mmqnet_core.evaluation.baselines.interpolate_time`), waveform columns included.

Both use only what the model saw (visible tokens), in the features' own units, so their error and the model's
can be compared on the same windows (:func:`reconstruction_errors`) -- where an original exists, i.e. under
simulated missingness (the user's own masks hide data that are not there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

#: Modalities reconstructed by linear interpolation across the gap.
SLOW_MODALITIES = ("GSR", "RESP", "TEMP")
#: Name of the baseline of each modality, for views and reports.
BASELINE_NAMES = {"EEG": "spherical spline (MNE interpolate_bads)",
                  **{m: "linear interpolation across the gap" for m in SLOW_MODALITIES}}
#: Most distinct hidden-channel patterns interpolated with splines (one MNE call each).
MAX_SPLINE_PATTERNS = 200


def baseline_reconstruction(values: np.ndarray, hidden: np.ndarray, token_names: Sequence[str],
                            token_modalities: Sequence[str], valid: np.ndarray) -> np.ndarray | None:
    """Baseline reconstruction of every hidden EEG and slow-signal token.

    Parameters
    ----------
    values : ndarray, shape (T, N, F)
        Features in their own units (values of hidden tokens are ignored).
    hidden : ndarray, shape (T, N)
        True where the model did not see the token.
    token_names, token_modalities : sequence of str
        (N,) names (EEG names must be 10-20 positions for the spline) and modality names.
    valid : ndarray, shape (N, F)
        Defined feature columns.

    Returns
    -------
    ndarray, shape (T, N, F), or None
        The baseline on hidden token-windows it could do (NaN elsewhere and in undefined columns); None when
        no EEG or slow-signal token is hidden.
    """
    from ..evaluation.baselines import interpolate_time, spherical_spline, standard_montage

    hidden = np.asarray(hidden, bool)
    mods = np.asarray(token_modalities)
    eeg = mods == "EEG"
    slow = np.isin(mods, SLOW_MODALITIES)
    if not (hidden & (eeg | slow)[None]).any():
        return None
    x = np.where(hidden[..., None], 0.0, np.nan_to_num(np.asarray(values, np.float32))).astype(np.float32)
    out = np.full(x.shape, np.nan, np.float32)
    if (hidden & slow[None]).any():
        cols = np.flatnonzero(slow)
        vis = ~hidden[:, cols]
        interp = interpolate_time(x[:, cols], hidden[:, cols])
        has = vis.any(0)  # a token never visible has nothing to interpolate from
        done = hidden[:, cols] & has[None]
        out[:, cols] = np.where(done[..., None], interp, np.nan)
    names = [str(n) for n in np.asarray(token_names)[eeg]]
    if (hidden & eeg[None]).any() and len(names) >= 5 and set(names) <= set(standard_montage().ch_names):
        cols = np.flatnonzero(eeg)
        recon, done = spherical_spline(x[:, cols], hidden[:, cols], names, max_patterns=MAX_SPLINE_PATTERNS)
        ok = hidden[:, cols] & done[:, None]
        out[:, cols] = np.where(ok[..., None], recon, np.nan)
    return np.where(np.asarray(valid, bool)[None], out, np.nan).astype(np.float32)


@dataclass(frozen=True)
class ReconstructionErrors:
    """RMSE of MMQ-Net's reconstruction and of the baseline for one token and feature, on the same windows."""

    token: str
    feature: str
    unit: str  # the feature's unit ("" when it has none)
    baseline: str  # the baseline's name ("" when the modality has none)
    n_windows: int  # hidden windows with an original, a reconstruction and a baseline (the windows compared)
    model_rmse: float | None  # None when nothing can be compared
    baseline_rmse: float | None
    n_model_only: int = 0  # hidden windows with an original where only the model has a value

    def text(self) -> str:
        """One line for a view: "RMSE over 12 masked windows: MMQ-Net 1.2 dB, spherical spline ... 0.9 dB"."""
        unit = f" {self.unit}" if self.unit else ""
        if self.model_rmse is None:
            return ""
        if self.baseline_rmse is None:
            why = f"no {self.baseline}" if self.baseline else "no baseline for this modality"
            return f"RMSE over {self.n_model_only} masked windows: MMQ-Net {self.model_rmse:.3g}{unit} ({why})"
        return (f"RMSE over {self.n_windows} masked windows: MMQ-Net {self.model_rmse:.3g}{unit}, "
                f"{self.baseline} {self.baseline_rmse:.3g}{unit}")


def reconstruction_errors(result: Any, token: str, feature: str) -> ReconstructionErrors:
    """Compare MMQ-Net's reconstruction of ``feature`` of ``token`` with the baseline's, against the original.

    Windows compared: hidden for the model, with an original (not missing data), reconstructed by the model and
    by the baseline (both RMSE on the same windows). When the modality has no baseline (or it could do no
    window) the model's RMSE is over every hidden window with an original.

    Parameters
    ----------
    result : AnalysisResult
        With ``recon`` and ``baseline_recon``.
    token, feature : str
        Token name and feature column name.
    """
    n = result.token_index(token)
    mod = result.token_modalities[n]
    names = result.feature_names[mod]
    f = names.index(feature)
    units = result.feature_units[mod]
    unit = units[f] if f < len(units) else ""
    baseline_name = BASELINE_NAMES.get(mod, "")
    scored = np.asarray(result.hidden[:, n], bool) & ~np.asarray(result.data_missing[:, n], bool)
    original = np.asarray(result.features[:, n, f], np.float64)
    model = (np.full(len(original), np.nan) if result.recon is None
             else np.asarray(result.recon[:, n, f], np.float64))
    base = (np.full(len(original), np.nan) if result.baseline_recon is None
            else np.asarray(result.baseline_recon[:, n, f], np.float64))
    have_model = scored & np.isfinite(model)
    both = have_model & np.isfinite(base)

    def rmse(a: np.ndarray, where: np.ndarray) -> float | None:
        return float(np.sqrt(np.mean((a[where] - original[where]) ** 2))) if where.any() else None

    if both.any():
        return ReconstructionErrors(token, feature, unit, baseline_name, int(both.sum()), rmse(model, both),
                                    rmse(base, both), int(have_model.sum()))
    return ReconstructionErrors(token, feature, unit, baseline_name, 0, rmse(model, have_model), None,
                                int(have_model.sum()))
