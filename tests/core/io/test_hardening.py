"""Readers validate every field they use (issue 13) and say loudly what a damaged file lost (issue 9, item 6)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from mmqnet_core.errors import RecordingError
from mmqnet_core.io import load_recording
from mmqnet_core.io.edf_header import read_edf_header

from ..bad_inputs.cases import _Forged, _Huge, edf_bytes

HDR, REC = 256 * 5, 4 * 64 * 2  # header bytes and bytes per data record of edf_bytes()


def _edf(tmp_path, data: bytes, name="r.edf"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("record_s, message", [
    ("inf", r"Invalid value for 'duration of a data record' in r.edf: must be a finite number in \(0, 3600\] s, "
            r"got inf\. The header is damaged"),
    ("1e300", r"must be a finite number in \(0, 3600\] s, got 1e\+300"),
    ("0", r"got 0\.0"),
    ("1e-6", r"signal 'Fp1' would be sampled at 6\.4e\+07 Hz \(64 samples per 1e-06-s record\), above the 100000 Hz"),
])
def test_absurd_record_durations_are_refused(tmp_path, record_s, message):
    with pytest.raises(RecordingError, match=message):
        read_edf_header(_edf(tmp_path, edf_bytes(record_s=record_s)))


def test_fractional_record_duration_is_fine(tmp_path):
    h = read_edf_header(_edf(tmp_path, edf_bytes(record_s="0.25", ns=32)))
    assert h.sfreq(0) == 128.0 and h.duration_s == 5.0


def test_annotation_only_and_empty_annotation_signals_are_refused(tmp_path):
    with pytest.raises(RecordingError, match=r"holds only annotation signals \('EDF Annotations'\) and no signal data"):
        read_edf_header(_edf(tmp_path, edf_bytes(labels=("EDF Annotations",), ns=60, reserved="EDF+C")))
    with pytest.raises(RecordingError, match=r"signal 'EDF Annotations' has -5 samples per data record"):
        read_edf_header(_edf(tmp_path, edf_bytes(labels=("Fp1", "EDF Annotations"), ns=[64, -5])))


def test_non_finite_physical_range_is_refused(tmp_path):
    with pytest.raises(RecordingError, match=r"Invalid value for 'physical minimum of signal Fp1' in r.edf: must be a "
                                             r"finite number, got nan"):
        read_edf_header(_edf(tmp_path, edf_bytes(pmin="nan")))


def test_fifo_is_refused_without_opening(tmp_path):
    import os

    os.mkfifo(tmp_path / "p.edf")
    with pytest.raises(RecordingError, match=r"it is not a regular file \(a pipe, socket or device\)"):
        load_recording(tmp_path / "p.edf")


@pytest.mark.parametrize("cut, header_records, expected", [
    (HDR + 7 * REC, None, "r.edf is truncated: the header declares 20 data records, the file holds 7 complete data "
                          "records (7 s); read 7 s, the last 13 s declared are missing."),
    (None, 7, "r.edf has records beyond the declared end: the header declares 7 data records, the file holds 20 "
              "complete data records (20 s); all 20 were read (the header was corrected)."),
    (None, -1, "r.edf: the header does not give the number of data records (-1, recording not closed); corrected "
               "from the file size to 20 complete data records (20 s), all read."),
])
def test_damaged_files_carry_warnings(tmp_path, cut, header_records, expected):
    data = edf_bytes(n_records_header=header_records)
    rec = load_recording(_edf(tmp_path, data[:cut] if cut else data))
    assert rec.warnings == (expected,)
    assert rec.describe()["warnings"] == [expected]


def test_incomplete_last_record_is_said(tmp_path):
    rec = load_recording(_edf(tmp_path, edf_bytes()[: HDR + 5 * REC + 100]))
    assert rec.duration_s == 5.0
    assert rec.warnings[-1] == ("r.edf ends with an incomplete data record: 100 bytes after the last complete record "
                                "were not read (one record is 512 bytes).")


def test_intact_file_has_no_warning(tmp_path):
    assert load_recording(_edf(tmp_path, edf_bytes())).warnings == ()


# ----------------------------------------------------------------------------------------------------- DEAP


def _deap(tmp_path, protocol=4, **kw):
    obj = {"data": np.random.default_rng(0).normal(size=(2, 40, 256)), "labels": np.full((2, 4), 5.0)}
    obj.update(kw)
    p = tmp_path / "s01.dat"
    p.write_bytes(pickle.dumps(obj, protocol=protocol))
    return p


@pytest.mark.parametrize("key, value, message", [
    ("sfreq", "abc", r"Invalid value for 'sfreq' in s01.dat: must be a finite number in \[0.01, 100000\] Hz, got 'abc'"),
    ("sfreq", 1e12, r"'sfreq' in s01.dat: .* got 1000000000000\.0"),
    ("sfreq", [128.0], r"'sfreq' in s01.dat: .* got \[128\.0\]"),
    ("ch_names", 7, r"Invalid value for 'ch_names' in s01.dat: must be a list of 40 texts, got 7"),
    ("ch_names", ["Fp1"] * 40, r"'ch_names' in s01.dat: must be distinct, non-empty channel names"),
    ("units", 3, r"Invalid value for 'units' in s01.dat: must be a list of 40 texts, got 3"),
    ("data", np.zeros((2, 40, 10), complex), r"Invalid value for 'data' in s01.dat: must be an array of real numbers"),
])
def test_deap_keys_are_validated(tmp_path, key, value, message):
    with pytest.raises(RecordingError, match=message):
        load_recording(_deap(tmp_path, **{key: value}))


@pytest.mark.parametrize("data", [_Forged((40, 40, 2_000_000), (0, 0, 0)), _Forged((2, 40, 100), (0, 8, 0), nbuf=320)])
def test_deap_data_not_backed_by_the_file_is_refused(tmp_path, data):
    with pytest.raises(RecordingError, match=r"is not backed by the file \(\d+ bytes\): its data are not in the file"):
        load_recording(_deap(tmp_path, data=data, labels=np.full((data.shape[0], 4), 5.0)))


def test_deap_huge_declared_array_is_refused(tmp_path):
    with pytest.raises(RecordingError, match=r"Cannot read s01.dat: (it is not a valid DEAP pickle \(MemoryError|an "
                                             r"array of shape \(40, 40, 1000000000\))"):
        load_recording(_deap(tmp_path, data=_Huge((40, 40, 10**9))))


def test_deap_benign_protocol_2_bytearray_loads(tmp_path):
    rec = load_recording(_deap(tmp_path, protocol=2, blob=bytearray(b"abc"), ch_names=None))
    assert rec.n_channels == 40


@pytest.mark.parametrize("bad", [np.nan, -3.0, np.inf, 1000.0])
def test_deap_ratings_outside_1_9_are_dropped_with_a_warning(tmp_path, bad):
    labels = np.full((2, 4), 5.0)
    labels[1, 1] = bad
    rec = load_recording(_deap(tmp_path, labels=labels), trial=1)
    assert "arousal" not in rec.labels and rec.labels["valence"] == 5.0
    assert rec.warnings == (f"s01.dat trial 1: label arousal = {bad:g} is not a 1-9 rating; it was dropped (the "
                            "trial has no such label).",)
    assert load_recording(_deap(tmp_path, labels=labels), trial=0).warnings == ()
