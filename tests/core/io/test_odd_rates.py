"""Recordings at odd sampling rates through the CLI: cleaned where the rate allows it, else one specific
``error:`` line (never the last-resort "failed while ..." line of an unhandled exception)."""

from __future__ import annotations

import threading

from mmqnet_core.cli import main

from .helpers import write_edf


def test_eeg_recorded_too_slowly_for_the_muscle_band_is_cleaned_without_muscle_detection(tmp_path, capsys):
    """EEG at 32 Hz holds nothing above 15 Hz: muscle detection (20+ Hz) cannot run and is skipped with a note;
    before, the band 20-15.2 Hz reached scipy's filter design (ValueError: "Wn[0] must be less than Wn[1]")."""
    path = write_edf(tmp_path / "slow.edf", (("Fp1", 32.0, "uV"), ("C3", 32.0, "uV"), ("Cz", 32.0, "uV")),
                     duration_s=60.0)
    assert main(["preprocess", str(path), "-o", str(tmp_path / "slow.fif")]) == 0
    out = capsys.readouterr().out
    assert "no muscle detection: the EEG channels hold nothing above 15.2 Hz (recorded at 32 Hz" in out
    # the model's EEG features need 45 Hz: a specific error, not the last-resort line
    assert main(["analyze", str(path), "-o", str(tmp_path / "a")]) == 2
    for t in threading.enumerate():  # the model kept loading beside the failed analysis (the CLI exits at once)
        if t.name == "mmqnet-load-model":
            t.join(timeout=120)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: EEG band") and "Nyquist frequency 16.0 Hz" in err and "failed while" not in err


def test_a_channel_at_1_hz_beside_faster_ones(tmp_path, capsys):
    """One EEG channel at 1 Hz, one at 7 Hz and a GSR at 1000 Hz: cleaned (muscle detection skipped)."""
    path = write_edf(tmp_path / "odd.edf", (("Fp1", 1.0, "uV"), ("C3", 7.0, "uV"), ("GSR", 1000.0, "uS")),
                     duration_s=30.0)
    assert main(["preprocess", str(path), "-o", str(tmp_path / "odd.fif")]) == 0
    assert "no muscle detection" in capsys.readouterr().out
