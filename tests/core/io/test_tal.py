"""One reader of the time-keeping TALs of EDF+/BDF+ data records (``io.tal.record_onsets``) serves both the exact
start of the first sample (``edf_reader.first_record_onset``) and the gaps of an EDF+D file
(``discontinuous.record_gaps``); before, each had its own copy of the reading and parsing."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.io import discontinuous, edf_reader, tal
from mmqnet_core.io.edf_header import read_edf_header

from .test_discontinuous_session12 import _edf_plus_d


def test_every_records_onset_is_read_in_bounded_chunks(tmp_path, monkeypatch):
    header = read_edf_header(_edf_plus_d(tmp_path / "d.edf", gap_after=5, gap_s=3, more=((12, 0.5),)))
    expected = np.arange(20) + np.where(np.arange(20) >= 5, 3, 0) + np.where(np.arange(20) >= 12, 0.5, 0)
    np.testing.assert_array_equal(tal.record_onsets(header), expected)
    monkeypatch.setattr(tal, "CHUNK_RECORDS", 3)  # chunk edges inside the file: the same onsets
    np.testing.assert_array_equal(tal.record_onsets(header), expected)
    np.testing.assert_array_equal(tal.record_onsets(header, 4, 3), expected[4:7])
    assert discontinuous.record_gaps(header) == (2, 3.5, 5.0)


def test_both_readers_use_the_one_helper(tmp_path, monkeypatch):
    header = read_edf_header(_edf_plus_d(tmp_path / "d.edf", gap_after=None))
    calls = []

    def spy(*args, **kwargs):
        calls.append((args[1:], kwargs))
        return np.array([0.25] * (args[2] if len(args) > 2 else header.n_records))

    monkeypatch.setattr(edf_reader, "record_onsets", spy)
    monkeypatch.setattr(discontinuous, "record_onsets", spy)
    assert edf_reader.first_record_onset(header) == pytest.approx(0.25)
    assert discontinuous.record_gaps(header) is not None
    assert len(calls) == 2
    assert not hasattr(edf_reader, "_TIMEKEEPING") and not hasattr(discontinuous, "_TIMEKEEPING")


def test_a_record_without_a_timekeeping_tal_gives_none(tmp_path):
    path = _edf_plus_d(tmp_path / "d.edf", gap_after=None)
    header = read_edf_header(path)
    b = bytearray(path.read_bytes())
    col = sum(header.n_samples[: header.annotation_indices[0]]) * 2
    o = header.header_bytes + 7 * header.record_bytes + col
    b[o:o + 4] = b"xx\x14\x14"
    path.write_bytes(bytes(b))
    assert tal.record_onsets(read_edf_header(path)) is None
    assert discontinuous.record_gaps(read_edf_header(path)) is None
    assert tal.record_onsets(read_edf_header(path), 0, 7) is not None  # the records before it are fine
