"""Voltage units spelled other than mne knows them (session 12 audit): mne scales "uV", "\u00b5V", "\u03bcV" and "mV"
to volts and leaves anything else as written, so an EEG whose header says "uv" or "UV" (some recorders write
upper or lower case only) came out in microvolt numbers under a unit "uv": 10^6 too large for every threshold,
feature ("nat (uV)") and the browser's µV/mm. Checked against the same digital data in a "uV" channel."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.io import load_recording

from ..bad_inputs.cases import edf_bytes

LABELS = ("Fp1", "Fz", "Cz", "Pz", "EMG", "GSR")


@pytest.mark.parametrize("n_gsr", [64, 16], ids=["one rate", "mixed rates (preloaded)"])
def test_other_spellings_of_microvolts_are_volts(tmp_path, n_gsr):
    units = ["uV", "uv", "UV", "microvolts", "nV", "uS"]
    path = tmp_path / "u.edf"
    wave = (3000 * np.sin(np.arange(640) / 5.0)).astype(np.int64).reshape(10, 64)  # the same digits in each
    data = np.concatenate([np.concatenate([wave[r]] * 5 + [np.full(n_gsr, 1000)]) for r in range(10)])
    path.write_bytes(edf_bytes(labels=LABELS, units=units, ns=[64] * 5 + [n_gsr], n_records=10, data=data))
    rec = load_recording(path)
    ref = rec.get_data(picks=[0])[0]  # "uV": mne's scaling
    assert 1e-5 < np.abs(ref).max() < 1e-3  # ~200 uV in volts
    for k in (1, 2, 3):
        np.testing.assert_allclose(rec.get_data(picks=[k])[0], ref, rtol=1e-12)
        np.testing.assert_allclose(rec.raw.get_data(picks=[k])[0], ref, rtol=1e-12)
        assert rec.channels[k].unit == "V"
    np.testing.assert_allclose(rec.get_data(picks=[4])[0], ref * 1e-3, rtol=1e-12)  # nV
    assert rec.channels[5].unit == "uS" and np.abs(rec.get_data(picks=[5])[0]).max() > 1  # not a voltage
    assert any("Units read as volts: Fz ('uv'), Cz ('UV'), Pz ('microvol'), EMG ('nV')" in n for n in rec.notes)


def test_an_eeg_without_unit_but_a_microvolt_range_is_read_in_microvolts(tmp_path):
    """No unit and a physical range of +-3200: volts would be absurd for EEG (it came out as 3200 "V")."""
    wave = (3000 * np.sin(np.arange(640) / 5.0)).astype(np.int64).reshape(10, 64)
    data = np.concatenate([np.concatenate([wave[r]] * 3) for r in range(10)])
    path = tmp_path / "blank.edf"
    path.write_bytes(edf_bytes(labels=("Fp1", "Cz", "Resp"), units=["uV", "", ""], pmin="-3200", pmax="3200",
                               ns=64, n_records=10, data=data))
    rec = load_recording(path)
    np.testing.assert_allclose(rec.get_data(picks=[1])[0], rec.get_data(picks=[0])[0], rtol=1e-12)
    assert rec.channels[1].unit == "V"
    assert rec.channels[2].unit == "" and np.abs(rec.get_data(picks=[2])[0]).max() > 100  # a belt: as written
    assert any("Cz ('': no unit, a range of 3200 read as uV)" in n for n in rec.notes)
