"""Occlusion attribution and the missing-evidence uncertainty in the one analysis use case."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mmqnet_core.errors import Cancelled, ConfigError
from mmqnet_core.inference import analyze_features, analyze_recording, binary_entropy
from mmqnet_core.inference.analyze import read_attribution
from mmqnet_core.inference.evidence import marginal_probability, missing_evidence_sd
from mmqnet_core.masking import MaskSet
from mmqnet_core.preprocessing import CleaningCache


def _tokens_of(model, modality: str) -> np.ndarray:
    return np.array([t.modality.value == modality for t in model.layout])


def test_occlusion_is_the_change_of_the_analysis_with_the_modality_hidden(features, model):
    r = analyze_features(features, None, model, attention=False, attribution=True)
    groups = tuple(dict.fromkeys(model.model.config.token_groups))
    assert r.occlusion_by == "modality" and r.occlusion_units == groups
    assert r.occlusion.shape == (r.n_windows, len(groups), len(r.targets))
    for unit in ("EOG", "GSR"):
        tm = np.broadcast_to(_tokens_of(model, unit), r.hidden.shape)
        hidden = analyze_features(features, None, model, attention=False, token_mask=tm)
        u = r.occlusion_units.index(unit)
        seen = ~r.hidden[:, _tokens_of(model, unit)].all(1)  # windows where the unit had a visible token
        np.testing.assert_allclose(r.occlusion[seen, u], (hidden.probabilities - r.probabilities)[seen], atol=1e-5)
        assert (r.occlusion[~seen, u] == 0).all()
    assert np.abs(r.occlusion).max() > 1e-4  # an untrained model still moves
    # nothing hidden by the user and no absent channel in these windows: the uncertainty is the plain entropy
    none_hidden = ~r.hidden.any(1)
    assert none_hidden.any()
    np.testing.assert_allclose(r.missing_evidence[none_hidden], 0.0)
    np.testing.assert_allclose(r.uncertainty[none_hidden], binary_entropy(r.probabilities)[none_hidden], atol=1e-6)


def test_by_token_and_bad_values(features, model):
    r = analyze_features(features, None, model, attention=False, attribution="token")
    assert r.occlusion_units == tuple(r.token_names) and r.occlusion.shape[1] == len(r.token_names)
    with pytest.raises(ConfigError, match="Invalid value for 'attribution': allowed modality, token .*got 'channel'"):
        analyze_features(features, None, model, attribution="channel")
    off = analyze_features(features, None, model, attention=False)
    assert off.occlusion is None and off.missing_evidence is None and off.summary()["attribution"] is None


def test_hidden_evidence_raises_the_uncertainty_and_is_saved(features, model, tmp_path):
    eog = np.zeros(features.values.shape[:2], bool)
    eog[:, _tokens_of(model, "EOG")] = True
    eog[:10] = False  # the first 10 windows complete, the rest without EOG
    r = analyze_features(features, None, model, attention=False, token_mask=eog, attribution=True)
    u = r.occlusion_units.index("EOG")
    assert (r.occlusion[10:, u] == 0).all()  # nothing left to hide there
    assert (r.missing_evidence[10:] > 0).all()
    plain = binary_entropy(r.probabilities)
    assert (r.uncertainty[10:] >= plain[10:] - 1e-6).all() and (r.uncertainty[10:] > plain[10:]).any()
    paths = r.save(tmp_path)
    back = read_attribution(tmp_path)
    assert paths["attribution"].name == "attribution.npz"
    np.testing.assert_array_equal(back["occlusion"], r.occlusion)
    np.testing.assert_array_equal(back["missing_evidence"], r.missing_evidence)
    assert back["units"] == r.occlusion_units and back["by"] == "modality" and back["targets"] == r.targets
    traj = r.trajectories()
    np.testing.assert_allclose(traj[f"{r.targets[0]}_missing_evidence"], r.missing_evidence[:, 0])
    s = r.summary()
    assert "missing evidence" in s["uncertainty"] and s["attribution"]["units"] == list(r.occlusion_units)
    assert read_attribution(tmp_path / "nothing") is None


def test_the_use_case_computes_it_and_cancel_stays_responsive(recording, model):
    run = analyze_recording(recording, MaskSet().with_channel("GSR"), model=model, cache=CleaningCache(),
                            attribution=True)
    assert run.result.occlusion is not None and (run.result.missing_evidence > 0).all()
    cancel = threading.Event()
    after: list[float] = []

    def progress(fraction: float, _message: str = "") -> None:
        if cancel.is_set():
            after.append(fraction)
        elif fraction > 0.9:  # inside the occlusion passes (the analysis' last 40 % of the model stage)
            cancel.set()

    with pytest.raises(Cancelled):
        analyze_recording(recording, None, model=model, cache=CleaningCache(), attribution="token",
                          progress=progress, cancel=cancel)
    assert len(after) <= 1  # stopped at the next check, not after the remaining passes


def test_evidence_formulas():
    p = np.array([0.1, 0.5, 0.9, 0.99], np.float32)
    np.testing.assert_allclose(marginal_probability(p, np.zeros(4)), p, rtol=1e-5)
    q = marginal_probability(p, np.full(4, 2.0))
    assert (np.abs(q - 0.5) <= np.abs(p - 0.5) + 1e-7).all() and q[1] == pytest.approx(0.5)
    assert (np.abs(marginal_probability(p, np.full(4, 4.0)) - 0.5) < np.abs(q - 0.5) + 1e-7).all()
    r = np.array([[[1.0]], [[2.0]]])  # two units, one window, one target
    np.testing.assert_allclose(missing_evidence_sd(r), np.sqrt(np.pi / 2 * 5.0), rtol=1e-6)


def test_with_monte_carlo_the_occlusion_is_that_of_the_deterministic_pass(features):
    from .conftest import make_model

    mc_model = make_model(features, drop_path=0.2, dropout=0.0)
    det = analyze_features(features, None, mc_model, attention=False, attribution=True)
    mc = analyze_features(features, None, mc_model, attention=False, attribution=True, mc_samples=3)
    np.testing.assert_allclose(mc.occlusion, det.occlusion, atol=1e-5)  # against its own deterministic base
    assert mc.probability_std is not None and not np.allclose(mc.probabilities, det.probabilities)
    assert "Monte-Carlo" in mc.uncertainty_method and "missing evidence" in mc.uncertainty_method
