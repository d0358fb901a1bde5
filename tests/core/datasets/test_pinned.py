"""Pinned corpus builds: the shipped checkpoint's training corpus can be rebuilt on a fresh machine.

The reference ``data/pinned_c63d33_tiny.npz`` holds what commit 1720ce6's builder (the code that built the shipped
checkpoint's corpus ``c63d33c010288eda85b4``) made of a tiny synthetic configuration (1 subject x 2 trials x 20 s) on
the session-12 machine. If the pinned builder stops reproducing it (a library upgrade changes its numbers, the
commit is gone), the model card's recipe no longer rebuilds the card's corpus, and this test says so.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mmqnet_core.datasets.corpus import Corpus, build_corpus
from mmqnet_core.datasets.pinned import (PINNED, SHIPPED_CORPUS_KEY, build_pinned, corpus_digest, export_builder,
                                         repository_root, run_builder)
from mmqnet_core.datasets.synthetic import SynthConfig
from mmqnet_core.errors import ConfigError

REFERENCE = Path(__file__).parent / "data" / "pinned_c63d33_tiny.npz"
TINY = {"n_subjects": 1, "n_trials": 2, "trial_s": 20.0}
#: The EOG features session 6's blink detector changed.
BLINK_FEATURES = ("blink_rate", "blink_amp")
#: The PPG features session 14's beat times changed (pulses aligned with their neighbours' median pulse, RMSSD
#: without the intervals of missed or extra beats), and by how much at most on the tiny corpus (bpm, ms).
PPG_FEATURES = {"hr": 1.0, "rmssd": 5.0}


def _has_commit(commit: str) -> bool:
    try:
        root = repository_root()
    except ConfigError:
        return False
    out = subprocess.run(["git", "-C", str(root), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
    return out.returncode == 0


needs_history = pytest.mark.skipif(not _has_commit(PINNED[SHIPPED_CORPUS_KEY].commit),
                                   reason="the repository's history (commit 1720ce6) is not available here")


@pytest.fixture(scope="module")
def pinned_tiny(tmp_path_factory):
    """The pinned builder's corpus of the tiny configuration, and its report."""
    tmp = tmp_path_factory.mktemp("pinned")
    code = export_builder(PINNED[SHIPPED_CORPUS_KEY].commit, tmp / "code")
    report = run_builder(code, synth=TINY, cache_dir=tmp / "cache", workers=1, timeout=600)
    return Corpus.load(report["cache_file"]), report


def test_digest_sees_every_value_and_survives_a_save_and_load(tmp_path):
    from tests.core.training.conftest import toy_corpus

    c = toy_corpus(n_subjects=2, n_trials=2, n_windows=6)
    d = corpus_digest(c)
    assert len(d) == 16 and d == corpus_digest(c)
    assert corpus_digest(Corpus.load(c.save(tmp_path / "c.npz"))) == d
    x = c.X.copy()
    x[1, 2, 3, 4] = np.nextafter(x[1, 2, 3, 4], np.float32(np.inf))  # one value, one last bit
    assert corpus_digest(dataclasses.replace(c, X=x)) != d
    labels = c.labels.copy()
    labels[0, 1] += 1
    assert corpus_digest(dataclasses.replace(c, labels=labels)) != d
    missing = c.missing.copy()
    missing[0, 0, 0] = True
    assert corpus_digest(dataclasses.replace(c, missing=missing)) != d


@pytest.mark.slow
@needs_history
def test_the_pinned_builder_rebuilds_the_reference_and_names_the_shipped_corpus(pinned_tiny):
    corpus, report = pinned_tiny
    pin = PINNED[SHIPPED_CORPUS_KEY]
    # the exported commit's own code ran (not this tree's), and it names the default corpus as the checkpoint does
    assert "/code/mmqnet_core/" in report["module"]
    assert report["code"] == pin.code
    assert report["default_key"] == SHIPPED_CORPUS_KEY
    ref = np.load(REFERENCE)
    np.testing.assert_array_equal(corpus.missing, ref["missing"])
    np.testing.assert_array_equal(corpus.labels, ref["labels"])
    np.testing.assert_array_equal(corpus.artifacts, ref["artifacts"])
    np.testing.assert_allclose(corpus.X, ref["X"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(corpus.interference, ref["interference"], atol=1e-5)


@pytest.mark.slow
@needs_history
def test_the_current_builder_differs_from_the_pinned_one_only_in_the_blink_and_ppg_features(pinned_tiny):
    """What the model card states about rebuilding with the current code (Session 12): the same labels, missing
    tokens and every feature except the EOG blink features and the detected interference score; since session 14
    also the PPG heart rate and RMSSD, by less than 1 bpm and 5 ms (0.54 bpm and 2.3 ms measured)."""
    old, _ = pinned_tiny
    new = build_corpus("synthetic", synth_config=SynthConfig(**TINY), use_cache=False, workers=1)
    np.testing.assert_array_equal(new.labels, old.labels)
    np.testing.assert_array_equal(new.missing, old.missing)
    np.testing.assert_array_equal(new.artifacts, old.artifacts)
    eog = np.asarray(new.token_modalities) == "EOG"
    blink = np.zeros(new.n_features, bool)
    blink[[list(new.feature_names["EOG"]).index(f) for f in BLINK_FEATURES]] = True
    same = np.ones(new.X.shape[2:], bool)
    same[np.ix_(eog, blink)] = False
    ppg = np.asarray(new.token_modalities) == "PPG"
    for name, most in PPG_FEATURES.items():
        j = list(new.feature_names["PPG"]).index(name)
        same[ppg, j] = False
        assert np.nanmax(np.abs(new.X[:, :, ppg, j] - old.X[:, :, ppg, j])) <= most, name
    np.testing.assert_allclose(new.X[:, :, same], old.X[:, :, same], rtol=1e-5, atol=1e-4)
    changed = np.abs(new.X[:, :, eog][..., blink] - old.X[:, :, eog][..., blink]) > 1e-3
    assert changed.mean() > 0.2  # the blink detector changed: were this 0, the pinned build would be unneeded


def test_unknown_pins_and_missing_history_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="Unknown pinned corpus"):
        build_pinned("0123456789abcdef0123", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="not in a git repository"):
        repository_root(tmp_path)
    if _has_commit(PINNED[SHIPPED_CORPUS_KEY].commit):
        with pytest.raises(ConfigError, match="is not in the history"):
            export_builder("0" * 40, tmp_path / "x")


def test_a_cached_pinned_corpus_is_used_as_it_is(tmp_path):
    """No rebuild when corpus_<key>.npz is in the cache folder (git is not even asked); a file whose arrays are not
    the pinned ones is used with a warning that names both digests (other maths libraries may change last bits)."""
    from tests.core.training.conftest import toy_corpus

    target = toy_corpus(n_subjects=1, n_trials=1, n_windows=4).save(tmp_path / f"corpus_{SHIPPED_CORPUS_KEY}.npz")
    said = []
    assert build_pinned(SHIPPED_CORPUS_KEY, cache_dir=tmp_path, log=said.append) == target
    assert len(said) == 1 and said[0].startswith("warning:") and PINNED[SHIPPED_CORPUS_KEY].digest in said[0]
    assert corpus_digest(Corpus.load(target)) in said[0]


def test_the_shipped_checkpoint_names_its_pinned_training_corpus():
    """`mmqnet evaluate --checkpoint resources/checkpoint` evaluates on the corpus the checkpoint records: the pinned
    build whose evaluation reproduces the model card's tables."""
    from mmqnet_core.model.checkpoint import load_checkpoint

    root = Path(__file__).resolve().parents[3]
    _, meta = load_checkpoint(root / "resources" / "checkpoint")
    rec = meta.extra["training_corpus"]
    pin = PINNED[rec["key"]]
    assert rec["pinned"] is True and rec["key"] == SHIPPED_CORPUS_KEY
    assert (rec["builder_commit"], rec["code"], rec["digest"]) == (pin.commit, pin.code, pin.digest)


def test_corpus_identity_recomputes_the_cache_key(tmp_path):
    from mmqnet_core.datasets.pinned import corpus_identity

    c = build_corpus("synthetic", synth_config=SynthConfig(n_subjects=1, n_trials=1, trial_s=12.0),
                     cache_dir=tmp_path, workers=1)
    ident = corpus_identity(c)
    assert Path(c.config["cache_file"]).name == f"corpus_{ident['key']}.npz"
    assert ident["digest"] == corpus_digest(c) and ident["pinned"] is False and "builder_commit" not in ident
    from tests.core.training.conftest import toy_corpus

    assert corpus_identity(toy_corpus(n_subjects=1, n_trials=1))["key"] is None  # no build description
