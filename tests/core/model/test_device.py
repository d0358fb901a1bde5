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


def test_model_runs_under_bf16_autocast_like_on_a_gpu():
    """The GPU path trains under bf16 autocast; no GPU here, so run the same model code under CPU bf16 autocast:
    every dtype meeting (mask token, masked attention, grouped linears, losses) must work and stay close to
    float32, and a training step must give finite gradients."""
    from mmqnet_core.model import MMQNet, MMQNetConfig, mmqnet_loss

    torch.manual_seed(0)
    groups = ("EEG",) * 6 + ("EOG", "GSR")
    cfg = MMQNetConfig(token_groups=groups, feature_valid=((True,) * 5,) * 8, n_windows=4, d_model=32, n_heads=4,
                       regression=True)
    model = MMQNet(cfg)
    x = torch.randn(3, 4, 8, 5)
    missing = torch.rand(3, 4, 8) < 0.3
    missing[0, :, :] = True
    missing[0, 0, 0] = False  # almost everything hidden in one sample
    model.eval()
    with torch.no_grad():
        ref = model(x, missing, return_attention=True, recon_tokens=missing)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x, missing, return_attention=True, recon_tokens=missing)
    assert low.attention["category"].dtype == torch.bfloat16  # autocast really ran the attention in bf16
    for a, b in ((ref.probabilities, low.probabilities.float()), (ref.recon, low.recon.float()),
                 (ref.attention["category"], low.attention["category"].float())):
        assert torch.isfinite(b).all()
        torch.testing.assert_close(b, a, atol=0.05, rtol=0.05)
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, missing, recon_tokens=missing)
    loss, _ = mmqnet_loss(out, labels=torch.randint(0, 2, (3, 2)), target=x, recon_mask=missing,
                          feature_valid=model.feature_valid, interference=torch.rand(3, 4))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_float16_fallback_gets_loss_scaling(monkeypatch):
    assert not dev.needs_grad_scaler("cpu") and not dev.needs_grad_scaler("mps")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert dev.needs_grad_scaler("cuda:0")  # an older GPU: autocast uses float16, so scale the loss
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert not dev.needs_grad_scaler("cuda")
