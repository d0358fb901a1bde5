"""Annotations a reader adds to a recording: an immutable, indexed collection, its sidecar file and exports.

An :class:`AnnotationSet` holds :class:`AnnotationEntry` items (onset and duration in seconds, text, type,
channels). It is immutable: :meth:`AnnotationSet.added`, :meth:`~AnnotationSet.replaced` and
:meth:`~AnnotationSet.removed` return new sets, so an undo step keeps the set before and after an edit (as
``MaskSet`` does for masks). Entries read from the recording itself have the type :data:`RECORDING_KIND` and
are read-only: they are shown and exported, but never edited, and never saved in the sidecar (the file has them).

User annotations are saved beside the recording as ``<file>.annotations.json`` (written atomically; the
recording is never written to) and export through mne: :meth:`AnnotationSet.to_mne` gives an
``mne.Annotations``, :meth:`~AnnotationSet.export_csv` writes mne's CSV (``mne.read_annotations`` reads it back)
and :meth:`~AnnotationSet.export_edf` writes an EDF+/BDF+ file of the recording's signals carrying the
annotations, streamed record by record (:mod:`mmqnet_core.io.edf_writer`).

Finding what to draw: entries are kept sorted by onset with a running maximum of their ends, so the entries
overlapping a page are found with two binary searches (:meth:`AnnotationSet.overlapping`): O(log n) plus a
vectorised check of the candidates between them, whatever the number of annotations.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from .errors import MMQNetError
from .fileio import atomic_path, atomic_write_text
from .labels import ascii_names

if TYPE_CHECKING:  # pragma: no cover
    import mne

    from .progress import CancelToken, ProgressCallback

    from .recording import Annotation, Recording

log = logging.getLogger(__name__)

#: Type of the annotations read from the recording file (read-only).
RECORDING_KIND = "recording"
#: Types offered for new annotations (any other non-empty word is accepted too).
USER_KINDS: tuple[str, ...] = ("note", "event", "artifact", "stimulus", "sleep", "seizure")
#: Version of the sidecar file format.
SIDECAR_VERSION = 1
#: Largest sidecar file read, bytes (about 200,000 annotations): a bigger file is refused before it is read.
MAX_SIDECAR_BYTES = 64 * 1024 * 1024


class AnnotationError(MMQNetError):
    """An annotation, or an annotation sidecar file, is invalid."""


@dataclass(frozen=True)
class AnnotationEntry:
    """One annotation: a time span (or an instant) with a text."""

    onset: float  # seconds from the recording start, >= 0
    duration: float  # seconds, >= 0 (0: an instantaneous event)
    text: str  # description, e.g. "eyes closed", "BAD_muscle"
    kind: str = "note"  # type: one of USER_KINDS or any word; RECORDING_KIND for the file's own (read-only)
    channels: tuple[str, ...] = ()  # channels concerned; empty = all channels
    id: int = -1  # stable identity within its set (assigned by AnnotationSet; -1 before)

    def __post_init__(self) -> None:
        onset, duration = float(self.onset), float(self.duration)
        if not math.isfinite(onset) or onset < 0:
            raise AnnotationError(f"Invalid annotation onset: must be a time >= 0 s, got {self.onset!r}.")
        if not math.isfinite(duration) or duration < 0:
            raise AnnotationError(f"Invalid annotation duration: must be >= 0 s (0 for an instant), got "
                                  f"{self.duration!r}.")
        text = str(self.text).strip()
        if not text:
            raise AnnotationError("Invalid annotation text: it is empty; type a description, e.g. 'eyes closed'.")
        kind = str(self.kind).strip().lower()
        if not kind:
            raise AnnotationError(f"Invalid annotation type {self.kind!r}: give a word such as "
                                  f"{', '.join(USER_KINDS)}.")
        object.__setattr__(self, "onset", onset)
        object.__setattr__(self, "duration", duration)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "channels", tuple(str(c) for c in self.channels))

    @property
    def end(self) -> float:
        """End of the span, s."""
        return self.onset + self.duration

    @property
    def read_only(self) -> bool:
        """True for an annotation of the recording file (it cannot be edited or deleted)."""
        return self.kind == RECORDING_KIND

    def to_dict(self) -> dict[str, Any]:
        return {"onset": self.onset, "duration": self.duration, "text": self.text, "kind": self.kind,
                "channels": list(self.channels)}


@dataclass(frozen=True)
class AnnotationSet:
    """An immutable collection of annotations, sorted by onset, with an interval index.

    Build one with :meth:`from_recording` (the file's annotations, read-only) and edit it with
    :meth:`added`, :meth:`replaced` and :meth:`removed`, which return new sets.
    """

    entries: tuple[AnnotationEntry, ...] = ()  # sorted by (onset, id); ids unique and >= 0
    next_id: int = 0  # id the next added entry gets

    def __post_init__(self) -> None:
        entries = list(self.entries)
        next_id = max(self.next_id, max((e.id for e in entries), default=-1) + 1)
        for i, e in enumerate(entries):
            if e.id < 0:
                entries[i] = replace(e, id=next_id)
                next_id += 1
        ids = [e.id for e in entries]
        if len(set(ids)) != len(ids):
            raise AnnotationError("Invalid annotation set: two annotations share an id.")
        entries.sort(key=lambda e: (e.onset, e.id))
        object.__setattr__(self, "entries", tuple(entries))
        object.__setattr__(self, "next_id", next_id)

    # --- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_recording(cls, annotations: Iterable["Annotation"]) -> "AnnotationSet":
        """The recording's own annotations (``Recording.annotations``) as read-only entries."""
        return cls(tuple(AnnotationEntry(a.onset, a.duration, a.description or "(no text)", RECORDING_KIND,
                                         tuple(a.ch_names)) for a in annotations))

    def merged_with(self, other: "AnnotationSet") -> "AnnotationSet":
        """This set plus the entries of ``other`` (given new ids)."""
        return AnnotationSet(self.entries + tuple(replace(e, id=-1) for e in other.entries), self.next_id)

    # --- edits (each returns a new set) -------------------------------------------------------------------
    def added(self, onset: float, duration: float, text: str, kind: str = "note",
              channels: Sequence[str] = ()) -> "AnnotationSet":
        """A set with one more annotation; it gets the id :attr:`next_id` of this set."""
        entry = AnnotationEntry(onset, duration, text, kind, tuple(channels), id=self.next_id)
        if entry.read_only:
            raise AnnotationError(f"Invalid annotation type {kind!r}: it is reserved for the recording's own "
                                  f"annotations; choose another, e.g. {USER_KINDS[0]!r}.")
        return AnnotationSet(self.entries + (entry,), self.next_id + 1)

    def replaced(self, entry_id: int, **changes: Any) -> "AnnotationSet":
        """A set where annotation ``entry_id`` has ``changes`` (onset, duration, text, kind, channels)."""
        old = self._editable(entry_id)
        unknown = set(changes) - {"onset", "duration", "text", "kind", "channels"}
        if unknown:
            raise AnnotationError(f"Cannot change {', '.join(sorted(unknown))} of an annotation: allowed onset, "
                                  "duration, text, kind, channels.")
        new = replace(old, **changes)
        if new.read_only:
            raise AnnotationError(f"Invalid annotation type {new.kind!r}: it is reserved for the recording's own "
                                  "annotations; choose another.")
        return AnnotationSet(tuple(new if e.id == entry_id else e for e in self.entries), self.next_id)

    def removed(self, entry_id: int) -> "AnnotationSet":
        """A set without annotation ``entry_id``."""
        self._editable(entry_id)
        return AnnotationSet(tuple(e for e in self.entries if e.id != entry_id), self.next_id)

    def _editable(self, entry_id: int) -> AnnotationEntry:
        entry = self.get(entry_id)
        if entry.read_only:
            raise AnnotationError(f"Annotation {entry.text!r} at {entry.onset:.2f} s belongs to the recording "
                                  "file and cannot be changed; add an annotation of your own instead.")
        return entry

    # --- queries ------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    @cached_property
    def _by_id(self) -> dict[int, int]:
        return {e.id: i for i, e in enumerate(self.entries)}

    def get(self, entry_id: int) -> AnnotationEntry:
        """The annotation with id ``entry_id`` (an error naming it if absent)."""
        i = self._by_id.get(entry_id)
        if i is None:
            raise AnnotationError(f"No annotation with id {entry_id} (it was deleted, or belongs to another set).")
        return self.entries[i]

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._by_id

    @cached_property
    def _index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(onsets, ends, running maximum of ends), s, in entry order."""
        onsets = np.fromiter((e.onset for e in self.entries), float, len(self.entries))
        ends = np.fromiter((e.end for e in self.entries), float, len(self.entries))
        return onsets, ends, np.maximum.accumulate(ends) if ends.size else ends

    def overlapping_indices(self, start_s: float, stop_s: float) -> np.ndarray:
        """Indices (into :attr:`entries`) of the annotations that overlap [start_s, stop_s] (s).

        Two binary searches bound the candidates: entries starting after ``stop_s`` are past the end of the
        sorted onsets, and entries before the first whose running maximum end reaches ``start_s`` all end
        before the page. The candidates between are checked at once with numpy.
        """
        onsets, ends, max_ends = self._index
        hi = int(np.searchsorted(onsets, stop_s, side="right"))
        lo = int(np.searchsorted(max_ends, start_s, side="left"))
        if hi <= lo:
            return np.zeros(0, dtype=np.intp)
        return lo + np.flatnonzero(ends[lo:hi] >= start_s)

    def overlapping(self, start_s: float, stop_s: float) -> tuple[AnnotationEntry, ...]:
        """The annotations that overlap [start_s, stop_s] (s), by onset."""
        return tuple(self.entries[i] for i in self.overlapping_indices(start_s, stop_s))

    @property
    def kinds(self) -> tuple[str, ...]:
        """The types present, sorted."""
        return tuple(sorted({e.kind for e in self.entries}))

    @property
    def user_entries(self) -> tuple[AnnotationEntry, ...]:
        """The editable annotations (all but the recording's own)."""
        return tuple(e for e in self.entries if not e.read_only)

    def search(self, text: str = "", kinds: Iterable[str] | None = None) -> tuple[AnnotationEntry, ...]:
        """Annotations whose text contains ``text`` (case-insensitive) and whose type is in ``kinds`` (None: any)."""
        needle = text.strip().lower()
        wanted = None if kinds is None else {k.lower() for k in kinds}
        return tuple(e for e in self.entries
                     if (wanted is None or e.kind in wanted) and (not needle or needle in e.text.lower()))

    def user_only(self) -> "AnnotationSet":
        """The set of the editable annotations only (what the sidecar keeps)."""
        return AnnotationSet(self.user_entries, self.next_id)

    # --- sidecar ------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, recording: str | os.PathLike | None = None) -> Path:
        """Write the user annotations to ``path`` (JSON, atomic). ``recording``: the file they belong to."""
        identity = _identity(recording)
        doc = {"format": "mmqnet-annotations", "version": SIDECAR_VERSION, "recording": identity,
               "annotations": [e.to_dict() for e in self.user_entries]}
        return atomic_write_text(path, json.dumps(doc, indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AnnotationSet":
        """Read a sidecar written by :meth:`save` (user annotations only)."""
        path = Path(path)
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise AnnotationError(f"Annotation file {path} is {size / 1e6:.0f} MB, more than the "
                                  f"{MAX_SIDECAR_BYTES / 1e6:.0f} MB an annotation file may have; it is not read. "
                                  "Move it away if it is not an annotation file.")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise AnnotationError(f"Cannot read the annotation file {path}: it is not valid JSON ({exc}). Move "
                                  "it away to start afresh.") from None
        if not isinstance(doc, dict) or doc.get("format") != "mmqnet-annotations":
            raise AnnotationError(f"Cannot read the annotation file {path}: it was not written by MMQ-Net Studio "
                                  "(no 'format': 'mmqnet-annotations'). Move it away to start afresh.")
        if doc.get("version", 0) > SIDECAR_VERSION:
            raise AnnotationError(f"Annotation file {path} has format version {doc.get('version')}, newer than "
                                  f"this program reads ({SIDECAR_VERSION}); update MMQ-Net Studio.")
        entries = []
        for k, item in enumerate(doc.get("annotations", [])):
            try:
                entries.append(AnnotationEntry(item["onset"], item["duration"], item["text"],
                                               item.get("kind", "note"), tuple(item.get("channels", ()))))
            except (KeyError, TypeError, AnnotationError) as exc:
                raise AnnotationError(f"Cannot read annotation {k + 1} of {path}: {exc}. Fix or remove it.") from None
        if any(e.read_only for e in entries):
            raise AnnotationError(f"Annotation file {path} holds annotations of type {RECORDING_KIND!r}, which is "
                                  "reserved for the recording's own; change their type.")
        return cls(tuple(entries))

    # --- exports through mne ------------------------------------------------------------------------------
    def to_mne(self, orig_time: Any = None) -> "mne.Annotations":
        """All annotations as ``mne.Annotations`` (description = text; channels kept as ``ch_names``)."""
        import mne

        return mne.Annotations(onset=[e.onset for e in self.entries], duration=[e.duration for e in self.entries],
                               description=[e.text for e in self.entries], orig_time=orig_time,
                               ch_names=[list(e.channels) for e in self.entries])

    def export_csv(self, path: str | os.PathLike, orig_time: Any = None) -> Path:
        """Write mne's annotation CSV (onset, duration, description, ch_names) atomically.

        mne writes onsets as date-times: ``orig_time`` (the recording's ``meas_date``) plus the onset, or
        1970-01-01 plus the onset when ``None``. ``mne.read_annotations`` reads the file back with its
        ``orig_time`` at the first onset, and ``raw.set_annotations`` lines it up with a recording by date.
        """
        path = Path(path)
        if path.suffix.lower() != ".csv":
            raise AnnotationError(f"Invalid file name {path.name!r} for an annotation CSV: it must end in .csv.")
        annotations = self.to_mne(orig_time)
        with atomic_path(path) as tmp:
            annotations.save(tmp, overwrite=True, verbose="error")
        return path

    def tal_entries(self) -> list:
        """Every annotation as a :class:`~mmqnet_core.io.edf_writer.TalEntry` (what an EDF+ export writes)."""
        from .io.edf_writer import TalEntry

        return [TalEntry(e.onset, e.duration, e.text, e.channels) for e in self.entries]

    def export_edf(self, path: str | os.PathLike, recording: "Recording", *,
                   progress: "ProgressCallback | None" = None, cancel: "CancelToken | None" = None) -> Path:
        """Write an EDF+ (``.edf``) or, for a BDF recording, BDF+ (``.bdf``) file with the recording's signals and
        these annotations (:func:`mmqnet_core.io.edf_writer.write_edf_with_annotations`).

        Streamed in chunks (memory bounded whatever the length), each channel at its own rate, the samples of an
        EDF/BDF recording copied as they are in the file. The source recording is read, never written; the new file
        is written atomically (a cancel or an error leaves no file). Channel labels are written in ASCII
        (:func:`~mmqnet_core.labels.ascii_names`), the only labels EDF stores.
        """
        from .io.edf_writer import ExportError, write_edf_with_annotations

        try:
            write_edf_with_annotations(path, recording, self.tal_entries(), progress=progress, cancel=cancel)
        except ExportError as exc:
            raise AnnotationError(str(exc)) from None
        return Path(path)


def sidecar_path(masks_sidecar: str | os.PathLike) -> Path:
    """Annotation sidecar that goes with a mask sidecar: ``rec.bdf.masks.json`` -> ``rec.bdf.annotations.json``.

    Deriving it from :func:`mmqnet_core.masking.sidecar_path` keeps one naming rule for folders (MAHNOB-HCI
    sessions) and multi-trial files (DEAP ``s01.dat.trial3.annotations.json``).
    """
    p = Path(masks_sidecar)
    name = p.name[: -len(".masks.json")] if p.name.endswith(".masks.json") else p.name
    return p.with_name(name + ".annotations.json")


def _identity(recording: str | os.PathLike | None) -> dict | None:
    if recording is None:
        return None
    p = Path(recording)
    return {"name": p.name, "size": p.stat().st_size if p.is_file() else None}
