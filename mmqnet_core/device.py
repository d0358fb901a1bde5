"""Choosing the torch device for training and analysis, and describing it for the status bar."""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

from .errors import ConfigError

_ALLOWED = "'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps'"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def select_device(preferred: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    Parameters
    ----------
    preferred
        An explicit choice wins: "cpu", "cuda", "cuda:1", "mps" (or a :class:`torch.device`). None, "" or
        "auto" picks CUDA if available, then Apple MPS, else the CPU.

    Raises
    ------
    ConfigError
        The name is not a device, or that device is not available on this machine.
    """
    if preferred is None or (isinstance(preferred, str) and preferred.strip().lower() in ("", "auto")):
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = preferred if isinstance(preferred, torch.device) else torch.device(str(preferred).strip().lower())
    except (RuntimeError, ValueError):
        raise ConfigError(f"Invalid value for 'device': {preferred!r} is not a device name; use {_ALLOWED}.") \
            from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = "built without CUDA" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
            raise ConfigError(
                f"Device {preferred!r} was asked for but CUDA is not available here (torch {torch.__version__}, "
                f"{build}); use 'cpu' or 'auto'."
            )
        index = 0 if device.index is None else device.index
        count = torch.cuda.device_count()
        if index >= count:
            raise ConfigError(
                f"Device {preferred!r} was asked for but this machine has {count} CUDA device(s) "
                f"(cuda:0..cuda:{count - 1}); choose one of them or 'auto'."
            )
        return torch.device("cuda", index)
    if device.type == "mps":
        if not _mps_available():
            raise ConfigError(f"Device {preferred!r} was asked for but Apple MPS is not available here; use 'cpu'.")
        return torch.device("mps")
    raise ConfigError(f"Invalid value for 'device': {preferred!r} is not supported; use {_ALLOWED}.")


def describe_device(device: torch.device | str) -> str:
    """Short description for the status bar, e.g. "CPU (2 threads)" or "NVIDIA H100 80GB HBM3 (cuda:0)"."""
    device = torch.device(device)
    if device.type == "cuda":
        index = 0 if device.index is None else device.index
        return f"{torch.cuda.get_device_name(index)} (cuda:{index})"
    if device.type == "mps":
        return "Apple GPU (mps)"
    return f"CPU ({torch.get_num_threads()} threads)"


def autocast(device: torch.device | str, *, enabled: bool = True) -> ContextManager:
    """Mixed-precision context: bf16 autocast on CUDA (fp16 where bf16 is unsupported), nothing elsewhere.

    On the CPU full float32 is kept: bf16 matmuls are not faster on most desktop CPUs and cost accuracy.
    """
    device = torch.device(device)
    if enabled and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def needs_grad_scaler(device: torch.device | str) -> bool:
    """True where :func:`autocast` falls back to float16 (a CUDA GPU without bf16): float16 gradients underflow
    without loss scaling, so training then uses :class:`torch.amp.GradScaler`. bf16 and float32 need none."""
    device = torch.device(device)
    return device.type == "cuda" and not torch.cuda.is_bf16_supported()
