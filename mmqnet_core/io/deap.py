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

import importlib
import os
import pickle
import re
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import ConfigError, MMQNetError, RecordingError
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import Annotation, ChannelInfo, Modality, Recording
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
    size = path.stat().st_size
    if size == 0:
        raise RecordingError(f"Cannot read {path.name}: the file is empty (0 bytes). Choose another file.")
    if size > _MAX_PICKLE_BYTES:
        raise RecordingError(f"Cannot read {path.name}: {size / 1024**3:.1f} GiB is too large for a DEAP file.")
    with open(path, "rb") as fid:
        try:
            return SafeUnpickler(fid, encoding="latin1").load()
        except _Refused as exc:
            raise RecordingError(
                f"Refusing to load {path.name}: the pickle asks to run {exc}, which is not part of a numpy "
                "array. Only DEAP-style pickles of numpy arrays are read; this file may be malicious."
            ) from None
        except MMQNetError:
            raise
        except Exception as exc:  # EOFError, ValueError, MemoryError... from a damaged or foreign file
            raise RecordingError(
                f"Cannot read {path.name}: it is not a valid DEAP pickle ({type(exc).__name__}: {exc}). "
                "Check that the file is a complete data_preprocessed_python/sNN.dat file."
            ) from None


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
    if not np.issubdtype(data.dtype, np.number) or not np.issubdtype(labels.dtype, np.number):
        raise RecordingError(
            f"Cannot read {path.name}: DEAP arrays must be numeric, got {data.dtype} and {labels.dtype}."
        )
    ch_names = tuple(str(c) for c in obj.get("ch_names", DEAP_CHANNEL_NAMES))
    units = obj.get("units")
    if len(ch_names) != data.shape[1] or (units is not None and len(units) != data.shape[1]):
        raise RecordingError(
            f"Cannot read {path.name}: 'ch_names'/'units' must list {data.shape[1]} channels."
        )
    sfreq = float(obj.get("sfreq", DEAP_SFREQ))
    if not sfreq > 0:
        raise RecordingError(f"Cannot read {path.name}: 'sfreq' must be > 0 Hz, got {sfreq}.")
    synthetic = bool(obj.get("synthetic", False)) or "synthetic" in path.name.lower()
    return {
        "data": data,
        "labels": labels,
        "ch_names": ch_names,
        "units": None if units is None else tuple(str(u) for u in units),
        "sfreq": sfreq,
        "synthetic": synthetic,
    }


def _subject_of(path: Path) -> str | None:
    m = re.match(r"^s(\d+)", path.stem, re.IGNORECASE)
    return m.group(1) if m else path.stem


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
    if isinstance(trial, bool) or not isinstance(trial, (int, np.integer)) or not 0 <= trial < n_trials:
        raise ConfigError(f"Invalid value for 'trial': {name} has trials 0-{n_trials - 1}, got {trial!r}.")
    trial = int(trial)
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
    return Recording(
        raw=raw,
        channels=tuple(ChannelInfo(c, m, sfreq, u) for c, m, u in zip(ch_names, mods, units)),
        source=path,
        source_format="deap",
        is_synthetic=content["synthetic"],
        labels={k: float(v) for k, v in zip(DEAP_LABELS, labels[trial])},
        stim_span=stim_span,
        subject=_subject_of(path) if path is not None else None,
        trial=str(trial),
        notes=tuple(notes),
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
    content = read_deap_file(path)
    n = content["data"].shape[0]
    out = []
    for t in range(n):
        check_cancel(cancel)
        out.append(deap_trial_recording(content, t, path=path, modalities=modalities))
        report(progress, 0.2 + 0.8 * (t + 1) / n, f"trial {t + 1}/{n}")
    return out
