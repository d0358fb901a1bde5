"""Small model configs shared by the model tests."""

from __future__ import annotations

import pytest
import torch

from mmqnet_core.model import MMQNetConfig

#: A DEAP-like layout in miniature: 6 EEG tokens, 2 EOG, 1 GSR, 1 TEMP; slow signals define fewer columns.
GROUPS = ("EEG",) * 6 + ("EOG", "EOG", "GSR", "TEMP")
NAMES = ("Fp1", "AF3", "F3", "F7", "O1", "O2", "hEOG", "vEOG", "GSR", "Temp")
N_FEATURES = 6
VALID = tuple(
    tuple(True for _ in range(N_FEATURES)) if g in ("EEG", "EOG") else (True,) * 3 + (False,) * (N_FEATURES - 3)
    for g in GROUPS
)
N_WINDOWS = 4

VARIANTS = {
    "full": {},
    "no-modality-queries": {"use_modality_queries": False},
    "no-category-queries": {"use_category_queries": False},
    "no-interference-queries": {"use_interference_queries": False},
    "regression": {"regression": True},
    "full-context-decoder2": {"context_windows": 3, "recon_context_windows": 1, "n_dec_layers": 2},
    "legacy": {"fusion": "legacy"},  # how checkpoints written before the interacting families are read
}


def small_config(**kwargs) -> MMQNetConfig:
    base = dict(
        token_groups=GROUPS, feature_valid=VALID, token_names=NAMES, n_windows=N_WINDOWS, d_model=32,
        n_heads=4, n_enc_layers=2, n_dec_layers=1, dropout=0.0,
    )
    base.update(kwargs)
    return MMQNetConfig(**base)


def make_batch(batch: int = 3, seed: int = 0, rate: float = 0.3, config: MMQNetConfig | None = None):
    """Random normalised features and a random data mask that leaves every sample something visible."""
    cfg = config or small_config()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cfg.n_windows, cfg.n_tokens, cfg.n_features, generator=g)
    missing = torch.rand(batch, cfg.n_windows, cfg.n_tokens, generator=g) < rate
    missing[:, 0, 0] = False
    return x, missing


@pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
def variant(request) -> MMQNetConfig:
    return small_config(**VARIANTS[request.param])


@pytest.fixture(autouse=True)
def _one_thread():
    """The test models are tiny: one thread is faster than two and is not slowed by other processes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
