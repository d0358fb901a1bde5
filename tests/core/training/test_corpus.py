"""Corpus assembly from the synthetic source: shapes, labels, artifact targets, cache, cancel."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mmqnet_core.datasets.corpus import (
    ARTIFACT_TYPES,
    Corpus,
    artifact_targets,
    build_corpus,
    parse_source,
)
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial
from mmqnet_core.errors import Cancelled, ConfigError
from mmqnet_core.recording import Annotation


def test_synthetic_corpus_shapes_and_labels(synthetic_corpus):
    c = synthetic_corpus
    assert c.is_synthetic and c.source == "synthetic"
    assert c.X.shape[:3] == (8, 20, 40) and c.X.dtype == np.float32  # 20 s stimulus -> 20 windows (baseline dropped)
    assert c.missing.shape == (8, 20, 40) and c.artifacts.shape == (8, 20, len(ARTIFACT_TYPES))
    assert c.token_names[0] == "Fp1" and c.token_names[-1] == "Temp"
    assert c.valid.shape == (40, c.n_features) and c.valid[:32].sum(1).min() >= 8  # DE + PSD in 4 bands
    assert sorted(set(c.subjects.tolist())) == [0, 1] and sorted(set(c.trials.tolist())) == [0, 1, 2, 3]
    for i in (0, 5):
        trial = generate_trial(SynthConfig(n_subjects=2, n_trials=4, trial_s=20.0), int(c.subjects[i]),
                               int(c.trials[i]))
        np.testing.assert_allclose(c.labels[i], [trial.valence, trial.arousal], rtol=1e-6)
    assert np.isfinite(c.X).all() and (c.interference >= 0).all() and (c.interference <= 1).all()
    assert c.artifact_known.all() and c.artifacts.sum() > 0  # synthetic ground truth reaches the targets
    assert not c.missing.all(axis=(1, 2)).any()


def test_corpus_cache_round_trip(tmp_path, synthetic_corpus):
    path = synthetic_corpus.save(tmp_path / "c.npz")
    back = Corpus.load(path)
    for name in ("X", "missing", "labels", "subjects", "artifacts", "valid"):
        np.testing.assert_array_equal(getattr(back, name), getattr(synthetic_corpus, name))
    assert back.token_names == synthetic_corpus.token_names
    assert back.feature_names == synthetic_corpus.feature_names


def test_build_uses_cache(tmp_path, monkeypatch):
    cfg = SynthConfig(n_subjects=1, n_trials=1, trial_s=8.0)
    first = build_corpus("synthetic", synth_config=cfg, cache_dir=tmp_path, workers=1)
    assert len(list(tmp_path.glob("corpus_*.npz"))) == 1
    import mmqnet_core.datasets.corpus as corpus_mod

    def boom(*a, **k):
        raise AssertionError("rebuilt despite the cache")

    monkeypatch.setattr(corpus_mod, "_run_jobs", boom)
    again = build_corpus("synthetic", synth_config=cfg, cache_dir=tmp_path, workers=1)
    np.testing.assert_array_equal(first.X, again.X)
    with pytest.raises(AssertionError, match="rebuilt"):  # another config -> another key -> a build
        build_corpus("synthetic", synth_config=SynthConfig(n_subjects=1, n_trials=1, trial_s=9.0),
                     cache_dir=tmp_path, workers=1)


def test_cancel_stops_the_build(tmp_path):
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        build_corpus("synthetic", synth_config=SynthConfig(n_subjects=2, n_trials=1, trial_s=8.0),
                     cache_dir=tmp_path, workers=1, cancel=ev)
    assert not list(tmp_path.glob("*.npz"))


def test_source_errors(tmp_path):
    with pytest.raises(ConfigError, match="allowed 'synthetic', 'deap:DIR' or 'mahnob:DIR', got 'deep:x'"):
        parse_source("deep:x")
    with pytest.raises(ConfigError, match="No DEAP subject files sNN.dat found in"):
        build_corpus(f"deap:{tmp_path}", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        build_corpus(f"mahnob:{tmp_path / 'nope'}", cache_dir=tmp_path)


def test_artifact_targets_cover_windows():
    arts = [Annotation(1.5, 1.0, "ART_blink", ("vEOG",)), Annotation(4.0, 0.05, "ART_pop"),
            Annotation(0.0, 10.0, "stimulus")]
    t = artifact_targets(arts, np.arange(6.0), 1.0)
    blink, pop = ARTIFACT_TYPES.index("blink"), ARTIFACT_TYPES.index("pop")
    assert t[:, blink].tolist() == [0, 1, 1, 0, 0, 0]
    assert t[:, pop].sum() == 0  # 5 % of a window is below ARTIFACT_MIN_COVER
    assert t.sum() == 2


@pytest.mark.slow
def test_deap_folder_corpus(tmp_path):
    """DEAP's preprocessed-python format (written from SYNTHETIC trials): labels kept, artifacts unknown."""
    from mmqnet_core.datasets.synthetic import write_deap_subject

    cfg = SynthConfig(n_subjects=2, n_trials=2, trial_s=10.0)
    data = tmp_path / "deap"
    data.mkdir()
    trials = {s: [generate_trial(cfg, s, t) for t in range(2)] for s in range(2)}
    for s, tr in trials.items():
        write_deap_subject(tr, data / f"synthetic_s{s + 1:02d}.dat")
    c = build_corpus(f"deap:{data}", cache_dir=tmp_path / "cache", workers=1)
    assert c.X.shape[:3] == (4, 10, 40) and c.is_synthetic  # the files say they are synthetic
    assert len(set(c.subjects.tolist())) == 2 and c.subjects[0] == c.subjects[1] != c.subjects[2]
    np.testing.assert_allclose(c.labels[0], [trials[0][0].valence, trials[0][0].arousal], atol=1e-6)
    assert not c.artifact_known.any() and c.artifacts.sum() == 0


def test_prune_cache_keeps_the_newest(tmp_path):
    import os

    from mmqnet_core.datasets.corpus import prune_cache

    for i in range(6):
        f = tmp_path / f"corpus_{i}.npz"
        f.write_bytes(b"x")
        os.utime(f, (1000 + i, 1000 + i))
    (tmp_path / "other.npz").write_bytes(b"x")
    deleted = prune_cache(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus_4.npz", "corpus_5.npz", "other.npz"]
    assert len(deleted) == 4
