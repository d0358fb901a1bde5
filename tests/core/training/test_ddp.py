"""DistributedDataParallel on the CPU: two processes with the gloo backend train one model."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from .conftest import toy_corpus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, corpus_path: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from mmqnet_core.datasets.corpus import Corpus
    from mmqnet_core.training import TrainConfig, train

    corpus = Corpus.load(corpus_path)
    cfg = TrainConfig(epochs=2, d_model=32, n_heads=2, n_enc_layers=1, n_windows=4, batch_size=8, folds=2,
                      device="cpu")
    res = train(corpus, cfg, run_dir=os.path.join(out, "run"))
    torch.save({k: v.clone() for k, v in res.model.state_dict().items()}, os.path.join(out, f"rank{rank}.pt"))
    with open(os.path.join(out, f"steps{rank}.txt"), "w") as fh:
        fh.write(str(len(res.history)))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_process_gloo_training(tmp_path):
    corpus_path = toy_corpus(n_subjects=3, n_trials=4, n_windows=12).save(tmp_path / "corpus.npz")
    mp.spawn(_worker, args=(2, _free_port(), str(corpus_path), str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in a:  # DDP keeps the replicas identical
        torch.testing.assert_close(a[k], b[k], msg=k)
    run = tmp_path / "run"
    assert (run / "checkpoint" / "model.safetensors").is_file()
    log = (run / "train.log").read_text()
    assert "world size 2" in log
    # each rank saw half of the samples: "N samples ... K steps/epoch per process"
    assert "steps/epoch per process" in log
    assert np.isfinite(float((run / "metrics.csv").read_text().splitlines()[1].split(",")[2]))
