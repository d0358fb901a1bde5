"""Per-(token, feature) normalisation of model inputs, stored with the checkpoint.

The model sees z-scored features; the statistics come from the training data and travel in the checkpoint's
``config.json`` so that inference normalises exactly as training did and reconstructions can be shown in the
features' own units (:meth:`Normalizer.invert`).

Three normalisation *modes* exist (:data:`NORMALIZATION_MODES`, chosen by ``TrainConfig.normalization``):

``"global"``
    one :class:`Normalizer` fitted on the training side of the split, applied to everything;
``"subject"``
    every subject's windows z-scored with that subject's own statistics (training and evaluation), every
    analysed recording with its own statistics (inference). This removes per-subject offsets (gains, baseline
    alpha frequency, heart rate, skin-conductance level) that a global z-score keeps. Held-out subjects use
    their own statistics too: transductive, but unsupervised (no labels), as is standard in cross-subject EEG;
``"recording"``
    the same per trial (each trial its own statistics).

In the per-group modes a (token, feature) column with fewer than :data:`MIN_GROUP_WINDOWS` usable values in a
group falls back to the global statistics (:func:`group_normalizers`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, TypeVar

import numpy as np

from ..errors import ConfigError

if TYPE_CHECKING:
    import torch

# torch is not imported here: fitting statistics is numpy only, and the app fits a subject's statistics in a
# process that must never import torch (its model runs in a helper process: inference.model_process). A tensor
# given to a Normalizer means torch is imported already.
ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")


def _is_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)

from .format import MIN_GROUP_WINDOWS, NORMALIZATION_MODES  # noqa: E402,F401 (re-exported)


@dataclass(frozen=True, eq=False)
class Normalizer:
    """Mean and standard deviation of every (token, feature) column, in the features' units."""

    mean: np.ndarray  # (N, F) float32 mean over the training windows where the token is present
    std: np.ndarray  # (N, F) float32 standard deviation (> 0; 1 where a column is constant or never seen)

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        if mean.ndim != 2 or mean.shape != std.shape:
            raise ConfigError(
                f"Normalizer mean and std must both be (tokens, features) arrays, got {mean.shape} and {std.shape}."
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ConfigError("Normalizer statistics must be finite with std > 0; refit them on the training data.")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def shape(self) -> tuple[int, int]:
        """(N, F)."""
        return self.mean.shape  # type: ignore[return-value]

    @classmethod
    def fit(
        cls, values: np.ndarray, missing: np.ndarray | None = None, *, min_std: float = 1e-6,
        fallback: "Normalizer | None" = None, min_count: int = MIN_GROUP_WINDOWS,
    ) -> "Normalizer":
        """Statistics of ``values`` over all leading axes, ignoring missing tokens and non-finite values.

        Parameters
        ----------
        values
            (..., N, F) features, e.g. ``FeatureSet.values`` (T, N, F) or a stack (S, T, N, F).
        missing
            (..., N) bool, True = token absent (ignored); None = use every finite value.
        min_std
            Columns whose std is below this (constant or undefined columns) get std 1.
        fallback
            Statistics for columns with fewer than ``min_count`` usable values (e.g. the global normaliser
            when fitting one subject or recording); None = use whatever values there are.
        min_count
            Usable values a column needs for its own statistics (only with ``fallback``).
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim < 2:
            raise ConfigError(f"Normalizer.fit needs (..., tokens, features) values, got shape {values.shape}.")
        use = np.isfinite(values)
        if missing is not None:
            missing = np.asarray(missing, dtype=bool)
            if missing.shape != values.shape[:-1]:
                raise ConfigError(
                    f"Normalizer.fit: 'missing' must have shape {values.shape[:-1]}, got {missing.shape}."
                )
            use &= ~missing[..., None]
        n_f = values.shape[-2:]
        v = np.where(use, values, 0.0).reshape(-1, *n_f)  # (S, N, F)
        w = use.reshape(-1, *n_f).astype(np.float64)  # (S, N, F)
        count = w.sum(0)
        mean = v.sum(0) / np.maximum(count, 1)
        var = (w * (v - mean) ** 2).sum(0) / np.maximum(count, 1)
        std = np.sqrt(var)
        std = np.where((count > 1) & (std >= min_std), std, 1.0)
        if fallback is not None:
            if fallback.shape != tuple(n_f):
                raise ConfigError(f"Normalizer.fit: fallback statistics {fallback.shape} do not match the "
                                  f"(tokens, features) {tuple(n_f)} of the values.")
            few = count < max(int(min_count), 2)
            mean = np.where(few, fallback.mean, mean)
            std = np.where(few, fallback.std, std)
        return cls(mean=mean.astype(np.float32), std=std.astype(np.float32))

    @staticmethod
    def identity(n_tokens: int, n_features: int) -> "Normalizer":
        """A normaliser that changes nothing (mean 0, std 1)."""
        return Normalizer(np.zeros((n_tokens, n_features), np.float32), np.ones((n_tokens, n_features), np.float32))

    def _stats(self, like: ArrayT) -> tuple[Any, Any]:
        if like.shape[-2:] != self.mean.shape:
            raise ConfigError(
                f"Features of shape {tuple(like.shape)} do not match the normaliser's (tokens, features) "
                f"{self.mean.shape}: use the checkpoint made for this feature layout."
            )
        if _is_tensor(like):
            torch = sys.modules["torch"]
            return (torch.as_tensor(self.mean, device=like.device, dtype=like.dtype),
                    torch.as_tensor(self.std, device=like.device, dtype=like.dtype))
        return self.mean, self.std

    def apply(self, values: ArrayT, missing: ArrayT | None = None) -> ArrayT:
        """(values - mean) / std for (..., N, F) numpy arrays or tensors; tokens marked missing become 0.

        NaN in tokens that are not marked missing stay NaN (the model then refuses them with a clear error).
        """
        mean, std = self._stats(values)
        out = (values - mean) / std
        if _is_tensor(out):
            return out.masked_fill(missing[..., None], 0.0) if missing is not None else out
        out = out.astype(np.float32, copy=False)
        if missing is not None:
            out[np.asarray(missing, dtype=bool)] = 0.0
        return out

    def invert(self, values: ArrayT) -> ArrayT:
        """Back to the features' units: values * std + mean."""
        mean, std = self._stats(values)
        return values * std + mean

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Normalizer":
        try:
            return cls(mean=np.asarray(data["mean"], np.float32), std=np.asarray(data["std"], np.float32))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"Invalid normaliser statistics ({exc}): expected 'mean' and 'std' lists.") from None


def check_mode(mode: str) -> str:
    """Return ``mode`` when it is one of :data:`NORMALIZATION_MODES`, else raise :class:`ConfigError`."""
    if mode not in NORMALIZATION_MODES:
        raise ConfigError(
            f"Invalid value for 'normalization': allowed {', '.join(NORMALIZATION_MODES)}, got {mode!r}."
        )
    return mode


def group_normalizers(
    values: np.ndarray, missing: np.ndarray, groups: np.ndarray, fallback: Normalizer, *,
    min_count: int = MIN_GROUP_WINDOWS,
) -> dict[int, Normalizer]:
    """One :class:`Normalizer` per group (subject or trial) of a stack of trials.

    Parameters
    ----------
    values : ndarray, shape (n, T, N, F)
        Features of ``n`` trials in their own units.
    missing : ndarray, shape (n, T, N)
        True = token absent in that window (ignored, like padding windows).
    groups : ndarray, shape (n,)
        Group id of every trial (subject ids for ``"subject"``, ``arange(n)`` for ``"recording"``).
    fallback : Normalizer
        Statistics for the columns a group has fewer than ``min_count`` usable values of.
    min_count : int
        Usable windows a column needs in a group for the group's own statistics.

    Returns
    -------
    dict
        group id -> its Normalizer (statistics over all of the group's trials).
    """
    groups = np.asarray(groups)
    if groups.shape != (len(values),):
        raise ConfigError(f"group_normalizers: 'groups' must have shape ({len(values)},), got {groups.shape}.")
    return {int(g): Normalizer.fit(values[groups == g], missing[groups == g], fallback=fallback,
                                   min_count=min_count)
            for g in np.unique(groups)}


def normalize_groups(
    values: np.ndarray, missing: np.ndarray, groups: np.ndarray, fallback: Normalizer, *,
    min_count: int = MIN_GROUP_WINDOWS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-score every trial with its group's statistics (:func:`group_normalizers`).

    Returns
    -------
    x : ndarray, shape (n, T, N, F)
        float32 normalised features; missing tokens are 0.
    mean, std : ndarray, shape (n, N, F)
        The statistics used for every trial (to invert reconstructions: ``x * std + mean``).
    """
    groups = np.asarray(groups)
    norms = group_normalizers(values, missing, groups, fallback, min_count=min_count)
    mean = np.stack([norms[int(g)].mean for g in groups]) if len(groups) else np.zeros((0, *fallback.shape))
    std = np.stack([norms[int(g)].std for g in groups]) if len(groups) else np.ones((0, *fallback.shape))
    x = np.empty(np.shape(values), np.float32)
    for g, norm in norms.items():  # one group at a time: no (n, T, N, F) float64 temporaries
        sel = groups == g
        x[sel] = norm.apply(values[sel], missing[sel])
    return x, mean.astype(np.float32), std.astype(np.float32)
