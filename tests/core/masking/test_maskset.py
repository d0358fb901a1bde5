"""SegmentMask validation, MaskSet editing, merged() and is_masked()."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.errors import MaskError
from mmqnet_core.masking import MaskSet, SegmentMask

from .conftest import CHANNEL_POOL, brute_is_masked, random_maskset


# --- SegmentMask ---------------------------------------------------------------------------------------
def test_segment_normalises_channels_and_times():
    seg = SegmentMask(np.float32(1), 2, ["Fp2", "Fp1", "Fp2"])
    assert seg.channels == ("Fp1", "Fp2")
    assert isinstance(seg.start_s, float) and seg.duration_s == 1.0
    assert SegmentMask(0, 1, "Cz").channels == ("Cz",)  # a lone name is one channel, not its letters
    assert seg.applies_to("Fp1") and not seg.applies_to("Cz")
    assert SegmentMask(0, 1).applies_to("anything")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_s": 2.0, "end_s": 1.0}, r"start_s must be before end_s, got start_s=2.0 s, end_s=1.0 s"),
        ({"start_s": 1.0, "end_s": 1.0}, r"start_s must be before end_s"),
        ({"start_s": -0.5, "end_s": 1.0}, r"'start_s' of a mask segment: must be a finite time >= 0 s, got -0.5"),
        ({"start_s": 0.0, "end_s": float("inf")}, r"'end_s' .* finite time >= 0 s, got inf"),
        ({"start_s": 0.0, "end_s": float("nan")}, r"'end_s' .* got nan"),
        ({"start_s": "a", "end_s": 1.0}, r"'start_s' of a mask segment: expected seconds, got 'a'"),
        ({"start_s": 0, "end_s": 1, "source": "robot"}, r"'source' .* allowed user, simulated, imported, got 'robot'"),
        ({"start_s": 0, "end_s": 1, "channels": ("Fp1", "")}, r"Invalid channel name\(s\) in 'channels': \[''\]"),
    ],
)
def test_segment_validation(kwargs, match):
    with pytest.raises(MaskError, match=match):
        SegmentMask(**kwargs)


# --- editing ---------------------------------------------------------------------------------------------
def test_edits_return_new_sets_and_leave_the_old_one_alone():
    m0 = MaskSet()
    m1 = m0.with_segment(SegmentMask(0, 1, ("Fp1",)))
    m2 = m1.with_channel("GSR")
    m3 = m2.replace_segment(0, SegmentMask(5, 6))
    m4 = m3.without_segment(0)
    m5 = m4.with_channel("GSR", masked=False)
    assert m0.is_empty and m0.segments == ()
    assert m1.segments == (SegmentMask(0, 1, ("Fp1",)),) and m1.channels == frozenset()
    assert m2.channels == {"GSR"} and m2.segments == m1.segments
    assert m3.segments == (SegmentMask(5, 6),)
    assert m4.segments == () and m4.channels == {"GSR"}
    assert m5 == MaskSet()
    with pytest.raises(AttributeError):
        m1.channels = frozenset({"x"})  # frozen


@pytest.mark.parametrize("index", [3, -1, 1.0, True])
def test_bad_segment_index(index):
    m = MaskSet(segments=(SegmentMask(0, 1), SegmentMask(2, 3), SegmentMask(4, 5)))
    msg = r"No mask segment with index .*; this mask set has 3 segment\(s\) \(valid indices 0 to 2\)"
    with pytest.raises(MaskError, match=msg):
        m.without_segment(index)
    with pytest.raises(MaskError, match=r"No mask segment with index"):
        m.replace_segment(index, SegmentMask(0, 1))


def test_wrong_types_are_refused():
    with pytest.raises(MaskError, match=r"Expected a SegmentMask, got \(0, 1\)"):
        MaskSet().with_segment((0, 1))
    with pytest.raises(MaskError, match=r"expected SegmentMask objects"):
        MaskSet(segments=[(0, 1)])
    with pytest.raises(MaskError, match=r"Invalid channel name"):
        MaskSet().with_channel("  ")


def test_without_source_and_union():
    user = MaskSet(segments=(SegmentMask(0, 1, ("Fp1",)),))
    sim = MaskSet(channels={"Cz"}, segments=(SegmentMask(2, 3, source="simulated"),))
    both = user.union(sim)
    assert both.channels == {"Cz"} and len(both.segments) == 2
    assert both.without_source("simulated").segments == user.segments
    with pytest.raises(MaskError, match=r"'source': allowed user, simulated, imported, got 'x'"):
        both.without_source("x")


# --- is_masked ---------------------------------------------------------------------------------------------
def test_is_masked_half_open_and_vectorised():
    m = MaskSet(channels={"GSR"}, segments=(SegmentMask(1, 2, ("Fp1",)), SegmentMask(5, 6)))
    assert m.is_masked("Fp1", 1.0) is True
    assert m.is_masked("Fp1", 2.0) is False  # end excluded
    assert m.is_masked("Fp2", 1.5) is False
    assert m.is_masked("Fp2", 5.5) is True  # all-channel segment
    assert m.is_masked("GSR", 1e6) is True
    t = np.array([[0.5, 1.5], [5.0, 6.0]])
    np.testing.assert_array_equal(m.is_masked("Fp1", t), [[False, True], [True, False]])


def test_channel_intervals_and_fraction():
    m = MaskSet(channels={"GSR"}, segments=(SegmentMask(1, 3, ("Fp1",)), SegmentMask(2, 4), SegmentMask(9, 12)))
    np.testing.assert_allclose(m.channel_intervals("Fp1"), [[1, 4], [9, 12]])
    np.testing.assert_allclose(m.channel_intervals("Fp1", duration_s=10), [[1, 4], [9, 10]])
    np.testing.assert_allclose(m.channel_intervals("GSR", duration_s=10), [[0, 10]])
    assert m.channel_intervals("Cz").tolist() == [[2.0, 4.0], [9.0, 12.0]]
    # Fp1: 3+1 s, Cz: 2+1 s, GSR: 10 s  over 3 channels x 10 s
    assert m.masked_fraction(["Fp1", "Cz", "GSR"], 10.0) == pytest.approx(17 / 30)
    with pytest.raises(MaskError, match=r"Cannot compute a masked fraction over 0 channel\(s\) and 10.0 s"):
        m.masked_fraction([], 10.0)


# --- merged --------------------------------------------------------------------------------------------
def test_merged_examples():
    m = MaskSet(
        channels={"GSR"},
        segments=(
            SegmentMask(3, 4, ("Fp1",)),
            SegmentMask(0, 1, ("Fp1",)),
            SegmentMask(1, 2, ("Fp1",)),  # touches the previous one -> merged
            SegmentMask(1.5, 2.5, ("Fp1",), "simulated"),  # other source -> kept apart
            SegmentMask(0, 9, ("GSR",)),  # whole-channel masked -> redundant
            SegmentMask(0, 9, ("Cz", "GSR")),  # reduced to Cz
            SegmentMask(10, 20),
            SegmentMask(12, 13, ("Fp2",)),  # inside an all-channel segment -> redundant
        ),
    )
    out = m.merged()
    assert out.channels == {"GSR"}
    assert out.segments == (
        SegmentMask(0, 2, ("Fp1",)),
        SegmentMask(0, 9, ("Cz",)),
        SegmentMask(1.5, 2.5, ("Fp1",), "simulated"),
        SegmentMask(3, 4, ("Fp1",)),
        SegmentMask(10, 20),
    )


@pytest.mark.parametrize("seed", range(25))
def test_merged_property_same_mask_and_canonical(seed):
    rng = np.random.default_rng(seed)
    m = random_maskset(rng, n_segments=int(rng.integers(0, 20)))
    out = m.merged()
    # 1. same masked set at many times (random, and every segment edge +- a hair)
    edges = np.array([x for s in m.segments for x in (s.start_s, s.end_s)] or [0.0])
    times = np.concatenate([rng.uniform(0, 21, 300), edges, edges - 1e-7, edges + 1e-7])
    for ch in CHANNEL_POOL + ("other",):
        expected = np.array([brute_is_masked(m, ch, t) for t in times])
        np.testing.assert_array_equal(out.is_masked(ch, times), expected)
        np.testing.assert_array_equal(m.is_masked(ch, times), expected)
    # 2. canonical: idempotent, sorted, no whole-masked channel in segments, no overlap/touch within a group
    assert out.merged() == out
    assert [s.start_s for s in out.segments] == sorted(s.start_s for s in out.segments)
    assert not any(set(s.channels) & out.channels for s in out.segments)
    groups: dict = {}
    for s in out.segments:
        groups.setdefault((s.channels, s.source), []).append(s)
    for segs in groups.values():
        for a, b in zip(segs, segs[1:]):
            assert b.start_s > a.end_s
