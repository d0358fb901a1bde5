"""CleaningCache: one cleaning per recording, configuration and mask state; bounded; shared by concurrent callers."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from mmqnet_core.errors import Cancelled, ConfigError
from mmqnet_core.masking import MaskSet, SegmentMask
from mmqnet_core.preprocessing import CleaningCache, PreprocessConfig, cached_preprocess, default_cache, preprocess
from mmqnet_core.preprocessing import pipeline

from ._helpers import full_recording


@pytest.fixture
def rec():
    return full_recording(np.random.default_rng(50), 128.0, 20.0)


@pytest.fixture
def counted(monkeypatch):
    """Count the real cleanings run through the cache."""
    calls = []
    real = pipeline.preprocess

    def counting(*args, **kwargs):
        calls.append(kwargs.get("masks"))
        return real(*args, **kwargs)

    import mmqnet_core.preprocessing.cache as cache_mod

    monkeypatch.setattr(cache_mod, "preprocess", counting)
    return calls


def test_same_recording_config_and_masks_clean_once(rec, counted):
    cache = CleaningCache()
    masks = MaskSet().with_channel("F3")
    a = cache.get_or_clean(rec, masks=masks)
    b = cache.get_or_clean(rec, masks=MaskSet().with_channel("F3"))  # an equal mask set: same entry
    assert a is b and len(counted) == 1 and cache.hits == 1 and cache.misses == 1
    np.testing.assert_array_equal(a.cleaned.data, preprocess(rec, masks=masks).cleaned.data)


def test_masks_config_span_and_modalities_are_part_of_the_key(rec, counted):
    cache = CleaningCache(max_entries=10)
    base = cache.get_or_clean(rec)
    assert cache.get_or_clean(rec, masks=MaskSet()) is base  # empty masks = no masks
    assert cache.get_or_clean(rec, masks=MaskSet().with_channel("F3")) is not base
    assert cache.get_or_clean(rec, PreprocessConfig(line_freq=50.0)) is not base
    assert cache.get_or_clean(rec, stop_s=10.0) is not base
    assert cache.get_or_clean(rec.with_modalities({"Temp": "MISC"})) is not base
    assert len(counted) == 5
    # a mask outside the span hides nothing in it: same cleaning as without masks
    assert cache.get_or_clean(rec, masks=MaskSet().with_segment(SegmentMask(30.0, 40.0)), stop_s=10.0) is \
        cache.lookup(rec, PreprocessConfig(), stop_s=10.0)


def test_mask_edit_changes_the_key_but_equal_samples_share_it(rec):
    k = CleaningCache.key
    seg = MaskSet().with_segment(SegmentMask(5.0, 6.0, ("F3",)))
    assert k(rec, PreprocessConfig(), seg) != k(rec, PreprocessConfig(), seg.with_segment(SegmentMask(7.0, 8.0)))
    # two segments that hide the same samples as one
    split = MaskSet().with_segment(SegmentMask(5.0, 5.5, ("F3",))).with_segment(SegmentMask(5.5, 6.0, ("F3",)))
    assert k(rec, PreprocessConfig(), seg) == k(rec, PreprocessConfig(), split)


def test_bounded_by_entries_and_bytes(rec, counted):
    cache = CleaningCache(max_entries=2)
    for stop in (5.0, 6.0, 7.0):
        cache.get_or_clean(rec, stop_s=stop)
    assert len(cache) == 2 and cache.lookup(rec, PreprocessConfig(), stop_s=5.0) is None  # oldest out
    small = CleaningCache(max_bytes=1000)
    small.get_or_clean(rec)
    assert len(small) == 0 and small.nbytes == 0  # larger than the whole cache: returned, not kept
    with pytest.raises(ConfigError, match="Invalid value for 'max_entries': must be an integer >= 1, got 0"):
        CleaningCache(max_entries=0)


def test_files_are_identified_by_path_size_and_time(tmp_path):
    from mmqnet_core.datasets.synthetic import make_sample_recording
    from mmqnet_core.io import load_recording

    path = tmp_path / "synthetic_rec.bdf"
    make_sample_recording(path, duration_s=30.0, seed=1)
    cache = CleaningCache()
    a = cache.get_or_clean(load_recording(path))
    assert cache.get_or_clean(load_recording(path)) is a  # opened twice: one cleaning


def test_concurrent_callers_share_one_cleaning(rec, counted):
    cache = CleaningCache()
    out = []
    threads = [threading.Thread(target=lambda: out.append(cache.get_or_clean(rec))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(out) == 3 and out[0] is out[1] is out[2] and len(counted) == 1


def test_a_cancelled_cleaning_is_not_kept(rec):
    cache = CleaningCache()
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        cache.get_or_clean(rec, cancel=ev)
    assert len(cache) == 0 and not cache._pending
    assert cache.get_or_clean(rec).cleaned.n_times == 20 * 128


def test_default_cache_is_shared(rec):
    default_cache().clear()
    a = cached_preprocess(rec, masks=MaskSet().with_channel("O1"))
    assert default_cache().lookup(rec, PreprocessConfig(), MaskSet().with_channel("O1")) is a
    default_cache().clear()
    assert dataclasses.is_dataclass(a)
