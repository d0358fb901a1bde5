"""Channel types of clinical and polysomnography labels (session 12 audit). Before: TUH/Natus-style labels put
"EEG " before every channel, so "EEG EKG1-REF" (the ECG) and "EEG LOC-REF" / "EEG ROC-REF" (the eye leads) and
"EEG PHOTIC-REF" (the photic stimulator) were EEG and entered the average reference and the EEG features; the
AASM montage's eye leads "E1-M2" / "E2-M1", chin EMG "Chin1-Chin2" and the belt "ABD" / "Chest" were MISC, so the
EOG regression and the EMG/respiration features never saw them."""

from __future__ import annotations

import pytest

from mmqnet_core.io.modality import infer_modality
from mmqnet_core.recording import Modality as M


@pytest.mark.parametrize("label, expected", [
    # TUH EEG corpus / Natus exports: the EEG prefix yields to what follows it
    ("EEG EKG1-REF", M.ECG), ("EEG EKG-REF", M.ECG), ("EEG LOC-REF", M.EOG), ("EEG ROC-REF", M.EOG),
    ("EEG EMG-REF", M.EMG), ("EEG RESP1-REF", M.RESP), ("EEG PHOTIC-REF", M.MISC), ("EEG IBI", M.MISC),
    ("EEG BURSTS", M.MISC), ("EEG SUPPR", M.MISC),
    # ... but stays EEG for electrodes and unknown names
    ("EEG FP1-REF", M.EEG), ("EEG T3-REF", M.EEG), ("EEG A1-REF", M.EEG), ("EEG 26-REF", M.EEG),
    ("EEG T1-REF", M.EEG), ("EEG Fpz-Cz", M.EEG), ("EEG C3-A2", M.EEG),
    # AASM polysomnography montage
    ("E1-M2", M.EOG), ("E2-M1", M.EOG), ("E1:M2", M.EOG), ("ROC-A1", M.EOG), ("LOC-A2", M.EOG),
    ("Chin1-Chin2", M.EMG), ("Chin", M.EMG), ("CHIN2", M.EMG), ("LLeg", M.EMG), ("Leg 1", M.EMG), ("LEG/L", M.EMG),
    ("LAT", M.EMG), ("ABD", M.RESP), ("Chest", M.RESP), ("Nasal Pressure", M.RESP), ("Thermistor", M.RESP),
    # unchanged: a lone E1 says nothing, EXG channels keep their MAHNOB meaning, C3-M2 is EEG
    ("E1", M.MISC), ("EXG4", M.MISC), ("EXG1", M.ECG), ("GSR2", M.GSR), ("C3-M2", M.EEG), ("legacy", M.MISC),
])
def test_clinical_labels(label, expected):
    assert infer_modality(label) is expected
