"""Cleaning in pieces (bounded memory) equals the whole-span cleaning: same fit, same samples, same spans."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mmqnet_core.errors import Cancelled, ConfigError
from mmqnet_core.masking import MaskSet, SegmentMask
from mmqnet_core.preprocessing import PreprocessConfig, preprocess
from mmqnet_core.preprocessing import on_demand, streaming
from mmqnet_core.preprocessing.streaming import SpanCollector, clean_window, fit_cleaning, iter_clean

from ._helpers import UV, blinks, full_recording, make_recording

SFREQ = 512.0
DURATION = 300.0
CHUNK = 60.0


def _recording(seed: int = 3):
    """Five minutes with line noise, blinks leaking into the EEG, a flat GSR span, a PPG jump, a muscle burst and
    NaN in the respiration -- each placed across a piece boundary (every 60 s)."""
    rng = np.random.default_rng(seed)
    rec = full_recording(rng, SFREQ, DURATION, line_freq=50.0)
    data = rec.raw.get_data()
    n = data.shape[1]
    t = np.arange(n) / SFREQ
    blink = blinks(rng, n, SFREQ)
    data[8] += blink
    data[:8] += 0.3 * blink  # propagation to the EEG: the regression has something to remove
    data[11, (t >= 55) & (t < 70)] = 5.0  # flat GSR across the 60-s boundary
    data[13, t >= 119.9] += 8.0  # a PPG step near the 120-s boundary
    burst = (t >= 178) & (t < 183)
    data[:8, burst] += 60 * UV * rng.standard_normal((8, int(burst.sum())))  # muscle across 180 s
    data[12, (t >= 238) & (t < 243)] = np.nan  # NaN respiration across 240 s
    return make_recording(data, SFREQ, rec.ch_names, [c.modality for c in rec.channels],
                          units=[c.unit for c in rec.channels])


MASKS = MaskSet(segments=(SegmentMask(50.0, 75.0, ("Fp2",)), SegmentMask(70.0, 205.0, ("F3",)))).with_channel("O1")


def _pieces(rec, config, masks, chunk_s=CHUNK):
    fit = fit_cleaning(rec, config, masks=masks)
    spans = SpanCollector(fit, rec)
    pieces = list(iter_clean(rec, fit, chunk_s=chunk_s, collector=spans, with_raw=True))
    return fit, pieces, spans


def _assert_same(whole, pieces, spans):
    assert len(pieces) > 3
    cleaned = np.concatenate([p.cleaned for p in pieces], axis=1)
    raw = np.concatenate([p.raw for p in pieces], axis=1)
    assert cleaned.shape == whole.cleaned.data.shape
    np.testing.assert_array_equal(np.isnan(cleaned), np.isnan(whole.cleaned.data))
    vis = ~np.isnan(cleaned)
    scale = np.where(vis, np.abs(whole.cleaned.data), 0).max(axis=1, keepdims=True)  # (C, 1)
    err = np.where(vis, np.abs(cleaned - whole.cleaned.data), 0).max(axis=1) / np.where(scale[:, 0] > 0, scale[:, 0], 1)
    assert err.max() < 1e-4, dict(zip(whole.cleaned.ch_names, err))
    np.testing.assert_allclose(raw, whole.raw.data, rtol=1e-5, atol=1e-6 * np.nanmax(np.abs(raw)))
    got = [(round(a.onset, 6), round(a.duration, 6), a.description, a.ch_names) for a in spans.annotations()]
    want = [(round(a.onset, 6), round(a.duration, 6), a.description, a.ch_names) for a in whole.interference]
    assert got == want


@pytest.mark.parametrize("masks", [None, MASKS], ids=["no masks", "channel and segment masks"])
def test_pieces_equal_the_whole_span(masks):
    rec = _recording()
    config = PreprocessConfig()
    whole = preprocess(rec, config, masks=masks)
    kinds = {a.description for a in whole.interference}
    assert {"BAD_flat", "BAD_jump", "BAD_muscle", "BAD_nan"} <= kinds  # every detector has a span to join
    assert whole.line_freq == 50.0
    fit, pieces, spans = _pieces(rec, config, masks)
    assert fit.whole and fit.line_freq == 50.0
    _assert_same(whole, pieces, spans)
    # the fit equals the one the whole-span cleaning made inline
    assert any(s.startswith("EOG regression") for s in whole.steps)


def test_pieces_equal_the_whole_span_with_a_subsampled_fit(monkeypatch):
    monkeypatch.setattr(streaming, "FIT_WHOLE_S", 100.0)
    monkeypatch.setattr(streaming, "FIT_BLOCK_S", 15.0)
    monkeypatch.setattr(streaming, "FIT_BLOCKS", 6)
    rec = _recording(4)
    whole = preprocess(rec, PreprocessConfig(), masks=MASKS)
    assert any(s.startswith("global quantities") and "6 blocks" in s for s in whole.steps)
    fit, pieces, spans = _pieces(rec, PreprocessConfig(), MASKS)
    assert not fit.whole and len(fit.fit_blocks) == 6
    _assert_same(whole, pieces, spans)


def test_pieces_with_ica_and_resampling_ratio():
    rec = _recording(5)
    config = PreprocessConfig(eog_method="ica", target_sfreq=100.0)  # 512 -> 100 Hz: up 25, down 128
    whole = preprocess(rec, config)
    fit, pieces, spans = _pieces(rec, config, None)
    assert (fit.up, fit.down) == (25, 128)
    _assert_same(whole, pieces, spans)


def test_a_window_is_cleaned_like_the_whole_span():
    rec = _recording(6)
    config = PreprocessConfig()
    whole = preprocess(rec, config, masks=MASKS)
    fit = fit_cleaning(rec, config, masks=MASKS)
    t0, page = clean_window(rec, fit, 100.0, 110.0)
    i0 = int(round(t0 * whole.sfreq))
    assert t0 <= 100.0 and t0 + page.shape[1] / whole.sfreq >= 110.0
    ref = whole.cleaned.data[:, i0:i0 + page.shape[1]]
    np.testing.assert_array_equal(np.isnan(page), np.isnan(ref))
    np.testing.assert_allclose(page, ref, atol=1e-4 * np.nanmax(np.abs(ref)))


def test_inline_fit_cleans_only_the_whole_span_and_bad_pieces_are_refused():
    rec = _recording(7)
    fit = fit_cleaning(rec, PreprocessConfig(), inline=True)
    with pytest.raises(ConfigError, match="inline=False"):
        streaming.clean_piece(rec, fit, 0, 60 * 512)
    fit = fit_cleaning(rec, PreprocessConfig())
    with pytest.raises(ConfigError, match="multiples of"):
        streaming.clean_piece(rec, fit, 3, 60 * 512)
    with pytest.raises(ConfigError, match="chunk_s"):
        list(iter_clean(rec, fit, chunk_s=0))


def test_cancel_between_pieces():
    rec = _recording(8)
    fit = fit_cleaning(rec, PreprocessConfig())
    cancel = threading.Event()
    seen = []
    with pytest.raises(Cancelled):
        for piece in iter_clean(rec, fit, chunk_s=CHUNK, cancel=cancel):
            seen.append(piece)
            cancel.set()
    assert len(seen) == 1


def test_display_cleaning_on_demand_equals_the_whole_span(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from mmqnet_core.preprocessing.cache import CleaningCache

    rec = _recording(9)
    config = PreprocessConfig()
    whole = preprocess(rec, config, masks=MASKS)
    assert not isinstance(on_demand.clean_for_display(rec, config, masks=MASKS, cache=CleaningCache()),
                          on_demand.OnDemandCleaning)  # 5 min: cleaned whole (through the cache)
    monkeypatch.setattr(on_demand, "ON_DEMAND_ABOVE_BYTES", 0)
    lazy = on_demand.clean_for_display(rec, config, masks=MASKS)
    assert isinstance(lazy, on_demand.OnDemandCleaning) and lazy.data.cleaned_tiles == 0  # only the fit so far
    assert lazy.cleaned.data.shape == whole.cleaned.data.shape and lazy.sfreq == whole.sfreq
    assert lazy.interference == ()
    sf = whole.sfreq
    rows = [0, 2, 11, 12]
    with ThreadPoolExecutor(2) as pool:  # a page and its prefetched neighbour across a tile edge, at once
        pages = list(pool.map(lambda a: lazy.cleaned.data[rows, int(a * sf):int((a + 10) * sf)], [115.0, 115.0]))
    assert lazy.data.cleaned_tiles == 2  # each tile cleaned once although asked for twice at the same time
    ref = whole.cleaned.data[rows, int(115 * sf):int(125 * sf)]
    for page in pages:
        np.testing.assert_array_equal(np.isnan(page), np.isnan(ref))
        np.testing.assert_allclose(page, ref, atol=1e-4 * np.nanmax(np.abs(ref)))
    assert {a.description for a in lazy.interference} >= {"BAD_flat"}  # spans of the tiles cleaned so far
    full = np.asarray(lazy.cleaned.data)
    np.testing.assert_allclose(full, whole.cleaned.data, atol=1e-4 * np.nanmax(np.abs(whole.cleaned.data)))
    assert [(round(a.onset, 6), a.description) for a in lazy.interference] == \
        [(round(a.onset, 6), a.description) for a in whole.interference]


def test_a_long_span_is_cleaned_in_pieces_equal_to_one_piece():
    """preprocess() cleans spans longer than a piece in pieces into arrays allocated once: the same values as
    one piece over the whole span (and the same interference spans)."""
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial

    st = streaming
    rec = generate_trial(SynthConfig(trial_s=1500.0), 0, 1).to_recording()
    masks = MaskSet(segments=(SegmentMask(500.0, 700.0, ("Fp1",)), SegmentMask(100.0, 1290.0, ("GSR",))))
    masks = masks.with_channel("O1")
    pieced = preprocess(rec, masks=masks)
    fit = st.fit_cleaning(rec, PreprocessConfig(), masks=masks)
    assert len(st.piece_bounds(fit)) == 3
    whole = st.clean_piece(rec, fit, fit.start, fit.stop, with_raw=True)
    a, b = pieced.cleaned.data, whole.cleaned
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmax(np.abs(a - b)) <= 1e-6 * np.nanmax(np.abs(b))
    np.testing.assert_allclose(pieced.raw.data, whole.raw, rtol=0, atol=1e-6 * np.nanmax(np.abs(whole.raw)))
    spans = st.SpanCollector(fit, rec)
    spans.add(whole)
    assert [(s.onset, s.duration, s.description, s.ch_names) for s in pieced.interference] == \
        [(s.onset, s.duration, s.description, s.ch_names) for s in spans.annotations()]


def _same_fit(a, b) -> None:
    """Two fits hold the same global quantities, bit for bit."""
    for name in ("start", "stop", "sfreq_in", "sfreq_out", "up", "down", "masked_ch", "bads", "line_freq",
                 "muscle_plan", "muscle_q", "steps", "fit_blocks", "pad", "align"):
        assert getattr(a, name) == getattr(b, name), name
    np.testing.assert_array_equal(a.flat_scale, b.flat_scale)
    assert a.jump == b.jump
    for x, y in zip(a.muscle_stats, b.muscle_stats):
        np.testing.assert_array_equal(x, y)
    assert a.eog[0] == b.eog[0]
    if a.eog[0] == "regression":
        for x, y in zip(a.eog[1:], b.eog[1:]):
            np.testing.assert_array_equal(x, y)
    elif a.eog[0] == "ica":
        np.testing.assert_array_equal(a.eog[1].unmixing_matrix_, b.eog[1].unmixing_matrix_)
        assert a.eog[1].exclude == b.eog[1].exclude


@pytest.mark.parametrize("eog_method", ["regression", "ica"])
def test_a_fit_on_blocks_in_threads_equals_the_fit_in_one_thread(monkeypatch, eog_method):
    """The fit's blocks are read and processed in helper threads (FIT_THREADS), each block's sums on their own and
    added in block order: the same fit, bit for bit, as one thread -- with masks and NaN in some blocks only (the
    ICA's missing flags of the blocks before the first one with missing samples)."""
    monkeypatch.setattr(streaming, "FIT_WHOLE_S", 100.0)
    monkeypatch.setattr(streaming, "FIT_BLOCK_S", 15.0)
    monkeypatch.setattr(streaming, "FIT_BLOCKS", 6)
    rec = _recording(9)
    config = PreprocessConfig(eog_method=eog_method)
    masks = MaskSet(segments=(SegmentMask(170.0, 190.0, ("Fp2", "EXG1")),))
    calls = []
    spawn = streaming._in_threads

    def counted(*args, **kwargs):
        calls.append(kwargs.get("threads", streaming.FIT_THREADS))
        return spawn(*args, **kwargs)

    monkeypatch.setattr(streaming, "_in_threads", counted)
    monkeypatch.setattr(streaming, "FIT_THREADS", 1)
    one = fit_cleaning(rec, config, masks=masks)
    monkeypatch.setattr(streaming, "FIT_THREADS", 2)
    names = set()
    real = threading.Thread.start

    def named(self):
        names.add(self.name)
        return real(self)

    monkeypatch.setattr(threading.Thread, "start", named)
    two = fit_cleaning(rec, config, masks=masks)
    assert calls == [1, 1, 2, 2] and "mmqnet-fit" in names  # both rounds ran in helper threads the second time
    assert not one.whole and len(one.fit_blocks) == 6
    assert one.eog[0] == eog_method
    _same_fit(one, two)


def test_a_failing_block_of_the_fit_raises_its_own_error_and_a_cancel_stops_it(monkeypatch):
    monkeypatch.setattr(streaming, "FIT_WHOLE_S", 100.0)
    monkeypatch.setattr(streaming, "FIT_BLOCK_S", 15.0)
    monkeypatch.setattr(streaming, "FIT_BLOCKS", 6)
    rec = _recording(10)
    real = streaming.read_piece
    seen = []

    def broken(recording, fit, a, b, cancel=None, buffer=None):
        seen.append(a)
        if len(seen) == 3:
            raise ValueError("damaged block")
        return real(recording, fit, a, b, cancel, buffer)

    monkeypatch.setattr(streaming, "read_piece", broken)
    with pytest.raises(ValueError, match="damaged block"):
        fit_cleaning(rec, PreprocessConfig())
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        fit_cleaning(rec, PreprocessConfig(), cancel=cancel)


def test_ica_missing_flags_stay_aligned_when_only_a_later_fit_block_has_masked_samples(monkeypatch):
    """The ICA is fitted on the fit's blocks joined, with one missing flag per joined sample: a mask inside a
    later block only must flag exactly its own samples (the earlier blocks used to add no flags, so the joined
    flags were shorter than the data and the masked span landed on the wrong samples)."""
    monkeypatch.setattr(streaming, "FIT_WHOLE_S", 100.0)
    monkeypatch.setattr(streaming, "FIT_BLOCK_S", 15.0)
    monkeypatch.setattr(streaming, "FIT_BLOCKS", 6)
    rec = _recording(9)
    seen = {}
    real = streaming._fit_ica

    def spy(data, miss, *args, **kwargs):
        seen["data"], seen["miss"] = data, miss
        return real(data, miss, *args, **kwargs)

    monkeypatch.setattr(streaming, "_fit_ica", spy)
    config = PreprocessConfig(eog_method="ica")
    fit = fit_cleaning(rec, config)
    blocks = list(fit.fit_blocks)
    assert not fit.whole and len(blocks) == 6 and seen["miss"] is None  # nothing masked: no flags
    a, b = blocks[-1]  # a mask inside the last fit block only (input samples -> s)
    lo, hi = (a + 0.25 * (b - a)) / fit.sfreq_in, (a + 0.5 * (b - a)) / fit.sfreq_in
    fit_cleaning(rec, config, masks=MaskSet(segments=(SegmentMask(lo, hi, ("Fp2",)),)))
    miss = seen["miss"]
    assert miss is not None and miss.shape == (seen["data"].shape[1],)
    flagged = np.flatnonzero(miss)
    # every flag in the last block's share of the joined samples, covering about a quarter of it
    per_block = seen["data"].shape[1] / len(blocks)
    assert flagged.min() >= 5 * per_block - 1
    assert 0.2 * per_block <= flagged.size <= 0.3 * per_block
