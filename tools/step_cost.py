"""CPU and wall time of a training step and of the validation pass of the default from-scratch recipe.

``train()`` with ``TrainConfig()`` defaults (what ``mmqnet train --data synthetic --seed 0`` runs) for one epoch of
``--crops`` samples per training trial on fold 1, with the shipped checkpoint's training corpus (the pinned build,
rebuilt when not cached). The model card multiplies the per-step CPU time by the steps of a full run (30 epochs of
101 steps) to estimate what 5 folds x 3 seeds cost.

    .venv/bin/python tools/step_cost.py [--threads 1] [--crops 1] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--crops", type=int, default=1, help="samples per training trial (1: 15 steps)")
    p.add_argument("--cache-dir", default=None)
    args = p.parse_args(argv)

    import torch

    from mmqnet_core.datasets.corpus import Corpus
    from mmqnet_core.datasets.pinned import SHIPPED_CORPUS_KEY, build_pinned
    from mmqnet_core.training import TrainConfig, train

    torch.set_num_threads(args.threads)
    corpus = Corpus.load(build_pinned(SHIPPED_CORPUS_KEY, cache_dir=args.cache_dir,
                                      log=lambda m: print(m, file=sys.stderr)))
    cfg = TrainConfig(epochs=1, seed=0, num_threads=args.threads, calibrate=False, crops_per_trial=args.crops)
    marks = []

    def progress(frac, msg):
        if str(msg).startswith("epoch"):  # one report after every training step
            marks.append((time.perf_counter(), time.process_time()))

    t0 = time.perf_counter()
    train(corpus, cfg, run_dir=None, progress=progress)
    t1, c1 = time.perf_counter(), time.process_time()
    steps = len(marks)
    wall = (marks[-1][0] - marks[0][0]) / max(steps - 1, 1)
    cpu = (marks[-1][1] - marks[0][1]) / max(steps - 1, 1)
    print(f"{steps} steps of batch {cfg.batch_size}; per step: wall {wall:.2f} s, CPU {cpu:.2f} s; validation pass: "
          f"wall {t1 - marks[-1][0]:.0f} s, CPU {c1 - marks[-1][1]:.0f} s; total wall {t1 - t0:.0f} s; load average "
          f"{os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
