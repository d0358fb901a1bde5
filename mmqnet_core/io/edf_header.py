"""Read and check the header of an EDF/EDF+/BDF/BDF+ file before mne opens it.

mne reads these headers too, but it accepts many broken files with a warning (or fails deep inside with an
``IndexError``), and it does not keep everything we report to the user (each channel's own rate, inverted
ranges). The header layout is fixed by the EDF specification (https://www.edfplus.info/specs/edf.html): a
256-byte main header, then 256 bytes per signal stored field by field. Reading it here is about forty lines,
gives precise messages that name the file and the field, and costs one small read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..check import check_range, check_regular_file, invalid, safe_text
from ..errors import RecordingError

__all__ = ["EdfHeader", "read_edf_header", "MAX_SFREQ", "MAX_RECORD_S"]

#: Highest per-signal sampling rate accepted, Hz (BioSemi ActiveTwo records at most 16 kHz).
MAX_SFREQ = 100_000.0
#: Longest data record accepted, s (EDF allows fractional durations; real files use 0.1-60 s).
MAX_RECORD_S = 3600.0

_ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")

# (field name, width in bytes) of the per-signal header, in file order.
_SIGNAL_FIELDS = (
    ("label", 16),
    ("transducer", 80),
    ("unit", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefiltering", 80),
    ("n_samples", 8),
    ("reserved", 32),
)


@dataclass(frozen=True)
class EdfHeader:
    """What the header of an EDF/BDF file says, checked."""

    path: Path  # the file
    kind: str  # "edf" or "bdf", from the file's version field (not its extension)
    variant: str  # "EDF+C", "EDF+D", "BDF+C", "BDF+D" or "" for plain EDF/BDF (the 'reserved' field)
    patient: str  # patient identification field (80 characters, stripped)
    recording: str  # recording identification field (80 characters, stripped)
    header_bytes: int  # size of the header, bytes
    n_records_header: int  # number of data records written in the header (-1 = unknown)
    n_records: int  # number of complete data records actually present in the file
    record_s: float  # duration of one data record, s
    labels: tuple[str, ...]  # all signal labels, annotation signals included
    units: tuple[str, ...]  # physical dimension of each signal as written ("uV", "uS", "")
    physical_min: tuple[float, ...]  # per signal, in ``units``
    physical_max: tuple[float, ...]  # per signal, in ``units``
    digital_min: tuple[int, ...]  # per signal
    digital_max: tuple[int, ...]  # per signal
    n_samples: tuple[int, ...]  # samples per data record, per signal
    trailing_bytes: int = 0  # bytes after the last complete data record (an incomplete record, not read)

    @property
    def bytes_per_sample(self) -> int:
        """2 for EDF, 3 for BDF."""
        return 3 if self.kind == "bdf" else 2

    @property
    def record_bytes(self) -> int:
        """Size of one data record, bytes."""
        return sum(self.n_samples) * self.bytes_per_sample

    @property
    def annotation_indices(self) -> tuple[int, ...]:
        """Indices of the EDF+/BDF+ annotation signals."""
        return tuple(i for i, lab in enumerate(self.labels) if lab in _ANNOTATION_LABELS)

    @property
    def signal_indices(self) -> tuple[int, ...]:
        """Indices of the ordinary (non-annotation) signals, in file order."""
        ann = set(self.annotation_indices)
        return tuple(i for i in range(len(self.labels)) if i not in ann)

    def sfreq(self, index: int) -> float:
        """Sampling rate of signal ``index``, Hz."""
        return self.n_samples[index] / self.record_s

    @property
    def duration_s(self) -> float:
        """Duration of the data present in the file, s."""
        return self.n_records * self.record_s

    @property
    def patient_code(self) -> str | None:
        """The EDF+/BDF+ patient code (the first subfield of the patient field, e.g. ``MCH-0234567``), or None:
        plain EDF/BDF (a free-text field, not parsed), unknown (``X``), or ``SYNTHETIC`` (this project's writer
        marks synthetic data there: not a subject)."""
        if not self.variant:
            return None
        code = self.patient.split(" ", 1)[0] if self.patient else ""
        return None if code.upper() in ("", "X", "SYNTHETIC") else code

    @property
    def is_synthetic(self) -> bool:
        """True if the patient or recording field says the data are synthetic."""
        return "SYNTHETIC" in (self.patient + " " + self.recording).upper()



def _printable(data: bytes) -> str:
    """``data`` as a user reads it: printable ASCII as it is, every other byte as ``\\xNN`` (no ``b'...'``)."""
    return "".join(chr(c) if 32 <= c < 127 and c != 34 else f"\\x{c:02x}" for c in data)

#: The first bytes of files a user may take for a recording, and what they are (said in the error).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document): unpack it and open the recording inside"),
    (b"\x1f\x8b", "gzip-compressed: unpack it and open the recording inside"),
    (b"7z\xbc\xaf", "a 7-Zip archive: unpack it and open the recording inside"),
    (b"\x80", "a Python pickle, as DEAP's sNN.dat files are: if it is one, name it with the .dat extension"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x89HDF", "an HDF5 file (a MATLAB v7.3 .mat file is one)"),
    (b"MATLAB", "a MATLAB .mat file"),
    (b"Brain Vision", "a BrainVision header (.vhdr)"),
    (b"GDF", "a GDF file"),
)


def _looks_like(head: bytes) -> str:
    """What the file seems to be from its first bytes, as "; it looks like ..." (empty when unknown)."""
    for sig, what in _SIGNATURES:
        if head.startswith(sig):
            return f"; it looks like {what}"
    if head and all(32 <= c < 127 or c in (9, 10, 13) for c in head):
        return "; it looks like a text file"
    return ""


def _ascii(raw: bytes) -> str:
    return raw.decode("latin-1").strip()


def read_edf_header(path: str | os.PathLike) -> EdfHeader:
    """Read and validate the header of an EDF/EDF+/BDF/BDF+ file.

    Parameters
    ----------
    path : str or os.PathLike
        The file. It is opened read-only; only the header is read.

    Returns
    -------
    EdfHeader
        The parsed header, with :attr:`EdfHeader.n_records` counted from the file size.

    Raises
    ------
    RecordingError
        If the file is empty, is not an EDF/BDF file, has a truncated or corrupt header, a signal whose
        physical or digital range is empty, or no complete data record.
    """
    path = Path(path)
    name = safe_text(path.name, 200)
    size = check_regular_file(path, "recording", error=RecordingError)
    if size == 0:
        raise RecordingError(f"Cannot read {name}: the file is empty (0 bytes). Choose another file.")
    with open(path, "rb") as fid:
        main = fid.read(256)
        if main[:8] == b"\xffBIOSEMI":
            kind = "bdf"
        elif main[:8] == b"0       ":
            kind = "edf"
        else:
            raise RecordingError(
                f"Cannot read {name}: it is not an EDF or BDF file (it starts with \"{_printable(main[:8])}\""
                f"{_looks_like(main)}; an "
                "EDF file starts with \"0\" and seven spaces, a BDF file with the byte 0xFF and \"BIOSEMI\"). Check "
                "that the file is a recording and was copied completely."
            )
        if len(main) < 256:
            raise RecordingError(
                f"Cannot read {name}: the header is truncated ({size} bytes, an EDF/BDF header has at least "
                "256). The file was probably not copied completely."
            )

        def number(raw: bytes, field: str, cast: type = int):
            text = _ascii(raw)
            try:
                return cast(text) if cast is int else float(text)
            except ValueError:
                raise RecordingError(
                    f"Cannot read {name}: corrupt header, field {field!r} is {text!r}, which is not a number. "
                    "The file is damaged; re-export it from the recording software."
                ) from None

        header_bytes = number(main[184:192], "number of bytes in header")
        variant = _ascii(main[192:236])[:5] if _ascii(main[192:236]).upper().startswith(("EDF+", "BDF+")) else ""
        n_records_header = number(main[236:244], "number of data records")
        record_s = number(main[244:252], "duration of a data record", float)
        ns = number(main[252:256], "number of signals")
        record_s = check_range("duration of a data record", record_s, 0.0, MAX_RECORD_S, lo_open=True, unit="s",
                               where=path, error=RecordingError,
                               hint="The header is damaged (EDF allows fractional durations, not zero, negative "
                               "or infinite ones).")
        if ns <= 0:
            raise RecordingError(f"Cannot read {name}: the header declares {ns} signals; the file holds no signal.")
        if header_bytes != 256 * (ns + 1):
            raise RecordingError(
                f"Cannot read {name}: corrupt header, it declares {ns} signals but a header size of "
                f"{header_bytes} bytes (expected 256 * ({ns} + 1) = {256 * (ns + 1)}). The file is damaged."
            )
        sig = fid.read(256 * ns)
    if len(sig) < 256 * ns:
        raise RecordingError(
            f"Cannot read {name}: the header is truncated ({size} bytes, but the header of {ns} signals needs "
            f"{header_bytes}). The file was probably not copied completely."
        )

    fields: dict[str, list[str]] = {}
    pos = 0
    for field, width in _SIGNAL_FIELDS:
        fields[field] = [sig[pos + i * width : pos + (i + 1) * width].decode("latin-1").strip() for i in range(ns)]
        pos += width * ns
    labels = tuple(fields["label"])

    def numbers(field: str, cast: type) -> tuple:
        out = []
        for lab, text in zip(labels, fields[field]):
            try:
                out.append(int(text) if cast is int else float(text))
            except ValueError:
                raise RecordingError(
                    f"Cannot read {name}: corrupt header, {field.replace('_', ' ')} of signal {lab!r} is "
                    f"{safe_text(repr(text))}, which is not a number. The file is damaged; re-export it."
                ) from None
        return tuple(out)

    pmin, pmax = numbers("physical_min", float), numbers("physical_max", float)
    dmin, dmax = numbers("digital_min", int), numbers("digital_max", int)
    n_samples = numbers("n_samples", int)

    for i, lab in enumerate(labels):
        if n_samples[i] <= 0:
            raise RecordingError(
                f"Cannot read {name}: corrupt header, signal {safe_text(repr(lab))} has {n_samples[i]} samples per "
                "data record (must be > 0)."
            )
        if lab in _ANNOTATION_LABELS:
            continue
        rate = n_samples[i] / record_s
        if rate > MAX_SFREQ:
            raise RecordingError(
                f"Cannot read {name}: signal {safe_text(repr(lab))} would be sampled at {rate:.4g} Hz ({n_samples[i]} "
                f"samples per {record_s:g}-s record), above the {MAX_SFREQ:g} Hz any recorder uses. The header "
                "is damaged."
            )
        for field, values in (("physical minimum", pmin), ("physical maximum", pmax)):
            check_range(f"{field} of signal {lab}", values[i], where=path, error=RecordingError,
                        hint="The header is damaged; re-export the file.")
        if pmin[i] == pmax[i]:
            raise RecordingError(
                f"Cannot read {name}: signal {lab!r} has physical minimum == physical maximum ({pmin[i]:g} "
                f"{fields['unit'][i]}), so its values cannot be scaled. Fix the header or exclude the signal."
            )
        if dmin[i] >= dmax[i]:
            raise RecordingError(
                f"Cannot read {name}: signal {lab!r} has digital minimum {dmin[i]} >= digital maximum "
                f"{dmax[i]}, so its values cannot be scaled. The header is corrupt."
            )
    if not any(lab not in _ANNOTATION_LABELS for lab in labels):
        raise RecordingError(
            f"Cannot read {name}: the file holds only annotation signals ({', '.join(map(repr, labels))}) and no "
            "signal data; annotation-only files are not recordings."
        )

    bps = 3 if kind == "bdf" else 2
    record_bytes = sum(n_samples) * bps
    n_records = max(0, (size - header_bytes) // record_bytes)
    trailing = max(0, size - header_bytes - n_records * record_bytes)
    if n_records_header == 0 or n_records == 0:
        raise RecordingError(
            f"Cannot read {name}: the recording has zero length (the header declares {n_records_header} data "
            f"records, {n_records} complete records are in the file). Choose a file that contains data."
        )
    if n_records_header < -1:
        raise RecordingError(
            f"Cannot read {name}: corrupt header, the number of data records is {n_records_header}."
        )
    if n_records * record_s > 366 * 86400:
        raise invalid("duration", "must be at most a year of data", f"{n_records} records of {record_s:g} s",
                      where=path, error=RecordingError, hint="The header is damaged.")
    return EdfHeader(
        path=path,
        kind=kind,
        variant=variant.upper(),
        patient=_ascii(main[8:88]),
        recording=_ascii(main[88:168]),
        header_bytes=header_bytes,
        n_records_header=n_records_header,
        n_records=n_records,
        record_s=record_s,
        labels=labels,
        units=tuple(fields["unit"]),
        physical_min=pmin,
        physical_max=pmax,
        digital_min=dmin,
        digital_max=dmax,
        n_samples=n_samples,
        trailing_bytes=trailing,
    )
