"""Read DEAP "preprocessed python" files (``data_preprocessed_python/sNN.dat``).

Each file is a Python pickle of a dict with ``'data'`` (40 trials, 40 channels, 8064 samples at 128 Hz: 3 s
baseline then 60 s of music video) and ``'labels'`` (40 trials x valence, arousal, dominance, liking, 1-9).
Channels 1-32 are EEG, then hEOG, vEOG, zEMG, tEMG, GSR, respiration belt, plethysmograph, temperature.

A pickle can run arbitrary code when loaded, so the file is read with :class:`SafeUnpickler`, which admits only
numpy's array reconstruction helpers and builtin containers and refuses anything else *before* calling it.

Optional keys written by ``mmqnet_core.datasets.synthetic.write_deap_subject`` are honoured:
``'synthetic'`` (bool), ``'ch_names'`` (40 names), ``'units'`` (40 unit strings of the stored values) and
``'sfreq'`` (Hz). Real DEAP files have none of them.
"""

from __future__ import annotations

import _compat_pickle
import importlib
import os
import pickle
import re
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..check import (check_int, check_range, check_regular_file, check_size, check_str_list, invalid,
                     safe_text)
from ..errors import ConfigError, MMQNetError, RecordingError
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import Annotation, ChannelInfo, Modality, Recording
from ._cancel import call_cancellable
from .modality import MNE_CH_TYPE, infer_modality

__all__ = [
    "DEAP_CHANNEL_NAMES",
    "DEAP_LABELS",
    "DEAP_SFREQ",
    "DEAP_BASELINE_S",
    "SafeUnpickler",
    "safe_load_pickle",
    "read_deap_file",
    "deap_trial_recording",
    "load_deap_subject",
    "load_deap_trials",
]

#: DEAP channel order of the preprocessed release.
DEAP_CHANNEL_NAMES: tuple[str, ...] = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
    "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2",
    "hEOG", "vEOG", "zEMG", "tEMG", "GSR", "Resp", "Plet", "Temp",
)
#: Columns of ``'labels'``, in order (self-assessment scores 1-9).
DEAP_LABELS: tuple[str, ...] = ("valence", "arousal", "dominance", "liking")
DEAP_SFREQ = 128.0  # Hz, sampling rate of the preprocessed release
DEAP_BASELINE_S = 3.0  # s of pre-trial baseline at the start of each trial

# Modalities stored in microvolts in DEAP; converted to volts (the core's unit for electrophysiology).
_MICROVOLT = (Modality.EEG, Modality.EOG, Modality.EMG, Modality.ECG)
_MAX_PICKLE_BYTES = 2 * 1024**3  # refuse anything larger than 2 GiB (a real DEAP file is ~100 MB)
_MAX_SFREQ = 100_000.0  # Hz, highest 'sfreq' accepted (DEAP is 128 Hz)
_MIN_SFREQ = 0.01  # Hz, lowest 'sfreq' accepted
_LABEL_RANGE = (1.0, 9.0)  # self-assessment scores (SAM scale)
#: Largest magnitude a sample may have in the file's units (µV for EEG, ohms for a skin resistance of at most ~1e7):
#: beyond it the file is damaged (the cleaning's squares overflow: "SVD did not converge", an unexpected failure).
_MAX_ABS_VALUE = 1e12
#: Largest magnitude on an EEG/EOG/EMG/ECG channel stored in µV: 10 V, far beyond any biopotential amplifier's input
#: range (BioSemi ±262 mV); a trial above it is damaged (one such trial moved the subject's statistics by 28 SDs).
_MAX_ABS_MICROVOLT = 1e7
#: A trial whose EEG amplitude (median over channels of the median absolute deviation) is this many times above or
#: below the median of the file's trials is left out of the subject's statistics (see :func:`load_deap_trials`).
_TRIAL_SCALE_OUTLIER = 20.0
#: A trial whose every channel holds one value (or NaN) from some sample to its end for at least this long, s, was
#: cut short and padded (no recorder holds 32 EEG channels exactly still): that tail is treated as missing (NaN).
_TRUNCATED_MIN_S = 1.0


def _numpy_attr(names: tuple[str, ...], attr: str) -> Callable[..., Any] | None:
    """First ``module.attr`` found among ``names`` (numpy moved ``core`` to ``_core`` in 2.0)."""
    for mod in names:
        try:
            return getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError):
            continue
    return None


def _latin1_encode(obj: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """Stand-in for ``_codecs.encode`` (Python 3 pickles bytes this way at protocol < 3): latin-1 only."""
    if encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"refusing to decode pickled bytes with codec {encoding!r}")
    return obj.encode("latin-1", errors)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    core = ("numpy._core.multiarray", "numpy.core.multiarray")
    numeric = ("numpy._core.numeric", "numpy.core.numeric")
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("builtins", "dict"): dict,
        ("builtins", "list"): list,
        ("builtins", "tuple"): tuple,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "bytearray"): bytearray,
        ("_codecs", "encode"): _latin1_encode,
    }
    for attr, mods in (("_reconstruct", core), ("scalar", core), ("_frombuffer", numeric)):
        func = _numpy_attr(mods, attr)
        if func is not None:
            for mod in mods:
                table[(mod, attr)] = func
    # dtype classes of numpy >= 1.25 pickles, e.g. numpy.dtypes.Float64DType
    return table


class _Refused(pickle.UnpicklingError):
    """A pickle named a global outside the allowed set."""


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and builtin containers and nothing else.

    ``find_class`` is where a pickle names the callables it will run (``os.system`` in a malicious file); it
    returns only numpy's array reconstruction helpers (``_reconstruct``, ``_frombuffer``, ``scalar``,
    ``ndarray``, ``dtype``) and builtin containers, and raises for every other name, so nothing else is ever
    imported or called.
    """

    _ALLOWED: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 (pickle API)
        if module in _compat_pickle.IMPORT_MAPPING:  # Python 2 names (__builtin__.bytearray), as pickle maps them

            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if SafeUnpickler._ALLOWED is None:
            SafeUnpickler._ALLOWED = _allowed_globals()
        try:
            return SafeUnpickler._ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None


def safe_load_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle file that may only contain numpy arrays and builtin containers.

    Parameters
    ----------
    path : str or os.PathLike
        The file, opened read-only. Python 2 pickles (DEAP) are decoded with ``encoding='latin1'``.

    Returns
    -------
    object
        The unpickled object.

    Raises
    ------
    RecordingError
        "refusing to load" if the pickle names any other callable (it is never imported nor called), or if
        the file is empty, truncated or not a pickle.
    """
    path = Path(path)
    size = check_regular_file(path, "recording", max_bytes=_MAX_PICKLE_BYTES, error=RecordingError)
    name = safe_text(path.name, 200)
    if size == 0:
        raise RecordingError(f"Cannot read {name}: the file is empty (0 bytes). Choose another file.")
    with open(path, "rb") as fid:
        try:
            obj = SafeUnpickler(fid, encoding="latin1").load()
        except _Refused as exc:
            raise RecordingError(
                f"Refusing to load {name}: the pickle asks to run {safe_text(exc, 120)}, which is not part of a "
                "numpy array. Only DEAP-style pickles of numpy arrays are read; this file may be malicious."
            ) from None
        except MMQNetError:
            raise
        except (Exception, RecursionError, MemoryError) as exc:  # EOFError, ValueError... from a damaged file
            raise RecordingError(
                f"Cannot read {name}: it is not a valid DEAP pickle ({type(exc).__name__}: "
                f"{safe_text(exc, 200)}). Check that the file is a complete data_preprocessed_python/sNN.dat file."
            ) from None
    _check_backed(obj, size, name)
    return obj


def _check_backed(obj: Any, size: int, name: str) -> None:
    """Refuse arrays whose data the file does not hold.

    A pickle may call ``numpy.ndarray(shape, dtype, buffer, offset, strides)`` with a few bytes and strides of 0,
    or ask for a huge uninitialised array: a 200-byte file would then "hold" hours of data. Every array reached
    from ``obj`` must be no larger than the file and own its data or view a buffer at least as large.
    """
    stack, seen = [obj], 0
    while stack:
        o = stack.pop()
        seen += 1
        if seen > 100_000:
            raise RecordingError(f"Cannot read {name}: the pickle holds more than 100000 objects; not a DEAP file.")
        if isinstance(o, Mapping):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, np.ndarray):
            if o.dtype.hasobject:
                raise RecordingError(f"Cannot read {name}: it holds an array of Python objects; DEAP arrays are "
                                     "numeric.")
            if o.nbytes > size or (o.size > 1 and 0 in o.strides):
                raise RecordingError(
                    f"Cannot read {name}: an array of shape {o.shape} ({o.nbytes} bytes) is not backed by the "
                    f"file ({size} bytes): its data are not in the file. The file is damaged or forged."
                )


def read_deap_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a DEAP preprocessed file.

    Parameters
    ----------
    path : str or os.PathLike
        ``sNN.dat`` file.

    Returns
    -------
    dict
        ``data`` (n_trials, 40, n_times) float array in file units (µV for EEG/EOG/EMG), ``labels``
        (n_trials, 4) float array, ``ch_names`` (40 names), ``units`` (40 unit strings or None),
        ``sfreq`` (Hz), ``synthetic`` (bool).

    Raises
    ------
    RecordingError
        If the pickle is refused, is not a dict with ``data`` and ``labels``, or the shapes do not match.
    """
    path = Path(path)
    obj = safe_load_pickle(path)
    if not isinstance(obj, Mapping) or "data" not in obj or "labels" not in obj:
        keys = sorted(map(str, obj)) if isinstance(obj, Mapping) else type(obj).__name__
        raise RecordingError(
            f"Cannot read {path.name}: a DEAP file is a dict with 'data' and 'labels', found {keys}."
        )
    data, labels = obj["data"], obj["labels"]
    if not isinstance(data, np.ndarray) or data.ndim != 3 or data.shape[1] != len(DEAP_CHANNEL_NAMES):
        shape = getattr(data, "shape", type(data).__name__)
        raise RecordingError(
            f"Cannot read {path.name}: DEAP 'data' must have shape (n_trials, 40 channels, n_times) "
            f"(40, 40, 8064 in the real dataset), got {shape}."
        )
    n_trials = data.shape[0]
    if not isinstance(labels, np.ndarray) or labels.shape != (n_trials, len(DEAP_LABELS)):
        shape = getattr(labels, "shape", type(labels).__name__)
        raise RecordingError(
            f"Cannot read {path.name}: DEAP 'labels' must have shape ({n_trials}, 4) to match 'data' "
            f"{data.shape}, got {shape}."
        )
    if n_trials == 0 or data.shape[2] == 0:
        raise RecordingError(f"Cannot read {path.name}: DEAP 'data' {data.shape} holds no samples.")
    for key, arr in (("data", data), ("labels", labels)):
        if arr.dtype.kind not in "biuf":  # complex numbers, strings, booleans are not samples or scores
            raise invalid(key, "must be an array of real numbers (DEAP stores float64)", arr, where=path,
                          error=RecordingError)
    # One trial is copied to float64 when opened: refuse before allocating what no recording needs.
    check_size("DEAP trial in memory", data.shape[1] * data.shape[2] * 8, 4 * 1024**3, where=path,
               error=RecordingError)
    ch_names = DEAP_CHANNEL_NAMES
    if obj.get("ch_names") is not None:
        ch_names = check_str_list("ch_names", obj["ch_names"], n=data.shape[1], max_len=64, where=path,
                                  error=RecordingError)
        if len(set(ch_names)) != len(ch_names) or any(not c.strip() for c in ch_names):
            raise invalid("ch_names", "must be distinct, non-empty channel names", list(ch_names), where=path,
                          error=RecordingError)
    units = obj.get("units")
    if units is not None:
        units = check_str_list("units", units, n=data.shape[1], max_len=16, where=path, error=RecordingError)
    sfreq = obj.get("sfreq", DEAP_SFREQ)
    if isinstance(sfreq, np.ndarray) and sfreq.shape == ():
        sfreq = sfreq.item()
    sfreq = check_range("sfreq", sfreq, _MIN_SFREQ, _MAX_SFREQ, unit="Hz", where=path, error=RecordingError)
    synthetic_flag = obj.get("synthetic", False)
    if not isinstance(synthetic_flag, (bool, np.bool_, int, np.integer)):
        raise invalid("synthetic", "must be true or false", synthetic_flag, where=path, error=RecordingError)
    synthetic = bool(synthetic_flag) or "synthetic" in path.name.lower()
    return {
        "data": data,
        "labels": labels,
        "ch_names": ch_names,
        "units": units,
        "sfreq": sfreq,
        "synthetic": synthetic,
    }


def _subject_of(path: Path) -> str | None:
    m = re.match(r"^s(\d+)", path.stem, re.IGNORECASE)
    return m.group(1) if m else path.stem


def _constant_tail(x: np.ndarray) -> int:
    """First sample from which every channel of ``x`` (C, n_times) holds its last value (NaN counts as equal)
    to the end; ``n_times`` when the last two samples already differ."""
    last = x[:, -1:]
    same = ((x == last) | (np.isnan(x) & np.isnan(last))).all(axis=0)  # (n_times,)
    moving = np.flatnonzero(~same)
    return int(moving[-1]) + 1 if moving.size else 0


def deap_trial_recording(
    content: Mapping[str, Any],
    trial: int,
    *,
    path: Path | None = None,
    modalities: Mapping[str, Modality | str] | None = None,
) -> Recording:
    """Build the :class:`Recording` of one DEAP trial from :func:`read_deap_file` output.

    Parameters
    ----------
    content : Mapping
        Output of :func:`read_deap_file`.
    trial : int
        Trial index, 0-based (0-39 in the real dataset).
    path : Path or None
        The source file, for :attr:`Recording.source` and messages.
    modalities : Mapping or None
        User overrides of inferred modalities, e.g. ``{"Plet": "MISC"}``.

    Returns
    -------
    Recording
        In-memory recording (mne ``RawArray``); EEG, EOG and EMG in volts, labels
        ``valence, arousal, dominance, liking`` (1-9), stimulus span after the 3 s baseline.
    """
    import mne

    data, labels = content["data"], content["labels"]
    name = path.name if path is not None else "DEAP data"
    n_trials = data.shape[0]
    trial = check_int("trial", trial, min=0, max=n_trials - 1, where=name)
    ch_names = list(content["ch_names"])
    mods = [infer_modality(c) for c in ch_names]
    if modalities:
        unknown = [k for k in modalities if k not in ch_names]
        if unknown:
            raise ConfigError(f"Cannot set modality of unknown channel(s) {unknown}; channels are {ch_names}.")
        mods = [Modality.parse(modalities[c]) if c in modalities else m for c, m in zip(ch_names, mods)]
    file_units = content["units"]
    sfreq = content["sfreq"]
    x = np.array(data[trial], dtype=np.float64)  # (n_channels, n_times), a copy: the RawArray owns it
    with np.errstate(invalid="ignore"):
        peak = np.nanmax(np.where(np.isfinite(x), np.abs(x), 0.0), axis=1)
    if np.any(peak > _MAX_ABS_VALUE):
        worst = int(np.argmax(peak))
        raise RecordingError(f"Cannot read {name}: trial {trial} holds values up to {peak[worst]:.3g} (channel "
                             f"{ch_names[worst]!r}), beyond what any recorder stores (at most {_MAX_ABS_VALUE:g} in "
                             "the file's units, µV for EEG): the file is damaged or not DEAP data.")
    micro = [(file_units[i] if file_units is not None else "uV") in ("uV", "µV", "μV") and m in _MICROVOLT
             for i, m in enumerate(mods)]
    over = np.flatnonzero(np.asarray(micro) & (peak > _MAX_ABS_MICROVOLT))
    if over.size:
        worst = int(over[np.argmax(peak[over])])
        raise RecordingError(f"Cannot read {name}: trial {trial} holds values up to {peak[worst]:.3g} µV on "
                             f"{mods[worst].value} channel {ch_names[worst]!r}, beyond the range of any amplifier "
                             f"(at most {_MAX_ABS_MICROVOLT:g} µV = 10 V): the file is damaged or not DEAP data.")
    units = []
    notes = []
    for i, m in enumerate(mods):
        unit = file_units[i] if file_units is not None else ("uV" if m in _MICROVOLT else "")
        if unit in ("uV", "µV", "μV") and m in _MICROVOLT:
            x[i] *= 1e-6
            unit = "V"
        units.append(unit)
    if file_units is None:
        notes.append(
            "DEAP EEG/EOG/EMG converted from µV to V; GSR, Resp, Plet and Temp keep the file's values "
            "(unit not recorded in the file; DEAP describes GSR as skin resistance)."
        )
    damage = []
    cut = _constant_tail(x)
    if x.shape[1] - cut >= _TRUNCATED_MIN_S * sfreq and cut > 0:
        value = x[0, -1]
        what = "no value (NaN)" if np.isnan(value) else ("the same value (0)" if np.all(x[:, -1] == 0)
                                                          else "a constant value")
        damage.append(f"{name} trial {trial}: every channel holds {what} from {cut / sfreq:.1f} s to the end "
                      f"({x.shape[1] / sfreq:.1f} s): the trial looks truncated; those {(x.shape[1] - cut) / sfreq:.1f} s "
                      "are treated as missing.")
        x[:, cut:] = np.nan
    if not np.all(np.isfinite(x)):
        notes.append(f"{int(np.sum(~np.isfinite(x)))} non-finite samples in the data.")
    info = mne.create_info(ch_names, sfreq, [MNE_CH_TYPE[m] for m in mods], verbose="error")
    raw = mne.io.RawArray(x, info, verbose="error")
    duration = x.shape[1] / sfreq
    ann: list[Annotation] = []
    stim_span = None
    if duration > DEAP_BASELINE_S:
        stim_span = (DEAP_BASELINE_S, duration)
        ann = [
            Annotation(0.0, DEAP_BASELINE_S, "baseline"),
            Annotation(DEAP_BASELINE_S, duration - DEAP_BASELINE_S, "stimulus"),
        ]
    if content["synthetic"]:
        ann.append(Annotation(0.0, duration, "SYNTHETIC data"))
    raw.set_annotations(
        mne.Annotations([a.onset for a in ann], [a.duration for a in ann], [a.description for a in ann])
    )
    if not any(m == Modality.EEG for m in mods):
        notes.append("No EEG channel found.")
    if data.shape[2] != 8064 or n_trials != 40:
        notes.append(f"Non-standard DEAP shape {data.shape} (the real dataset has (40, 40, 8064)).")
    notes.insert(0, f"DEAP trial {trial} of {n_trials} ({x.shape[1]} samples at {sfreq:g} Hz).")
    trial_labels = {}
    for key, value in zip(DEAP_LABELS, labels[trial]):
        v = float(value)
        if np.isfinite(v) and _LABEL_RANGE[0] <= v <= _LABEL_RANGE[1]:
            trial_labels[key] = v
        else:
            damage.append(f"{name} trial {trial}: label {key} = {v:g} is not a 1-9 rating; it was dropped "
                          "(the trial has no such label).")
    return Recording(
        raw=raw,
        channels=tuple(ChannelInfo(c, m, sfreq, u) for c, m, u in zip(ch_names, mods, units)),
        source=path,
        source_format="deap",
        is_synthetic=content["synthetic"],
        labels=trial_labels,
        stim_span=stim_span,
        subject=_subject_of(path) if path is not None else None,
        trial=str(trial),
        notes=tuple(notes),
        warnings=tuple(damage),
    )


def load_deap_subject(
    path: str | os.PathLike,
    *,
    modalities: Mapping[str, Modality | str] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[Recording]:
    """Load every trial of a DEAP ``sNN.dat`` file.

    Parameters
    ----------
    path : str or os.PathLike
        DEAP preprocessed python file.
    modalities : Mapping or None
        User overrides of inferred modalities.
    progress, cancel
        See :mod:`mmqnet_core.progress`.

    Returns
    -------
    list of Recording
        One per trial (40 for the real dataset), in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"Cannot read {path}: no such file.")
    report(progress, 0.0, f"reading {path.name}")
    content = call_cancellable(read_deap_file, path, cancel=cancel)  # one pickle: checked while it is read
    n = content["data"].shape[0]
    out = []
    for t in range(n):
        check_cancel(cancel)
        out.append(deap_trial_recording(content, t, path=path, modalities=modalities))
        report(progress, 0.2 + 0.8 * (t + 1) / n, f"trial {t + 1}/{n}")
    return out


def load_deap_trials(
    path: str | os.PathLike,
    *,
    modalities: Mapping[str, Modality | str] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[list[Recording], list[str]]:
    """The usable trials of a DEAP ``sNN.dat`` file, and one line for each trial left out.

    A trial is left out, and named with the reason, when it cannot be opened (values no recorder stores), holds
    no signal at all (every sample non-finite, or every channel constant throughout) or has an EEG amplitude 20
    times above or below the median of the file's trials (with 3 trials or more); a trial cut short (a
    constant or NaN tail on every channel) is kept with that tail missing and its own warning. Used for a
    subject's statistics, where one damaged trial must not stop the other 39.

    Returns
    -------
    (list of Recording, list of str)
        The usable trials in file order, and one line per damaged trial: ``"s01.dat trial 2 left out: ..."``
        for a trial left out, the trial's own warning for a trial cut short.

    Raises
    ------
    RecordingError
        If the file itself cannot be read (see :func:`read_deap_file`).
    """
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"Cannot read {path}: no such file.")
    report(progress, 0.0, f"reading {path.name}")
    content = call_cancellable(read_deap_file, path, cancel=cancel)
    n = content["data"].shape[0]
    usable, left_out = [], []
    for t in range(n):
        check_cancel(cancel)
        trial = content["data"][t]
        try:
            rec = deap_trial_recording(content, t, path=path, modalities=modalities)
        except RecordingError as exc:
            left_out.append(f"{path.name} trial {t} left out: {exc}")
            continue
        if not np.isfinite(trial).any():
            left_out.append(f"{path.name} trial {t} left out: it holds no finite sample (every value is NaN or "
                            "infinite).")
        elif _constant_tail(np.asarray(trial, dtype=np.float64)) == 0:
            left_out.append(f"{path.name} trial {t} left out: every channel holds one value throughout (no signal).")
        else:
            usable.append(rec)
            left_out += [w for w in rec.warnings if "looks truncated" in w]  # kept, its tail missing: said too
        report(progress, 0.2 + 0.8 * (t + 1) / n, f"trial {t + 1}/{n}")
    return _drop_scale_outliers(content, usable, left_out, path)


def _drop_scale_outliers(content: Mapping[str, Any], usable: list[Recording], left_out: list[str], path: Path
                         ) -> tuple[list[Recording], list[str]]:
    """Leave out trials whose EEG amplitude is :data:`_TRIAL_SCALE_OUTLIER` times above or below the median of the
    file's usable trials (a trial stored with the wrong gain, e.g. x1000: its differential entropy is 7 nat off and
    it moved the subject's statistics by 17 SDs); only with >= 3 usable trials."""
    eeg = [i for i, c in enumerate(content["ch_names"]) if infer_modality(c) == Modality.EEG]
    if len(usable) < 3 or not eeg:
        return usable, left_out
    scale = []
    for rec in usable:
        trial = np.asarray(content["data"][int(rec.trial)], dtype=np.float64)
        x = trial[eeg, : max(_constant_tail(trial), 1)]  # a truncated trial's padding is no amplitude
        with np.errstate(invalid="ignore"):
            mad = np.nanmedian(np.abs(x - np.nanmedian(x, axis=1, keepdims=True)), axis=1)
        scale.append(float(np.nanmedian(mad)) if np.isfinite(mad).any() else np.nan)
    scale = np.asarray(scale)
    ref = float(np.nanmedian(scale)) if np.isfinite(scale).any() else np.nan
    if not np.isfinite(ref) or ref <= 0:
        return usable, left_out
    keep = []
    for rec, sc in zip(usable, scale):
        ratio = sc / ref
        if np.isfinite(ratio) and (ratio > _TRIAL_SCALE_OUTLIER or ratio < 1.0 / _TRIAL_SCALE_OUTLIER):
            left_out.append(f"{path.name} trial {rec.trial} left out: its EEG is {ratio:.3g} times as large as the "
                            f"file's trials are in the median (median absolute deviation {sc:.3g} vs {ref:.3g} in the "
                            "file's units): a damaged or mis-scaled trial.")
        else:
            keep.append(rec)
    return keep, left_out
