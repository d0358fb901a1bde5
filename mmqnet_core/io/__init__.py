"""Recordings in: open EDF/EDF+/BDF/BDF+ files, DEAP preprocessed files and MAHNOB-HCI session folders.

:func:`load_recording` is the single entry point; it picks the reader from the path and returns a lazily
loaded :class:`~mmqnet_core.recording.Recording`. Source files are only ever opened for reading. Every problem
with the input is reported as a :class:`~mmqnet_core.errors.RecordingError` naming the file.

Example
-------
>>> rec = load_recording("Part_1_N_Trial1_emotion.bdf")        # doctest: +SKIP
>>> first_10_s = rec.get_data(0.0, 10.0)                          # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from ..errors import ConfigError, RecordingError
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import Modality, Recording
from ._cancel import call_cancellable
from .deap import load_deap_subject, load_deap_trials, read_deap_file, deap_trial_recording
from .edf import load_edf
from .mahnob import is_mahnob_session, load_mahnob_session
from .modality import infer_modality

__all__ = [
    "SUPPORTED_SUFFIXES",
    "load_recording",
    "load_deap_subject",
    "load_deap_trials",
    "infer_modality",
    "check_has_eeg",
    "is_mahnob_session",
]

#: File name endings understood by :func:`load_recording` (a MAHNOB-HCI session is a folder).
SUPPORTED_SUFFIXES: dict[str, str] = {
    ".edf": "EDF/EDF+",
    ".bdf": "BDF/BDF+",
    ".dat": "DEAP preprocessed python (sNN.dat)",
}


def load_recording(
    path: str | os.PathLike,
    *,
    modalities: Mapping[str, Modality | str] | None = None,
    trial: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Recording:
    """Open a recording lazily.

    Parameters
    ----------
    path : str or os.PathLike
        An EDF/EDF+ (``.edf``) or BDF/BDF+ (``.bdf``) file, a DEAP preprocessed file (``sNN.dat``) or a
        MAHNOB-HCI session folder (``Part_<p>_<N|S>_Trial<k>_emotion.bdf`` + ``session.xml``). Never written.
    modalities : Mapping or None
        User overrides of the inferred modalities, by channel name, e.g. ``{"EXG4": "EOG", "Erg1": "MISC"}``.
    trial : int or None
        DEAP only: which trial (0-based, 0-39) to open; default 0. Use :func:`load_deap_subject` for all.
    progress, cancel
        See :mod:`mmqnet_core.progress`.

    Returns
    -------
    Recording
        EDF/BDF data stay on disk (``preload=False``); DEAP trials are in memory (the pickle holds them all).

    Raises
    ------
    RecordingError
        If the path does not exist, is not a supported format or the file is damaged; the message names the
        file and the problem.
    ConfigError
        If ``trial`` or ``modalities`` do not fit the recording.
    """
    path = Path(path)
    if not path.exists():
        raise RecordingError(f"Cannot open {path}: no such file or folder.")
    check_cancel(cancel)
    if path.is_dir():
        if trial is not None:
            raise ConfigError(f"Invalid option 'trial' for {path.name}: only DEAP .dat files have trials.")
        return load_mahnob_session(path, modalities=modalities, progress=progress, cancel=cancel)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        known = ", ".join(f"{k} ({v})" for k, v in SUPPORTED_SUFFIXES.items())
        raise RecordingError(
            f"Cannot open {path.name}: unknown file type {path.suffix or '(no extension)'!r}. Supported: {known}, "
            "or a MAHNOB-HCI session folder."
        )
    try:
        if suffix == ".dat":
            report(progress, 0.0, f"reading {path.name}")
            content = call_cancellable(read_deap_file, path, cancel=cancel)  # one pickle: checked while read
            rec = deap_trial_recording(content, 0 if trial is None else trial, path=path, modalities=modalities)
            report(progress, 1.0, f"opened {path.name}")
            return rec
        if trial is not None:
            raise ConfigError(f"Invalid option 'trial' for {path.name}: only DEAP .dat files have trials.")
        return load_edf(path, modalities=modalities, progress=progress, cancel=cancel)
    except PermissionError:
        raise RecordingError(f"Cannot open {path.name}: permission denied. Check the file's access rights.") \
            from None
    except IsADirectoryError:  # pragma: no cover - is_dir() handled above
        raise RecordingError(f"Cannot open {path.name}: it is a folder.") from None
    except OSError as exc:
        raise RecordingError(f"Cannot read {path.name}: {exc.strerror or exc}.") from None


def check_has_eeg(recording: Recording) -> None:
    """Raise if ``recording`` has no EEG channel.

    Parameters
    ----------
    recording : Recording
        The recording to check.

    Raises
    ------
    RecordingError
        Naming the recording and its channels, and saying how to mark channels as EEG.
    """
    if not recording.picks(Modality.EEG):
        raise RecordingError(
            f"{recording.title} has no EEG channel (channels: {', '.join(recording.ch_names)}); MMQ-Net needs "
            "EEG. If some channels are EEG, set their modality (command line: --modality NAME=EEG; app: the Modality "
            "column of the channel panel; API: modalities={'NAME': 'EEG'})."
        )
