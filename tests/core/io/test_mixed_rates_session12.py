"""A slow channel beside fast ones (session 12 audit): mne's FFT resampling (npad=0) wrapped a drifting channel's
end onto its start. A 4-Hz skin conductance rising 2 -> 5 uS over 2 min beside 256-Hz EEG read 2.95 uS off in its
last 5 s (0.42 uS in its first 5 s), a 1-Hz temperature ramp -0.27 degC/s instead of +0.01 in its last window, and
the browser drew a ringing temperature. Checked against linear interpolation of the file's samples (numpy)."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from mmqnet_core.io import load_recording

from .helpers import PYEDFLIB_DATA, write_edf

DUR = 120


def _gsr() -> np.ndarray:
    t4 = np.arange(DUR * 4) / 4
    return 2 + 3 * t4 / DUR + 0.2 * np.sin(2 * np.pi * t4 / 30)


def test_a_drifting_4_hz_gsr_is_not_wrapped_around(tmp_path):
    path = write_edf(tmp_path / "gsr4.edf", (("Fp1", 256.0, "uV"), ("Cz", 256.0, "uV"), ("GSR", 4.0, "uS")),
                     duration_s=DUR, data={"GSR": _gsr()})
    rec = load_recording(path)
    x = rec.raw.get_data(picks=["GSR"])[0]
    t = np.arange(x.size) / 256
    ref = np.interp(t, np.arange(DUR * 4) / 4, _gsr())
    err = np.abs(x - ref)
    quantum = 7.0 / 65535  # the EDF's 16-bit step over the physical range written by the helper
    assert err[: 5 * 256].max() < 0.01 + quantum  # was 0.42 uS
    assert err[-5 * 256:].max() < 0.01 + quantum  # was 2.95 uS
    assert any("ends matched" in n for n in rec.notes)


def test_a_1_hz_temperature_ramp_stays_a_ramp(tmp_path):
    temp = 33 + 0.01 * np.arange(60)
    path = write_edf(tmp_path / "t.edf", (("Fp1", 512.0, "uV"), ("Temp", 1.0, "degC")), duration_s=60,
                     data={"Temp": temp})
    x = load_recording(path).raw.get_data(picks=["Temp"])[0]
    t = np.arange(x.size) / 512
    assert np.abs(x - (33 + 0.01 * t))[:-512].max() < 1e-3  # was 0.45 degC at the end
    slope_last_window = np.polyfit(t[-1024:-512], x[-1024:-512], 1)[0]
    assert slope_last_window == pytest.approx(0.01, abs=1e-3)  # was -0.27 degC/s


@pytest.mark.parametrize("name", ["test_generator.bdf", "test_generator_datarec_generator_2.bdf"])
def test_away_from_the_ends_the_values_are_mnes(name):
    rec = load_recording(PYEDFLIB_DATA / name)
    ref = mne.io.read_raw_bdf(PYEDFLIB_DATA / name, preload=True, verbose="error").get_data()
    got = rec.raw.get_data()
    n = got.shape[1]
    mid = slice(n // 10, n - n // 10)
    for i in range(got.shape[0]):  # square, ramp, pink and white noise at 400-999 Hz beside 500-1000 Hz
        assert np.abs(got[i, mid] - ref[i, mid]).max() <= 1e-3 * np.abs(ref[i]).max()
