"""Normalizer: statistics over present tokens only, apply/invert round trip for numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmqnet_core.errors import ConfigError
from mmqnet_core.model import Normalizer


def test_fit_ignores_missing_tokens_and_constant_columns():
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 2.0, size=(400, 3, 2))  # (T, N, F)
    values[:, 2, 1] = 7.0  # a constant column
    missing = np.zeros((400, 3), bool)
    missing[::2, 0] = True
    values[missing] = 1e9  # garbage where missing: must not count
    values[5, 1, 0] = np.nan  # a stray NaN is skipped as well
    norm = Normalizer.fit(values, missing)
    expected = values[~missing[:, 0], 0, 0]
    np.testing.assert_allclose(norm.mean[0, 0], expected.mean(), rtol=1e-5)
    np.testing.assert_allclose(norm.std[0, 0], expected.std(), rtol=1e-5)
    assert abs(norm.mean[1, 0] - np.nanmean(values[:, 1, 0])) < 1e-4
    assert norm.std[2, 1] == 1.0 and norm.mean[2, 1] == pytest.approx(7.0)


def test_apply_invert_round_trip_numpy_and_torch():
    rng = np.random.default_rng(1)
    values = rng.normal(3.0, 4.0, size=(2, 50, 4, 3)).astype(np.float32)  # (S, T, N, F)
    norm = Normalizer.fit(values)
    z = norm.apply(values)
    assert abs(z.mean()) < 1e-4 and abs(z.std() - 1) < 1e-3
    np.testing.assert_allclose(norm.invert(z), values, rtol=1e-5, atol=1e-4)
    zt = norm.apply(torch.from_numpy(values))
    np.testing.assert_allclose(zt.numpy(), z, rtol=1e-5, atol=1e-6)
    missing = np.zeros(values.shape[:-1], bool)
    missing[0, 0, 1] = True
    assert (norm.apply(values, missing)[0, 0, 1] == 0).all()
    assert (norm.apply(torch.from_numpy(values), torch.from_numpy(missing))[0, 0, 1] == 0).all()
    back = Normalizer.from_dict(norm.to_dict())
    np.testing.assert_array_equal(back.std, norm.std)


def test_errors_name_the_shapes():
    norm = Normalizer.identity(4, 3)
    with pytest.raises(ConfigError, match=r"do not match the normaliser's \(tokens, features\) \(4, 3\)"):
        norm.apply(np.zeros((2, 5, 3)))
    with pytest.raises(ConfigError, match="std > 0"):
        Normalizer(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ConfigError, match=r"'missing' must have shape \(10, 4\), got \(10, 3\)"):
        Normalizer.fit(np.zeros((10, 4, 3)), np.zeros((10, 3), bool))
