"""Read a MAHNOB-HCI emotion session folder.

A session folder (``Sessions/<id>/``) holds ``Part_<p>_<N|S>_Trial<k>_emotion.bdf`` (BioSemi, 32 EEG,
EXG1-8, GSR1-2, Erg1-2, Resp, Temp, Status) and ``session.xml`` whose root element carries the participant's
ratings as attributes: ``feltVlnc`` (valence), ``feltArsl`` (arousal), ``feltCtrl`` (dominance/control),
``feltPred`` (predictability), all 1-9, and ``feltEmo`` (emotion tag code).

The stimulus span comes from the Status channel: the first trigger marks the stimulus onset, the last one its
end; a single trigger held for more than a second is taken as the span itself, and a single short trigger as
the onset of a stimulus lasting to the end of the file. (A ~30 s baseline precedes the stimulus.)
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Mapping

from ..check import check_regular_file, safe_text
from ..errors import RecordingError
from ..progress import CancelToken, ProgressCallback, scaled
from ..recording import Annotation, Modality, Recording
from .edf import find_trigger_pulses, load_edf

__all__ = ["MAHNOB_LABELS", "is_mahnob_session", "read_session", "read_session_xml", "load_mahnob_session"]

#: session.xml attribute -> label name in :attr:`Recording.labels`.
MAHNOB_LABELS: dict[str, str] = {
    "feltVlnc": "valence",
    "feltArsl": "arousal",
    "feltCtrl": "dominance",
    "feltPred": "predictability",
    "feltEmo": "emotion_tag",
}
_BDF_NAME = re.compile(r"^Part_(\d+)_([NS])_Trial(\d+)_emotion\.bdf$", re.IGNORECASE)
_MAX_XML_BYTES = 1024**2  # a session.xml is a few kB


def _bdf_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".bdf")


def is_mahnob_session(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` looks like a MAHNOB-HCI session (a BDF file and ``session.xml``)."""
    folder = Path(folder)
    return folder.is_dir() and (folder / "session.xml").is_file() and bool(_bdf_files(folder))


def read_session(path: str | os.PathLike) -> tuple[dict[str, str], str | None]:
    """Attributes of the root element of a MAHNOB ``session.xml`` and the ``id`` of its ``<subject>`` element.

    Parameters
    ----------
    path : str or os.PathLike
        The XML file (read-only; at most 1 MiB, parsed by :mod:`xml.etree`, which does not fetch external
        entities).

    Returns
    -------
    attributes : dict
        Attribute name -> value, e.g. ``{"feltVlnc": "7", ...}``.
    subject_id : str or None
        ``<subject id="...">`` when the file has one.
    """
    path = Path(path)
    check_regular_file(path, "session file", max_bytes=_MAX_XML_BYTES, error=RecordingError)
    try:
        root = ET.fromstring(path.read_bytes())
    except ET.ParseError as exc:
        raise RecordingError(f"Cannot read {path}: not valid XML ({exc}). Check the session folder.") from None
    except (LookupError, ValueError, UnicodeError) as exc:  # unknown or multi-byte encoding declaration
        raise RecordingError(
            f"Cannot read {path}: its XML encoding cannot be read ({type(exc).__name__}: {safe_text(exc, 120)}). "
            "Save session.xml as UTF-8 (or another single-byte encoding Python knows)."
        ) from None
    except RecursionError:
        raise RecordingError(f"Cannot read {path}: the XML is nested too deeply. Check the session folder.") \
            from None
    if root.tag != "session":  # e.g. an HTML page saved under the name (it was read as a session without labels)
        raise RecordingError(
            f"Cannot read {path}: its root element is <{safe_text(root.tag, 40)}>, not the <session> of a MAHNOB-HCI "
            "session.xml. Put the session's own session.xml in the folder.")
    subject = root.find("subject")
    return dict(root.attrib), (subject.get("id") or None) if subject is not None else None


def read_session_xml(path: str | os.PathLike) -> dict[str, str]:
    """Attributes of the root element of a MAHNOB ``session.xml`` (see :func:`read_session`)."""
    return read_session(path)[0]


def load_mahnob_session(
    folder: str | os.PathLike,
    *,
    modalities: Mapping[str, Modality | str] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Recording:
    """Open a MAHNOB-HCI session folder.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder with ``Part_<p>_<N|S>_Trial<k>_emotion.bdf`` and ``session.xml``.
    modalities : Mapping or None
        User overrides of the inferred modalities.
    progress, cancel
        See :mod:`mmqnet_core.progress`.

    Returns
    -------
    Recording
        The BDF opened lazily, with labels (valence, arousal, dominance, predictability, emotion_tag as found),
        the stimulus span from the Status channel and a "stimulus" annotation.

    Raises
    ------
    RecordingError
        If the folder is not a MAHNOB session or its files are unreadable.
    """
    folder = Path(folder)
    xml = folder / "session.xml"
    bdfs = _bdf_files(folder) if folder.is_dir() else []
    if not xml.is_file() or not bdfs:
        missing = " and ".join(x for x, ok in (("session.xml", xml.is_file()), ("a .bdf file", bool(bdfs))) if not ok)
        raise RecordingError(
            f"Cannot open folder {folder}: it is not a MAHNOB-HCI session (it lacks {missing}). Open a recording file, "
            "or a session folder holding Part_<p>_<N|S>_Trial<k>_emotion.bdf and session.xml."
        )
    emotion = [p for p in bdfs if _BDF_NAME.match(p.name)]
    if len(emotion) > 1 or (not emotion and len(bdfs) > 1):
        names = ", ".join(p.name for p in (emotion or bdfs))
        raise RecordingError(f"Cannot open folder {folder}: several BDF files ({names}); open one of them directly.")
    bdf = (emotion or bdfs)[0]
    attrs = read_session_xml(xml)
    rec = load_edf(bdf, modalities=modalities, scan_triggers=False, progress=scaled(progress, 0.0, 0.3),
                   cancel=cancel)
    notes = [n for n in rec.notes if not n.startswith("Trigger channel")]
    labels: dict[str, float] = {}
    damage = list(rec.warnings)
    for attr, key in MAHNOB_LABELS.items():
        if attr in attrs:
            try:
                value = float(attrs[attr])
            except ValueError:
                value = None
            lo, hi = (0.0, 12.0) if key == "emotion_tag" else (1.0, 9.0)
            if value is None or not (lo <= value <= hi):  # NaN fails both comparisons
                damage.append(f"session.xml: {attr}={safe_text(repr(attrs[attr]), 40)} is not a rating in "
                              f"{lo:g}-{hi:g}; the label {key} was dropped.")
                continue
            labels[key] = value
    if "valence" not in labels or "arousal" not in labels:
        notes.append("session.xml has no feltVlnc/feltArsl ratings: this session has no valence/arousal labels.")

    import mne

    stim_span = None
    ann: list[Annotation] = []
    stim_chs = [c.name for c in rec.channels if c.modality == Modality.STIM]
    for ch in stim_chs:
        pulses = find_trigger_pulses(rec.raw, ch, bdf=True, progress=scaled(progress, 0.3, 1.0), cancel=cancel)
        notes.append(f"Trigger channel {ch}: {len(pulses)} events"
                     + (f", codes {', '.join(str(c) for c in sorted({p.code for p in pulses}))}." if pulses else "."))
        ann += [Annotation(p.onset, p.duration, f"trigger {p.code}", (ch,)) for p in pulses]
        if stim_span is None and pulses:
            if len(pulses) >= 2:
                stim_span = (pulses[0].onset, pulses[-1].onset)
            elif pulses[0].duration > 1.0:
                stim_span = (pulses[0].onset, pulses[0].onset + pulses[0].duration)
            else:
                stim_span = (pulses[0].onset, rec.duration_s)
    if stim_span is None:
        notes.append("No stimulus onset found on the Status channel; the stimulus span is unknown.")
    else:
        ann.append(Annotation(stim_span[0], stim_span[1] - stim_span[0], "stimulus"))
        notes.append(f"Stimulus from {stim_span[0]:.3f} s to {stim_span[1]:.3f} s (Status channel).")
    if ann:
        rec.raw.set_annotations(rec.raw.annotations + mne.Annotations(
            [a.onset for a in ann], [a.duration for a in ann], [a.description for a in ann],
            orig_time=rec.raw.annotations.orig_time, ch_names=[list(a.ch_names) for a in ann],
        ))
    m = _BDF_NAME.match(bdf.name)
    subject = m.group(1) if m else attrs.get("subject")
    trial = m.group(3) if m else attrs.get("cutNr")
    return replace(
        rec,
        source=folder,
        source_format="mahnob",
        is_synthetic=rec.is_synthetic or "synthetic" in folder.name.lower(),
        labels=labels,
        stim_span=stim_span,
        subject=subject,
        trial=trial,
        notes=tuple([f"MAHNOB-HCI session, signals from {bdf.name}."] + notes),
        warnings=tuple(damage),
    )
