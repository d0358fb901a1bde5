"""Write a recording with annotations as a new EDF+/BDF+ file, record by record, in bounded memory.

The annotation export (*Annotations > Export recording with annotations*) must work for recordings of any length
and keep every channel at its own rate. Two ways in:

- **From an EDF/BDF file** (the recording's own file, or the BDF file of a MAHNOB-HCI session): the file's data
  records are read a chunk at a time (:data:`CHUNK_BYTES`) and copied into the new file with their digital
  samples unchanged, each signal with its own samples per record (a 4-Hz GSR beside 512-Hz EEG stays at 4 Hz),
  the record duration, labels (in ASCII), transducer, unit, physical and digital ranges, prefiltering, start date
  and time (with the first record's sub-second onset) as in the source; the source's annotation signals are
  replaced by one new annotation signal. EDF stays 16-bit (EDF+), BDF stays 24-bit (BDF+, ``.bdf``). A BDF
  recording exported under a ``.edf`` name is requantised to 16 bits per channel over its digital range (the
  quantisation step grows ~256 times: said in :class:`EdfExport`); an EDF recording under ``.bdf`` keeps its
  values in 24 bits.
- **From anything else** (DEAP trials, arrays): the samples are read with :meth:`Recording.get_data` a chunk at a
  time, in two passes (the physical range of each channel, then the samples), quantised to 16 bits per channel;
  records of one second (or the shortest whole number of seconds holding a whole number of samples); the last
  record is padded with each channel's last value, as mne's export does (said in :class:`EdfExport`).

Annotations are written as EDF+ TALs (time-stamped annotation lists), packed in order of onset into the records'
annotation signal after each record's time-keeping TAL; an annotation of some channels is written once per
channel as ``text@@channel`` (mne's convention, read back by ``mne.io.read_raw_edf`` as ``ch_names``). EDF+D/BDF+D
sources are written as continuous (EDF+C/BDF+C) files, the records end to end, as the application shows them.

Written by hand because no well-kept library writes EDF+ as a stream with all of this: edfio (and
``mne.export.export_raw``, which uses it) builds the whole file in memory before writing it; pyedflib's
``EdfWriter`` streams records (digital samples as given, each signal at its rate), but its C library (edflib) cuts
annotation texts to 40 characters and keeps one annotation per record and annotation signal, 64 signals at most
(measured with pyedflib 0.1.42: 600 annotations in a 5-record file, 5 read back), and composes the patient and
recording fields from its own subfields. The format is fixed-width ASCII fields plus little-endian integers
(https://www.edfplus.info/specs/edf.html, https://www.edfplus.info/specs/edfplus.html).

The file is written through :func:`mmqnet_core.fileio.atomic_path` (a temporary file beside the output, renamed at
the end; a cancel or an error leaves neither the output nor the temporary file), which also refuses to write over
a recording opened for reading (:func:`mmqnet_core.fileio.protect_source`). Cancel is checked and progress
reported between chunks (:mod:`mmqnet_core.progress`). Peak memory is about three chunks, whatever the length.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import MMQNetError
from ..fileio import atomic_path
from ..labels import ascii_names
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import Modality
from .edf_header import EdfHeader, read_edf_header
from .mixed_rates import decode_samples

__all__ = ["EdfExport", "ExportError", "TalEntry", "export_plan", "write_edf_with_annotations", "source_kind",
           "CHUNK_BYTES"]

log = logging.getLogger(__name__)

#: Bytes of source records read (and of output records written) per step: bounds the memory, sets the cancel grain.
CHUNK_BYTES = 8 * 1024**2
#: The per-signal header fields (name, width in bytes), in file order (EDF spec).
_SIGNAL_FIELDS = (("label", 16), ("transducer", 80), ("unit", 8), ("physical_min", 8), ("physical_max", 8),
                  ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80), ("n_samples", 8), ("reserved", 32))
_EDF_DIGITAL = (-32768, 32767)
_BDF_DIGITAL = (-8388608, 8388607)


class ExportError(MMQNetError):
    """A recording cannot be exported as EDF+/BDF+ as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class TalEntry:
    """One annotation to write: onset and duration in seconds from the recording's first sample."""

    onset: float  # s from the first sample, >= 0
    duration: float  # s, >= 0 (0: an instant)
    text: str  # UTF-8 text
    channels: tuple[str, ...] = ()  # recording channel names; empty: all channels


@dataclass(frozen=True)
class EdfExport:
    """What an export writes (:func:`export_plan`), known before any sample is read."""

    path: Path  # the output file
    kind: str  # "edf" (16-bit EDF+) or "bdf" (24-bit BDF+)
    source: Path | None  # the EDF/BDF file whose records are copied; None: read through Recording.get_data
    n_records: int  # data records written
    record_s: float  # duration of one data record, s
    n_samples: tuple[int, ...]  # samples per record of each signal written (the recording's channels), own rates
    n_bytes: int  # size of the file written, bytes (annotation signal estimated)
    notes: tuple[str, ...] = ()  # what the user should know (requantised to 16 bits, padded last record)


def _field(text: str | bytes, width: int) -> bytes:
    """A fixed-width header field: ASCII (other characters as '?'), left-aligned, padded with spaces."""
    data = text if isinstance(text, bytes) else text.encode("ascii", "replace")
    data = bytes(c if 32 <= c < 127 else 63 for c in data)[:width]
    return data.ljust(width, b" ")


def _number(value: float, width: int = 8, *, down: bool | None = None) -> bytes:
    """``value`` in ``width`` characters: exact when it fits, else with fewer decimals, rounded down (``down``
    True), up (False) or to the nearest (None), so that a physical range written still holds the data."""
    value = float(value)
    for decimals in range(width, -1, -1):
        scale = 10.0 ** decimals
        num = (math.floor(value * scale) if down is True else math.ceil(value * scale) if down is False
               else round(value * scale)) / scale
        text = f"{num:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text == "-0":
            text = "0"
        if len(text) <= width:
            return _field(text, width)
    raise ExportError(f"Cannot write the value {value!r} in an EDF header field of {width} characters.")


def _seconds(value: float) -> str:
    """A TAL time: sign, then seconds with at most 7 decimals (100 ns), no trailing zeros."""
    text = f"{abs(value):.7f}".rstrip("0").rstrip(".")
    return ("-" if value < 0 else "+") + (text or "0")


def _tal_text(text: str) -> bytes:
    """Annotation text as TAL bytes: UTF-8, without the bytes that delimit TALs (0, 20, 21)."""
    return text.replace("\x00", " ").replace("\x14", " ").replace("\x15", " ").encode("utf-8")


def _tals(entries: Sequence[TalEntry], offset_s: float, labels: dict[str, str]) -> list[bytes]:
    """Each annotation as one TAL per channel (``text@@label``), in order of onset; times + ``offset_s``."""
    out = []
    for e in sorted(entries, key=lambda e: (e.onset, e.duration, e.text)):
        head = _seconds(offset_s + e.onset).encode() + (b"\x15" + _seconds(e.duration)[1:].encode()
                                                         if e.duration > 0 else b"")
        texts = [_tal_text(e.text)] if not e.channels else [
            _tal_text(f"{e.text}@@{labels.get(c, c)}") for c in e.channels]
        out += [head + b"\x14" + t + b"\x14\x00" for t in texts]
    return out


def _timekeeping(onset_s: float) -> bytes:
    return _seconds(onset_s).encode() + b"\x14\x14\x00"


def _annotation_bytes(tals: list[bytes], n_records: int, first_s: float, record_s: float) -> int:
    """Bytes of the annotation signal per record so that every TAL fits when packed in order into the records."""
    keeping = len(_timekeeping(first_s + n_records * record_s)) + 1
    longest = max((len(t) for t in tals), default=0)
    total = sum(len(t) for t in tals)
    return max(keeping + longest + -(-total // max(n_records, 1)), 2 * keeping)


def _annotation_records(tals: list[bytes], n_records: int, size: int, first_s: float,
                        record_s: float) -> Iterator[bytes]:
    """The annotation signal of each record (``size`` bytes): its time-keeping TAL, then TALs in order."""
    k = 0
    for r in range(n_records):
        chunk = bytearray(_timekeeping(first_s + r * record_s))
        while k < len(tals) and len(chunk) + len(tals[k]) <= size:
            chunk += tals[k]
            k += 1
        yield bytes(chunk.ljust(size, b"\x00"))
    assert k == len(tals), "annotation signal too small"  # _annotation_bytes guarantees room (internal invariant)


# --- the source file -------------------------------------------------------------------------------------------
def _source_file(recording) -> tuple[EdfHeader, bytes] | None:
    """The EDF/BDF file behind ``recording`` whose ordinary signals are the recording's channels, with its header
    bytes; None when the samples must come through ``Recording.get_data``."""
    try:
        filenames = list(getattr(recording.raw, "filenames", ()) or ())
        if len(filenames) != 1 or filenames[0] is None:
            return None
        path = Path(filenames[0])
        if path.suffix.lower() not in (".edf", ".bdf") or not path.is_file():
            return None
        header = read_edf_header(path)
        with open(path, "rb") as fh:
            raw_header = fh.read(header.header_bytes)
    except (MMQNetError, OSError, ValueError, AttributeError):
        return None
    if len(header.signal_indices) != recording.n_channels or header.n_records < 1:
        return None
    return header, raw_header


def source_kind(recording) -> str | None:
    """"bdf" or "edf": the format of the file whose records an export copies; None when there is none (the
    samples are then read through ``Recording.get_data`` and written as 16-bit EDF)."""
    source = _source_file(recording)
    return source[0].kind if source is not None else None


def _signal_fields(header: EdfHeader, raw_header: bytes) -> dict[str, list[bytes]]:
    """Each per-signal header field as bytes, per signal of the file."""
    ns = len(header.labels)
    out, pos = {}, 256
    for name, width in _SIGNAL_FIELDS:
        out[name] = [raw_header[pos + i * width: pos + (i + 1) * width] for i in range(ns)]
        pos += ns * width
    return out


def _first_onset(header: EdfHeader) -> float:
    from .edf_reader import first_record_onset

    return first_record_onset(header)


def _plus_fields(header: EdfHeader, raw_header: bytes) -> tuple[bytes, bytes]:
    """The patient and recording fields for an EDF+ file: as they are when they already follow EDF+ (4 patient
    subfields, a recording field starting "Startdate "); a plain file's free text goes into the EDF+ subfields
    (the patient's name, and the recording's additional subfield)."""
    patient, recording = raw_header[8:88], raw_header[88:168]
    p_text = patient.decode("ascii", "replace").strip()
    r_text = recording.decode("ascii", "replace").strip()
    if header.variant or (len(p_text.split(" ")) >= 4 and r_text.startswith("Startdate ")):
        return _field(patient, 80), _field(recording, 80)
    start = _start_datetime(raw_header)
    date = start.strftime("%d-%b-%Y").upper() if start is not None else "X"
    p_free = p_text.replace(" ", "_") or "X"
    r_free = r_text.replace(" ", "_")
    return _field(f"X X X {p_free}", 80), _field(f"Startdate {date} X X X {r_free}".rstrip(), 80)


def _start_datetime(raw_header: bytes) -> dt.datetime | None:
    """The header's start date and time (dd.mm.yy hh.mm.ss; years 85-99 are 19xx), or None when unreadable."""
    try:
        d, m, y = (int(x) for x in raw_header[168:176].decode("ascii").split("."))
        hh, mm, ss = (int(x) for x in raw_header[176:184].decode("ascii").split("."))
        return dt.datetime(1900 + y if y >= 85 else 2000 + y, m, d, hh, mm, ss)
    except (ValueError, UnicodeDecodeError):
        return None


# --- the plan --------------------------------------------------------------------------------------------------
def _check_path(path: Path, recording, source: tuple[EdfHeader, bytes] | None) -> str:
    kind = path.suffix.lower().lstrip(".")
    bdf_source = source is not None and source[0].kind == "bdf"
    if kind not in ("edf", "bdf") or (kind == "bdf" and source is None):
        raise ExportError(f"Invalid file name {path.name!r} for an EDF+ export: it must end in .edf"
                          + (" (or .bdf to keep the 24-bit samples of this BDF recording)." if bdf_source else
                             "."))
    for src in {recording.source, source[0].path if source is not None else None} - {None}:
        try:
            same = path.resolve() == Path(src).resolve() or (path.exists() and os.path.samefile(path, src))
        except OSError:
            same = False
        if same:
            raise ExportError(f"Cannot export the annotations into {path.name}: that is the recording itself, "
                              "which is never written. Choose another file name.")
    return kind


def _generic_record(sfreq: float) -> tuple[float, int]:
    """Record duration (s) and samples per record for a recording at ``sfreq`` Hz not read from an EDF file."""
    for seconds in range(1, 101):
        n = sfreq * seconds
        if abs(n - round(n)) < 1e-6 * max(1.0, n):
            return float(seconds), int(round(n))
    raise ExportError(f"Cannot export a recording sampled at {sfreq!r} Hz as EDF+: no record of up to 100 s holds a "
                      "whole number of its samples. Export the annotations as CSV instead.")


def export_plan(path: str | os.PathLike, recording, entries: Sequence[TalEntry] = ()) -> EdfExport:
    """What :func:`write_edf_with_annotations` would write to ``path`` (size, rates, format); nothing is read but
    the source's header. Raises :class:`ExportError` for a file name it refuses (wrong extension, the recording
    itself)."""
    path = Path(path)
    source = _source_file(recording)
    kind = _check_path(path, recording, source)
    width = 3 if kind == "bdf" else 2
    notes: list[str] = []
    if source is not None:
        header = source[0]
        n_records, record_s = header.n_records, header.record_s
        n_samples = tuple(header.n_samples[i] for i in header.signal_indices)
        first = _first_onset(header)
        if header.kind == "bdf" and kind == "edf":
            notes.append("24-bit BDF samples written as 16-bit EDF: each channel requantised over its digital range "
                         "(export as .bdf to keep them exactly).")
        if header.variant.endswith("+D"):
            notes.append(f"{header.variant} records written end to end as a continuous file (as shown).")
    else:
        record_s, spr = _generic_record(recording.sfreq)
        n_records = -(-recording.n_times // spr)
        n_samples = (spr,) * recording.n_channels
        first = 0.0
        pad = n_records * spr - recording.n_times
        if pad:
            notes.append(f"The last data record is padded with each channel's last value ({pad / recording.sfreq:g} "
                         "s): EDF records have a fixed length.")
    labels = dict(zip(recording.ch_names, ascii_names(recording.ch_names)))
    tals = _tals(entries, first, labels)
    ann = -(-_annotation_bytes(tals, n_records, first, record_s) // width)
    ns = len(n_samples) + 1
    n_bytes = 256 * (ns + 1) + n_records * (sum(n_samples) + ann) * width
    return EdfExport(path, kind, source[0].path if source is not None else None, n_records, record_s, n_samples,
                     n_bytes, tuple(notes))


# --- writing ---------------------------------------------------------------------------------------------------
def _main_header(kind: str, patient: bytes, recording: bytes, date: bytes, time: bytes, ns: int, n_records: int,
                 record_s: bytes) -> bytes:
    return b"".join([b"\xffBIOSEMI" if kind == "bdf" else _field("0", 8), patient, recording, date, time,
                     _field(str(256 * (ns + 1)), 8), _field("BDF+C" if kind == "bdf" else "EDF+C", 44),
                     _field(str(n_records), 8), record_s, _field(str(ns), 4)])


def _signal_header(fields: dict[str, list[bytes]]) -> bytes:
    return b"".join(b"".join(fields[name]) for name, _ in _SIGNAL_FIELDS)


def _encode(values: np.ndarray, width: int) -> np.ndarray:
    """int (n_records, n) -> little-endian bytes (n_records, n * width)."""
    if width == 2:
        return values.astype("<i2").view(np.uint8).reshape(values.shape[0], -1)
    v = values.astype("<i4").view(np.uint8).reshape(values.shape[0], -1, 4)[..., :3]
    return v.reshape(values.shape[0], -1)


def write_edf_with_annotations(path: str | os.PathLike, recording, entries: Sequence[TalEntry], *,
                               progress: ProgressCallback | None = None,
                               cancel: CancelToken | None = None) -> EdfExport:
    """Write ``recording``'s signals and ``entries`` as a new EDF+ (``.edf``) or BDF+ (``.bdf``) file.

    Parameters
    ----------
    path : str or os.PathLike
        The new file; ``.bdf`` only for a BDF recording (24-bit samples kept). Written atomically; never the
        recording's own file.
    recording : mmqnet_core.recording.Recording
        The recording; only read.
    entries : sequence of TalEntry
        The annotations, onsets in s from the first sample.
    progress, cancel
        See :mod:`mmqnet_core.progress`; cancel is checked between chunks of :data:`CHUNK_BYTES`.

    Returns
    -------
    EdfExport
        What was written (its ``notes`` say what the user should know).

    Raises
    ------
    ExportError
        A file name refused (wrong extension, the recording itself).
    mmqnet_core.errors.OutputError
        The file could not be written (full disk, read-only folder, a recording opened for reading).
    mmqnet_core.errors.Cancelled
        ``cancel`` was set; nothing was written.
    """
    plan = export_plan(path, recording, entries)
    labels = ascii_names(recording.ch_names)
    check_cancel(cancel)
    report(progress, 0.0, f"writing {plan.path.name}")
    with atomic_path(plan.path) as tmp, open(tmp, "wb") as out:
        if plan.source is not None:
            _copy_records(out, plan, recording, entries, labels, progress, cancel)
        else:
            _write_samples(out, plan, recording, entries, labels, progress, cancel)
        out.flush()
    for note in plan.notes:
        log.info("%s: %s", plan.path.name, note)
    report(progress, 1.0, f"wrote {plan.path.name}")
    return plan


def _copy_records(out, plan: EdfExport, recording, entries, labels, progress, cancel) -> None:
    """The source file's records, chunk by chunk, their annotation signals replaced by the new one."""
    header = read_edf_header(plan.source)
    with open(plan.source, "rb") as fh:
        raw_header = fh.read(header.header_bytes)
    sig = header.signal_indices
    in_w, out_w = header.bytes_per_sample, (3 if plan.kind == "bdf" else 2)
    fields = _signal_fields(header, raw_header)
    first = _first_onset(header)
    tals = _tals(entries, first, dict(zip(recording.ch_names, labels)))
    ann_size = -(-_annotation_bytes(tals, header.n_records, first, header.record_s) // out_w) * out_w
    requantise = header.kind == "bdf" and plan.kind == "edf"
    digital = _EDF_DIGITAL if requantise else None
    new = {name: [fields[name][i] for i in sig] for name in fields}
    new["label"] = [_field(lab, 16) for lab in labels]
    # trigger channels keep their codes' lower 16 bits (what mne and the app read of a BioSemi Status channel)
    stim = [c.modality == Modality.STIM for c in recording.channels]
    if requantise:
        new["digital_min"] = [_field(str(digital[0]), 8)] * len(sig)
        new["digital_max"] = [_field(str(digital[1]), 8)] * len(sig)
        for k in np.flatnonzero(stim):
            new["physical_min"][k], new["physical_max"][k] = _field("0", 8), _field("65535", 8)
    new_ann = {"label": _field("BDF Annotations" if plan.kind == "bdf" else "EDF Annotations", 16),
               "transducer": _field("", 80), "unit": _field("", 8), "physical_min": _field("-1", 8),
               "physical_max": _field("1", 8), "digital_min": _field(str((_BDF_DIGITAL if plan.kind == "bdf"
                                                                         else _EDF_DIGITAL)[0]), 8),
               "digital_max": _field(str((_BDF_DIGITAL if plan.kind == "bdf" else _EDF_DIGITAL)[1]), 8),
               "prefiltering": _field("", 80), "n_samples": _field(str(ann_size // out_w), 8),
               "reserved": _field("", 32)}
    for name in new:
        new[name] = list(new[name]) + [new_ann[name]]
    patient, rec_field = _plus_fields(header, raw_header)
    out.write(_main_header(plan.kind, patient, rec_field, raw_header[168:176], raw_header[176:184], len(sig) + 1,
                           header.n_records, raw_header[244:252]))
    out.write(_signal_header(new))
    # byte columns of each signal in a source record and in an output record
    starts = np.concatenate([[0], np.cumsum(header.n_samples)]) * in_w
    cols = [(int(starts[i]), int(starts[i + 1])) for i in sig]
    dmin = np.array([header.digital_min[i] for i in sig], dtype=np.int64)
    dmax = np.array([header.digital_max[i] for i in sig], dtype=np.int64)
    out_rec = (sum(header.n_samples[i] for i in sig)) * out_w + ann_size
    per = max(1, CHUNK_BYTES // max(header.record_bytes, out_rec))
    ann_iter = _annotation_records(tals, header.n_records, ann_size, first, header.record_s)
    fd = os.open(plan.source, os.O_RDONLY)
    inbuf = np.empty(per * header.record_bytes, dtype=np.uint8)  # reused: memory stays two chunks
    outbuf = np.empty((per, out_rec), dtype=np.uint8)
    try:
        for r0 in range(0, header.n_records, per):
            check_cancel(cancel)
            n = min(per, header.n_records - r0)
            block = _pread_into(fd, inbuf[:n * header.record_bytes], header.header_bytes + r0 * header.record_bytes,
                                plan.source).reshape(n, header.record_bytes)
            buf = outbuf[:n]
            pos = 0
            for k, (a, b) in enumerate(cols):
                size = (b - a) // in_w * out_w
                if in_w == out_w:
                    buf[:, pos:pos + size] = block[:, a:b]
                else:
                    values = decode_samples(block[:, a:b], in_w)
                    if requantise and stim[k]:
                        values = (values & 0xFFFF) + digital[0]
                    elif requantise:
                        span = max(int(dmax[k] - dmin[k]), 1)
                        values = np.rint((np.clip(values, min(dmin[k], dmax[k]), max(dmin[k], dmax[k])) - dmin[k])
                                         * ((digital[1] - digital[0]) / span)) + digital[0]
                    buf[:, pos:pos + size] = _encode(values, out_w)
                pos += size
            buf[:, pos:] = np.frombuffer(b"".join(next(ann_iter) for _ in range(n)),
                                         dtype=np.uint8).reshape(n, ann_size)
            out.write(memoryview(buf).cast("B"))
            report(progress, (r0 + n) / header.n_records, f"writing {plan.path.name}")
    finally:
        os.close(fd)


def _pread_into(fd: int, buf: np.ndarray, offset: int, path: Path) -> np.ndarray:
    """Fill ``buf`` (uint8) from the file at ``offset``; a file that became shorter is an error naming it."""
    view, done = memoryview(buf), 0
    while done < len(buf):
        if hasattr(os, "preadv"):
            got = os.preadv(fd, [view[done:]], offset + done)
        else:  # Windows: no positioned read (the file is this thread's own descriptor)
            os.lseek(fd, offset + done, os.SEEK_SET)
            part = os.read(fd, len(buf) - done)
            view[done:done + len(part)] = part
            got = len(part)
        if got <= 0:
            from ..errors import FileChangedError

            raise FileChangedError(f"Cannot export {path.name}: the file became shorter while it was read (it was "
                                   "changed or truncated). Open it again; nothing was written.")
        done += got
    return buf


def _unit(unit: str) -> tuple[str, float]:
    """The EDF unit and the factor from the recording's values: volts are written as microvolts ("uV")."""
    return ("uV", 1e6) if unit == "V" else (unit, 1.0)


def _write_samples(out, plan: EdfExport, recording, entries, labels, progress, cancel) -> None:
    """A recording not read from an EDF file: two chunked passes (ranges, then samples), 16-bit EDF+."""
    n_ch, n_times = recording.n_channels, recording.n_times
    spr = plan.n_samples[0]
    units = [_unit(c.unit) for c in recording.channels]
    factor = np.array([f for _, f in units])[:, None]
    lo = np.full(n_ch, np.inf)
    hi = np.full(n_ch, -np.inf)
    step = max(spr, CHUNK_BYTES // (8 * max(n_ch, 1)) // spr * spr)  # float64 samples of all channels per step
    passes = 2 * max(1, -(-n_times // step))
    done = 0
    for s in range(0, n_times, step):  # pass 1: each channel's physical range
        check_cancel(cancel)
        x = recording.raw.get_data(start=s, stop=min(n_times, s + step)) * factor
        with np.errstate(invalid="ignore"):
            lo = np.fmin(lo, np.nanmin(x, axis=1) if x.size else lo)
            hi = np.fmax(hi, np.nanmax(x, axis=1) if x.size else hi)
        done += 1
        report(progress, done / passes, f"writing {plan.path.name}")
    lo = np.where(np.isfinite(lo), lo, 0.0)
    hi = np.where(np.isfinite(hi), hi, 0.0)
    hi = np.where(hi > lo, hi, lo + 1.0)
    pmin = [_number(v, down=True) for v in lo]
    pmax = [_number(v, down=False) for v in hi]
    lo = np.array([float(p) for p in pmin])[:, None]
    hi = np.array([float(p) for p in pmax])[:, None]
    d0, d1 = _EDF_DIGITAL
    gain = (d1 - d0) / (hi - lo)
    start = recording.raw.info.get("meas_date")
    if start is not None:
        start = start.astimezone(dt.timezone.utc).replace(tzinfo=None)
    first = start.microsecond / 1e6 if start is not None else 0.0  # the sub-second start: first time-keeping TAL
    tals = _tals(entries, first, dict(zip(recording.ch_names, labels)))
    ann_size = -(-_annotation_bytes(tals, plan.n_records, first, plan.record_s) // 2) * 2
    fields = {
        "label": [_field(lab, 16) for lab in labels] + [_field("EDF Annotations", 16)],
        "transducer": [_field("", 80)] * (n_ch + 1),
        "unit": [_field(u, 8) for u, _ in units] + [_field("", 8)],
        "physical_min": pmin + [_field("-1", 8)],
        "physical_max": pmax + [_field("1", 8)],
        "digital_min": [_field(str(d0), 8)] * (n_ch + 1),
        "digital_max": [_field(str(d1), 8)] * (n_ch + 1),
        "prefiltering": [_field("", 80)] * (n_ch + 1),
        "n_samples": [_field(str(spr), 8)] * n_ch + [_field(str(ann_size // 2), 8)],
        "reserved": [_field("", 32)] * (n_ch + 1),
    }
    date = _field(start.strftime("%d.%m.%y") if start is not None else "01.01.85", 8)
    time = _field(start.strftime("%H.%M.%S") if start is not None else "00.00.00", 8)
    day = start.strftime("%d-%b-%Y").upper() if start is not None else "X"
    out.write(_main_header("edf", _field("X X X X", 80), _field(f"Startdate {day} X X X", 80), date, time,
                           n_ch + 1, plan.n_records, _number(plan.record_s)))
    out.write(_signal_header(fields))
    ann_iter = _annotation_records(tals, plan.n_records, ann_size, first, plan.record_s)
    last = None
    for s in range(0, plan.n_records * spr, step):  # pass 2: the samples, record by record
        check_cancel(cancel)
        stop = min(plan.n_records * spr, s + step)
        x = recording.raw.get_data(start=s, stop=min(n_times, stop)) * factor
        if x.shape[1]:
            last = x[:, -1:]
        if x.shape[1] < stop - s:  # the padded last record: each channel's last value
            x = np.concatenate([x, np.repeat(last, stop - s - x.shape[1], axis=1)], axis=1)
        d = np.rint(np.clip((np.nan_to_num(x) - lo) * gain + d0, d0, d1)).astype("<i2")
        n = (stop - s) // spr
        sig = d.reshape(n_ch, n, spr).transpose(1, 0, 2).reshape(n, n_ch * spr)
        ann = np.frombuffer(b"".join(next(ann_iter) for _ in range(n)), dtype=np.uint8).reshape(n, ann_size)
        out.write(np.concatenate([sig.view(np.uint8), ann], axis=1).tobytes())
        done += 1
        report(progress, done / passes, f"writing {plan.path.name}")
