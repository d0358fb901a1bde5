"""Reconstruction baselines beside MMQ-Net's: spherical splines for EEG, linear interpolation for slow signals."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.inference import analyze_recording
from mmqnet_core.inference.recon_baseline import baseline_reconstruction, reconstruction_errors
from mmqnet_core.masking import MaskSet, SegmentMask
from mmqnet_core.preprocessing import CleaningCache


@pytest.fixture(scope="module")
def simulated(recording, model):
    masks = MaskSet(segments=(SegmentMask(10.0, 25.0, ("C3",), source="simulated"),
                              SegmentMask(5.0, 30.0, ("GSR",), source="simulated"),
                              SegmentMask(12.0, 20.0, ("hEOG",), source="simulated")))
    return analyze_recording(recording, masks, model=model, cache=CleaningCache()).result


def test_baselines_fill_exactly_the_hidden_eeg_and_slow_tokens(simulated, tmp_path):
    r = simulated
    assert r.baseline_recon is not None and r.baseline_recon.shape == r.features.shape
    done = np.isfinite(r.baseline_recon).any(-1)  # (T, N)
    for name in ("C3", "GSR"):
        n = r.token_index(name)
        np.testing.assert_array_equal(done[:, n], r.hidden[:, n])
    assert not done[:, r.token_index("hEOG")].any()  # EOG has no baseline
    assert not (done & ~r.hidden).any()
    # linear interpolation across the gap: between the last visible window before and the first after it
    n, f = r.token_index("GSR"), r.feature_names["GSR"].index("level")
    gap = np.flatnonzero(r.hidden[:, n])
    a, b = gap[0] - 1, gap[-1] + 1
    expected = np.interp(gap, [a, b], [r.features[a, n, f], r.features[b, n, f]])
    np.testing.assert_allclose(r.baseline_recon[gap, n, f], expected, rtol=1e-5)
    with np.load(r.save(tmp_path)["reconstructions"]) as z:
        np.testing.assert_array_equal(z["baseline_recon"], r.baseline_recon)


def test_the_baseline_never_sees_the_hidden_truth(simulated):
    r = simulated
    n = r.token_index("C3")
    values = r.features.copy()
    values[r.hidden[:, n], n] += 1000.0  # the truth kept under the simulated mask
    again = baseline_reconstruction(values, r.hidden, r.token_names, r.token_modalities, r.valid)
    np.testing.assert_allclose(again, r.baseline_recon, equal_nan=True, rtol=1e-5, atol=1e-5)
    assert baseline_reconstruction(values, np.zeros_like(r.hidden), r.token_names, r.token_modalities,
                                   r.valid) is None


def test_errors_compare_model_and_baseline_on_the_same_windows(simulated):
    r = simulated
    err = reconstruction_errors(r, "C3", "psd_alpha")
    n, f = r.token_index("C3"), r.feature_names["EEG"].index("psd_alpha")
    w = r.hidden[:, n] & ~r.data_missing[:, n]
    assert err.n_windows == int(w.sum()) == 15
    assert err.model_rmse == pytest.approx(np.sqrt(np.mean((r.recon[w, n, f] - r.features[w, n, f]) ** 2)), rel=1e-5)
    assert err.baseline_rmse == pytest.approx(
        np.sqrt(np.mean((r.baseline_recon[w, n, f] - r.features[w, n, f]) ** 2)), rel=1e-5)
    assert err.text().startswith("RMSE over 15 masked windows: MMQ-Net ") and "spherical spline" in err.text()
    assert "dB" in err.text()
    eog = reconstruction_errors(r, "hEOG", r.feature_names["EOG"][0])
    assert eog.baseline_rmse is None and "no baseline for this modality" in eog.text()


def test_a_users_mask_has_no_truth_so_no_error_is_shown(recording, model):
    """Under the user's own mask the data are missing (session 13 audit): the reconstruction error is never
    computed against what lies there (nor against the 0 the features hold), beside a simulated gap that is."""
    masks = MaskSet(segments=(SegmentMask(10.0, 25.0, ("C3",)),
                              SegmentMask(10.0, 25.0, ("P3",), source="simulated")))
    r = analyze_recording(recording, masks, model=model, cache=CleaningCache()).result
    c3, p3 = r.token_index("C3"), r.token_index("P3")
    assert r.hidden[10:25, c3].all() and r.data_missing[10:25, c3].all() and (r.features[10:25, c3] == 0).all()
    user = reconstruction_errors(r, "C3", "psd_alpha")
    assert user.n_windows == 0 and user.model_rmse is None and user.n_model_only == 0
    sim = reconstruction_errors(r, "P3", "psd_alpha")
    assert sim.n_windows == 15 and sim.model_rmse is not None
