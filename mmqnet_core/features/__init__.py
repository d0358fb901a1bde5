"""Window features of physiological signals: the tokens the MMQ-Net model reads.

Signals are cut into windows (default 1 s, optional overlap). Every *token* (one channel slot of a layout such
as :data:`DEAP_LAYOUT`) gets a feature vector per window:

- EEG: differential entropy and PSD in theta/alpha/beta/gamma (optionally delta), vectorised over all
  windows and channels (:func:`eeg_band_features`, definitions in :mod:`.spectral`);
- EOG: blink rate/amplitude and band power; EMG: log RMS and mean frequency;
- PPG/ECG: heart rate, RMSSD, beat amplitude; RESP: breathing rate and depth; GSR: level, slope, SCR rate and
  amplitude; TEMP: level and slope; GSR, RESP and TEMP also keep a downsampled waveform (``wave_i``).

Typical use::

    result = preprocess(recording)
    fs = extract_features(result.cleaned, layout=DEAP_LAYOUT, interference=result.interference)
    fs.values   # (T windows, N tokens, F features), fs.missing (T, N), fs.interference (T,)
    fs.feature_valid  # (T, N, F): the feature could be computed (a breathing rate needs a breath nearby)
    fs.reason   # (T, N) MissingReason: why a token is missing (no channel, no data, detector found nothing)
"""

from __future__ import annotations

from .._lazy import lazy_exports

# Exported names and the submodule of each, imported on first use: the app's views import features.missing
# without pulling in the extractors (scipy.signal) at start-up.
_EXPORTS = {
    "DEFAULT_BANDS": "config",
    "DELTA_BAND": "config",
    "FeatureConfig": "config",
    "extract_features": "extract",
    "FeatureSet": "featureset",
    "MissingReason": "missing",
    "describe_hidden": "missing",
    "reason_counts": "missing",
    "DEAP_CHANNEL_NAMES": "layout",
    "DEAP_LAYOUT": "layout",
    "Token": "layout",
    "bind_layout": "layout",
    "layout_for": "layout",
    "normalise_name": "layout",
    "CANONICAL_UNITS": "peripheral",
    "EXTRACTORS": "peripheral",
    "ModalityExtractor": "peripheral",
    "WindowGrid": "spectral",
    "eeg_band_features": "spectral",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "CANONICAL_UNITS",
    "DEAP_CHANNEL_NAMES",
    "DEAP_LAYOUT",
    "DEFAULT_BANDS",
    "DELTA_BAND",
    "EXTRACTORS",
    "FeatureConfig",
    "FeatureSet",
    "MissingReason",
    "ModalityExtractor",
    "Token",
    "WindowGrid",
    "bind_layout",
    "describe_hidden",
    "eeg_band_features",
    "extract_features",
    "layout_for",
    "normalise_name",
    "reason_counts",
]
