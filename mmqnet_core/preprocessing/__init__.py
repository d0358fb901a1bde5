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

from .._lazy import lazy_exports

# Exported names and the submodule of each, imported on first use: the display code (app start-up) imports
# display_filter and cache without paying for scipy.signal and mne's filters here.
_EXPORTS = {
    "CleaningCache": "cache",
    "cached_preprocess": "cache",
    "default_cache": "cache",
    "DEFAULT_BANDS": "config",
    "ELECTROPHYSIOLOGICAL": "config",
    "PreprocessConfig": "config",
    "detect_line_freq": "detect",
    "save_cleaned": "export",
    "steps_path": "export",
    "MNE_CH_TYPES": "pipeline",
    "PreprocessResult": "pipeline",
    "preprocess": "pipeline",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


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
