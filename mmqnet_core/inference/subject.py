"""The other recordings of a subject, for the statistics a per-subject model normalises with.

A model trained with per-subject normalisation z-scores each subject's features with the statistics of all of
that subject's trials. A short recording of one emotional state, normalised with its own mean, loses the level
that sets it apart from the subject's other states; :func:`~mmqnet_core.inference.subject_statistics` over the
subject's recordings keeps it. This module finds those recordings::

    found = subject_recordings_for(recording, extra_paths=["other_session.bdf"], cancel=event)
    if found is not None:
        stats = subject_statistics(found.recordings, model)
        result = analyze(recording, masks, model, subject_statistics=stats)
        print(found.description)   # "subject statistics from 3 sessions of subject 1"

Which recordings, in this order (the first :data:`MAX_SUBJECT_SOURCES` files or folders are used):

1. the analysed recording; for a DEAP trial, every trial of its ``sNN.dat`` file (one subject per file);
2. the files and MAHNOB-HCI session folders the user names (``extra_paths``), each opened with
   :func:`~mmqnet_core.io.load_recording` (a DEAP ``.dat`` gives all its trials);
3. for a MAHNOB-HCI session, the other session folders in the same parent folder whose ``session.xml``
   names the same subject and holds the felt valence/arousal ratings (the training corpus uses only rated
   sessions). Deciding reads only the ``session.xml`` files, never the BDF files.

Every other recording gets the analysed recording's channel modalities (the user's corrections included) for
the channels it has. A recording that cannot be opened stops the search with a
:class:`~mmqnet_core.errors.RecordingError` that names it and says how to leave it out. Nothing here imports
torch; the statistics themselves are computed by ``subject_statistics``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import Cancelled, ConfigError, MMQNetError, RecordingError
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import Modality, Recording

__all__ = [
    "MAX_SUBJECT_SOURCES",
    "SubjectRecordings",
    "find_subject_sessions",
    "session_subject",
    "subject_recordings_for",
]

log = logging.getLogger(__name__)

#: At most this many files or session folders (the analysed one included) feed a subject's statistics; a DEAP
#: file counts once. MAHNOB-HCI has 20 emotion sessions per subject and DEAP 40 trials per file.
MAX_SUBJECT_SOURCES = 40

_PART = re.compile(r"^Part_(\d+)_", re.IGNORECASE)  # MAHNOB BDF names: Part_<subject>_<N|S>_Trial<k>_emotion.bdf
_RATINGS = ("feltVlnc", "feltArsl")  # session.xml attributes of the felt valence and arousal
_AUTO_TEXT = "Also use the subject's other sessions and trials found automatically"  # the app's check box


@dataclass(frozen=True, eq=False)
class SubjectRecordings:
    """The recordings of one subject to compute the subject's feature statistics from."""

    recordings: tuple[Recording, ...]  # pass to subject_statistics; the analysed recording's own data included
    sources: tuple[Path, ...]  # the files / session folders they come from, the analysed recording's first
    subject: str | None  # the subject's identifier when the format names it (MAHNOB, DEAP), else None
    unit: str  # what one of `recordings` is: "sessions" (MAHNOB), "trials" (DEAP) or "recordings" (mixed)
    notes: tuple[str, ...] = ()  # what was left out and why (the cap, unrated or unnamed sessions)

    @property
    def description(self) -> str:
        """One line for the user, e.g. ``"subject statistics from 3 sessions of subject 1"``."""
        who = f" of subject {self.subject}" if self.subject else ""
        where = f" in {len(self.sources)} files/folders" if self.unit == "recordings" and len(self.sources) > 1 else ""
        return f"subject statistics from {len(self.recordings)} {self.unit}{who}{where}"

    @property
    def steps(self) -> tuple[str, ...]:
        """Lines for ``AnalysisResult.steps``: what the statistics came from (sources named), then the notes."""
        used = ", ".join(p.name for p in self.sources)
        return (f"{self.description} ({used})",) + tuple(self.notes)


# --- MAHNOB-HCI sessions of one subject (session.xml only) -------------------------------------------------------
def _canonical(subject: str | None) -> str | None:
    """Subject ids compared as numbers when they are numbers ("01" == "1")."""
    if subject is None or not subject.strip():
        return None
    s = subject.strip()
    return str(int(s)) if s.isdigit() else s


def _read_session(folder: Path) -> tuple[str | None, bool]:
    """(subject, has felt valence and arousal) of a session folder, from its session.xml (and BDF names).

    The subject is the ``id`` of the ``<subject>`` element (MAHNOB-HCI's layout), else a ``subject``
    attribute of the root, else the ``Part_<p>`` of the folder's BDF file name. Nothing but the XML is read
    (by the MAHNOB reader's :func:`~mmqnet_core.io.mahnob.read_session`).
    """
    from ..io.mahnob import read_session

    root_attrs, subject = read_session(folder / "session.xml")
    subject = subject or root_attrs.get("subject")
    if not subject:
        bdfs = sorted(p.name for p in folder.iterdir() if p.suffix.lower() == ".bdf" and _PART.match(p.name))
        subject = _PART.match(bdfs[0]).group(1) if bdfs else None
    rated = all(a in root_attrs for a in _RATINGS)
    return _canonical(subject), rated


def session_subject(folder: str | os.PathLike) -> str | None:
    """The subject a MAHNOB-HCI session folder belongs to, read from its ``session.xml`` (None if unnamed).

    Parameters
    ----------
    folder : str or os.PathLike
        A session folder (``session.xml`` + a BDF file). Only the XML and the file names are read.

    Raises
    ------
    RecordingError
        If ``session.xml`` is missing, too large or not valid XML.
    """
    folder = Path(folder)
    if not (folder / "session.xml").is_file():
        raise RecordingError(f"Cannot read {folder / 'session.xml'}: no such file; {folder} is not a MAHNOB-HCI "
                             "session folder.")
    return _read_session(folder)[0]


def _natural_key(path: Path) -> tuple:
    """Sort "2" before "10" (MAHNOB session folders are numbered)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in re.split(r"(\d+)", path.name) if p)


def find_subject_sessions(
    folder: str | os.PathLike,
    *,
    cancel: CancelToken | None = None,
) -> tuple[str | None, list[Path], list[str]]:
    """The MAHNOB-HCI session folders beside ``folder`` that belong to the same subject.

    Parameters
    ----------
    folder : str or os.PathLike
        The analysed session folder; its parent is searched (one level, not recursively).
    cancel
        See :mod:`mmqnet_core.progress` (checked every 100 folders).

    Returns
    -------
    subject : str or None
        The subject of ``folder`` (None: its session.xml names none and no BDF is named ``Part_<p>_...``;
        then nothing is searched).
    sessions : list of Path
        The other session folders of that subject with felt valence/arousal ratings, in natural name order
        ("2" before "10"); ``folder`` itself is not in the list.
    notes : list of str
        What was passed over (sessions of the subject without ratings, sessions naming no subject).

    Raises
    ------
    RecordingError
        If a sibling's ``session.xml`` cannot be read (the subject it belongs to is then unknown); the message
        names it and says how to go on without it.
    """
    folder = Path(folder)
    subject = session_subject(folder)
    if subject is None:
        return None, [], [f"{folder.name}: session.xml names no subject; no other sessions were looked for."]
    me = folder.resolve()
    try:
        siblings = sorted(folder.parent.iterdir(), key=_natural_key)
    except OSError as exc:
        raise RecordingError(f"Cannot list {folder.parent} to find the subject's other sessions: "
                             f"{exc.strerror or exc}.") from None
    found, unrated, unnamed = [], 0, 0
    for i, sib in enumerate(siblings):
        if i % 100 == 0:
            check_cancel(cancel)
        if not sib.is_dir() or sib.resolve() == me or not (sib / "session.xml").is_file():
            continue
        if not any(p.is_file() and p.suffix.lower() == ".bdf" for p in sib.iterdir()):
            continue  # a session without signals (MAHNOB-HCI has some): not a recording
        try:
            sib_subject, rated = _read_session(sib)
        except (RecordingError, OSError) as exc:
            raise RecordingError(
                f"Cannot tell which subject session {sib} belongs to: {exc} Fix or move that folder, or normalise "
                f"with this session's own statistics (command line: --own-statistics; app: Analysis > Subject "
                f"recordings, untick '{_AUTO_TEXT}')."
            ) from None
        if sib_subject is None:
            unnamed += 1
        elif sib_subject == subject:
            if rated:
                found.append(sib)
            else:
                unrated += 1
    notes = []
    if unrated:
        notes.append(f"{unrated} session(s) of subject {subject} without felt valence/arousal ratings in "
                     "session.xml were left out (the training corpus leaves them out too).")
    if unnamed:
        notes.append(f"{unnamed} session folder(s) beside {folder.name} name no subject and were left out.")
    return subject, found, notes


# --- loading ------------------------------------------------------------------------------------------------------
def _applicable(modalities: Mapping[str, Modality], rec: Recording) -> dict[str, Modality]:
    """The modalities of ``modalities`` for the channels ``rec`` has, where they differ from ``rec``'s."""
    return {c.name: modalities[c.name] for c in rec.channels
            if c.name in modalities and Modality.parse(modalities[c.name]) != c.modality}


def _open_other(path: Path, modalities: Mapping[str, Modality], cancel: CancelToken | None
                ) -> tuple[list[Recording], list[str]]:
    """Open another recording of the subject (the usable trials of a DEAP file, and a line for each trial left
    out) with the analysed one's modalities.

    Opened once with the inferred modalities (lazy: header only for EDF/BDF), then again with the overrides
    that apply to its channels when there are any, so that an override naming a channel it lacks is no error.
    """
    from ..io import load_deap_trials, load_recording

    def load(overrides: Mapping[str, Modality] | None) -> tuple[list[Recording], list[str]]:
        if path.is_file() and path.suffix.lower() == ".dat":
            return load_deap_trials(path, modalities=overrides, cancel=cancel)
        return [load_recording(path, modalities=overrides, cancel=cancel)], []

    recs, left_out = load(None)
    if not recs:
        raise RecordingError(f"no trial of {path.name} is usable ({' '.join(left_out)})")
    overrides = _applicable(modalities, recs[0])
    return load(overrides) if overrides else (recs, left_out)


def _same(a: Path | None, b: Path) -> bool:
    try:
        return a is not None and a.resolve() == b.resolve()
    except OSError:
        return False


def subject_recordings_for(
    recording: Recording,
    extra_paths: Sequence[str | os.PathLike] = (),
    *,
    discover: bool = True,
    modalities: Mapping[str, Modality | str] | None = None,
    max_sources: int = MAX_SUBJECT_SOURCES,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SubjectRecordings | None:
    """The recordings of ``recording``'s subject to pass to ``subject_statistics`` (see the module docstring).

    Parameters
    ----------
    recording : Recording
        The analysed recording (used as it is, not reopened, except that a DEAP trial brings its file's trials).
    extra_paths : sequence of path
        Other recordings of the same subject named by the user: EDF/BDF files, DEAP ``.dat`` files or MAHNOB-HCI
        session folders. Duplicates and the analysed recording's own source are skipped.
    discover : bool
        Also use what the format says belongs to the subject: a DEAP file's other trials and the MAHNOB-HCI
        sessions of the same subject beside the analysed one. False: only ``extra_paths``.
    modalities : Mapping, optional
        Channel name -> modality given to the other recordings for the channels they have; default: the
        analysed recording's channel modalities (so the user's corrections carry over).
    max_sources : int
        At most this many files/session folders, the analysed recording's included (a DEAP file counts once);
        the rest are left out and a note says so.
    progress, cancel
        See :mod:`mmqnet_core.progress`; cancel is checked between files.

    Returns
    -------
    SubjectRecordings or None
        None when nothing but the analysed recording itself would be used (then its own statistics are the
        subject's, which ``analyze`` computes itself over the visible windows).

    Raises
    ------
    RecordingError
        If one of the recordings cannot be opened (the message names it and how to leave it out), or an
        unreadable sibling ``session.xml`` leaves its subject unknown.
    ConfigError
        If ``max_sources`` is below 1.
    """
    if isinstance(max_sources, bool) or not isinstance(max_sources, int) or max_sources < 1:
        raise ConfigError(f"Invalid value for 'max_sources': must be an integer >= 1, got {max_sources!r}.")
    check_cancel(cancel)
    mods = {c.name: c.modality for c in recording.channels} if modalities is None else {
        k: Modality.parse(v) for k, v in modalities.items()}
    source = Path(recording.source) if recording.source is not None else None
    subject = _canonical(recording.subject)
    notes: list[str] = []

    own: list[Recording] = [recording]
    damaged: list[str] = []
    if discover and recording.source_format == "deap" and source is not None:
        from ..io import load_deap_trials

        report(progress, 0.0, f"reading the trials of {source.name}")
        try:
            own, left_out = load_deap_trials(source, modalities={k: v for k, v in mods.items()
                                                                 if k in recording.ch_names} or None, cancel=cancel)
            # a damaged trial is left out of the statistics (and said), the others are the subject's
            damaged = [line + (" The subject's statistics come from the other trials." if " left out: " in line else "")
                       for line in left_out]
            notes += damaged
            if not own:
                own = [recording]
        except Cancelled:
            raise
        except (MMQNetError, OSError) as exc:
            raise RecordingError(
                f"Cannot read the other trials of {source} for the subject's statistics: {exc} To go on, normalise "
                f"with the trial's own statistics (command line: --own-statistics; app: Analysis > Subject "
                f"recordings, untick '{_AUTO_TEXT}')."
            ) from None

    # (path, why it is used, named by the user) of the other sources, in order of priority
    others: list[tuple[Path, str, bool]] = []
    seen: list[Path] = [source] if source is not None else []
    for p in extra_paths:
        p = Path(p).expanduser()
        if not p.exists():
            raise RecordingError(f"Cannot use {p} (named as another recording of the subject): no such file or "
                                 "folder. Check the path, or remove it from the subject's recordings.")
        if any(_same(s, p) for s in seen):
            continue
        seen.append(p)
        others.append((p, "named as another recording of the subject", True))
    if discover and recording.source_format == "mahnob" and source is not None and source.is_dir():
        report(progress, 0.0, f"looking for other sessions of the subject beside {source.name}")
        found_subject, sessions, found_notes = find_subject_sessions(source, cancel=cancel)
        subject = found_subject or subject
        notes += found_notes
        for sib in sessions:
            if not any(_same(s, sib) for s in seen):
                seen.append(sib)
                others.append((sib, f"a session of subject {subject} found beside {source.name}", False))
    if len(others) > max_sources - 1:
        left = others[max_sources - 1:]
        others = others[: max_sources - 1]
        notes.append(f"{len(left)} more recording(s) of the subject left out: at most {max_sources} files/sessions "
                     f"feed the statistics (first left out: {left[0][0]}).")
    if not others and len(own) <= 1 and not damaged:  # (a damaged trial left out is said)
        for n in notes:
            log.info("%s", n)
        return None

    recordings = list(own)
    kinds = {"trials" if recording.source_format == "deap" and len(own) > 1 else
             "sessions" if recording.source_format == "mahnob" else "recordings"}
    for i, (path, why, named) in enumerate(others):
        check_cancel(cancel)
        report(progress, i / len(others), f"opening {path.name} ({i + 1}/{len(others)})")
        try:
            recs, left_out = _open_other(path, mods, cancel)
            notes += [line + (" The subject's statistics come from its other trials." if " left out: " in line else "")
                      for line in left_out]
        except Cancelled:
            raise
        except (MMQNetError, OSError) as exc:
            how = ("fix it, or remove it from the subject's recordings (command line: --subject-files; app: Analysis > "
                   "Subject recordings)." if named else
                   "fix or move that session folder, or normalise with this session's own statistics (command line: "
                   f"--own-statistics; app: Analysis > Subject recordings, untick '{_AUTO_TEXT}').")
            raise RecordingError(f"Cannot use {path} ({why}) for the subject's statistics: {exc} To go on, {how}") \
                from None
        other = _canonical(recs[0].subject) if recs else None
        if named and subject is not None and other is not None and other != subject:
            notes.append(f"{path.name} says subject {other}, the analysed recording subject {subject}; used as you "
                         "named it.")
        fmt = recs[0].source_format if recs else ""
        kinds.add("trials" if fmt == "deap" else "sessions" if fmt == "mahnob" else "recordings")
        recordings += recs
    report(progress, 1.0, f"{len(recordings)} recordings of the subject")
    result = SubjectRecordings(
        recordings=tuple(recordings),
        sources=tuple([source] if source is not None else []) + tuple(p for p, _, _ in others),
        subject=subject,
        unit=kinds.pop() if len(kinds) == 1 else "recordings",
        notes=tuple(notes),
    )
    log.info("%s", result.description)
    return result
