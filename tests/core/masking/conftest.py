"""Helpers for the masking tests: a light stand-in for FeatureSet and random mask sets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from mmqnet_core.masking import MaskSet, SegmentMask
from mmqnet_core.recording import ChannelInfo, Modality

CHANNEL_POOL = ("Fp1", "Fp2", "Cz", "GSR", "Resp")


@dataclass(frozen=True)
class FakeToken:
    """Stand-in for mmqnet_core.features.Token (only what masking reads)."""

    name: str
    channel: str | None
    modality: Modality = Modality.EEG


@dataclass(frozen=True)
class FakeFeatures:
    """Stand-in for mmqnet_core.features.FeatureSet: the window grid and the tokens."""

    window_starts: np.ndarray  # (T,) s
    window_s: float
    tokens: tuple[FakeToken, ...]

    @property
    def n_windows(self) -> int:
        return len(self.window_starts)


def random_maskset(
    rng: np.random.Generator, *, n_segments: int = 12, grid: float = 0.01, t_max: float = 20.0
) -> MaskSet:
    """Random mask set with endpoints on a grid of ``grid`` seconds (exact overlaps are then countable)."""
    steps = int(round(t_max / grid))
    segs = []
    for _ in range(n_segments):
        a = int(rng.integers(0, steps - 1))
        b = int(rng.integers(a + 1, min(steps, a + int(rng.integers(2, steps // 3))) + 1))
        k = int(rng.integers(0, 3))  # 0 -> all channels
        chans = tuple(rng.choice(CHANNEL_POOL, size=k, replace=False)) if k else ()
        segs.append(SegmentMask(a * grid, b * grid, chans, str(rng.choice(["user", "simulated", "imported"]))))
    whole = frozenset(c for c in CHANNEL_POOL if rng.random() < 0.15)
    return MaskSet(channels=whole, segments=tuple(segs))


def brute_is_masked(masks: MaskSet, ch: str, t: float) -> bool:
    """Definition of 'masked', written the obvious way (reference for the vectorised code)."""
    if ch in masks.channels:
        return True
    return any(s.start_s <= t < s.end_s and (not s.channels or ch in s.channels) for s in masks.segments)


def deap_like_channels() -> list[ChannelInfo]:
    """40 DEAP-like channels plus a trigger and a misc channel (names only; no data)."""
    eeg = [ChannelInfo(f"EEG{i:02d}", Modality.EEG, 128.0, "V") for i in range(32)]
    other = [
        ("hEOG", Modality.EOG), ("vEOG", Modality.EOG), ("zEMG", Modality.EMG), ("tEMG", Modality.EMG),
        ("GSR", Modality.GSR), ("Resp", Modality.RESP), ("Plet", Modality.PPG), ("Temp", Modality.TEMP),
        ("Status", Modality.STIM), ("Aux", Modality.MISC),
    ]
    return eeg + [ChannelInfo(n, m, 128.0) for n, m in other]


@pytest.fixture
def channels() -> list[ChannelInfo]:
    return deap_like_channels()
