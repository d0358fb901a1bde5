"""Simulated missingness: simulate_missing on a recording, random_token_mask on the token grid."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.errors import MaskError
from mmqnet_core.masking import MaskSet, random_token_mask, simulate_missing
from mmqnet_core.recording import PHYSIOLOGICAL, ChannelInfo, Modality

DURATION = 63.0  # one DEAP trial, s


def physiological(channels):
    return [c for c in channels if c.modality in PHYSIOLOGICAL]


# --- simulate_missing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simulated_rate_is_reached(channels, rate, seed):
    m = simulate_missing(channels, DURATION, rate, seed=seed)
    assert m.masked_fraction(physiological(channels), DURATION) == pytest.approx(rate, abs=0.005)
    assert all(s.source == "simulated" for s in m.segments)
    assert all(s.channels and s.end_s <= DURATION for s in m.segments)  # never "all channels" (STIM/MISC)
    assert not m.channels
    # STIM and MISC channels are never masked
    names = {n for s in m.segments for n in s.channels}
    assert not names & {"Status", "Aux"}
    assert m.merged() == m


def test_simulation_is_reproducible(channels):
    a = simulate_missing(channels, DURATION, 0.4, seed=7)
    assert simulate_missing(channels, DURATION, 0.4, seed=7) == a
    assert simulate_missing(channels, DURATION, 0.4, seed=8) != a


def test_dropouts_and_segments(channels):
    by_mod = {}
    for c in physiological(channels):
        by_mod.setdefault(c.modality, set()).add(c.name)
    modality_sets = {frozenset(v) for v in by_mod.values()}
    only_dropouts = simulate_missing(channels, DURATION, 0.5, seed=3, dropout_share=1.0)
    assert all(frozenset(s.channels) in modality_sets for s in only_dropouts.segments)
    assert only_dropouts.masked_fraction(physiological(channels), DURATION) == pytest.approx(0.5, abs=0.005)
    only_segments = simulate_missing(channels, DURATION, 0.2, seed=3, dropout_share=0.0, segment_s=(1.0, 3.0))
    assert all(len(s.channels) == 1 for s in only_segments.segments)
    # a single draw lasts at most 3 s; merged neighbours may be longer, but most stay within the range
    lengths = np.array([s.duration_s for s in only_segments.segments])
    assert np.median(lengths) <= 3.0 + 1e-9
    # default mix: multi-channel segments are whole modalities (drop-outs), and there are some
    sims = [simulate_missing(channels, DURATION, 0.3, seed=seed) for seed in range(5)]
    multi = [s for sim in sims for s in sim.segments if len(s.channels) > 1]
    assert multi and all(frozenset(s.channels) in modality_sets for s in multi)


def test_zero_rate_and_long_recording(channels):
    assert simulate_missing(channels, DURATION, 0.0, seed=0) == MaskSet()
    m = simulate_missing(channels, 3600.0, 0.25, seed=0)  # an hour on the grid cap
    assert m.masked_fraction(physiological(channels), 3600.0) == pytest.approx(0.25, abs=0.005)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate": 0.95}, r"'rate': allowed 0 to 0.9 \(fraction of physiological channel-time to remove\), got 0.95"),
        ({"rate": -0.1}, r"'rate': allowed 0 to 0.9 .*got -0.1"),
        ({"rate": "half"}, r"'rate': allowed 0 to 0.9 .*got 'half'"),
        ({"dropout_share": 1.5}, r"'dropout_share': allowed 0 to 1 .*got 1.5"),
        ({"duration_s": 0}, r"Invalid value for 'duration_s': must be a finite time > 0 s, got 0"),
        ({"segment_s": (5, 1)}, r"'segment_s': expected \(min, max\) seconds with 0 < min <= max, got \(5, 1\)"),
    ],
)
def test_simulate_validation(channels, kwargs, match):
    args = {"duration_s": DURATION, "rate": 0.3, "seed": 0} | kwargs
    with pytest.raises(MaskError, match=match):
        simulate_missing(channels, **args)


def test_simulate_needs_physiological_unique_channels():
    stim = [ChannelInfo("Status", Modality.STIM, 256.0)]
    with pytest.raises(MaskError, match=r"none of the 1 channel\(s\) is physiological"):
        simulate_missing(stim, 10.0, 0.2, seed=0)
    dup = [ChannelInfo("Cz", Modality.EEG, 256.0)] * 2
    with pytest.raises(MaskError, match=r"Duplicate channel name\(s\) \['Cz'\]"):
        simulate_missing(dup, 10.0, 0.2, seed=0)


# --- random_token_mask ------------------------------------------------------------------------------------
GROUPS = np.array([0] * 32 + [1, 1, 2, 2, 3, 4, 5, 6])  # DEAP layout: modality id per token


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.7])
def test_token_rate_on_average(rate):
    rng = np.random.default_rng(int(rate * 100))
    draws = np.array([random_token_mask(60, GROUPS, rate, rng).mean() for _ in range(40)])
    assert draws.mean() == pytest.approx(rate, abs=0.01)
    assert draws.std() < 0.02  # every draw is close to the target, not only the mean


def test_token_mask_shape_reproducible_and_random():
    a = random_token_mask(30, GROUPS, 0.4, np.random.default_rng(5))
    assert a.shape == (30, 40) and a.dtype == bool
    np.testing.assert_array_equal(a, random_token_mask(30, GROUPS, 0.4, np.random.default_rng(5)))
    assert not np.array_equal(a, random_token_mask(30, GROUPS, 0.4, np.random.default_rng(6)))


@pytest.mark.parametrize("seed", range(10))
def test_token_mask_keeps_one_token_visible(seed):
    rng = np.random.default_rng(seed)
    groups = np.array([0, 0, 1])
    for rate in (0.6, 0.9, 0.99):
        m = random_token_mask(50, groups, rate, rng, dropout_share=float(rng.uniform()))
        assert (~m).any(axis=1).all()
    assert random_token_mask(5, groups, 1.0, rng).all()
    assert not random_token_mask(5, groups, 0.0, rng).any()
    assert not random_token_mask(5, np.array([0]), 0.9, rng).any()  # a single token is never hidden


def test_token_dropouts_mask_whole_groups():
    rng = np.random.default_rng(0)
    for share, lo, hi in ((1.0, 0.85, 1.0), (0.0, 0.0, 0.1)):
        in_blocks = []
        for _ in range(10):
            m = random_token_mask(40, GROUPS, 0.3, rng, dropout_share=share)
            assert m.mean() == pytest.approx(0.3, abs=0.01)
            eeg = m[:, GROUPS == 0]  # the 32-token group: whole windows of it only come from drop-outs
            in_blocks.append(eeg.all(axis=1).sum() * eeg.shape[1] / max(1, eeg.sum()))
        # with drop-outs only, masked EEG cells come as whole-group blocks (the rest: the budget's remainder,
        # or a token given back in a window where every group had dropped out)
        assert lo <= np.mean(in_blocks) <= hi


def test_token_runs_are_runs():
    m = random_token_mask(200, GROUPS, 0.2, np.random.default_rng(1), dropout_share=0.0, run_windows=(5, 5))
    # runs of 5 windows (cut at the edges or where they meet another run): far fewer starts than masked cells
    starts = (m[1:] & ~m[:-1]).sum() + m[0].sum()
    assert starts < m.sum() / 2.5


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((10, GROUPS, 1.2), r"Invalid value for 'rate': allowed 0 to 1 \(fraction of tokens to mask\), got 1.2"),
        ((0, GROUPS, 0.2), r"Invalid value for 'n_windows': must be an int >= 1, got 0"),
        ((10, np.zeros((2, 2), int), 0.2), r"'groups': expected a non-empty 1-D int array \(N,\), got shape \(2, 2\)"),
        ((10, np.array([0.5, 1.0]), 0.2), r"'groups': expected a non-empty 1-D int array"),
    ],
)
def test_token_mask_validation(args, match):
    with pytest.raises(MaskError, match=match):
        random_token_mask(*args, np.random.default_rng(0))
    with pytest.raises(MaskError, match=r"'run_windows': expected \(min, max\) with 1 <= min <= max, got \(0, 3\)"):
        random_token_mask(10, GROUPS, 0.2, np.random.default_rng(0), run_windows=(0, 3))
