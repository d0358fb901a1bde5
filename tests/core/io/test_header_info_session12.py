"""*Recording information* (Ctrl+I) and `mmqnet info`'s units "as recorded" (session 12 audit): header rows were
matched to channels by name, so a Latin-1 label ("C3\u00e9", decoded differently by edfio and mne) and duplicate
labels (made unique by mne: "Fp1-0", "Fp1-1") lost their unit, physical range, transducer and prefiltering (the
dialog said "V" and nothing else for them)."""

from __future__ import annotations

from mmqnet_core.io import load_recording
from mmqnet_core.io.header_info import recording_header

from ..bad_inputs.cases import edf_bytes


def test_header_rows_follow_the_channels_by_position(tmp_path):
    path = tmp_path / "odd.edf"
    path.write_bytes(edf_bytes(labels=("Fp1", "C3\u00e9", "Fp1", "GSR"), pmin=["-200", "-300", "-400", "0"],
                               pmax=["200", "300", "400", "40"], n_records=5))
    rec = load_recording(path)
    assert rec.ch_names[1] == "C3\u00e9" and rec.ch_names[0] != rec.ch_names[2]  # mne made the twins unique
    rows = recording_header(rec).channels
    assert [r.name for r in rows] == rec.ch_names
    assert [r.unit for r in rows] == ["uV", "uV", "uV", "uS"]
    assert [r.physical_range for r in rows] == ["-200 .. 200", "-300 .. 300", "-400 .. 400", "0 .. 40"]


def test_the_file_field_is_the_full_path(tmp_path, monkeypatch):
    """`mmqnet-studio rec.edf` from the file's folder: *Recording information* said "File: rec.edf"."""
    (tmp_path / "rec.edf").write_bytes(edf_bytes(n_records=3))
    monkeypatch.chdir(tmp_path)
    rec = load_recording("rec.edf")
    assert recording_header(rec).field("File") == str(tmp_path / "rec.edf")
