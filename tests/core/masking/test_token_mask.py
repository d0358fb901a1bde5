"""MaskSet.to_token_mask on a feature grid (with a stand-in for FeatureSet)."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.errors import MaskError
from mmqnet_core.masking import MaskSet, SegmentMask

from .conftest import CHANNEL_POOL, FakeFeatures, FakeToken, brute_is_masked, random_maskset


def make_features(n_windows: int = 20, window_s: float = 1.0, step_s: float = 1.0) -> FakeFeatures:
    tokens = tuple(FakeToken(f"tok_{c}", c) for c in CHANNEL_POOL) + (FakeToken("absent", None),)
    return FakeFeatures(np.arange(n_windows) * step_s, window_s, tokens)


def test_token_mask_example():
    feats = make_features(n_windows=6)
    m = MaskSet(
        channels={"Resp"},
        segments=(SegmentMask(1.0, 2.0, ("Fp1",)), SegmentMask(3.5, 3.75, ("Cz",)), SegmentMask(4.9, 5.0)),
    )
    out = m.to_token_mask(feats)
    assert out.shape == (6, 6) and out.dtype == bool
    col = {t.channel: i for i, t in enumerate(feats.tokens)}
    assert out[:, col["Resp"]].all()
    assert out[:, col["Fp1"]].tolist() == [False, True, False, False, True, False]  # [1,2) only in window 1
    assert out[:, col["Cz"]].tolist() == [False, False, False, True, True, False]
    assert not out[:, -1].any()  # absent token: FeatureSet.missing handles it
    # min_overlap: the Cz segment covers 25 % of window 3, the all-channel one 10 % of window 4
    out25 = m.to_token_mask(feats, min_overlap=0.2)
    assert out25[:, col["Cz"]].tolist() == [False, False, False, True, False, False]
    out_half = m.to_token_mask(feats, min_overlap=0.25)  # "more than" 25 %: exactly 25 % is not enough
    assert not out_half[:, col["Cz"]].any()


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("min_overlap", [0.0, 0.25, 0.5])
def test_token_mask_matches_brute_force(seed, min_overlap):
    """Overlaps counted sample by sample (endpoints on a 0.01 s grid, so counting is exact)."""
    rng = np.random.default_rng(seed)
    m = random_maskset(rng, n_segments=int(rng.integers(0, 15)))
    feats = make_features(n_windows=30, window_s=1.0, step_s=0.5)  # overlapping windows
    out = m.to_token_mask(feats, min_overlap=min_overlap)
    dt = 0.01
    per_window = int(round(feats.window_s / dt))
    need = int(round(min_overlap * per_window))
    for n, tok in enumerate(feats.tokens):
        for t, start in enumerate(feats.window_starts):
            if tok.channel is None:
                assert not out[t, n]
                continue
            times = start + (np.arange(per_window) + 0.5) * dt
            count = sum(brute_is_masked(m, tok.channel, x) for x in times)
            assert out[t, n] == (count > need), (tok.channel, start, count)


def test_token_mask_several_tokens_per_channel_and_empty():
    feats = FakeFeatures(np.arange(4.0), 1.0, (FakeToken("a", "Fp1"), FakeToken("b", "Fp1"), FakeToken("c", "Fp2")))
    out = MaskSet(segments=(SegmentMask(2, 3, ("Fp1",)),)).to_token_mask(feats)
    assert out[:, 0].tolist() == out[:, 1].tolist() == [False, False, True, False]
    assert not MaskSet().to_token_mask(feats).any()


@pytest.mark.parametrize("bad", [-0.1, 1.0, float("nan"), "x"])
def test_token_mask_min_overlap_validation(bad):
    with pytest.raises(MaskError, match=r"Invalid value for 'min_overlap': allowed 0 to < 1 \(fraction of a window\)"):
        MaskSet().to_token_mask(make_features(), min_overlap=bad)


def test_token_mask_grid_validation():
    feats = FakeFeatures(np.zeros((2, 2)), 1.0, ())
    with pytest.raises(MaskError, match=r"window_starts of shape \(2, 2\) and window_s=1.0 s"):
        MaskSet().to_token_mask(feats)
