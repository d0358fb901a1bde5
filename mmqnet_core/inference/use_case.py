"""The one "analyse a recording" use case, shared by ``mmqnet analyze`` and the app.

:func:`analyze_recording` owns the whole flow::

    model (given, loaded from a checkpoint, or built by a factory)
      -> the subject's statistics (a per-subject model: the subject's other recordings, cleaned through the cache)
      -> cleaning with the masks (missing data) through the cleaning cache: the app's display cleaning is reused;
         a long span (above ``inference.streaming.STREAM_ABOVE_BYTES``) is cleaned in pieces and featurised in
         blocks instead, in memory bounded independently of its length (:mod:`mmqnet_core.inference.streaming`)
      -> features -> MMQ-Net -> AnalysisResult (-> saved into a folder when asked)

and returns a plain :class:`RecordingAnalysis`. Callers only choose the inputs and show the outputs: the CLI prints
``notes`` and writes the files, the app draws the result.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import ConfigError
from ..progress import CancelToken, ProgressCallback, check_cancel, report, scaled
from .analyze import AnalysisResult, analyze, subject_statistics
from .model_loading import LoadedModel, load_model

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class RecordingAnalysis:
    """What :func:`analyze_recording` gives back."""

    result: AnalysisResult  # trajectories, reconstructions, attention maps, steps
    model: LoadedModel  # the model used (callers may keep it for the next run)
    subject: Any  # SubjectRecordings whose statistics normalised the features, or None
    notes: tuple[str, ...]  # lines for the user: which statistics were used, what was left out and why
    cleaning_reused: bool  # the cleaning came from the cache (e.g. the app's display cleaning)
    paths: Mapping[str, Path] = dataclasses.field(default_factory=dict)  # files written (``output`` given)


def analyze_recording(
    recording: Any,
    masks: Any = None,
    *,
    model: LoadedModel | None = None,
    checkpoint: str | os.PathLike | None = None,
    device: str | None = None,
    model_factory: Callable[[Any], LoadedModel] | None = None,
    subject_files: Sequence[str | os.PathLike] = (),
    find_subject_recordings: bool = True,
    own_statistics: bool = False,
    start_s: float = 0.0,
    stop_s: float | None = None,
    mc_samples: int = 0,
    mc_seed: int = 0,
    batch_size: int = 64,
    attention: bool = True,
    cache: Any = None,
    statistics_cache: dict | None = None,
    output: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    attribution: str | bool | None = None,
) -> RecordingAnalysis:
    """Analyse one recording with MMQ-Net, from the model to the saved result.

    Parameters
    ----------
    recording : Recording
        The recording.
    masks : MaskSet, optional
        The user's (and simulated) masks: missing data from the cleaning on.
    model : LoadedModel, optional
        A model already loaded; else ``model_factory(recording)`` when given, else :func:`load_model` of
        ``checkpoint`` (None = the shipped checkpoint).
    checkpoint : path, optional
        Checkpoint folder or file.
    device : str, optional
        "auto"/None (best available), "cpu", "cuda", "mps".
    model_factory : callable, optional
        Builds a model for the recording (the app's self-test: an untrained demo model).
    subject_files : sequence of path
        Other recordings of the subject named by the user (EDF/BDF, DEAP ``.dat``, MAHNOB-HCI session folders).
    find_subject_recordings : bool
        Also use the recordings the format ties to the subject (a DEAP file's trials, MAHNOB-HCI sessions beside).
    own_statistics : bool
        A per-subject model normalises with the recording's own statistics only (no other recordings).
    start_s, stop_s : float
        Span to analyse, s.
    mc_samples, mc_seed, batch_size, attention
        As in :func:`~mmqnet_core.inference.analyze`.
    cache : CleaningCache, optional
        Where cleanings are taken from and kept; None = the process-wide
        :func:`~mmqnet_core.preprocessing.default_cache` (which the app's display cleaning also uses).
    statistics_cache : dict, optional
        Subject statistics kept between calls (a cohort's DEAP file: every trial has the same subject, so the
        statistics of its trials are computed once); filled here, keyed by the DEAP file. Only used for DEAP
        recordings without ``subject_files``.
    output : path, optional
        Folder to save the result into (:meth:`AnalysisResult.save`); None = not saved.
    progress, cancel
        Progress callback and cancel token.
    attribution : {"modality", "token"}, bool or None
        Occlusion maps and the missing-evidence uncertainty, as in :func:`~mmqnet_core.inference.analyze`.

    Raises
    ------
    ConfigError
        Contradictory options (``subject_files`` with ``own_statistics``), bad ``mc_samples``.
    CheckpointError, MMQNetError, MaskError, Cancelled
        As raised by model loading and :func:`~mmqnet_core.inference.analyze`.
    """
    from ..preprocessing import default_cache
    from .analyze import check_samples  # not the engine: it imports torch, which a DeferredModel is loading
    from .subject import subject_recordings_for

    if subject_files and own_statistics:
        raise ConfigError("Invalid options: subject files and own statistics contradict each other (the first adds "
                          "the subject's other recordings to the statistics, the second uses none); give one.")
    cache = default_cache() if cache is None else cache
    check_cancel(cancel)
    if model is None:
        report(progress, 0.0, "loading the model")
        model = (model_factory(recording) if model_factory is not None and checkpoint is None
                 else load_model(checkpoint, device=None if device in (None, "auto") else device))
    check_samples(model, mc_samples)  # a clear error before any cleaning
    check_cancel(cancel)

    notes: list[str] = []
    stats, found, start, steps_from_cache = None, None, 0.05, ()
    if model.normalization != "global" and not own_statistics:
        # A recording is often a single emotional state: a per-subject model normalises it with the statistics of
        # the subject's other recordings too (as in training), not with its own alone.
        key = None
        if statistics_cache is not None and recording.source_format == "deap" and not subject_files:
            key = ("deap", str(Path(recording.source).resolve()))  # every trial of a DEAP file: one subject
        if key is not None and key in statistics_cache:
            (description, subject_notes, subject_steps), stats = statistics_cache[key]
            start = 0.5
            notes.append(description)
            notes += [f"note: {n}" for n in subject_notes]
            steps_from_cache = tuple(subject_steps)
        else:
            found = subject_recordings_for(recording, subject_files, discover=find_subject_recordings,
                                           progress=scaled(progress, 0.05, 0.1), cancel=cancel)
        if found is not None:
            own = [_masks_of(r, recording, masks) for r in found.recordings]
            stats = subject_statistics(found.recordings, model, masks=own, cache=cache,
                                       progress=scaled(progress, 0.1, 0.5), cancel=cancel)
            start = 0.5
            notes.append(found.description)
            notes += [f"note: {n}" for n in found.notes]
            if key is not None:  # keep what the notes need, not the recordings
                statistics_cache[key] = ((found.description, tuple(found.notes), tuple(found.steps)), stats)
        elif recording.source_format == "mahnob":
            notes.append(f"no other rated session of subject {recording.subject or '?'} beside {recording.source}: "
                         "normalised with the session's own statistics")
    elif subject_files and model.normalization == "global":
        notes.append("note: the subject's other recordings are not used: the model normalises every recording with "
                     "the training subjects' statistics (global normalisation)")
        log.info("subject recordings not used: the model normalises globally")

    # a span is analysed inside the whole recording (analyze): the whole recording's cleaning is the one reused
    reused = cache.lookup(recording, model.preprocess_config, masks) is not None
    result = analyze(recording, masks, model, start_s=start_s, stop_s=stop_s, batch_size=batch_size,
                     attention=attention, subject_statistics=stats, mc_samples=mc_samples, mc_seed=mc_seed,
                     cache=cache, progress=scaled(progress, start, 0.97 if output is not None else 1.0),
                     cancel=cancel, attribution=attribution)
    if found is not None or steps_from_cache:
        result = dataclasses.replace(result, steps=tuple(result.steps)
                                     + (found.steps if found is not None else steps_from_cache))
    result = _with_simulated_truth(result, recording, masks, model, cache, start_s, stop_s, cancel)
    if reused:
        result = dataclasses.replace(result, steps=tuple(result.steps) + (
            "cleaning reused from the cache (same recording, preprocessing configuration and masks)",))
    paths: dict[str, Path] = {}
    if output is not None:
        check_cancel(cancel)
        report(progress, 0.97, "saving the results")
        paths = result.save(Path(output), cancel=cancel)
        report(progress, 1.0, "saved")
    return RecordingAnalysis(result=result, model=model, subject=found, notes=tuple(notes), cleaning_reused=reused,
                             paths=paths)


def _masks_of(other: Any, recording: Any, masks: Any) -> Any:
    """The masks of one of the subject's recordings for the statistics: ``masks`` for the analysed recording
    (also when it was opened again, as a DEAP file's trials are), else that recording's own mask sidecar (the
    masks the app saved for it): masked data are missing in the statistics too, not only in the analysis."""
    from ..masking import masks_for

    if other is recording or (other.source is not None and other.source == recording.source
                              and other.trial == recording.trial):
        return masks
    return None if other.source is None else masks_for(other.source, other)[0]


def _with_simulated_truth(result: AnalysisResult, recording: Any, masks: Any, model: LoadedModel, cache: Any,
                          start_s: float, stop_s: float | None, cancel: CancelToken | None) -> AnalysisResult:
    """Features under SIMULATED masks taken from the cleaning without them, so that reconstructions can be
    compared with the truth (the reconstruction view's RMSE).

    The model saw the simulated gaps as missing data (they entered the cleaning like real gaps); only the
    ``features`` and ``data_missing`` fields of those tokens are filled from the cleaning with the user's masks
    alone (the app's display cleaning: a cache hit there). Under the user's own masks there is no truth: the
    data there are missing.
    """
    import numpy as np

    from ..masking import MaskSet
    from .streaming import recording_features

    if masks is None or not any(s.source == "simulated" for s in masks.segments):
        return result
    check_cancel(cancel)
    truth_masks = masks.without_source("simulated")
    # the app's display cleaning (a cache hit), or the bounded-memory path for a long recording
    # the whole recording, as the analysis cleaned it (a span is analysed inside it), then the result's windows
    fs = recording_features(recording, model, None if truth_masks.is_empty else truth_masks, cache=cache,
                            cancel=cancel)
    if result.n_windows != fs.n_windows:
        i0 = int(np.argmin(np.abs(np.asarray(fs.window_starts) - result.window_starts[0])))
        fs = dataclasses.replace(fs, values=fs.values[i0:i0 + result.n_windows],
                                 missing=fs.missing[i0:i0 + result.n_windows],
                                 window_starts=fs.window_starts[i0:i0 + result.n_windows])
    if fs.values.shape != result.features.shape:  # pragma: no cover - same recording and layout
        return result
    simulated = MaskSet(segments=tuple(s for s in masks.segments if s.source == "simulated"))
    use = (np.asarray(simulated.to_token_mask(fs), bool) & ~np.asarray(truth_masks.to_token_mask(fs), bool)
           & ~np.asarray(fs.missing, bool) & result.hidden)  # (T, N)
    if not use.any():
        return result
    truth = np.where(np.asarray(fs.valid, bool), np.nan_to_num(np.asarray(fs.values, np.float32)), 0.0)
    return dataclasses.replace(
        result,
        features=np.where(use[..., None], truth, result.features).astype(np.float32),
        data_missing=result.data_missing & ~use,
        steps=tuple(result.steps) + (
            f"simulated missing data: the model saw {int(use.sum())} token-windows as missing; their features are "
            "kept from the cleaning without the simulation, to compare the reconstructions with",),
    )
