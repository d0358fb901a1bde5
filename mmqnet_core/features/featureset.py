"""The result of feature extraction: a (windows x tokens x features) array with its description."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import numpy as np

from ..errors import ConfigError
from ..recording import Modality
from .config import FeatureConfig
from .layout import Token

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True)
class FeatureSet:
    """Window features of every token.

    Shapes: T windows, N tokens, F = the largest number of features of any modality in the layout. Token n of
    modality m uses columns ``0 .. len(feature_names[m]) - 1``; the rest are 0 and ``valid[n, f]`` is False.
    """

    values: np.ndarray  # (T, N, F) float32; undefined columns and missing token-windows hold 0
    valid: np.ndarray  # (N, F) bool: column f is defined for token n
    missing: np.ndarray  # (T, N) bool: token n has no usable data in window t (absent, NaN, flat, not computable)
    tokens: tuple[Token, ...]  # (N,) the bound layout; channel None = absent from the recording
    feature_names: Mapping[Modality, tuple[str, ...]]  # column names per modality present in the layout
    feature_units: Mapping[Modality, tuple[str, ...]]  # column units per modality, same order
    waveform: Mapping[Modality, slice]  # columns holding the downsampled waveform (GSR, RESP, TEMP)
    window_starts: np.ndarray  # (T,) window start times, s (on the recording clock)
    window_s: float  # window length, s
    sfreq: float  # sampling rate of the signals the features came from, Hz
    config: FeatureConfig  # the configuration used
    interference: np.ndarray  # (T,) float in [0, 1]: per-window interference score (see extract_features)

    def __post_init__(self) -> None:
        t, n, f = self.values.shape
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
            In both, values of missing token-windows are NaN (they are 0 in :attr:`values`).

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
                    cols[f"{tok.name}:{name}"] = np.where(self.missing[:, n], np.nan, self.values[:, n, f])
                cols[f"{tok.name}:missing"] = self.missing[:, n]
            return pd.DataFrame(cols)
        parts = []
        for n, tok in enumerate(self.tokens):
            names = self.columns(n)
            units = self.feature_units[tok.modality]
            k = len(names)
            vals = np.where(self.missing[:, n, None], np.nan, self.values[:, n, :k])  # (T, k)
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
