"""Small corpora for the training / evaluation tests."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.datasets.corpus import ARTIFACT_TYPES, Corpus


def toy_corpus(n_subjects: int = 4, n_trials: int = 6, n_windows: int = 16, seed: int = 0) -> Corpus:
    """A random corpus (labelled SYNTHETIC) whose valence drives EEG column 0 and arousal the GSR level.

    Built without the signal pipeline so that loop / split / evaluation tests stay fast.
    """
    rng = np.random.default_rng(seed)
    mods = ("EEG",) * 6 + ("EOG", "GSR")
    n_tok, n_feat = len(mods), 5
    n = n_subjects * n_trials
    labels = rng.uniform(1, 9, (n, 2)).astype(np.float32)
    x = rng.normal(size=(n, n_windows, n_tok, n_feat)).astype(np.float32)
    x[:, :, :6, 0] += (labels[:, None, None, 0] - 5) * 0.6
    x[:, :, 7, 0] += (labels[:, None, 1] - 5) * 0.6
    valid = np.ones((n_tok, n_feat), bool)
    valid[7, 3:] = False
    x[:, :, ~valid] = 0.0
    return Corpus(
        X=x, missing=np.zeros((n, n_windows, n_tok), bool),
        interference=rng.random((n, n_windows)).astype(np.float32),
        artifacts=(rng.random((n, n_windows, len(ARTIFACT_TYPES))) < 0.1).astype(np.float32),
        artifact_known=np.ones(n, bool), labels=labels,
        subjects=np.repeat(np.arange(n_subjects), n_trials), trials=np.tile(np.arange(n_trials), n_subjects),
        n_windows=np.full(n, n_windows), token_names=tuple(f"c{i}" for i in range(n_tok)), token_modalities=mods,
        valid=valid, feature_names={m: tuple("abcde") for m in set(mods)}, feature_units={}, waveform={},
        window_s=1.0, step_s=1.0, source="synthetic", is_synthetic=True, config={},
    )


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One torch thread: on a busy 2-core machine OpenMP spinning makes 2 threads many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def corpus() -> Corpus:
    return toy_corpus()


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory) -> Corpus:
    """The real pipeline on 2 SYNTHETIC subjects x 4 trials x 20 s (cached in a temporary folder)."""
    from mmqnet_core.datasets.corpus import build_corpus
    from mmqnet_core.datasets.synthetic import SynthConfig

    cache = tmp_path_factory.mktemp("corpus_cache")
    return build_corpus("synthetic", synth_config=SynthConfig(n_subjects=2, n_trials=4, trial_s=20.0),
                        cache_dir=cache, workers=1)
