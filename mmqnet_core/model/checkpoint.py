"""Saving and loading MMQ-Net checkpoints.

A checkpoint is a folder with two files:

``model.safetensors``
    the weights (safetensors: no code runs when reading them), metadata ``{"format": "mmqnet-checkpoint",
    "format_version": "1"}``;
``config.json``
    ``{"format": "mmqnet-checkpoint", "format_version": 1, "mmqnet_version": ..., "model_config": {...},
    "normalizer": {"mean": [[...]], "std": [[...]]} | null, "extra": {...}}`` -- ``extra`` holds training
    metadata such as ``{"training_data": "synthetic"}``.

:func:`load_checkpoint` also reads a bare ``.safetensors`` file (``config.json`` beside it) and a PyTorch
``.pt``/``.pth`` state dict, but only through ``torch.load(weights_only=True)``: a pickle that would run code
is refused.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from ..check import (check_finite, check_int, check_option, check_regular_file, check_str_list, check_type,
                     read_json_file, safe_text)
from ..errors import CheckpointError, ConfigError
from ..fileio import atomic_write
from ..recording import Modality
from .config import MMQNetConfig
from .mmqnet import MMQNet
from .normalization import Normalizer

log = logging.getLogger(__name__)

from .format import CONFIG_NAME, FORMAT, FORMAT_VERSION, WEIGHTS_NAME  # noqa: E402 (re-exported)


@dataclass(frozen=True)
class CheckpointMeta:
    """What :func:`load_checkpoint` read besides the weights."""

    config: MMQNetConfig  # the model configuration (token layout, widths, switches)
    normalizer: Normalizer | None  # per-(token, feature) statistics the model was trained with, if stored
    extra: Mapping[str, Any] = field(default_factory=dict)  # training metadata, e.g. {"training_data": "synthetic"}
    path: Path | None = None  # the folder or file it was read from
    format_version: int = FORMAT_VERSION  # version of the checkpoint layout
    mmqnet_version: str = ""  # version of MMQ-Net Studio that wrote it

    @property
    def is_synthetic(self) -> bool:
        """True when the checkpoint says it was trained on synthetic data."""
        return str(self.extra.get("training_data", "")).lower() == "synthetic"


# ------------------------------------------------------------------------------------------------- saving


def save_checkpoint(
    model: MMQNet,
    folder: str | os.PathLike,
    *,
    extra: Mapping[str, Any] | None = None,
    normalizer: Normalizer | None = None,
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``folder`` (created if needed).

    Parameters
    ----------
    model
        The model to save (its weights are copied to the CPU).
    folder
        Destination folder; existing checkpoint files there are replaced, each atomically.
    extra
        JSON-able metadata, e.g. ``{"training_data": "synthetic", "seed": 0, "split": "subject"}``.
    normalizer
        Feature statistics used to normalise the training inputs (shape must be the model's (N, F)).

    Returns
    -------
    Path
        The folder.
    """
    folder = Path(folder)
    cfg = model.get_config()
    if normalizer is not None and normalizer.shape != (cfg.n_tokens, cfg.n_features):
        raise ConfigError(
            f"Normalizer shape {normalizer.shape} does not match the model's (tokens, features) "
            f"{(cfg.n_tokens, cfg.n_features)}."
        )
    try:
        meta_json = json.dumps(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "mmqnet_version": __version__,
                "model_config": cfg.to_dict(),
                "normalizer": None if normalizer is None else normalizer.to_dict(),
                "extra": dict(extra or {}),
            },
            indent=1,
        )
    except TypeError as exc:
        raise ConfigError(f"Checkpoint metadata 'extra' must be JSON-serialisable: {exc}.") from None
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    st_meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp, metadata=st_meta))
        atomic_write(folder / CONFIG_NAME, lambda tmp: Path(tmp).write_text(meta_json, encoding="utf-8"))
    except OSError as exc:
        raise CheckpointError(f"Cannot write a checkpoint to {folder}: {exc}. Choose a writable folder.") from None
    log.info("saved checkpoint to %s (%d tensors)", folder, len(tensors))
    return folder


# ------------------------------------------------------------------------------------------------ loading


def _read_meta(config_path: Path, origin: Path) -> dict[str, Any]:
    if not config_path.is_file():
        raise CheckpointError(
            f"Checkpoint {origin} has no {CONFIG_NAME} beside its weights: it is needed to rebuild the model. "
            f"Copy the {CONFIG_NAME} that was saved with these weights into {config_path.parent}."
        )
    # a regular file (never a FIFO) of at most 64 MiB, no deep nesting, no absurd numbers (check.read_json_file)
    meta = read_json_file(config_path, "Checkpoint config", error=CheckpointError,
                          advice="the checkpoint is corrupt")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(
            f"{config_path} is not an MMQ-Net checkpoint config (format {found!r}, expected {FORMAT!r}): "
            "choose a checkpoint saved by MMQ-Net Studio."
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{config_path} has an unknown checkpoint format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path} has checkpoint format_version {version}, newer than this program reads "
            f"(up to {FORMAT_VERSION}): update MMQ-Net Studio."
        )
    return meta


def _check_extra(extra: Any, origin: Path) -> dict[str, Any]:
    """Validate the training metadata that analysis reads (layout, normalisation, feature/preprocess settings).

    A checkpoint is input like any other file: every field used later is checked here, with the field named,
    so that a damaged or hand-edited config.json ends in one :class:`CheckpointError` instead of an
    AttributeError deep in analysis.
    """
    if extra is None:
        return {}
    where = f"checkpoint {origin}"
    kw = {"where": where, "error": CheckpointError}
    check_type("extra", extra, dict, "an object", **kw)
    layout = extra.get("layout")
    if layout is not None:
        check_type("extra.layout", layout, dict, "an object with token_names and token_modalities", **kw)
        for key in ("token_names", "token_modalities"):
            if layout.get(key) is not None:
                check_str_list(f"extra.layout.{key}", layout[key], max_len=64, **kw)
        for m in layout.get("token_modalities") or ():
            check_option("extra.layout.token_modalities", m, [x.value for x in Modality], **kw)
    norm = extra.get("normalization")
    if norm is not None:
        check_type("extra.normalization", norm, dict, "an object with mode and min_windows", **kw)
        if "mode" in norm:
            check_type("extra.normalization.mode", norm["mode"], str, "a text", **kw)
        if "min_windows" in norm:
            check_int("extra.normalization.min_windows", norm["min_windows"], min=1, max=1_000_000, **kw)
    for key, build in (("feature_config", "FeatureConfig"), ("preprocess_config", "PreprocessConfig")):
        value = extra.get(key)
        if value is None:
            continue
        check_type(f"extra.{key}", value, dict, "an object", **kw)
        try:  # the settings classes validate their fields; anything they trip over is a damaged checkpoint
            if build == "FeatureConfig":
                from ..features import FeatureConfig

                FeatureConfig.from_dict(value)
            else:
                from ..preprocessing import PreprocessConfig

                PreprocessConfig.from_dict(value)
        except (ConfigError, TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            raise CheckpointError(f"Invalid value for 'extra.{key}' in {where}: {safe_text(exc, 300)}") from None
    return extra


def _check_weights(state: Mapping[str, torch.Tensor], origin: Path) -> None:
    """Refuse weights holding NaN or infinity: such a model writes NaN probabilities without a word."""
    bad = [name for name, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise CheckpointError(
            f"Invalid weights in checkpoint {origin}: tensor(s) {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''} "
            "hold NaN or infinite values (training diverged or the file is damaged). Choose another checkpoint."
        )


#: Largest weights file read, bytes: the shipped model is ~1 MB and any MMQ-Net this program builds is far below
#: this; a forged or sparse file declaring tens of GB was mapped into memory and failed as an unexpected error.
MAX_WEIGHTS_BYTES = 2 * 1024**3


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    check_regular_file(path, "weights file", max_bytes=MAX_WEIGHTS_BYTES, error=CheckpointError)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:  # RuntimeError: mmap refused
        raise CheckpointError(f"Cannot read weights {path}: the file is corrupt or not a safetensors file ({exc}).") \
            from None


def _read_pt(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """A weights-only PyTorch file: a state dict, or {"state_dict": ..., "meta": <config.json content>}."""
    check_regular_file(path, "weights file", max_bytes=MAX_WEIGHTS_BYTES, error=CheckpointError)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"Refused to load {path}: it is a pickle that would run code when loaded ({first}). Only "
            "weights-only checkpoints are accepted: re-export it as model.safetensors with save_checkpoint."
        ) from None
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise CheckpointError(f"Cannot read {path}: not a PyTorch weights file or corrupt ({exc}).") from None
    meta = None
    if isinstance(obj, dict) and "state_dict" in obj:
        meta = obj.get("meta")
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise CheckpointError(
            f"{path} does not hold a state dict (a mapping of names to tensors); got {type(obj).__name__}."
        )
    return obj, meta


def _check_state(state: Mapping[str, torch.Tensor], model: MMQNet, origin: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        raise CheckpointError(
            f"Weights in {origin} do not match the model described by its config: {'; '.join(parts)}. The "
            "weights and config.json come from different models."
        )
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"Tensor {name!r} in {origin} has shape {tuple(state[name].shape)} but the model built from "
                f"its config expects {tuple(tensor.shape)}: the weights and config.json do not belong together."
            )
        if not state[name].is_floating_point() and tensor.is_floating_point():
            raise CheckpointError(f"Tensor {name!r} in {origin} has dtype {state[name].dtype}, expected floats.")


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device | None = None
) -> tuple[MMQNet, CheckpointMeta]:
    """Rebuild a model from a checkpoint folder, a ``.safetensors`` file or a weights-only ``.pt`` file.

    Parameters
    ----------
    path
        Checkpoint folder (``model.safetensors`` + ``config.json``), or a weights file whose ``config.json``
        lies beside it (a ``.pt`` file may embed it as ``{"state_dict": ..., "meta": ...}``).
    device
        Where to put the model (a name for :func:`mmqnet_core.device.select_device`); default CPU.

    Returns
    -------
    model, meta
        The model in eval mode and its :class:`CheckpointMeta`.

    Raises
    ------
    CheckpointError
        Foreign, corrupt, newer-format or mismatched checkpoints, and pickles that would run code.
    """
    origin = Path(path)
    if origin.is_dir():
        weights = origin / WEIGHTS_NAME
        if not weights.is_file():
            pts = sorted(origin.glob("*.pt")) + sorted(origin.glob("*.pth"))
            if len(pts) != 1:
                raise CheckpointError(
                    f"Checkpoint folder {origin} has no {WEIGHTS_NAME}: choose a folder saved by MMQ-Net Studio."
                )
            weights = pts[0]
    elif origin.is_file():
        weights = origin
    else:
        raise CheckpointError(
            f"No checkpoint at {origin}: expected a folder with {WEIGHTS_NAME} and {CONFIG_NAME}, a .safetensors "
            "or a .pt file."
        )
    suffix = weights.suffix.lower()
    embedded = None
    if suffix == ".safetensors":
        state = _read_safetensors(weights)
    elif suffix in (".pt", ".pth"):
        state, embedded = _read_pt(weights)
    else:
        raise CheckpointError(
            f"Unknown checkpoint format {suffix or weights.name!r} of {weights}: expected a folder, a .safetensors "
            "or a .pt/.pth file."
        )
    if embedded is not None:
        if not isinstance(embedded, dict) or embedded.get("format") != FORMAT:
            raise CheckpointError(f"{weights} embeds metadata that is not an MMQ-Net checkpoint config.")
        meta = embedded
    else:
        meta = _read_meta(weights.parent / CONFIG_NAME, origin)
    try:
        config = MMQNetConfig.from_dict(meta.get("model_config"))
        normalizer = None if meta.get("normalizer") is None else Normalizer.from_dict(meta["normalizer"])
    except (ConfigError, TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        raise CheckpointError(f"Invalid model config in checkpoint {origin}: {safe_text(exc, 300)}") from None
    if normalizer is not None:
        check_finite("normalizer.mean", normalizer.mean, where=f"checkpoint {origin}", error=CheckpointError)
        check_finite("normalizer.std", normalizer.std, where=f"checkpoint {origin}", error=CheckpointError)
        if not bool((normalizer.std > 0).all()):
            raise CheckpointError(f"Invalid value for 'normalizer.std' in checkpoint {origin}: must be > 0 "
                                  "everywhere (features are divided by it), got zeros or negative values.")
    extra = _check_extra(meta.get("extra"), origin)
    if normalizer is not None and normalizer.shape != (config.n_tokens, config.n_features):
        raise CheckpointError(
            f"Normalizer of checkpoint {origin} has shape {normalizer.shape}, expected "
            f"{(config.n_tokens, config.n_features)} from its model config."
        )
    model = MMQNet(config)
    _check_state(state, model, origin)
    _check_weights(state, origin)
    model.load_state_dict(state)
    if device is not None:
        from ..device import select_device  # local: device.py is optional for plain loading

        model = model.to(select_device(device))
    model.eval()
    return model, CheckpointMeta(
        config=config,
        normalizer=normalizer,
        extra=dict(extra) if isinstance(extra, dict) else {},
        path=origin,
        format_version=int(meta.get("format_version", FORMAT_VERSION)),
        mmqnet_version=str(meta.get("mmqnet_version", "")),
    )


# ---------------------------------------------------------------------------------------- compatibility


def check_compatible(meta: CheckpointMeta | MMQNetConfig, feature_layout: Any) -> None:
    """Check that a checkpoint fits a feature layout before analysis; raise :class:`CheckpointError` if not.

    Parameters
    ----------
    meta
        The checkpoint metadata (or its model config).
    feature_layout
        A ``features.FeatureSet`` (``tokens``, ``valid``), or a sequence of ``features.Token`` (then only the
        tokens are compared).
    """
    config = meta.config if isinstance(meta, CheckpointMeta) else meta
    tokens: Sequence[Any] = getattr(feature_layout, "tokens", feature_layout)
    valid = getattr(feature_layout, "valid", None)
    if len(tokens) != config.n_tokens:
        raise CheckpointError(
            f"The checkpoint expects {config.n_tokens} tokens per window but the features have {len(tokens)}: "
            "extract features with the checkpoint's layout (e.g. DEAP_LAYOUT) or choose another checkpoint."
        )
    for i, (tok, name, group) in enumerate(zip(tokens, config.names, config.token_groups)):
        modality = Modality.parse(tok.modality).value
        if (config.token_names and str(tok.name) != name) or modality != group:
            raise CheckpointError(
                f"Token {i} is {tok.name!r} ({modality}) in the features but {name!r} ({group}) in the checkpoint: "
                "extract features with the checkpoint's layout or choose another checkpoint."
            )
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape[-1] != config.n_features:
            raise CheckpointError(
                f"The checkpoint expects {config.n_features} features per token but the features have "
                f"{valid.shape[-1]}: use the feature settings the checkpoint was trained with."
            )
        differ = np.argwhere(valid != np.asarray(config.feature_valid, dtype=bool))
        if len(differ):
            n, f = (int(v) for v in differ[0])
            here, there = ("defined", "undefined") if valid[n, f] else ("undefined", "defined")
            raise CheckpointError(
                f"Feature column {f} of token {config.names[n]!r} is {here} in the features but {there} in the "
                "checkpoint: use the feature settings the checkpoint was trained with."
            )
