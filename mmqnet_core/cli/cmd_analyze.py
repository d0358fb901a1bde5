"""``mmqnet analyze FILE [FILE|FOLDER ...] [--masks masks.json] [--checkpoint DIR] [--jobs N] [--scheduler ADDR] -o OUT``:
analyse a recording, or a cohort of recordings, with MMQ-Net."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ._progress import progress_bar
from ._recording_args import (add_modality_option, check_fits_memory, check_output, check_output_folder, check_span,
                              parse_modalities, print_step_warnings, print_warnings)

log = logging.getLogger(__name__)

#: Seconds of input the bounded-memory analysis holds at once (a piece and its context, with margin).
_STREAMED_S = 900.0

#: Python's thread switch interval during a single-recording analysis, s (default 0.005). The model's load
#: (importing torch: ~2.5 s of CPU holding the interpreter lock) runs beside the cleaning threads, whose numpy and
#: scipy calls release the lock and must take it back after each call: they wait up to this long each time for
#: the importing thread to hand it over (the app's workers shorten it in the same way while tasks run).
SWITCH_INTERVAL_S = 0.001

if TYPE_CHECKING:
    from ..inference.cohort import AnalysisOptions


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``analyze`` sub-command to ``sub``."""
    p = sub.add_parser(
        "analyze",
        help="valence/arousal trajectories, reconstructions and attention maps of a recording",
        description="Load a recording, preprocess it, extract features on the model's token layout, apply the "
        "masks and run MMQ-Net over the whole recording. Writes trajectories.csv/.parquet, reconstructions.npz, "
        "attention.npz and summary.json into OUT. Several recordings or folders: one such folder per recording "
        "under OUT (OUT/<name>, OUT/<name>/trial_NN for DEAP files), analysed in parallel, and the cohort table "
        "OUT/cohort.parquet + .csv; recordings finished earlier (marker analysis.done.json) are skipped, so a stopped "
        "run resumes; a recording that fails is listed in the table with its error and the exit code is 1.",
    )
    p.add_argument("path", metavar="FILE", nargs="+",
                   help="EDF/BDF file, DEAP sNN.dat file or MAHNOB-HCI session folder; several of them, or folders "
                   "(searched for .edf/.bdf/.dat files and session folders), analyse a cohort: one result folder "
                   "per recording under OUT plus OUT/cohort.parquet and OUT/cohort.csv (one row per window)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="cohort: recordings analysed at once in local worker processes (default: one per CPU core, "
                   "at most one per recording); each holds its own model and recording in memory")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="cohort: run on an existing Dask distributed cluster (e.g. tcp://host:8786; needs "
                   "`pip install mmqnet-studio[cluster]`, and the recordings and OUT at the same paths on every "
                   "worker)")
    p.add_argument("--masks", default=None, metavar="JSON",
                   help="mask file (default: the recording's sidecar <FILE>.masks.json when it exists)")
    p.add_argument("--no-masks", action="store_true", help="ignore the sidecar mask file")
    p.add_argument("--checkpoint", default=None, metavar="DIR", help="checkpoint folder (default: the shipped one)")
    p.add_argument("--trial", type=int, default=None, metavar="N",
                   help="DEAP trial (0-39; default: trial 0 of one file, every trial of each file in a cohort)")
    add_modality_option(p)
    p.add_argument("--start", type=float, default=0.0, metavar="S",
                   help="report the windows from this time, s (a span is analysed inside the whole recording: "
                   "cleaned, featurised and normalised as the whole, so its windows get the whole analysis' "
                   "predictions; mask what should not count)")
    p.add_argument("--stop", type=float, default=None, metavar="S", help="report the windows up to this time, s")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    p.add_argument("--mc-samples", type=int, default=0, metavar="N",
                   help="Monte-Carlo uncertainty: also run the model N times (N >= 2) with its dropout / "
                   "stochastic-depth layers on and write the mean probability and its standard deviation "
                   "(<target>_std columns); N times slower. Default 0: one deterministic pass, entropy only")
    p.add_argument("--mc-seed", type=int, default=0, metavar="SEED",
                   help="seed of the Monte-Carlo samples (default 0; the same seed gives the same result)")
    p.add_argument("--attribution", nargs="?", const="modality", default=None, choices=("modality", "token"),
                   help="also write occlusion maps (attribution.npz: the change of P(high) of every window when each "
                   "modality, or each token, is hidden; one fast pass per unit) and add the missing-evidence term to "
                   "the uncertainty (<target>_missing_evidence columns). Default unit: modality")
    p.add_argument("--subject-files", nargs="+", default=[], metavar="FILE",
                   help="other recordings of the same subject (EDF/BDF files, DEAP .dat files, MAHNOB-HCI session "
                   "folders; put this option after FILE): a per-subject model then normalises FILE with the "
                   "statistics of all of them. A DEAP file's trials and the MAHNOB-HCI sessions of the same subject "
                   "beside a session folder are used without it (a cap on their number is printed when reached)")
    p.add_argument("--in-process", action="store_true",
                   help="one recording: load and run the model in this process instead of a helper process that "
                   "loads it while the recording is cleaned (the results are the same; slower start)")
    p.add_argument("--own-statistics", action="store_true",
                   help="per-subject model: normalise the recording with its own statistics instead of those of the "
                   "subject's other trials/sessions (no DEAP trials, no MAHNOB sibling sessions, no --subject-files)")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> "AnalysisOptions":
    from ..inference.cohort import AnalysisOptions

    mods = parse_modalities(args.modality)
    return AnalysisOptions(
        checkpoint=args.checkpoint, device=args.device, masks=args.masks, no_masks=args.no_masks,
        modalities={k: v.value for k, v in mods.items()} if mods else None, trial=args.trial,
        start_s=args.start, stop_s=args.stop, mc_samples=args.mc_samples, mc_seed=args.mc_seed,
        subject_files=tuple(args.subject_files), own_statistics=args.own_statistics, attribution=args.attribution,
    )


def run(args: argparse.Namespace) -> int:
    """Analyse and save; errors propagate to :func:`mmqnet_core.cli.main`."""
    from ..inference.cohort import is_single_recording

    if args.subject_files and args.own_statistics:
        raise ConfigError("Invalid options: --subject-files and --own-statistics contradict each other (the first "
                          "adds the subject's other recordings to the statistics, the second uses none); give one.")
    for source in args.path:  # source recordings are never written, even by a typo
        check_output(args.output, source)
    check_span(args.start, args.stop)
    options = _options(args)
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"Invalid value for '--jobs': a whole number of processes >= 1, got {args.jobs}.")
    check_output_folder(args.output)  # at once, not after the analysis: a folder that cannot be written
    if len(args.path) == 1 and is_single_recording(args.path[0]) and not args.scheduler:
        return _run_one(args, options)
    return _run_cohort(args, options)


def _run_one(args: argparse.Namespace, options: "AnalysisOptions") -> int:
    """One recording into OUT (the layout of a single-file analysis)."""
    import sys

    from . import allow_fast_exit
    from ..errors import Cancelled
    from ..inference.cohort import analyze_file
    from ..inference.model_loading import DeferredModel, load_model_deferred
    from ..inference.model_process import REMOTE_MAX_S, RemoteModel, start_model_process

    allow_fast_exit()  # no pool; the model process is reaped first: the teardown (~1 s with torch) is skipped
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))  # for this process, which ends after
    # torch and the weights load while the recording is read, fitted, cleaned and featurised (a few seconds of
    # every run's fixed cost): in a helper process forked now, before any thread (the model stage runs there:
    # inference.model_process), else in a helper thread that analyze() starts once its own imports are done; a
    # load that fails stops the analysis at its next cancel check
    remote = None
    if not (args.in_process or args.mc_samples or args.attribution):
        remote = start_model_process(args.checkpoint, device=args.device)
    if remote is not None:
        remote.close_after_use = True  # one analysis: the child ends while the results are saved
    with progress_bar("analyze") as bar:
        model = remote if remote is not None else load_model_deferred(args.checkpoint, device=args.device,
                                                                      start=False)  # started by analyze()
        deferred = isinstance(model, (DeferredModel, RemoteModel))
        if args.mc_samples:
            from ..inference.engine import check_mc_samples

            check_mc_samples(model.model, args.mc_samples)  # a clear error before the recording is loaded

        def check_recording(rec) -> None:  # a damaged file is said loudly; a span must fit in memory
            print_warnings(rec)
            # a long span is analysed in pieces (mmqnet_core.inference.streaming): 10 minutes + context at a time
            check_fits_memory(rec, args.start, args.stop, streamed_s=_STREAMED_S)
            # a span is analysed inside the whole recording: the whole recording's features go to the model
            if remote is not None and rec.duration_s > REMOTE_MAX_S:
                remote.use_local()  # hundreds of MB of features and results: not copied between processes

        try:
            try:
                fa = analyze_file(args.path[0], args.output, options, model=model, check_recording=check_recording,
                                  progress=bar, cancel=_LoadFailed(model) if deferred else None)
            except Cancelled:
                if deferred:
                    model.result()  # the load's own error
                raise
        except BaseException:
            if remote is not None:  # an error or Ctrl-C: at once, even while it is still importing torch
                remote.close(kill=True)
            raise
        if remote is not None:
            remote.close()  # it has ended on its own (close_after_use); reaped before the fast exit
            if remote.child_maxrss_kb:
                log.info("model process: peak resident memory %.0f MB (this process: %.0f MB meanwhile)",
                         remote.child_maxrss_kb / 1e3, remote.rss_while_child_kb / 1e3)
    result, paths = fa.result, fa.paths
    print_step_warnings(result.steps)  # channels left out (flat or NaN for most of the span), no usable EEG
    s = result.summary()
    probs = ", ".join(f"{k} {v:.2f}" for k, v in s["mean_probability_high"].items() if v is not None)
    print(f"{result.title}: {result.n_windows} windows of {result.window_s:g} s, {fa.mask_note}, "
          f"{s['hidden_fraction']:.0%} of tokens hidden")
    print(f"model: {result.model_description}")
    for line in fa.lines:
        print(line)
    print(f"mean probability of high {probs}")
    if result.probability_std is not None:
        spread = ", ".join(f"{k} {v:.3f}" for k, v in s["mean_probability_std"].items() if v is not None)
        print(f"uncertainty: {result.mc_samples} Monte-Carlo samples (seed {args.mc_seed}); mean std of the "
              f"probability {spread}")
    if result.occlusion is not None:
        moved = s["attribution"]["mean_abs_change_of_probability"]
        for target, units in moved.items():
            top = sorted(((v, u) for u, v in units.items() if v is not None), reverse=True)[:4]
            print(f"occlusion ({target}): " + ", ".join(f"{u} {v:.3f}" for v, u in top)
                  + " (mean |change of P(high)| when hidden)")
    print("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    if result.is_synthetic or model.is_synthetic:
        print("[SYNTHETIC: " + ("recording is synthetic; " if result.is_synthetic else "")
              + ("model trained on synthetic data]" if model.is_synthetic else "]"))
    return 0


class _LoadFailed:
    """A cancel token set when the model loading in the background has failed: the analysis stops at its next
    check and the load's error is reported, instead of after the whole cleaning."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def is_set(self) -> bool:
        return self.model.failed


def _run_cohort(args: argparse.Namespace, options: "AnalysisOptions") -> int:
    """Several recordings: one folder each under OUT, the cohort table, exit 1 when any failed."""
    import sys

    from tqdm import tqdm

    from ..inference.cohort import ANALYSED, FAILED, default_jobs, find_sources, run_cohort

    if options.subject_files:
        raise ConfigError("Invalid option '--subject-files' for several recordings: it names the other recordings "
                          "of one subject; analyse that subject's recording alone, or leave it out (DEAP trials and "
                          "MAHNOB-HCI sibling sessions are still found).")
    sources = find_sources(args.path, exclude=args.output)
    jobs = args.jobs if args.jobs is not None else default_jobs(len(sources))
    where = f"on the Dask cluster at {args.scheduler}" if args.scheduler else (
        f"in {jobs} process{'es' if jobs > 1 else ''}")
    print(f"cohort: {len(sources)} source(s) into {args.output}, {where}", flush=True)
    failed = 0
    with tqdm(total=len(sources), desc="recordings", unit="file", file=sys.stderr, dynamic_ncols=True) as bar:
        def on_outcome(source, outcomes) -> None:
            nonlocal failed
            for o in outcomes:
                if o.status == FAILED:
                    failed += 1
                    bar.write(f"FAILED {o.recording} ({o.source}): {o.error}", file=sys.stderr)
                elif o.status == ANALYSED:
                    bar.write(f"analysed {o.recording}: {o.n_windows} windows in {o.seconds:.1f} s")
                if o.warnings and o.status == ANALYSED:  # a damaged file read in part: said loudly
                    bar.write(f"warning: {o.recording}: {o.warnings}", file=sys.stderr)
            bar.set_postfix_str(f"failed {failed}", refresh=False)
            bar.update(1)

        result = run_cohort(sources, args.output, options, jobs=jobs, scheduler=args.scheduler,
                            on_outcome=on_outcome)
    counts = result.counts()
    print(f"cohort: {len(result.outcomes)} recording(s): {counts['analysed']} analysed, {counts['already done']} "
          f"already done, {counts['failed']} failed, in {result.seconds:.1f} s")
    print(f"wrote {result.paths['parquet']}, {result.paths['csv']}")
    if result.n_failed:
        print(f"error: {result.n_failed} recording(s) failed (their errors are in the table's 'error' column); "
              "fix or remove them and run the same command again: finished recordings are skipped",
              file=sys.stderr)
        return 1
    return 0
