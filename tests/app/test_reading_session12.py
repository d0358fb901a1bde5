"""Session 12's new-user walkthrough (Xvfb at 1600x1000 and 1024x700; the sample, pyedflib's EDF files, damaged
and odd files): one test per defect, each failing before its fix."""

from __future__ import annotations

import mne
import numpy as np

from mmqnet_core.recording import ChannelInfo, Modality, Recording

from .conftest import SFREQ, wait_loaded


def _flat_eeg_recording() -> Recording:
    """Four EEG channels that are all flat (electrodes off) beside a live GSR."""
    n = int(30 * SFREQ)
    data = np.zeros((5, n))
    data[4] = 5.0 + 0.5 * np.sin(2 * np.pi * 0.05 * np.arange(n) / SFREQ)
    names = ["Fp1", "Fz", "Cz", "Pz", "GSR"]
    info = mne.create_info(names, SFREQ, ["eeg"] * 4 + ["misc"])
    raw = mne.io.RawArray(data, info, verbose=False)
    channels = tuple(ChannelInfo(nm, Modality.EEG if k < 4 else Modality.GSR, SFREQ, "V" if k < 4 else "uS")
                     for k, nm in enumerate(names))
    return Recording(raw=raw, channels=channels, is_synthetic=True)


def test_flat_eeg_is_said_in_the_status_banner_not_only_in_the_log(window, qtbot, tmp_path, dialogs):
    """Every EEG channel flat: `mmqnet preprocess` says "warning: no usable EEG channel: all 4 are flat or bad",
    the app only logged it as an INFO line (the traces were shaded, nothing said why)."""
    window.set_recording(_flat_eeg_recording(), tmp_path / "flat.bdf")
    wait_loaded(qtbot, window, cleaned=True)
    qtbot.waitUntil(lambda: window.damage_label.isVisibleTo(window), timeout=5000)
    text = window.damage_label.text()
    assert text.startswith("\u26a0 Left out of the cleaning: channel(s) flat or NaN") and "(+1 more)" in text
    assert "no usable EEG channel: all 4 are flat or bad" in window.damage_label.toolTip()
    window.show_damage_details()
    assert dialogs[-1]["title"].startswith("Data left out: ")
    assert "no usable EEG channel" in dialogs[-1]["informative"] and "mask those channels" in dialogs[-1]["text"]


def test_go_to_a_clock_time_on_any_day_of_a_multi_day_recording():
    """A 72-h ambulatory EEG: "@10:00:00" always landed on the first day (10 h 10 min in) and there was no way to
    go to 10:00 of the third day by clock time; now "@YYYY-MM-DD hh:mm[:ss]" names the day."""
    import datetime as dt

    import pytest

    from app.browser_state import parse_time

    start = dt.datetime(2024, 3, 1, 23, 50, 0, tzinfo=dt.timezone.utc)
    three_days = 3 * 86400.0
    assert parse_time("@10:00:00", duration_s=three_days, start=start) == pytest.approx(36600.0)
    assert parse_time("@2024-03-03 10:00:00", duration_s=three_days, start=start) == pytest.approx(123000.0)
    assert parse_time("@2024-03-03 10:00", duration_s=three_days, start=start) == pytest.approx(123000.0)
    assert parse_time("@2024-03-02T00:00:01.5", duration_s=three_days, start=start) == pytest.approx(601.5)
    with pytest.raises(ValueError, match="outside the recording, which lasts 72:00:00 .* from 2024-03-01 23:50:00"):
        parse_time("@2024-03-09 10:00:00", duration_s=three_days, start=start)
    with pytest.raises(ValueError, match="day is out of range"):
        parse_time("@2024-02-30 10:00", duration_s=three_days, start=start)
    with pytest.raises(ValueError, match="hour must be in 0..23"):
        parse_time("@2024-03-02 25:00:00", duration_s=three_days, start=start)
    with pytest.raises(ValueError, match="has no start time"):
        parse_time("@2024-03-02 10:00:00", duration_s=three_days, start=None)
