"""MNE annotations and pandas/CSV interop."""

from __future__ import annotations

import math

import mne
import numpy as np
import pandas as pd
import pytest

from mmqnet_core.errors import MaskError
from mmqnet_core.masking import MaskSet, SegmentMask
from mmqnet_core.recording import Annotation

SFREQ = 100.0
N_TIMES = 2000  # 20 s
MASKS = MaskSet(
    channels={"GSR"},
    segments=(
        SegmentMask(1.0, 2.5, ("Fp1",)),
        SegmentMask(3.0, 4.0, (), "simulated"),
        SegmentMask(9.5, 10.0, ("Cz", "Fp2")),
        SegmentMask(12.0, 13.25, ("Fp1",), "imported"),
    ),
)


@pytest.fixture
def raw():
    info = mne.create_info(["Fp1", "Fp2", "Cz", "GSR"], SFREQ, ["eeg", "eeg", "eeg", "misc"])
    return mne.io.RawArray(np.zeros((4, N_TIMES)), info, verbose="error")


def test_to_annotations_content():
    ann = MASKS.to_annotations(duration_s=20.0)
    rows = sorted((a["onset"], a["duration"], a["description"], tuple(a["ch_names"])) for a in ann)
    assert rows == [
        (0.0, 20.0, "BAD_mask_channel", ("GSR",)),
        (1.0, 1.5, "BAD_mask", ("Fp1",)),
        (3.0, 1.0, "BAD_mask_simulated", ()),
        (9.5, 0.5, "BAD_mask", ("Cz", "Fp2")),
        (12.0, 1.25, "BAD_mask_imported", ("Fp1",)),
    ]
    assert len(MASKS.to_annotations(whole_channels=False)) == 4  # no duration needed then


def test_whole_channel_masks_need_duration():
    with pytest.raises(MaskError, match=r"Whole-channel masks \(GSR\) need the recording length: pass duration_s"):
        MASKS.to_annotations()


def test_round_trip_through_raw(raw):
    raw.set_annotations(MASKS.to_annotations(duration_s=N_TIMES / SFREQ))
    back = MaskSet.from_annotations(raw.annotations)
    assert back.merged() == MASKS.merged()
    # MNE sees the spans as bad: the data of an all-channel BAD span are dropped by reject_by_annotation
    raw.set_annotations(MASKS.to_annotations(whole_channels=False))
    kept = raw.get_data(reject_by_annotation="omit").shape[1]
    assert kept < N_TIMES


@pytest.mark.parametrize("ext", ["txt", "csv"])
def test_round_trip_through_annotation_files(raw, tmp_path, ext):
    raw.set_annotations(MASKS.to_annotations(duration_s=N_TIMES / SFREQ))
    path = tmp_path / f"masks.{ext}"
    raw.annotations.save(path)
    back = MaskSet.from_annotations(mne.read_annotations(path))
    assert back.channels == MASKS.channels
    assert len(back.segments) == len(MASKS.segments)
    for got, want in zip(sorted(back.segments, key=lambda s: s.start_s), MASKS.segments):
        assert got.channels == want.channels and got.source == want.source
        assert got.start_s == pytest.approx(want.start_s, abs=1e-6)
        assert got.end_s == pytest.approx(want.end_s, abs=1e-6)


def test_from_foreign_annotations():
    ann = mne.Annotations(
        onset=[1.0, 2.0, 3.0, 4.0, 5.0, -1.0],
        duration=[1.0, 0.5, 0.0, 1.0, 2.0, 1.5],
        description=["BAD_muscle", "stimulus", "BAD_event", "bad_flat", "BAD_mask_channel", "BAD_jump"],
        ch_names=[("Cz",), (), (), (), (), ()],
    )
    m = MaskSet.from_annotations(ann)
    assert m.channels == frozenset()  # BAD_mask_channel without channels: an all-channel segment
    assert m.segments == (  # mne keeps annotations sorted by onset
        SegmentMask(0.0, 0.5, (), "imported"),  # clipped at the recording start
        SegmentMask(1.0, 2.0, ("Cz",), "imported"),  # other BAD_* -> imported
        SegmentMask(4.0, 5.0, (), "imported"),  # case-insensitive "bad", as in MNE
        SegmentMask(5.0, 7.0, (), "imported"),
    )  # "stimulus" ignored, zero-length BAD event skipped


def test_from_core_annotations():
    spans = (Annotation(2.0, 1.0, "BAD_muscle", ("zEMG",)), Annotation(0.0, 63.0, "stimulus"))
    assert MaskSet.from_annotations(spans) == MaskSet(segments=(SegmentMask(2.0, 3.0, ("zEMG",), "imported"),))


def test_dataframe_and_csv_round_trip(tmp_path):
    df = MASKS.to_dataframe(duration_s=20.0)
    assert list(df.columns) == ["kind", "channels", "start_s", "end_s", "source"]
    assert df.iloc[0].tolist() == ["channel", "GSR", 0.0, 20.0, "user"]
    assert df["channels"].tolist()[1:] == ["Fp1", "*", "Cz;Fp2", "Fp1"]
    assert math.isnan(MASKS.to_dataframe()["end_s"].iloc[0])
    path = MASKS.to_csv(tmp_path / "masks.csv", duration_s=20.0)
    assert MaskSet.from_dataframe(pd.read_csv(path)) == MASKS
    with pytest.raises(MaskError, match=r"Mask table lacks column\(s\) kind, source"):
        MaskSet.from_dataframe(df.drop(columns=["kind", "source"]))
    bad = df.copy()
    bad.loc[1, "kind"] = "blob"
    with pytest.raises(MaskError, match=r"Invalid 'kind' in mask table row 1: allowed channel, segment, got 'blob'"):
        MaskSet.from_dataframe(bad)
