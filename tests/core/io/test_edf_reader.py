"""The fast span reader (io.edf_reader) returns exactly what mne returns, reads only the span asked for, and
leaves to mne what it does not handle (issue 9: reading was the slowest step of cleaning an hour)."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.io import load_recording
from mmqnet_core.io import edf_reader
from mmqnet_core.io.edf_reader import EdfSpanReader

from .helpers import PMAX, PMIN, PYEDFLIB_DATA, patch_main_field, patch_signal_field, write_edf

SPANS = [(0, None), (0, 1), (255, 257), (1000, 1001), (3, 2049), (511, 1537), (2000, None)]


def _check_equal(rec, picks_list=None):
    assert rec.reader is not None
    n = rec.n_times
    for picks in picks_list or [None, [0], [rec.n_channels - 1, 0]]:
        p = list(range(rec.n_channels)) if picks is None else picks
        for a, b in SPANS:
            b = n if b is None else min(b, n)
            got = rec.reader(p, a, b)
            want = rec.raw.get_data(picks=p, start=a, stop=b)
            assert got.dtype == np.float64 and got.shape == want.shape
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", ["bdf", "edf"])
def test_reader_is_bit_identical_to_mne(tmp_path, kind, monkeypatch):
    path = write_edf(tmp_path / f"x.{kind}", (("Fp1", 256.0, "uV"), ("EXG1", 256.0, "mV"), ("GSR", 256.0, "uS"),
                                              ("Temp", 256.0, "degC")),
                     duration_s=37.0, kind=kind, annotations=[(1.5, 0.0, "a"), (20.0, 1.0, "b")])
    rec = load_recording(path)
    _check_equal(rec)
    monkeypatch.setattr(edf_reader, "_CHUNK_SAMPLES", 300)  # many chunks, spans across chunk borders, 2 threads
    _check_equal(rec)


def test_inverted_physical_range_and_stim_channel_are_identical(tmp_path):
    sfreq = 128.0
    status = np.zeros(int(sfreq * 30))
    status[300:340] = 5
    status += 0x10000 * 3  # system bits: mne keeps 17 bits of a stim channel
    path = write_edf(tmp_path / "s.bdf", (("Fp1", sfreq, "uV"), ("Cz", sfreq, "uV"), ("Status", sfreq, "")),
                     duration_s=30.0, kind="bdf", data={"Status": status})
    patch_signal_field(path, PMIN, 8, 1, "200")  # Cz: min > max (legal, the sign flips)
    patch_signal_field(path, PMAX, 8, 1, "-200")
    rec = load_recording(path)
    _check_equal(rec)
    assert rec.get_data(picks=[2]).max() > 0


def test_hour_long_file_through_recording_get_data(tmp_path):
    path = write_edf(tmp_path / "h.bdf", (("Fp1", 512.0, "uV"), ("Resp", 512.0, "")), duration_s=400.0, kind="bdf")
    rec = load_recording(path)
    np.testing.assert_array_equal(rec.get_data(), rec.raw.get_data())
    np.testing.assert_array_equal(rec.get_data(100.25, 133.7, picks=[1]),
                                  rec.raw.get_data(picks=[1], start=51328, stop=68454))


@pytest.mark.parametrize("name", sorted(p.name for p in PYEDFLIB_DATA.iterdir() if p.suffix in (".edf", ".bdf")))
def test_real_files_are_identical_or_left_to_mne(name):
    rec = load_recording(PYEDFLIB_DATA / name)
    if rec.reader is None:  # e.g. channels at several rates: mne reads (and resamples)
        assert len({c.sfreq for c in rec.channels}) > 1 or rec.raw.preload
        return
    _check_equal(rec, [None])


def test_mixed_rates_and_truncated_files_are_left_to_mne(tmp_path):
    path = write_edf(tmp_path / "m.edf", (("Fp1", 256.0, "uV"), ("GSR", 32.0, "uS")), duration_s=20.0)
    assert load_recording(path).reader is None
    path = write_edf(tmp_path / "t.bdf", kind="bdf", duration_s=20.0)
    path.write_bytes(path.read_bytes()[:-1000])  # the last record is incomplete
    rec = load_recording(path)
    if rec.reader is not None:
        _check_equal(rec, [None])
    patch_main_field(path, 236, 8, "40")  # the header declares more records than the file holds
    rec = load_recording(path)
    if rec.reader is not None:
        _check_equal(rec, [None])


def test_only_the_records_of_the_span_are_read(tmp_path, monkeypatch):
    path = write_edf(tmp_path / "long.bdf", duration_s=120.0, kind="bdf")
    rec = load_recording(path)
    assert isinstance(rec.reader, EdfSpanReader) and rec.raw.preload is False
    chunks = []
    original = EdfSpanReader._read_chunks

    def spy(self, out, picks, ch, start, stop):
        chunks.extend(ch)
        return original(self, out, picks, ch, start, stop)

    monkeypatch.setattr(EdfSpanReader, "_read_chunks", spy)
    x = rec.get_data(50.0, 60.0)
    assert x.shape == (3, 2560)
    assert chunks and min(a for a, _ in chunks) == 50 and max(b for _, b in chunks) == 60  # 1-s records


def test_reader_fills_a_reused_buffer(tmp_path):
    path = write_edf(tmp_path / "b.bdf", duration_s=30.0, kind="bdf")
    rec = load_recording(path)
    buf = np.full((2, 2560), np.nan)
    for a in (0, 2560, 5000):
        got = rec.reader([2, 0], a, a + 2560, out=buf)
        assert got is buf
        np.testing.assert_array_equal(buf, rec.raw.get_data(picks=[2, 0], start=a, stop=a + 2560))
    with pytest.raises(ValueError, match="shape \\(2, 100\\)"):
        rec.reader([2, 0], 0, 100, out=buf)


def test_reader_fills_a_block_of_columns_of_a_larger_buffer(tmp_path):
    path = write_edf(tmp_path / "c.bdf", duration_s=30.0, kind="bdf")
    rec = load_recording(path)
    big = np.full((2, 6000), np.nan)
    got = rec.reader([2, 0], 700, 3200, out=big[:, 1000:3500])  # rows contiguous, not C-contiguous as a whole
    assert got.base is big
    np.testing.assert_array_equal(big[:, 1000:3500], rec.raw.get_data(picks=[2, 0], start=700, stop=3200))
    assert np.isnan(big[:, :1000]).all() and np.isnan(big[:, 3500:]).all()  # nothing written outside the block
    with pytest.raises(ValueError, match="contiguous rows"):
        rec.reader([2, 0], 0, 100, out=np.empty((100, 2)).T)  # columns contiguous, rows strided


def test_file_stays_open_across_reads_and_threads(tmp_path, monkeypatch):
    """A browser reads a page at every step: the file is opened once, not per read; positioned reads from
    several threads at once give the same values as one by one; close() closes it and a later read reopens it."""
    import builtins
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    path = write_edf(tmp_path / "o.bdf", (("Fp1", 256.0, "uV"), ("Cz", 256.0, "uV"), ("GSR", 256.0, "uS")),
                     duration_s=60.0, kind="bdf")
    rec = load_recording(path)
    reader = rec.reader
    assert isinstance(reader, EdfSpanReader)
    spans = [(a, a + 2560) for a in range(0, 256 * 50, 700)]
    want = [rec.raw.get_data(picks=[2, 0, 1], start=a, stop=b) for a, b in spans]  # mne opens the file itself
    opened = []
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file) == str(path):
            opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    for (a, b), w in zip(spans, want):
        np.testing.assert_array_equal(reader([2, 0, 1], a, b), w)
    assert len(opened) <= 1
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda ab: reader([2, 0, 1], *ab), spans * 4))
    for g, w in zip(got, want * 4):
        np.testing.assert_array_equal(g, w)
    assert len(opened) <= 1
    handle = reader._fh
    reader.close()
    assert handle.closed and reader._fh is None
    monkeypatch.setattr(builtins, "open", real_open)
    np.testing.assert_array_equal(reader([1], 300, 900), rec.raw.get_data(picks=[1], start=300, stop=900))
    copy = pickle.loads(pickle.dumps(reader))  # e.g. to a worker process: reopened there
    np.testing.assert_array_equal(copy([0, 2], 5, 4000), rec.raw.get_data(picks=[0, 2], start=5, stop=4000))
    copy.close()
    reader.close()


@pytest.mark.parametrize("kind", ["bdf", "edf"])
def test_channel_groups_decode_like_one_channel_at_a_time(tmp_path, kind, monkeypatch):
    """Channels are decoded a group at a time; groups of one (the old way) and of all give the same values."""
    names = tuple((f"E{i}", 128.0, "uV") for i in range(7)) + (("Resp", 128.0, ""),)
    path = write_edf(tmp_path / f"g.{kind}", names, duration_s=20.0, kind=kind)
    rec = load_recording(path)
    picks = [7, 3, 0, 5, 1]
    want = rec.raw.get_data(picks=picks, start=100, stop=2300)
    for group in (1, 2, 10**9):
        monkeypatch.setattr(edf_reader, "_GROUP_SAMPLES", group)
        np.testing.assert_array_equal(rec.reader(picks, 100, 2300), want)
