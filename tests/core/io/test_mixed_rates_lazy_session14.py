"""A slow channel beside fast ones in a file read lazily (session 14): files whose channels at the top rate exceed
:data:`PRELOAD_MIXED_RATE_BYTES` (256 MB: e.g. a long 512-Hz EEG with a 4-Hz GSR) are read span by span, and mne
resampled each span alone with an FFT, ringing at every span's ends (0.42 uS on a drifting GSR at the browser's
page ends); the whole-file path was fixed in session 12 (test_mixed_rates_session12.py). The threshold is set to 0
here so that a small file takes the lazy path. Checked against linear interpolation of the file's samples (numpy)
and against the whole-file read of the same file."""

from __future__ import annotations

import mne
import numpy as np
import pytest

import mmqnet_core.io.edf as edf_module
from mmqnet_core.io import load_recording

from .helpers import write_edf

DUR = 120
TOP = 256


def _gsr() -> np.ndarray:
    t4 = np.arange(DUR * 4) / 4
    return 2 + 3 * t4 / DUR + 0.2 * np.sin(2 * np.pi * t4 / 30)


def _mne(path, names: list[str]) -> np.ndarray:
    """mne's whole read of the channels ``names`` alone (one rate: nothing resampled)."""
    read = mne.io.read_raw_bdf if path.suffix == ".bdf" else mne.io.read_raw_edf
    return read(path, include=names, preload=True, verbose="error").get_data()


@pytest.fixture
def lazy(monkeypatch):
    monkeypatch.setattr(edf_module, "PRELOAD_MIXED_RATE_BYTES", 0)


@pytest.mark.parametrize("kind", ["edf", "bdf"])
def test_a_page_of_a_slow_channel_is_its_samples_interpolated_at_any_start(tmp_path, lazy, kind):
    path = write_edf(tmp_path / f"gsr4.{kind}", (("Fp1", TOP, "uV"), ("Cz", TOP, "uV"), ("GSR", 4.0, "uS")),
                     duration_s=DUR, data={"GSR": _gsr()}, kind=kind)
    rec = load_recording(path)
    assert not rec.raw.preload and rec.reader is not None
    assert any("interpolated linearly" in n for n in rec.notes)
    own = _mne(path, ["GSR"])[0]  # the channel's samples as stored, at its own rate
    quantum = 7.0 / (65535 if kind == "edf" else 2**24 - 1)  # the stored step over the physical range written
    t = np.arange(DUR * TOP) / TOP
    ref = np.interp(t, np.arange(own.size) / 4, own)  # linear interpolation of the file's samples
    g = rec.index("GSR")
    worst = 0.0
    for start in [0.0, 0.1, 7.3, 10.0, 59.99, 100.0, DUR - 10.0, DUR - 0.5]:  # pages, the last one included
        stop = min(DUR, start + 10.0)
        page = rec.get_data(start, stop, picks=[g])[0]
        a = int(round(start * TOP))
        worst = max(worst, float(np.abs(page - ref[a:a + page.size]).max()))
    assert worst < quantum  # was 0.42 uS at page ends (mne's FFT of each span alone)
    # the fast channels are read as before: mne's samples, bit for bit
    whole_fast = _mne(path, ["Fp1", "Cz"])
    np.testing.assert_array_equal(rec.get_data(37.0, 47.0, picks=[0, 1]), whole_fast[:, 37 * TOP:47 * TOP])


def test_pages_read_lazily_meet_the_whole_file_read(tmp_path, monkeypatch):
    """The lazy read and the whole-file (preloaded, FFT with ends matched) read of one file agree within the
    whole-file read's own distance from linear interpolation (session 12's bound: 0.01 uS + a step); pages side by
    side join without a seam, and a 1-Hz temperature ramp stays a ramp to the recording's last page."""
    temp = 33 + 0.01 * np.arange(DUR)
    path = write_edf(tmp_path / "mixed.edf", (("Fp1", TOP, "uV"), ("GSR", 4.0, "uS"), ("Temp", 1.0, "degC")),
                     duration_s=DUR, data={"GSR": _gsr(), "Temp": temp})
    whole = load_recording(path)
    assert whole.raw.preload
    monkeypatch.setattr(edf_module, "PRELOAD_MIXED_RATE_BYTES", 0)
    rec = load_recording(path)
    assert not rec.raw.preload
    pages = np.hstack([rec.get_data(s, s + 10.0, picks=[1, 2]) for s in np.arange(0.0, DUR, 10.0)])
    ref = whole.get_data(picks=[1, 2])
    assert np.abs(pages[0] - ref[0]).max() < 0.01 + 7.0 / 65535  # GSR, uS (was 0.42 at page ends)
    t = np.arange(DUR * TOP) / TOP
    ramp = 33 + 0.01 * np.minimum(t, DUR - 1)  # after its last sample the value is held
    assert np.abs(pages[1] - ramp).max() < 2e-3  # degC, the 16-bit step of the range written is 1.9e-3
    assert np.abs(np.diff(pages[0])).max() < 0.02 / TOP * 4  # no jump where two pages meet


def test_a_slow_trigger_channel_is_held_not_interpolated(tmp_path, lazy):
    codes = np.zeros(DUR * 8)
    codes[80:88] = 5
    path = write_edf(tmp_path / "trig.edf", (("Fp1", TOP, "uV"), ("Status", 8.0, "")), duration_s=DUR,
                     data={"Status": codes})
    rec = load_recording(path)
    status = rec.get_data(9.0, 12.0, picks=[rec.index("Status")])[0]
    assert set(np.unique(status)) <= {0.0, 5.0}  # no 2.5 between two codes
    assert np.count_nonzero(status == 5) == TOP  # 1 s of 5 (8 samples at 8 Hz), held at 256 Hz


@pytest.mark.parametrize("rate", [128.0, 256.0])
def test_an_eeg_channel_at_a_fraction_of_the_top_rate_keeps_its_band(tmp_path, monkeypatch, rate):
    """A 128- or 256-Hz EEG channel beside 512-Hz ones, read lazily: linear interpolation between its own samples
    took 11.0 / 2.9 uV off a 30-uV 35-Hz rhythm (37 / 10 %); it is resampled band-limited as the whole-file path
    does, with context read around each page, so pages at any start meet the whole-file read and the truth."""
    top = 512

    def signal(t):
        return 30 * np.sin(2 * np.pi * 35 * t) + 20 * np.sin(2 * np.pi * 10 * t + 0.3) + 5 * t / DUR

    own_t = np.arange(int(DUR * rate)) / rate
    path = write_edf(tmp_path / "eeg.bdf", (("Fp1", top, "uV"), ("O1", rate, "uV")), duration_s=DUR,
                     data={"O1": signal(own_t)}, kind="bdf")
    whole = load_recording(path)
    assert whole.raw.preload
    ref = whole.get_data(picks=[1])[0] * 1e6
    monkeypatch.setattr(edf_module, "PRELOAD_MIXED_RATE_BYTES", 0)
    rec = load_recording(path)
    assert not rec.raw.preload
    truth = signal(np.arange(DUR * top) / top)
    inner = slice(5 * top, (DUR - 5) * top)  # the ends are the whole-file FFT's own (the same here, tested below)
    for first in (0.0, 3.3, 7.77):
        starts = np.arange(first, DUR - 10.0 + 1e-9, 10.0)
        a = int(round(first * top))
        pages = np.hstack([rec.get_data(s, s + 10.0, picks=[1])[0] * 1e6 for s in starts])
        sl = slice(max(inner.start - a, 0), inner.stop - a)
        assert np.abs(pages[sl] - truth[a:a + pages.size][sl]).max() < 0.1  # uV; linear: 11.0 / 2.9
        assert np.abs(pages[sl] - ref[a:a + pages.size][sl]).max() < 0.1
    last = rec.get_data(DUR - 10.0, DUR, picks=[1])[0] * 1e6
    assert np.abs(last - ref[-last.size:]).max() < 0.05 * np.abs(ref).max()  # the recording's last page
