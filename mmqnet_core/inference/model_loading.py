"""Finding and loading the model used for analysis (the shipped checkpoint by default)."""

from __future__ import annotations

import os
import sys
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

    from ..features import FeatureConfig, Token
    from ..model.normalization import Normalizer
    from ..preprocessing import PreprocessConfig
    from ..recording import Modality

    cfg = model.config
    extra = dict(getattr(meta, "extra", {}) or {})
    names = extra.get("layout", {}).get("token_names") or list(cfg.names)
    mods = extra.get("layout", {}).get("token_modalities") or list(cfg.token_groups)
    if len(names) != cfg.n_tokens or len(mods) != cfg.n_tokens:
        raise CheckpointError(
            f"Checkpoint {getattr(meta, 'path', '')} describes {len(names)} tokens but its model has {cfg.n_tokens}."
        )
    layout = tuple(Token(str(n), Modality.parse(m), None) for n, m in zip(names, mods))
    try:
        fcfg = FeatureConfig.from_dict(extra["feature_config"]) if extra.get("feature_config") else FeatureConfig()
        pcfg = (PreprocessConfig.from_dict(extra["preprocess_config"]) if extra.get("preprocess_config")
                else PreprocessConfig())
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"Checkpoint {getattr(meta, 'path', '')} has invalid feature settings: {exc}") from None
    from ..model.normalization import MIN_GROUP_WINDOWS, NORMALIZATION_MODES

    # checkpoints written before the option existed carry no "normalization": they were trained globally
    nmeta = extra.get("normalization") or {}
    mode = str(nmeta.get("mode", "global")) if isinstance(nmeta, dict) else "global"
    if mode not in NORMALIZATION_MODES:
        raise CheckpointError(
            f"Checkpoint {getattr(meta, 'path', '')} asks for feature normalisation {mode!r}; this version knows "
            f"{', '.join(NORMALIZATION_MODES)}: update MMQ-Net Studio or retrain the checkpoint."
        )
    min_windows = int(nmeta.get("min_windows", MIN_GROUP_WINDOWS)) if isinstance(nmeta, dict) else MIN_GROUP_WINDOWS
    norm = normalizer if normalizer is not None else getattr(meta, "normalizer", None)
    if norm is None:
        norm = Normalizer.identity(cfg.n_tokens, cfg.n_features)
    dev = device if device is not None else next(model.parameters()).device
    return LoadedModel(model=model.eval(), meta=meta, normalizer=norm, layout=layout, feature_config=fcfg,
                       preprocess_config=pcfg, device=torch.device(dev), normalization=mode,
                       min_windows=max(2, min_windows))


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
