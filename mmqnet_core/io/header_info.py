"""What a recording's header says: patient and recording identification, start time, channels as recorded.

For EDF/BDF files the header is parsed by edfio from the header bytes alone (the signal data are not read);
every other source (DEAP, MAHNOB-HCI, arrays) is described from the mne ``Info`` and the channel descriptions.
Nothing here writes to the recording.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RecordingError

if TYPE_CHECKING:  # pragma: no cover
    from ..recording import Recording

__all__ = ["ChannelHeader", "RecordingHeader", "recording_header"]

#: Largest EDF/BDF header read, bytes (256 per signal + 256; 4096 signals).
MAX_HEADER_BYTES = 256 * 4097


@dataclass(frozen=True)
class ChannelHeader:
    """One channel as the file describes it."""

    name: str  # label in the file
    modality: str  # modality used by MMQ-Net Studio (inferred or set by the user)
    sfreq: float  # the channel's own sampling rate in the file, Hz
    unit: str  # physical dimension as recorded ("uV", "uS", "" if none)
    physical_range: str  # "min .. max" in ``unit``, "" if unknown
    transducer: str  # transducer type as recorded, "" if none
    prefiltering: str  # filters applied at recording, as written (e.g. "HP:0.1Hz LP:100Hz"), "" if none


@dataclass(frozen=True)
class RecordingHeader:
    """Recording-level fields (label, value) in display order, and the channels."""

    fields: tuple[tuple[str, str], ...]  # e.g. ("Patient", "X F 01-JAN-1980 Jane"), ("Start", "2024-05-01 10:00:00")
    channels: tuple[ChannelHeader, ...]

    def field(self, label: str) -> str:
        return dict(self.fields).get(label, "")


def _edf_header(path: Path):
    """The edfio header of an EDF/BDF file, read from its header bytes only."""
    import edfio

    with open(path, "rb") as f:
        main = f.read(256)
        try:
            n_signals = int(main[252:256].decode("ascii").strip())
        except ValueError:
            raise RecordingError(f"Cannot read the header of {path.name}: its signal count "
                                 f"{main[252:256]!r} is not a number.") from None
        size = 256 * (n_signals + 1)
        if not (0 < n_signals and size <= MAX_HEADER_BYTES):
            raise RecordingError(f"Cannot read the header of {path.name}: it declares {n_signals} signals.")
        header = main + f.read(size - 256)
    with warnings.catch_warnings():  # edfio notes that the header bytes hold no data record
        warnings.simplefilter("ignore", UserWarning)
        reader = edfio.read_bdf if main[:8] == b"\xffBIOSEMI" else edfio.read_edf
        return reader(header)


def recording_header(recording: "Recording") -> RecordingHeader:
    """Header fields and channel table of ``recording`` (EDF/BDF header when it is such a file)."""
    info = recording.raw.info
    meas: datetime | None = info.get("meas_date")
    minutes, seconds = divmod(recording.duration_s, 60)
    hours, minutes = divmod(int(minutes), 60)
    fields: list[tuple[str, str]] = [
        # the full path: a file opened from the command line as "rec.edf" read "rec.edf", with no folder
        ("File", str(Path(recording.source).absolute()) if recording.source is not None else "(in memory)"),
        ("Format", recording.source_format.upper()),
        ("Start", "unknown" if meas is None else meas.strftime("%Y-%m-%d %H:%M:%S")
         + (f".{meas.microsecond:06d}".rstrip("0") if meas.microsecond else "")),
        ("Duration", f"{hours}:{minutes:02d}:{seconds:06.3f} ({recording.duration_s:.3f} s)"),
        ("Channels", f"{recording.n_channels}, shown at {recording.sfreq:g} Hz"),
        ("Annotations in the file", str(len(recording.raw.annotations))),
    ]
    if recording.subject:
        fields.append(("Subject", recording.subject))
    if recording.trial:
        fields.append(("Trial", recording.trial))
    if recording.is_synthetic:
        fields.append(("Data", "SYNTHETIC (generated, not recorded from a person)"))
    by_name: dict[str, object] = {}
    source = recording.source
    if recording.source_format in ("edf", "bdf") and source is not None and Path(source).is_file():
        edf = _edf_header(Path(source))
        patient, rec = edf.patient, edf.recording
        fields += [
            ("Patient code", _safe(lambda: patient.code)), ("Patient sex", _safe(lambda: patient.sex)),
            ("Patient name", _safe(lambda: patient.name)),
            ("Patient birth date", str(_safe(lambda: patient.birthdate))),
            ("Patient (as written)", edf.local_patient_identification),
            ("Recording (as written)", edf.local_recording_identification),
            ("Hospital code", _safe(lambda: rec.hospital_administration_code)),
            ("Investigator", _safe(lambda: rec.investigator_technician_code)),
            ("Equipment", _safe(lambda: rec.equipment_code)),
            ("Data record", f"{edf.data_record_duration:g} s"),
        ]
        signals = list(edf.signals)  # the ordinary signals in file order: the recording's channels, one each
        if len(signals) == len(recording.channels):
            # by position: a name does not match when mne made duplicates unique ("Fp1" twice -> "Fp1-0",
            # "Fp1-1") or edfio and mne decode a Latin-1 label differently ("C3\u00e9")
            by_name = {ch.name: sig for ch, sig in zip(recording.channels, signals)}
        else:
            by_name = {sig.label: sig for sig in signals}
    else:
        subject = info.get("subject_info") or {}
        if subject:
            fields.append(("Patient", ", ".join(f"{k}: {v}" for k, v in subject.items())))
    channels = []
    for ch in recording.channels:
        sig = by_name.get(ch.name)
        if sig is not None:
            unit, rng = sig.physical_dimension, f"{sig.physical_min:g} .. {sig.physical_max:g}"
            transducer, prefilter = sig.transducer_type, sig.prefiltering
        else:
            unit, rng, transducer, prefilter = ch.unit, "", "", ""
        channels.append(ChannelHeader(ch.name, ch.modality.value, ch.sfreq, unit, rng, transducer, prefilter))
    return RecordingHeader(tuple((k, str(v)) for k, v in fields), tuple(channels))


def _safe(get) -> str:
    """A header sub-field, or "" when the field does not follow the EDF+ layout (edfio raises then)."""
    try:
        value = get()
    except Exception:  # noqa: BLE001 - plain EDF files leave these fields free-form
        return ""
    return "" if value is None else str(value)
