"""The streaming EDF+/BDF+ export (mmqnet_core.io.edf_writer): each channel at its own rate, samples copied from
the file chunk by chunk, annotations and start time kept, atomic, cancellable, never over the source.

Before it, the export (``mne.export.export_raw`` of the whole recording) wrote a 4-Hz GSR at the top rate (512 Hz,
resampled) and held about three copies of the signal in memory (a 24-h recording was refused)."""

from __future__ import annotations

import datetime as dt
import threading

import edfio
import mne
import numpy as np
import pyedflib
import pytest

from mmqnet_core.annotations import AnnotationError, AnnotationSet
from mmqnet_core.errors import Cancelled, OutputError
from mmqnet_core.fileio import protect_source
from mmqnet_core.io import edf_writer, load_recording
from mmqnet_core.io.edf_header import read_edf_header
from mmqnet_core.recording import ChannelInfo, Modality, Recording

#: (label, Hz, unit, physical range): 512-Hz EEG, 4-Hz GSR, 1-Hz temperature.
MIXED = (("Fp1", 512, "uV", (-500.0, 500.0)), ("Cz", 512, "uV", (-500.0, 500.0)),
         ("GSR", 4, "uS", (0.0, 40.0)), ("Temp", 1, "degC", (20.0, 45.0)))
START = dt.datetime(2024, 3, 1, 14, 0, 5, 250000)


def _mixed(path, kind="edf", duration_s=12, record_s=2.0, annotations=(("stim", 1.5, 0.0),)):
    rng = np.random.default_rng(1)
    Signal, Writer = (edfio.BdfSignal, edfio.Bdf) if kind == "bdf" else (edfio.EdfSignal, edfio.Edf)
    signals = []
    for label, sfreq, unit, prange in MIXED:
        n = duration_s * sfreq
        t = np.arange(n) / sfreq
        mid, half = sum(prange) / 2, (prange[1] - prange[0]) / 2
        x = mid + 0.6 * half * np.sin(2 * np.pi * 0.37 * t) + 0.1 * half * rng.standard_normal(n)
        signals.append(Signal(x, sfreq, label=label, physical_dimension=unit, physical_range=prange,
                              prefiltering="HP:0.1Hz LP:100Hz", transducer_type="AgAgCl"))
    Writer(signals, data_record_duration=record_s, starttime=START.time(),
           recording=edfio.Recording(startdate=START.date()),
           annotations=[edfio.EdfAnnotation(on, dur, text) for text, on, dur in annotations]).write(path)
    return path


def _pyedflib_signals(path):
    with pyedflib.EdfReader(str(path)) as f:
        return ([f.readSignal(i, digital=True) for i in range(f.signals_in_file)],
                [f.readSignal(i) for i in range(f.signals_in_file)],
                [f.getSampleFrequency(i) for i in range(f.signals_in_file)],
                f.getSignalLabels(), [f.getPhysicalDimension(i) for i in range(f.signals_in_file)],
                [f.getPrefilter(i) for i in range(f.signals_in_file)], f.readAnnotations())


def _notes(rec):
    return (AnnotationSet.from_recording(rec.annotations).added(3.25, 1.5, "eyes closed \u00e4", "event")
            .added(7.0, 0.0, "spike", "event", ["Cz", "GSR"]))


@pytest.mark.parametrize("kind", ["edf", "bdf"])
def test_mixed_rates_round_trip_at_each_channels_own_rate(tmp_path, kind):
    src = _mixed(tmp_path / f"src.{kind}", kind)
    rec = load_recording(src)
    out = _notes(rec).export_edf(tmp_path / f"out.{kind}", rec)
    header = read_edf_header(out)
    assert header.kind == kind and header.variant == ("BDF+C" if kind == "bdf" else "EDF+C")
    digital, physical, rates, labels, units, prefilters, _ = _pyedflib_signals(out)
    s_digital, s_physical, s_rates, s_labels, s_units, s_prefilters, _ = _pyedflib_signals(src)
    assert rates == s_rates == [512, 512, 4, 1]  # the GSR stays at 4 Hz, the temperature at 1 Hz
    assert labels == s_labels and units == s_units and prefilters == s_prefilters
    for k, (label, _hz, _unit, prange) in enumerate(MIXED):
        step = (prange[1] - prange[0]) / (2 ** (24 if kind == "bdf" else 16) - 1)
        assert len(physical[k]) == len(s_physical[k])
        np.testing.assert_array_equal(digital[k], s_digital[k], err_msg=label)  # the file's samples, as stored
        assert np.abs(physical[k] - s_physical[k]).max() <= step, label
    with pyedflib.EdfReader(str(out)) as f:
        assert (f.getPhysicalMinimum(2), f.getPhysicalMaximum(2)) == (0.0, 40.0)
        assert f.getTransducer(0) == "AgAgCl"


@pytest.mark.parametrize("kind", ["edf", "bdf"])
def test_annotations_and_start_time_read_back_with_mne_and_pyedflib(tmp_path, kind):
    src = _mixed(tmp_path / f"src.{kind}", kind)
    rec = load_recording(src)
    assert rec.raw.info["meas_date"] == START.replace(tzinfo=dt.timezone.utc)  # 0.25 s after the header's second
    out = _notes(rec).export_edf(tmp_path / f"out.{kind}", rec)
    read = mne.io.read_raw_bdf if kind == "bdf" else mne.io.read_raw_edf
    raw = read(out, verbose="error")
    got = sorted((round(float(a["onset"]), 4), round(float(a["duration"]), 4), str(a["description"]),
                  tuple(a["ch_names"])) for a in raw.annotations)
    assert got == [(1.5, 0.0, "stim", ()), (3.25, 1.5, "eyes closed \u00e4", ()),
                   (7.0, 0.0, "spike", ("Cz", "GSR"))]  # mne joins the "@@channel" TALs of one event
    back = load_recording(out)
    assert back.raw.info["meas_date"] == rec.raw.info["meas_date"]  # the exact (sub-second) start
    *_, (onsets, durations, texts) = _pyedflib_signals(out)
    # pyedflib (edflib) also counts onsets from the first record's start, keeps "@@channel" in the text and says
    # "no duration" with -1
    assert sorted(zip(np.round(onsets, 4).tolist(), texts, np.round(durations, 4).tolist())) == [
        (1.5, "stim", -1.0), (3.25, "eyes closed \u00e4", 1.5), (7.0, "spike@@Cz", -1.0), (7.0, "spike@@GSR", -1.0)]


def test_bdf_as_edf_is_requantised_to_16_bits_and_an_array_recording_is_padded(tmp_path):
    src = _mixed(tmp_path / "src.bdf", "bdf")
    rec = load_recording(src)
    plan = edf_writer.export_plan(tmp_path / "out.edf", rec)
    assert any("requantised" in n for n in plan.notes)
    out = AnnotationSet().export_edf(tmp_path / "out.edf", rec)
    _, physical, rates, *_ = _pyedflib_signals(out)
    _, s_physical, *_ = _pyedflib_signals(src)
    assert rates == [512, 512, 4, 1] and read_edf_header(out).kind == "edf"
    for k, (label, _hz, _unit, prange) in enumerate(MIXED):
        step = (prange[1] - prange[0]) / (2**16 - 1)
        assert np.abs(physical[k] - s_physical[k]).max() <= step / 2 + 1e-9, label
    # an in-memory recording whose length is not a multiple of the record (10.3 s at 100 Hz, 1-s records)
    data = np.random.default_rng(0).standard_normal((2, 1030)) * 1e-5
    raw = mne.io.RawArray(data, mne.create_info(["Fz", "Cz"], 100.0, "eeg"), verbose=False)
    arr = Recording(raw=raw, channels=tuple(ChannelInfo(n, Modality.EEG, 100.0, "V") for n in ("Fz", "Cz")))
    plan = edf_writer.export_plan(tmp_path / "arr.edf", arr)
    assert plan.n_records == 11 and any("padded" in n for n in plan.notes)
    out = AnnotationSet().added(10.2, 0.0, "end").export_edf(tmp_path / "arr.edf", arr)
    back = mne.io.read_raw_edf(out, preload=True, verbose="error")
    assert back.n_times == 1100 and list(back.annotations.description) == ["end"]
    got = back.get_data()
    step = (data.max(axis=1) - data.min(axis=1))[:, None] / (2**16 - 1)
    assert (np.abs(got[:, :1030] - data) <= step).all()
    np.testing.assert_allclose(got[:, 1030:], np.repeat(got[:, 1029:1030], 70, axis=1))  # padded: last value


def test_chunks_that_do_not_divide_the_records_and_many_annotations(tmp_path, monkeypatch):
    src = _mixed(tmp_path / "src.edf", duration_s=14, record_s=1.0)
    rec = load_recording(src)
    one_record = read_edf_header(src).record_bytes
    monkeypatch.setattr(edf_writer, "CHUNK_BYTES", 3 * one_record)  # 14 records in chunks of 3: the last holds 2
    notes = AnnotationSet()
    for k in range(300):  # more annotations than records: packed after each record's time-keeping TAL
        notes = notes.added(k * 0.04, 0.01, f"event {k} " + "x" * (k % 50))
    out = notes.export_edf(tmp_path / "out.edf", rec)
    s_digital, *_ = _pyedflib_signals(src)
    digital, *_, (_, _, texts) = _pyedflib_signals(out)
    assert sorted(texts) == sorted(e.text for e in notes.entries)  # edflib reads every TAL of every record
    for a, b in zip(digital, s_digital):
        np.testing.assert_array_equal(a, b)
    raw = mne.io.read_raw_edf(out, verbose="error")
    assert sorted(raw.annotations.description) == sorted(e.text for e in notes.entries)
    np.testing.assert_allclose(sorted(raw.annotations.onset), sorted(e.onset for e in notes.entries), atol=1e-6)


def test_cancel_leaves_no_file_and_progress_is_reported(tmp_path, monkeypatch):
    src = _mixed(tmp_path / "src.edf", duration_s=20, record_s=1.0)
    rec = load_recording(src)
    monkeypatch.setattr(edf_writer, "CHUNK_BYTES", read_edf_header(src).record_bytes)  # one record per step
    cancel, seen = threading.Event(), []

    def progress(fraction, message):
        seen.append(fraction)
        if fraction >= 0.5:
            cancel.set()  # the user cancels half-way

    with pytest.raises(Cancelled):
        AnnotationSet().export_edf(tmp_path / "out.edf", rec, progress=progress, cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.edf"]  # no output, no temporary file
    assert 0.5 <= max(seen) < 0.6 and len(seen) > 5
    seen.clear()
    AnnotationSet().export_edf(tmp_path / "out.edf", rec, progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 20


def test_export_over_the_source_is_refused_under_any_name(tmp_path):
    src = _mixed(tmp_path / "src.edf")
    before = src.read_bytes()
    rec = load_recording(src)
    with pytest.raises(AnnotationError, match="that is the recording itself"):
        AnnotationSet().export_edf(src, rec)
    link = tmp_path / "link.edf"
    link.hardlink_to(src)
    with pytest.raises(AnnotationError, match="that is the recording itself"):
        AnnotationSet().export_edf(link, rec)
    protect_source(src)  # what the app does for every recording it opens: another recording's name too
    other = _mixed(tmp_path / "other.edf")
    protect_source(other)
    with pytest.raises(OutputError, match="recordings are never written"):
        AnnotationSet().export_edf(other, rec)
    assert src.read_bytes() == before
    with pytest.raises(AnnotationError, match=r"must end in .edf \(or .bdf"):
        AnnotationSet().export_edf(tmp_path / "x.fif", load_recording(_mixed(tmp_path / "b.bdf", "bdf")))


def test_a_bdf_status_channel_keeps_its_trigger_codes_in_16_bit_edf(tmp_path):
    """Requantising a BioSemi Status channel over its 24-bit range would turn trigger codes into steps of 256."""
    codes = np.zeros(256 * 10)
    codes[256:300], codes[1000:1100], codes[2000:2050] = 5, 65280, 255 | (1 << 20)  # bit 20: system status
    signals = [edfio.BdfSignal(np.sin(np.arange(2560) / 9.0) * 50, 256, label="Fp1", physical_dimension="uV",
                               physical_range=(-100, 100)),
               edfio.BdfSignal(codes, 256, label="Status", physical_range=(-8388608, 8388607),
                               digital_range=(-8388608, 8388607))]
    src = tmp_path / "trig.bdf"
    edfio.Bdf(signals).write(src)
    rec = load_recording(src)
    assert [c.modality for c in rec.channels] == [Modality.EEG, Modality.STIM]
    out = AnnotationSet().export_edf(tmp_path / "out.edf", rec)
    _, physical, *_ = _pyedflib_signals(out)
    np.testing.assert_array_equal(physical[1], codes.astype(np.int64) & 0xFFFF)
    back = load_recording(out)
    assert sorted({a.description for a in back.annotations}) == ["trigger 255", "trigger 5", "trigger 65280"]
    digital, *_ = _pyedflib_signals(AnnotationSet().export_edf(tmp_path / "out.bdf", rec))
    np.testing.assert_array_equal(digital[1], codes)  # BDF+: all 24 bits as stored


def test_a_plain_edf_gets_edf_plus_fields_with_its_free_text_kept(tmp_path):
    from ..bad_inputs.cases import edf_bytes

    data = bytearray(edf_bytes(labels=("Fp1", "Cz"), ns=(256, 16), n_records=5))
    data[8:168] = b"John Smith".ljust(80) + b"Lab 3 session 2".ljust(80)  # plain EDF: free text
    src = tmp_path / "plain.edf"
    src.write_bytes(bytes(data))
    out = AnnotationSet().added(1.0, 0.0, "x").export_edf(tmp_path / "out.edf", load_recording(src))
    head = out.read_bytes()[:256]
    assert head[8:88].rstrip() == b"X X X John_Smith"
    assert head[88:168].rstrip() == b"Startdate 01-JAN-2020 X X X Lab_3_session_2"
    assert head[192:197] == b"EDF+C" and head[168:184] == b"01.01.2000.00.00"
    raw = mne.io.read_raw_edf(out, verbose="error")
    assert raw.info["meas_date"] == dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    assert list(raw.annotations.description) == ["x"]


def test_an_edf_plus_d_file_is_written_continuous_as_shown_and_says_so(tmp_path):
    from .test_discontinuous_session12 import _edf_plus_d

    src = _edf_plus_d(tmp_path / "d.edf", gap_after=10, gap_s=10)
    rec = load_recording(src)
    plan = edf_writer.export_plan(tmp_path / "out.edf", rec)
    assert any("EDF+D records written end to end" in n for n in plan.notes)
    out = AnnotationSet.from_recording(rec.annotations).export_edf(tmp_path / "out.edf", rec)
    assert read_edf_header(out).variant == "EDF+C"
    back = load_recording(out)
    assert not back.warnings and back.n_times == rec.n_times  # no gap left: the times the window showed
    assert [(a.onset, a.description) for a in back.annotations] == [(a.onset, a.description) for a in rec.annotations]
