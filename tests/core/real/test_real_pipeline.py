"""The real 4-channel recording through the whole chain (issue 9): BDF file -> load -> preprocess -> features."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.features import extract_features
from mmqnet_core.io import load_recording
from mmqnet_core.preprocessing.pipeline import preprocess

from .realdata import heartpy_beats, medical, package_file

pytestmark = pytest.mark.skipif(package_file("pyphysio", "test_data", "medical.txt.bz2") is None
                                or package_file("heartpy", "data", "data.csv") is None,
                                reason="the real recordings come with the dev extra (pyphysio, heartpy)")


@pytest.fixture(scope="module")
def medical_bdf(tmp_path_factory):
    import edfio

    m = medical()
    sigs = []
    for key, label, unit in (("ECG", "ECG", "mV"), ("EDA", "EDA", "uS"), ("BVP", "BVP", ""), ("RESP", "Resp", "")):
        x = m.channels[key]
        sigs.append(edfio.BdfSignal(x, m.sfreq, label=label, physical_dimension=unit,
                                    physical_range=(float(x.min()) - 1, float(x.max()) + 1),
                                    digital_range=(-8388608, 8388607)))
    path = tmp_path_factory.mktemp("real") / "medical.bdf"
    edfio.Bdf(sigs, patient=edfio.Patient(name="X")).write(path)
    return path


def test_real_recording_features_are_present_and_right(medical_bdf):
    rec = load_recording(medical_bdf)
    res = preprocess(rec)
    # issue 9: the whole BVP row (11 spans) was BAD_jump on this clean recording
    assert not [a for a in res.interference if a.description == "BAD_jump"]
    fs = extract_features(res.cleaned, interference=res.interference)
    df = fs.to_dataframe(wide=True)
    assert not fs.missing.any()  # every channel is there in every window
    rate = df["Resp:rate"].to_numpy(float)
    assert np.isfinite(rate).mean() >= 0.9 and 12 <= np.nanmedian(rate) <= 24
    m = medical()
    for key, token in (("ECG", "ECG"), ("BVP", "BVP")):
        ref = 60.0 / np.median(np.diff(heartpy_beats(m.channels[key], m.sfreq)))  # heartpy, whole recording
        hr = df[f"{token}:hr"].to_numpy(float)
        assert np.isfinite(hr).all() and abs(np.median(hr) - ref) <= 3.0, (token, np.median(hr), ref)
