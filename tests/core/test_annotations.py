"""The annotation store: immutable edits, interval index, sidecar round trip and exports through mne."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import mne
import numpy as np
import pytest

from mmqnet_core.annotations import (
    MAX_SIDECAR_BYTES,
    RECORDING_KIND,
    AnnotationEntry,
    AnnotationError,
    AnnotationSet,
    sidecar_path,
)
from mmqnet_core.recording import Annotation, ChannelInfo, Modality, Recording


def _recording(tmp_path=None) -> Recording:
    sfreq = 100.0
    data = np.random.default_rng(0).standard_normal((2, 2000)) * 1e-5
    raw = mne.io.RawArray(data, mne.create_info(["Fz", "Cz"], sfreq, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations([2.0], [1.0], ["file event"]))
    chans = tuple(ChannelInfo(n, Modality.EEG, sfreq, "V") for n in ("Fz", "Cz"))
    return Recording(raw=raw, channels=chans, is_synthetic=True)


def test_edits_return_new_sets_and_keep_the_old():
    empty = AnnotationSet()
    one = empty.added(3.0, 1.5, "eyes closed", "event", ["Fz"])
    assert len(empty) == 0 and len(one) == 1
    first = one.entries[0]
    assert (first.onset, first.duration, first.text, first.kind, first.channels) == (3.0, 1.5, "eyes closed",
                                                                                        "event", ("Fz",))
    two = one.added(1.0, 0.0, "blink")
    assert [e.text for e in two] == ["blink", "eyes closed"]  # sorted by onset
    new_id = one.next_id
    moved = two.replaced(new_id, onset=10.0, text="late blink")
    assert [e.text for e in moved] == ["eyes closed", "late blink"]
    assert two.get(new_id).onset == 1.0  # the old set is unchanged
    gone = moved.removed(first.id)
    assert [e.text for e in gone] == ["late blink"] and first.id not in gone
    assert gone.added(0, 0, "x").next_id == gone.next_id + 1  # ids never reused


@pytest.mark.parametrize("kwargs, match", [
    (dict(onset=-1.0, duration=0.0, text="a"), "onset: must be a time >= 0 s, got -1.0"),
    (dict(onset=float("nan"), duration=0.0, text="a"), "onset"),
    (dict(onset=0.0, duration=-2.0, text="a"), "duration: must be >= 0 s .*got -2.0"),
    (dict(onset=0.0, duration=0.0, text="   "), "text: it is empty"),
    (dict(onset=0.0, duration=0.0, text="a", kind=""), "Invalid annotation type ''"),
])
def test_invalid_entries_are_refused_with_the_value(kwargs, match):
    with pytest.raises(AnnotationError, match=match):
        AnnotationEntry(**kwargs)


def test_recording_annotations_are_read_only():
    rec = _recording()
    s = AnnotationSet.from_recording(rec.annotations)
    (entry,) = s.entries
    assert entry.kind == RECORDING_KIND and entry.read_only and entry.text == "file event"
    with pytest.raises(AnnotationError, match="belongs to the recording file"):
        s.replaced(entry.id, text="mine")
    with pytest.raises(AnnotationError, match="belongs to the recording file"):
        s.removed(entry.id)
    with pytest.raises(AnnotationError, match="reserved for the recording"):
        s.added(0, 0, "x", kind=RECORDING_KIND)
    with pytest.raises(AnnotationError, match="No annotation with id 99"):
        s.get(99)
    with pytest.raises(AnnotationError, match="Cannot change foo"):
        s.added(0, 0, "x").replaced(s.next_id, foo=1)


def test_overlapping_matches_a_linear_scan_on_random_sets():
    rng = np.random.default_rng(3)
    onsets = rng.uniform(0, 3600, 10_000)
    durations = np.where(rng.random(10_000) < 0.02, rng.uniform(0, 900, 10_000), rng.uniform(0, 2, 10_000))
    s = AnnotationSet(tuple(AnnotationEntry(o, d, f"a{i}") for i, (o, d) in enumerate(zip(onsets, durations))))
    for start in rng.uniform(-10, 3600, 50):
        stop = start + rng.choice([1.0, 10.0, 60.0])
        want = sorted(e.id for e in s.entries if e.end >= start and e.onset <= stop)
        assert sorted(e.id for e in s.overlapping(start, stop)) == want
    assert s.overlapping(5000, 5010) == ()  # after every end (3600 + 900 s at most)
    assert AnnotationSet().overlapping(0, 10) == ()


def test_search_and_kinds():
    s = AnnotationSet().added(0, 0, "Eyes closed", "event").added(5, 1, "muscle", "artifact").added(9, 0, "eyes open")
    assert s.kinds == ("artifact", "event", "note")
    assert [e.text for e in s.search("EYES")] == ["Eyes closed", "eyes open"]
    assert [e.text for e in s.search("eyes", kinds=["note"])] == ["eyes open"]
    assert [e.text for e in s.search("", kinds=["artifact"])] == ["muscle"]


def test_sidecar_round_trip_keeps_only_user_annotations(tmp_path):
    rec_file = tmp_path / "rec.bdf"
    rec_file.write_bytes(b"x" * 10)
    s = AnnotationSet.from_recording([Annotation(1.0, 0.0, "file")]).added(4.0, 2.0, "mine", "event", ["Cz"])
    path = s.save(sidecar_path(tmp_path / "rec.bdf.masks.json"), recording=rec_file)
    assert path.name == "rec.bdf.annotations.json"
    assert rec_file.read_bytes() == b"x" * 10  # the recording is not touched
    doc = json.loads(path.read_text())
    assert doc["recording"] == {"name": "rec.bdf", "size": 10}
    back = AnnotationSet.load(path)
    assert [(e.onset, e.duration, e.text, e.kind, e.channels) for e in back] == [(4.0, 2.0, "mine", "event", ("Cz",))]
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left by the atomic write


def test_sidecar_path_for_trials_and_folders(tmp_path):
    assert sidecar_path(tmp_path / "s01.dat.trial3.masks.json").name == "s01.dat.trial3.annotations.json"


@pytest.mark.parametrize("content, match", [
    ("not json", "not valid JSON"),
    ('{"a": 1}', "not written by MMQ-Net Studio"),
    ('{"format": "mmqnet-annotations", "version": 99}', "format version 99, newer"),
    ('{"format": "mmqnet-annotations", "annotations": [{"onset": -1, "duration": 0, "text": "a"}]}',
     "annotation 1 of .*onset"),
    ('{"format": "mmqnet-annotations", "annotations": [{"onset": 1}]}', "annotation 1 of"),
    ('{"format": "mmqnet-annotations", "annotations": [{"onset": 1, "duration": 0, "text": "a", '
     '"kind": "recording"}]}', "reserved for the recording"),
])
def test_broken_sidecars_are_refused(tmp_path, content, match):
    path = tmp_path / "x.annotations.json"
    path.write_text(content)
    with pytest.raises(AnnotationError, match=match):
        AnnotationSet.load(path)


def test_oversized_sidecar_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.annotations.json"
    with open(path, "wb") as f:
        f.truncate(MAX_SIDECAR_BYTES + 1)  # sparse: no disk used
    with pytest.raises(AnnotationError, match="more than the .* MB"):
        AnnotationSet.load(path)


def test_csv_export_reads_back_with_mne(tmp_path):
    s = AnnotationSet.from_recording([Annotation(1.0, 0.5, "file")]).added(4.25, 2.0, "eyes closed", "event")
    path = s.export_csv(tmp_path / "ann.csv")
    back = mne.read_annotations(path)
    assert list(back.description) == ["file", "eyes closed"]
    # mne reads onsets relative to the first one, with orig_time at the first: absolute times are kept.
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    np.testing.assert_allclose(back.onset + (back.orig_time - epoch).total_seconds(), [1.0, 4.25], atol=1e-3)
    np.testing.assert_allclose(back.duration, [0.5, 2.0])
    start = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    dated = mne.read_annotations(s.export_csv(tmp_path / "dated.csv", orig_time=start))
    np.testing.assert_allclose(dated.onset + (dated.orig_time - start).total_seconds(), [1.0, 4.25], atol=1e-3)
    with pytest.raises(AnnotationError, match="must end in .csv"):
        s.export_csv(tmp_path / "ann.txt")


def test_edf_export_carries_the_annotations_and_never_writes_the_source(tmp_path):
    rec = _recording()
    s = AnnotationSet.from_recording(rec.annotations).added(7.5, 1.0, "eyes closed", "event")
    path = s.export_edf(tmp_path / "with_annotations.edf", rec)
    raw = mne.io.read_raw_edf(path, verbose="error")
    got = sorted((round(float(a["onset"]), 2), str(a["description"])) for a in raw.annotations)
    assert got == [(2.0, "file event"), (7.5, "eyes closed")]
    assert raw.ch_names == ["Fz", "Cz"]
    with pytest.raises(AnnotationError, match="must end in .edf"):
        s.export_edf(tmp_path / "x.bdf", rec)
    src = tmp_path / "src.edf"
    src.write_bytes(b"0")
    with pytest.raises(AnnotationError, match="that is the recording itself"):
        s.export_edf(src, Recording(raw=rec.raw, channels=rec.channels, source=src))
    assert src.read_bytes() == b"0"
