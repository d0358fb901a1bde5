"""Every kind of bad input gives a RecordingError naming the file and the problem (never a traceback)."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from mmqnet_core.errors import ConfigError, RecordingError
from mmqnet_core.io import load_recording
from mmqnet_core.io.edf_header import read_edf_header

from .helpers import DMAX, DMIN, NSAMP, PMAX, PMIN, patch_main_field, patch_signal_field, write_edf


@pytest.fixture
def edf(tmp_path):
    return write_edf(tmp_path / "good.edf", duration_s=4.0)


def test_nonexistent_path(tmp_path):
    with pytest.raises(RecordingError, match=r"Cannot open .*missing\.edf: no such file or folder"):
        load_recording(tmp_path / "missing.edf")


def test_folder_that_is_not_a_mahnob_session(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(RecordingError, match=r"it is not a MAHNOB-HCI session \(it lacks session.xml and a .bdf file\)"):
        load_recording(tmp_path)


def test_unknown_extension(tmp_path):
    p = tmp_path / "rec.txt"
    p.write_text("1,2,3")
    with pytest.raises(RecordingError, match=r"Cannot open rec.txt: unknown file type '.txt'. Supported: .edf"):
        load_recording(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.edf"
    p.write_bytes(b"")
    with pytest.raises(RecordingError, match=r"Cannot read empty.edf: the file is empty \(0 bytes\)"):
        load_recording(p)


def test_non_edf_file_named_edf(tmp_path):
    p = tmp_path / "fake.edf"
    p.write_bytes(b"%PDF-1.4\n" + b"x" * 1000)
    with pytest.raises(RecordingError, match=r"Cannot read fake.edf: it is not an EDF or BDF file"):
        load_recording(p)


def test_non_edf_file_says_its_first_bytes_as_text(tmp_path):
    """The first bytes are quoted as a user reads them, not as a Python bytes literal (b'...')."""
    p = tmp_path / "notes.edf"
    p.write_bytes(b"hello\tthere, this is text\n" * 20)
    with pytest.raises(RecordingError) as info:
        load_recording(p)
    text = str(info.value)
    assert 'it starts with "hello\\x09th"' in text and "b'" not in text
    assert '"0" and seven spaces' in text and '0xFF and "BIOSEMI"' in text


@pytest.mark.parametrize("keep", [100, 300])
def test_truncated_header(edf, keep):
    edf.write_bytes(edf.read_bytes()[:keep])
    with pytest.raises(RecordingError, match=r"Cannot read good.edf: the header is truncated"):
        load_recording(edf)


def test_wrong_number_of_signals(edf):
    patch_main_field(edf, 252, 4, "7")
    with pytest.raises(RecordingError, match=r"corrupt header, it declares 7 signals but a header size of 1024 bytes"):
        load_recording(edf)


def test_number_field_that_is_not_a_number(edf):
    patch_signal_field(edf, PMIN, 8, 1, "abc")
    with pytest.raises(RecordingError, match=r"physical min of signal 'Cz' is 'abc', which is not a number"):
        load_recording(edf)


def test_bad_record_count_field(edf):
    patch_main_field(edf, 236, 8, "ten")
    with pytest.raises(RecordingError, match=r"field 'number of data records' is 'ten'"):
        load_recording(edf)


def test_physical_min_equals_max(edf):
    patch_signal_field(edf, PMIN, 8, 2, "5")
    patch_signal_field(edf, PMAX, 8, 2, "5")
    with pytest.raises(RecordingError, match=r"signal 'GSR' has physical minimum == physical maximum \(5 uS\)"):
        load_recording(edf)


def test_digital_range_empty(edf):
    patch_signal_field(edf, DMIN, 8, 0, "100")
    patch_signal_field(edf, DMAX, 8, 0, "-100")
    with pytest.raises(RecordingError, match=r"signal 'Fp1' has digital minimum 100 >= digital maximum -100"):
        load_recording(edf)


def test_zero_samples_per_record(edf):
    patch_signal_field(edf, NSAMP, 8, 0, "0")
    with pytest.raises(RecordingError, match=r"signal 'Fp1' has 0 samples per data record"):
        load_recording(edf)


def test_zero_length_recording(edf):
    header_bytes = 256 * 4
    edf.write_bytes(edf.read_bytes()[:header_bytes])
    patch_main_field(edf, 236, 8, "0")
    with pytest.raises(RecordingError, match=r"good.edf: the recording has zero length \(the header declares 0"):
        load_recording(edf)


def test_inverted_physical_range_loads_with_note_and_right_sign(edf):
    before = load_recording(edf).get_data()[1]
    patch_signal_field(edf, PMIN, 8, 1, "200")
    patch_signal_field(edf, PMAX, 8, 1, "-200")
    rec = load_recording(edf)
    assert any("Inverted physical range" in n and "Cz" in n for n in rec.notes)
    np.testing.assert_allclose(rec.get_data()[1], -before, atol=1e-8)


def test_truncated_data_section_loads_what_is_there(edf):
    h = read_edf_header(edf)
    assert h.n_records == 4 and h.record_s == 1.0
    edf.write_bytes(edf.read_bytes()[: h.header_bytes + 2 * h.record_bytes + 100])  # 2.x records left
    rec = load_recording(edf)
    assert rec.duration_s == pytest.approx(2.0)
    assert any("declares 4 data records but the file holds 2 complete records" in n for n in rec.notes)


def test_mne_failures_become_recording_errors(edf, monkeypatch):
    def boom(*args, **kwargs):
        raise IndexError("list index out of range")

    monkeypatch.setattr(mne.io, "read_raw_edf", boom)
    with pytest.raises(RecordingError, match=r"Cannot read good.edf: mne could not open it \(IndexError: list index"):
        load_recording(edf)


def test_trial_option_only_for_deap(edf):
    with pytest.raises(ConfigError, match=r"Invalid option 'trial' for good.edf: only DEAP"):
        load_recording(edf, trial=3)


def test_extension_that_does_not_match_the_content(edf):
    renamed = edf.rename(edf.with_suffix(".bdf"))
    with pytest.raises(RecordingError, match=r"good.bdf: the file is named .bdf but holds EDF data.*Rename it to good.edf"):
        load_recording(renamed)
