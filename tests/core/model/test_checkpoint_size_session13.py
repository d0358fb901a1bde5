"""Session 13: a weights file is size-checked before it is mapped into memory (the project's rule: sizes before
allocating). Before: a forged or sparse model.safetensors declaring a 100000 x 100000 tensor (37 GiB) was handed to
safetensors, whose mmap failed as an unexpected error ("failed while ... (RuntimeError: unable to mmap 40000000092
bytes ...). The input may be damaged ... report it"); on a machine that maps it, its 37 GiB would be read."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from mmqnet_core.errors import CheckpointError
from mmqnet_core.model.checkpoint import MAX_WEIGHTS_BYTES, load_checkpoint

SHIPPED = Path(__file__).resolve().parents[3] / "resources" / "checkpoint"


def _forged(folder: Path, name: str) -> Path:
    folder.mkdir()
    shutil.copy2(SHIPPED / "config.json", folder / "config.json")
    n_bytes = 100_000 * 100_000 * 4
    header = json.dumps({"w": {"dtype": "F32", "shape": [100_000, 100_000], "data_offsets": [0, n_bytes]}}).encode()
    with open(folder / name, "wb") as fid:  # sparse: no disk space is used
        fid.write(struct.pack("<Q", len(header)) + header)
        fid.truncate(8 + len(header) + n_bytes)
    return folder


@pytest.mark.skipif(not (SHIPPED / "model.safetensors").is_file(), reason="no shipped checkpoint")
def test_a_weights_file_of_tens_of_gigabytes_is_refused_before_mapping_it(tmp_path):
    with pytest.raises(CheckpointError, match=r"^Cannot read weights file .*model\.safetensors: 37\.3 GiB is too large "
                       r"\(at most 2 GiB\)\.$"):
        load_checkpoint(_forged(tmp_path / "ck", "model.safetensors"))
    assert MAX_WEIGHTS_BYTES >= 1000 * (SHIPPED / "model.safetensors").stat().st_size  # far above a real model


def test_a_pytorch_weights_file_of_tens_of_gigabytes_is_refused_before_reading_it(tmp_path):
    with pytest.raises(CheckpointError, match=r"^Cannot read weights file .*model\.pt: 37\.3 GiB is too large"):
        load_checkpoint(_forged(tmp_path / "ck", "model.pt") / "model.pt")
