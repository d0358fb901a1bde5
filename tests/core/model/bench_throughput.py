"""CPU throughput of the default-size MMQ-Net (not a test; run by hand).

    .venv/bin/python -m tests.core.model.bench_throughput [--threads 2] [--subset]

Batch 64 x T=8 windows x N=40 tokens x F=12 features. Reports wall time (best of a few) and, because other
processes may share the CPU, process CPU time divided by the thread count as well. ``--subset`` reconstructs
only the masked tokens (``recon_tokens``), as training and inference should.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from mmqnet_core.model import MMQNet, MMQNetConfig, mmqnet_loss

GROUPS = ("EEG",) * 32 + ("EOG", "EOG", "EMG", "EMG", "GSR", "RESP", "PPG", "TEMP")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--subset", action="store_true")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--n-heads", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    b, t, n, f = 64, 8, 40, 12
    cfg = MMQNetConfig(token_groups=GROUPS, feature_valid=((True,) * f,) * n, n_windows=t, n_heads=args.n_heads)
    model = MMQNet(cfg)
    x = torch.randn(b, t, n, f)
    missing = torch.rand(b, t, n) < 0.3
    hidden = (torch.rand(b, t, n) < 0.25) & ~missing
    labels = torch.randint(0, 2, (b, cfg.n_targets))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def train_step() -> None:
        out = model(x, missing | hidden, recon_tokens=hidden if args.subset else None)
        loss, _ = mmqnet_loss(out, labels=labels, target=x, recon_mask=hidden, feature_valid=model.feature_valid,
                              interference=torch.rand(b, t))
        opt.zero_grad()
        loss.backward()
        opt.step()

    def timed(fn) -> tuple[float, float]:
        fn()
        walls, cpus = [], []
        for _ in range(args.reps):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - w0)
            cpus.append((time.process_time() - c0) / args.threads)
        return min(walls), min(cpus)

    model.train()
    train = timed(train_step)
    model.eval()
    with torch.inference_mode():
        infer = timed(lambda: model(x, missing, recon_tokens=missing if args.subset else None))
        attn = timed(lambda: model(x, missing, recon_tokens=missing if args.subset else None, return_attention=True))
    print(f"load average {os.getloadavg()[0]:.1f}; {model.n_parameters} parameters; {args}")
    for name, (wall, cpu) in (("train fwd+bwd", train), ("inference", infer), ("inference+attention", attn)):
        print(f"{name:20s} wall {wall * 1e3:6.0f} ms = {b * t / wall:6.0f} windows/s | "
              f"cpu/threads {cpu * 1e3:6.0f} ms = {b * t / cpu:6.0f} windows/s | "
              f"3600 windows: {3600 / (b * t) * wall:.2f} s")


if __name__ == "__main__":
    main()
