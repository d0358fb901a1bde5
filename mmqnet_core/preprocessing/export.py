"""Writing preprocessed signals: .fif (mne), .npz (numpy), .edf/.bdf (mne.export via edfio) + a JSON sidecar.

Every file is written atomically: to a temporary file in the destination folder, then moved over the
destination with :func:`os.replace`, so a crash or a cancel never leaves a half-written output.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import mne
import numpy as np

from ..errors import ConfigError, RecordingError
from ..fileio import atomic_path
from ..labels import ascii_names
from ..recording import Annotation, Recording, Signals
from .pipeline import MNE_CH_TYPES, PreprocessResult

#: Output formats by file extension.
FORMATS = {".fif": "fif", ".npz": "npz", ".edf": "edf", ".bdf": "bdf"}

__all__ = ["FORMATS", "ascii_names", "save_cleaned", "steps_path"]


def steps_path(path: str | os.PathLike) -> Path:
    """The JSON sidecar written beside an output file: ``<output file>.json``."""
    return Path(f"{os.fspath(path)}.json")


def save_cleaned(
    result: PreprocessResult,
    path: str | os.PathLike,
    *,
    recording: Recording | None = None,
    which: str = "cleaned",
) -> Path:
    """Write the cleaned (or raw) signals of ``result`` to ``path`` and a JSON sidecar beside it.

    Parameters
    ----------
    result : PreprocessResult
        The output of :func:`~mmqnet_core.preprocessing.preprocess`.
    path : path-like
        Output file; the extension chooses the format: ``.fif`` (mne Raw with the interference spans as
        annotations), ``.npz`` (arrays ``data`` (n_channels, n_times) float32, ``sfreq`` Hz, ``ch_names``,
        ``modalities``, ``units``, ``start_s``), ``.edf`` / ``.bdf`` (EEG/EOG/EMG/ECG in µV, other channels in
        the recording's units; NaN written as 0; interference spans as EDF+ annotations). .fif, .edf and
        .bdf files store channel names in ASCII (:func:`ascii_names`); the sidecar's ``channel_names`` then
        maps each name written to the recorded one.
    recording : Recording, optional
        The source recording; its description (title, synthetic flag, labels) goes into the sidecar and a
        synthetic recording gets a "SYNTHETIC" annotation in .fif/.edf/.bdf files.
    which : {"cleaned", "raw"}
        Which signals to write.

    Returns
    -------
    Path
        The output path. The sidecar (:func:`steps_path`) holds the steps, the interference spans (recording
        time, seconds), the configuration and the recording description.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"Cannot write {path.name!r}: unknown extension {path.suffix!r}; use one of {', '.join(FORMATS)}."
        )
    if which not in ("cleaned", "raw"):
        raise ConfigError(f"Invalid value for 'which': allowed 'cleaned' or 'raw', got {which!r}.")
    if not path.parent.is_dir():
        raise ConfigError(f"Cannot write {path}: folder {path.parent} does not exist.")
    signals: Signals = getattr(result, which)
    synthetic = bool(recording is not None and recording.is_synthetic)
    with atomic_path(path) as tmp:
        if fmt == "npz":
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    data=signals.data,
                    sfreq=np.float64(signals.sfreq),
                    ch_names=np.array(signals.ch_names),
                    modalities=np.array([c.modality.value for c in signals.channels]),
                    units=np.array([c.unit for c in signals.channels]),
                    start_s=np.float64(result.start_s),
                    is_synthetic=np.bool_(synthetic),
                )
        else:
            raw = _to_mne(result, signals, synthetic=synthetic, finite=fmt != "fif", recording=recording)
            try:
                if fmt == "fif":
                    raw.save(tmp, overwrite=True, fmt="single", verbose="error")
                else:
                    mne.export.export_raw(tmp, raw, fmt=fmt, physical_range="channelwise", overwrite=True,
                                          verbose="error")
            except (ValueError, RuntimeError, OSError) as exc:
                raise RecordingError(f"Could not write {path}: {exc}") from exc
    summary: dict[str, Any] = {"output": path.name, "format": fmt, "signals": which, **result.summary()}
    written = ascii_names(signals.ch_names) if fmt != "npz" else list(signals.ch_names)
    if written != list(signals.ch_names):
        summary["channel_names"] = dict(zip(written, signals.ch_names))  # as written -> as recorded
    if recording is not None:
        summary["recording"] = _json_safe(recording.describe())
        summary["source"] = str(recording.source) if recording.source is not None else None
    side = steps_path(path)
    with atomic_path(side) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, allow_nan=False), encoding="utf-8")
    return path


def _to_mne(result: PreprocessResult, signals: Signals, *, synthetic: bool, finite: bool,
            recording: Recording | None = None) -> mne.io.RawArray:
    """An mne Raw of ``signals`` with the interference spans (relative to sample 0) as annotations.

    With ``recording``: the file starts at the clock time of its first sample (the recording's start plus
    ``result.start_s``) and carries the recording's own annotations within the span (clipped to it); without a
    start time mne writes none (an EDF then reads 1985-01-01 00:00:00).
    """
    data = signals.data.astype(np.float64)
    if finite:
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    names = ascii_names(signals.ch_names)  # FIF and EDF store ASCII labels only
    to_written = dict(zip(signals.ch_names, names))
    info = mne.create_info(names, signals.sfreq, [MNE_CH_TYPES[c.modality] for c in signals.channels],
                           verbose=False)
    if synthetic:
        info["description"] = "SYNTHETIC data made by mmqnet_core.datasets.synthetic"
    raw = mne.io.RawArray(data, info, verbose=False)
    start = recording.raw.info.get("meas_date") if recording is not None else None
    if start is not None:
        start = start + dt.timedelta(seconds=float(result.start_s))
        if 1985 <= start.year <= 2084:  # the dates an EDF header can hold (mne refuses others)
            raw.set_meas_date(start)
    spans = [a for a in result.interference_relative() if a.onset < signals.duration_s]
    if recording is not None:  # the recording's annotations (events, stimuli, a reader's notes) in the span
        for a in recording.annotations:
            onset, end = a.onset - result.start_s, a.end - result.start_s
            if onset < signals.duration_s and (end > 0 or (a.duration == 0 and onset >= 0)):
                spans.append(Annotation(max(0.0, onset), min(end, signals.duration_s) - max(0.0, onset),
                                        a.description, tuple(c for c in a.ch_names if c in to_written)))
    onsets = [max(0.0, a.onset) for a in spans]
    durations = [a.duration for a in spans]
    descriptions = [a.description for a in spans]
    ch_names: list[tuple[str, ...]] = [tuple(to_written.get(c, c) for c in a.ch_names) for a in spans]
    if synthetic:
        onsets.insert(0, 0.0)
        durations.insert(0, 0.0)
        descriptions.insert(0, "SYNTHETIC")
        ch_names.insert(0, ())
    if onsets:
        # EDF+ annotations cannot name channels: mne would refuse them, so channel lists go to the sidecar only.
        ann = mne.Annotations(onsets, durations, descriptions,
                              ch_names=ch_names if not finite else None)
        raw.set_annotations(ann, verbose="error")
    return raw


def _json_safe(value: Any) -> Any:
    """Convert numpy scalars, tuples and paths to plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value
