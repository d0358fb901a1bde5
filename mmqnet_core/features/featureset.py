"""The result of feature extraction: a (windows x tokens x features) array with its description."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import numpy as np

from ..errors import ConfigError
from ..recording import Modality
from .config import FeatureConfig
from .layout import Token
from .missing import MissingReason

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True)
class FeatureSet:
    """Window features of every token.

    Shapes: T windows, N tokens, F = the largest number of features of any modality in the layout. Token n of
    modality m uses columns ``0 .. len(feature_names[m]) - 1``; the rest are 0 and ``valid[n, f]`` is False.

    Missingness has two levels. ``missing[t, n]``: the whole token is unusable in window t, ``reason[t, n]``
    says why (:class:`~mmqnet_core.features.missing.MissingReason`). ``feature_valid[t, n, f]``: feature f of
    a present token could be computed there (False e.g. for the breathing rate of a window with no breath in
    its context, while the belt's depth and waveform stay valid).
    """

    values: np.ndarray  # (T, N, F) float32; 0 where feature_valid is False (undefined, missing or not computable)
    valid: np.ndarray  # (N, F) bool: column f is defined for token n
    missing: np.ndarray  # (T, N) bool: token n has no usable data in window t (absent, NaN, flat, no feature computable)
    tokens: tuple[Token, ...]  # (N,) the bound layout; channel None = absent from the recording
    feature_names: Mapping[Modality, tuple[str, ...]]  # column names per modality present in the layout
    feature_units: Mapping[Modality, tuple[str, ...]]  # column units per modality, same order
    waveform: Mapping[Modality, slice]  # columns holding the downsampled waveform (GSR, RESP, TEMP)
    window_starts: np.ndarray  # (T,) window start times, s (on the recording clock)
    window_s: float  # window length, s
    sfreq: float  # sampling rate of the signals the features came from, Hz
    config: FeatureConfig  # the configuration used
    interference: np.ndarray  # (T,) float in [0, 1]: per-window interference score (see extract_features)
    feature_valid: np.ndarray | None = None  # (T, N, F) bool: feature computed; None = valid & ~missing
    reason: np.ndarray | None = None  # (T, N) uint8 MissingReason; None = NO_CHANNEL / NO_DATA from missing

    def __post_init__(self) -> None:
        t, n, f = self.values.shape
        # derived again when absent, or when dataclasses.replace gave new values/missing of another length
        # (a slice of windows) but kept the old per-window arrays
        if self.feature_valid is not None and np.shape(self.feature_valid) != (t, n, f):
            object.__setattr__(self, "feature_valid", None)
        if self.reason is not None and np.shape(self.reason) != (t, n):
            object.__setattr__(self, "reason", None)
        if self.feature_valid is None:
            derived = np.asarray(self.valid, bool)[None] & ~np.asarray(self.missing, bool)[..., None]
            if derived.shape == (t, n, f):
                derived = derived & np.isfinite(self.values)
            object.__setattr__(self, "feature_valid", derived)
        if self.reason is None:
            absent = np.array([tok.channel is None for tok in self.tokens], dtype=bool)
            code = np.where(absent, MissingReason.NO_CHANNEL, MissingReason.NO_DATA).astype(np.uint8)
            reason = np.where(np.asarray(self.missing, bool), code[None, :], MissingReason.PRESENT)
            object.__setattr__(self, "reason", reason.astype(np.uint8))
        if self.feature_valid.shape != (t, n, f) or self.reason.shape != (t, n):
            raise ConfigError(
                f"Inconsistent FeatureSet: values {self.values.shape}, feature_valid {self.feature_valid.shape}, "
                f"reason {self.reason.shape}."
            )
        if self.valid.shape != (n, f) or self.missing.shape != (t, n) or len(self.tokens) != n:
            raise ConfigError(
                f"Inconsistent FeatureSet: values {self.values.shape}, valid {self.valid.shape}, "
                f"missing {self.missing.shape}, {len(self.tokens)} tokens."
            )
        if self.window_starts.shape != (t,) or self.interference.shape != (t,):
            raise ConfigError(
                f"Inconsistent FeatureSet: {t} windows but window_starts {self.window_starts.shape} "
                f"and interference {self.interference.shape}."
            )

    @property
    def n_windows(self) -> int:
        return self.values.shape[0]

    @property
    def n_tokens(self) -> int:
        return self.values.shape[1]

    @property
    def n_features(self) -> int:
        return self.values.shape[2]

    @property
    def window_centres(self) -> np.ndarray:
        """(T,) window centre times, s."""
        return self.window_starts + self.window_s / 2

    @property
    def token_names(self) -> list[str]:
        return [t.name for t in self.tokens]

    def columns(self, token: int) -> tuple[str, ...]:
        """Names of the defined columns of token index ``token``."""
        return self.feature_names[self.tokens[token].modality]

    def to_dataframe(self, *, wide: bool = False) -> "pd.DataFrame":
        """The features as a pandas DataFrame.

        Parameters
        ----------
        wide : bool
            False (default): long format, one row per (window, token, defined feature) with columns
            ``window_start`` (s), ``token``, ``channel``, ``modality``, ``feature``, ``unit``, ``value``,
            ``missing``, ``interference``. True: one row per window, columns ``window_start``,
            ``interference``, ``<token>:<feature>`` and ``<token>:missing``.
            In both, values of missing token-windows and features that could not be computed are NaN (they
            are 0 in :attr:`values`).

        Returns
        -------
        pandas.DataFrame
        """
        import pandas as pd

        t = self.n_windows
        if wide:
            cols: dict[str, np.ndarray] = {"window_start": self.window_starts, "interference": self.interference}
            for n, tok in enumerate(self.tokens):
                for f, name in enumerate(self.columns(n)):
                    cols[f"{tok.name}:{name}"] = np.where(self.feature_valid[:, n, f], self.values[:, n, f], np.nan)
                cols[f"{tok.name}:missing"] = self.missing[:, n]
            return pd.DataFrame(cols)
        parts = []
        for n, tok in enumerate(self.tokens):
            names = self.columns(n)
            units = self.feature_units[tok.modality]
            k = len(names)
            vals = np.where(self.feature_valid[:, n, :k], self.values[:, n, :k], np.nan)  # (T, k)
            parts.append(
                {
                    "window_start": np.repeat(self.window_starts, k),
                    "token": np.full(t * k, tok.name, dtype=object),
                    "channel": np.full(t * k, tok.channel, dtype=object),
                    "modality": np.full(t * k, tok.modality.value, dtype=object),
                    "feature": np.tile(np.array(names, dtype=object), t),
                    "unit": np.tile(np.array(units, dtype=object), t),
                    "value": vals.ravel(),
                    "missing": np.repeat(self.missing[:, n], k),
                    "interference": np.repeat(self.interference, k),
                }
            )
        keys = ["window_start", "token", "channel", "modality", "feature", "unit", "value", "missing", "interference"]
        df = pd.DataFrame({key: np.concatenate([p[key] for p in parts]) if parts else [] for key in keys})
        for key in ("token", "channel", "modality", "feature", "unit"):
            df[key] = df[key].astype("category")
        return df
