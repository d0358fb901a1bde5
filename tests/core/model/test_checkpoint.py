"""Checkpoints: safetensors + config.json round trip, clear errors for foreign/corrupt/mismatched/unsafe files."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from mmqnet_core.errors import CheckpointError
from mmqnet_core.model import MMQNet, Normalizer, check_compatible, load_checkpoint, save_checkpoint
from mmqnet_core.recording import Modality

from .conftest import GROUPS, NAMES, VALID, VARIANTS, make_batch, small_config


def _saved(tmp_path, cfg=None, **kwargs):
    cfg = cfg or small_config()
    torch.manual_seed(1)
    model = MMQNet(cfg).eval()
    folder = save_checkpoint(model, tmp_path / "ckpt", **kwargs)
    return model, folder


@pytest.mark.parametrize("name", list(VARIANTS))
def test_round_trip_gives_identical_outputs(tmp_path, name):
    cfg = small_config(**VARIANTS[name])
    x, missing = make_batch(2, config=cfg)
    stats = Normalizer(np.full((10, 6), 2.0, np.float32), np.full((10, 6), 3.0, np.float32))
    model, folder = _saved(tmp_path, cfg, extra={"training_data": "synthetic", "seed": 7}, normalizer=stats)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]  # no temp files left
    loaded, meta = load_checkpoint(folder)
    assert not loaded.training
    assert meta.config == cfg and meta.is_synthetic and meta.extra["seed"] == 7
    np.testing.assert_array_equal(meta.normalizer.mean, stats.mean)
    ref, got = model(x, missing, return_attention=True), loaded(x, missing, return_attention=True)
    torch.testing.assert_close(got.logits, ref.logits, atol=0, rtol=0)
    for family in ref.attention:
        torch.testing.assert_close(got.attention[family], ref.attention[family], atol=0, rtol=0)
    # the weights file alone, with config.json beside it, loads too
    again, _ = load_checkpoint(folder / "model.safetensors")
    torch.testing.assert_close(again(x, missing, return_attention=True).logits, ref.logits, atol=0, rtol=0)


def test_default_size_checkpoint_is_small(tmp_path):
    groups = ("EEG",) * 32 + ("EOG", "EOG", "EMG", "EMG", "GSR", "RESP", "PPG", "TEMP")
    cfg = small_config(token_groups=groups, token_names=(), feature_valid=((True,) * 12,) * 40, n_windows=8,
                       d_model=64)
    _, folder = _saved(tmp_path, cfg)
    assert (folder / "model.safetensors").stat().st_size < 4_000_000


def test_weights_only_pt_state_dict_loads(tmp_path):
    model, folder = _saved(tmp_path)
    meta = json.loads((folder / "config.json").read_text())
    torch.save({"state_dict": model.state_dict(), "meta": meta}, tmp_path / "model.pt")
    loaded, got = load_checkpoint(tmp_path / "model.pt")
    assert got.config == model.config
    x, missing = make_batch(1)
    torch.testing.assert_close(loaded(x, missing).logits, model(x, missing).logits)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_that_runs_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _Evil()}, path)
    with pytest.raises(CheckpointError, match=r"Refused to load .*evil\.pt: it is a pickle that would run code"):
        load_checkpoint(path)


def test_missing_config_json(tmp_path):
    _, folder = _saved(tmp_path)
    (folder / "config.json").unlink()
    with pytest.raises(CheckpointError, match="has no config.json beside its weights"):
        load_checkpoint(folder)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: {**m, "format": "keras"}, "is not an MMQ-Net checkpoint config \\(format 'keras'"),
        (lambda m: {**m, "format_version": 99}, "format_version 99, newer than this program reads \\(up to 1\\)"),
        (lambda m: {**m, "format_version": "one"}, "unknown checkpoint format_version 'one'"),
        (lambda m: {**m, "model_config": {**m["model_config"], "d_model": 30}},
         "Invalid model config in checkpoint .*d_model=30"),
        (lambda m: {**m, "normalizer": {"mean": [[0.0]], "std": [[1.0]]}},
         "Normalizer of checkpoint .* has shape \\(1, 1\\), expected \\(10, 6\\)"),
    ],
)
def test_foreign_or_newer_config(tmp_path, edit, match):
    _, folder = _saved(tmp_path, normalizer=Normalizer.identity(10, 6))
    meta = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(edit(meta)))
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(folder)


def test_corrupt_files(tmp_path):
    _, folder = _saved(tmp_path)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json is not valid JSON .*corrupt"):
        load_checkpoint(folder)
    _, folder = _saved(tmp_path / "b")
    (folder / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="Cannot read weights .*model.safetensors: the file is corrupt"):
        load_checkpoint(folder)
    with pytest.raises(CheckpointError, match="No checkpoint at .*nowhere"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "weights.h5").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="Unknown checkpoint format '.h5'"):
        load_checkpoint(tmp_path / "weights.h5")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="folder .*empty has no model.safetensors"):
        load_checkpoint(tmp_path / "empty")


def test_mismatched_weights_name_the_tensor(tmp_path):
    model, folder = _saved(tmp_path)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["token_embedding"] = torch.zeros(11, 32)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError,
                       match=r"Tensor 'token_embedding' .* has shape \(11, 32\) .* expects \(10, 32\)"):
        load_checkpoint(folder)
    del state["token_embedding"]
    state["foreign.weight"] = torch.zeros(1)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"missing tensors \['token_embedding'\]; unexpected tensors "
                                              r"\['foreign.weight'\]"):
        load_checkpoint(folder)


def test_check_compatible_with_feature_layouts(tmp_path):
    _, folder = _saved(tmp_path)
    _, meta = load_checkpoint(folder)
    tokens = [SimpleNamespace(name=n, modality=Modality(g), channel=n) for n, g in zip(NAMES, GROUPS)]
    features = SimpleNamespace(tokens=tuple(tokens), valid=np.array(VALID))
    check_compatible(meta, features)  # the layout it was made for: no error
    check_compatible(meta.config, tokens)
    with pytest.raises(CheckpointError, match="expects 10 tokens per window but the features have 9"):
        check_compatible(meta, tokens[:9])
    swapped = tokens[:8] + [tokens[9], tokens[8]]
    with pytest.raises(CheckpointError, match=r"Token 8 is 'Temp' \(TEMP\) in the features but 'GSR' \(GSR\)"):
        check_compatible(meta, swapped)
    with pytest.raises(CheckpointError, match="expects 6 features per token but the features have 5"):
        check_compatible(meta, SimpleNamespace(tokens=tokens, valid=np.array(VALID)[:, :5]))
    other = np.array(VALID)
    other[8, 4] = True
    with pytest.raises(CheckpointError, match="Feature column 4 of token 'GSR' is defined in the features but "
                                              "undefined in the checkpoint"):
        check_compatible(meta, SimpleNamespace(tokens=tokens, valid=other))


def test_load_onto_a_device_and_unwritable_destination(tmp_path):
    model, folder = _saved(tmp_path)
    loaded, _ = load_checkpoint(folder, device="cpu")
    assert next(loaded.parameters()).device == torch.device("cpu")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(CheckpointError, match="Cannot write a checkpoint to .*afile.*Choose a writable folder"):
        save_checkpoint(model, tmp_path / "afile")
