"""The analysis task of the app: a thin call of ``mmqnet_core.inference.analyze_recording``, plus model labels.

Everything here is Qt-free and runs in a worker thread (:class:`app.workers.TaskRunner`); the main window only
submits :func:`run_analysis` and receives an :class:`AnalysisRun`. ``mmqnet_core.inference`` imports torch, so
it is imported when first used, never at start-up (the window must paint fast).

With a checkpoint the model runs in a helper process (:func:`start_model_process`, the core's
:mod:`mmqnet_core.inference.model_process`, as ``mmqnet analyze`` does): torch's import and the checkpoint's load
hold the interpreter lock for up to a second at a time, which froze the window when they ran in a worker thread.
The cleaning and features stay in this process (they share the display's cleaning cache); only the model stage
crosses the process boundary, and nothing here asks the model for what would load it in this process
(:func:`model_about`).

Without a checkpoint the app asks the user to set one (:func:`resolve_checkpoint`); the self-test and the tests
instead build a small *untrained* model in-process (:func:`build_untrained_model`) and say so on every view.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from mmqnet_core.errors import CheckpointError
from mmqnet_core.fileio import atomic_write  # noqa: F401 (re-exported for the views' exports)
from mmqnet_core.progress import CancelToken, ProgressCallback, check_cancel

log = logging.getLogger(__name__)

#: Shown on every analysis view when the model was trained on synthetic data.
SYNTHETIC_MODEL_LABEL = "model trained on SYNTHETIC data"
#: Shown on every analysis view when the model is the untrained in-process one.
UNTRAINED_MODEL_LABEL = "UNTRAINED demo model (no checkpoint): outputs are meaningless"
#: Text of the model description for the untrained in-process model.
UNTRAINED_DESCRIPTION = "MMQ-Net, UNTRAINED demo model built in-process (no checkpoint was available)"


@dataclass(frozen=True, eq=False)
class AnalysisRun:
    """What one run of the analysis gives back to the window."""

    result: Any  # mmqnet_core.inference.AnalysisResult
    model: Any  # the LoadedModel or RemoteModel used (cached by the window for the next run)
    label: str  # what every analysis view says about the model ("" for a model trained on real data)
    device: str = ""  # the compute device's description (status bar), "" when unknown
    notes: tuple[str, ...] = ()  # what the user must see (the analysis banner): e.g. a damaged DEAP trial left out
    #                              of the subject's statistics


def start_model_process(checkpoint: str | os.PathLike | None, device: str | None = None) -> Any:
    """The model of ``checkpoint`` loading in a helper process from now on (a ``RemoteModel`` to pass to
    :func:`run_analysis` as ``model``), or None when that cannot be done (its settings cannot be read without
    loading it: the analysis then loads it in this process and says what is wrong).

    Call it in the GUI thread: the helper process ends with the thread that started it (a pool thread ends when
    idle). It ends with the application too, or on ``close(kill=True)``.
    """
    from mmqnet_core.inference.model_process import spawn_model_process

    try:
        remote = spawn_model_process(checkpoint, device=None if device in (None, "auto") else device)
    except (OSError, RuntimeError) as exc:  # no process could be started (limits, a frozen app without its hook)
        log.warning("the model runs in this process: no helper process could be started (%s)", exc)
        return None
    if remote is not None:
        remote.warm_writer = False  # the app writes no Parquet table: no import of its writer here
    return remote


def model_usable(model: Any) -> bool:
    """Whether a cached model can run another analysis: a loaded model always, a model process while it lives
    (a cancel during its model stage stops it; a load that failed ends it)."""
    from mmqnet_core.inference.model_process import RemoteModel

    return not isinstance(model, RemoteModel) or model.alive


def model_about(model: Any) -> dict:
    """What the window shows about ``model`` (a LoadedModel, or a RemoteModel without loading it here):
    :func:`mmqnet_core.inference.model_process.about_model`."""
    from mmqnet_core.inference.model_process import RemoteModel, about_model

    if isinstance(model, RemoteModel) and model.remote:
        return model.about
    return about_model(model)


def model_label(model: Any) -> str:
    """The warning shown on the analysis views for ``model`` (a LoadedModel or RemoteModel); "" when none is
    needed."""
    from mmqnet_core.inference.model_process import RemoteModel

    if isinstance(model, RemoteModel) and model.remote:
        about = model.about
        untrained, synthetic = about["untrained"], about["is_synthetic"]
    else:
        untrained, synthetic = (getattr(model.meta, "extra", None) or {}).get("untrained"), model.is_synthetic
    if untrained:
        return UNTRAINED_MODEL_LABEL
    return SYNTHETIC_MODEL_LABEL if synthetic else ""


def checkpoint_summary(model: Any) -> str:
    """What the views and the report say about ``model`` (a LoadedModel): the checkpoint's name and version,
    its fusion, training data and size, never its path (which goes to the log: a report is shared, and an
    absolute path names the user's folders).

    ``"MMQ-Net checkpoint 'checkpoint' (shipped; format 1, MMQ-Net Studio 0.1.0), fusion mmq, SYNTHETIC
    training data, 40 tokens, T=8"``; the untrained in-process model gives :data:`UNTRAINED_DESCRIPTION`.
    """
    about = model_about(model)
    if about["untrained"]:
        return UNTRAINED_DESCRIPTION
    name, about_text = "unnamed", [f"format {about['format_version']}"]
    if about["mmqnet_version"]:
        about_text.append(f"MMQ-Net Studio {about['mmqnet_version']}")
    path = about["path"]
    if path is not None:
        folder = Path(path).parent if Path(path).suffix else Path(path)  # a folder or its model.safetensors
        name = folder.name or name
        from mmqnet_core.inference.model_loading import default_checkpoint_path

        shipped = default_checkpoint_path()
        if shipped is not None and folder.resolve() == Path(shipped).resolve():
            about_text.insert(0, "shipped")
    data = "SYNTHETIC training data" if about["is_synthetic"] else f"trained on {about['training_data']}"
    return (f"MMQ-Net checkpoint '{name}' ({', '.join(about_text)}), fusion {about['fusion']}, {data}, "
            f"{about['n_tokens']} tokens, T={about['n_windows']}")


def resolve_checkpoint(setting: str) -> Path:
    """The checkpoint to load: the one set in Preferences, else the shipped one.

    Parameters
    ----------
    setting : str
        ``Preferences.checkpoint`` ("" = the checkpoint shipped with the app).

    Raises
    ------
    CheckpointError
        Nothing usable there; the message names the place looked at (the error dialog says where to set one).
    """
    if setting:
        path = Path(setting).expanduser()
        if path.exists():
            return path
        raise CheckpointError(f"No MMQ-Net checkpoint found at {path}.")  # the dialog says where to set one
    from mmqnet_core.inference.model_loading import CHECKPOINT_SUBDIR, default_checkpoint_path

    found = default_checkpoint_path()
    if found is None:
        raise CheckpointError(f"No MMQ-Net checkpoint found at {CHECKPOINT_SUBDIR / 'model.safetensors'} (the "
                              "shipped one is missing from this installation).")
    return Path(found)


def build_untrained_model(recording: Any, *, span_s: float = 30.0, n_windows: int = 8, seed: int = 0,
                          device: str | None = "cpu") -> Any:
    """A small untrained MMQ-Net on the recording's own channels, as a LoadedModel (self-test and tests).

    The normaliser is fitted on the features of the first ``span_s`` seconds so that inputs and
    reconstructions have sensible scales; the outputs mean nothing.

    Parameters
    ----------
    recording : Recording
        Its physiological channels become the model's tokens.
    span_s : float
        Seconds of the recording used to fit the normaliser.
    n_windows : int
        Context length T of the model, windows.
    seed : int
        Seed of the weights.
    device : str, optional
        Torch device of the model.
    """
    import torch

    from mmqnet_core.features import FeatureConfig, extract_features, layout_for
    from mmqnet_core.inference import model_from_parts
    from mmqnet_core.model import CheckpointMeta, MMQNet, MMQNetConfig, Normalizer
    from mmqnet_core.preprocessing import preprocess

    pre = preprocess(recording, stop_s=min(recording.duration_s, span_s))
    fs = extract_features(pre.cleaned, layout=layout_for(recording.channels), interference=pre.interference)
    torch.manual_seed(seed)
    cfg = MMQNetConfig.for_feature_set(fs, n_windows=max(1, min(n_windows, fs.n_windows)), d_model=32,
                                       n_heads=2, n_enc_layers=1)
    meta = CheckpointMeta(config=cfg, normalizer=Normalizer.fit(fs.values, fs.missing),
                          extra={"training_data": "none (untrained)", "untrained": True,
                                 "feature_config": FeatureConfig().to_dict()})
    return model_from_parts(MMQNet(cfg).eval(), meta, device=device)


def run_analysis(recording: Any, masks: Any, model: Any = None, *, checkpoint: str | os.PathLike | None = None,
                 device: str | None = None, model_factory: Callable[[Any], Any] | None = None,
                 subject_files: Sequence[str | os.PathLike] = (), find_subject_recordings: bool = True,
                 mc_samples: int = 0, attribution: str | None = "modality",
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> AnalysisRun:
    """Analyse ``recording`` with its ``masks`` (worker function).

    Parameters
    ----------
    recording : Recording
        The open recording.
    masks : MaskSet or None
        The user's masks.
    model : LoadedModel, optional
        A model already loaded (the window's cache); else one is loaded from ``checkpoint`` or built by
        ``model_factory(recording)``.
    checkpoint : path, optional
        Checkpoint folder or file to load when ``model`` is None.
    device : str, optional
        "auto"/None, "cpu", "cuda", "mps".
    model_factory : callable, optional
        Builds a model for the recording when there is neither ``model`` nor ``checkpoint``.
    subject_files : sequence of path
        Other recordings of the recording's subject chosen by the user (EDF/BDF/DEAP files, MAHNOB-HCI session
        folders; :class:`app.subject_files_dialog.SubjectFilesDialog`).
    find_subject_recordings : bool
        Also use the recordings the format ties to the subject: a DEAP file's other trials, the MAHNOB-HCI
        sessions of the same subject beside the open one.
    mc_samples : int
        Monte-Carlo samples for the uncertainty (``Preferences.mc_samples``; 0 = off, entropy only): see
        :func:`mmqnet_core.inference.analyze`.
    attribution : {"modality", "token"} or None
        Occlusion maps (shown in the attention view) and the missing-evidence term of the uncertainty (shown in
        the trajectory view); one fast probability-only pass per modality. None: neither.
    progress, cancel
        Progress callback and cancel token.
    """
    from mmqnet_core.inference import analyze_recording

    check_cancel(cancel)
    if model is None and checkpoint is None and model_factory is None:
        raise CheckpointError("No MMQ-Net model to run: set a checkpoint in Preferences "
                              "(Edit > Preferences > Model checkpoint).")
    # The core's use case does everything (model, subject statistics, masks, the cleaning shared with the
    # display through the cleaning cache, analysis); the app only shows the result.
    run = analyze_recording(recording, masks, model=model, checkpoint=checkpoint, device=device,
                            model_factory=model_factory, subject_files=subject_files,
                            find_subject_recordings=find_subject_recordings, mc_samples=mc_samples,
                            attribution=attribution, progress=progress, cancel=cancel)
    notes = tuple(n.removeprefix("note: ") for n in run.notes if n.startswith("note: "))
    for note in run.notes:  # the notes in the log too, as warnings (they were info lines only: unseen)
        log.log(logging.WARNING if note.startswith("note: ") else logging.INFO, "%s", note.removeprefix("note: "))
    # the views, the report and the saved summary name the checkpoint without its path; the path is logged
    result = dataclasses.replace(run.result, model_description=checkpoint_summary(run.model))
    about = model_about(run.model)
    if about["path"] is not None:
        log.info("MMQ-Net checkpoint used: %s", about["path"])
    return AnalysisRun(result=result, model=run.model, label=model_label(run.model), device=about["device"],
                       notes=notes)


def write_trajectories_csv(result: Any, path: str | os.PathLike) -> Path:
    """Write ``result.trajectories()`` (one row per window) as CSV, atomically."""
    table = result.trajectories()
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))


def runs(flags: Any) -> list[tuple[int, int]]:
    """Runs of True in a 1-D boolean array as ``[(first, stop), ...]`` (stop exclusive)."""
    import numpy as np

    f = np.asarray(flags, bool).astype(np.int8)
    if f.size == 0:
        return []
    edges = np.diff(np.concatenate([[0], f, [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))
