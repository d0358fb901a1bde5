"""Analysis with a model trained with per-subject normalisation: the recording's own statistics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.inference import analyze_features
from mmqnet_core.inference.engine import run_contexts
from mmqnet_core.masking import MaskSet
from mmqnet_core.model.normalization import Normalizer


def _first(features, n):
    return dataclasses.replace(features, values=features.values[:n], missing=features.missing[:n],
                               window_starts=features.window_starts[:n], interference=features.interference[:n])


def test_subject_model_uses_the_recordings_own_statistics(features, model):
    # training statistics unlike this recording's (the fixture's were fitted on it)
    shifted = Normalizer(model.normalizer.mean + model.normalizer.std, model.normalizer.std * 2)
    model = dataclasses.replace(model, normalizer=shifted)
    subj = dataclasses.replace(model, normalization="subject")
    masks = MaskSet().with_channel("GSR")
    r = analyze_features(features, masks, subj, attention=False)
    assert any("this recording's own statistics over 40 visible windows" in s for s in r.steps)
    g = analyze_features(features, masks, model, attention=False)
    assert any("training subjects' statistics (global" in s for s in g.steps)
    assert not np.allclose(r.probabilities, g.probabilities)
    # the model saw the features z-scored with the recording's statistics (GSR: masked, so the global fallback)
    own = Normalizer.fit(features.values, r.hidden, fallback=model.normalizer, min_count=30)
    gsr = r.token_index("GSR")
    np.testing.assert_array_equal(own.mean[gsr], model.normalizer.mean[gsr])
    assert not np.allclose(own.mean[0], model.normalizer.mean[0])
    x = np.where(features.valid, own.apply(np.where(r.hidden[..., None], 0, features.values), r.hidden), 0)
    out = run_contexts(subj.model, x[None].astype(np.float32), r.hidden[None], return_recon=True)
    np.testing.assert_allclose(r.probabilities, out.probabilities[0], rtol=1e-5, atol=1e-6)
    # reconstructions come back in the features' own units, inverted with the same statistics
    # (hidden tokens only; visible ones are not reconstructed: NaN)
    expected = np.where(r.hidden[..., None], np.where(features.valid, own.invert(out.recon[0]), 0), np.nan)
    np.testing.assert_allclose(r.recon, expected, rtol=1e-4, atol=1e-5)
    assert np.isnan(r.recon[~r.hidden]).all() and np.isfinite(r.recon[r.hidden]).all()


def test_short_recording_falls_back_to_the_training_statistics_and_says_so(features, model):
    short = _first(features, 20)
    r = analyze_features(short, None, dataclasses.replace(model, normalization="subject"), attention=False)
    note = [s for s in r.steps if "training subjects' statistics" in s]
    assert note and "only 20 window(s) are visible, fewer than 30" in note[0]
    g = analyze_features(short, None, model, attention=False)
    np.testing.assert_allclose(r.probabilities, g.probabilities)
    np.testing.assert_allclose(r.recon, g.recon)


def test_caller_given_subject_statistics_replace_the_recordings_own(features, model):
    short = _first(features, 20)  # too short for its own statistics, but the subject's are given
    subject = Normalizer(model.normalizer.mean + model.normalizer.std, model.normalizer.std * 2)
    subj = dataclasses.replace(model, normalization="subject")
    r = analyze_features(short, None, subj, attention=False, subject_statistics=subject)
    assert any("the subject's statistics given by the caller" in s for s in r.steps)
    x = np.where(short.valid, subject.apply(short.values, short.missing), 0).astype(np.float32)
    out = run_contexts(subj.model, x[None], np.asarray(short.missing)[None], return_recon=True)
    np.testing.assert_allclose(r.probabilities, out.probabilities[0], rtol=1e-5, atol=1e-6)
    expected = np.where(np.asarray(short.missing)[..., None], np.where(short.valid, subject.invert(out.recon[0]), 0),
                        np.nan)
    np.testing.assert_allclose(r.recon, expected, rtol=1e-4, atol=1e-5)
    g = analyze_features(short, None, model, attention=False, subject_statistics=subject)  # global model: ignored
    assert not any("given by the caller" in s for s in g.steps)
    with pytest.raises(ConfigError, match=r"'subject_statistics': \(tokens, features\) \(3, 2\), the model expects"):
        analyze_features(short, None, subj, attention=False, subject_statistics=Normalizer.identity(3, 2))
