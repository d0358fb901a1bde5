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


# --- per-group (subject / recording) normalisation ----------------------------------------------------------------
def _two_subjects(rng):
    """(n=6 trials, T=40, N=3, F=2): subject 0 around 10 (std 2), subject 1 around -5 (std 0.5)."""
    x = np.concatenate([rng.normal(10.0, 2.0, (3, 40, 3, 2)), rng.normal(-5.0, 0.5, (3, 40, 3, 2))])
    return x.astype(np.float32), np.zeros(x.shape[:-1], bool), np.repeat([0, 1], 3)


def test_group_statistics_are_each_subjects_own_and_ignore_missing_entries():
    from mmqnet_core.model.normalization import group_normalizers

    rng = np.random.default_rng(2)
    x, missing, subjects = _two_subjects(rng)
    missing[1, ::3, 0] = True
    x[missing] = 1e6  # garbage where missing: must not count
    glob = Normalizer.fit(x, missing)
    norms = group_normalizers(x, missing, subjects, glob)
    assert set(norms) == {0, 1}
    for s in (0, 1):
        sel = subjects == s
        vals = x[sel][:, :, 0, 0][~missing[sel][:, :, 0]]
        np.testing.assert_allclose(norms[s].mean[0, 0], vals.mean(), rtol=1e-5)
        np.testing.assert_allclose(norms[s].std[0, 0], vals.std(), rtol=1e-4)
    assert norms[0].mean[0, 0] > 9 and norms[1].mean[0, 0] < -4  # not the global mean (about 2.5)


def test_group_with_too_few_values_falls_back_to_global_statistics():
    rng = np.random.default_rng(3)
    x, missing, subjects = _two_subjects(rng)
    missing[subjects == 1, 5:, 2] = True  # subject 1 has token 2 in only 3 x 5 = 15 windows
    glob = Normalizer(np.full((3, 2), 4.0, np.float32), np.full((3, 2), 3.0, np.float32))
    few = Normalizer.fit(x[3:], missing[3:], fallback=glob, min_count=30)
    np.testing.assert_array_equal(few.mean[2], glob.mean[2])  # 15 < 30 values: global statistics
    np.testing.assert_array_equal(few.std[2], glob.std[2])
    assert few.mean[0, 0] < -4  # 120 values: the subject's own
    assert Normalizer.fit(x[3:], missing[3:], fallback=glob, min_count=10).mean[2, 0] < -4
    with pytest.raises(ConfigError, match=r"fallback statistics \(4, 4\) do not match .* \(3, 2\)"):
        Normalizer.fit(x, missing, fallback=Normalizer.identity(4, 4))


def test_normalize_groups_z_scores_each_subject_and_inverts_exactly():
    from mmqnet_core.model.normalization import normalize_groups

    rng = np.random.default_rng(4)
    x, missing, subjects = _two_subjects(rng)
    missing[0, :4, 1] = True
    z, mean, std = normalize_groups(x, missing, subjects, Normalizer.fit(x, missing))
    assert z.dtype == np.float32 and z.shape == x.shape and mean.shape == std.shape == (6, 3, 2)
    assert (z[missing] == 0).all()
    for s in (0, 1):
        zs = z[subjects == s][~missing[subjects == s]]  # (values, F)
        np.testing.assert_allclose(zs.mean(0), 0.0, atol=1e-4)
        np.testing.assert_allclose(zs.std(0), 1.0, atol=1e-3)
    back = z * std[:, None] + mean[:, None]
    np.testing.assert_allclose(back[~missing], x[~missing], rtol=1e-5, atol=1e-4)


def test_normalization_mode_is_checked():
    from mmqnet_core.model.normalization import check_mode, group_normalizers

    assert check_mode("subject") == "subject"
    with pytest.raises(ConfigError, match="'normalization': allowed global, subject, recording, got 'trial'"):
        check_mode("trial")
    with pytest.raises(ConfigError, match=r"'groups' must have shape \(2,\)"):
        group_normalizers(np.zeros((2, 3, 1, 1)), np.zeros((2, 3, 1), bool), np.zeros(3), Normalizer.identity(1, 1))
