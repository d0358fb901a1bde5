"""``mmqnet train --data synthetic|deap:DIR|mahnob:DIR -o RUN_DIR``: build the corpus and train MMQ-Net.

The run folder gets ``config.json`` (training options), ``data.json`` (which corpus), ``metrics.csv`` (one row
per epoch), ``train.log`` and ``checkpoint/`` (``model.safetensors`` + ``config.json``, loadable by
``mmqnet analyze --checkpoint RUN_DIR/checkpoint``). Under ``torchrun --nproc_per_node K -m mmqnet_core.cli
train ...`` it trains with DistributedDataParallel (rank 0 builds the corpus cache and writes the run folder).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..progress import scaled
from ._progress import progress_bar


def add_data_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Options that choose and size the training corpus (shared with ``mmqnet evaluate``)."""
    g = p.add_argument_group("data")
    g.add_argument("--data", required=required, metavar="SOURCE",
                   help="'synthetic', 'deap:DIR' (DEAP preprocessed-python sNN.dat files) or 'mahnob:DIR' "
                        "(MAHNOB-HCI session folders)")
    g.add_argument("--subjects", type=int, default=32, metavar="N", help="synthetic: subjects (default 32)")
    g.add_argument("--trials", type=int, default=40, metavar="N", help="synthetic: trials per subject (default 40)")
    g.add_argument("--trial-s", type=float, default=60.0, metavar="S", help="synthetic: trial length, s (default 60)")
    g.add_argument("--data-seed", type=int, default=0, metavar="N", help="synthetic: generator seed (default 0)")
    g.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="folder of cached corpora (default $MMQNET_CACHE or ~/.cache/mmqnet/corpus)")
    g.add_argument("--no-cache", action="store_true", help="rebuild the corpus and do not cache it")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes that build the corpus (default: CPU cores)")


def add_train_args(p: argparse.ArgumentParser) -> None:
    """Training options (shared with ``mmqnet evaluate --train``)."""
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=30, help="maximum epochs (default 30)")
    g.add_argument("--seed", type=int, default=0, help="seed of torch, numpy and augmentation (default 0)")
    g.add_argument("--normalization", choices=("subject", "global", "recording"), default="subject",
                   help="feature z-scoring: per subject, held-out subjects and analysed recordings with their own "
                   "statistics (default); one global set; or per trial")
    g.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available)")
    g.add_argument("--batch-size", type=int, default=64, help="samples per step (default 64)")
    g.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    g.add_argument("--windows", type=int, default=8, metavar="T", help="context windows per sample (default 8)")
    g.add_argument("--d-model", type=int, default=64, help="model width (default 64)")
    g.add_argument("--context-windows", type=int, default=1, metavar="K",
                   help="category/interference queries of window t see windows t-K..t+K (default 1)")
    g.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs (0 = off)")
    g.add_argument("--crops", type=int, default=None, metavar="N",
                   help="samples per training trial and epoch (default: windows // T)")
    g.add_argument("--split", choices=("subject", "trial"), default="subject",
                   help="subject-independent (leave-subjects-out) or subject-dependent (by trial) folds")
    g.add_argument("--folds", type=int, default=5, help="K folds (default 5)")
    g.add_argument("--fold", type=int, default=0, help="fold whose test side is held out (default 0)")
    g.add_argument("--val-subjects", type=int, default=None, metavar="N",
                   help="validation subjects for early stopping (default about 10 %% of the training subjects)")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    g.add_argument("--no-modality-queries", action="store_true", help="ablation: no reconstruction queries")
    g.add_argument("--no-category-queries", action="store_true", help="ablation: mean-pooled category head")
    g.add_argument("--no-interference-queries", action="store_true", help="ablation: no interference queries")
    g.add_argument("--fusion", choices=("mmq", "legacy"), default="mmq",
                   help="how the query families interact: 'mmq' (reconstructions feed the category read-out, "
                   "interference queries compete for tokens; default) or 'legacy' (category queries alone)")
    g.add_argument("--modality-dropout", type=float, default=0.5, metavar="P",
                   help="share of training samples that lose all EEG, all peripheral channels or one modality "
                   "(whole sample or a long span; default 0.5)")
    g.add_argument("--consistency", type=float, default=1.0, metavar="W",
                   help="weight of the consistency loss between predictions with and without a modality "
                   "(0 = off; default 1)")
    g.add_argument("--unimodal", type=float, default=0.5, metavar="W",
                   help="weight of the auxiliary loss that makes each modality's evidence read-out predict alone "
                   "(default 0.5)")
    g.add_argument("--evidence-lr-scale", type=float, default=10.0, metavar="X",
                   help="the evidence read-outs learn at X times --lr (default 10)")
    g.add_argument("--no-evidence-gate", action="store_true",
                   help="do not scale the fused read-out by a learned reliability of the modalities present")
    g.add_argument("--no-modality-evidence", action="store_true",
                   help="no per-modality evidence read-outs (the prediction is the fused read-out alone)")
    g.add_argument("--evidence-common", default="", metavar="TARGET,...",
                   help="targets whose EEG evidence read-out also reads the mean over the EEG channels (e.g. "
                        "arousal: its EEG markers are common to every channel; default: none)")
    g.add_argument("--evidence-long", default="", metavar="TARGET,...",
                   help="targets whose evidence read-outs also read every channel's features averaged over about a "
                        "minute around each window (e.g. arousal, a slow state; default: none)")
    g.add_argument("--long-context", type=int, default=30, metavar="WINDOWS",
                   help="half-width of that span in windows each side (default 30)")
    g.add_argument("--evidence-long-gate", action="store_true",
                   help="scale the long-context read-out by a learned function of what the short context holds "
                        "(needs --evidence-long; default off)")
    g.add_argument("--evidence-long-fill", action="store_true",
                   help="the long-context read-out of each channel speaks only for the share of the short context "
                        "in which that channel is hidden (0 with the short context complete; needs --evidence-long; "
                        "default off)")
    g.add_argument("--gate-loss", type=float, default=0.0, metavar="W",
                   help="weight of a supervised loss on the interference gate: the window's largest token gate "
                        "must say whether the window has a known artifact (synthetic data; default 0: off)")
    g.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="warm start: copy the weights of this checkpoint folder whose name and shape match "
                   "(e.g. a legacy-fusion checkpoint into fusion 'mmq'); default: from scratch")
    g.add_argument("--train-only", default="", metavar="PARAM,...",
                   help="frozen fine-tune of --init-from: only the parameters named (fnmatch patterns, e.g. "
                        "evidence_long_weight) learn; every other weight, the normaliser and the calibration of "
                        "targets they cannot reach stay the checkpoint's; eval mode throughout (default: all learn)")
    g.add_argument("--lr-schedule", choices=("cosine", "constant"), default="cosine",
                   help="learning rate after the warm-up: cosine decay (default) or constant")
    g.add_argument("--augment-ramp", type=int, default=0, metavar="STEPS",
                   help="curriculum: modality drop-outs and consistency weight ramp up from 0 over STEPS steps "
                   "(default 0: full from the start)")
    g.add_argument("--no-calibrate", action="store_true",
                   help="do not fit a temperature on the validation subjects after training")
    g.add_argument("--regression", action="store_true",
                   help="also regress the 1-9 valence/arousal scores (beside the high/low classes)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command to ``sub``."""
    p = sub.add_parser(
        "train",
        help="train MMQ-Net on a corpus",
        description="Build (or read from the cache) the feature corpus of a data source and train MMQ-Net with "
        "simulated missing data, writing a run folder with the checkpoint. Example (the shipped model): "
        "mmqnet train --data synthetic --seed 0 -o runs/default",
    )
    add_data_args(p)
    p.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder to write")
    add_train_args(p)
    p.add_argument("--fit-evidence-spread", default=None, metavar="CHECKPOINT",
                   help="train nothing: fit the spread of each modality's hidden evidence (what hiding it changes "
                        "beyond its restoration: the missing-evidence term of the uncertainty) for an existing "
                        "checkpoint on the validation subjects of its own split and seed, and write the checkpoint "
                        "with it to RUN_DIR/checkpoint")
    p.set_defaults(func=run)


def synth_config_from_args(args: argparse.Namespace) -> Any:
    from ..datasets.synthetic import SynthConfig

    return SynthConfig(n_subjects=args.subjects, n_trials=args.trials, trial_s=args.trial_s, seed=args.data_seed)


def data_spec(args: argparse.Namespace) -> dict:
    """What ``data.json`` records about the corpus (enough for ``mmqnet evaluate --run`` to rebuild it)."""
    spec = {"data": args.data}
    if str(args.data).strip().lower() == "synthetic":
        spec.update(subjects=args.subjects, trials=args.trials, trial_s=args.trial_s, data_seed=args.data_seed)
    return spec


def load_corpus(args: argparse.Namespace, progress=None) -> Any:
    """Build or read the corpus chosen by the data options."""
    from ..datasets.corpus import build_corpus, parse_source

    kind, _ = parse_source(args.data)
    return build_corpus(
        args.data,
        synth_config=synth_config_from_args(args) if kind == "synthetic" else None,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        workers=args.workers,
        progress=progress,
    )


def train_config_from_args(args: argparse.Namespace, **overrides: Any) -> Any:
    from ..training import TrainConfig

    values = dict(
        epochs=args.epochs, seed=args.seed, normalization=args.normalization, device=args.device, batch_size=args.batch_size, lr=args.lr,
        n_windows=args.windows, d_model=args.d_model, context_windows=args.context_windows,
        patience=args.patience, crops_per_trial=args.crops,
        split=args.split, folds=args.folds, fold=args.fold, val_subjects=args.val_subjects,
        num_threads=args.threads, use_modality_queries=not args.no_modality_queries,
        use_category_queries=not args.no_category_queries,
        use_interference_queries=not args.no_interference_queries,
        regression=bool(getattr(args, "regression", False)),
        fusion=args.fusion, modality_dropout=args.modality_dropout, w_consistency=args.consistency,
        w_unimodal=getattr(args, "unimodal", 0.5), modality_evidence=not getattr(args, "no_modality_evidence", False),
        evidence_lr_scale=getattr(args, "evidence_lr_scale", 10.0),
        evidence_gate=not getattr(args, "no_evidence_gate", False),
        evidence_common=tuple(v.strip() for v in str(getattr(args, "evidence_common", "") or "").split(",")
                              if v.strip()),
        evidence_long=tuple(v.strip() for v in str(getattr(args, "evidence_long", "") or "").split(",")
                            if v.strip()),
        long_context_windows=getattr(args, "long_context", 30),
        evidence_long_gate=bool(getattr(args, "evidence_long_gate", False)),
        evidence_long_fill=bool(getattr(args, "evidence_long_fill", False)),
        w_gate=getattr(args, "gate_loss", 0.0),
        calibrate=not args.no_calibrate, init_from=getattr(args, "init_from", None),
        train_only=tuple(v.strip() for v in str(getattr(args, "train_only", "") or "").split(",") if v.strip()),
        lr_schedule=getattr(args, "lr_schedule", "cosine"), augment_ramp_steps=getattr(args, "augment_ramp", 0),
    )
    values.update(overrides)
    return TrainConfig(**values)


def _init_distributed() -> tuple[int, bool]:
    """Under torchrun: start the process group here so that rank 0 builds the corpus first."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, False
    import torch
    import torch.distributed as tdist

    if not tdist.is_initialized():
        tdist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return tdist.get_rank(), True


def run(args: argparse.Namespace) -> int:
    """Build the corpus, train, print where the checkpoint went."""
    from ..training import train

    out = Path(args.output)
    if getattr(args, "fit_evidence_spread", None):
        return _fit_evidence_spread(args, out)
    cfg = train_config_from_args(args)
    rank, distributed = _init_distributed()
    try:
        if distributed:
            import torch.distributed as tdist

            if rank == 0:
                corpus = load_corpus(args)
            tdist.barrier()
            if rank != 0:
                corpus = load_corpus(args)
            result = train(corpus, cfg, run_dir=out)
        else:
            with progress_bar("train") as bar:
                corpus = load_corpus(args, progress=scaled(bar, 0.0, 0.1))
                if corpus.max_windows < cfg.n_windows:
                    raise ConfigError(
                        f"Trials have {corpus.max_windows} windows, fewer than --windows {cfg.n_windows}: use "
                        "longer trials or a shorter context."
                    )
                result = train(corpus, cfg, run_dir=out, progress=scaled(bar, 0.1, 1.0))
        if rank == 0:
            spec = {**data_spec(args), "corpus_file": corpus.config.get("cache_file"), "corpus": corpus.describe()}
            (out / "data.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
            best = result.history[result.best_epoch - 1] if result.history else {}
            val = ", ".join(f"{k}={best[k]:.3f}" for k in ("val_acc_valence", "val_acc_arousal") if k in best)
            print(f"{corpus.describe()}")
            print(f"trained {cfg.variant} in {result.seconds:.0f} s ({result.windows_per_s:.0f} windows/s), best epoch "
                  f"{result.best_epoch}/{len(result.history)}; validation ({result.split.describe()}, simulated "
                  f"missing 0-{cfg.mask_rate_max:.0%}): {val or 'n/a'}")
            print(f"checkpoint: {result.checkpoint_dir}")
            if corpus.is_synthetic:
                print("[trained on SYNTHETIC data]")
    finally:
        if distributed:
            import torch.distributed as tdist

            if tdist.is_initialized():
                tdist.destroy_process_group()
    return 0


def _fit_evidence_spread(args: argparse.Namespace, out: Path) -> int:
    """``--fit-evidence-spread CHECKPOINT``: refit the evidence spread of a checkpoint without retraining."""
    from ..model.checkpoint import load_checkpoint
    from ..training import fit_checkpoint_evidence_spread

    src = Path(args.fit_evidence_spread)
    model, _ = load_checkpoint(src)
    if not getattr(model.config, "modality_evidence", False):
        raise ConfigError(f"The checkpoint {src} has no per-modality evidence read-outs: there is no spread to fit; "
                          "train a model with them (the default) first.")
    with progress_bar("evidence spread") as bar:
        corpus = load_corpus(args, progress=scaled(bar, 0.0, 0.5))
        spread, folder = fit_checkpoint_evidence_spread(corpus, src, out=out / "checkpoint", device=args.device)
    for group, row in zip(model.config.groups, spread):
        print(f"{group}: " + ", ".join(f"{t} {v:.3f}" for t, v in zip(model.config.targets, row)))
    print(f"checkpoint with the fitted evidence spread: {folder}")
    return 0
