"""``mmqnet analyze FILE [--masks masks.json] [--checkpoint DIR] -o OUT``: analyse a recording with MMQ-Net."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..progress import scaled
from ._progress import progress_bar
from ._recording_args import add_modality_option, parse_modalities


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
    p.add_argument("--own-statistics", action="store_true",
                   help="DEAP file with a per-subject model: normalise the trial with its own statistics instead of "
                   "those of all the subject's trials in the file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Analyse and save; errors propagate to :func:`mmqnet_core.cli.main`."""
    from ..inference import analyze, load_model, subject_statistics
    from ..io import load_deap_subject, load_recording
    from ..masking import MaskSet, sidecar_path

    with progress_bar("analyze") as bar:
        model = load_model(args.checkpoint, device=args.device)
        rec = load_recording(args.path, trial=args.trial, modalities=parse_modalities(args.modality), progress=scaled(bar, 0.0, 0.1))
        masks, mask_note = None, "no masks"
        if args.masks:
            masks, mask_note = MaskSet.load(args.masks), f"masks from {args.masks}"
        elif not args.no_masks:
            side = sidecar_path(args.path)
            if side.is_file():
                masks, mask_note = MaskSet.load(side), f"masks from {side}"
        stats = None
        if rec.source_format == "deap" and model.normalization != "global" and not args.own_statistics:
            # One DEAP trial is one emotional state: normalise it with the statistics of all the subject's
            # trials in the file, as the model was trained (per subject), not with its own.
            trials = load_deap_subject(args.path, modalities=parse_modalities(args.modality))
            stats = subject_statistics(trials, model, progress=scaled(bar, 0.1, 0.5))
        result = analyze(rec, masks, model, start_s=args.start, stop_s=args.stop, subject_statistics=stats,
                         progress=scaled(bar, 0.5 if stats is not None else 0.1, 0.97))
        paths = result.save(Path(args.output))
    s = result.summary()
    probs = ", ".join(f"{k} {v:.2f}" for k, v in s["mean_probability_high"].items() if v is not None)
    print(f"{result.title}: {result.n_windows} windows of {result.window_s:g} s, {mask_note}, "
          f"{s['hidden_fraction']:.0%} of tokens hidden")
    print(f"model: {result.model_description}")
    print(f"mean probability of high {probs}")
    print("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    if result.is_synthetic or model.is_synthetic:
        print("[SYNTHETIC: " + ("recording is synthetic; " if result.is_synthetic else "")
              + ("model trained on synthetic data]" if model.is_synthetic else "]"))
    return 0
