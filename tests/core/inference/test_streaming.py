"""The bounded-memory analysis gives the whole-recording path's results (cleaning in pieces, features in blocks)."""

from __future__ import annotations

import importlib
import threading

import numpy as np
import pytest

from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial
from mmqnet_core.errors import Cancelled
from mmqnet_core.inference import analyze
from mmqnet_core.inference.streaming import analyze_streaming
from mmqnet_core.masking import MaskSet, SegmentMask

MASKS = MaskSet(segments=(SegmentMask(50.0, 75.0, ("Fp1",)), SegmentMask(100.0, 190.0, ("GSR",)))).with_channel("O1")


@pytest.fixture(scope="module")
def long_recording():
    """About 4 minutes of SYNTHETIC DEAP-layout signals at 128 Hz."""
    return generate_trial(SynthConfig(trial_s=237.0), 0, 1).to_recording()


def _same(a, b, tokens=None):
    assert a.features.shape == b.features.shape
    np.testing.assert_allclose(a.window_starts, b.window_starts)
    np.testing.assert_array_equal(a.hidden, b.hidden)
    np.testing.assert_array_equal(a.data_missing, b.data_missing)
    sel = slice(None) if tokens is None else tokens
    vis = (~a.hidden[..., None] & a.valid[None])[:, sel]
    np.testing.assert_allclose(a.features[:, sel][vis], b.features[:, sel][vis], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("masks", [None, MASKS], ids=["no masks", "masks"])
def test_streaming_equals_the_whole_path(long_recording, model, masks):
    whole = analyze(long_recording, masks, model, streaming=False)
    stream = analyze_streaming(long_recording, masks, model, chunk_s=60.0)  # 4 pieces, one feature block
    assert any("in 4 piece(s) (bounded memory)" in s for s in stream.steps)
    _same(whole, stream)
    np.testing.assert_allclose(whole.probabilities, stream.probabilities, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(whole.interference_detected, stream.interference_detected, atol=1e-6)
    assert [(round(s.onset, 6), s.description, s.ch_names) for s in whole.interference_spans] == \
        [(round(s.onset, 6), s.description, s.ch_names) for s in stream.interference_spans]


def test_feature_blocks_keep_the_window_grid_and_the_eeg_features(long_recording, model):
    whole = analyze(long_recording, MASKS, model, streaming=False)
    stream = analyze_streaming(long_recording, MASKS, model, chunk_s=60.0, feature_block_s=70.0)  # 4 blocks
    eeg = [i for i, m in enumerate(whole.token_modalities) if m == "EEG"]
    _same(whole, stream, tokens=eeg)  # window-local features: equal; peripheral thresholds are per block
    np.testing.assert_allclose(whole.interference_detected, stream.interference_detected, atol=1e-6)


def test_analyze_streams_long_spans_by_itself(long_recording, model, monkeypatch):
    monkeypatch.setattr(importlib.import_module("mmqnet_core.inference.streaming"), "STREAM_ABOVE_BYTES", 0)
    r = analyze(long_recording, None, model)
    assert any("(bounded memory)" in s for s in r.steps)
    assert not any("(bounded memory)" in s for s in analyze(long_recording, None, model, streaming=False).steps)


def test_streamed_analysis_keeps_the_occlusion_maps(long_recording, model, monkeypatch):
    """A long recording (streamed) gets the same attribution as a short one: the option is not dropped."""
    monkeypatch.setattr(importlib.import_module("mmqnet_core.inference.streaming"), "STREAM_ABOVE_BYTES", 0)
    streamed = analyze(long_recording, MASKS, model, attribution=True)
    whole = analyze(long_recording, MASKS, model, attribution=True, streaming=False)
    assert any("(bounded memory)" in s for s in streamed.steps)
    assert streamed.occlusion is not None and streamed.occlusion.shape == whole.occlusion.shape
    np.testing.assert_allclose(streamed.occlusion, whole.occlusion, atol=1e-4)


def test_cancel_during_the_pieces(long_recording, model):
    cancel = threading.Event()
    seen = []

    def progress(fraction, message=""):
        seen.append(message)
        if message.startswith("cleaning piece 2/"):
            cancel.set()

    with pytest.raises(Cancelled):
        analyze_streaming(long_recording, None, model, chunk_s=60.0, progress=progress, cancel=cancel)
    assert not any(m.startswith("cleaning piece 3/") for m in seen)


def test_blockwise_normaliser_fit_equals_normalizer_fit():
    from mmqnet_core.inference.analyze import _fit_normalizer
    from mmqnet_core.model.normalization import Normalizer

    rng = np.random.default_rng(0)
    values = (rng.standard_normal((10_000, 5, 3)) * [1.0, 10.0, 1e-9] + 3.0).astype(np.float32)  # (T, N, F)
    values[rng.random(values.shape) < 0.05] = np.nan
    hidden = rng.random((10_000, 5)) < 0.1
    hidden[:9_990, 4] = True  # token 4: too few windows -> the fallback's statistics
    fallback = Normalizer(np.full((5, 3), 7.0, np.float32), np.full((5, 3), 2.0, np.float32))
    want = Normalizer.fit(values, hidden, fallback=fallback, min_count=30)
    got = _fit_normalizer(values, hidden, fallback, 30)
    np.testing.assert_allclose(got.mean, want.mean, rtol=1e-6)
    np.testing.assert_allclose(got.std, want.std, rtol=1e-6)
    assert got.mean[4, 0] == 7.0 and got.std[0, 2] == 1.0  # fallback, and SD below 1e-6 -> 1
