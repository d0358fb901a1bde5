"""Finding and loading the model used for analysis (the shipped checkpoint by default)."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, ConfigError

#: Where the shipped checkpoint lives, relative to the repository root or PyInstaller's bundle root.
CHECKPOINT_SUBDIR = Path("resources") / "checkpoint"


def default_checkpoint_path() -> Path | None:
    """The shipped checkpoint folder, or None when there is none.

    Looks in ``$MMQNET_CHECKPOINT`` (if set), in PyInstaller's bundle (``sys._MEIPASS/resources/checkpoint``)
    and in the repository's ``resources/checkpoint``.
    """
    candidates = []
    env = os.environ.get("MMQNET_CHECKPOINT")
    if env:
        candidates.append(Path(env))
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / CHECKPOINT_SUBDIR)
    candidates.append(Path(__file__).resolve().parents[2] / CHECKPOINT_SUBDIR)
    for c in candidates:
        if (c / "model.safetensors").is_file() or (c.is_file() and c.suffix in (".safetensors", ".pt", ".pth")):
            return c
    return None


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model ready for :func:`~mmqnet_core.inference.analyze`: weights, normaliser and feature settings."""

    model: Any  # MMQNet in eval mode
    meta: Any  # model.checkpoint.CheckpointMeta
    normalizer: Any  # model.normalization.Normalizer the model was trained with
    layout: tuple[Any, ...]  # features.Token per model token (unbound: channel None)
    feature_config: Any  # features.FeatureConfig the model was trained with
    preprocess_config: Any  # preprocessing.PreprocessConfig the model was trained with
    device: Any  # torch.device of the model
    normalization: str = "global"  # "global": apply `normalizer`; "subject"/"recording": the recording's own stats
    min_windows: int = 30  # per-recording statistics need this many windows, else `normalizer` is used

    @property
    def is_synthetic(self) -> bool:
        """True when the checkpoint was trained on synthetic data."""
        return bool(self.meta.extra.get("synthetic", self.meta.is_synthetic))

    def describe(self) -> str:
        """One line for the status bar / CLI, e.g. "MMQ-Net (SYNTHETIC training data) from resources/..."."""
        data = self.meta.extra.get("training_data", "unknown data")
        tag = "SYNTHETIC training data" if self.is_synthetic else f"trained on {data}"
        return f"MMQ-Net ({tag}, {len(self.layout)} tokens, T={self.model.config.n_windows}) from {self.meta.path}"


def model_from_parts(model: Any, meta: Any, *, normalizer: Any = None, device: Any = None) -> LoadedModel:
    """Wrap an in-memory model and its checkpoint metadata (e.g. from training) as a :class:`LoadedModel`."""
    import torch

    from ..model.normalization import Normalizer

    cfg = model.config
    extra = dict(getattr(meta, "extra", {}) or {})
    layout, fcfg, pcfg, mode, min_windows = _settings(
        extra, lambda: list(cfg.names), lambda: list(cfg.token_groups), cfg.n_tokens, getattr(meta, "path", ""))
    norm = normalizer if normalizer is not None else getattr(meta, "normalizer", None)
    if norm is None:
        norm = Normalizer.identity(cfg.n_tokens, cfg.n_features)
    dev = device if device is not None else next(model.parameters()).device
    return LoadedModel(model=model.eval(), meta=meta, normalizer=norm, layout=layout, feature_config=fcfg,
                       preprocess_config=pcfg, device=torch.device(dev), normalization=mode,
                       min_windows=min_windows)


def _settings(extra: dict, names: Any, groups: Any, n_tokens: int | None, where: Any) -> tuple:
    """(layout, feature config, preprocess config, normalisation mode, min windows) from a checkpoint's
    ``extra`` metadata; ``names()`` / ``groups()`` give the token names / modalities when ``extra`` has none;
    ``n_tokens`` (the model's, None = not known yet) must match. Imports no torch (:mod:`mmqnet_core.model.format`
    holds the normalisation modes)."""
    from ..features import FeatureConfig, Token
    from ..model.format import MIN_GROUP_WINDOWS, NORMALIZATION_MODES
    from ..preprocessing import PreprocessConfig
    from ..recording import Modality

    names = extra.get("layout", {}).get("token_names") or names()
    mods = extra.get("layout", {}).get("token_modalities") or groups()
    if n_tokens is not None and (len(names) != n_tokens or len(mods) != n_tokens):
        raise CheckpointError(f"Checkpoint {where} describes {len(names)} tokens but its model has {n_tokens}.")
    layout = tuple(Token(str(n), Modality.parse(m), None) for n, m in zip(names, mods))
    try:
        fcfg = FeatureConfig.from_dict(extra["feature_config"]) if extra.get("feature_config") else FeatureConfig()
        pcfg = (PreprocessConfig.from_dict(extra["preprocess_config"]) if extra.get("preprocess_config")
                else PreprocessConfig())
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"Checkpoint {where} has invalid feature settings: {exc}") from None
    modes, min_group_windows = NORMALIZATION_MODES, MIN_GROUP_WINDOWS
    # checkpoints written before the option existed carry no "normalization": they were trained globally
    nmeta = extra.get("normalization") or {}
    mode = str(nmeta.get("mode", "global")) if isinstance(nmeta, dict) else "global"
    if mode not in modes:
        raise CheckpointError(
            f"Checkpoint {where} asks for feature normalisation {mode!r}; this version knows "
            f"{', '.join(modes)}: update MMQ-Net Studio or retrain the checkpoint."
        )
    min_windows = int(nmeta.get("min_windows", min_group_windows)) if isinstance(nmeta, dict) else min_group_windows
    return layout, fcfg, pcfg, mode, max(2, min_windows)


_START_LOCK = threading.Lock()


def start_loading(model: Any) -> None:
    """Start the load of a :class:`DeferredModel` created with ``start=False`` (nothing for a loaded model)."""
    from .model_process import RemoteModel

    if isinstance(model, (DeferredModel, RemoteModel)):
        model.start()


#: The settings a :class:`DeferredModel` knows before its weights are loaded (compared with the loaded model's).
_EARLY = ("layout", "feature_config", "preprocess_config", "normalization", "min_windows")


class DeferredModel:
    """A :class:`LoadedModel` that loads in a helper thread (:func:`load_model_deferred`).

    Importing torch and building the model take seconds of a run's fixed cost. The analysis needs the model
    itself only for its last stage: its cleaning and feature settings, token layout and normalisation mode are
    read at once from the checkpoint's ``config.json`` (no torch) and are attributes here, so loading the
    recording, the cleaning and the features run while the model loads. Any other attribute (``model``,
    ``normalizer``, ``meta``, ``device``, ``is_synthetic``, ``describe``...) waits for the load and comes from
    the loaded :class:`LoadedModel`; an error of the load (damaged weights...) is raised there. The settings of
    the loaded model are checked against those read first.
    """

    def __init__(self, future: Any, settings: tuple, where: Any, start: Any = None) -> None:
        self._future = future
        self._where = where
        self._start = start  # starts the load (once); None: started already
        for name, value in zip(_EARLY, settings):
            object.__setattr__(self, name, value)

    def start(self) -> None:
        """Start the load now if it has not started (it starts at the latest when the model is first asked for).

        :func:`~mmqnet_core.inference.analyze` starts it after its own imports and the cleaning's fit:
        importing torch holds the interpreter lock most of the time, so beside other imports it only takes turns
        with them, and beside the fit (many short numpy calls on 30-s blocks, each waiting for the lock again
        afterwards) it made the fit 3-4 times slower; beside the cleaning of 10-minute pieces (long numpy, scipy
        and mne loops that release the lock) it costs less. Measured with ``bench/bench_scale.py --timeline``.
        """
        with _START_LOCK:
            start, self._start = self._start, None
        if start is not None:
            start()

    def result(self) -> LoadedModel:
        """The loaded model (waits for it); the load's error, if any, is raised here."""
        self.start()
        loaded = self._future.result()
        if any(getattr(loaded, n) != getattr(self, n) for n in _EARLY):
            raise CheckpointError(f"Checkpoint {self._where} changed while it was being loaded (its settings differ "
                                  "from those read first): run the analysis again.")
        return loaded

    @property
    def failed(self) -> bool:
        """True once the load has ended with an error (:meth:`result` raises it)."""
        return self._future.done() and self._future.exception() is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_future", "_where", "_start"):
            raise AttributeError(name)
        return getattr(self.result(), name)


def _early_settings(path: Path) -> tuple | None:
    """The :data:`_EARLY` settings of the checkpoint at ``path`` from its ``config.json`` alone, or None when they
    cannot be read that way (no config beside the weights, no layout in it, anything unusual: the caller then
    loads the model before going on, which reports what is wrong)."""
    from ..check import read_json_file

    from ..model.format import CONFIG_NAME, FORMAT, WEIGHTS_NAME

    weights = path / WEIGHTS_NAME if path.is_dir() else path
    config = weights.parent / CONFIG_NAME
    if weights.suffix.lower() != ".safetensors" or not weights.is_file() or not config.is_file():
        return None
    meta = read_json_file(config, "Checkpoint config", error=CheckpointError, advice="the checkpoint is corrupt")
    if (not isinstance(meta, dict) or meta.get("format") != FORMAT
            or not isinstance(meta.get("extra"), dict)):
        return None
    extra = meta["extra"]
    layout = extra.get("layout")
    if not isinstance(layout, dict) or not layout.get("token_names") or not layout.get("token_modalities"):
        return None
    return _settings(extra, list, list, None, path)


def checkpoint_preprocess_config(path: str | os.PathLike | None = None) -> Any:
    """The cleaning settings (:class:`~mmqnet_core.preprocessing.PreprocessConfig`) the checkpoint at ``path``
    (None: the shipped one) was trained with, read from its ``config.json`` without torch; None when they cannot
    be read that way (no checkpoint, no config beside the weights, an unusual one). The app compares them with
    its display cleaning to say whether the cleaned trace shown is the model's input."""
    where = Path(path).expanduser() if path else default_checkpoint_path()
    if where is None or not Path(where).exists():
        return None
    try:
        early = _early_settings(Path(where))
    except CheckpointError:
        return None
    return None if early is None else early[2]


def load_model_deferred(path: str | os.PathLike | None = None, *, device: str | None = None,
                        start: bool = True) -> Any:
    """:func:`load_model` in a helper thread: a :class:`DeferredModel` at once, or the loaded
    :class:`LoadedModel` when the checkpoint's settings cannot be read without loading it.

    With ``start=False`` the thread starts on :meth:`DeferredModel.start` (the analysis calls it once its own
    imports are done), or when the model is first asked for.

    The helper thread also imports pyarrow's Parquet writer (the result table; pandas is not needed to write it)
    once the model is loaded. It is not a daemon
    thread: the interpreter waits for it at exit instead of stopping it inside an import.
    """
    import threading
    from concurrent.futures import Future

    resolved = Path(path) if path is not None else default_checkpoint_path()
    try:
        settings = None if resolved is None else _early_settings(resolved)
    except Exception:  # noqa: BLE001 - any doubt: load it here, which says what is wrong
        settings = None
    if settings is None:
        return load_model(path, device=device)
    fut: Future = Future()

    def run() -> None:
        fut.set_running_or_notify_cancel()
        try:
            fut.set_result(load_model(path, device=device))
        except BaseException as exc:  # raised by DeferredModel.result()
            fut.set_exception(exc)
            return
        try:  # warm: the trajectories are written as CSV and Parquet at the end (inference.table_io)
            import pyarrow.parquet  # noqa: F401
        except ImportError:  # pragma: no cover - a dependency; the writer says what is missing when it writes
            pass

    thread = threading.Thread(target=run, name="mmqnet-load-model")
    deferred = DeferredModel(fut, settings, resolved, start=thread.start)
    if start:
        deferred.start()
    return deferred


def load_model(path: str | os.PathLike | None = None, *, device: str | None = None) -> LoadedModel:
    """Load a checkpoint for analysis.

    Parameters
    ----------
    path : path, optional
        Checkpoint folder (``model.safetensors`` + ``config.json``) or file; None = the shipped checkpoint
        (:func:`default_checkpoint_path`).
    device : str, optional
        "cpu", "cuda", ... (None = the best available, see ``mmqnet_core.device.select_device``).

    Raises
    ------
    CheckpointError
        No checkpoint found, or a foreign / corrupt one.
    """
    from ..device import select_device
    from ..model.checkpoint import load_checkpoint

    if path is None:
        path = default_checkpoint_path()
        if path is None:
            raise CheckpointError(
                f"No shipped model checkpoint found (looked for {CHECKPOINT_SUBDIR}/model.safetensors in the "
                "installation): train one with 'mmqnet train --data synthetic -o runs/default' and pass "
                "--checkpoint runs/default/checkpoint."
            )
    dev = select_device(device)
    model, meta = load_checkpoint(path, device=dev)
    return model_from_parts(model, meta, device=dev)
