"""Opening EDF/EDF+/BDF/BDF+ files: real files shipped by pyedflib and small files written with edfio."""

from __future__ import annotations

import dataclasses
import os
import threading

import mne
import numpy as np
import pyedflib
import pytest

from mmqnet_core.errors import Cancelled, ConfigError, RecordingError
from mmqnet_core.io import check_has_eeg, load_recording
from mmqnet_core.io.edf_header import read_edf_header
from mmqnet_core.recording import Modality

from .helpers import PYEDFLIB_DATA, write_edf

REAL_FILES = sorted(p.name for p in PYEDFLIB_DATA.iterdir() if p.suffix in (".edf", ".bdf"))


@pytest.mark.parametrize("name", REAL_FILES)
def test_real_files_open_lazily_with_header_rates(name):
    path = PYEDFLIB_DATA / name
    rec = load_recording(path)
    reader = pyedflib.EdfReader(str(path))
    try:
        # a plain-EDF reader (test_legacy.edf) lists the annotation signal too; it is not a channel
        keep = [i for i, lab in enumerate(reader.getSignalLabels()) if lab not in ("EDF Annotations", "BDF Annotations")]
        labels = [reader.getSignalLabels()[i] for i in keep]
        rates = [reader.getSampleFrequency(i) for i in keep]
        duration = reader.getFileDuration()
    finally:
        reader.close()
    assert rec.ch_names == labels
    assert [c.sfreq for c in rec.channels] == pytest.approx(rates)
    assert rec.sfreq == pytest.approx(max(rates))
    assert rec.duration_s == pytest.approx(duration)
    assert rec.source_format == path.suffix[1:]
    assert not rec.is_synthetic  # real files are not marked synthetic
    if len(set(rates)) == 1:
        assert not rec.raw.preload
    assert rec.get_data(0.0, 1.0).shape == (len(labels), int(round(max(rates))))


def test_mixed_rates_are_reported_and_channel_rates_kept():
    rec = load_recording(PYEDFLIB_DATA / "test_generator.bdf")
    assert [c.sfreq for c in rec.channels] == [1000.0, 800.0, 500.0, 975.0, 999.0]
    note = next(n for n in rec.notes if "different rates" in n)
    assert "1000 Hz" in note and "square 13Hz (800 Hz)" in note and "ramp 7Hz (500 Hz)" in note
    assert "sine 5Hz (" not in note  # the channel at the top rate is not resampled


@pytest.mark.parametrize("name", ["test_subsecond.edf", "test_utf8.edf"])
def test_edfplus_annotation_onsets_match_pyedflib(name):
    path = PYEDFLIB_DATA / name
    rec = load_recording(path)
    reader = pyedflib.EdfReader(str(path))
    try:
        onsets, _durations, texts = reader.readAnnotations()
        expected = reader.readSignal(0)[:256]  # physical values in the file's unit (uV)
    finally:
        reader.close()
    got = sorted((a.onset, a.description) for a in rec.annotations)
    assert [d for _, d in got] == list(texts)
    np.testing.assert_allclose([o for o, _ in got], onsets, atol=1e-4)
    assert any(f"{len(texts)} annotations" in n for n in rec.notes)
    # inverted physical range in these files: legal, noted, and the sign is right
    assert any("Inverted physical range" in n and "Fp1" in n for n in rec.notes)
    np.testing.assert_allclose(rec.get_data(0, 2.0)[0] * 1e6, expected, atol=0.3)


def test_written_edf_values_units_and_annotations(tmp_path):
    n = 2560
    gsr = np.linspace(1.0, 9.0, n)
    fp1 = 50 * np.sin(2 * np.pi * 10 * np.arange(n) / 256)
    path = write_edf(
        tmp_path / "rec_SYNTHETIC.edf",
        annotations=[(1.5, 2.0, "stimulus"), (7.25, 0.0, "button")],
        data={"GSR": gsr, "Fp1": fp1},
    )
    rec = load_recording(path)
    assert rec.is_synthetic and "(SYNTHETIC)" in rec.title
    assert [(c.name, c.modality, c.unit) for c in rec.channels] == [
        ("Fp1", Modality.EEG, "V"), ("Cz", Modality.EEG, "V"), ("GSR", Modality.GSR, "uS")]
    x = rec.get_data()
    np.testing.assert_allclose(x[0], fp1 * 1e-6, atol=1e-8)  # uV in the file -> V
    np.testing.assert_allclose(x[2], gsr, atol=1e-3)  # uS kept as is
    ann = [(a.onset, a.duration, a.description) for a in rec.annotations]
    assert ann == [(1.5, 2.0, "stimulus"), (7.25, 0.0, "button")]
    assert rec.raw.get_channel_types() == ["eeg", "eeg", "gsr"]


def test_only_the_requested_span_is_read(tmp_path, monkeypatch):
    path = write_edf(tmp_path / "long.edf", duration_s=120.0, kind="bdf")
    path = path.rename(tmp_path / "long.bdf")
    # mne's own path (the fallback for files the fast reader leaves to mne; that reader: test_edf_reader.py)
    rec = dataclasses.replace(load_recording(path), reader=None)
    assert rec.raw.preload is False
    spans = []
    original = type(rec.raw)._read_segment_file

    def spy(self, data, idx, fi, start, stop, cals, mult):
        spans.append((start, stop))
        return original(self, data, idx, fi, start, stop, cals, mult)

    monkeypatch.setattr(type(rec.raw), "_read_segment_file", spy)
    x = rec.get_data(0.0, 10.0)
    assert x.shape == (3, 2560)
    assert spans and max(stop for _, stop in spans) <= 2560


def test_source_file_is_never_written(tmp_path):
    path = write_edf(tmp_path / "ro.edf", annotations=[(1.0, 0.0, "x")])
    os.utime(path, (1_000_000_000, 1_000_000_000))
    before = path.read_bytes()
    rec = load_recording(path)
    rec.get_data(0, 5)
    rec.with_modalities({"Cz": "MISC"})
    assert path.read_bytes() == before
    assert path.stat().st_mtime == 1_000_000_000


def test_bdf_trigger_channel_events_become_annotations(tmp_path):
    sfreq, dur = 256.0, 20.0
    status = np.zeros(int(sfreq * dur))
    status[512:520] = 5  # 2 s
    status[2560:2600] = 7  # 10 s, 40 samples
    status[4096:4100] = 5  # 16 s
    status += 0x10000 * 3  # BioSemi system bits above 16 are ignored
    path = write_edf(
        tmp_path / "trig.bdf", (("Fp1", sfreq, "uV"), ("Status", sfreq, "")), duration_s=dur, kind="bdf",
        data={"Status": status},
    )
    rec = load_recording(path)
    assert rec.channels[1].modality is Modality.STIM
    trig = [(a.onset, a.duration, a.description, a.ch_names) for a in rec.annotations]
    assert trig == [(2.0, 8 / sfreq, "trigger 5", ("Status",)), (10.0, 40 / sfreq, "trigger 7", ("Status",)),
                    (16.0, 4 / sfreq, "trigger 5", ("Status",))]
    assert any("Trigger channel Status: 3 events, codes 5, 7." == n for n in rec.notes)


def test_modality_overrides_and_unknown_channel(tmp_path):
    path = write_edf(tmp_path / "o.edf", (("Fp1", 128.0, "uV"), ("X1", 128.0, "uV")))
    rec = load_recording(path, modalities={"X1": "eog"})
    assert rec.modalities == [Modality.EEG, Modality.EOG]
    assert rec.raw.get_channel_types() == ["eeg", "eog"]
    with pytest.raises(ConfigError, match=r"unknown channel\(s\) \['Nope'\] in o.edf"):
        load_recording(path, modalities={"Nope": "EEG"})


def test_no_eeg_is_noted_and_check_has_eeg_raises(tmp_path):
    path = write_edf(tmp_path / "periph.edf", (("GSR", 64.0, "uS"), ("Resp", 64.0, "")))
    rec = load_recording(path)
    assert any(n.startswith("No EEG channel found") for n in rec.notes)
    with pytest.raises(RecordingError, match=r"periph.edf .*has no EEG channel \(channels: GSR, Resp\)"):
        check_has_eeg(rec)
    check_has_eeg(load_recording(write_edf(tmp_path / "eeg.edf")))


def test_duplicate_names_are_made_unique_and_noted(tmp_path):
    path = write_edf(tmp_path / "dup.edf", (("Cz", 128.0, "uV"), ("Cz", 128.0, "uV")))
    rec = load_recording(path)
    assert len(set(rec.ch_names)) == 2
    assert any("Duplicate channel names" in n for n in rec.notes)


def test_progress_and_cancel(tmp_path):
    path = write_edf(tmp_path / "p.bdf", (("Fp1", 128.0, "uV"), ("Status", 128.0, "")), kind="bdf",
                     data={"Status": np.zeros(1280)})
    seen = []
    load_recording(path, progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        load_recording(path, cancel=stop)


def test_header_reader_reports_rates_and_records():
    h = read_edf_header(PYEDFLIB_DATA / "test_generator_datarec_generator_0_5.bdf")
    assert h.kind == "bdf" and h.record_s == 0.5
    assert [h.sfreq(i) for i in h.signal_indices] == [2000.0, 1600.0, 1000.0, 1950.0, 1998.0]
    assert h.annotation_indices == (5,)
    assert h.duration_s == pytest.approx(30.0)
    mne_raw = mne.io.read_raw_bdf(h.path, verbose="error")
    assert h.n_records == mne_raw._raw_extras[0]["n_records"]


def test_channel_specific_annotations_round_trip(tmp_path):
    # mne's EDF writer convention (also used by the synthetic writer): "description@@channel"
    path = write_edf(tmp_path / "chan.edf", annotations=[(2.0, 1.0, "ART_blink@@Fp1"), (2.0, 1.0, "ART_blink@@Cz"),
                                                         (5.0, 0.5, "BAD_all")])
    ann = load_recording(path).annotations
    assert [(a.onset, a.description, a.ch_names) for a in ann] == [
        (2.0, "ART_blink", ("Cz", "Fp1")), (5.0, "BAD_all", ())]  # mne sorts ch_names
