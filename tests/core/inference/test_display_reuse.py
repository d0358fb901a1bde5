"""The analysis of a long recording reuses the app's on-demand display cleaning: its fit, and the tiles it has
cleaned (never cleaned twice), and the pieces the analysis cleans fill the display's store; results equal."""

from __future__ import annotations

import gc
import importlib

import numpy as np
import pytest

from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial
from mmqnet_core.inference import analyze
from mmqnet_core.masking import MaskSet, SegmentMask
from mmqnet_core.preprocessing import CleaningCache, preprocess
from mmqnet_core.preprocessing import on_demand
from mmqnet_core.preprocessing.streaming import fit_cleaning

MASKS = MaskSet(segments=(SegmentMask(50.0, 75.0, ("Fp1",)), SegmentMask(100.0, 190.0, ("GSR",)))).with_channel("O1")
streaming_mod = importlib.import_module("mmqnet_core.preprocessing.streaming")


@pytest.fixture(scope="module")
def long_recording():
    """About 4 minutes of SYNTHETIC DEAP-layout signals at 128 Hz."""
    return generate_trial(SynthConfig(trial_s=237.0), 0, 1).to_recording()


@pytest.fixture(scope="module")
def whole(long_recording, model):
    return analyze(long_recording, MASKS, model, streaming=False)


@pytest.fixture
def calls(monkeypatch):
    """Every clean_piece call, (a, b) in input samples, whoever makes it (display tiles or analysis pieces)."""
    seen: list[tuple[int, int]] = []
    real = streaming_mod.clean_piece

    def counting(recording, fit, a, b, **kw):
        seen.append((a, b))
        return real(recording, fit, a, b, **kw)

    monkeypatch.setattr(streaming_mod, "clean_piece", counting)
    monkeypatch.setattr(on_demand, "clean_piece", counting)
    return seen


def _display(rec, model, cache, calls, tile_s=30.0):
    fit = fit_cleaning(rec, model.preprocess_config, masks=MASKS)
    od = on_demand.OnDemandCleaning(rec, fit, tile_s=tile_s)
    cache.register_on_demand(rec, model.preprocess_config, MASKS, od)
    calls.clear()  # the fit's own reading (a span this short is fitted whole)
    return od


def _same(a, b):
    assert a.features.shape == b.features.shape
    np.testing.assert_allclose(a.window_starts, b.window_starts)
    np.testing.assert_array_equal(a.hidden, b.hidden)
    vis = ~a.hidden[..., None] & a.valid[None]
    np.testing.assert_allclose(a.features[vis], b.features[vis], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.interference_detected, b.interference_detected, atol=1e-6)
    assert [(round(s.onset, 6), s.description, s.ch_names) for s in a.interference_spans] == \
        [(round(s.onset, 6), s.description, s.ch_names) for s in b.interference_spans]


def test_tiles_the_display_cleaned_are_not_cleaned_again(long_recording, model, whole, calls):
    cache = CleaningCache()
    od = _display(long_recording, model, cache, calls)
    np.asarray(od.cleaned.data)  # the user paged through the whole recording: every tile cleaned
    n_tiles = len(od.data.bounds)
    assert n_tiles == 8 and len(calls) == n_tiles
    calls.clear()
    result = analyze(long_recording, MASKS, model, cache=cache)
    assert calls == []  # no sample cleaned a second time
    assert any(f"its fit, and {n_tiles} 30-s tile(s)" in s for s in result.steps)
    assert any(s.startswith("notch") or "band-pass" in s for s in result.steps)  # the display's filter notes
    _same(whole, result)


def test_pieces_the_analysis_cleans_fill_the_display(long_recording, model, whole, calls):
    cache = CleaningCache()
    od = _display(long_recording, model, cache, calls)
    sf = od.sfreq
    od.cleaned.data[:, int(35 * sf):int(45 * sf)]  # one page: tile 1 (30-60 s)
    assert calls == [od.data.bounds[1]]
    calls.clear()
    result = analyze(long_recording, MASKS, model, cache=cache, progress=None)
    b = od.data.bounds
    assert calls == [b[0], (b[2][0], b[-1][1])]  # the tiles around the one the display had, nothing twice
    _same(whole, result)
    before = od.data.cleaned_tiles
    shown = np.asarray(od.cleaned.data)  # paging through everything now cleans nothing
    assert od.data.cleaned_tiles == before and len(calls) == 2
    ref = preprocess(long_recording, model.preprocess_config, masks=MASKS).cleaned.data
    np.testing.assert_array_equal(np.isnan(shown), np.isnan(ref))
    np.testing.assert_allclose(shown, ref, atol=1e-4 * np.nanmax(np.abs(ref)))
    assert [(round(a.onset, 6), a.description) for a in od.interference] == \
        [(round(a.onset, 6), a.description) for a in whole.interference_spans]


def test_only_the_same_recording_masks_and_configuration_are_reused(long_recording, model, calls):
    cache = CleaningCache()
    od = _display(long_recording, model, cache, calls)
    np.asarray(od.cleaned.data)
    calls.clear()
    analyze(long_recording, None, model, cache=cache, streaming=True)  # other masks: cleaned anew
    assert calls and od.data.put_tiles == 0
    assert cache.lookup_on_demand(long_recording, model.preprocess_config, MASKS) is od
    del od
    gc.collect()
    assert cache.lookup_on_demand(long_recording, model.preprocess_config, MASKS) is None  # held weakly


def test_clean_for_display_registers_in_the_cache(long_recording, model, monkeypatch):
    monkeypatch.setattr(on_demand, "ON_DEMAND_ABOVE_BYTES", 0)
    cache = CleaningCache()
    od = on_demand.clean_for_display(long_recording, model.preprocess_config, masks=MASKS, cache=cache)
    assert isinstance(od, on_demand.OnDemandCleaning)
    assert cache.lookup_on_demand(long_recording, model.preprocess_config, MASKS) is od


def test_the_analysis_never_pushes_the_pages_on_screen_out_of_the_store(long_recording, model, calls):
    cache = CleaningCache()
    od = _display(long_recording, model, cache, calls)
    sf = od.sfreq
    od.cleaned.data[:, int(95 * sf):int(105 * sf)]  # the page on screen: tile 3 (90-120 s)
    od.data.max_bytes = 3 * od.data.tile(3).nbytes  # room for two more tiles
    analyze(long_recording, MASKS, model, cache=cache)
    assert od.data.has_tile(3) and od.data.put_tiles == 2
    assert sum(od.data.has_tile(k) for k in range(len(od.data.bounds))) == 3
