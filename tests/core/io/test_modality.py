"""Modality inference from channel labels."""

from __future__ import annotations

import pytest

from mmqnet_core.io import infer_modality
from mmqnet_core.io.deap import DEAP_CHANNEL_NAMES
from mmqnet_core.io.modality import is_eeg_electrode
from mmqnet_core.recording import Modality as M

TABLE = [
    # 10-20 / 10-10 / 10-05 names, alone, prefixed and bipolar
    ("Fp1", M.EEG), ("AF3", M.EEG), ("Fz", M.EEG), ("Cz", M.EEG), ("O2", M.EEG), ("T7", M.EEG),
    ("FCz", M.EEG), ("FFC1h", M.EEG), ("TP10", M.EEG), ("T3", M.EEG), ("fp2", M.EEG), ("POz", M.EEG),
    ("EEG Fpz-Cz", M.EEG), ("EEG Pz-Oz", M.EEG), ("Fp1-F7", M.EEG), ("C3-A2", M.EEG), ("O1:M2", M.EEG),
    ("Cz-REF", M.EEG), ("EEG", M.EEG),
    # DEAP
    ("hEOG", M.EOG), ("vEOG", M.EOG), ("zEMG", M.EMG), ("tEMG", M.EMG), ("GSR", M.GSR),
    ("Respiration belt", M.RESP), ("Resp", M.RESP), ("Plethysmograph", M.PPG), ("Plet", M.PPG),
    ("Temperature", M.TEMP), ("Temp", M.TEMP),
    # MAHNOB-HCI
    ("EXG1", M.ECG), ("EXG2", M.ECG), ("EXG3", M.ECG), ("EXG4", M.MISC), ("EXG5", M.MISC), ("EXG8", M.MISC),
    ("GSR1", M.GSR), ("GSR2", M.GSR), ("Erg1", M.MISC), ("Erg2", M.MISC), ("Status", M.STIM),
    # vendors
    ("EKG", M.ECG), ("ECG", M.ECG), ("ECG II", M.ECG), ("EDA", M.GSR), ("BVP", M.PPG), ("PPG", M.PPG),
    ("Pleth", M.PPG), ("SpO2", M.MISC), ("Trigger", M.STIM), ("STI 014", M.STIM), ("EMG chin", M.EMG),
    ("EOG left", M.EOG), ("LOC", M.EOG), ("Skin conductance", M.GSR), ("Thorax belt", M.RESP),
    ("TEMP rectal", M.TEMP),
    # unknown -> MISC, never EEG
    ("sine 8 Hz", M.MISC), ("pink noise", M.MISC), ("Accel X", M.MISC), ("", M.MISC), ("F11", M.MISC),
    ("E1", M.MISC),
]


@pytest.mark.parametrize(("name", "expected"), TABLE)
def test_infer_modality_table(name, expected):
    assert infer_modality(name) is expected


def test_deap_channels_are_32_eeg_then_peripherals():
    mods = [infer_modality(c) for c in DEAP_CHANNEL_NAMES]
    assert mods[:32] == [M.EEG] * 32
    assert mods[32:] == [M.EOG, M.EOG, M.EMG, M.EMG, M.GSR, M.RESP, M.PPG, M.TEMP]


def test_mne_type_is_a_fallback_only():
    assert infer_modality("X17", mne_type="eog") is M.EOG
    assert infer_modality("X17") is M.MISC
    # the label wins over the mne type
    assert infer_modality("Fp1", mne_type="misc") is M.EEG


@pytest.mark.parametrize(("label", "ok"), [("Fp1-F7", True), ("C3", True), ("C3-X", False), ("Fp11", False)])
def test_is_eeg_electrode(label, ok):
    assert is_eeg_electrode(label) is ok
