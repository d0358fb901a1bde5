"""``mmqnet preprocess FILE -o OUT``: clean a recording and write the cleaned signals plus a JSON sidecar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError
from ..preprocessing import PreprocessConfig, preprocess, save_cleaned, steps_path
from ..preprocessing.export import FORMATS, ascii_names
from ..recording import Recording
from ._progress import progress_bar
from ._recording_args import (add_mask_options, add_modality_option, check_fits_memory, check_not_all_masked,
                              check_output, check_output_file, check_span, parse_modalities, print_step_warnings,
                              print_warnings)


def _load_recording(path: str, trial: int | None = None, modalities=None) -> Recording:
    """Open ``path`` with :func:`mmqnet_core.io.load_recording` (imported on use, keeps ``--help`` fast)."""
    from ..io import load_recording

    return load_recording(path, trial=trial, modalities=modalities)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``preprocess`` sub-command."""
    p = subparsers.add_parser(
        "preprocess",
        help="remove line noise and EOG, band-pass per modality, detect interference; write cleaned signals",
        description="Clean a recording (EDF/BDF, DEAP .dat, MAHNOB session folder) and write the cleaned signals "
        f"to OUT ({', '.join(FORMATS)}, chosen by extension) with a JSON sidecar OUT.json listing the steps "
        "and the interference spans (muscle, flat, jumps, NaN).",
    )
    p.add_argument("file", metavar="FILE", help="recording to clean")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (.fif, .npz, .edf or .bdf)")
    p.add_argument("--line-freq", type=float, choices=(50.0, 60.0), default=None, metavar="{50,60}",
                   help="power-line frequency in Hz (default: detected from the spectrum)")
    p.add_argument("--no-notch", action="store_true", help="do not remove power-line noise")
    p.add_argument("--sfreq", type=float, default=128.0, metavar="HZ",
                   help="output sampling rate in Hz (default 128; slower input keeps its rate)")
    p.add_argument("--eog", choices=("regression", "ica", "none"), default="regression",
                   help="EOG artifact removal (default regression)")
    p.add_argument("--filter", choices=("fir", "iir"), default="fir", dest="filter_method",
                   help="filter design (default fir)")
    p.add_argument("--start", type=float, default=0.0, metavar="S", help="start of the span, seconds")
    p.add_argument("--stop", type=float, default=None, metavar="S", help="end of the span, seconds (default: end)")
    p.add_argument("--trial", type=int, default=None, metavar="N", help="DEAP trial to clean (0-39, default 0)")
    add_modality_option(p)
    add_mask_options(p)
    p.add_argument("--raw", action="store_true", help="write the resampled but uncleaned signals instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = check_output(args.output, args.file)
    check_output(steps_path(out), args.file)
    check_span(args.start, args.stop)
    if out.suffix.lower() not in FORMATS:
        raise ConfigError(
            f"Cannot write {out.name!r}: unknown extension {out.suffix!r}; use one of {', '.join(FORMATS)}."
        )
    check_output_file(out, make_folder=False)  # a folder in the way, read-only, missing: said before the cleaning
    config = PreprocessConfig(line_freq=args.line_freq, notch=not args.no_notch, target_sfreq=args.sfreq,
                              eog_method=args.eog, filter_method=args.filter_method)
    recording = _load_recording(args.file, args.trial, parse_modalities(args.modality))
    print_warnings(recording)
    from ..masking import masks_for

    masks, mask_note = masks_for(args.file, recording, masks=args.masks, no_masks=args.no_masks)
    check_not_all_masked(recording, masks, mask_note, args.start, args.stop)
    check_fits_memory(recording, args.start, args.stop)
    with progress_bar(f"preprocess {Path(args.file).name}") as cb:
        result = preprocess(recording, config, masks=masks, start_s=args.start, stop_s=args.stop, progress=cb)
    print_step_warnings(result.steps)
    save_cleaned(result, out, recording=recording, which="raw" if args.raw else "cleaned")
    kinds: dict[str, int] = {}
    for a in result.interference:
        kinds[a.description] = kinds.get(a.description, 0) + 1
    found = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    synthetic = " (SYNTHETIC data)" if recording.is_synthetic else ""
    print(f"{recording.title}: {result.cleaned.n_channels} channels, {result.cleaned.duration_s:.1f} s at "
          f"{result.sfreq:g} Hz{synthetic}, {mask_note}")
    for step in result.steps:
        print(f"  - {step}")
    print(f"interference spans: {found}")
    if FORMATS[out.suffix.lower()] != "npz":
        renamed = [f"{a!r} -> {b!r}" for a, b in zip(result.cleaned.ch_names, ascii_names(result.cleaned.ch_names))
                   if a != b]
        if renamed:
            print(f"channel names written in ASCII ({out.suffix} stores no other): {', '.join(renamed)}")
    print(f"wrote {out} and {steps_path(out)}", file=sys.stdout)
    return 0
