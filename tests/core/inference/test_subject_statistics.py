"""Statistics of a subject from several recordings, and their use for one DEAP trial by ``mmqnet analyze``."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mmqnet_core.cli import main
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_deap_subject
from mmqnet_core.errors import ConfigError
from mmqnet_core.features import extract_features
from mmqnet_core.inference import subject_statistics
from mmqnet_core.model.normalization import Normalizer
from mmqnet_core.preprocessing import preprocess

CONFIG = SynthConfig(trial_s=30.0)


@pytest.fixture(scope="module")
def trials():
    return [generate_trial(CONFIG, 0, t) for t in range(2)]


def test_statistics_pool_every_recording_of_the_subject(trials, model):
    recs = [t.to_recording() for t in trials]
    stats = subject_statistics(recs, model)
    feats = []
    for rec in recs:
        pre = preprocess(rec, model.preprocess_config)
        feats.append(extract_features(pre.cleaned, model.feature_config, layout=model.layout,
                                      interference=pre.interference))
    pooled = Normalizer.fit(np.concatenate([f.values for f in feats]), np.concatenate([f.missing for f in feats]),
                            fallback=model.normalizer, min_count=model.min_windows)
    np.testing.assert_allclose(stats.mean, pooled.mean, rtol=1e-6)
    np.testing.assert_allclose(stats.std, pooled.std, rtol=1e-6)
    one = subject_statistics(recs[:1], model)
    assert not np.allclose(one.mean, stats.mean)  # the second trial counts
    with pytest.raises(ConfigError, match="give at least one recording"):
        subject_statistics([], model)


def test_analyze_normalises_a_deap_trial_with_the_whole_file(trials, model, tmp_path, monkeypatch, capsys):
    path = write_deap_subject(trials, tmp_path / "synthetic_s00.dat")
    subj = dataclasses.replace(model, normalization="subject")
    monkeypatch.setattr("mmqnet_core.inference.load_model", lambda *a, **k: subj)
    assert main(["analyze", str(path), "--trial", "1", "-o", str(tmp_path / "pooled")]) == 0
    steps = json.loads((tmp_path / "pooled" / "summary.json").read_text())["steps"]
    assert any("subject's statistics given by the caller" in s for s in steps)
    assert main(["analyze", str(path), "--trial", "1", "--own-statistics", "-o", str(tmp_path / "own")]) == 0
    steps = json.loads((tmp_path / "own" / "summary.json").read_text())["steps"]
    assert not any("given by the caller" in s for s in steps)
    capsys.readouterr()
