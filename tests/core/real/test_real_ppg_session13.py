"""heartpy's ``data3.csv`` (11 min of real finger PPG, ~100.4 Hz with an irregular timer) end to end: an in-memory
recording through the cleaning (resampled to 100 Hz: whole-second windows) and the features, against heartpy's
beat detector and neurokit2's Elgendi peaks (stored: ``make_ppg_reference.py``).

Session 13 found the heart rate within 3 bpm of both references in only 86.4 % of the 628 windows where they
agree (no rate in 26 of them): the pulse's rate swings from 78 to 107 bpm within seconds, which lowered the
autocorrelation of the 10-s blocks the PPG noise test uses, and runs of real beats were dropped as noise. With
the blocks on two grids half a block apart: 92.3 % (no rate in 8), level with heartpy vs neurokit2 (92.2 %).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmqnet_core.features import extract_features
from mmqnet_core.features.peripheral import IBI_RANGE_S, Events, interval_rate
from mmqnet_core.preprocessing import preprocess

from .realdata import heartpy_beats, heartpy_data3

REFERENCE = Path(__file__).with_name("ppg_neurokit2.json")


def _recording(x: np.ndarray, sfreq: float):
    import mne

    from mmqnet_core.recording import ChannelInfo, Modality, Recording

    raw = mne.io.RawArray(x[None].astype(float), mne.create_info(["PPG"], sfreq, ["misc"], verbose=False),
                          verbose=False)
    return Recording(raw=raw, channels=(ChannelInfo("PPG", Modality.PPG, sfreq, "a.u."),))


def test_heart_rate_of_heartpy_data3_agrees_where_heartpy_and_neurokit2_agree():
    rec = heartpy_data3()
    if rec is None:
        pytest.skip("heartpy is not installed")
    x, sfreq = rec.channels["PPG"], rec.sfreq
    pre = preprocess(_recording(x, sfreq))
    assert pre.cleaned.sfreq == 100.0  # 100.418 Hz: resampled to whole Hz
    fs = extract_features(pre.cleaned, interference=pre.interference)
    hr = np.where(fs.feature_valid[:, 0, 0], fs.values[:, 0, 0], np.nan).astype(float)
    from mmqnet_core.features.spectral import WindowGrid

    grid = WindowGrid(fs.sfreq, int(fs.sfreq), int(fs.sfreq), fs.n_windows)

    def rate(times):
        return interval_rate(Events(np.asarray(times), np.ones(len(times))), grid, IBI_RANGE_S, max_gap_s=4.0,
                             max_rel_deviation=0.3)

    ref_hp = rate(heartpy_beats(x, sfreq))
    ref_nk = rate(json.loads(REFERENCE.read_text())["recordings"][rec.name])
    agree = np.isfinite(ref_hp) & np.isfinite(ref_nk) & (np.abs(ref_hp - ref_nk) <= 3.0)
    assert agree.sum() >= 600, agree.sum()
    within = np.abs(hr[agree] - ref_hp[agree]) <= 3.0  # NaN (no rate) counts as a miss
    assert within.mean() >= 0.9, (within.mean(), int(agree.sum()))
    assert np.isnan(hr[agree]).sum() <= 0.02 * agree.sum()
