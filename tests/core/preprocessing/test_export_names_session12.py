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
