"""A digitally constant temperature (a dead sensor) has no data like any flat channel; a living, slowly varying
skin temperature keeps its data; normal synthetic trials' features are unchanged by the rule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf
from mmqnet_core.features import FeatureConfig, extract_features
from mmqnet_core.features.missing import MissingReason
from mmqnet_core.io import load_recording
from mmqnet_core.preprocessing import preprocess, streaming


def _features(path):
    pre = preprocess(load_recording(path))
    return pre, extract_features(pre.cleaned, FeatureConfig(), interference=pre.interference)


def _with_temp(tr, values):
    data = tr.data.copy()
    data[tr.ch_names.index("Temp")] = values
    return dataclasses.replace(tr, data=data)


@pytest.mark.parametrize("trial_s, all_flat", [(12.0, True), (12.0, False), (60.0, False)])
def test_a_constant_temperature_has_no_data(tmp_path, trial_s, all_flat):
    """Before: a 15-s recording's constant temperature rang through the 0.1-Hz low-pass (±0.3 degC) and was never
    called flat: in an all-flat recording it was the one token the model read (39/40 hidden)."""
    tr = generate_trial(SynthConfig(trial_s=trial_s), 3, 0)
    data = tr.data.copy()
    for i, ch in enumerate(tr.ch_names):
        if all_flat or ch == "Temp":
            data[i] = data[i, 0]
    pre, fs = _features(write_bdf(dataclasses.replace(tr, data=data), tmp_path / "synthetic_flat.bdf"))
    col = [t.channel for t in fs.tokens].index("Temp")
    assert (fs.reason[:, col] == MissingReason.NO_DATA).all() and fs.missing[:, col].all()
    if all_flat:
        assert fs.missing.all()


@pytest.mark.parametrize("kind", ["synthetic", "drift", "quantised"])
def test_a_slowly_varying_temperature_keeps_its_data(tmp_path, kind):
    tr = generate_trial(SynthConfig(trial_s=60.0), 3, 0)
    t = np.arange(tr.data.shape[1]) / tr.sfreq
    start = tr.data[tr.ch_names.index("Temp"), 0]
    if kind == "drift":  # 0.002 degC per minute, no noise
        tr = _with_temp(tr, start + 0.002 * t / 60)
    elif kind == "quantised":  # a sensor of 0.01 degC resolution, 0.05 degC per minute: constant for 12 s at a time
        tr = _with_temp(tr, np.round((start + 0.05 * t / 60) * 100) / 100)
    pre, fs = _features(write_bdf(tr, tmp_path / "synthetic_temp.bdf"))
    assert not any(a.description == "BAD_flat" and "Temp" in (a.ch_names or ()) for a in pre.interference)
    col = [t.channel for t in fs.tokens].index("Temp")
    assert not fs.missing[:, col].any()


def test_normal_synthetic_trials_have_the_same_features(tmp_path, monkeypatch):
    """The rule finds no dead temperature in normal trials (with their artifacts): features byte-identical to the
    cleaning without it."""
    paths = [write_bdf(generate_trial(SynthConfig(trial_s=60.0, artifact_rate=rate), s, t),
                       tmp_path / f"synthetic_{s}_{t}_{rate}.bdf")
             for s, t, rate in ((1, 0, 1.0), (2, 5, 1.0), (4, 9, 3.0))]
    new = [_features(p)[1] for p in paths]
    monkeypatch.setattr(streaming, "_dead_temperatures", lambda *a, **k: [])
    old = [_features(p)[1] for p in paths]
    for a, b in zip(new, old):
        assert a.values.tobytes() == b.values.tobytes()
        assert np.array_equal(a.missing, b.missing) and np.array_equal(a.reason, b.reason)
