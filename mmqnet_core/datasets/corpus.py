"""Corpus assembly: turn a data source into cached feature arrays for training and evaluation.

A *source* is one of

``"synthetic"``
    the synthetic corpus of :mod:`mmqnet_core.datasets.synthetic` (a :class:`SynthConfig` says how many
    subjects, trials, seconds); every trial goes ``to_recording() -> preprocess -> extract_features``;
``"deap:DIR"``
    DEAP's preprocessed-python release: every ``sNN.dat`` in DIR (40 trials each);
``"mahnob:DIR"``
    MAHNOB-HCI: every session folder below DIR (a folder holding ``session.xml`` and a BDF file).

Each trial becomes one row of the :class:`Corpus`: features on the model's token layout (DEAP's 40 channels
by default) for the windows of the stimulus span. Building is the slow part (filtering, EOG regression,
feature extraction: about 0.1-0.3 s per 60 s trial on one core), so the result is cached as an ``.npz`` file
whose name is a hash of everything that determines it (source, configurations, and the source code of the
synthetic generator, preprocessing and feature modules), and the work is spread over worker processes.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import inspect
import json
import logging
import multiprocessing as mp
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError, MMQNetError, RecordingError
from ..fileio import atomic_path
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import Annotation, Modality, Recording

log = logging.getLogger(__name__)

#: Bump when the layout of the cached arrays changes.
CORPUS_VERSION = 1
#: Artifact types of the synthetic ground truth, in the order of :attr:`Corpus.artifacts`' last axis.
ARTIFACT_TYPES = ("blink", "emg", "motion", "pop", "flat", "line")
#: Rating targets, in the order of :attr:`Corpus.labels`' last axis.
TARGETS = ("valence", "arousal")
#: Cached corpora kept in the cache folder (the most recent ones).
CACHE_KEEP = 4
#: An artifact span sets a window's target when it covers at least this share of the window.
ARTIFACT_MIN_COVER = 0.1


def default_cache_dir() -> Path:
    """Folder for cached corpora: ``$MMQNET_CACHE`` or ``~/.cache/mmqnet/corpus``."""
    env = os.environ.get("MMQNET_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "mmqnet" / "corpus"


@dataclass(frozen=True)
class Corpus:
    """Feature arrays of a set of labelled trials, ready for training.

    Shapes: ``n`` trials, ``T`` windows per trial (the longest trial; shorter ones are padded with missing
    windows, see :attr:`n_windows`), ``N`` tokens, ``F`` features, ``A`` artifact types.
    """

    X: np.ndarray  # (n, T, N, F) float32 features in original units (invalid columns and missing tokens = 0)
    missing: np.ndarray  # (n, T, N) bool, True = token has no data in that window (absent, NaN, flat, padding)
    interference: np.ndarray  # (n, T) float32 in [0, 1], detected interference score per window (features)
    artifacts: np.ndarray  # (n, T, A) float32 0/1, known injected artifacts per window (synthetic only)
    artifact_known: np.ndarray  # (n,) bool, True when artifacts holds ground truth (False for real data)
    labels: np.ndarray  # (n, 2) float32 valence and arousal scores, 1-9
    subjects: np.ndarray  # (n,) int64 subject ids
    trials: np.ndarray  # (n,) int64 trial ids within the subject
    n_windows: np.ndarray  # (n,) int64 number of real (unpadded) windows of each trial
    token_names: tuple[str, ...]  # (N,) token names (DEAP channel names for DEAP_LAYOUT)
    token_modalities: tuple[str, ...]  # (N,) modality name of every token, e.g. "EEG"
    valid: np.ndarray  # (N, F) bool, feature column f is defined for token n
    feature_names: Mapping[str, tuple[str, ...]]  # modality name -> names of its feature columns
    feature_units: Mapping[str, tuple[str, ...]]  # modality name -> units of its feature columns
    waveform: Mapping[str, tuple[int, int]]  # modality name -> (start, stop) columns of the waveform samples
    window_s: float  # window length, s
    step_s: float  # window step, s
    source: str  # "synthetic", "deap:DIR" or "mahnob:DIR"
    is_synthetic: bool  # True when the trials were generated, not recorded
    config: Mapping[str, Any] = field(default_factory=dict)  # the build configuration (JSON-able)

    def __post_init__(self) -> None:
        n, t, n_tok, f = self.X.shape
        checks = {
            "missing": (self.missing.shape, (n, t, n_tok)),
            "interference": (self.interference.shape, (n, t)),
            "labels": (self.labels.shape, (n, len(TARGETS))),
            "subjects": (self.subjects.shape, (n,)),
            "trials": (self.trials.shape, (n,)),
            "valid": (self.valid.shape, (n_tok, f)),
        }
        for name, (got, want) in checks.items():
            if tuple(got) != want:
                raise ConfigError(f"Corpus array {name!r} has shape {tuple(got)}, expected {want}.")
        if len(self.token_names) != n_tok:
            raise ConfigError(f"Corpus has {n_tok} tokens but {len(self.token_names)} token names.")

    # --- shape -----------------------------------------------------------------------------------------------
    @property
    def n_trials(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_tokens(self) -> int:
        return int(self.X.shape[2])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[3])

    @property
    def max_windows(self) -> int:
        return int(self.X.shape[1])

    def binary_labels(self, threshold: float = 5.0) -> np.ndarray:
        """(n, 2) int64 high (1) / low (0) valence and arousal: high when the score >= ``threshold``."""
        return (self.labels >= threshold).astype(np.int64)

    def subset(self, index: Sequence[int] | np.ndarray) -> "Corpus":
        """A corpus of the trials ``index`` (same tokens and features)."""
        idx = np.asarray(index, dtype=np.int64)
        per_trial = ("X", "missing", "interference", "artifacts", "artifact_known", "labels", "subjects",
                     "trials", "n_windows")
        return dataclasses.replace(self, **{k: getattr(self, k)[idx] for k in per_trial})

    def describe(self) -> str:
        kind = "SYNTHETIC" if self.is_synthetic else "recorded"
        return (f"{self.n_trials} {kind} trials from {len(np.unique(self.subjects))} subjects "
                f"({self.source}), {self.max_windows} windows of {self.window_s:g} s, "
                f"{self.n_tokens} tokens x {self.n_features} features")

    # --- files -----------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the corpus to an ``.npz`` file atomically (temp file + os.replace)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "version": CORPUS_VERSION,
            "token_names": list(self.token_names),
            "token_modalities": list(self.token_modalities),
            "feature_names": {k: list(v) for k, v in self.feature_names.items()},
            "feature_units": {k: list(v) for k, v in self.feature_units.items()},
            "waveform": {k: list(v) for k, v in self.waveform.items()},
            "window_s": self.window_s,
            "step_s": self.step_s,
            "source": self.source,
            "is_synthetic": self.is_synthetic,
            "config": self.config,
        }
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh, X=self.X, missing=self.missing, interference=self.interference, artifacts=self.artifacts,
                artifact_known=self.artifact_known, labels=self.labels, subjects=self.subjects,
                trials=self.trials, n_windows=self.n_windows, valid=self.valid,
                meta=np.array(json.dumps(meta)),
            )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Corpus":
        """Read a corpus written by :meth:`save`."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise MMQNetError(f"Cannot read corpus file {path}: {exc}. Delete it to rebuild.") from exc
        try:
            meta = json.loads(str(arrays.pop("meta")))
        except (KeyError, ValueError) as exc:
            raise MMQNetError(f"{path} is not an MMQ-Net corpus file (no metadata). Delete it to rebuild.") from exc
        if meta.get("version") != CORPUS_VERSION:
            raise MMQNetError(
                f"Corpus file {path} has version {meta.get('version')}, this program reads version "
                f"{CORPUS_VERSION}. Delete it to rebuild."
            )
        return cls(
            **arrays,
            token_names=tuple(meta["token_names"]),
            token_modalities=tuple(meta["token_modalities"]),
            feature_names={k: tuple(v) for k, v in meta["feature_names"].items()},
            feature_units={k: tuple(v) for k, v in meta["feature_units"].items()},
            waveform={k: tuple(v) for k, v in meta["waveform"].items()},
            window_s=float(meta["window_s"]),
            step_s=float(meta["step_s"]),
            source=meta["source"],
            is_synthetic=bool(meta["is_synthetic"]),
            config=meta["config"],
        )


# --- one trial -> arrays ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TrialArrays:
    X: np.ndarray  # (T, N, F)
    missing: np.ndarray  # (T, N)
    interference: np.ndarray  # (T,)
    artifacts: np.ndarray  # (T, A)
    artifact_known: bool
    labels: np.ndarray  # (2,)
    subject: str
    trial: str
    meta: dict  # layout / feature metadata (the same for every trial)
    is_synthetic: bool = False  # the recording says it is synthetic


def artifact_targets(
    artifacts: Sequence[Annotation], window_starts: np.ndarray, window_s: float
) -> np.ndarray:
    """Per-window multi-label artifact targets (T, A) from ``ART_<type>`` annotations.

    A window gets type ``a`` when spans of that type cover at least :data:`ARTIFACT_MIN_COVER` of it.
    """
    starts = np.asarray(window_starts, dtype=np.float64)
    cover = np.zeros((len(starts), len(ARTIFACT_TYPES)))
    for ann in artifacts:
        kind = ann.description.removeprefix("ART_").lower()
        if kind not in ARTIFACT_TYPES:
            continue
        a = ARTIFACT_TYPES.index(kind)
        overlap = np.clip(np.minimum(starts + window_s, ann.end) - np.maximum(starts, ann.onset), 0.0, None)
        cover[:, a] += overlap / window_s
    return (cover >= ARTIFACT_MIN_COVER).astype(np.float32)


def featurise_trial(
    recording: Recording,
    preprocess_config: Any,
    feature_config: Any,
    layout: Sequence[Any],
    *,
    artifacts: Sequence[Annotation] | None = None,
) -> _TrialArrays:
    """Preprocess one labelled recording and extract features on ``layout`` over its stimulus span."""
    from ..features import extract_features
    from ..preprocessing import preprocess

    pre = preprocess(recording, preprocess_config)
    fs = extract_features(pre.cleaned, feature_config, layout=layout, interference=pre.interference)
    keep = np.ones(fs.n_windows, dtype=bool)
    if recording.stim_span is not None:  # only windows inside the stimulus (drop the pre-trial baseline)
        on, off = recording.stim_span
        keep = (fs.window_starts >= on - 1e-6) & (fs.window_starts + fs.window_s <= off + 1e-6)
    if not keep.any():
        raise RecordingError(
            f"{recording.title}: no {fs.window_s:g}-s window fits in the stimulus span {recording.stim_span}."
        )
    try:
        labels = np.array([float(recording.labels[t]) for t in TARGETS], dtype=np.float32)
    except KeyError:
        raise RecordingError(
            f"{recording.title} has no valence/arousal labels (labels: {dict(recording.labels)}); "
            "a training corpus needs labelled trials."
        ) from None
    known = artifacts is not None
    art = (artifact_targets(artifacts, fs.window_starts, fs.window_s) if known
           else np.zeros((fs.n_windows, len(ARTIFACT_TYPES)), np.float32))
    meta = {
        "token_names": [t.name for t in fs.tokens],
        "token_modalities": [Modality.parse(t.modality).value for t in fs.tokens],
        "valid": fs.valid.tolist(),
        "feature_names": {Modality.parse(k).value: list(v) for k, v in fs.feature_names.items()},
        "feature_units": {Modality.parse(k).value: list(v) for k, v in fs.feature_units.items()},
        "waveform": {Modality.parse(k).value: [s.start, s.stop] for k, s in fs.waveform.items()},
        "window_s": float(fs.window_s),
        "step_s": float(fs.window_starts[1] - fs.window_starts[0]) if fs.n_windows > 1 else float(fs.window_s),
    }
    return _TrialArrays(
        X=np.nan_to_num(fs.values[keep].astype(np.float32)),
        missing=fs.missing[keep].astype(bool),
        interference=np.asarray(fs.interference, np.float32)[keep],
        artifacts=art[keep],
        artifact_known=known,
        labels=labels,
        subject=str(recording.subject),
        trial=str(recording.trial),
        meta=meta,
        is_synthetic=bool(recording.is_synthetic),
    )


# --- jobs run in worker processes (top-level functions so that they pickle) ------------------------------------
def _job_synthetic(synth_config: Any, subject: int, preprocess_config: Any, feature_config: Any,
                   layout: Sequence[Any]) -> list[_TrialArrays]:
    from .synthetic import generate_trial

    out = []
    for t in range(synth_config.n_trials):
        trial = generate_trial(synth_config, subject, t)
        rec = dataclasses.replace(trial.to_recording(), subject=str(subject), trial=str(t))
        out.append(featurise_trial(rec, preprocess_config, feature_config, layout, artifacts=trial.artifacts))
    return out


def _job_deap(path: str, preprocess_config: Any, feature_config: Any,
              layout: Sequence[Any]) -> list[_TrialArrays]:
    from ..io import load_deap_subject

    subject = re.sub(r"\D", "", Path(path).stem) or Path(path).stem  # "s07" / "synthetic_s07" -> "07"
    out = []
    for t, rec in enumerate(load_deap_subject(path)):
        rec = dataclasses.replace(rec, subject=rec.subject or subject, trial=rec.trial or str(t))
        out.append(featurise_trial(rec, preprocess_config, feature_config, layout))
    return out


def _job_mahnob(path: str, preprocess_config: Any, feature_config: Any,
                layout: Sequence[Any]) -> list[_TrialArrays]:
    from ..io import load_recording

    rec = load_recording(path)
    if not all(t in rec.labels for t in TARGETS):  # e.g. implicit-tagging sessions: no felt ratings
        log.warning("skipping %s: no valence/arousal ratings in session.xml", path)
        return []
    rec = dataclasses.replace(rec, subject=rec.subject or "0", trial=rec.trial or Path(path).name)
    return [featurise_trial(rec, preprocess_config, feature_config, layout)]


# --- building ----------------------------------------------------------------------------------------------------
def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (Modality,)):
        return obj.value
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return repr(obj)


def _code_fingerprint() -> str:
    """Hash of the source of the modules that determine a corpus' values (invalidates stale caches)."""
    from .. import features, preprocessing
    from . import synthetic

    h = hashlib.sha256()
    for mod in (synthetic, preprocessing, features):
        files = [Path(inspect.getsourcefile(mod) or "")]
        if files[0].name == "__init__.py":  # a package: every module of it
            files = sorted(files[0].parent.rglob("*.py"))
        for f in files:
            if f.is_file():
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _source_items(kind: str, folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ConfigError(f"Data folder {folder} does not exist; give an existing folder: '{kind}:DIR'.")
    if kind == "deap":
        pattern = re.compile(r"(^|_)s\d+\.dat$", re.IGNORECASE)  # sNN.dat, or synthetic_sNN.dat from `mmqnet synth`
        items = sorted(p for p in folder.glob("*.dat") if pattern.search(p.name)) or sorted(
            p for p in folder.rglob("*.dat") if pattern.search(p.name))
        what = "DEAP subject files sNN.dat"
    else:
        items = sorted(p.parent for p in folder.rglob("session.xml") if any(p.parent.glob("*.bdf")))
        what = "MAHNOB-HCI session folders (session.xml + .bdf)"
    if not items:
        raise ConfigError(f"No {what} found in {folder}.")
    return items


def parse_source(source: str) -> tuple[str, Path | None]:
    """Split ``"synthetic" | "deap:DIR" | "mahnob:DIR"`` into (kind, folder)."""
    kind, _, rest = str(source).partition(":")
    kind = kind.strip().lower()
    if kind == "synthetic" and not rest:
        return kind, None
    if kind in ("deap", "mahnob") and rest:
        return kind, Path(rest).expanduser()
    raise ConfigError(
        f"Invalid value for 'data': allowed 'synthetic', 'deap:DIR' or 'mahnob:DIR', got {source!r}."
    )


def corpus_key(source: str, synth_config: Any, preprocess_config: Any, feature_config: Any,
               layout: Sequence[Any]) -> tuple[str, dict]:
    """Hash key and JSON description of a corpus build."""
    kind, folder = parse_source(source)
    desc: dict[str, Any] = {
        "corpus_version": CORPUS_VERSION,
        "source": source,
        "synth": _jsonable(synth_config) if kind == "synthetic" else None,
        "preprocess": _jsonable(preprocess_config),
        "features": _jsonable(feature_config),
        "layout": [[t.name, Modality.parse(t.modality).value] for t in layout],
        "code": _code_fingerprint(),
    }
    if folder is not None:  # real data: the files' names, sizes and times
        desc["files"] = [[str(p), p.stat().st_size, int(p.stat().st_mtime)] for p in _source_items(kind, folder)]
    key = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:20]
    return key, desc


def _default_workers(n_jobs: int) -> int:
    return max(1, min(n_jobs, os.cpu_count() or 1, 8))


def build_corpus(
    source: str = "synthetic",
    *,
    synth_config: Any | None = None,
    preprocess_config: Any | None = None,
    feature_config: Any | None = None,
    layout: Sequence[Any] | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Corpus:
    """Build (or read from the cache) the feature corpus of a data source.

    Parameters
    ----------
    source : str
        ``"synthetic"``, ``"deap:DIR"`` or ``"mahnob:DIR"``.
    synth_config : SynthConfig, optional
        Size and seed of the synthetic corpus (default ``SynthConfig()``); ignored for real data.
    preprocess_config : PreprocessConfig, optional
        Cleaning applied to every trial (default ``PreprocessConfig()``).
    feature_config : FeatureConfig, optional
        Windowing and bands (default ``FeatureConfig()``).
    layout : sequence of Token, optional
        Token layout (default ``DEAP_LAYOUT``: DEAP's 40 channels; absent channels become missing tokens).
    cache_dir : path, optional
        Folder of cached corpora (default :func:`default_cache_dir`); the file is ``corpus_<hash>.npz``.
    use_cache : bool
        Read and write the cache (False: always rebuild, write nothing).
    workers : int, optional
        Worker processes (default: the number of CPU cores, at most 8; 1 = in this process).
    progress, cancel
        Progress callback (fraction, message) and cancel token, checked between subjects/sessions.

    Returns
    -------
    Corpus
    """
    from ..features import DEAP_LAYOUT, FeatureConfig
    from ..preprocessing import PreprocessConfig

    kind, folder = parse_source(source)
    if kind == "synthetic" and synth_config is None:
        from .synthetic import SynthConfig

        synth_config = SynthConfig()
    preprocess_config = preprocess_config if preprocess_config is not None else PreprocessConfig()
    feature_config = feature_config if feature_config is not None else FeatureConfig()
    layout = tuple(layout) if layout is not None else tuple(DEAP_LAYOUT)
    key, desc = corpus_key(source, synth_config, preprocess_config, feature_config, layout)
    cache_file = Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"corpus_{key}.npz"
    if use_cache and cache_file.is_file():
        log.info("corpus from cache %s", cache_file)
        report(progress, 1.0, "corpus from cache")
        corpus = Corpus.load(cache_file)
        return dataclasses.replace(corpus, config={**corpus.config, "cache_file": str(cache_file)})

    if kind == "synthetic":
        jobs = [(_job_synthetic, (synth_config, s, preprocess_config, feature_config, layout))
                for s in range(synth_config.n_subjects)]
    elif kind == "deap":
        jobs = [(_job_deap, (str(p), preprocess_config, feature_config, layout))
                for p in _source_items(kind, folder)]
    else:
        jobs = [(_job_mahnob, (str(p), preprocess_config, feature_config, layout))
                for p in _source_items(kind, folder)]
    n_workers = _default_workers(len(jobs)) if workers is None else max(1, int(workers))
    t0 = time.perf_counter()
    results = _run_jobs(jobs, n_workers, progress=progress, cancel=cancel, what=kind)
    trials = [t for r in results for t in r]
    corpus = _assemble(trials, source=source,
                       is_synthetic=kind == "synthetic" or (bool(trials) and all(t.is_synthetic for t in trials)),
                       config=desc)
    log.info("built corpus in %.1f s with %d worker(s): %s", time.perf_counter() - t0, n_workers,
             corpus.describe())
    if use_cache:
        corpus.save(cache_file)
        prune_cache(cache_file.parent)
        corpus = dataclasses.replace(corpus, config={**corpus.config, "cache_file": str(cache_file)})
    report(progress, 1.0, "corpus built")
    return corpus


def prune_cache(cache_dir: str | os.PathLike, keep: int = CACHE_KEEP) -> list[Path]:
    """Delete all but the ``keep`` most recently written corpora in ``cache_dir`` (a DEAP-sized corpus is
    ~150 MB and a code change makes older files unreachable). Returns the deleted files."""
    files = sorted(Path(cache_dir).glob("corpus_*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)
    return files[keep:]


def _run_jobs(jobs: list[tuple[Callable, tuple]], n_workers: int, *, progress: ProgressCallback | None,
              cancel: CancelToken | None, what: str) -> list[list[_TrialArrays]]:
    results: list[list[_TrialArrays] | None] = [None] * len(jobs)
    if n_workers <= 1:
        for i, (fn, args) in enumerate(jobs):
            check_cancel(cancel)
            results[i] = fn(*args)
            report(progress, (i + 1) / len(jobs), f"{what} {i + 1}/{len(jobs)}")
        return results  # type: ignore[return-value]
    # Worker processes start with "spawn" (safe with torch/BLAS threads in the parent) and one BLAS thread each.
    saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update({k: "1" for k in saved})
    try:
        with cf.ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(fn, *args): i for i, (fn, args) in enumerate(jobs)}
            done = 0
            try:
                for fut in cf.as_completed(futures):
                    results[futures[fut]] = fut.result()
                    done += 1
                    report(progress, done / len(jobs), f"{what} {done}/{len(jobs)}")
                    check_cancel(cancel)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return results  # type: ignore[return-value]


def _ids(values: Sequence[str]) -> np.ndarray:
    """Integer ids: the values themselves when all are integers, else their order of first appearance."""
    try:
        return np.array([int(v) for v in values], dtype=np.int64)
    except ValueError:
        order: dict[str, int] = {}
        return np.array([order.setdefault(v, len(order)) for v in values], dtype=np.int64)


def _assemble(trials: list[_TrialArrays], *, source: str, is_synthetic: bool, config: dict) -> Corpus:
    if not trials:
        raise RecordingError(f"No usable trial in {source}.")
    meta = trials[0].meta
    t_max = max(t.X.shape[0] for t in trials)
    n, (_, n_tok, n_f) = len(trials), trials[0].X.shape
    X = np.zeros((n, t_max, n_tok, n_f), np.float32)
    missing = np.ones((n, t_max, n_tok), bool)  # padding windows are missing
    interference = np.zeros((n, t_max), np.float32)
    artifacts = np.zeros((n, t_max, len(ARTIFACT_TYPES)), np.float32)
    for i, t in enumerate(trials):
        k = t.X.shape[0]
        X[i, :k], missing[i, :k], interference[i, :k], artifacts[i, :k] = t.X, t.missing, t.interference, t.artifacts
    sub_ids = _ids([t.subject for t in trials])
    trial_ids = _ids([t.trial for t in trials])
    return Corpus(
        X=X,
        missing=missing,
        interference=interference,
        artifacts=artifacts,
        artifact_known=np.array([t.artifact_known for t in trials]),
        labels=np.stack([t.labels for t in trials]).astype(np.float32),
        subjects=sub_ids,
        trials=trial_ids,
        n_windows=np.array([t.X.shape[0] for t in trials], dtype=np.int64),
        token_names=tuple(meta["token_names"]),
        token_modalities=tuple(meta["token_modalities"]),
        valid=np.array(meta["valid"], dtype=bool),
        feature_names={k: tuple(v) for k, v in meta["feature_names"].items()},
        feature_units={k: tuple(v) for k, v in meta["feature_units"].items()},
        waveform={k: tuple(v) for k, v in meta["waveform"].items()},
        window_s=meta["window_s"],
        step_s=meta["step_s"],
        source=source,
        is_synthetic=is_synthetic,
        config=config,
    )


# --- held-out trials rebuilt with more artifacts (evaluation) ---------------------------------------------------
def _job_synthetic_trials(synth_config: Any, subject: int, trials: Sequence[int], preprocess_config: Any,
                          feature_config: Any, layout: Sequence[Any]) -> list[_TrialArrays]:
    from .synthetic import generate_trial

    out = []
    for t in trials:
        trial = generate_trial(synth_config, subject, int(t))
        rec = dataclasses.replace(trial.to_recording(), subject=str(subject), trial=str(t))
        out.append(featurise_trial(rec, preprocess_config, feature_config, layout, artifacts=trial.artifacts))
    return out


def build_configs(corpus: Corpus) -> tuple[Any, Any, Any, tuple[Any, ...]]:
    """(SynthConfig, PreprocessConfig, FeatureConfig, layout) a SYNTHETIC corpus was built with, read back from
    :attr:`Corpus.config` (the build description of :func:`corpus_key`) and checked to describe it exactly."""
    from ..features import FeatureConfig
    from ..features.layout import Token
    from ..preprocessing import PreprocessConfig
    from .synthetic import SynthConfig

    desc = dict(corpus.config or {})
    if not corpus.is_synthetic or not isinstance(desc.get("synth"), Mapping):
        raise ConfigError(
            f"The corpus ({corpus.source}) is not a generated SYNTHETIC corpus with its build settings, so its "
            "trials cannot be regenerated; use a corpus built by build_corpus('synthetic', ...)."
        )
    try:
        synth = SynthConfig(**{**desc["synth"], "channels": tuple(desc["synth"]["channels"])})
        pre = PreprocessConfig.from_dict(desc["preprocess"])
        feat = FeatureConfig.from_dict(desc["features"])
        layout = tuple(Token(str(n), Modality.parse(m), None) for n, m in desc["layout"])
    except (KeyError, TypeError) as exc:
        raise ConfigError(
            f"The corpus' build settings are incomplete or unreadable ({exc}); rebuild the corpus."
        ) from None
    if _jsonable(pre) != desc["preprocess"] or _jsonable(feat) != desc["features"]:
        raise ConfigError("The corpus' build settings do not read back to the same configuration; rebuild the corpus.")
    return synth, pre, feat, layout


def rebuild_synthetic(
    corpus: Corpus,
    index: Sequence[int] | np.ndarray,
    *,
    artifact_factor: float = 1.0,
    preprocess_overrides: Mapping[str, Any] | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Corpus:
    """Regenerate trials ``index`` of a SYNTHETIC corpus with the artifact rate times ``artifact_factor``.

    The generator draws signals, labels and artifacts from separate seeded streams, so the rebuilt trials have
    the same clean signals and labels as the originals and only the injected artifacts change (more events of
    every kind: blinks, saccades, EMG bursts, motion, electrode pops, flat lines, line noise). With the factor 1
    and unchanged code they equal the originals. The trials run through the *current* preprocessing and feature
    code, which may differ from the code the corpus was cached with: compare a rebuilt condition with the same
    trials rebuilt at factor 1, not with the cached features.

    Parameters
    ----------
    corpus : Corpus
        A corpus built from ``"synthetic"`` (its ``config`` holds the build settings).
    index : sequence of int
        Trials (rows of ``corpus``) to rebuild; the result has them in this order.
    artifact_factor : float
        Multiplier of the corpus' ``artifact_rate`` (>= 0; the product is at most 20).
    preprocess_overrides : mapping, optional
        Preprocessing settings to change for the rebuild (fields of ``PreprocessConfig``, e.g.
        ``{"eog_method": "none", "notch": False}``: the trials without artifact removal).
    workers : int, optional
        Worker processes (default: one per subject, at most the CPU cores and 8; 1 = in this process).
    progress, cancel
        Progress callback and cancel token (checked between subjects).

    Returns
    -------
    Corpus
        The rebuilt trials (``config`` says the artifact rate used).
    """
    synth, pre, feat, layout = build_configs(corpus)
    if not 0.0 <= float(artifact_factor) or not float(artifact_factor) * synth.artifact_rate <= 20.0:
        raise ConfigError(
            f"Invalid value for 'artifact_factor': must be >= 0 with artifact_rate x factor <= 20 (the generator's "
            f"limit; the corpus' rate is {synth.artifact_rate:g}), got {artifact_factor}."
        )
    synth = dataclasses.replace(synth, artifact_rate=float(synth.artifact_rate) * float(artifact_factor))
    if preprocess_overrides:
        unknown = sorted(set(preprocess_overrides) - {f.name for f in dataclasses.fields(pre)})
        if unknown:
            raise ConfigError(f"Invalid preprocessing setting(s) {unknown} in 'preprocess_overrides'.")
        pre = dataclasses.replace(pre, **dict(preprocess_overrides))
    idx = np.asarray(index, dtype=np.int64)
    subjects = np.asarray(corpus.subjects)[idx]
    trials = np.asarray(corpus.trials)[idx]
    order = list(dict.fromkeys(subjects.tolist()))
    jobs = [(_job_synthetic_trials, (synth, int(s), [int(t) for t in trials[subjects == s]], pre, feat, layout))
            for s in order]
    n_workers = _default_workers(len(jobs)) if workers is None else max(1, int(workers))
    results = _run_jobs(jobs, n_workers, progress=progress, cancel=cancel, what="rebuild")
    built = {}
    for (_, args), res in zip(jobs, results):
        built.update({(args[1], t): arr for t, arr in zip(args[2], res)})
    arrays = [built[(int(s), int(t))] for s, t in zip(subjects, trials)]
    out = _assemble(arrays, source=corpus.source, is_synthetic=True,
                    config={**dict(corpus.config), "synth": _jsonable(synth), "preprocess": _jsonable(pre),
                            "rebuilt_artifact_factor": float(artifact_factor)})
    if out.X.shape[1:] != corpus.X.shape[1:] or tuple(out.token_names) != tuple(corpus.token_names):
        raise ConfigError(
            f"The rebuilt trials have another shape {out.X.shape[1:]} than the corpus {corpus.X.shape[1:]}; "
            "the generator or the feature code changed the layout: rebuild the whole corpus."
        )
    return out
