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

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` when it is first used (PEP 562)."""
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


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
