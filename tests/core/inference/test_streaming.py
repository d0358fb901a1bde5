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


def test_blockwise_normaliser_fit_over_the_values_the_model_sees():
    """``use`` gives the statistics of the values set to NaN outside it, without that copy (long recordings)."""
    from mmqnet_core.inference.analyze import _fit_normalizer
    from mmqnet_core.model.normalization import Normalizer

    rng = np.random.default_rng(1)
    values = (rng.standard_normal((9_000, 4, 3)) * [1.0, 5.0, 0.1] - 2.0).astype(np.float32)
    use = rng.random(values.shape) > 0.2
    hidden = rng.random((9_000, 4)) < 0.1
    fallback = Normalizer(np.zeros((4, 3), np.float32), np.ones((4, 3), np.float32))
    want = Normalizer.fit(np.where(use, values, np.nan), hidden, fallback=fallback, min_count=30)
    for n in (9_000, 4_000):  # blockwise and whole
        got = _fit_normalizer(values[:n], hidden[:n], fallback, 30, use=use[:n])
        ref = want if n == 9_000 else Normalizer.fit(np.where(use[:n], values[:n], np.nan), hidden[:n],
                                                      fallback=fallback, min_count=30)
        np.testing.assert_allclose(got.mean, ref.mean, rtol=1e-6)
        np.testing.assert_allclose(got.std, ref.std, rtol=1e-6)


def test_the_model_input_computed_per_batch_equals_the_whole_array():
    from mmqnet_core.inference.analyze import _NormalisedInput
    from mmqnet_core.model.normalization import Normalizer

    rng = np.random.default_rng(2)
    values = rng.standard_normal((500, 5, 3)).astype(np.float32)
    use = rng.random(values.shape) > 0.3
    hidden = rng.random((500, 5)) < 0.2
    use &= ~hidden[..., None]
    norm = Normalizer(rng.standard_normal((5, 3)).astype(np.float32), (1 + rng.random((5, 3))).astype(np.float32))
    whole = np.where(use, norm.apply(np.where(hidden[..., None], 0, np.where(use, values, np.nan)), hidden), 0)
    x = _NormalisedInput(values, use, hidden, norm)
    np.testing.assert_array_equal(x.block(slice(0, 500)), whole)
    np.testing.assert_array_equal(x.block(slice(100, 230)), whole[100:230])
    w = np.array([[3, 4, 5], [497, 498, 499]])
    np.testing.assert_array_equal(x[None][np.zeros((2, 1), int), w], whole[w])


def test_analyze_features_leaves_a_callers_features_alone(long_recording, model):
    from mmqnet_core.features import extract_features
    from mmqnet_core.inference import analyze_features
    from mmqnet_core.preprocessing import preprocess

    pre = preprocess(long_recording, model.preprocess_config, masks=MASKS)
    fs = extract_features(pre.cleaned, model.feature_config, layout=model.layout, interference=pre.interference)
    values, fvalid = fs.values.copy(), fs.feature_valid.copy()
    r = analyze_features(fs, MASKS, model)
    np.testing.assert_array_equal(fs.values, values)  # not written over (only with reuse_features=True)
    np.testing.assert_array_equal(fs.feature_valid, fvalid)
    assert r.features is not fs.values
    handed = analyze_features(fs, MASKS, model, reuse_features=True)
    assert handed.features is fs.values  # handed over: the result's features live in the caller's array
    np.testing.assert_array_equal(handed.features, r.features)
    np.testing.assert_array_equal(handed.feature_valid, r.feature_valid)
    np.testing.assert_array_equal(handed.probabilities, r.probabilities)


def test_long_analyses_keep_their_per_window_arrays_in_a_temp_file(long_recording, model, monkeypatch, tmp_path):
    """Above the spill size the (T, N, F) arrays live in a deleted temp file mapped into memory: same values,
    saved the same, and no file left behind."""
    from mmqnet_core.inference import spill

    plain = analyze_streaming(long_recording, MASKS, model, chunk_s=60.0)
    assert not spill.is_spilled(plain.features) and not spill.is_spilled(plain.recon)
    monkeypatch.setattr(spill, "SPILL_ABOVE_BYTES", 0)
    spilled = analyze_streaming(long_recording, MASKS, model, chunk_s=60.0)
    assert spill.is_spilled(spilled.features) and spill.is_spilled(spilled.recon)
    assert spill.is_spilled(spilled.feature_valid)
    for name in ("features", "feature_valid", "recon", "probabilities", "interference_detected", "hidden"):
        np.testing.assert_array_equal(getattr(spilled, name), getattr(plain, name), err_msg=name)
    spill.trim()  # pages dropped from memory: the data stay
    np.testing.assert_array_equal(spilled.features, plain.features)
    spilled.save(tmp_path / "s")
    plain.save(tmp_path / "p")
    with np.load(tmp_path / "s" / "reconstructions.npz") as a, np.load(tmp_path / "p" / "reconstructions.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    big = spill.zeros((1000, 3), np.float64)
    assert spill.is_spilled(big) and not big.any()
    assert spill.full((10, 2), 7, np.uint8).sum() == 140


def test_the_baselines_in_blocks_equal_one_call(monkeypatch):
    """Long recordings: slow tokens in one call, EEG splines in blocks of windows -- the same values."""
    from mmqnet_core.inference.recon_baseline import baseline_reconstruction

    analyze_mod = importlib.import_module("mmqnet_core.inference.analyze")

    names = ["Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "GSR", "Resp", "EMG1"]
    mods = ["EEG"] * 7 + ["GSR", "RESP", "EMG"]
    rng = np.random.default_rng(3)
    n_t = 3000
    values = rng.standard_normal((n_t, len(names), 4)).astype(np.float32)
    hidden = np.zeros((n_t, len(names)), bool)
    hidden[100:900, 0] = True  # Fp1 masked across a block edge
    hidden[1500:1800, 2] = True
    hidden[1600:1700, 5] = True  # a second pattern overlapping
    hidden[400:2600, 7] = True  # GSR gap across blocks
    hidden[2990:, 8] = True  # Resp to the end
    hidden[:, 9] = rng.random(n_t) < 0.1  # EMG: no baseline
    valid = np.ones((len(names), 4), bool)
    valid[7:, 3] = False
    want = baseline_reconstruction(values, hidden, names, mods, valid)
    monkeypatch.setattr(analyze_mod, "BASELINE_BLOCK", 700)  # 5 blocks
    got = analyze_mod._baseline_in_blocks(values, hidden, names, mods, valid)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert analyze_mod._baseline_in_blocks(values, np.zeros_like(hidden), names, mods, valid) is None


def test_a_cancel_during_a_slow_step_returns_at_once():
    """run_cancellable: the caller gets Cancelled within a fraction of a second although the step itself only
    checks its token every 2 s; the step gets the same token and stops at its own next check."""
    import time

    from mmqnet_core.inference.streaming import run_cancellable

    cancel = threading.Event()
    stopped = threading.Event()

    def slow_step(x, *, cancel=None):
        for _ in range(10):
            time.sleep(2.0)
            if cancel is not None and cancel.is_set():
                stopped.set()
                raise Cancelled("stop")
        return x

    assert run_cancellable(lambda x, cancel=None: x + 1, 1, cancel=cancel) == 2
    threading.Timer(0.3, cancel.set).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        run_cancellable(slow_step, 1, cancel=cancel)
    assert time.perf_counter() - t0 < 1.0
    assert stopped.wait(5.0)  # the helper thread saw the token too


def test_one_block_s_pieces_go_straight_into_its_signal():
    """A span that is one feature block: each piece is copied into the block's array on arrival and the block's
    signal is that array (a view, no join); the values are the join of the pieces. Pieces that leave a gap or
    are taken across only part of the span are joined as before."""
    from mmqnet_core.inference.streaming import _Buffer

    rng = np.random.default_rng(0)
    pieces = [(0, rng.normal(size=(3, 7)).astype(np.float32)), (7, rng.normal(size=(3, 5)).astype(np.float32)),
              (12, rng.normal(size=(3, 4)).astype(np.float32))]
    joined = np.concatenate([d for _, d in pieces], axis=1)
    whole, plain = _Buffer(16), _Buffer()
    for s, d in pieces:
        whole.add(s, d.copy())
        plain.add(s, d.copy())
    got = whole.take(0, 16)
    assert np.shares_memory(got, whole.whole) and got.base is not None  # no new array
    np.testing.assert_array_equal(got, joined)
    np.testing.assert_array_equal(plain.take(0, 16), joined)
    np.testing.assert_array_equal(whole.take(3, 14), joined[:, 3:14])
    whole.drop_before(7)  # the first piece is gone: [3, 14) is no longer held contiguously from its start
    assert whole.parts[0][0] == 7
    np.testing.assert_array_equal(whole.take(7, 16), joined[:, 7:])
    gap = _Buffer(16)
    gap.add(0, pieces[0][1])
    gap.add(12, pieces[2][1])  # [7, 12) never came: not taken from the (uninitialised) array
    np.testing.assert_array_equal(gap.take(12, 16), pieces[2][1])
    assert not np.shares_memory(gap.take(0, 16), gap.whole)


def test_the_one_block_array_changes_no_value(long_recording, model, monkeypatch):
    from mmqnet_core.inference import streaming

    got = analyze_streaming(long_recording, MASKS, model, chunk_s=60.0)  # 4 pieces into one block's array
    plain = streaming._Buffer
    monkeypatch.setattr(streaming, "_Buffer", lambda total=None: plain())  # joined after the last piece
    want = analyze_streaming(long_recording, MASKS, model, chunk_s=60.0)
    np.testing.assert_array_equal(got.features, want.features)
    np.testing.assert_array_equal(got.probabilities, want.probabilities)
    np.testing.assert_array_equal(got.interference_detected, want.interference_detected)
