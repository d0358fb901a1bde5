"""Open EDF, EDF+, BDF and BDF+ files lazily through mne.

The header is read and checked first (:mod:`.edf_header`), then mne opens the file with ``preload=False``:
samples stay on disk until :meth:`Recording.get_data` asks for a span, which :mod:`.edf_reader` then reads
(bit-identical to mne, faster; mne itself reads what that reader does not handle, e.g. mixed rates). What the loader finds worth knowing
(channels stored at other rates, inverted ranges, trigger events, a truncated file) goes into
:attr:`Recording.notes`.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import ConfigError, MMQNetError, RecordingError
from ..progress import CancelToken, ProgressCallback, check_cancel, report, scaled
from ..recording import Annotation, ChannelInfo, Modality, Recording
from ._cancel import call_cancellable
from .edf_header import EdfHeader, read_edf_header
from .edf_reader import EdfSpanReader, with_exact_start
from .modality import MNE_CH_TYPE, infer_modality

__all__ = ["load_edf", "TriggerPulse", "find_trigger_pulses", "PRELOAD_MIXED_RATE_BYTES"]

log = logging.getLogger(__name__)

#: Files with channels at mixed rates are preloaded when the resampled data fit in this many bytes (their slower
#: channels then resampled whole, :mod:`.mixed_rates`); larger ones are read lazily by :mod:`.edf_reader`, which
#: interpolates a slower channel's own samples (mne resampled each span alone and rang at its ends, mne #10635).
#: What the note on a lazily read mixed-rate file says of its slower channels (:mod:`.edf_reader`).
LAZY_MIXED_NOTE = ("Read lazily (a large file), each slower channel from its own samples (band-limited above 1/8 of "
                   "the highest rate, else interpolated linearly):")
PRELOAD_MIXED_RATE_BYTES = 256 * 1024**2

_MICRO = ("uV", "µV", "μV", "\x83\xcaV")
_TRIGGER_CHUNK_S = 300.0  # s of trigger channel read per step when scanning for events


@dataclass(frozen=True)
class TriggerPulse:
    """A non-zero level on a trigger channel."""

    onset: float  # s from the recording start
    duration: float  # s the code stays on the channel
    code: int  # the trigger value (lower 16 bits for BioSemi Status channels)


#: Spellings of volt units that mne does not scale (it knows "uV", "\u00b5V", "\u03bcV" and "mV" only): a
#: header saying "uv" or "UV" left EEG in microvolt numbers labelled as volts' stand-ins (every threshold,
#: feature and scale bar off by 10^6). Compared case-insensitively; factor to volts.
#: (The field has 8 characters: "microvolts" is stored as "microvol".)
_OTHER_VOLTS = {"uv": 1e-6, "\u00b5v": 1e-6, "\u03bcv": 1e-6, "microv": 1e-6, "microvol": 1e-6, "millivol": 1e-3,
                "nv": 1e-9, "nanovolt": 1e-9}
_VOLT_MODALITIES = (Modality.EEG, Modality.EOG, Modality.EMG, Modality.ECG)


def _volt_scale(header_unit: str, modality: Modality) -> float | None:
    """Factor that brings a voltage channel whose unit mne left unscaled to volts (None: nothing to do)."""
    if modality not in _VOLT_MODALITIES or header_unit in _MICRO or header_unit in ("mV", "V"):
        return None
    return _OTHER_VOLTS.get(header_unit.strip().lower())


def _unit_of(header_unit: str, modality: Modality) -> str:
    """Unit of the values mne returns for a channel whose header says ``header_unit``."""
    if modality == Modality.STIM:
        return ""
    if header_unit in _MICRO or header_unit in ("mV", "V") or _volt_scale(header_unit, modality):
        return "V"  # mne scales µV and mV to V (the other spellings are scaled by load_edf)
    if header_unit in ("°C", "\xb0C", "degC", "DegC", "deg C"):
        return "degC"
    return header_unit


def find_trigger_pulses(
    raw,
    ch_name: str,
    *,
    bdf: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[TriggerPulse]:
    """Find the pulses (runs of a non-zero code) on a trigger channel.

    The channel is read in chunks of 300 s so that long files can be cancelled; events are found by mne
    (:func:`mne.find_events` with ``output='step'``), which reports every change of value.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording.
    ch_name : str
        Trigger channel name.
    bdf : bool
        True for BioSemi files: only the lower 16 bits carry trigger codes (bits 16-23 are system status).
    progress, cancel
        See :mod:`mmqnet_core.progress`.

    Returns
    -------
    list of TriggerPulse
        In time order.
    """
    sfreq = float(raw.info["sfreq"])
    n = int(raw.n_times)
    chunk = max(1, int(_TRIGGER_CHUNK_S * sfreq))
    parts = []
    pick = raw.ch_names.index(ch_name)
    for start in range(0, n, chunk):
        check_cancel(cancel)
        parts.append(raw.get_data(picks=[pick], start=start, stop=min(n, start + chunk))[0])
        report(progress, min(n, start + chunk) / n, f"scanning {ch_name}")
    check_cancel(cancel)
    # one pass over the whole channel (seconds for a day at 512 Hz on a loaded machine): cancellable here
    steps = call_cancellable(_find_steps, parts, ch_name, sfreq, bdf, cancel=cancel)
    if steps is None:
        return []
    pulses = []
    for k, (sample, _before, after) in enumerate(steps):
        if after == 0:
            continue
        end = steps[k + 1, 0] if k + 1 < len(steps) else n
        pulses.append(TriggerPulse(float(sample) / sfreq, float(end - sample) / sfreq, int(after)))
    return pulses


def _find_steps(parts: list, ch_name: str, sfreq: float, bdf: bool):
    """Every change of value of a trigger channel read in ``parts``: (n_steps, 3) sample, value before, value
    after (:func:`mne.find_events`, ``output='step'``); None when the channel is all zero."""
    import mne

    values = np.rint(np.concatenate(parts)).astype(np.int64)
    if bdf:
        values &= 0xFFFF
    if not values.any():
        return None
    info = mne.create_info([ch_name], sfreq, ["stim"], verbose="error")
    stim = mne.io.RawArray(values[np.newaxis].astype(np.float64), info, verbose="error")
    return mne.find_events(
        stim, stim_channel=ch_name, output="step", consecutive=True, shortest_event=1, initial_event=True,
        verbose="error",
    )


#: Returned by :func:`_open_raw` among mne's warnings when the annotation texts had to be read as Latin-1.
LATIN1_ANNOTATIONS = "annotation texts read as Latin-1"


def _open_raw(header: EdfHeader, stim_names: Sequence[str], preload: bool):
    """Open ``header.path`` with mne; mne's warnings are returned, its errors become RecordingError."""
    import mne

    reader = mne.io.read_raw_bdf if header.kind == "bdf" else mne.io.read_raw_edf
    latin1 = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = reader(
                header.path, preload=preload, stim_channel=list(stim_names) or None, infer_types=False,
                verbose="error",
            )
        except Exception as exc:  # noqa: BLE001 - mne raises a bare Exception for this one
            if "invalid byte in at least one annotations channel" not in str(exc):
                raise
            # Texts written by a recorder in its own 8-bit code page (EDF+ asks for UTF-8): the signals are fine,
            # and refusing the file sent the user after mne's own parameter ("try setting encoding='latin1'").
            raw = reader(
                header.path, preload=preload, stim_channel=list(stim_names) or None, infer_types=False,
                verbose="error", encoding="latin1",
            )
            latin1.append(LATIN1_ANNOTATIONS)
    return raw, latin1 + [str(w.message).replace("\n", " ") for w in caught]


def load_edf(
    path: str | os.PathLike,
    *,
    modalities: Mapping[str, Modality | str] | None = None,
    scan_triggers: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Recording:
    """Open an EDF/EDF+/BDF/BDF+ file lazily.

    Parameters
    ----------
    path : str or os.PathLike
        The file; opened read-only. EDF or BDF is decided from the file's version field.
    modalities : Mapping or None
        User overrides of the inferred modalities, e.g. ``{"EXG4": "EOG"}``.
    scan_triggers : bool
        Read the trigger (STIM) channels and add their pulses as annotations ``"trigger <code>"``. This
        reads those channels completely.
    progress, cancel
        See :mod:`mmqnet_core.progress`.

    Returns
    -------
    Recording
        With ``raw`` opened with ``preload=False`` (except small files with mixed rates, see
        :data:`PRELOAD_MIXED_RATE_BYTES`), channel rates from the header and notes on what was found.

    Raises
    ------
    RecordingError
        For any unreadable file, with the file name and the problem.
    """
    path = Path(path)
    name = path.name
    report(progress, 0.0, f"reading header of {name}")
    header = read_edf_header(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("edf", "bdf") and suffix != header.kind:
        raise RecordingError(
            f"Cannot read {name}: the file is named .{suffix} but holds {header.kind.upper()} data (24-bit BDF and "
            f"16-bit EDF samples differ). Rename it to {path.stem}.{header.kind} and open it again."
        )
    check_cancel(cancel)
    sig = header.signal_indices
    labels = [header.labels[i] for i in sig]
    mods = [infer_modality(lab) for lab in labels]
    if modalities:
        unknown = [k for k in modalities if k not in labels]
        if unknown:
            raise ConfigError(f"Cannot set modality of unknown channel(s) {unknown} in {name}; channels are "
                              f"{labels}.")
        mods = [Modality.parse(modalities[lab]) if lab in modalities else m for lab, m in zip(labels, mods)]
    notes: list[str] = []

    rates = [header.sfreq(i) for i in sig]
    nonstim_rates = [r for r, m in zip(rates, mods) if m != Modality.STIM] or rates
    top = max(nonstim_rates)
    mixed = len(set(rates)) > 1
    preload = False
    if mixed:
        slower = [f"{lab} ({r:g} Hz)" for lab, r in zip(labels, rates) if r != top]
        notes.append(
            f"Channels are stored at different rates; all are shown at {top:g} Hz (the highest). Resampled by "
            f"mne: {', '.join(slower)}."
        )
        n_bytes = len(sig) * header.n_records * round(top * header.record_s) * 8
        if n_bytes <= PRELOAD_MIXED_RATE_BYTES:
            preload = True  # avoids mne's edge artefacts at the borders of lazily resampled spans
            notes.append("Loaded into memory because of the mixed rates (exact resampling of whole channels).")
        else:
            notes[0] = notes[0].replace("Resampled by mne:", LAZY_MIXED_NOTE)

    stim_names = [lab for lab, m in zip(labels, mods) if m == Modality.STIM]
    report(progress, 0.05, f"opening {name}")
    try:
        # mne reads the header (and an EDF+/BDF+ file's whole annotation signal) in one call: cancellable here
        raw, mne_warnings = call_cancellable(_open_raw, header, stim_names, preload, cancel=cancel)
    except MMQNetError:
        raise
    except Exception as exc:  # mne raises ValueError, IndexError, RuntimeError... on damaged files
        raise RecordingError(f"Cannot read {name}: mne could not open it ({type(exc).__name__}: {exc}).") from None
    check_cancel(cancel)
    if preload and mixed:  # mne's FFT resampling wraps a slow channel's ends together: done again, padded
        from .mixed_rates import resample_slow_channels

        if resample_slow_channels(raw):
            notes[0] = notes[0].replace("Resampled by mne:", "Resampled (FFT, ends matched: no wrap-around ringing):")
    subsecond = with_exact_start(raw, header)  # EDF+/BDF+: the first record's onset (mne keeps whole seconds)
    if subsecond:
        notes.append(f"The first data record starts {subsecond:g} s after the header's start time; times of day "
                     "count from that first sample.")
    if len(raw.ch_names) != len(labels):
        raise RecordingError(
            f"Cannot read {name}: the header lists {len(labels)} signals but mne found {len(raw.ch_names)}."
        )
    renamed = [f"{a!r} -> {b!r}" for a, b in zip(labels, raw.ch_names) if a != b]
    if renamed:
        notes.append(f"Duplicate channel names made unique: {', '.join(renamed)}.")
    # mne types follow our modalities so that mne tools (filters, plots) treat channels right.
    types = {ch: MNE_CH_TYPE[m] for ch, m in zip(raw.ch_names, mods) if MNE_CH_TYPE[m] != "eeg"}
    if types:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw.set_channel_types(types, on_unit_change="ignore", verbose="error")

    scales = {k: f for k, (i, m) in enumerate(zip(sig, mods)) if (f := _volt_scale(header.units[i], m))}
    # An EEG/EOG channel with no unit whose range exceeds 1 (V would be absurd) holds microvolt numbers.
    blank = [k for k, (i, m) in enumerate(zip(sig, mods)) if m in (Modality.EEG, Modality.EOG)
             and not header.units[i].strip() and max(abs(header.physical_min[i]), abs(header.physical_max[i])) > 1]
    scales.update({k: 1e-6 for k in blank})
    if scales:  # "uv", "UV", "nV"...: to volts like mne's "uV", before any span reader takes mne's gains
        gains = raw._raw_extras[0]["units"]
        for k, factor in scales.items():
            gains[k] *= factor
            if raw.preload:
                raw._data[k] *= factor
        notes.append("Units read as volts: " + ", ".join(
            f"{raw.ch_names[k]} ({header.units[sig[k]]!r}" + (": no unit, a range of "
                                                             f"{header.physical_max[sig[k]]:g} read as uV)"
                                                             if k in blank else ")")
            for k in scales) + ".")
    units = [_unit_of(header.units[i], m) if k not in blank else "V" for k, (i, m) in enumerate(zip(sig, mods))]
    channels = tuple(ChannelInfo(ch, m, r, u) for ch, m, r, u in zip(raw.ch_names, mods, rates, units))

    inverted = [lab for i, lab in zip(sig, labels) if header.physical_min[i] > header.physical_max[i]]
    if inverted:
        notes.append(f"Inverted physical range (min > max, legal in EDF; sign handled) in: {', '.join(inverted)}.")
    if header.n_records_header not in (-1, header.n_records):
        notes.append(
            f"The header declares {header.n_records_header} data records but the file holds {header.n_records} "
            f"complete records ({header.duration_s:g} s); the file was probably not closed properly."
        )
    elif header.n_records_header == -1:
        notes.append(f"The header does not give the number of data records; {header.n_records} found.")
    damage: list[str] = []
    held = f"{header.n_records} complete data records ({header.duration_s:g} s)"
    if header.n_records_header > header.n_records:
        missing_s = (header.n_records_header - header.n_records) * header.record_s
        damage.append(
            f"{name} is truncated: the header declares {header.n_records_header} data records, the file holds "
            f"{held}; read {header.duration_s:g} s, the last {missing_s:g} s declared are missing."
        )
    elif header.n_records_header not in (-1, header.n_records):
        damage.append(
            f"{name} has records beyond the declared end: the header declares {header.n_records_header} data "
            f"records, the file holds {held}; all {header.n_records} were read (the header was corrected)."
        )
    elif header.n_records_header == -1:
        damage.append(
            f"{name}: the header does not give the number of data records (-1, recording not closed); "
            f"corrected from the file size to {held}, all read."
        )
    if header.trailing_bytes:
        damage.append(
            f"{name} ends with an incomplete data record: {header.trailing_bytes} bytes after the last complete "
            f"record were not read (one record is {header.record_bytes} bytes)."
        )
    if header.variant.endswith("+D"):
        from .discontinuous import record_gaps

        gaps = record_gaps(header)
        if gaps is None:
            notes.append(f"{header.variant} (discontinuous) file whose records' start times were not read (none "
                         "readable, or too many records): read as continuous; times after a gap would be early.")
        elif gaps[0] == 0:
            notes.append(f"{header.variant} (discontinuous) file with no gap between its records: read as "
                         "continuous.")
        else:
            n_gaps, total_s, first_s = gaps
            damage.append(
                f"{name} is discontinuous ({header.variant}): {n_gaps} gap(s) between its data records, "
                f"{total_s:g} s of recording time in all, the first after {first_s:g} s of data. The records are "
                f"shown end to end, so from {first_s:g} s on the times (and the clock) read up to {total_s:g} s "
                "early, and the file's annotations after a gap do not sit on their data."
            )
    if LATIN1_ANNOTATIONS in mne_warnings:
        damage.append(f"{name}: its {header.variant or 'EDF+'} annotation texts are not UTF-8 text as the format "
                      "requires; they were read as Latin-1 and may show wrong characters (the signals are not "
                      "affected).")
    for w in mne_warnings:
        if w == LATIN1_ANNOTATIONS or "Number of records from the header" in w or "mixed sampling" in w:
            continue  # already said above, in our words
        notes.append(f"mne: {w}")

    # trigger channels
    ann_list: list[Annotation] = []
    for ch in (c.name for c in channels if c.modality == Modality.STIM):
        if not scan_triggers:
            notes.append(f"Trigger channel {ch} not scanned.")
            continue
        try:
            pulses = find_trigger_pulses(raw, ch, bdf=header.kind == "bdf",
                                         progress=scaled(progress, 0.1, 0.95), cancel=cancel)
        except MMQNetError:
            raise
        except Exception as exc:  # a damaged data section shows up only when read
            raise RecordingError(f"Cannot read {name}: reading trigger channel {ch!r} failed "
                                 f"({type(exc).__name__}: {exc}).") from None
        codes = sorted({p.code for p in pulses})
        notes.append(f"Trigger channel {ch}: {len(pulses)} events"
                     + (f", codes {', '.join(map(str, codes[:12]))}{'...' if len(codes) > 12 else ''}."
                        if codes else "."))
        ann_list += [Annotation(p.onset, p.duration, f"trigger {p.code}", (ch,)) for p in pulses]
    n_file_ann = len(raw.annotations)
    if ann_list:
        import mne

        raw.set_annotations(raw.annotations + mne.Annotations(
            [a.onset for a in ann_list], [a.duration for a in ann_list], [a.description for a in ann_list],
            orig_time=raw.annotations.orig_time, ch_names=[list(a.ch_names) for a in ann_list],
        ))
    if header.annotation_indices or n_file_ann:
        notes.append(f"{n_file_ann} annotations read from the file.")
    if not any(m == Modality.EEG for m in mods):
        notes.append("No EEG channel found (emotion analysis needs EEG; set modalities if a channel is EEG).")
    reader = EdfSpanReader.from_raw(raw)
    if mixed and not preload and reader is None:  # mne reads the spans (an mne layout not known here)
        notes[0] = notes[0].replace(LAZY_MIXED_NOTE, "Resampled by mne span by span (small artefacts at span borders):")
    synthetic = header.is_synthetic or "synthetic" in name.lower()
    for note in notes:
        log.info("%s: %s", name, note)
    for warning in damage:
        log.info("damaged file: %s", warning)
    report(progress, 1.0, f"opened {name}")
    return Recording(
        raw=raw,
        channels=channels,
        source=path,
        source_format=header.kind,
        is_synthetic=synthetic,
        subject=header.patient_code,  # EDF+/BDF+ patient code; never guessed from the file name
        notes=tuple(notes),
        warnings=tuple(damage),
        reader=reader,
    )
