"""``mmqnet evaluate --data ... (--run RUN_DIR | --train) -o OUT``: robustness table under missing data.

Prints accuracy of valence/arousal per method and simulated missing rate (the split is stated in the table's
heading) and writes ``evaluation.csv``, ``summary.csv``, ``evaluation.png`` and ``evaluation.txt`` into OUT.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from ..check import safe_text
from ..errors import ConfigError
from ..progress import scaled
from ._progress import progress_bar
from .cmd_train import add_data_args, add_train_args, load_corpus, train_config_from_args


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command to ``sub``."""
    from ..evaluation import ALL_METHODS, DEFAULT_RATES

    p = sub.add_parser(
        "evaluate",
        help="evaluate MMQ-Net, ablations and baselines under simulated missing data",
        description="Accuracy and macro-F1 of valence/arousal at simulated missing rates on held-out trials, for "
        "a trained run (--run) or for models trained here (--train): MMQ-Net, its ablations, zero-fill / "
        "mean-impute encoders, a logistic regression, a linear model on 8-s context features and late fusion of "
        "per-modality classifiers, under random missingness, whole modalities missing and long gaps; calibration "
        "(ECE, Brier); reconstruction error vs mean imputation, linear interpolation and MNE's spherical splines. "
        "Every figure states its split.",
    )
    add_data_args(p, required=False)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="folder for the CSV, PNG and text table")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", metavar="RUN_DIR", help="a run folder written by 'mmqnet train'")
    which.add_argument("--checkpoint", metavar="DIR",
                       help="a checkpoint folder (model.safetensors + config.json, e.g. resources/checkpoint): its "
                       "stored training configuration gives the split, fold and normalisation, and the corpus it "
                       "records (--corpus) is the default data")
    which.add_argument("--train", action="store_true", help="train every method here (slow)")
    which.add_argument("--reuse", metavar="OUT_DIR", nargs="+",
                       help="evaluate again the models earlier 'evaluate --train -o OUT_DIR' runs trained "
                       "(OUT_DIR/runs/fold<K>/<method>/; several folders, e.g. one per fold, are merged), without "
                       "training; give the same --data")
    p.add_argument("--rates", type=_floats, default=DEFAULT_RATES, metavar="R,R,...",
                   help="simulated missing rates (default 0,0.1,0.3,0.5,0.7)")
    p.add_argument("--scenarios", default="modalities,gaps", metavar="NAME,...",
                   help="further conditions: 'modalities' (EEG missing, every peripheral channel missing, each "
                   "peripheral modality missing), 'gaps' (contiguous 10-60 s gaps of one modality) and, for synthetic data "
                   "only, 'artifacts' (the test trials regenerated with 4 x the artifact rate, and with 1 x as its "
                   "paired reference; a few minutes more), 'channels' (a random half of the EEG channels of every trial "
                   "missing), 'uncleaned' (synthetic only: the same two rebuilds without artifact removal -- no "
                   "EOG regression, no notch -- so that blinks and line noise reach the features); 'none' for random "
                   "missingness only (default modalities,gaps)")
    p.add_argument("--eval-folds", type=_ints, default=None, metavar="K,K,...",
                   help="folds to evaluate (default: the run's fold / --fold)")
    p.add_argument("--methods", default=None, metavar="NAME,NAME,...",
                   help="methods (default with --run and --reuse: the trained models and the fitted baselines; with "
                   "--train: all): "
                   + ", ".join(ALL_METHODS))
    p.add_argument("--mask-seed", type=int, default=0, help="seed of the test-time masks (default 0)")
    p.add_argument("--corpus", default=None, metavar="FILE|KEY|current",
                   help="the feature corpus to evaluate on: a corpus .npz file, the key of a pinned corpus (rebuilt, "
                   "when not cached, by the code of the git commit that built it; e.g. "
                   "c63d33c010288eda85b4, the shipped checkpoint's) or 'current' (built by this code from the data "
                   "options). Default with --checkpoint: the pinned corpus the checkpoint records, else 'current'")
    add_train_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the corpus, get the models, evaluate, print and save the table."""
    from ..evaluation import ALL_METHODS, TrainedModel, evaluate, format_table, write_report
    from ..evaluation.protocol import FITTED_BASELINES, SCENARIOS
    from ..training import TrainConfig

    scenarios = tuple(v.strip() for v in str(args.scenarios).split(",") if v.strip() and v.strip() != "none")
    bad = [v for v in scenarios if v not in SCENARIOS]
    if bad:
        raise ConfigError(f"Invalid value for '--scenarios': allowed {', '.join(SCENARIOS)} or none, got {bad}.")
    _check_early(args)

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    trained = {}
    corpus_file = None
    if args.run:
        run_dir = Path(args.run)
        cfg_file, data_file = run_dir / "config.json", run_dir / "data.json"
        if not cfg_file.is_file():
            raise ConfigError(f"{run_dir} is not a run folder of 'mmqnet train' (no config.json).")
        base = TrainConfig.from_dict(json.loads(cfg_file.read_text(encoding="utf-8")))
        if args.data is None:
            if not data_file.is_file():
                raise ConfigError(f"{run_dir} has no data.json: give --data (and the synthetic size options).")
            spec = json.loads(data_file.read_text(encoding="utf-8"))
            args.data = spec["data"]
            # the very corpus the run was trained on (its held-out subjects are the test side), when still cached
            if spec.get("corpus_file") and Path(spec["corpus_file"]).is_file() and not args.no_cache:
                corpus_file = Path(spec["corpus_file"])
            for key in ("subjects", "trials", "trial_s", "data_seed"):
                if key in spec:
                    setattr(args, key, spec[key])
        from ..model.checkpoint import load_checkpoint

        model, meta = load_checkpoint(run_dir / "checkpoint")
        if meta.normalizer is None:
            raise ConfigError(f"The checkpoint in {run_dir} has no feature normaliser; retrain it with 'mmqnet train'.")
        trained[base.variant] = TrainedModel(model, meta.normalizer, base)
        methods = (base.variant, *FITTED_BASELINES)
        corpus_file = _corpus_option(args, corpus_file)
        # ablations trained here reuse the run's options but may get other epochs from the command line
        base = dataclasses.replace(base, epochs=args.epochs if args.epochs != 30 else base.epochs)
    elif args.checkpoint:
        from ..model.checkpoint import load_checkpoint

        model, meta = load_checkpoint(args.checkpoint)
        stored = meta.extra.get("train_config")
        if not isinstance(stored, dict):
            raise ConfigError(f"The checkpoint in {args.checkpoint} has no stored training configuration "
                              "(config.json: extra.train_config); evaluate its run folder with --run.")
        if meta.normalizer is None:
            raise ConfigError(f"The checkpoint in {args.checkpoint} has no feature normaliser; retrain it with "
                              "'mmqnet train'.")
        base = TrainConfig.from_dict(stored)
        trained[base.variant] = TrainedModel(model, meta.normalizer, base)
        methods = (base.variant, *FITTED_BASELINES)
        recorded = meta.extra.get("training_corpus") or {}
        if args.corpus is None and args.data is None and recorded.get("pinned"):  # --data given: that data
            args.corpus = str(recorded["key"])
        if args.data is None:
            args.data = str(meta.extra.get("training_data") or "synthetic")
        corpus_file = _corpus_option(args, None)
        if corpus_file is not None:
            print(f"corpus: {corpus_file} (the checkpoint was trained on corpus {recorded.get('key', 'not recorded')})")
    elif args.reuse:
        corpus_file = _corpus_option(args, None)
        if args.data is None:
            raise ConfigError("Give --data with --reuse (the data the models were trained on, e.g. --data synthetic).")
        trained_folds, base = _reuse_runs([Path(d) for d in args.reuse])
        if args.eval_folds is None:
            args.eval_folds = tuple(sorted(trained_folds))
        missing = [k for k in args.eval_folds if k not in trained_folds]
        if missing:
            raise ConfigError(f"No trained models for fold(s) {missing} in {', '.join(args.reuse)} (found folds "
                              f"{sorted(trained_folds)}); train them with 'mmqnet evaluate --train --fold K'.")
        names = list(dict.fromkeys(m for k in args.eval_folds for m in trained_folds[k]))
        methods = (*names, *FITTED_BASELINES)
    else:
        corpus_file = _corpus_option(args, None)
        if args.data is None:
            raise ConfigError("Give --data with --train (e.g. --data synthetic).")
        base = train_config_from_args(args)
        methods = ALL_METHODS
    if args.methods:
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    folds = args.eval_folds if args.eval_folds is not None else (base.fold,)
    out = Path(args.output)
    with progress_bar("evaluate") as bar:
        if corpus_file is not None:
            corpus = _load_corpus_file(corpus_file, named=args.corpus)
        else:
            corpus = load_corpus(args, progress=scaled(bar, 0.0, 0.1))
        table = evaluate(corpus, train_config=base, methods=methods, missing_rates=args.rates, scenarios=scenarios,
                         folds=folds,
                         trained=trained, trained_folds=trained_folds if args.reuse else None,
                         run_dir=out / "runs" if args.train else None, seed=args.mask_seed,
                         progress=scaled(bar, 0.1, 1.0))
    title = f"{corpus.describe()}"
    paths = write_report(table, out, title=("SYNTHETIC " if corpus.is_synthetic else "") + "evaluation")
    print(title)
    print(format_table(table))
    print(f"wrote {paths['csv']}, {paths['summary']}, {paths['png']}")
    if corpus.is_synthetic:
        print("[SYNTHETIC DATA: figures measure the method on the synthetic benchmark, not on real recordings]")
    return 0


def _load_corpus_file(path: Path, named: str | None) -> Any:
    """Read the corpus file; one the user named with --corpus that is not a corpus is said as such (the cache's
    advice "Delete it to rebuild" told the user to delete the file they had given, a recording for instance)."""
    from ..datasets.corpus import Corpus
    from ..datasets.pinned import PINNED
    from ..errors import MMQNetError

    try:
        return Corpus.load(path)
    except MMQNetError:
        if named is None or named in PINNED or named == "current":
            raise
        raise ConfigError(f"Invalid value for '--corpus': {safe_text(str(path))} is not a corpus file of MMQ-Net "
                          "Studio (a .npz of feature arrays with their metadata, written by 'mmqnet train' or "
                          "'mmqnet evaluate'); give such a file, a pinned corpus key or 'current'.") from None


def _check_early(args: argparse.Namespace) -> None:
    """The options that are only read at the end (the output folder, the rates, the methods) or by the corpus build
    (the data folder), checked before anything is built: a pinned corpus takes 8-18 minutes, a training hours, and
    a typo in one of them was said only after that."""
    import math

    from ..datasets.corpus import parse_source
    from ..evaluation import ALL_METHODS
    from ..evaluation.protocol import LONG_BASELINES
    from ._recording_args import check_output_folder

    check_output_folder(args.output)
    for r in args.rates:
        if not (math.isfinite(r) and 0.0 <= r <= 0.9):
            raise ConfigError(f"Invalid value for '--rates': each rate must be 0 to 0.9, got {r:g}.")
    if args.methods:
        known = (*ALL_METHODS, *LONG_BASELINES)
        unknown = [m.strip() for m in args.methods.split(",") if m.strip() and m.strip() not in known]
        if unknown and not args.reuse:  # (--reuse may name the models it finds)
            raise ConfigError(f"Invalid value for '--methods': unknown {unknown}; allowed: {', '.join(known)}.")
    if args.data is not None:
        kind, folder = parse_source(args.data)
        if folder is not None and not folder.is_dir():
            raise ConfigError(f"Invalid value for '--data': {folder} is not a folder (give the folder that holds the "
                              f"{'sNN.dat files' if kind == 'deap' else 'session folders'}).")


def _corpus_option(args: argparse.Namespace, default: Path | None) -> Path | None:
    """The corpus file that ``--corpus`` names (None: build the current code's corpus from the data options)."""
    from ..datasets.pinned import PINNED, build_pinned

    value = getattr(args, "corpus", None)
    if value is None:
        return default
    if value == "current":
        return None
    if value in PINNED:
        import sys

        path = build_pinned(value, cache_dir=args.cache_dir, workers=args.workers,
                            log=lambda msg: print(msg, file=sys.stderr, flush=True))
    else:
        path = Path(value)
        if not path.is_file():
            raise ConfigError(f"Invalid value for '--corpus': {value!r} is neither a corpus file, nor a pinned corpus "
                              f"({', '.join(PINNED)}), nor 'current'.")
    if args.data is None:
        args.data = "synthetic"
    return path


def _reuse_runs(out_dirs: list[Path]):
    """The models earlier ``evaluate --train -o DIR`` runs trained, per fold: ({fold: {method: TrainedModel}},
    base config — MMQ-Net's when there is one)."""
    import re

    from ..evaluation import MODEL_VARIANTS, TrainedModel
    from ..evaluation.protocol import _slug
    from ..model.checkpoint import load_checkpoint
    from ..training import TrainConfig

    by_fold: dict[int, dict] = {}
    configs = {}
    for out_dir in out_dirs:
        for folder in sorted((out_dir / "runs").glob("fold*")):
            m = re.fullmatch(r"fold(\d+)", folder.name)
            if not m or not folder.is_dir():
                continue
            fold = int(m.group(1))
            for name in MODEL_VARIANTS:
                run = folder / _slug(name)
                if not (run / "config.json").is_file() or not (run / "checkpoint").exists():
                    continue
                cfg = TrainConfig.from_dict(json.loads((run / "config.json").read_text(encoding="utf-8")))
                model, meta = load_checkpoint(run / "checkpoint")
                if meta.normalizer is None:
                    raise ConfigError(f"The checkpoint in {run} has no feature normaliser; train it again.")
                if name in by_fold.get(fold, {}):
                    raise ConfigError(f"Two trained {name!r} models for fold {fold} (the second in {run}); "
                                      "give each fold's folder once.")
                by_fold.setdefault(fold, {})[name] = TrainedModel(model, meta.normalizer, cfg)
                configs.setdefault(name, cfg)
    if not by_fold:
        where = ", ".join(str(d / "runs" / "fold0" / _slug("MMQ-Net") / "checkpoint") for d in out_dirs)
        raise ConfigError(f"No trained model found (expected e.g. {where}): give the -o folder of an earlier "
                          "'mmqnet evaluate --train'.")
    base = configs.get("MMQ-Net", next(iter(configs.values())))
    return by_fold, base
