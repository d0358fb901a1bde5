"""PreprocessConfig: defaults, validation messages, JSON round trip."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.preprocessing import DEFAULT_BANDS, PreprocessConfig
from mmqnet_core.recording import Modality


def test_defaults_are_documented_bands():
    cfg = PreprocessConfig()
    assert cfg.line_freq is None and cfg.target_sfreq == 128.0 and cfg.eog_method == "regression"
    assert cfg.band_for("EEG") == (1.0, 45.0)
    assert cfg.band_for(Modality.GSR) == (None, 1.0)  # tonic level kept: no high-pass
    assert cfg.band_for(Modality.EMG) == (20.0, None)
    assert cfg.band_for(Modality.STIM) is None
    assert cfg.bands == DEFAULT_BANDS


@pytest.mark.parametrize("value", [55, 0, "50", float("nan")])
def test_line_freq_must_be_50_or_60(value):
    with pytest.raises(ConfigError, match=r"Invalid value for 'line_freq': allowed 50 or 60, got "):
        PreprocessConfig(line_freq=value)


def test_line_freq_message_is_exact():
    with pytest.raises(ConfigError, match=r"^Invalid value for 'line_freq': allowed 50 or 60, got 55\.$"):
        PreprocessConfig(line_freq=55)
    assert PreprocessConfig(line_freq=60).line_freq == 60.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eog_method": "pca"}, r"Invalid value for 'eog_method': allowed 'regression', 'ica', 'none', got 'pca'"),
        ({"filter_method": "fft"}, r"Invalid value for 'filter_method': allowed 'fir', 'iir', got 'fft'"),
        ({"target_sfreq": 0}, r"Invalid value for 'target_sfreq': must be a number > 0, got 0"),
        ({"muscle_threshold": -1.0}, r"Invalid value for 'muscle_threshold': must be a number > 0, got -1.0"),
        ({"muscle_band": (140, 110)}, r"Invalid value for 'muscle_band'"),
        ({"muscle_min_gap_s": -0.1}, r"Invalid value for 'muscle_min_gap_s': must be a number >= 0, got -0.1"),
        ({"ica_n_components": 1.5}, r"Invalid value for 'ica_n_components': must be an integer >= 1, got 1.5"),
        ({"bands": ((Modality.EEG, 45.0, 1.0),)}, r"Invalid band for EEG: low edge 45.0 Hz must be below high"),
        ({"bands": (("EEG", None, None),)}, r"Invalid band for EEG: give a low or a high edge"),
        ({"bands": (("EEG", 1, 45), ("eeg", 2, 30))}, r"modality EEG is listed twice"),
        ({"bands": (("STIM", 1, 45),)}, r"STIM channels are never filtered"),
        ({"bands": (("brain", 1, 45),)}, r"Invalid modality 'brain'"),
    ],
)
def test_invalid_values_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        PreprocessConfig(**kwargs)


def test_bands_accept_modality_names():
    cfg = PreprocessConfig(bands=(("eeg", 4, 45), ("EDA", None, 2)))
    assert cfg.band_for(Modality.EEG) == (4.0, 45.0)
    assert cfg.band_for(Modality.GSR) == (None, 2.0)
    assert cfg.band_for(Modality.EOG) is None


def test_json_round_trip():
    cfg = PreprocessConfig(line_freq=60, eog_method="ica", muscle_band=(90, 120), target_sfreq=256.0,
                           bands=(("EEG", 4, 45), ("TEMP", None, 0.1)))
    text = json.dumps(cfg.to_dict())
    again = PreprocessConfig.from_dict(json.loads(text))
    assert again == cfg
    assert replace(cfg, seed=3) != cfg


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ConfigError, match=r"Unknown preprocessing option\(s\) \['notch_hz'\]"):
        PreprocessConfig.from_dict({"notch_hz": 50})
