"""Cleaned signals of a recording with Latin-1 channel labels written to .fif/.edf/.bdf (session 12 audit).

EDF files in the wild carry labels such as "C3\u00e9" or "Temp K\u00f6rper"; FIF and EDF store ASCII labels
only, and ``mmqnet preprocess`` failed after the whole cleaning with "error: Could not write ...: 'ascii' codec
can't encode character '\\xe9'" (exit 2, nothing written)."""

from __future__ import annotations

import json

import mne
import pytest

from mmqnet_core.cli import main
from mmqnet_core.preprocessing.export import ascii_names

from ..bad_inputs.cases import edf_bytes

LABELS = ("Fp1", "Fp2", "C3\u00e9", "C4", "O1", "Temp K\u00f6rper", "\u00b5EMG", "Cz")


def test_ascii_names_drop_accents_and_stay_unique():
    assert ascii_names(["C3\u00e9", "\u00b5V", "\u03a9x", "Fp1", "C3e", "\u00c0"]) == [
        "C3e", "uV", "_x", "Fp1", "C3e-2", "A"]
    assert ascii_names(["Fp1", "Cz"]) == ["Fp1", "Cz"]


@pytest.mark.parametrize("suffix", [".fif", ".edf", ".bdf"])
def test_preprocess_writes_latin1_labels_in_ascii(tmp_path, capsys, suffix):
    src = tmp_path / "latin.edf"
    src.write_bytes(edf_bytes(labels=LABELS, ns=256, n_records=20))
    out = tmp_path / f"clean{suffix}"
    assert main(["preprocess", str(src), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "channel names written in ASCII" in text and "'C3\u00e9' -> 'C3e'" in text
    back = mne.io.read_raw(out, verbose="error")
    assert back.ch_names == ["Fp1", "Fp2", "C3e", "C4", "O1", "Temp Korper", "uEMG", "Cz"]
    side = json.loads((tmp_path / f"clean{suffix}.json").read_text(encoding="utf-8"))
    assert side["channel_names"]["C3e"] == "C3\u00e9" and side["channel_names"]["Temp Korper"] == "Temp K\u00f6rper"


def test_npz_keeps_the_recorded_names(tmp_path, capsys):
    import numpy as np

    src = tmp_path / "latin.edf"
    src.write_bytes(edf_bytes(labels=LABELS, ns=256, n_records=20))
    assert main(["preprocess", str(src), "-o", str(tmp_path / "c.npz")]) == 0
    assert "written in ASCII" not in capsys.readouterr().out
    with np.load(tmp_path / "c.npz") as z:
        assert list(z["ch_names"]) == list(LABELS)


# --- the cleaned file keeps the recording's clock time and its annotations ---------------------------------------
# Before: `mmqnet preprocess REC -o OUT.edf` wrote "start: 1985-01-01 00:00:00" (no date at all in .fif) and dropped
# every annotation of the recording (a reader's markers, stimuli): only the interference spans were written.

SUBSECOND = __import__("pyedflib").__file__.rsplit("/", 1)[0] + "/tests/data/test_subsecond.edf"


@pytest.mark.parametrize("suffix", [".fif", ".edf"])
def test_cleaned_file_starts_at_the_clock_time_of_its_first_sample(tmp_path, suffix):
    import datetime as dt

    from mmqnet_core.io import load_recording

    out = tmp_path / f"c{suffix}"
    # the first sample is at 04:05:56.394531; the span from 100 s starts 100 s later
    assert main(["preprocess", SUBSECOND, "-o", str(out), "--start", "100", "--stop", "300"]) == 0
    raw = mne.io.read_raw_fif(out, verbose="error") if suffix == ".fif" else load_recording(out).raw
    start = raw.info["meas_date"]
    assert start == dt.datetime(2020, 1, 24, 4, 7, 36, 394531, tzinfo=dt.timezone.utc)


def test_cleaned_file_keeps_the_recordings_annotations_in_the_span(tmp_path):
    out = tmp_path / "c.fif"
    assert main(["preprocess", SUBSECOND, "-o", str(out), "--start", "100", "--stop", "300"]) == 0
    ann = mne.io.read_raw_fif(out, verbose="error").annotations
    events = [(round(float(o), 3), d) for o, d in zip(ann.onset, ann.description) if not d.startswith("BAD_")]
    assert events == [(190.502, "XLEvent")]  # 290.502 s in the recording; XLSpike (1.95, 583.6 s) lie outside
