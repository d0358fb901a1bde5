"""``mmqnet features FILE -o OUT.parquet|csv``: load, clean and featurise a recording, write a feature table."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..progress import scaled
from ._progress import progress_bar
from ._recording_args import (add_mask_options, add_modality_option, check_fits_memory, check_not_all_masked,
                              check_output, check_output_file, parse_modalities, print_step_warnings, print_warnings)

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``features`` sub-command to ``sub``."""
    p = sub.add_parser(
        "features",
        help="compute window features of a recording",
        description="Load a recording, preprocess it (line noise, EOG/EMG cleaning, interference detection) and "
        "write per-window features (EEG differential entropy and band PSD, peripheral features) as a long "
        "table: window_start, token, channel, modality, feature, unit, value, missing, interference, synthetic.",
    )
    p.add_argument("path", metavar="FILE", help="EDF/BDF file, DEAP sNN.dat file or MAHNOB-HCI session folder")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output table: .parquet or .csv")
    p.add_argument("--window", type=float, default=1.0, metavar="S", help="window length in seconds (default 1)")
    p.add_argument("--step", type=float, default=None, metavar="S", help="hop between windows, s (default: window)")
    p.add_argument("--delta", action="store_true", help="also compute the EEG delta band (1-4 Hz)")
    p.add_argument("--layout", choices=("auto", "deap"), default="auto",
                   help="tokens: one per channel (auto) or the 40 DEAP channels (deap)")
    p.add_argument("--wide", action="store_true", help="one row per window instead of the long table")
    p.add_argument("--no-preprocess", action="store_true", help="featurise the signals as loaded")
    p.add_argument("--trial", type=int, default=None, metavar="N", help="DEAP trial (0-39)")
    add_modality_option(p)
    add_mask_options(p)
    p.add_argument("--allow-no-eeg", action="store_true",
                   help="featurise a recording without EEG channels (peripheral features only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the pipeline and write the table; errors propagate to :func:`mmqnet_core.cli.main`."""
    from ..features import DEAP_LAYOUT, FeatureConfig, extract_features
    from ..fileio import atomic_path
    from ..io import check_has_eeg, load_recording
    from ..recording import Signals

    out = check_output(args.output, args.path)
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ConfigError(f"Invalid output file {str(out)!r}: use a .parquet or .csv extension.")
    check_output_file(out)  # a folder in the way, a read-only folder: said before the cleaning
    config = FeatureConfig(window_s=args.window, step_s=args.step, include_delta=args.delta)
    with progress_bar("features") as bar:
        rec = load_recording(args.path, trial=args.trial, modalities=parse_modalities(args.modality), progress=scaled(bar, 0.0, 0.2))
        print_warnings(rec)
        from ..masking import masks_for

        masks, mask_note = masks_for(args.path, rec, masks=args.masks, no_masks=args.no_masks)
        check_not_all_masked(rec, masks, mask_note, what="featurise")
        check_fits_memory(rec)
        if config.window_s > rec.duration_s:  # said before cleaning, not after
            raise ConfigError(f"Invalid value for '--window': must be at most the recording's duration "
                              f"({rec.duration_s:g} s), got {config.window_s:g}.")
        if not args.allow_no_eeg:
            check_has_eeg(rec)
        _check_rate(rec, config, args)  # a rate too low for the features: said before cleaning, naming real options
        if args.no_preprocess:
            data = rec.get_data()
            if masks is not None:  # masked samples are missing data here too (NaN: windows with them are missing)
                from ..masking import mask_sample_spans

                for row, runs in enumerate(mask_sample_spans(masks, rec.ch_names, rec.sfreq, data.shape[1])):
                    for a, b in runs:
                        data[row, a:b] = float("nan")
            signals = Signals(data, rec.sfreq, rec.channels)
            interference = ()
        else:
            from ..preprocessing import preprocess

            result = preprocess(rec, masks=masks, progress=scaled(bar, 0.2, 0.8))
            signals, interference = result.cleaned, result.interference
            print_step_warnings(result.steps)
        fs = extract_features(
            signals,
            config,
            layout=DEAP_LAYOUT if args.layout == "deap" else None,
            interference=interference,
            progress=scaled(bar, 0.8, 0.95),
        )
        df = fs.to_dataframe(wide=args.wide)
        df["synthetic"] = bool(rec.is_synthetic)
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp:
            if fmt == "parquet":
                df.to_parquet(tmp, engine="pyarrow", index=False)
            else:
                df.to_csv(tmp, index=False)
    n_present = sum(t.channel is not None for t in fs.tokens)
    print(
        f"wrote {len(df)} rows to {out}: {fs.n_windows} windows x {fs.n_tokens} tokens "
        f"({n_present} with a channel), window {fs.window_s:g} s, {mask_note}"
        + ("  [SYNTHETIC DATA]" if rec.is_synthetic else "")
    )
    return 0


def _check_rate(rec, config, args: argparse.Namespace) -> None:
    """EEG too slow for its bands (the rate the bands need), or a ``--window`` holding fewer than 2 samples at the
    rate the features see (the recording's, at most the cleaning's 128 Hz): a ConfigError before the cleaning."""
    from ..features import DEAP_LAYOUT
    from ..features.layout import bind_layout, layout_for
    from ..features.spectral import check_eeg_rate
    from ..preprocessing.config import PreprocessConfig
    from ..preprocessing.streaming import analysis_sfreq
    from ..recording import Modality

    sf = rec.sfreq if args.no_preprocess else analysis_sfreq(rec.sfreq, PreprocessConfig().target_sfreq)
    layout = DEAP_LAYOUT if args.layout == "deap" else layout_for(rec.channels)
    if any(t.modality == Modality.EEG and t.channel is not None for t in bind_layout(layout, rec.channels)):
        check_eeg_rate([(lo, hi) for _, lo, hi in config.all_bands], sf)
    n = int(round(config.window_s * sf))
    if n < 2:
        raise ConfigError(f"Invalid value for '--window': a window of {config.window_s:g} s holds {n} sample(s) at "
                          f"{sf:g} Hz (the recording's rate) and the features need at least 2; give --window "
                          f"{2 / sf:g} or more.")
