"""The exact start of an EDF+/BDF+ recording: the header's whole second plus the first data record's onset."""

from __future__ import annotations

import datetime as dt

import edfio
import numpy as np
import pytest

from mmqnet_core.annotations import AnnotationSet
from mmqnet_core.io import load_recording
from mmqnet_core.io.edf_header import read_edf_header
from mmqnet_core.io.edf_reader import first_record_onset

from .helpers import PYEDFLIB_DATA


def _write(path, *, starttime: dt.time, bdf: bool = False):
    cls, signal = (edfio.Bdf, edfio.BdfSignal) if bdf else (edfio.Edf, edfio.EdfSignal)
    rec = cls([signal(np.sin(np.arange(256 * 6) / 10.0), 256, label="Fp1", physical_range=(-2, 2))],
              starttime=starttime, recording=edfio.Recording(startdate=dt.date(2024, 3, 1)),
              annotations=[edfio.EdfAnnotation(1.0, 0.0, "SYNTHETIC ev")])
    rec.write(path)
    return path


@pytest.mark.parametrize("bdf", [False, True])
def test_subsecond_start_is_kept_and_annotations_stay_on_their_samples(tmp_path, bdf):
    """mne keeps only the header's whole second as meas_date: a clock-time axis and every export (CSV onsets as
    date-times, EDF+ start time) were 0.25 s early."""
    path = _write(tmp_path / ("sub.bdf" if bdf else "sub.edf"), starttime=dt.time(14, 0, 5, 250000), bdf=bdf)
    assert first_record_onset(read_edf_header(path)) == pytest.approx(0.25)
    rec = load_recording(path)
    assert rec.raw.info["meas_date"] == dt.datetime(2024, 3, 1, 14, 0, 5, 250000, tzinfo=dt.timezone.utc)
    assert [a.onset for a in rec.annotations] == pytest.approx([1.0])  # still 1 s after the first sample
    assert any("0.25 s after the header's start time" in n for n in rec.notes)
    # The exports carry the exact time of day: the CSV's date-times and the EDF+ file's start time.
    ann = AnnotationSet.from_recording(rec.annotations).added(2.0, 0.5, "mine")
    csv = ann.export_csv(tmp_path / "a.csv", orig_time=rec.raw.info["meas_date"]).read_text()
    assert "2024-03-01 14:00:06.250" in csv and "2024-03-01 14:00:07.250" in csv
    if not bdf:
        out = ann.export_edf(tmp_path / "out.edf", rec)
        back = edfio.read_edf(out)
        assert back.starttime == dt.time(14, 0, 5, 250000)
        assert sorted(a.onset for a in back.annotations) == pytest.approx([1.0, 2.0])


def test_pyedflib_subsecond_file_reads_its_first_record_onset():
    """pyedflib's test_subsecond.edf: the first TAL is "+0.3945312" (pyedflib's getStartdatetime reads 0.039453 s,
    dividing edflib's 100-ns units by 100); mne kept 04:05:56."""
    path = PYEDFLIB_DATA / "test_subsecond.edf"
    rec = load_recording(path)
    assert rec.raw.info["meas_date"] == dt.datetime(2020, 1, 24, 4, 5, 56, 394531, tzinfo=dt.timezone.utc)
    assert rec.annotations[0].onset == pytest.approx(2.3457031 - 0.3945312)


def test_whole_second_and_plain_files_are_unchanged(tmp_path):
    path = _write(tmp_path / "whole.edf", starttime=dt.time(14, 0, 5))
    assert first_record_onset(read_edf_header(path)) == 0.0
    assert load_recording(path).raw.info["meas_date"].microsecond == 0
    legacy = read_edf_header(PYEDFLIB_DATA / "test_legacy.edf")  # plain EDF: no annotation signal
    assert first_record_onset(legacy) == 0.0


def test_a_damaged_time_keeping_field_is_ignored(tmp_path):
    """A first TAL that is not a time (or a onset beyond a day) leaves the header's time: no crash, no jump."""
    path = _write(tmp_path / "bad.edf", starttime=dt.time(14, 0, 5, 250000))
    header = read_edf_header(path)
    data = bytearray(path.read_bytes())
    at = header.header_bytes + header.n_samples[0] * 2
    assert data[at:at + 5] == b"+0.25"
    data[at:at + 5] = b"+x.25"
    path.write_bytes(bytes(data))
    assert first_record_onset(read_edf_header(path)) == 0.0
    assert load_recording(path).raw.info["meas_date"].microsecond == 0
