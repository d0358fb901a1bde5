"""JSON sidecar: round trip, atomic save, error messages, recording mismatch, sidecar paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmqnet_core import fileio
from mmqnet_core.errors import MaskError
from mmqnet_core.masking import MaskSet, MaskWarning, SegmentMask, sidecar_path

MASKS = MaskSet(
    channels={"GSR", "Temp"},
    segments=(
        SegmentMask(1.25, 2.5, ("Fp1", "Fp2")),
        SegmentMask(0.1, 60.0, (), "simulated"),
        SegmentMask(3, 4, ("Cz",), "imported"),
    ),
)
V1 = '{"format": "mmqnet-masks", "version": 1, '  # start of a valid file


@pytest.fixture
def rec(tmp_path):
    path = tmp_path / "subject01.bdf"
    path.write_bytes(b"\0" * 1000)  # only name and size matter for the sidecar
    return path


def test_round_trip_and_schema(tmp_path, rec):
    path = MASKS.save(sidecar_path(rec), recording=rec)
    assert path == tmp_path / "subject01.bdf.masks.json"
    data = json.loads(path.read_text())
    assert data["format"] == "mmqnet-masks" and data["version"] == 1
    assert data["recording"] == {"name": "subject01.bdf", "size": 1000}
    assert data["channels"] == ["GSR", "Temp"]
    assert MaskSet.load(path, recording_path=rec) == MASKS
    assert MaskSet.from_dict(MASKS.to_dict()) == MASKS
    assert MaskSet.from_dict(MaskSet().to_dict()) == MaskSet()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subject01.bdf", "subject01.bdf.masks.json"]


def test_save_leaves_no_temp_files(tmp_path):
    MASKS.save(tmp_path / "m.json")
    MaskSet().save(tmp_path / "m.json")  # overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
    assert MaskSet.load(tmp_path / "m.json") == MaskSet()


@pytest.mark.parametrize("failure", ["mid_write", "fsync", "replace"])
def test_failed_save_keeps_old_file(tmp_path, monkeypatch, failure):
    path = tmp_path / "rec.bdf.masks.json"
    MASKS.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(5, "Input/output error")

    if failure == "mid_write":
        real_write_text = Path.write_text

        def half_then_fail(self, text, *args, **kwargs):
            real_write_text(self, text[: len(text) // 2], *args, **kwargs)
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(Path, "write_text", half_then_fail)
    elif failure == "fsync":
        monkeypatch.setattr(fileio.os, "fsync", boom)
    else:
        monkeypatch.setattr(fileio.os, "replace", boom)
    with pytest.raises(OSError):
        MaskSet(segments=(SegmentMask(7, 8),)).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert MaskSet.load(path) == MASKS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.bdf.masks.json"]  # temp file removed


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(MaskError, match=r"Cannot save masks to .*m.json: folder .*nowhere does not exist"):
        MASKS.save(tmp_path / "nowhere" / "m.json")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", r"Mask file .*bad.json is not valid JSON \(line 1, column 2: .*\); fix or delete it"),
        (b"\xff\xfe\x00", r"is not valid JSON \(not UTF-8 text\)"),
        (
            '{"format": "other", "version": 1}',
            r"is not an MMQ-Net mask file \(expected \"format\": \"mmqnet-masks\", got 'other'\); choose a file saved",
        ),
        ("[1, 2]", r"is not an MMQ-Net mask file .*got 'list'"),
        (
            '{"format": "mmqnet-masks", "version": 2}',
            r"has mask format version 2, but this version of MMQ-Net Studio reads only version 1; update",
        ),
        ('{"format": "mmqnet-masks"}', r"has mask format version None"),
        (V1 + '"segments": {}}', r"Invalid 'segments' in Mask file .*: expected a list, got dict"),
        (V1 + '"channels": "Cz"}', r"Invalid 'channels' .*expected a list of channel names, got 'Cz'"),
        (V1 + '"channels": [3]}', r"Invalid mask channels in Mask file .*\[3\]"),
        (
            V1 + '"segments": [{"start_s": 0, "end_s": 1}, {"start_s": 5, "end_s": 2}]}',
            r"Invalid mask segment #1 in Mask file .*bad.json: Invalid mask segment: start_s must be before end_s, "
            r"got start_s=5.0 s, end_s=2.0 s; fix or delete the mask file",
        ),
        (V1 + '"segments": [{"start_s": 0}]}', r"segment #0 .*missing key\(s\) end_s"),
        (V1 + '"segments": [{"start_s": "0", "end_s": 1}]}', r"'start_s' must be a number of seconds, got '0'"),
        (V1 + '"segments": [{"start_s": 0, "end_s": true}]}', r"'end_s' must be a number of seconds, got True"),
        (V1 + '"segments": [{"start_s": 0, "end_s": 1, "source": "x"}]}', r"segment #0 .*'source' .*got 'x'"),
        (V1 + '"segments": [{"start_s": 0, "end_s": 1, "channels": "Cz"}]}', r"'channels' must be a list of names"),
        (V1 + '"segments": [7]}', r"segment #0 .*expected an object with start_s and end_s, got 7"),
    ],
)
def test_load_errors(tmp_path, content, match):
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(MaskError, match=match):
        MaskSet.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(MaskError, match=r"Mask file .*nope.json does not exist"):
        MaskSet.load(tmp_path / "nope.json")


def test_recording_changed(tmp_path, rec):
    path = MASKS.save(sidecar_path(rec), recording=rec)
    rec.write_bytes(b"\0" * 1200)  # re-exported: another size
    with pytest.raises(
        MaskError, match=r"saved for 'subject01.bdf' of 1000 bytes, but .*subject01.bdf has 1200 bytes: the recording"
    ):
        MaskSet.load(path, recording_path=rec)
    with pytest.warns(MaskWarning, match=r"the recording changed"):
        assert MaskSet.load(path, recording_path=rec, on_mismatch="warn") == MASKS
    assert MaskSet.load(path, recording_path=rec, on_mismatch="ignore") == MASKS
    assert MaskSet.load(path) == MASKS  # no recording given: nothing to compare
    with pytest.raises(MaskError, match=r"'on_mismatch': allowed raise, warn, ignore, got 'maybe'"):
        MaskSet.load(path, on_mismatch="maybe")


def test_recording_renamed_only_warns(tmp_path, rec):
    path = MASKS.save(tmp_path / "x.masks.json", recording=rec)
    other = tmp_path / "renamed.bdf"
    rec.rename(other)
    with pytest.warns(MaskWarning, match=r"saved for 'subject01.bdf', not 'renamed.bdf'"):
        assert MaskSet.load(path, recording_path=other) == MASKS


def test_sidecar_paths(tmp_path):
    assert sidecar_path(tmp_path / "a.edf") == tmp_path / "a.edf.masks.json"
    assert sidecar_path(str(tmp_path / "s01.dat"), trial=3) == tmp_path / "s01.dat.trial3.masks.json"
    session = tmp_path / "Sessions" / "10"
    session.mkdir(parents=True)
    assert sidecar_path(session) == session / "10.masks.json"  # a session folder keeps its masks inside
