"""analyze_recording (the one use case of the CLI and the app) and masks as missing data through analyze()."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.features import extract_features
from mmqnet_core.inference import RecordingAnalysis, analyze, analyze_recording
from mmqnet_core.masking import MaskSet, SegmentMask
from mmqnet_core.preprocessing import CleaningCache, preprocess

UV = 1e-6


def _noisy(recording, channel: str, span: tuple[float, float] | None = None):
    """A copy of ``recording`` with 200 uV of white noise (and a 50 Hz hum) added to ``channel``."""
    raw = recording.raw.copy()
    sf = recording.sfreq
    a, b = (0, raw.n_times) if span is None else (int(span[0] * sf), int(span[1] * sf))
    rng = np.random.default_rng(7)
    i = recording.index(channel)
    raw._data[i, a:b] += 200 * UV * (rng.standard_normal(b - a) + np.sin(2 * np.pi * 50 * np.arange(b - a) / sf))
    return dataclasses.replace(recording, raw=raw)


def _visible_same(r1, r2) -> None:
    np.testing.assert_array_equal(r1.hidden, r2.hidden)
    vis = ~r1.hidden[..., None] & r1.valid[None]
    np.testing.assert_allclose(r1.features[vis], r2.features[vis], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r1.probabilities, r2.probabilities, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("masks", [MaskSet().with_channel("F3"),
                                   MaskSet().with_segment(SegmentMask(10.0, 22.0, ("F3",)))],
                         ids=["channel", "segment"])
def test_noise_under_a_mask_changes_no_visible_feature_or_prediction(recording, model, masks):
    span = None if masks.channels else (10.0, 22.0)
    noisy = _noisy(recording, "F3", span)
    _visible_same(analyze(recording, masks, model), analyze(noisy, masks, model))
    # the use case (CLI and app) is the same path
    _visible_same(analyze_recording(recording, masks, model=model, cache=CleaningCache()).result,
                  analyze_recording(noisy, masks, model=model, cache=CleaningCache()).result)
    # control: with the mask applied to the features only (the old way), the noise reached the other channels
    fz = [t.name for t in model.layout].index("Fz")
    pre_a, pre_b = preprocess(recording, model.preprocess_config), preprocess(noisy, model.preprocess_config)
    fa = extract_features(pre_a.cleaned, model.feature_config, layout=model.layout)
    fb = extract_features(pre_b.cleaned, model.feature_config, layout=model.layout)
    assert np.abs(fa.values[:, fz] - fb.values[:, fz]).max() > 0.05


def test_the_display_cleaning_is_reused(recording, model):
    cache = CleaningCache()
    masks = MaskSet().with_channel("Fp1")
    display = cache.get_or_clean(recording, model.preprocess_config, masks=masks)  # what the app shows
    run = analyze_recording(recording, masks, model=model, cache=cache)
    assert isinstance(run, RecordingAnalysis) and run.cleaning_reused and cache.misses == 1
    assert run.result.steps[-1].startswith("cleaning reused from the cache")
    assert display.steps[0] in run.result.steps
    again = analyze_recording(recording, masks.with_channel("Fp2"), model=model, cache=cache)
    assert not again.cleaning_reused and cache.misses == 2


def test_simulated_masks_keep_the_truth_user_masks_do_not(recording, model):
    sim = SegmentMask(10.0, 20.0, ("GSR",), "simulated")
    user = SegmentMask(25.0, 30.0, ("GSR",), "user")
    masks = MaskSet(segments=(sim, user))
    cache = CleaningCache()
    run = analyze_recording(recording, masks, model=model, cache=cache)
    r = run.result
    gsr = r.token_index("GSR")
    starts = r.window_starts
    in_sim = (starts >= 10.0) & (starts + r.window_s <= 20.0)
    in_user = (starts >= 25.0) & (starts + r.window_s <= 30.0)
    assert r.hidden[in_sim, gsr].all() and r.hidden[in_user, gsr].all()  # the model saw neither
    assert not r.data_missing[in_sim, gsr].any() and r.data_missing[in_user, gsr].all()
    truth = cache.lookup(recording, model.preprocess_config, MaskSet(segments=(user,)))  # the display cleaning
    fs = extract_features(truth.cleaned, model.feature_config, layout=model.layout)
    cols = r.valid[gsr]
    np.testing.assert_allclose(r.features[in_sim, gsr][:, cols], fs.values[in_sim, gsr][:, cols], rtol=1e-5)
    assert any(s.startswith("simulated missing data: the model saw") for s in r.steps)


def test_options_and_saving(recording, model, tmp_path):
    with pytest.raises(ConfigError, match="subject files and own statistics contradict each other"):
        analyze_recording(recording, None, model=model, subject_files=["x.bdf"], own_statistics=True)
    run = analyze_recording(recording, None, model=model, cache=CleaningCache(), output=tmp_path / "out")
    assert {p.name for p in run.paths.values()} >= {"summary.json", "trajectories.csv"}
    assert all(p.is_file() for p in run.paths.values()) and run.model is model and run.subject is None
