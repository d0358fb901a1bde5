"""Analyse a cohort: many recordings, one result folder each, one table, in parallel, resumable.

Typical use (what ``mmqnet analyze A.bdf B.bdf study/ -o OUT`` does)::

    sources = find_sources(["A.bdf", "B.bdf", "study/"], exclude="OUT")
    result = run_cohort(sources, "OUT", AnalysisOptions(), jobs=2, on_outcome=print)
    result.table            # one row per window of every recording (+ one row per failed recording)

Each recording is analysed by :func:`analyze_file` -- the same steps as ``mmqnet analyze FILE`` (masks from the
sidecar, the subject's statistics, :func:`mmqnet_core.inference.analyze`, :meth:`AnalysisResult.save`) -- into
``OUT/<name>/``, then a marker ``OUT/<name>/analysis.done.json`` is written atomically, last. A recording whose
marker matches its source file (size, modification time) and the analysis options is skipped on the next run,
so an interrupted cohort resumes where it stopped. A DEAP ``.dat`` file holds one recording per trial: each
gets ``OUT/<name>/trial_NN/`` (all trials, or the one chosen with ``AnalysisOptions.trial``), and the
statistics of the subject are computed once per file.

A recording that fails (a corrupt file, no matching channel...) is recorded in the table with its error and
does not stop the others. Recordings run in a local process pool (``jobs`` processes, spawned, each with its own
model and ``cpu_count // jobs`` torch threads) or, with ``scheduler``, on an existing Dask distributed cluster
(``pip install mmqnet-studio[cluster]``; every worker needs mmqnet-studio installed and the recordings and the
output folder at the same paths).

The cohort table (``OUT/cohort.parquet`` and ``OUT/cohort.csv``, written with pandas, atomically): ``recording``
(result folder, relative to OUT), ``subject``, ``trial``, ``source``, ``status`` ("analysed", "already done" or
"failed"), ``error``, ``warnings`` (what was wrong with a damaged file that was read in part: a truncated EDF...),
``masks`` (which masks were used), ``window`` (index), then every column of the
recording's ``trajectories.parquet`` (window times in s, probabilities, uncertainties, masked fractions...).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import glob
import hashlib
import json
import logging
import multiprocessing
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

if TYPE_CHECKING:  # imported when a table is made (pandas: ~0.5 s of start-up)
    import pandas as pd

from ..errors import Cancelled, ConfigError, MMQNetError
from ..fileio import atomic_write
from ..progress import CancelToken, ProgressCallback, check_cancel, scaled

log = logging.getLogger(__name__)

#: File suffixes searched for in folders (MAHNOB-HCI session folders are found by their session.xml).
RECORDING_SUFFIXES = (".edf", ".bdf", ".dat")
#: Written into a recording's result folder after everything else (atomically): the recording is done.
DONE_MARKER = "analysis.done.json"
#: Files of a finished recording's result folder (written by AnalysisResult.save before the marker).
RESULT_FILES = ("trajectories.csv", "trajectories.parquet", "reconstructions.npz", "attention.npz", "summary.json")
#: Base name of the cohort table in the output folder (``.parquet`` and ``.csv``).
TABLE_NAME = "cohort"
#: Status values of the table.
ANALYSED, ALREADY_DONE, FAILED = "analysed", "already done", "failed"
#: Columns that come before the trajectory columns in the cohort table.
ID_COLUMNS = ("recording", "subject", "trial", "source", "status", "error", "warnings", "masks", "window")
#: How long to try to reach a Dask scheduler, s.
SCHEDULER_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class AnalysisOptions:
    """What ``mmqnet analyze`` does to each recording (picklable: sent to worker processes)."""

    checkpoint: str | None = None  # checkpoint folder; None = the shipped one
    device: str | None = None  # "cpu", "cuda", "mps"; None = the best available
    masks: str | None = None  # one mask JSON for every recording; None = each recording's sidecar
    no_masks: bool = False  # ignore the sidecar mask files
    modalities: Mapping[str, str] | None = None  # channel name -> modality name overrides
    trial: int | None = None  # DEAP trial (0-39); None = trial 0 for one file, every trial in a cohort
    start_s: float = 0.0  # analyse from this time, s
    stop_s: float | None = None  # analyse up to this time, s (None = the end)
    mc_samples: int = 0  # Monte-Carlo samples (0 = deterministic, else >= 2)
    mc_seed: int = 0  # seed of the Monte-Carlo samples
    subject_files: tuple[str, ...] = ()  # other recordings of the same subject (one-recording analyses only)
    own_statistics: bool = False  # per-subject model: the recording's own statistics only
    attribution: str | None = None  # occlusion maps + missing-evidence uncertainty: "modality", "token" or None

    def __post_init__(self) -> None:
        if self.subject_files and self.own_statistics:
            raise ConfigError("Invalid options: --subject-files and --own-statistics contradict each other (the "
                              "first adds the subject's other recordings to the statistics, the second uses none); "
                              "give one.")

    def fingerprint(self) -> str:
        """A short hash of every option that changes a result (a finished recording is redone when it differs)."""
        masks_stamp = _file_stamp(Path(self.masks)) if self.masks else None
        d = dataclasses.asdict(self)
        d.pop("device")  # the device does not change what is computed (beyond float rounding)
        d["modalities"] = sorted((self.modalities or {}).items())
        d["masks_stamp"] = masks_stamp
        if d["attribution"] is None:  # results finished before the option existed stay done
            d.pop("attribution")
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FileAnalysis:
    """What :func:`analyze_file` did for one recording."""

    result: Any  # AnalysisResult
    model: Any  # the LoadedModel used
    mask_note: str  # which masks were applied ("no masks", "masks from ...")
    lines: tuple[str, ...]  # what was used for the statistics, notes
    paths: Mapping[str, Path]  # files written by AnalysisResult.save
    subject: str | None  # the recording's subject, when known
    subject_cache_key: Any = None  # key under which the subject statistics were cached (None: not cached)


@dataclass(frozen=True)
class CohortSource:
    """One input of a cohort: a file or MAHNOB-HCI session folder and the result folder name it gets."""

    path: Path  # recording file or session folder (never written)
    name: str  # result folder under the output folder (unique within the cohort)

    @property
    def is_deap(self) -> bool:
        return self.path.suffix.lower() == ".dat" and self.path.is_file()


@dataclass(frozen=True)
class RecordingOutcome:
    """The fate of one recording of a cohort (one row per window of it in the table, or one row if it failed)."""

    recording: str  # result folder relative to the output folder (e.g. "s01/trial_03")
    source: str  # the file or folder analysed
    status: str  # ANALYSED, ALREADY_DONE or FAILED
    subject: str | None = None
    trial: int | None = None
    masks: str = ""
    error: str = ""  # one line: what went wrong (FAILED only)
    warnings: str = ""  # what was wrong with the file though it was analysed (truncated data...), "; "-separated
    n_windows: int = 0
    seconds: float = 0.0  # wall time of the analysis, s (0 when already done)


@dataclass(frozen=True)
class CohortResult:
    """Everything :func:`run_cohort` did."""

    outcomes: tuple[RecordingOutcome, ...]  # one per recording, in the order of the sources
    table: pd.DataFrame  # the cohort table (see the module docstring)
    paths: Mapping[str, Path]  # "parquet", "csv": the table files
    seconds: float = 0.0  # wall time, s

    @property
    def n_failed(self) -> int:
        return sum(o.status == FAILED for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        """Recordings per status."""
        out = {ANALYSED: 0, ALREADY_DONE: 0, FAILED: 0}
        for o in self.outcomes:
            out[o.status] += 1
        return out


# --- one recording ------------------------------------------------------------------------------------------
def analyze_file(
    path: str | os.PathLike,
    output: str | os.PathLike,
    options: AnalysisOptions = AnalysisOptions(),
    *,
    model: Any = None,
    trial: int | None = None,
    subject_cache: dict | None = None,
    check_recording: Callable[[Any], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> FileAnalysis:
    """Analyse one recording as ``mmqnet analyze FILE -o OUT`` does and save the results into ``output``.

    Loads the model (unless ``model`` is given), the recording, its masks (``options.masks``, else the sidecar
    ``<FILE>.masks.json`` unless ``options.no_masks``) and, for a per-subject model, the statistics of the
    subject's other recordings; runs :func:`mmqnet_core.inference.analyze`; writes
    :meth:`AnalysisResult.save` into ``output``.

    Parameters
    ----------
    path : path
        EDF/BDF file, DEAP ``.dat`` file or MAHNOB-HCI session folder.
    output : path
        Result folder (created).
    options : AnalysisOptions
        What to do.
    model : LoadedModel, optional
        A model already loaded (a cohort loads it once per process).
    trial : int, optional
        DEAP trial; default ``options.trial``.
    subject_cache : dict, optional
        Subject statistics by DEAP file, reused across the trials of one file (filled here).
    check_recording : callable, optional
        Called with the loaded recording before the analysis (the CLI prints its warnings and checks that the
        span fits in memory); without it the recording's warnings become ``warning:`` lines of the result.
    progress, cancel
        See :mod:`mmqnet_core.progress`.
    """
    from ..io import load_recording
    from ..masking import masks_for
    from ..recording import Modality
    from .analyze import check_samples  # not the engine: it imports torch, which a DeferredModel is loading
    from .model_loading import load_model
    from .use_case import analyze_recording

    path = Path(path)
    if model is None:
        model = load_model(options.checkpoint, device=options.device)
    check_samples(model, options.mc_samples)  # a clear error before the recording is loaded
    modalities = {k: Modality.parse(v) for k, v in options.modalities.items()} if options.modalities else None
    trial = options.trial if trial is None else trial
    rec = load_recording(path, trial=trial, modalities=modalities, progress=scaled(progress, 0.0, 0.1),
                         cancel=cancel)
    masks, mask_note = masks_for(path, rec, masks=options.masks, no_masks=options.no_masks)
    if masks is not None:
        _warn_masks_not_fitting(masks, rec, mask_note)
    if check_recording is not None:
        check_recording(rec)  # the CLI: warning lines for a damaged file, a span that does not fit in memory
    lines: list[str] = [f"warning: {w}" for w in getattr(rec, "warnings", ())] if check_recording is None else []
    # the core's one analysis use case (the app runs the same): subject statistics, masks, cleaning, saving
    run = analyze_recording(rec, masks, model=model, subject_files=options.subject_files,
                            own_statistics=options.own_statistics, start_s=options.start_s, stop_s=options.stop_s,
                            mc_samples=options.mc_samples, mc_seed=options.mc_seed, statistics_cache=subject_cache,
                            attribution=options.attribution,
                            output=Path(output), progress=scaled(progress, 0.1, 1.0), cancel=cancel)
    lines += list(run.notes)
    cache_key = ("deap", str(path.resolve())) if subject_cache is not None and rec.source_format == "deap" else None
    return FileAnalysis(result=run.result, model=model, mask_note=mask_note, lines=tuple(lines), paths=run.paths,
                        subject=rec.subject, subject_cache_key=cache_key)


def _warn_masks_not_fitting(masks: Any, rec: Any, mask_note: str) -> None:
    """Say (a ``warning:`` line) what of a mask file cannot apply to ``rec``: channels it does not have, segments
    beyond its end. Such masks were applied silently as nothing (a mask file of another recording given by
    mistake: the user believed channels hidden that the analysis read)."""
    import warnings

    from ..check import safe_text
    from ..masking import MaskWarning

    names = set(rec.ch_names)
    unknown = sorted((set(masks.channels) | {c for s in masks.segments for c in s.channels}) - names)
    beyond = [s for s in masks.segments if s.start_s >= rec.duration_s]
    parts = []
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        parts.append(f"channel(s) {shown} that {rec.title} does not have")
    if beyond:
        first = beyond[0]
        parts.append(f"{len(beyond)} segment(s) beyond its end ({rec.duration_s:g} s; the first {first.start_s:g}-"
                     f"{first.end_s:g} s)")
    if parts:
        warnings.warn(safe_text(f"{mask_note[len('masks from '):] or 'the masks'} names {' and '.join(parts)}: "
                                "those masks hide nothing. Check that the mask file belongs to this recording.", 600),
                      MaskWarning, stacklevel=2)


# --- finding the recordings -----------------------------------------------------------------------------------
def _is_session(folder: Path) -> bool:
    from ..io.mahnob import is_mahnob_session

    return is_mahnob_session(folder)


def is_single_recording(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one recording (a file, a MAHNOB-HCI session folder, or nothing at all) rather than
    a folder to search for recordings."""
    path = Path(path)
    return not path.is_dir() or _is_session(path)


def _search(folder: Path, exclude: Path | None) -> list[Path]:
    """Recordings under ``folder``: files with a recording suffix and MAHNOB-HCI session folders (whose files
    are not listed again); hidden entries and ``exclude`` are left out."""
    found: list[Path] = []
    folder = folder.resolve()  # ``exclude`` is resolved too
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        if exclude is not None and (here == exclude or exclude in here.parents):
            dirs[:] = []
            continue
        if here != folder and _is_session(here):
            found.append(here)
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [here / f for f in sorted(files)
                  if not f.startswith(".") and Path(f).suffix.lower() in RECORDING_SUFFIXES]
    return found


def _unique_names(paths: Sequence[Path]) -> list[str]:
    """Result folder names: the file's stem (the folder's name for a session), with as many parent folders
    prefixed as it takes to tell apart recordings of the same name (``Sessions_12`` ...)."""
    def name(p: Path, depth: int) -> str:
        parts = [p.stem if p.is_file() else p.name]
        for q in list(p.parents)[: depth - 1]:
            if q.name:
                parts.insert(0, q.name)
        return "_".join(parts) or "recording"

    depth = {p: 1 for p in paths}
    for _ in range(64):
        names = {p: name(p, depth[p]) for p in paths}
        clash = [p for p in paths if list(names.values()).count(names[p]) > 1]
        if not clash:
            break
        for p in clash:
            depth[p] += 1
    names = {p: name(p, depth[p]) for p in paths}
    seen: dict[str, int] = {}
    out = []
    for p in paths:  # a clash left after that (same path twice is removed earlier): number them
        n = names[p]
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


def find_sources(inputs: Iterable[str | os.PathLike], *, exclude: str | os.PathLike | None = None) -> list[CohortSource]:
    """The recordings named by ``inputs``: files and MAHNOB-HCI session folders as given, other folders
    searched (recursively) for ``.edf``/``.bdf``/``.dat`` files and session folders.

    Raises
    ------
    ConfigError
        An input does not exist, or nothing to analyse was found.
    """
    exclude_path = Path(exclude).resolve() if exclude is not None else None
    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise ConfigError(f"Cannot analyse {p}: no such file or folder. Give EDF/BDF files, DEAP .dat files, "
                              "MAHNOB-HCI session folders or folders holding them.")
        if is_single_recording(p):
            paths.append(p)
        else:
            found = _search(p, exclude_path)
            if not found:
                raise ConfigError(f"No recording found in {p}: it holds no .edf, .bdf or .dat file and no MAHNOB-HCI "
                                  "session folder (session.xml + .bdf); give another folder or the files.")
            paths += found
    unique: dict[Path, Path] = {}
    for p in paths:
        unique.setdefault(p.resolve(), p)
    if not unique:
        raise ConfigError("Invalid value for 'FILE': give at least one recording or folder.")
    resolved = list(unique)
    return [CohortSource(path=unique[r], name=n) for r, n in zip(resolved, _unique_names(resolved))]


# --- markers ------------------------------------------------------------------------------------------------
def _file_stamp(path: Path) -> dict:
    """Size and modification time of a file (of every file directly in a folder): a finished recording is
    redone when its source changed."""
    try:
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.is_file())
            return {"files": [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]}
        st = path.stat()
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    except OSError:
        return {}


def _source_stamp(path: Path) -> dict:
    """:func:`_file_stamp` of a source, with its mask sidecars beside a file (``rec.bdf.masks.json``, a DEAP file's
    ``sNN.dat.trialK.masks.json``; a session folder's are among its files): masks edited in the app change the
    results, so the recording is analysed again."""
    stamp = _file_stamp(path)
    if path.is_file():
        sides = [f for f in sorted(path.parent.glob(f"{glob.escape(path.name)}.*masks.json"))
                 if re.fullmatch(re.escape(path.name) + r"(\.trial[^.]+)?\.masks\.json", f.name)]
        if sides:  # (no key without one: markers written before stay valid)
            stamp["masks"] = [[f.name, *_file_stamp(f).values()] for f in sides]
    return stamp


def _results_there(folder: Path) -> bool:
    """Whether a finished recording's result files are all still there (the cohort table reads its
    ``trajectories.parquet``): a folder with its marker but a result deleted is analysed again."""
    return all((folder / name).is_file() for name in RESULT_FILES)


def _read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / DONE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _marker_matches(marker: dict | None, source: Path, fingerprint: str) -> bool:
    return (marker is not None and marker.get("source") == str(source.resolve())
            and marker.get("source_stamp") == _source_stamp(source) and marker.get("options") == fingerprint)


def _write_marker(folder: Path, source: Path, fingerprint: str, recordings: list[dict]) -> None:
    marker = {"source": str(source.resolve()), "source_stamp": _source_stamp(source), "options": fingerprint,
              "recordings": recordings, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / DONE_MARKER, lambda p: Path(p).write_text(json.dumps(marker, indent=1), encoding="utf-8"))


def done_outcomes(source: CohortSource, output: str | os.PathLike,
                  options: AnalysisOptions) -> list[RecordingOutcome] | None:
    """The recordings of ``source`` as ALREADY_DONE when its marker matches the source and ``options``; else None."""
    marker = _read_marker(Path(output) / source.name)
    if not _marker_matches(marker, source.path, options.fingerprint()):
        return None
    if not all(_results_there(Path(output) / r["recording"]) for r in marker.get("recordings", [])):
        return None  # a result file removed since: analysed again (a DEAP file's finished trials stay skipped)
    return [RecordingOutcome(recording=r["recording"], source=str(source.path), status=ALREADY_DONE,
                             subject=r.get("subject"), trial=r.get("trial"), masks=r.get("masks", ""),
                             warnings=r.get("warnings", ""), n_windows=int(r.get("n_windows", 0)))
            for r in marker.get("recordings", [])]


# --- one source in a worker -----------------------------------------------------------------------------------
_MODELS: dict[tuple, Any] = {}  # (checkpoint, device) -> LoadedModel, one per worker process
_MODELS_LOCK = threading.Lock()


def _model_for(options: AnalysisOptions) -> Any:
    from .. import inference  # the package's load_model, as the single-recording command uses

    key = (options.checkpoint, options.device)
    with _MODELS_LOCK:  # a Dask worker runs several tasks in threads of one process
        if key not in _MODELS:
            _MODELS[key] = inference.load_model(options.checkpoint, device=options.device)
        return _MODELS[key]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ") or type(exc).__name__
    return text if isinstance(exc, MMQNetError) else f"{type(exc).__name__}: {text}"


def _deap_trials(path: Path) -> int:
    from ..io.deap import read_deap_file

    return int(read_deap_file(path)["data"].shape[0])


def analyze_source(source: CohortSource, output: str | os.PathLike, options: AnalysisOptions, *,
                   cancel: CancelToken | None = None) -> list[RecordingOutcome]:
    """Analyse every recording of ``source`` into ``output/<source.name>`` (``trial_NN`` subfolders for a DEAP
    file in a cohort); recordings already done are skipped; an error is caught and returned as a FAILED outcome
    (:class:`~mmqnet_core.errors.Cancelled`, KeyboardInterrupt and a user error loading the model propagate: the
    last would fail every recording alike). Runs in a worker process."""
    output = Path(output)
    folder = output / source.name
    fingerprint = options.fingerprint()
    done = done_outcomes(source, output, options)
    if done is not None:
        return done
    try:
        model = _model_for(options)
    except MMQNetError:  # a checkpoint that cannot be loaded, a device not here: every recording alike, so raised
        raise  # (run_cohort stops) instead of a row per recording
    except Exception as exc:  # noqa: BLE001 - e.g. out of memory in this worker: this source failed
        return [RecordingOutcome(recording=source.name, source=str(source.path), status=FAILED,
                                 error=_one_line(exc))]
    try:
        if source.is_deap:
            trials = [options.trial] if options.trial is not None else list(range(_deap_trials(source.path)))
            targets = [(t, folder / f"trial_{t:02d}") for t in trials]
        else:
            targets = [(None, folder)]
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - a bad file is reported in the table, the others go on
        log.info("%s failed: %s", source.path, exc)
        return [RecordingOutcome(recording=source.name, source=str(source.path), status=FAILED,
                                 error=_one_line(exc))]
    outcomes: list[RecordingOutcome] = []
    cache: dict = {}
    for trial, target in targets:
        check_cancel(cancel)
        name = target.relative_to(output).as_posix()
        if target != folder:  # one trial of a DEAP file: its own marker
            marker = _read_marker(target)
            if _marker_matches(marker, source.path, fingerprint) and _results_there(target):
                r = marker["recordings"][0]
                outcomes.append(RecordingOutcome(recording=name, source=str(source.path), status=ALREADY_DONE,
                                                 subject=r.get("subject"), trial=trial, masks=r.get("masks", ""),
                                                 warnings=r.get("warnings", ""),
                                                 n_windows=int(r.get("n_windows", 0))))
                continue
        t0 = time.perf_counter()
        try:
            fa = analyze_file(source.path, target, options, model=model, trial=trial, subject_cache=cache,
                              cancel=cancel)
        except (Cancelled, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - a bad file is reported in the table, the others go on
            log.info("%s failed: %s", name, exc)
            outcomes.append(RecordingOutcome(recording=name, source=str(source.path), status=FAILED, trial=trial,
                                             error=_one_line(exc)))
            continue
        outcome = RecordingOutcome(recording=name, source=str(source.path), status=ANALYSED, subject=fa.subject,
                                   trial=trial, masks=fa.mask_note, n_windows=fa.result.n_windows,
                                   warnings=_warnings(fa.lines), seconds=time.perf_counter() - t0)
        if target != folder:
            _write_marker(target, source.path, fingerprint, [_marker_entry(outcome)])
        outcomes.append(outcome)
    if all(o.status != FAILED for o in outcomes):  # the whole source is done: written last
        _write_marker(folder, source.path, fingerprint, [_marker_entry(o) for o in outcomes])
    return outcomes


def _warnings(lines: Sequence[str]) -> str:
    """The ``warning:`` lines of :func:`analyze_file` (a damaged file said loudly), as one "; "-separated text."""
    return "; ".join(line[len("warning: "):] for line in lines if line.startswith("warning: "))


def _marker_entry(o: RecordingOutcome) -> dict:
    return {"recording": o.recording, "subject": o.subject, "trial": o.trial, "masks": o.masks,
            "warnings": o.warnings, "n_windows": o.n_windows}


def _init_worker(torch_threads: int, parent: int | None = None) -> None:
    """Process-pool initializer: share the cores between the workers instead of each taking all of them; leave
    Ctrl+C to the parent, which stops the workers itself (no traceback from every worker); end with the parent
    (``parent``: its pid): a parent killed outright (SIGKILL, the out-of-memory killer) cannot stop its workers,
    which would otherwise go on with the recordings queued for them and then wait for work forever, each holding
    its model in memory."""
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        from .model_process import _die_with_parent

        _die_with_parent(parent)
    torch.set_num_threads(max(1, torch_threads))


# --- the cohort -------------------------------------------------------------------------------------------
def cohort_table(outcomes: Sequence[RecordingOutcome], output: str | os.PathLike) -> pd.DataFrame:
    """The cohort table from the outcomes and the recordings' ``trajectories.parquet`` files."""
    import pandas as pd

    output = Path(output)
    frames = []
    for o in outcomes:
        ids = {"recording": o.recording, "subject": o.subject, "trial": o.trial, "source": o.source,
               "status": o.status, "error": o.error, "warnings": o.warnings, "masks": o.masks}
        traj = None
        if o.status != FAILED:
            try:
                traj = pd.read_parquet(output / o.recording / "trajectories.parquet")
            except (OSError, ValueError) as exc:
                ids.update(status=FAILED, error=f"cannot read its trajectories.parquet: {exc}")
        if traj is None:
            frames.append(pd.DataFrame([{**ids, "window": pd.NA}]))
            continue
        head = pd.DataFrame({**{k: [v] * len(traj) for k, v in ids.items()}, "window": range(len(traj))})
        frames.append(pd.concat([head, traj.reset_index(drop=True)], axis=1))
    if not frames:
        return pd.DataFrame(columns=list(ID_COLUMNS))
    table = pd.concat(frames, ignore_index=True)
    for col in ("no_context",):  # bool columns that the failed rows' NA turned into objects
        if col in table and table[col].dtype == object:
            table[col] = table[col].astype("boolean")
    table["window"] = table["window"].astype("Int64")
    table["trial"] = table["trial"].astype("Int64")
    for col in ("subject", "source", "status", "error", "warnings", "masks", "recording"):
        table[col] = table[col].astype("string")
    return table


def save_table(table: pd.DataFrame, output: str | os.PathLike) -> dict[str, Path]:
    """Write the table as ``cohort.parquet`` and ``cohort.csv`` in ``output`` (atomically)."""
    output = Path(output)
    return {"parquet": atomic_write(output / f"{TABLE_NAME}.parquet", lambda p: table.to_parquet(p, index=False)),
            "csv": atomic_write(output / f"{TABLE_NAME}.csv",
                                lambda p: table.to_csv(p, index=False, float_format="%.6g"))}


def default_jobs(n_sources: int) -> int:
    """Worker processes by default: one per core, at most one per source."""
    return max(1, min(os.cpu_count() or 1, n_sources))


def run_cohort(
    sources: Sequence[CohortSource],
    output: str | os.PathLike,
    options: AnalysisOptions = AnalysisOptions(),
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    on_outcome: Callable[[CohortSource, list[RecordingOutcome]], None] | None = None,
    cancel: CancelToken | None = None,
) -> CohortResult:
    """Analyse every source into ``output/<source.name>`` and write the cohort table.

    Parameters
    ----------
    sources : sequence of CohortSource
        From :func:`find_sources`.
    output : path
        Output folder (created).
    options : AnalysisOptions
        Applied to every recording (``subject_files`` is refused: it names one subject's recordings).
    jobs : int, optional
        Worker processes of the local pool (default :func:`default_jobs`); 1 runs in this process.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``): run there instead of the local pool.
    on_outcome : callable, optional
        Called in this thread with each source and its outcomes as soon as it is finished (progress).
    cancel : CancelToken, optional
        Checked between recordings (in-process) and while waiting; queued work is dropped.

    Raises
    ------
    ConfigError
        Bad ``jobs``, ``subject_files`` given, Dask distributed not installed or the scheduler unreachable.
    CheckpointError, ConfigError
        The model cannot be loaded (a missing, corrupt or foreign checkpoint; a device that is not here): the same
        for every recording, so the cohort stops at the first worker that finds it instead of failing each one.
    Cancelled
        ``cancel`` was set.
    """
    t_start = time.perf_counter()
    if options.subject_files:
        raise ConfigError("Invalid option '--subject-files' for several recordings: it names the other recordings of "
                          "one subject; analyse that subject's recording alone, or leave it out (DEAP trials and "
                          "MAHNOB-HCI sibling sessions are still found).")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ConfigError(f"Invalid value for 'jobs': a whole number of processes >= 1, got {jobs!r}.")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    results: dict[int, list[RecordingOutcome]] = {}

    def finished(i: int, outcomes: list[RecordingOutcome]) -> None:
        results[i] = outcomes
        if on_outcome is not None:
            on_outcome(sources[i], outcomes)

    todo = []
    for i, src in enumerate(sources):  # finished sources are not even sent to a worker
        done = done_outcomes(src, output, options)
        if done is not None:
            finished(i, done)
        else:
            todo.append(i)
    n_jobs = jobs if jobs is not None else default_jobs(len(todo))
    if scheduler:
        _run_dask(scheduler, sources, todo, output, options, finished, cancel)
    elif n_jobs == 1 or len(todo) <= 1:
        for i in todo:
            check_cancel(cancel)
            finished(i, analyze_source(sources[i], output, options, cancel=cancel))
    else:
        _run_pool(n_jobs, sources, todo, output, options, finished, cancel)
    outcomes = tuple(o for i in range(len(sources)) for o in results.get(i, []))
    table = cohort_table(outcomes, output)
    paths = save_table(table, output)
    return CohortResult(outcomes=outcomes, table=table, paths=paths, seconds=time.perf_counter() - t_start)


def _failed_source(src: CohortSource, exc: BaseException) -> list[RecordingOutcome]:
    """A worker that died (out of memory, killed) or raised outside :func:`analyze_source`'s own handling."""
    return [RecordingOutcome(recording=src.name, source=str(src.path), status=FAILED,
                             error=f"the worker analysing it stopped: {_one_line(exc)}")]


def _run_pool(jobs: int, sources: Sequence[CohortSource], todo: list[int], output: Path, options: AnalysisOptions,
              finished: Callable[[int, list[RecordingOutcome]], None], cancel: CancelToken | None) -> None:
    threads = max(1, (os.cpu_count() or 1) // jobs)
    # spawn, not fork: the parent may hold torch's thread pools or a GUI, which a forked child must not inherit
    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                  initargs=(threads, os.getpid()))
    try:
        futures = {pool.submit(analyze_source, sources[i], output, options): i for i in todo}
        pending = set(futures)
        while pending:
            check_cancel(cancel)
            ready, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            for fut in ready:
                i = futures[fut]
                try:
                    finished(i, fut.result())
                except (KeyboardInterrupt, MMQNetError):  # Cancelled, or the model cannot be loaded
                    raise
                except Exception as exc:  # noqa: BLE001 - e.g. BrokenProcessPool: this source failed
                    finished(i, _failed_source(sources[i], exc))
    except BaseException:
        procs = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
        manager = getattr(pool, "_executor_manager_thread", None)  # and its thread
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:  # stop the running analyses too
            proc.terminate()
        for proc in procs:
            proc.join(timeout=5.0)
        if manager is not None:
            # The pool's thread reaps the workers too: until it has set a reaped worker's exit code, the worker
            # reads as alive (a join in this thread saw no child to wait for and returned early).
            manager.join(timeout=5.0)
        raise
    pool.shutdown(wait=True)


def _run_dask(address: str, sources: Sequence[CohortSource], todo: list[int], output: Path,
              options: AnalysisOptions, finished: Callable[[int, list[RecordingOutcome]], None],
              cancel: CancelToken | None) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise ConfigError(f"Invalid option '--scheduler {address}': running on a cluster needs Dask distributed "
                          f"({exc}); install it with `pip install 'mmqnet-studio[cluster]'`, or leave out "
                          "--scheduler to use local processes.") from None
    try:
        client = Client(address, timeout=f"{SCHEDULER_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as exc:  # ValueError: not an address ("missing port number")
        raise ConfigError(f"Invalid value for '--scheduler': cannot reach a Dask scheduler at {address} ({exc}); "
                          "check the address (e.g. tcp://host:8786) and that the scheduler runs.") from None
    futures: dict[Any, int] = {}
    try:
        futures = {client.submit(analyze_source, sources[i], str(output), options, pure=False,
                                 key=f"mmqnet-analyze-{sources[i].name}-{os.getpid()}-{i}"): i for i in todo}
        for fut in as_completed(list(futures)):
            check_cancel(cancel)
            i = futures[fut]
            try:
                finished(i, fut.result())
            except (KeyboardInterrupt, MMQNetError):  # Cancelled, or the model cannot be loaded
                raise
            except Exception as exc:  # noqa: BLE001 - a lost worker: this source failed, the others go on
                finished(i, _failed_source(sources[i], exc))
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        client.close()
