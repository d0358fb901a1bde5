"""Cleaning in bounded memory: a fit of the global quantities, then any piece of the recording cleaned with it.

Why two passes
    The cleaning of :func:`~mmqnet_core.preprocessing.preprocess` has a few *global* quantities: the channels
    left out as flat or NaN for most of the span, each channel's typical window peak-to-peak (flat rule), the
    GSR/PPG change statistics (jump rule), the power-line frequency, each channel's muscle-envelope mean and
    spread (z-score), the EOG regression coefficients (or the ICA unmixing). Everything else is *local*: a sample
    of the cleaned output depends only on the input within the reach of the filters around it (zero-phase FIR
    filters, the anti-aliasing filter, detector windows). So:

    1. **fit** (:func:`fit_cleaning`): the global quantities from the span read in blocks -- the whole span when
       it is at most :data:`FIT_WHOLE_S` long (then they are exactly those of one whole-span cleaning), else
       :data:`FIT_BLOCKS` blocks of :data:`FIT_BLOCK_S` spread evenly over it (a bounded subsample: the cost
       and memory of the fit do not grow with the length). Each statistic is computed on the block cores after
       the same steps as in the cleaning (the EOG regression on referenced, band-passed EEG, ...); blocks are
       read with :func:`pad_s` of context so that those steps are exact there.
    2. **apply** (:func:`clean_piece`): any piece ``[a, b)`` of the span is read with ``pad`` samples of
       context on both sides, cleaned at the analysis rate with the fitted quantities, and the context dropped.
       Detections come back as sample runs on the span's grid; :class:`SpanCollector` joins the runs of
       consecutive pieces and applies the rules that need whole runs (shortest flat span, muscle gap merging).

    The whole-span path (:func:`~mmqnet_core.preprocessing.preprocess`) is the same fit and one piece covering
    the span, so a span cleaned in pieces (:func:`iter_clean`) equals it within float rounding: piece
    boundaries are aligned to the resampling ratio (``down`` input samples), the context covers the longest
    cascade of zero-phase filters (:func:`pad_s`: notch + the widest band-pass + the EEG band-pass of the EOG
    copy + the muscle envelope), and gaps (masks, NaN) that cross a piece edge are bridged with the visible
    samples beyond the piece, found in the file. The muscle envelope's Hilbert transform is the only non-local
    step (its kernel decays as 1/t): with the context of tens of seconds its effect on the score is far below
    the threshold's resolution.

Memory
    A piece holds ``(chunk_s + 2 pad_s) x sfreq_in`` samples per channel in float64 plus the mne filter
    temporaries: about 0.3-0.5 GB for 10 minutes of 40 channels at 512 Hz, whatever the recording's length.

The display of a long recording cleans its pages with the same fit and :func:`clean_piece` (:mod:`.on_demand`).

Masks and NaN are handled exactly as in :mod:`.pipeline` (missing data, bridged by a straight line for
filtering, out of every fit, NaN in the cleaned output).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterator

import mne
import numpy as np
from scipy import ndimage

from ..errors import ConfigError
from ..masking import MaskSet, mask_sample_spans
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import PHYSIOLOGICAL, Annotation, Modality, Recording
from .config import ELECTROPHYSIOLOGICAL, PreprocessConfig
from .detect import detect_line_freq, runs
from .pipeline import filter_rows, with_small_pages

log = logging.getLogger(__name__)

#: Spans up to this long are fitted whole (the fit is then exactly that of one whole-span cleaning), s.
FIT_WHOLE_S = 600.0
#: Longer spans are fitted on this many evenly spread blocks ...
FIT_BLOCKS = 10
#: ... of this length each, s (5 minutes in all: the cost of the fit does not grow with the length).
FIT_BLOCK_S = 30.0
#: Default piece length of :func:`iter_clean`, s (10 minutes of 40 channels at 512 Hz: ~100 MB of float64).
CHUNK_S = 600.0
_BAD_CHANNEL_SHARE = 0.5  # a channel flat or NaN for more than this share of the span: out of CAR/EOG/muscle
_FIT_PAD_S = 10.0  # context of the fit's blocks, s
_READ_S = 120.0  # a piece is read in parts of this many seconds (cancel checked between them)
#: the muscle score's 4-Hz low-pass is mne's default FIR whatever the configured filter method (as before)
_MUSCLE_SCORE_FILTER = PreprocessConfig(filter_method="fir")


# --- the fit ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CleaningFit:
    """The global quantities of the cleaning of one span (see the module docstring), in input samples.

    Built by :func:`fit_cleaning`; used by :func:`clean_piece` for every piece of the span.
    """

    config: PreprocessConfig  # the configuration
    start: int  # first input sample of the span
    stop: int  # input sample after the span
    sfreq_in: float  # input rate, Hz
    sfreq_out: float  # analysis (output) rate, Hz
    up: int  # output / input rate = up / down (1 / 1 when not resampled)
    down: int
    mask_runs: tuple[np.ndarray, ...] | None  # per channel (K, 2) masked runs relative to ``start``; None = none
    masked_ch: tuple[str, ...]  # channels masked for the whole span
    bads: tuple[str, ...]  # flat/NaN for most of the span: out of reference, EOG removal, muscle detection
    flat_scale: np.ndarray  # (C,) median window peak-to-peak (NaN: not checked)
    jump: dict[int, tuple[float, float]]  # row -> (median change over the lag, limit) of GSR/PPG channels
    line_freq: float | None  # Hz, None = no notch
    muscle_plan: tuple[list[int], tuple[float, float], str] | None  # picks, band Hz, modality (None = off)
    muscle_q: int  # decimation factor of the muscle envelope (1 = none)
    muscle_stats: tuple[np.ndarray, np.ndarray] | None  # per pick envelope mean and SD; None = fitted inline
    eog: tuple | None  # ("regression", coef (E, K), mean (K, 1)) | ("ica", ICA) | ("none",); None = inline
    steps: tuple[str, ...]  # notes of the fit
    fit_blocks: tuple[tuple[int, int], ...]  # the input sample ranges the fit read
    pad: int  # context of a piece, input samples (a multiple of ``align``)
    align: int  # piece boundaries are this many input samples apart from ``start`` (multiple of)

    @property
    def n_in(self) -> int:
        """Input samples of the span."""
        return self.stop - self.start

    @property
    def n_out(self) -> int:
        """Output samples of the span."""
        return out_length(self.n_in, self.up, self.down)

    @property
    def whole(self) -> bool:
        """True when the fit read the whole span in one block (its statistics are the whole span's)."""
        return self.fit_blocks == ((self.start, self.stop),)

    @property
    def muscle_sfreq(self) -> float:
        return self.sfreq_out / self.muscle_q

    def out_index(self, i: int) -> int:
        """Output sample of input sample ``i`` (absolute; aligned or the span end)."""
        return out_length(i - self.start, self.up, self.down)


def out_length(n: int, up: int, down: int) -> int:
    """Samples of ``n`` input samples resampled by up/down (as :func:`scipy.signal.resample_poly`)."""
    return -(-n * up // down)


def analysis_sfreq(sfreq_in: float, target_sfreq: float) -> float:
    """The rate the cleaning gives out, Hz: ``target_sfreq``, or the input rate when it is lower (no
    up-sampling) -- rounded down to a whole number of Hz when it is not one (100.5 -> 100 Hz), so that every
    window of whole seconds holds a whole number of samples (100.5 Hz made 1-s windows of 100 samples, 0.995 s,
    whose starts drifted from the clock by 18 s an hour)."""
    out = min(float(target_sfreq), float(sfreq_in))
    if out == float(sfreq_in) and out > 1.0 and not out.is_integer():
        out = float(math.floor(out))
    return out


def rate_ratio(sfreq_in: float, sfreq_out: float) -> tuple[int, int]:
    """(up, down) with sfreq_out / sfreq_in = up / down, in lowest terms ((1, 1) when not down-sampled)."""
    if sfreq_out >= sfreq_in:
        return 1, 1
    fr = Fraction(sfreq_out).limit_denominator(10_000) / Fraction(sfreq_in).limit_denominator(10_000)
    return fr.numerator, fr.denominator


def pad_s(config: PreprocessConfig, sfreq_out: float) -> float:
    """Context on each side of a piece, s: the reach of the longest cascade of filters plus a margin.

    A zero-phase FIR filter of mne's default design reaches half its length, 3.3 / transition bandwidth / 2
    seconds (Hamming window); the cascade is notch -> the widest band-pass (or the EEG band-pass and the EEG band
    of the EOG copy) -> muscle envelope (4-Hz low-pass, band-pass). IIR filters (forward-backward Butterworth)
    get 5 time constants of their lowest edge.
    """
    nyq = sfreq_out / 2

    def reach(low: float | None, high: float | None) -> float:
        if config.filter_method == "iir":
            edge = min(f for f in (low, high) if f is not None)
            return 5.0 / edge
        widths = []
        if low is not None and low < 0.9 * nyq:
            widths.append(min(max(0.25 * low, 2.0), low))
        if high is not None and high < 0.9 * nyq:
            widths.append(min(max(0.25 * high, 2.0) if high >= 8 else 0.5 * high, nyq - high))
        return 3.3 / min(widths) / 2 if widths else 0.0

    bands = [reach(low, high) for _, low, high in config.bands]
    eeg = config.band_for(Modality.EEG)
    eeg_reach = reach(*eeg) if eeg is not None else 0.0
    notch = 3.3 / 1.0 / 2 if config.notch else 0.0
    return math.ceil(notch + max(bands + [2 * eeg_reach, 0.0]) + 4.0)


@with_small_pages
def fit_cleaning(
    recording: Recording,
    config: PreprocessConfig = PreprocessConfig(),
    *,
    masks: MaskSet | None = None,
    start_s: float = 0.0,
    stop_s: float | None = None,
    inline: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CleaningFit:
    """Estimate the global quantities of the cleaning of a span (see the module docstring).

    Parameters
    ----------
    recording, config, masks, start_s, stop_s
        As :func:`~mmqnet_core.preprocessing.preprocess`.
    inline : bool
        When the span is fitted whole, leave the muscle-envelope statistics and the EOG removal to be fitted by
        the one :func:`clean_piece` call that cleans the whole span (no second pass over it); such a fit
        cleans only the whole span.
    progress, cancel
        Progress callback and cancel token (checked between blocks and steps).

    Returns
    -------
    CleaningFit
    """
    from .pipeline import _check_span, _muscle_plan

    if not isinstance(config, PreprocessConfig):
        raise ConfigError(f"'config' must be a PreprocessConfig, got {type(config).__name__}.")
    if masks is not None and not isinstance(masks, MaskSet):
        raise ConfigError(f"'masks' must be a MaskSet or None, got {type(masks).__name__}.")
    start, stop = _check_span(recording, start_s, stop_s)
    steps: list[str] = []

    def note(message: str) -> None:
        steps.append(message)
        log.info(message)

    sfreq_in = recording.sfreq
    sfreq_out = analysis_sfreq(sfreq_in, config.target_sfreq)
    up, down = rate_ratio(sfreq_in, sfreq_out)
    names, mods = recording.ch_names, recording.modalities
    n_in = stop - start
    mask_runs = None
    masked_ch: tuple[str, ...] = ()
    if masks is not None and not masks.is_empty:
        spans = mask_sample_spans(masks, names, sfreq_in, n_in, offset_s=start / sfreq_in)
        if any(s.size for s in spans):
            mask_runs = tuple(spans)
            masked_ch = tuple(names[i] for i, s in enumerate(spans) if s.size and (s[:, 1] - s[:, 0]).sum() >= n_in)
    # muscle detection runs on the envelope decimated by q: pieces start at multiples of down * q
    plan_probe = _muscle_plan(config, mods, names, set(masked_ch), sfreq_out, recording.channels, lambda m: None)
    q = 1
    if plan_probe is not None:
        q = max(1, int(sfreq_out // (2.5 * plan_probe[1][1])))
    align = down * q
    pad = math.ceil(pad_s(config, sfreq_out) * sfreq_in / align) * align
    if n_in <= FIT_WHOLE_S * sfreq_in:
        blocks = ((start, stop),)
    else:
        size = int(round(FIT_BLOCK_S * sfreq_in)) // align * align
        first = np.linspace(0, n_in - size, FIT_BLOCKS).astype(np.int64) // align * align
        blocks = tuple((start + int(a), start + int(a) + size) for a in first)
    fit = CleaningFit(config=config, start=start, stop=stop, sfreq_in=sfreq_in, sfreq_out=sfreq_out, up=up,
                      down=down, mask_runs=mask_runs, masked_ch=masked_ch, bads=(), flat_scale=np.full(len(names),
                      np.nan), jump={}, line_freq=None, muscle_plan=None, muscle_q=q, muscle_stats=None, eog=None,
                      steps=(), fit_blocks=blocks, pad=pad, align=align)
    fitted_s = sum(b - a for a, b in blocks) / sfreq_in
    if len(blocks) > 1:
        note(f"global quantities (flat/jump statistics, line frequency, muscle envelope, EOG removal) fitted on "
             f"{len(blocks)} blocks of {FIT_BLOCK_S:g} s spread over the span ({fitted_s:.0f} s of "
             f"{n_in / sfreq_in:.0f} s); the span is cleaned in pieces with them")

    # round 1: input-rate statistics on the block cores -----------------------------------------------------
    kept = _in_threads(lambda ab, token, _buf: read_piece(recording, fit, ab[0], ab[1], token), blocks,
                       lambda k: report(progress, 0.2 * k / len(blocks),
                                        f"fitting the cleaning: reading block {k + 1}/{len(blocks)}"), cancel)
    check_cancel(cancel)
    report(progress, 0.2, "fitting the cleaning: flat, jump and line-noise statistics")
    w = max(2, int(round(config.flat_window_s * sfreq_in)))
    real_nan_n = np.zeros(len(names))
    for data, mask_in, nan_mask, _ in kept:
        if nan_mask is not None:
            real_nan_n += (nan_mask if mask_in is None else nan_mask & ~mask_in).sum(axis=1)
    total_n = sum(d.shape[1] for d, *_ in kept)
    bad_share = real_nan_n / max(total_n, 1)
    flat_scale = np.full(len(names), np.nan)
    if config.detect_flat:
        picks = [i for i, m in enumerate(mods) if m in PHYSIOLOGICAL and m != Modality.TEMP
                 and names[i] not in masked_ch]
        for i in picks:
            ptp = [_block_ptp(d[i], w) for d, *_ in kept]
            ptp = np.concatenate(ptp) if ptp else np.zeros(0)
            flat_scale[i] = float(np.median(ptp)) if ptp.size else np.nan
        object.__setattr__(fit, "flat_scale", flat_scale)
        for i in picks:  # round 2: flat share per channel with the fitted scale
            check_cancel(cancel)
            flat_n = 0
            for data, mask_in, _, missing in kept:
                m = flat_premin(data[i], sfreq_in, config, flat_scale[i], None if missing is None else missing[i])
                m = _drop_short(m, int(round(config.flat_min_s * sfreq_in)))
                if mask_in is not None:
                    m &= ~mask_in[i]
                flat_n += int(m.sum())
            bad_share[i] = max(bad_share[i], flat_n / max(total_n, 1))
        for i in _dead_temperatures(kept, mods, names, masked_ch, w):
            flat_scale[i] = 0.0  # its exactly constant windows are flat (BAD_flat): missing in the features
            bad_share[i] = 1.0
    jump: dict[int, tuple[float, float]] = {}
    if config.detect_jumps:
        lag = max(1, int(round(config.jump_lag_s * sfreq_in)))
        for i, m in enumerate(mods):
            if m not in (Modality.GSR, Modality.PPG) or names[i] in masked_ch:
                continue
            check_cancel(cancel)
            x = [d[i] for d, *_ in kept if d.shape[1] > lag + 1]
            if not x:
                continue
            dd = np.concatenate([r[lag:] - r[:-lag] for r in x])
            med = float(np.median(dd))
            sigma = 1.4826 * float(np.median(np.abs(dd - med)))
            p1, p99 = np.percentile(np.concatenate(x), [1, 99])
            limit = max(config.jump_threshold * sigma, config.jump_min_fraction * (p99 - p1))
            limit = max(limit, 3.0 * float(np.percentile(np.abs(dd - med), 99)))  # detect.jump_mask's rhythm rule
            jump[i] = (med, float(limit))
    bads = tuple(names[i] for i in range(len(names)) if bad_share[i] > _BAD_CHANNEL_SHARE and names[i] not in masked_ch)
    if bads:
        note(f"channel(s) flat or NaN for more than {_BAD_CHANNEL_SHARE:.0%} of the span, left out of the "
             f"reference, EOG removal and muscle detection: {', '.join(bads)}")
    left_out = set(bads) | set(masked_ch)

    # line frequency ---------------------------------------------------------------------------------------
    ephys = [i for i, m in enumerate(mods) if m in ELECTROPHYSIOLOGICAL]
    line_freq: float | None = None
    line_picks = [i for i in ephys if names[i] not in left_out] or [i for i in ephys if names[i] not in masked_ch]
    if not config.notch:
        note("notch filter off (configuration)")
    elif not ephys:
        note("no EEG/EOG/EMG/ECG channels: no line-noise removal")
    elif config.line_freq is not None:
        line_freq = config.line_freq
        note(f"line frequency {line_freq:g} Hz (set in the configuration)")
    elif not line_picks:
        note("every EEG/EOG/EMG/ECG channel is masked: no line-noise detection, no notch")
    else:
        check_cancel(cancel)
        report(progress, 0.25, "fitting the cleaning: line frequency")
        found, ratios = detect_line_freq([d for d, *_ in kept], sfreq_in, ratio=config.line_detect_ratio,
                                         picks=line_picks, max_s=120.0)
        detail = ", ".join(f"{f:g} Hz: {r:.1f}" for f, r in ratios.items()) or "no candidate below Nyquist"
        if found is None:
            note(f"no line noise detected (peak/neighbour power ratio {detail}; threshold "
                 f"{config.line_detect_ratio:g}): notch skipped")
        else:
            line_freq = found
            note(f"line noise detected at {found:g} Hz (peak/neighbour power ratio {detail})")
    kept = None
    if sfreq_in > config.target_sfreq:
        note(f"resampled {sfreq_in:g} Hz -> {config.target_sfreq:g} Hz (anti-aliased polyphase method), "
             f"{out_length(n_in, up, down)} samples")
    elif sfreq_out < sfreq_in:
        note(f"input rate {sfreq_in:g} Hz is not a whole number of Hz: resampled to {sfreq_out:g} Hz (anti-aliased "
             f"polyphase method, {out_length(n_in, up, down)} samples) so that windows of whole seconds hold whole "
             f"samples and start on the second (at {sfreq_in:g} Hz a 1-s window was {int(round(sfreq_in))} samples, "
             f"{int(round(sfreq_in)) / sfreq_in:.4g} s, and the windows drifted from the clock)")
    elif sfreq_in < config.target_sfreq:
        note(f"input rate {sfreq_in:g} Hz is below the target {config.target_sfreq:g} Hz: kept (no up-sampling)")
    muscle = _muscle_plan(config, mods, names, left_out, sfreq_out, recording.channels, note)  # notes why not
    object.__setattr__(fit, "bads", bads)
    object.__setattr__(fit, "jump", jump)
    object.__setattr__(fit, "line_freq", line_freq)
    object.__setattr__(fit, "muscle_plan", muscle)
    if muscle is None:
        object.__setattr__(fit, "muscle_stats", (np.zeros(0), np.zeros(0)))
    eeg_good = [i for i, m in enumerate(mods) if m == Modality.EEG and names[i] not in left_out]
    eog = [i for i, m in enumerate(mods) if m == Modality.EOG and names[i] not in left_out]
    if config.eog_method == "none" or not eeg_good or not eog:
        object.__setattr__(fit, "eog", ("none",))

    # round 3: muscle-envelope statistics and EOG removal, after the cleaning steps before them ------------------
    if (fit.muscle_stats is None or fit.eog is None) and not (inline and fit.whole):
        # the statistics need the EEG/EOG/EMG chain only (notch, EEG band-pass, EEG band of the EOG copy, muscle
        # band): a shorter context than the slow peripheral band-passes of a piece
        fit_pad = min(pad, math.ceil(_FIT_PAD_S * sfreq_in / align) * align)
        def block_stats(ab: tuple[int, int], token: CancelToken | None, buffer: np.ndarray) -> _StatsAccumulator:
            own = _StatsAccumulator()  # each block's sums on their own, added up in block order below
            clean_piece(recording, fit, ab[0], ab[1], acc=own, pad=fit_pad, cancel=token, buffer=buffer)
            return own

        acc = _StatsAccumulator()
        for own in _in_threads(block_stats, blocks,
                               lambda k: report(progress, 0.3 + 0.7 * k / len(blocks),
                                                f"fitting the cleaning: block {k + 1}/{len(blocks)}"),
                               cancel, buffer=lambda: _input_buffer(recording, fit, blocks, fit_pad)):
            acc.merge(own)
        acc.finish(fit, recording, note)
    object.__setattr__(fit, "steps", tuple(steps))
    check_cancel(cancel)
    report(progress, 1.0, "cleaning fitted")
    return fit


#: Threads reading and processing the fit's blocks at once (each block as alone, results taken in block order:
#: the same fit whatever the number). The fit runs on its own before any piece can be cleaned (the app's open of
#: a long recording, ``mmqnet analyze``). In ``mmqnet analyze`` of 1 h the model process's torch import takes the
#: other core during most of it: there the threads gained only on a busy machine (load 6-10: 3.3-4.0 s instead of
#: 5.3-5.4 s) and were level at load 2 (256 Hz 0.79-0.81 vs 0.71-0.72 s, 512 Hz 0.86-1.24 vs 0.87-0.93 s).
FIT_THREADS = 2


class _Stop:
    """A cancel token set by the caller's token or by :meth:`set` (stops the other helpers of a failed step)."""

    def __init__(self, cancel: CancelToken | None) -> None:
        import threading

        self.cancel, self.event = cancel, threading.Event()

    def set(self) -> None:
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set() or (self.cancel is not None and self.cancel.is_set())


def _in_threads(fn, items, on_start, cancel: CancelToken | None, *, buffer=None, threads: int | None = None) -> list:
    """``[fn(item, token, buf) for item in items]`` with up to :data:`FIT_THREADS` items at once in helper threads.

    As one thread would, in order: ``cancel`` is checked, then ``on_start(k)`` is called here (progress), then
    item ``k`` starts -- in a helper thread while fewer than the limit are in flight; this thread then waits for
    the oldest, checking ``cancel`` every 0.05 s (:func:`~mmqnet_core.progress.wait_checking`). Each item in
    flight gets its own ``buf`` (``buffer()``, made once per slot and reused; None without ``buffer``). A cancel
    or an error is raised here and the items still in flight stop at their next own check. One thread: here.
    """
    import collections

    from ..progress import start_daemon, wait_checking

    items = list(items)
    n_threads = max(1, min(len(items), FIT_THREADS if threads is None else int(threads)))
    if n_threads == 1:
        buf = buffer() if buffer is not None and items else None
        out = []
        for k, item in enumerate(items):
            check_cancel(cancel)
            on_start(k)
            out.append(fn(item, cancel, buf))
        return out
    stop = _Stop(cancel)
    free: list = []
    pending: collections.deque = collections.deque()  # (future, its buffer), in order
    out = []
    try:
        for k, item in enumerate(items):
            while len(pending) >= n_threads:
                fut, buf = pending.popleft()
                out.append(wait_checking(fut, cancel))
                free.append(buf)
            check_cancel(cancel)
            on_start(k)
            buf = free.pop() if free else (buffer() if buffer is not None else None)
            pending.append((start_daemon(fn, item, stop, buf, name="mmqnet-fit"), buf))
        while pending:
            fut, _ = pending.popleft()
            out.append(wait_checking(fut, cancel))
    except BaseException:
        stop.set()
        raise
    return out


def _dead_temperatures(kept: list, mods: list[Modality], names: list[str], masked_ch: Any, w: int) -> list[int]:
    """Rows of the TEMP channels that hold one value exactly (digitally constant) over every visible sample of
    the fitted pieces: a dead sensor.

    A temperature is left out of the relative flat rule (a skin temperature drifts so slowly that it may hold
    one quantised value over many windows), so a dead temperature sensor was never called flat, and an all-flat
    recording was analysed from its temperature alone. A living skin temperature is not exactly constant over
    a whole recording; a synthetic or real slow drift is untouched (no row returned)."""
    out = []
    for i, m in enumerate(mods):
        if m != Modality.TEMP or names[i] in masked_ch:
            continue
        lo, hi, n = np.inf, -np.inf, 0
        for data, mask_in, _, missing in kept:  # piece by piece: no copy of the whole row
            x = data[i]
            hide = ~np.isfinite(x)
            if mask_in is not None:
                hide |= mask_in[i]
            if missing is not None:
                hide |= missing[i]
            if hide.any():
                x = x[~hide]
            if x.size:
                lo, hi, n = min(lo, float(x.min())), max(hi, float(x.max())), n + x.size
        if n >= w and lo == hi:
            out.append(i)
    return out


def _block_ptp(x: np.ndarray, w: int) -> np.ndarray:
    """Peak-to-peak of the non-overlapping windows of ``w`` samples starting at 0 (the flat rule's scale)."""
    n = (x.size // w) * w
    full = x[:n].reshape(-1, w)
    return full.max(axis=1) - full.min(axis=1)


def flat_premin(x: np.ndarray, sfreq: float, config: PreprocessConfig, scale: float,
                nan_row: np.ndarray | None) -> np.ndarray:
    """The flat rule of :func:`.detect.flat_mask` on one row with a given scale, before the shortest-span rule.

    Same windows, dilation and NaN rule as :func:`.detect.flat_mask`, whose scale is the row's own median window
    peak-to-peak; here the scale is the fitted one (:attr:`CleaningFit.flat_scale`), so that a piece of the
    span gets the same answer as the whole span. A cheap test on blocks of ``w // 2`` samples first skips rows
    that cannot hold a flat window (every sliding window contains such a block, whose peak-to-peak is at most
    the window's).
    """
    n = x.size
    w = max(2, int(round(config.flat_window_s * sfreq)))
    out = np.zeros(n, dtype=bool)
    if n < w or not np.isfinite(scale):
        return out
    from .pipeline import _may_be_flat

    if not _may_be_flat(x, sfreq, config, scale):
        return out
    thr = config.flat_rel_threshold * scale
    origin = -(w // 2)
    hi = ndimage.maximum_filter1d(x, w, origin=origin, mode="nearest")
    lo = ndimage.minimum_filter1d(x, w, origin=origin, mode="nearest")
    flat_start = (hi[: n - w + 1] - lo[: n - w + 1]) <= thr
    if nan_row is not None and nan_row.any():
        has_nan = ndimage.maximum_filter1d(nan_row.astype(np.uint8), w, origin=origin, mode="constant")
        flat_start &= ~has_nan[: n - w + 1].astype(bool)
    out[: n - w + 1] = flat_start
    return ndimage.maximum_filter1d(out.astype(np.uint8), w, origin=(w - 1) // 2, mode="constant").astype(bool)


def _drop_short(m: np.ndarray, min_samples: int) -> np.ndarray:
    for a, b in runs(m):
        if b - a < min_samples:
            m[a:b] = False
    return m


# --- reading a piece ----------------------------------------------------------------------------------------
def _mask_piece(fit: CleaningFit, n_rows: int, ra: int, rb: int) -> np.ndarray | None:
    """(C, rb - ra) bool: the masked samples of the input samples [ra, rb) (None: nothing masked there)."""
    if fit.mask_runs is None:
        return None
    out = np.zeros((n_rows, rb - ra), dtype=bool)
    lo, hi = ra - fit.start, rb - fit.start
    for row, spans in enumerate(fit.mask_runs):
        for a, b in spans:
            if b > lo and a < hi:
                out[row, max(a, lo) - lo: min(b, hi) - lo] = True
    return out if out.any() else None


def _visible_beyond(recording: Recording, fit: CleaningFit, row: int, pos: int, step: int) -> tuple[int, float] | None:
    """The first visible (finite, unmasked) sample of ``row`` from ``pos`` on in direction ``step`` (+-1)."""
    block = 1 << 16
    if fit.mask_runs is not None and fit.mask_runs[row].size:  # jump over masked runs without reading them
        moved = True
        while moved:
            moved = False
            for lo, hi in fit.mask_runs[row] + fit.start:
                if lo <= pos < hi:
                    pos, moved = (lo - 1 if step < 0 else hi), True
    while fit.start <= pos < fit.stop:
        a, b = (max(fit.start, pos - block + 1), pos + 1) if step < 0 else (pos, min(fit.stop, pos + block))
        x = recording.get_data(a / fit.sfreq_in, b / fit.sfreq_in, picks=[row])[0]
        vis = np.isfinite(x)
        m = _mask_piece(fit, len(recording.ch_names), a, b)
        if m is not None:
            vis &= ~m[row]
        idx = np.flatnonzero(vis)
        if idx.size:
            k = idx[-1] if step < 0 else idx[0]
            return a + int(k), float(x[k])
        pos = a - 1 if step < 0 else b
    return None


def read_piece(recording: Recording, fit: CleaningFit, ra: int, rb: int, cancel: CancelToken | None = None,
               buffer: np.ndarray | None = None):
    """Input samples [ra, rb) of the span: (data filled for filtering, mask_in, nan_mask, missing).

    ``data`` is float64 with every missing sample (masked or NaN) bridged by a straight line between the visible
    samples around the gap -- found beyond the piece when the gap crosses its edge, so that a piece is bridged as
    the whole span is; a channel masked whole is 0. The masks are None when nothing is set. Read in parts of
    :data:`_READ_S` with ``cancel`` checked between them. ``buffer`` (optional): a 1-D float64 array of at least
    ``n_channels x (rb - ra)`` elements that ``data`` is written into (reused from piece to piece: see
    :func:`iter_clean`); EDF/BDF files are decoded straight into it.
    """
    from ..io.edf_reader import EdfSpanReader

    n_ch = len(recording.ch_names)
    if buffer is not None and buffer.dtype == np.float64 and buffer.ndim == 1 and buffer.size >= n_ch * (rb - ra):
        data = buffer[: n_ch * (rb - ra)].reshape(n_ch, rb - ra)
    else:
        data = np.empty((n_ch, rb - ra))
    direct = isinstance(recording.reader, EdfSpanReader) and not recording.raw.preload  # as Recording.get_data
    step = max(1, int(_READ_S * fit.sfreq_in))
    for a in range(ra, rb, step):
        check_cancel(cancel)
        b = min(rb, a + step)
        if direct:  # the same samples as recording.get_data, without a temporary copy
            recording.reader(range(n_ch), a, b, out=data[:, a - ra: b - ra])
        else:
            data[:, a - ra: b - ra] = recording.get_data(a / fit.sfreq_in, b / fit.sfreq_in)
    n = data.shape[1]
    mask_in = _mask_piece(fit, data.shape[0], ra, rb)
    nan_mask = None
    if not np.isfinite(data.sum(axis=1)).all():  # a row holding NaN/inf has a non-finite sum: only then the mask
        nan_mask = ~np.isfinite(data)
        if not nan_mask.any():
            nan_mask = None
    missing = nan_mask if mask_in is None else (mask_in if nan_mask is None else nan_mask | mask_in)
    if missing is not None:
        names = recording.ch_names
        idx = np.arange(n)
        for row in np.flatnonzero(missing.any(axis=1)):
            bad = missing[row]
            if names[row] in fit.masked_ch:
                data[row] = 0.0
                continue
            xp, fp = idx[~bad], data[row, ~bad]
            if bad[0] and ra > fit.start:
                left = _visible_beyond(recording, fit, row, ra - 1, -1)
                if left is not None:
                    xp, fp = np.concatenate(([left[0] - ra], xp)), np.concatenate(([left[1]], fp))
            if bad[-1] and rb < fit.stop:
                right = _visible_beyond(recording, fit, row, rb, +1)
                if right is not None:
                    xp, fp = np.concatenate((xp, [right[0] - ra])), np.concatenate((fp, [right[1]]))
            data[row, bad] = np.interp(idx[bad], xp, fp) if xp.size else 0.0
    return data, mask_in, nan_mask, missing


# --- cleaning a piece ---------------------------------------------------------------------------------------
@dataclass
class Piece:
    """What :func:`clean_piece` gives back for the piece [a, b) of the span (input samples)."""

    out_start: int  # output sample (from the span start) of column 0 of ``cleaned``
    cleaned: np.ndarray  # (C, n) float32 at the output rate, NaN under masks (and input NaN when restore_nan)
    raw: np.ndarray | None  # (C, n) float32 resampled only (with_raw), keeps what is under the masks
    runs: dict[str, list[np.ndarray]] = field(default_factory=dict)  # "nan"/"flat"/"jump": per row (K, 2) runs,
    # input samples from the span start ("flat" before the shortest-span rule)
    muscle: np.ndarray | None = None  # (K, 2) runs above the muscle threshold, muscle-rate samples from the start


class _StatsAccumulator:
    """Pooled muscle-envelope moments and EOG-regression sums / ICA data over the fit's blocks."""

    def __init__(self) -> None:
        self.env_n = 0
        self.env_s: np.ndarray | None = None
        self.env_ss: np.ndarray | None = None
        self.eog: dict[str, Any] | None = None
        self.ica_parts: list[np.ndarray] = []
        self.ica_missing: list[np.ndarray] = []

    def add_envelope(self, env: np.ndarray) -> None:
        e = env.astype(np.float64)
        s, ss = e.sum(axis=1), (e * e).sum(axis=1)
        self.env_s = s if self.env_s is None else self.env_s + s
        self.env_ss = ss if self.env_ss is None else self.env_ss + ss
        self.env_n += e.shape[1]

    def merge(self, other: "_StatsAccumulator") -> None:
        """Add the sums of ``other`` (one block's, accumulated from empty) to these: the same values as if its
        block had been added here directly (every sum starts from 0, and 0 + x is x), so the blocks can be
        accumulated apart, in any order or thread, and merged in block order."""
        if other.env_s is not None:
            self.env_s = other.env_s if self.env_s is None else self.env_s + other.env_s
            self.env_ss = other.env_ss if self.env_ss is None else self.env_ss + other.env_ss
        self.env_n += other.env_n
        if other.eog is not None:
            if self.eog is None:
                self.eog = {k: 0 if isinstance(v, int) else np.zeros_like(v) for k, v in other.eog.items()}
            for k, v in other.eog.items():
                self.eog[k] += v
        self.ica_parts.extend(other.ica_parts)  # one part per block, each with its missing flags
        self.ica_missing.extend(other.ica_missing)

    def envelope_stats(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.env_s / max(self.env_n, 1)
        var = np.maximum(self.env_ss / max(self.env_n, 1) - mean * mean, 0.0)
        return mean, np.sqrt(var)

    def add_regression(self, eog_data: np.ndarray, x_eeg: np.ndarray, eog_vis: np.ndarray,
                       miss_eeg: np.ndarray | None) -> None:
        """Sums for the least squares of each EEG row on the EOG rows over the samples both are visible."""
        k = eog_data.shape[0]
        if self.eog is None:
            c = x_eeg.shape[0]
            self.eog = {"n": np.zeros(c), "sr": np.zeros((c, k)), "sy": np.zeros(c), "srr": np.zeros((c, k, k)),
                        "sry": np.zeros((c, k)), "mean_n": 0, "mean_s": np.zeros(k)}
        acc = self.eog
        acc["mean_n"] += int(eog_vis.sum())
        acc["mean_s"] += eog_data[:, eog_vis].sum(axis=1)
        shared = None
        for c in range(x_eeg.shape[0]):
            own = eog_vis if miss_eeg is None or not miss_eeg[c].any() else eog_vis & ~miss_eeg[c]
            if own is eog_vis and shared is not None:
                r, sr, srr = shared
            else:
                r = eog_data[:, own]
                sr, srr = r.sum(axis=1), r @ r.T
                if own is eog_vis:
                    shared = (r, sr, srr)
            y = x_eeg[c, own]
            acc["n"][c] += own.sum()
            acc["sr"][c] += sr
            acc["sy"][c] += y.sum()
            acc["srr"][c] += srr
            acc["sry"][c] += r @ y

    def regression(self, n_eog: int, n_eeg: int) -> tuple[str, np.ndarray, np.ndarray]:
        """("regression", coef (E, K), EOG mean (K, 1)) from the sums (centred least squares per EEG row)."""
        coef = np.zeros((n_eeg, n_eog))
        mean = np.zeros((n_eog, 1))
        acc = self.eog
        if acc is None:
            return "regression", coef, mean
        if acc["mean_n"]:
            mean = (acc["mean_s"] / acc["mean_n"])[:, None]
        for c in range(n_eeg):
            n = acc["n"][c]
            if n <= n_eog:
                continue  # too few samples to fit: left uncorrected
            mr, my = acc["sr"][c] / n, acc["sy"][c] / n
            cov = acc["srr"][c] - n * np.outer(mr, mr)
            cross = acc["sry"][c] - n * mr * my
            coef[c] = np.linalg.pinv(cov) @ cross
        return "regression", coef, mean

    def finish(self, fit: CleaningFit, recording: Recording, note) -> None:
        if fit.muscle_stats is None:
            object.__setattr__(fit, "muscle_stats", self.envelope_stats())
        if fit.eog is None:
            if fit.config.eog_method == "regression":
                eeg, eog = _eeg_eog(fit, recording)
                model = self.regression(len(eog), len(eeg))
                _note_regression(model, fit, recording, note)
                object.__setattr__(fit, "eog", model)
            else:
                data = np.concatenate(self.ica_parts, axis=1)
                miss = np.concatenate(self.ica_missing) if self.ica_missing else None
                if miss is not None and not miss.any():
                    miss = None  # nothing missing: the fit as without flags
                object.__setattr__(fit, "eog", _fit_ica(data, miss, fit, recording, note))


def _eeg_eog(fit: CleaningFit, recording: Recording) -> tuple[list[int], list[int]]:
    left_out = set(fit.bads) | set(fit.masked_ch)
    names, mods = recording.ch_names, recording.modalities
    eeg = [i for i, m in enumerate(mods) if m == Modality.EEG and names[i] not in left_out]
    eog = [i for i, m in enumerate(mods) if m == Modality.EOG and names[i] not in left_out]
    return eeg, eog


def _note_regression(model, fit: CleaningFit, recording: Recording, note) -> None:
    eeg, eog = _eeg_eog(fit, recording)
    gain = float(np.abs(model[1]).max()) if model[1].size else 0.0
    note(f"EOG regression from {', '.join(recording.ch_names[i] for i in eog)} onto {len(eeg)} EEG channels "
         f"(largest propagation factor {gain:.3f})")


def _fit_ica(data: np.ndarray, missing: np.ndarray | None, fit: CleaningFit, recording: Recording, note):
    """("ica", fitted mne ICA with its EOG components excluded) on (E + K, n) EEG + EOG data, or ("none",)."""
    config = fit.config
    eeg, eog = _eeg_eog(fit, recording)
    names = recording.ch_names
    eeg_names, eog_names = [names[i] for i in eeg], [names[i] for i in eog]
    sfreq = fit.sfreq_out
    tmp = mne.io.RawArray(data, mne.create_info(eeg_names + eog_names, sfreq, ["eeg"] * len(eeg) + ["eog"] * len(eog),
                                                verbose=False), verbose=False)
    tmp.set_eeg_reference([], verbose="error")
    if missing is not None:
        spans = runs(missing)
        if spans.size:
            tmp.set_annotations(mne.Annotations(spans[:, 0] / sfreq, (spans[:, 1] - spans[:, 0]) / sfreq, "BAD_mask"))
    car = config.eeg_reference == "average" and len(eeg) >= config.min_channels_average_ref
    rank = len(eeg) - (1 if car else 0)
    n_comp = min(config.ica_n_components, rank)
    if n_comp < 2:
        note(f"ICA skipped: {len(eeg)} EEG channel(s) give {rank} independent component(s), at least 2 needed")
        return ("none",)
    decim = max(1, math.ceil(tmp.n_times / config.ica_max_samples))
    # Standard (super-Gaussian) infomax: blinks and saccades are super-Gaussian sources. mne's extended
    # infomax is 5-100x slower here and FastICA/Picard need packages this project does not ship.
    ica = mne.preprocessing.ICA(n_components=n_comp, method="infomax", random_state=config.seed, max_iter="auto",
                                verbose="error")
    ica.fit(tmp, picks="eeg", decim=decim, reject_by_annotation=True, verbose="error")
    bad, _ = ica.find_bads_eog(tmp, ch_name=eog_names, measure="correlation", threshold=config.ica_eog_threshold,
                               reject_by_annotation=True, verbose="error")
    ica.exclude = list(bad)
    note(f"EOG removal by ICA ({n_comp} infomax components fitted on {tmp.n_times // decim} samples): "
         f"removed {len(bad)} component(s) {sorted(int(b) for b in bad)} with |r| >= "
         f"{config.ica_eog_threshold:g} to {', '.join(eog_names)}")
    return ("ica", ica)


def _out_mask(mask: np.ndarray, fit: CleaningFit, ra: int, j0: int, n_out: int) -> np.ndarray:
    """Map a (C, n) input mask of the samples [ra, ...) onto the output samples j0 .. j0 + n_out (span clock).

    Output sample j covers input samples [round(j down/up), round((j+1) down/up)) of the span (at least one),
    so a piece maps exactly as the whole span does.
    """
    if fit.up == fit.down:
        return mask[:, j0 - (ra - fit.start): j0 - (ra - fit.start) + n_out].copy()
    n_in = mask.shape[1]
    j = np.arange(j0, j0 + n_out + 1)
    edges = np.round(j * (fit.down / fit.up)).astype(np.int64) - (ra - fit.start)
    lo = np.clip(edges[:-1], 0, n_in - 1)
    hi = np.clip(np.maximum(edges[1:], edges[:-1] + 1), 1, n_in)
    out = np.zeros((mask.shape[0], n_out), dtype=bool)
    for row in np.flatnonzero(mask.any(axis=1)):
        r = runs(mask[row])
        first = np.searchsorted(hi, r[:, 0], side="right")
        stop = np.searchsorted(lo, r[:, 1], side="left")
        for a, b in zip(first, stop):
            out[row, a:b] = True
    return out


def _resample(rows: np.ndarray, up: int, down: int, cancel: CancelToken | None = None) -> np.ndarray:
    """Rows resampled by up/down with scipy's polyphase filter (what mne's "polyphase" method runs); ``cancel``
    checked between groups of rows."""
    from .._scipy_signal import signal
    from .pipeline import _by_rows

    if up == down:
        return rows
    return _by_rows(lambda r: signal.resample_poly(r, up, down, axis=-1, padtype="reflect"), rows, cancel)


def _core_runs(m: np.ndarray, offset: int) -> np.ndarray:
    r = runs(m)
    return r + offset if r.size else r


@with_small_pages
def clean_piece(
    recording: Recording,
    fit: CleaningFit,
    a: int,
    b: int,
    *,
    with_raw: bool = False,
    acc: _StatsAccumulator | None = None,
    pad: int | None = None,
    notes: list[str] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    buffer: np.ndarray | None = None,
) -> Piece | None:
    """Clean the input samples [a, b) of the span with ``fit`` (see the module docstring).

    ``a`` and ``b`` are absolute input samples; ``a - fit.start`` must be a multiple of ``fit.align`` and so must
    ``b - fit.start`` unless ``b`` is the span end. The piece is read with ``fit.pad`` samples of context on each
    side (clipped to the span; ``pad``: another context, a multiple of ``fit.align``). With ``acc`` (the fit's
    third round) the muscle-envelope and EOG statistics of the piece are added to it and None is returned. ``notes``
    collects the step log of a whole-span cleaning. ``buffer``: scratch memory for the input (see
    :func:`read_piece`), reused by consecutive pieces; nothing returned refers to it.
    """
    from .pipeline import _average_reference, _band_pass, notch_rows

    config = fit.config
    if (a - fit.start) % fit.align or ((b - fit.start) % fit.align and b != fit.stop) or not fit.start <= a < b <= fit.stop:
        raise ConfigError(f"Invalid piece [{a}, {b}): its edges must lie in the span [{fit.start}, {fit.stop}] at "
                          f"multiples of {fit.align} samples from its start.")
    inline = fit.muscle_stats is None or fit.eog is None
    if inline and acc is None and (a, b) != (fit.start, fit.stop):
        raise ConfigError("This fit leaves the muscle statistics and EOG removal to the whole-span cleaning "
                          "(inline=True): fit again with inline=False to clean pieces.")
    note = (notes.append if notes is not None else (lambda m: None))
    sfreq_in, sfreq_out = fit.sfreq_in, fit.sfreq_out
    names, mods = recording.ch_names, recording.modalities
    pad = fit.pad if pad is None else pad
    ra, rb = max(fit.start, a - pad), min(fit.stop, b + pad)
    data, mask_in, nan_mask, missing = read_piece(recording, fit, ra, rb, cancel, buffer)
    n = data.shape[1]
    ca, cb = a - ra, b - ra  # the core in piece samples
    out: dict[str, list[np.ndarray]] = {}
    empty = np.zeros((0, 2), np.int64)
    check_cancel(cancel)
    report(progress, 0.05, "detecting flat spans and jumps")

    raw_rows: list[int] = []
    raw_keep = None
    if acc is None:
        real_nan = nan_mask if nan_mask is None or mask_in is None else nan_mask & ~mask_in
        out["nan"] = [empty] * len(names) if real_nan is None else [
            _core_runs(real_nan[i, ca:cb], a - fit.start) for i in range(len(names))]
        if with_raw and mask_in is not None:  # raw keeps what is under the masks
            raw_rows = [int(i) for i in np.flatnonzero(mask_in.any(axis=1))]
            raw_keep = np.asarray(recording.get_data(ra / sfreq_in, rb / sfreq_in, picks=raw_rows), np.float64)
            from .detect import fill_nan

            fill_nan(raw_keep)
        # flat spans and jumps, at the input rate on the core and the context their windows need
        flat = [empty] * len(names)
        if config.detect_flat:
            w = max(2, int(round(config.flat_window_s * sfreq_in)))
            fa, fb = max(0, ca - 2 * w), min(n, cb + 2 * w)
            for i in range(len(names)):
                if not np.isfinite(fit.flat_scale[i]):
                    continue
                m = flat_premin(data[i, fa:fb], sfreq_in, config, fit.flat_scale[i],
                                None if missing is None else missing[i, fa:fb])
                flat[i] = _core_runs(m[ca - fa: cb - fa], a - fit.start)
        out["flat"] = flat
        jumps = [empty] * len(names)
        lag = max(1, int(round(config.jump_lag_s * sfreq_in)))
        jpad = int(round(config.jump_pad_s * sfreq_in))
        ja, jb = max(0, ca - lag - jpad - 2), min(n, cb + lag + jpad + 2)
        for i, (med, limit) in fit.jump.items():
            x = data[i, ja:jb]
            if x.size <= lag + 1 or not limit > 0:
                continue
            hit = np.abs(x[lag:] - x[:-lag] - med) > limit
            if not hit.any():
                continue
            m = np.zeros(x.size, bool)
            m[: x.size - lag] |= hit
            m[lag:] |= hit
            if jpad > 0:
                m = ndimage.maximum_filter1d(m.astype(np.uint8), 2 * jpad + 1, mode="constant").astype(bool)
            m = m[ca - ja: cb - ja]
            if mask_in is not None:
                m &= ~mask_in[i, ca:cb]
            jumps[i] = _core_runs(m, a - fit.start)
        out["jump"] = jumps
        check_cancel(cancel)

    # resample first: every later step runs at the analysis rate ------------------------------------------------
    report(progress, 0.2, "resampling")
    j0 = fit.out_index(ra)  # output sample of piece column 0
    data = _resample(data, fit.up, fit.down, cancel)
    n_out = data.shape[1]
    check_cancel(cancel)
    work = data  # (C, n_out) float64 at the analysis rate, cleaned in place below
    del data
    raw_data = None
    if acc is None and with_raw:
        raw_data = work.astype(np.float32)
        if raw_keep is not None:
            raw_data[raw_rows] = _resample(raw_keep, fit.up, fit.down, cancel)
            del raw_keep
    miss_out = None if missing is None else _out_mask(missing, fit, ra, j0, n_out)
    oa, ob = fit.out_index(a) - j0, fit.out_index(b) - j0  # the core at the output rate
    nyq = sfreq_out / 2
    ephys = [i for i, m in enumerate(mods) if m in ELECTROPHYSIOLOGICAL]

    # notch -----------------------------------------------------------------------------------------------------
    report(progress, 0.4, "notch")
    if fit.line_freq is not None:
        freqs = [k * fit.line_freq for k in range(1, int(nyq // fit.line_freq) + 1) if k * fit.line_freq + 1.5 < nyq]
        above = "" if sfreq_in / 2 <= nyq + 1e-9 else f"; content above {nyq:g} Hz removed by resampling"
        if freqs:
            notch_rows(work, ephys, sfreq_out, freqs, config, cancel=cancel)
            harm = f" + {len(freqs) - 1} harmonic(s)" if len(freqs) > 1 else ""
            note(f"notch {fit.line_freq:g} Hz{harm} on {len(ephys)} channels ({config.filter_method.upper()}){above}")
        else:
            note(f"line frequency {fit.line_freq:g} Hz is at or above the output Nyquist frequency {nyq:g} Hz: "
                 f"no notch{above}")
    check_cancel(cancel)

    # muscle envelope ---------------------------------------------------------------------------------------------
    report(progress, 0.5, "muscle detection")
    muscle_runs = None
    if fit.muscle_plan is not None:
        env, q = _muscle_envelope(work, fit, cancel)
        ma, mb = -(-oa // q), -(-ob // q)  # the core at the muscle rate
        if acc is not None:
            acc.add_envelope(env[:, ma:mb])
        else:
            if fit.muscle_stats is None:  # inline: this piece is the whole span
                mean, sd = env.astype(np.float64).mean(axis=1), env.astype(np.float64).std(axis=1)
                object.__setattr__(fit, "muscle_stats", (mean, sd))
            mean, sd = fit.muscle_stats
            env -= mean[:, None].astype(np.float32)
            env /= np.where(sd > 0, sd, 1.0)[:, None].astype(np.float32)
            score = env.sum(axis=0, dtype=np.float64) / np.sqrt(env.shape[0])
            del env
            score = score[None]
            filter_rows(score, [0], fit.muscle_sfreq, None, 4.0, _MUSCLE_SCORE_FILTER)
            score = score[0]
            muscle_runs = _core_runs(score[ma:mb] > config.muscle_threshold, fit.out_index(a) // q)
    check_cancel(cancel)

    # EEG: reference, band-pass, EOG removal --------------------------------------------------------------------
    report(progress, 0.6, "EEG reference and EOG removal")
    left_out = set(fit.bads) | set(fit.masked_ch)
    eeg = [i for i, m in enumerate(mods) if m == Modality.EEG]
    eeg_good = [i for i in eeg if names[i] not in left_out]
    eog = [i for i, m in enumerate(mods) if m == Modality.EOG and names[i] not in left_out]
    if eeg:
        if config.eeg_reference == "average" and len(eeg_good) >= config.min_channels_average_ref:
            _average_reference(work, [i for i in eeg if names[i] not in fit.bads], eeg_good, miss_out)
            note(f"common average reference over {len(eeg_good)} EEG channels"
                 + (" (at each sample over the channels visible there)" if miss_out is not None else ""))
        elif not eeg_good:
            note(f"no usable EEG channel: all {len(eeg)} are flat or bad ({', '.join(names[i] for i in eeg)}); "
                 "EEG left unreferenced")
        elif config.eeg_reference == "average":
            note(f"average reference skipped: {len(eeg_good)} usable EEG channel(s), at least "
                 f"{config.min_channels_average_ref} needed")
        _band_pass(work, sfreq_out, config, Modality.EEG, eeg, names, nyq, note, cancel)
    check_cancel(cancel)
    if fit.eog is None or fit.eog[0] != "none":
        _eog_step(work, fit, recording, eeg_good, eog, miss_out, (oa, ob), acc, note, cancel)
    elif config.eog_method == "none":
        note("EOG removal off (configuration)")
    elif not eeg_good:
        note("no EEG channels: no EOG removal")
    elif not eog:
        note("no EOG channels: EOG removal skipped")
    if acc is not None:
        return None
    check_cancel(cancel)

    # other modalities ----------------------------------------------------------------------------------------
    report(progress, 0.8, "band-pass filters")
    for mod in dict.fromkeys(mods):
        if mod != Modality.EEG:
            _band_pass(work, sfreq_out, config, mod, [i for i, m in enumerate(mods) if m == mod], names, nyq,
                       note, cancel)
    clean = work[:, oa:ob].astype(np.float32)
    raw_core = None if raw_data is None else raw_data[:, oa:ob].copy()
    del work, raw_data
    if nan_mask is not None and config.restore_nan:
        m = _out_mask(nan_mask, fit, ra, j0 + oa, ob - oa)
        clean[m] = np.nan
        if raw_core is not None:
            raw_core[m] = np.nan
        note(f"NaN restored in raw and cleaned at {int(m.sum())} output samples")
    if mask_in is not None:
        m = _out_mask(mask_in, fit, ra, j0 + oa, ob - oa)
        clean[m] = np.nan
        note(f"cleaned signals are NaN (missing) under the masks: {int(m.sum())} output samples")
    return Piece(out_start=j0 + oa, cleaned=clean, raw=raw_core, runs=out, muscle=muscle_runs)


def _muscle_envelope(work: np.ndarray, fit: CleaningFit, cancel: CancelToken | None = None) -> tuple[np.ndarray, int]:
    """(P, n / q) float32 Hilbert envelope of the muscle band of the planned channels, and q (decimation).

    mne's :func:`~mne.preprocessing.annotate_muscle_zscore` rule computed on one array with a zero-phase
    Butterworth band-pass and a float32 Hilbert transform (see ``pipeline._detect_muscle``'s history): about 4x
    less CPU than mne's copy of the Raw.
    """
    from scipy import fft

    from .._scipy_signal import signal
    from .pipeline import _by_rows

    picks, band, _ = fit.muscle_plan
    x = work[picks]
    q = fit.muscle_q
    if q >= 2:
        x = _resample(x, 1, q, cancel)
    n = x.shape[1]
    sos = signal.butter(4, band, btype="bandpass", fs=fit.muscle_sfreq, output="sos")
    n_fft = fft.next_fast_len(n, real=False)

    def envelope(rows: np.ndarray) -> np.ndarray:
        y = signal.sosfiltfilt(sos, rows, axis=1).astype(np.float32)
        return np.abs(signal.hilbert(y, N=n_fft, axis=1)[:, :n])

    return _by_rows(envelope, x, cancel), q


def _eog_step(work: np.ndarray, fit: CleaningFit, recording: Recording, eeg: list[int], eog: list[int], missing, core,
              acc: _StatsAccumulator | None, note, cancel: CancelToken | None = None) -> None:
    """EOG removal of the piece in ``work`` ((C, n) float64, in place; fit, accumulate or apply; see ``pipeline._remove_eog``'s rule)."""
    config = fit.config
    sfreq = fit.sfreq_out
    eog_data = work[eog]
    band = config.band_for(Modality.EEG)
    if band is not None:  # the EOG in the EEG's band, so that the propagation factors refer to the same band
        low, high = band
        nyq = sfreq / 2
        high = high if high is not None and high < 0.9 * nyq else None
        if low is not None or high is not None:
            filter_rows(eog_data, list(range(len(eog_data))), sfreq, low, high, config, cancel=cancel)
    x = work
    oa, ob = core
    eog_vis = np.ones(eog_data.shape[1], bool) if missing is None else ~missing[eog].any(axis=0)
    if config.eog_method == "regression":
        if acc is not None or fit.eog is None:
            local = acc if acc is not None else _StatsAccumulator()
            local.add_regression(eog_data[:, oa:ob], x[eeg, oa:ob], eog_vis[oa:ob],
                                 None if missing is None else missing[eeg, oa:ob])
            if acc is not None:
                return
            model = local.regression(len(eog), len(eeg))
            object.__setattr__(fit, "eog", model)
            _note_regression(model, fit, recording, note)
        _, coef, mean = fit.eog
        ref = np.where(eog_vis, eog_data - mean, 0.0)  # nothing subtracted where the EOG is missing
        removed = coef @ ref
        for k, i in enumerate(eeg):  # row by row: no (E, n) copy of the EEG rows
            x[i] -= removed[k]
        if not eog_vis.all():
            note(f"EOG regression not applied at {int((~eog_vis).sum())} samples where the EOG is masked")
        return
    both = np.concatenate([x[eeg], eog_data])
    miss_any = None if missing is None else missing[eeg + eog].any(axis=0)
    if acc is not None:
        acc.ica_parts.append(both[:, oa:ob])
        # flags for every part, so that they stay aligned with the data when only a later block has missing samples
        # (before session 10 the blocks before the first such block added none, shifting the masked spans)
        acc.ica_missing.append(np.zeros(ob - oa, bool) if miss_any is None else miss_any[oa:ob])
        return
    if fit.eog is None:
        object.__setattr__(fit, "eog", _fit_ica(both, miss_any, fit, recording, note))
        if fit.eog[0] == "none":
            return
    ica = fit.eog[1]
    names = recording.ch_names
    tmp = mne.io.RawArray(both, mne.create_info([names[i] for i in eeg] + [names[i] for i in eog], sfreq,
                                                ["eeg"] * len(eeg) + ["eog"] * len(eog), verbose=False), verbose=False)
    tmp.set_eeg_reference([], verbose="error")
    ica.apply(tmp, verbose="error")
    x[eeg] = tmp.get_data(picks=list(range(len(eeg))))


# --- joining pieces ----------------------------------------------------------------------------------------
class SpanCollector:
    """Joins the detection runs of consecutive pieces and turns them into annotations (the span's clock)."""

    def __init__(self, fit: CleaningFit, recording: Recording) -> None:
        self.fit = fit
        self.names = recording.ch_names
        self.parts: dict[str, list[list[np.ndarray]]] = {}
        self.muscle: list[np.ndarray] = []

    def add(self, piece: Piece) -> None:
        for key, rows in piece.runs.items():
            self.parts.setdefault(key, [[] for _ in self.names])
            for i, r in enumerate(rows):
                if r.size:
                    self.parts[key][i].append(r)
        if piece.muscle is not None and piece.muscle.size:
            self.muscle.append(piece.muscle)

    @staticmethod
    def _join(parts: list[np.ndarray]) -> np.ndarray:
        if not parts:
            return np.zeros((0, 2), np.int64)
        r = np.concatenate(parts)
        r = r[np.argsort(r[:, 0], kind="stable")]
        out = [list(r[0])]
        for s, e in r[1:]:
            if s <= out[-1][1]:
                out[-1][1] = max(out[-1][1], e)
            else:
                out.append([s, e])
        return np.asarray(out, np.int64)

    def runs(self, key: str) -> list[np.ndarray]:
        """Joined runs of detector ``key`` per channel (input samples from the span start)."""
        rows = self.parts.get(key, [[] for _ in self.names])
        out = [self._join(p) for p in rows]
        if key == "flat":
            fit = self.fit
            min_n = int(round(fit.config.flat_min_s * fit.sfreq_in))
            for i, r in enumerate(out):
                r = r[(r[:, 1] - r[:, 0]) >= min_n] if r.size else r
                if r.size and fit.mask_runs is not None and fit.mask_runs[i].size:
                    r = _subtract(r, fit.mask_runs[i])
                out[i] = r
        return out

    def muscle_runs(self) -> np.ndarray:
        """Joined muscle runs with good gaps shorter than ``muscle_min_gap_s`` merged (muscle-rate samples)."""
        fit = self.fit
        art = self._join(self.muscle)
        if not art.size or fit.config.muscle_min_gap_s <= 0:
            return art
        n = -(-fit.n_out // fit.muscle_q)
        min_gap = fit.config.muscle_min_gap_s * fit.muscle_sfreq
        gaps_lo = np.concatenate(([0], art[:, 1]))
        gaps_hi = np.concatenate((art[:, 0], [n]))
        fill = (gaps_hi > gaps_lo) & ((gaps_hi - gaps_lo) < min_gap)
        merged = np.concatenate([art, np.column_stack([gaps_lo[fill], gaps_hi[fill]])]) if fill.any() else art
        return self._join([merged])

    def annotations(self) -> list[Annotation]:
        """BAD_nan (channels grouped), BAD_flat (grouped), BAD_jump (one per channel) and BAD_muscle spans."""
        fit = self.fit
        off = fit.start / fit.sfreq_in
        sf = fit.sfreq_in
        out: list[Annotation] = []
        for key, desc, group in (("nan", "BAD_nan", True), ("flat", "BAD_flat", True), ("jump", "BAD_jump", False)):
            by_span: dict[tuple[int, int], list[str]] = {}
            singles = []
            for name, r in zip(self.names, self.runs(key)):
                for s, e in r:
                    if group:
                        by_span.setdefault((int(s), int(e)), []).append(name)
                    else:
                        singles.append(Annotation(off + s / sf, (e - s) / sf, desc, (name,)))
            out += [Annotation(off + s / sf, (e - s) / sf, desc, tuple(chs)) for (s, e), chs in sorted(by_span.items())]
            out += singles
        ms = fit.muscle_sfreq
        out += [Annotation(off + s / ms, (e - s) / ms, "BAD_muscle") for s, e in self.muscle_runs()]
        out.sort(key=lambda a: (a.onset, a.description, a.ch_names))
        return out

    def notes(self) -> list[str]:
        """Step-log lines with the counts of the joined detections."""
        fit, cfg = self.fit, self.fit.config
        sf = fit.sfreq_in
        lines = []
        nan = self.runs("nan")
        if any(r.size for r in nan):
            total = sum(int((r[:, 1] - r[:, 0]).sum()) for r in nan if r.size)
            lines.append(f"NaN samples in {sum(1 for r in nan if r.size)} channel(s), "
                         f"{sum(len(r) for r in nan)} span(s), {total / sf:.2f} channel-seconds: interpolated for "
                         "filtering, reported as BAD_nan")
        if cfg.detect_flat:
            flat = self.runs("flat")
            chans = [self.names[i] for i, r in enumerate(flat) if r.size]
            lines.append(f"flat-signal check on {int(np.isfinite(fit.flat_scale).sum())} channels (windows "
                         f"{cfg.flat_window_s:g} s, at most {cfg.flat_rel_threshold:g} x median peak-to-peak, >= "
                         f"{cfg.flat_min_s:g} s): {sum(len(r) for r in flat)} flat span(s)"
                         + (f" on {', '.join(chans)}" if chans else ""))
        if cfg.detect_jumps and fit.jump:
            jumps = self.runs("jump")
            chans = [self.names[i] for i, r in enumerate(jumps) if r.size]
            lines.append(f"jump check on {len(fit.jump)} GSR/PPG channel(s) (change over {cfg.jump_lag_s:g} s > "
                         f"{cfg.jump_threshold:g} robust SD and > {cfg.jump_min_fraction:g} of the range): "
                         f"{sum(len(r) for r in jumps)} jump span(s)" + (f" on {', '.join(chans)}" if chans else ""))
        if fit.muscle_plan is not None:
            picks, band, mod = fit.muscle_plan
            m = self.muscle_runs()
            total = float((m[:, 1] - m[:, 0]).sum()) / fit.muscle_sfreq if m.size else 0.0
            notched = (f", {fit.line_freq:g} Hz notched" if fit.line_freq is not None
                       and band[0] - 30 < fit.line_freq < band[1] + 30 else "")
            lines.append(f"muscle detection (mne annotate_muscle_zscore's rule, {band[0]:g}-{band[1]:g} Hz envelope "
                         f"at {fit.muscle_sfreq:g} Hz{notched}, z > {cfg.muscle_threshold:g}) on {len(picks)} {mod} "
                         f"channel(s): {len(m)} span(s), {total:.1f} s")
        return lines


def _subtract(r: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """Runs ``r`` minus the runs ``cut`` (both (K, 2), sorted, disjoint)."""
    out = []
    for s, e in r:
        cur = s
        for cs, ce in cut:
            if ce <= cur or cs >= e:
                continue
            if cs > cur:
                out.append((cur, cs))
            cur = max(cur, ce)
        if cur < e:
            out.append((cur, e))
    return np.asarray(out, np.int64).reshape(-1, 2)


# --- iterating over a span ----------------------------------------------------------------------------------
def _input_buffer(recording: Recording, fit: CleaningFit, bounds, pad: int) -> np.ndarray:
    """One float64 buffer for the input of every piece in ``bounds`` (with ``pad`` context), reused piece after
    piece: the same memory is written each time instead of a fresh array per piece, whose first touch costs page
    faults (about a tenth of a piece's CPU time at 512 Hz)."""
    longest = max(min(fit.stop, b + pad) - max(fit.start, a - pad) for a, b in bounds)
    return np.empty(len(recording.ch_names) * longest)


def piece_bounds(fit: CleaningFit, chunk_s: float = CHUNK_S) -> list[tuple[int, int]]:
    """The pieces [a, b) (absolute input samples) of about ``chunk_s`` seconds that tile the span."""
    if not (isinstance(chunk_s, (int, float)) and math.isfinite(chunk_s) and chunk_s > 0):
        raise ConfigError(f"Invalid value for 'chunk_s': must be a number of seconds > 0, got {chunk_s!r}.")
    size = max(fit.align, int(round(chunk_s * fit.sfreq_in)) // fit.align * fit.align)
    edges = list(range(fit.start, fit.stop, size)) + [fit.stop]
    if len(edges) > 2 and edges[-1] - edges[-2] < size // 4:  # no sliver at the end
        edges.pop(-2)
    return list(zip(edges[:-1], edges[1:]))


def iter_clean(
    recording: Recording,
    fit: CleaningFit,
    *,
    chunk_s: float = CHUNK_S,
    collector: SpanCollector | None = None,
    with_raw: bool = False,
    notes: list[str] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Piece]:
    """Clean the span of ``fit`` piece by piece (bounded memory); detections go into ``collector``.

    Yields the pieces in order; their ``cleaned`` arrays concatenated equal the whole-span cleaning within float
    rounding, and ``collector.annotations()`` after the last one equals its interference spans. ``notes``
    receives the step log of the first piece (filters, reference, EOG removal).
    """
    bounds = piece_bounds(fit, chunk_s)
    buffer = _input_buffer(recording, fit, bounds, fit.pad)
    for k, (a, b) in enumerate(bounds):
        check_cancel(cancel)
        report(progress, k / len(bounds), f"cleaning piece {k + 1}/{len(bounds)}")
        piece = clean_piece(recording, fit, a, b, with_raw=with_raw, notes=notes if k == 0 else None, cancel=cancel,
                            buffer=buffer)
        if collector is not None:
            collector.add(piece)
        yield piece
    report(progress, 1.0, "cleaned")


def clean_window(
    recording: Recording,
    fit: CleaningFit,
    start_s: float,
    stop_s: float,
    *,
    cancel: CancelToken | None = None,
) -> tuple[float, np.ndarray]:
    """The cleaned signals of a window of the span (e.g. a page of the display), from the fitted cleaning.

    The window is widened to piece boundaries (multiples of ``fit.align`` input samples) and cleaned as a piece;
    the result equals the whole-span cleaning there within float rounding.

    Returns
    -------
    start_s : float
        Recording time of column 0, s.
    cleaned : np.ndarray, shape (n_channels, n_times)
        float32 at ``fit.sfreq_out``.
    """
    a = int(math.floor(start_s * fit.sfreq_in))
    b = int(math.ceil(stop_s * fit.sfreq_in))
    a = fit.start + max(0, (a - fit.start) // fit.align * fit.align)
    b = min(fit.stop, fit.start + -(-(b - fit.start) // fit.align) * fit.align)
    if b <= a:
        raise ConfigError(f"Invalid window {start_s}-{stop_s} s: outside the span of the cleaning.")
    piece = clean_piece(recording, fit, a, b, cancel=cancel)
    return fit.start / fit.sfreq_in + piece.out_start / fit.sfreq_out, piece.cleaned

