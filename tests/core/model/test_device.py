"""Device selection: explicit choices win, unavailable ones are named, auto prefers CUDA then MPS then CPU."""

from __future__ import annotations

import contextlib

import pytest
import torch

from mmqnet_core import device as dev
from mmqnet_core.errors import ConfigError


@pytest.fixture
def no_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: f"NVIDIA H100 #{i}")


def test_auto_falls_back_to_cpu(no_accelerators):
    for choice in (None, "", "auto", "AUTO"):
        assert dev.select_device(choice) == torch.device("cpu")
    assert dev.describe_device("cpu") == f"CPU ({torch.get_num_threads()} threads)"
    assert isinstance(dev.autocast("cpu"), contextlib.nullcontext)


def test_auto_prefers_cuda_then_mps(monkeypatch, no_accelerators):
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert dev.select_device() == torch.device("mps")
    assert dev.describe_device(torch.device("mps")) == "Apple GPU (mps)"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.select_device() == torch.device("cuda", 0)


def test_explicit_choices(two_gpus):
    assert dev.select_device("cpu") == torch.device("cpu")
    assert dev.select_device("cuda") == torch.device("cuda", 0)
    assert dev.select_device(" CUDA:1 ") == torch.device("cuda", 1)
    assert dev.select_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert dev.describe_device("cuda:1") == "NVIDIA H100 #1 (cuda:1)"
    with pytest.raises(ConfigError, match=r"Device 'cuda:2' was asked for but this machine has 2 CUDA device\(s\)"):
        dev.select_device("cuda:2")


def test_unavailable_or_invalid_devices_are_named(no_accelerators):
    with pytest.raises(ConfigError, match="Device 'cuda' was asked for but CUDA is not available here"):
        dev.select_device("cuda")
    with pytest.raises(ConfigError, match="Device 'mps' was asked for but Apple MPS is not available"):
        dev.select_device("mps")
    with pytest.raises(ConfigError, match="Invalid value for 'device': 'gpu0' is not a device name"):
        dev.select_device("gpu0")
    with pytest.raises(ConfigError, match="Invalid value for 'device': 'meta' is not supported"):
        dev.select_device("meta")
