"""Preprocessing: power-line removal, band-pass per modality, EOG removal and interference detection.

``preprocess(recording, config)`` turns a span of a :class:`~mmqnet_core.recording.Recording` into a
:class:`PreprocessResult`: the original signals resampled to the output rate (``raw``), the cleaned signals on
the same grid (``cleaned``), the interference spans found on the way (``BAD_muscle``, ``BAD_flat``,
``BAD_jump``, ``BAD_nan``) and a human-readable log of the steps. :func:`save_cleaned` writes the cleaned
signals to .fif, .npz, .edf or .bdf with a JSON sidecar. ``preprocess(..., masks=MaskSet)`` treats masked
channels and segments as missing data in every step; :func:`cached_preprocess` / :class:`CleaningCache` clean
each (recording, configuration, masks) once per process.
"""

from __future__ import annotations

from .cache import CleaningCache, cached_preprocess, default_cache
from .config import DEFAULT_BANDS, ELECTROPHYSIOLOGICAL, PreprocessConfig
from .detect import detect_line_freq
from .export import save_cleaned, steps_path
from .pipeline import MNE_CH_TYPES, PreprocessResult, preprocess

__all__ = [
    "CleaningCache",
    "cached_preprocess",
    "default_cache",
    "DEFAULT_BANDS",
    "ELECTROPHYSIOLOGICAL",
    "MNE_CH_TYPES",
    "PreprocessConfig",
    "PreprocessResult",
    "detect_line_freq",
    "preprocess",
    "save_cleaned",
    "steps_path",
]
