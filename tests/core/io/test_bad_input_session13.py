"""Session 13 (bad input end to end): files changed on disk while open, absurd DEAP values, EDF+ annotation
texts that are not UTF-8. Each test failed before its fix."""

from __future__ import annotations

import os
import re

import pytest

from mmqnet_core.errors import RecordingError
from mmqnet_core.io import load_recording

from .helpers import write_edf


def _truncate(path, n_bytes: int) -> None:
    with open(path, "r+b") as fid:
        fid.truncate(n_bytes)


def test_file_truncated_while_open_is_a_recording_error(tmp_path):
    """Another program truncating the file after it was opened: a RecordingError that says so (was a bare
    OSError, shown by the app as "An unexpected error occurred ... please report it")."""
    path = write_edf(tmp_path / "rec.edf", duration_s=60.0)
    rec = load_recording(path)
    assert rec.reader is not None  # the span reader, not mne, reads this file
    rec.get_data(0.0, 1.0)  # the file is open
    size = os.path.getsize(path)
    _truncate(path, size - (size - 256 * 4) * 2 // 3)  # 20 of the 60 one-second records left
    with pytest.raises(RecordingError, match=r"^Cannot read rec\.edf: it now holds 20 of the 60 data records it held "
                       r"when opened; the file was changed, truncated or moved on disk since it was opened\. Open it "
                       r"again"):
        rec.get_data(50.0, 59.0)


def test_file_deleted_before_its_first_read_is_a_recording_error(tmp_path):
    path = write_edf(tmp_path / "rec.edf", duration_s=10.0)
    rec = load_recording(path)
    assert rec.reader is not None
    path.unlink()
    with pytest.raises(RecordingError, match=r"^Cannot read rec\.edf: it cannot be opened again \(No such file or "
                       r"directory\); the file was changed, truncated or moved on disk since it was opened\."):
        rec.get_data(0.0, 1.0)


def _deap(tmp_path, scale: float):
    import pickle

    import numpy as np

    rng = np.random.default_rng(0)
    data = rng.normal(0, 10, (2, 40, 384))
    data[1, 5] *= scale  # trial 1, channel 6 (FC1)
    path = tmp_path / "s01.dat"
    path.write_bytes(pickle.dumps({"data": data, "labels": np.full((2, 4), 5.0)}))
    return path


def test_deap_values_no_recorder_stores_are_refused_with_the_trial_and_channel(tmp_path, capsys):
    """Values of 1e300 (a damaged file) reached the cleaning, which failed as "... failed while EEG reference and EOG
    removal (LinAlgError: SVD did not converge). The input may be damaged ... report it" (and the app cleaned for
    more than 10 s before failing)."""
    from mmqnet_core.cli import main

    path = _deap(tmp_path, 1e299)
    load_recording(path, trial=0)  # the other trial is fine
    with pytest.raises(RecordingError, match=r"^Cannot read s01\.dat: trial 1 holds values up to \d\.\d+e\+300 "
                       r"\(channel 'FC1'\), beyond what any recorder stores \(at most 1e\+12 in the file's units, "
                       r"µV for EEG\): the file is damaged or not DEAP data\.$"):
        load_recording(path, trial=1)
    assert main(["features", str(path), "--trial", "1", "-o", str(tmp_path / "f.csv")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: Cannot read s01.dat: trial 1 holds")


def test_deap_values_of_a_large_skin_resistance_are_read(tmp_path):
    path = _deap(tmp_path, 1e5)  # ~1e6: a skin resistance in ohms
    assert load_recording(path, trial=1).n_channels == 40


def _edfplus_with_tal(tmp_path, text: bytes):
    import numpy as np

    from ..bad_inputs.cases import edf_bytes

    n_records, ann_ns = 10, 60
    records = []
    for k in range(n_records):
        tal = f"+{k}\x14\x14\x00".encode()
        if k == 1:
            tal += b"+1.5\x152\x14" + text + b"\x14\x00"
        records.append(np.concatenate([np.zeros(256), np.frombuffer(tal.ljust(2 * ann_ns, b"\x00"), "<i2")]))
    path = tmp_path / "a.edf"
    path.write_bytes(edf_bytes(labels=("Fp1", "Fp2", "EDF Annotations"), ns=[128, 128, ann_ns], reserved="EDF+C",
                               n_records=n_records, data=np.concatenate(records)))
    return path


def test_edfplus_annotations_in_latin1_are_read_with_a_warning(tmp_path):
    """A recorder writing its annotation texts in its own code page: the file was refused with mne's "Encountered
    invalid byte in at least one annotations channel. You might want to try setting "encoding='latin1'"" (a
    parameter no user can set)."""
    rec = load_recording(_edfplus_with_tal(tmp_path, "Augen geöffnet".encode("latin-1")))
    assert [(a.onset, a.duration, a.description) for a in rec.annotations] == [(1.5, 2.0, "Augen geöffnet")]
    assert rec.warnings == ("a.edf: its EDF+C annotation texts are not UTF-8 text as the format requires; they were "
                            "read as Latin-1 and may show wrong characters (the signals are not affected).",)
    assert rec.n_channels == 2


def test_edfplus_annotations_in_utf8_give_no_warning(tmp_path):
    rec = load_recording(_edfplus_with_tal(tmp_path, "Augen geöffnet".encode("utf-8")))
    assert [a.description for a in rec.annotations] == ["Augen geöffnet"] and rec.warnings == ()


def test_an_all_flat_recording_says_so_not_unmask_a_channel(tmp_path, capsys):
    """Nothing masked, every channel flat: the error said "Every token ... is masked or missing ... unmask at least
    one channel" (and the app added "Unmask at least one channel (channel panel or Masks list ...)")."""
    import numpy as np

    from mmqnet_core.cli import main

    from ..bad_inputs.cases import edf_bytes

    path = tmp_path / "flat.edf"
    path.write_bytes(edf_bytes(labels=("Fp1", "Fp2", "F3", "F4", "GSR"), ns=128, n_records=40,
                               data=np.zeros(128 * 5 * 40)))
    assert main(["analyze", str(path), "-o", str(tmp_path / "out"), "--in-process"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: Nothing to analyse in flat.edf (SYNTHETIC): every channel the model reads is flat or empty (NaN) "
        "throughout, and nothing is masked. Check the electrodes and the file: a recording of flat channels holds no "
        "signal to analyse.")


@pytest.mark.parametrize("head, what", [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"%PDF-1.7\n", "a PDF document"),
    (b"PK\x03\x04\x14\x00", "a ZIP archive (or an Office document): unpack it and open the recording inside"),
    (b"\x1f\x8b\x08\x00", "gzip-compressed: unpack it and open the recording inside"),
    (b"\x80\x02}q\x00", "a Python pickle, as DEAP's sNN.dat files are: if it is one, name it with the .dat extension"),
    (b"time,Fp1,Cz\n0,1,2\n", "a text file"),
])
def test_a_file_of_another_kind_is_named(tmp_path, head, what):
    """Only the first bytes were quoted ("it starts with "\\x89PNG\\x0d\\x0a\\x1a\\x0a""): what they mean was left to
    the user."""
    path = tmp_path / "rec.edf"
    path.write_bytes(head + (bytes(300) if not head.startswith(b"time") else b""))
    with pytest.raises(RecordingError, match=r"^Cannot read rec\.edf: it is not an EDF or BDF file \(it starts with "
                       rf"\".*\"; it looks like {re.escape(what)}; an EDF file starts with"):
        load_recording(path)


def test_an_unknown_binary_file_is_not_guessed(tmp_path):
    path = tmp_path / "rec.edf"
    path.write_bytes(bytes(range(1, 255)) + bytes(100))
    with pytest.raises(RecordingError, match=r"it starts with \"\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\"; an EDF "):
        load_recording(path)


def test_a_mask_file_of_another_recording_is_said_on_a_line_of_its_own(tmp_path, capsys):
    """Masks naming channels the recording lacks, or spans after its end, were applied silently as nothing (the user
    believed channels hidden that the analysis read); and the core's warnings were printed on the progress bar's
    line ("analyze:  10%|█ | , opened rec.edf warning: ...")."""
    import json

    from mmqnet_core.cli import main

    from ..bad_inputs.cases import edf_bytes

    (tmp_path / "rec.edf").write_bytes(edf_bytes(labels=("Fp1", "Fp2", "F3", "F4", "GSR"), ns=128, n_records=40))
    (tmp_path / "m.json").write_text(json.dumps({"format": "mmqnet-masks", "version": 1, "channels": ["Zz9"],
                                                 "segments": [{"start_s": 1000, "end_s": 2000}]}))
    assert main(["analyze", str(tmp_path / "rec.edf"), "-o", str(tmp_path / "out"), "--masks",
                 str(tmp_path / "m.json"), "--in-process"]) == 0
    lines = [part for line in capsys.readouterr().err.split("\n") for part in line.split("\r")]
    assert (f"warning: {tmp_path / 'm.json'} names channel(s) 'Zz9' that rec.edf (SYNTHETIC) does not have and 1 segment(s) beyond "
            "its end (40 s; the first 1000-2000 s): those masks hide nothing. Check that the mask file belongs to "
            "this recording.") in lines
