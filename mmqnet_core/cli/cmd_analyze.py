"""``mmqnet analyze FILE [--masks masks.json] [--checkpoint DIR] -o OUT``: analyse a recording with MMQ-Net."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..errors import ConfigError
from ..progress import scaled
from ._progress import progress_bar
from ._recording_args import (add_modality_option, check_fits_memory, check_output, check_span, parse_modalities,
                              print_warnings)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``analyze`` sub-command to ``sub``."""
    p = sub.add_parser(
        "analyze",
        help="valence/arousal trajectories, reconstructions and attention maps of a recording",
        description="Load a recording, preprocess it, extract features on the model's token layout, apply the "
        "masks and run MMQ-Net over the whole recording. Writes trajectories.csv/.parquet, reconstructions.npz, "
        "attention.npz and summary.json into OUT.",
    )
    p.add_argument("path", metavar="FILE", help="EDF/BDF file, DEAP sNN.dat file or MAHNOB-HCI session folder")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    p.add_argument("--masks", default=None, metavar="JSON",
                   help="mask file (default: the recording's sidecar <FILE>.masks.json when it exists)")
    p.add_argument("--no-masks", action="store_true", help="ignore the sidecar mask file")
    p.add_argument("--checkpoint", default=None, metavar="DIR", help="checkpoint folder (default: the shipped one)")
    p.add_argument("--trial", type=int, default=None, metavar="N", help="DEAP trial (0-39)")
    add_modality_option(p)
    p.add_argument("--start", type=float, default=0.0, metavar="S", help="analyse from this time, s")
    p.add_argument("--stop", type=float, default=None, metavar="S", help="analyse up to this time, s")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    p.add_argument("--mc-samples", type=int, default=0, metavar="N",
                   help="Monte-Carlo uncertainty: also run the model N times (N >= 2) with its dropout / "
                   "stochastic-depth layers on and write the mean probability and its standard deviation "
                   "(<target>_std columns); N times slower. Default 0: one deterministic pass, entropy only")
    p.add_argument("--mc-seed", type=int, default=0, metavar="SEED",
                   help="seed of the Monte-Carlo samples (default 0; the same seed gives the same result)")
    p.add_argument("--subject-files", nargs="+", default=[], metavar="FILE",
                   help="other recordings of the same subject (EDF/BDF files, DEAP .dat files, MAHNOB-HCI session "
                   "folders; put this option after FILE): a per-subject model then normalises FILE with the "
                   "statistics of all of them. A DEAP file's trials and the MAHNOB-HCI sessions of the same subject "
                   "beside a session folder are used without it (a cap on their number is printed when reached)")
    p.add_argument("--own-statistics", action="store_true",
                   help="per-subject model: normalise the recording with its own statistics instead of those of the "
                   "subject's other trials/sessions (no DEAP trials, no MAHNOB sibling sessions, no --subject-files)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Analyse and save; errors propagate to :func:`mmqnet_core.cli.main`."""
    from ..inference import analyze, load_model, subject_recordings_for, subject_statistics
    from ..inference.engine import check_mc_samples
    from ..io import load_recording
    from ..masking import MaskSet, sidecar_path

    if args.subject_files and args.own_statistics:
        raise ConfigError("Invalid options: --subject-files and --own-statistics contradict each other (the first "
                          "adds the subject's other recordings to the statistics, the second uses none); give one.")
    check_output(args.output, args.path)
    check_span(args.start, args.stop)
    lines: list[str] = []
    with progress_bar("analyze") as bar:
        model = load_model(args.checkpoint, device=args.device)
        check_mc_samples(model.model, args.mc_samples)  # a clear error before the recording is loaded
        rec = load_recording(args.path, trial=args.trial, modalities=parse_modalities(args.modality), progress=scaled(bar, 0.0, 0.1))
        print_warnings(rec)
        check_fits_memory(rec, args.start, args.stop)
        masks, mask_note = None, "no masks"
        if args.masks:
            masks, mask_note = MaskSet.load(args.masks), f"masks from {args.masks}"
        elif not args.no_masks:
            side = sidecar_path(args.path)
            if side.is_file():
                masks, mask_note = MaskSet.load(side), f"masks from {side}"
        stats, found = None, None
        if model.normalization != "global" and not args.own_statistics:
            # A short recording is often one emotional state: a per-subject model normalises it with the
            # statistics of the subject's other recordings too (a DEAP file's trials, the MAHNOB sessions of the
            # subject beside it, --subject-files), as it was trained, not with its own alone.
            found = subject_recordings_for(rec, args.subject_files, progress=scaled(bar, 0.1, 0.15))
            if found is not None:
                stats = subject_statistics(found.recordings, model, progress=scaled(bar, 0.15, 0.5))
                lines.append(found.description)
                lines += [f"note: {n}" for n in found.notes]
            elif rec.source_format == "mahnob":
                lines.append(f"no other rated session of subject {rec.subject or '?'} beside {rec.source}: "
                             "normalised with the session's own statistics")
        elif args.subject_files:
            lines.append("note: --subject-files not used: the model normalises every recording with the training "
                         "subjects' statistics (global normalisation)")
        result = analyze(rec, masks, model, start_s=args.start, stop_s=args.stop, subject_statistics=stats,
                         mc_samples=args.mc_samples, mc_seed=args.mc_seed,
                         progress=scaled(bar, 0.5 if stats is not None else 0.1, 0.97))
        if found is not None:
            result = dataclasses.replace(result, steps=tuple(result.steps) + found.steps)
        paths = result.save(Path(args.output))
    s = result.summary()
    probs = ", ".join(f"{k} {v:.2f}" for k, v in s["mean_probability_high"].items() if v is not None)
    print(f"{result.title}: {result.n_windows} windows of {result.window_s:g} s, {mask_note}, "
          f"{s['hidden_fraction']:.0%} of tokens hidden")
    print(f"model: {result.model_description}")
    for line in lines:
        print(line)
    print(f"mean probability of high {probs}")
    if result.probability_std is not None:
        spread = ", ".join(f"{k} {v:.3f}" for k, v in s["mean_probability_std"].items() if v is not None)
        print(f"uncertainty: {result.mc_samples} Monte-Carlo samples (seed {args.mc_seed}); mean std of the "
              f"probability {spread}")
    print("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    if result.is_synthetic or model.is_synthetic:
        print("[SYNTHETIC: " + ("recording is synthetic; " if result.is_synthetic else "")
              + ("model trained on synthetic data]" if model.is_synthetic else "]"))
    return 0
