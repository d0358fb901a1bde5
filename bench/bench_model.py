"""Benchmark of MMQ-Net on the CPU: analysis of one hour of recording, and training throughput.

1. *Analysis*: a 1-hour, 40-channel SYNTHETIC BDF session (``make_sample_recording``, 128 Hz by default, cached
   in the bench cache folder) goes through ``load_recording -> analyze`` (preprocess, features, model with
   reconstructions and attention maps). Times per stage. Targets: the hour in < 10 s, inference < 2 s. Before
   it, the cleaning alone stage by stage (target at ``--sfreq 512``: <= 8 s on 2 cores) with the peak memory,
   and after it a second analysis whose cleaning comes from the cache (as after the app's display cleaning).
2. *Training*: one epoch of :func:`mmqnet_core.training.train` on the DEAP-sized SYNTHETIC corpus (32 subjects
   x 40 trials x 60 s; built once and cached by ``build_corpus``, which can take several minutes). Reports the
   epoch time and windows/s. Target: an epoch in < 60 s.

The model is the checkpoint given with ``--checkpoint`` (default: the shipped one), else an untrained model of
the default size (timings do not depend on the weights).

Run: ``.venv/bin/python bench/bench_model.py [--sfreq 512] [--threads 2] [--skip-train] [--skip-analysis]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _model(checkpoint: str | None, features_like):
    from mmqnet_core.features import FeatureConfig
    from mmqnet_core.inference import default_checkpoint_path, load_model, model_from_parts
    from mmqnet_core.model import CheckpointMeta, MMQNet, MMQNetConfig, Normalizer

    path = checkpoint or default_checkpoint_path()
    if path is not None:
        return load_model(path, device="cpu"), f"checkpoint {path}"
    cfg = MMQNetConfig.for_feature_set(features_like, n_windows=8)
    meta = CheckpointMeta(config=cfg, normalizer=Normalizer.fit(features_like.values, features_like.missing),
                          extra={"training_data": "synthetic", "feature_config": FeatureConfig().to_dict()})
    return model_from_parts(MMQNet(cfg).eval(), meta), "untrained default-size model (no checkpoint found)"


def bench_analysis(args) -> dict:
    from mmqnet_core.datasets.synthetic import make_sample_recording
    from mmqnet_core.features import DEAP_LAYOUT, extract_features
    from mmqnet_core.inference import analyze
    from mmqnet_core.io import load_recording
    from mmqnet_core.masking import MaskSet, SegmentMask
    from mmqnet_core.preprocessing import CleaningCache, preprocess

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"synthetic_hour_{int(args.sfreq)}hz.bdf"
    if not path.is_file():
        t0 = time.perf_counter()
        make_sample_recording(path, duration_s=3600.0, sfreq=args.sfreq, seed=0)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
    # a model needs a feature layout: take it from one minute of the same file
    rec = load_recording(path)
    short = preprocess(rec, stop_s=60.0)
    model, what = _model(args.checkpoint, extract_features(short.cleaned, layout=DEAP_LAYOUT))
    masks = MaskSet().with_channel("Fp1").with_segment(SegmentMask(600.0, 900.0, ("GSR", "Resp")))

    # 1. cleaning alone, stage by stage (the progress messages mark the stages), with the masks as missing data
    rec = load_recording(path)
    marks: list[tuple[float, float, str]] = []
    t0, c0 = time.perf_counter(), time.process_time()
    pre = preprocess(rec, model.preprocess_config, masks=masks,
                     progress=lambda f, m: marks.append((time.perf_counter(), time.process_time(), m)))
    t_clean, c_clean = time.perf_counter() - t0, time.process_time() - c0
    load = os.getloadavg()[0]
    print(f"\n== cleaning of 1 h, {rec.n_channels} channels at {rec.sfreq:g} Hz -> {pre.sfreq:g} Hz "
          f"(masks: Fp1 + a 300-s segment on GSR/Resp) ==")
    print(f"  {'stage':<32} {'wall':>6}   {'CPU':>6}")
    for (ta, ca, msg), (tb, cb, _) in zip(marks, marks[1:]):
        print(f"  {msg:<32} {tb - ta:6.2f} s {cb - ca:6.2f} s")
    print(f"  {'total':<32} {t_clean:6.2f} s   (target <= 8 s at 512 Hz on 2 cores)")
    print(f"  CPU time {c_clean:.2f} s (all threads); 1-min load average {load:.1f} on {os.cpu_count()} cores "
          "(wall time above ~CPU time when the machine is shared)")
    print(f"  peak memory so far {_peak_mb():.0f} MB (ru_maxrss)")
    del pre
    if args.clean_only:
        return {"clean": t_clean, "clean_cpu": c_clean}

    # 2. the whole analysis, cleaning included (a fresh cache: nothing to reuse)
    t0 = time.perf_counter()
    rec = load_recording(path)
    t_load = time.perf_counter() - t0
    cache = CleaningCache()
    result = analyze(rec, masks, model, batch_size=args.batch_size, cache=cache)
    total = time.perf_counter() - t0
    stages = {"load": t_load, **result.timings}
    print(f"\n== analysis of 1 h, {rec.n_channels} channels at {rec.sfreq:g} Hz ({what}), "
          f"torch threads {torch.get_num_threads()} ==")
    for k, v in stages.items():
        print(f"  {k:<11} {v:7.2f} s")
    print(f"  {'total':<11} {total:7.2f} s   (target < 10 s; inference target < 2 s)  "
          f"[{result.n_windows} windows, {result.n_windows / max(stages['inference'], 1e-9):.0f} windows/s "
          "in the model stage]")
    # 3. again, as after the app's display cleaning: the cleaning comes from the cache
    t0 = time.perf_counter()
    lean = analyze(rec, masks, model, batch_size=args.batch_size, attention=False, cache=cache)
    cleaning = lean.timings.get("preprocess", lean.timings.get("preprocess+features", float("nan")))
    how = "cleaning reused from the cache" if "preprocess" in lean.timings else "streamed again (long span)"
    print(f"  (run again without attention maps, {how}: cleaning {cleaning:.3f} s, inference "
          f"{lean.timings['inference']:.2f} s, total {time.perf_counter() - t0:.2f} s)")
    print(f"  peak memory {_peak_mb():.0f} MB (ru_maxrss of the process)")
    return {"total": total, "clean": t_clean, **stages, "inference_no_attention": lean.timings["inference"]}


def bench_clean_files(paths: list[str]) -> None:
    """The streamed cleaning of whole files as the analysis runs it (fit, then 10-minute pieces without the raw
    copy): wall and CPU time per recorded hour, and per piece (constant when nothing grows with the length)."""
    from mmqnet_core.io import load_recording
    from mmqnet_core.preprocessing import PreprocessConfig
    from mmqnet_core.preprocessing.streaming import SpanCollector, fit_cleaning, iter_clean

    print("\n== streamed cleaning (fit + 10-min pieces, as in the analysis) ==")
    for path in paths:
        rec = load_recording(path)
        hours = rec.duration_s / 3600
        t0, c0 = time.perf_counter(), time.process_time()
        fit = fit_cleaning(rec, PreprocessConfig())
        t_fit, c_fit = time.perf_counter() - t0, time.process_time() - c0
        spans, per = SpanCollector(fit, rec), []
        t1, c1 = time.perf_counter(), time.process_time()
        for _ in iter_clean(rec, fit, collector=spans):
            t2, c2 = time.perf_counter(), time.process_time()
            per.append((t2 - t1, c2 - c1))
            t1, c1 = t2, c2
        spans.annotations()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        w = np.asarray(per)
        print(f"  {Path(path).name}: {hours:.2f} h, {rec.n_channels} ch at {rec.sfreq:g} Hz: {wall:.1f} s wall "
              f"({wall / hours:.2f} s per recorded hour), CPU {cpu:.1f} s ({cpu / hours:.2f} s/h); fit {t_fit:.2f} s "
              f"(CPU {c_fit:.2f}); {len(per)} pieces: wall {w[:, 0].mean():.2f} s each ({w[:, 0].min():.2f}-"
              f"{w[:, 0].max():.2f}), CPU {w[:, 1].mean():.2f} s ({w[:, 1].min():.2f}-{w[:, 1].max():.2f}); "
              f"load {os.getloadavg()[0]:.1f}; peak memory so far {_peak_mb():.0f} MB")


def _peak_mb() -> float:
    """Peak resident memory of this process, MB (Linux reports ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_training(args) -> dict:
    from mmqnet_core.datasets.corpus import build_corpus
    from mmqnet_core.training import TrainConfig, train

    t0 = time.perf_counter()
    corpus = build_corpus("synthetic", workers=args.workers)
    t_corpus = time.perf_counter() - t0
    print(f"\n== training on {corpus.describe()} ==")
    print(f"  corpus ready in {t_corpus:.1f} s (cache: {corpus.config.get('cache_file')})")
    cfg = TrainConfig(epochs=1, seed=0, num_threads=args.threads, device="cpu")
    res = train(corpus, cfg)
    row = res.history[0]
    train_s = row["epoch_s"]
    n_train = len(res.split.train)
    print(f"  one epoch: {train_s:.1f} s incl. validation ({n_train} training trials, {res.split.describe()}); "
          f"{res.windows_per_s:.0f} windows/s in the training steps (target: epoch < 60 s)")
    return {"corpus_s": t_corpus, "epoch_s": train_s, "windows_per_s": res.windows_per_s}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sfreq", type=float, default=128.0, help="rate of the 1-h BDF, Hz (128 or 512)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--batch-size", type=int, default=64, help="contexts per forward pass in analysis")
    p.add_argument("--workers", type=int, default=None, help="corpus build processes")
    p.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped one)")
    p.add_argument("--cache", default=os.environ.get("MMQNET_BENCH_CACHE", str(Path.home() / ".cache" / "mmqnet"
                                                                                / "bench")))
    p.add_argument("--skip-analysis", action="store_true")
    p.add_argument("--skip-train", action="store_true")
    p.add_argument("--clean-only", action="store_true", help="analysis part: only time the cleaning")
    p.add_argument("--clean-files", nargs="+", default=None, metavar="FILE",
                   help="instead: time the streamed cleaning of these recordings per recorded hour (e.g. the 1-h "
                        "and 4-h files bench/bench_scale.py writes)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    np.seterr(all="ignore")
    if args.clean_files:
        bench_clean_files(args.clean_files)
        return 0
    if not args.skip_analysis:
        bench_analysis(args)
    if not args.skip_train:
        bench_training(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
