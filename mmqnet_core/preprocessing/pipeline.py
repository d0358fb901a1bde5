"""The preprocessing pipeline: one recording span in, raw and cleaned signals on one grid out.

Steps, in order (each one logged in :attr:`PreprocessResult.steps` with its numbers):

1. read the span; masks (``masks=``, a :class:`~mmqnet_core.masking.MaskSet`) and NaN/inf samples are missing
   data: bridged by a straight line between the visible samples around them for filtering (so nothing under a
   mask can reach a visible sample), left out of every fit and statistic below, NaN in ``cleaned`` at the end;
   NaN outside masks is reported as ``BAD_nan``;
2. flat spans (``BAD_flat``) and abrupt GSR/PPG jumps (``BAD_jump``) on the input data (rules in
   :mod:`.detect`), not on masked channels or samples;
3. power-line frequency: from the configuration, or detected from the spectrum (50 vs 60 Hz) of the unmasked
   channels at the input rate (60 Hz and its neighbours need more than 128 Hz);
4. resampling of every channel to ``target_sfreq`` (mne's anti-aliased polyphase method) - this is ``raw``
   (which keeps what is under the masks); everything below works at that rate, so ``raw`` and ``cleaned`` are
   aligned sample for sample;
5. notch at the line frequency and its harmonics below the Nyquist frequency on EEG/EOG/EMG/ECG (harmonics
   above it were removed by the anti-aliasing filter);
6. muscle artifacts (``BAD_muscle``, the rule of :func:`mne.preprocessing.annotate_muscle_zscore`) at the
   analysis rate, at 110-140 Hz when the channels hold it, else in the top 30 Hz below what they hold -
   each channel's OWN recorded rate counts (``ChannelInfo.sfreq``), not the rate it is stored at;
7. EEG common average reference (at each sample over the EEG channels visible there); EEG band-pass; EOG
   removal by regression (fitted per EEG channel on the samples where it and the EOG are visible, as
   :class:`mne.preprocessing.EOGRegression` computes it) or ICA (:class:`mne.preprocessing.ICA`, infomax,
   fitted off the masks, components correlated with the EOG removed); the EOG is band-passed like the EEG
   for this so that the fitted propagation factors match the EEG's band;
8. band-pass of the other modalities (:attr:`PreprocessConfig.bands`), clipped to the Nyquist frequency;
9. NaN put back under the masks, and where the input was NaN (``restore_nan``).

Masked whole channels are left out exactly as if the recording did not have them. Changing a mask changes the
global fits (reference, regression, ICA, detections), so a cleaning is redone whole, never in part
(:mod:`.cache` keeps one per recording, configuration and mask state).

Two passes (:mod:`.streaming`): the global quantities above (channels left out, the flat scale and jump statistics
of each channel, the line frequency, the muscle-envelope z-scoring, the EOG regression or ICA) are fitted first
(:func:`~.streaming.fit_cleaning`: the whole span when it is at most 10 minutes long, else 5 minutes of blocks
spread over it), then the span is cleaned as one piece with them (:func:`~.streaming.clean_piece`). A long span
cleaned in pieces with the same fit (bounded memory: the analysis of long recordings, the display's on-demand
pages) equals this function's output within float rounding.

Filters are mne's defaults: zero-phase FIR (``filter_method="fir"``, firwin design; the taps designed once by
:func:`mne.filter.create_filter` and applied here as mne applies them, see :func:`filter_rows`) or a 4th-order
Butterworth applied forward-backward (``"iir"``, by mne). FIR has no phase distortion or IIR instability at
0.05 Hz, hence the default.

Speed (1 h x 40 channels at 512 Hz, ``bench/bench_model.py --sfreq 512 --clean-only``): about 6 s of CPU on the
2-core target. The row-wise heavy steps (reading, resampling, filters, muscle envelope) run on two threads in
groups of at most 8 rows (``cancel`` is checked between groups); arrays of a cleaning call are allocated without
transparent-huge-page advice (:func:`small_pages`).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import mne
import numpy as np

from ..errors import ConfigError, RecordingError
from ..progress import CancelToken, ProgressCallback, check_cancel, report, scaled
from ..masking import MaskSet
from ..recording import Annotation, ChannelInfo, Modality, Recording, Signals
from .config import PreprocessConfig

log = logging.getLogger(__name__)

#: mne channel type of each modality (mne has no PPG type: "bio" is its generic biosignal type).
MNE_CH_TYPES: dict[Modality, str] = {
    Modality.EEG: "eeg",
    Modality.EOG: "eog",
    Modality.EMG: "emg",
    Modality.ECG: "ecg",
    Modality.GSR: "gsr",
    Modality.RESP: "resp",
    Modality.PPG: "bio",
    Modality.TEMP: "temperature",
    Modality.STIM: "stim",
    Modality.MISC: "misc",
}

_IIR_PARAMS = {"order": 4, "ftype": "butter", "output": "sos"}
_MUSCLE_BAND_HIGH = (110.0, 140.0)  # Hz, Muthukumaraswamy (2013), mne's default
#: Threads for the row-wise heavy steps (resampling, muscle envelope): the 2 cores of the target machine.
_THREADS = max(1, min(2, os.cpu_count() or 1))


_PAGES_LOCK = threading.Lock()
_PAGES_USERS = 0
_PAGES_BEFORE = True


@contextmanager
def small_pages():
    """Within this block numpy does not ask the kernel for transparent huge pages for new large arrays.

    numpy advises huge pages (``madvise(MADV_HUGEPAGE)``) for every array of 4 MB or more. On the 2-core virtual
    target machine (THP ``enabled``/``defrag`` = ``madvise``) the first touch of such memory cost far more kernel
    time than the work: cleaning 1 h x 40 channels at 512 Hz took 11.6 s of CPU with the advice, pieces 1 and 2
    at 2-2.7 s each of which ~1.5 s in the kernel, and 7.7 s without it (every piece ~1 s, ~0.1 s in the kernel;
    measured with getrusage per piece). A fresh process's first pieces are the ones that grow its memory, hence
    the slow first pieces. The cleaning's arrays live for one 10-minute piece, so huge pages buy little here.
    numpy has no public switch for this at run time (only the ``NUMPY_MADVISE_HUGEPAGE`` variable read at
    import), so its documented ``_set_madvise_hugepage`` is used when present; re-entrant and thread-safe (a
    counter; the previous setting is restored when the last user leaves). It changes speed only, never a value.
    """
    global _PAGES_USERS, _PAGES_BEFORE
    setter = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
    if setter is None:
        yield
        return
    with _PAGES_LOCK:
        if _PAGES_USERS == 0:
            _PAGES_BEFORE = bool(setter(False))
        _PAGES_USERS += 1
    try:
        yield
    finally:
        with _PAGES_LOCK:
            _PAGES_USERS -= 1
            if _PAGES_USERS == 0:
                setter(_PAGES_BEFORE)


def with_small_pages(fn):
    """Decorator: ``fn`` runs inside :func:`small_pages`, with its worker threads (``_worker_scope``)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with small_pages(), _worker_scope():
            return fn(*args, **kwargs)
    return wrapper


@dataclass(frozen=True)
class PreprocessResult:
    """What :func:`preprocess` returns.

    ``raw`` and ``cleaned`` have the same channels, sampling rate and number of samples; sample 0 of both is
    at :attr:`start_s` seconds of the recording. Interference onsets are in recording time (seconds from the
    recording start, like every :class:`~mmqnet_core.recording.Annotation`); :meth:`interference_relative`
    gives them relative to sample 0.
    """

    raw: Signals  # the original signals resampled (anti-aliased only) to the output rate
    cleaned: Signals  # cleaned signals, same grid, shape and channels as raw
    interference: tuple[Annotation, ...]  # BAD_nan, BAD_flat, BAD_jump (per channel), BAD_muscle (all), by onset
    line_freq: float | None  # power-line frequency used for the notch, Hz (None: no notch)
    steps: tuple[str, ...]  # human-readable log of what was done, with numbers
    config: PreprocessConfig  # the configuration used
    start_s: float = 0.0  # recording time of sample 0 of raw/cleaned, s

    @property
    def sfreq(self) -> float:
        """Sampling rate of ``raw`` and ``cleaned``, Hz."""
        return self.cleaned.sfreq

    def interference_relative(self) -> tuple[Annotation, ...]:
        """Interference spans with onsets relative to sample 0 of ``cleaned`` (for :func:`extract_features`)."""
        return tuple(
            Annotation(a.onset - self.start_s, a.duration, a.description, a.ch_names) for a in self.interference
        )

    def summary(self) -> dict[str, Any]:
        """JSON-safe description: steps, interference spans, rates and configuration (no signal data)."""
        return {
            "start_s": self.start_s,
            "duration_s": self.cleaned.duration_s,
            "sfreq": self.sfreq,
            "n_channels": self.cleaned.n_channels,
            "n_times": self.cleaned.n_times,
            "channels": [
                {"name": c.name, "modality": c.modality.value, "unit": c.unit} for c in self.cleaned.channels
            ],
            "line_freq": self.line_freq,
            "steps": list(self.steps),
            "interference": [
                {"onset": a.onset, "duration": a.duration, "description": a.description,
                 "ch_names": list(a.ch_names)}
                for a in self.interference
            ],
            "config": self.config.to_dict(),
        }


@with_small_pages
def preprocess(
    recording: Recording,
    config: PreprocessConfig = PreprocessConfig(),
    *,
    masks: MaskSet | None = None,
    start_s: float = 0.0,
    stop_s: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PreprocessResult:
    """Clean a span of a recording: line noise, band-pass per modality, EOG removal, interference detection.

    Parameters
    ----------
    recording : Recording
        The recording; only the span ``start_s``-``stop_s`` is read.
    config : PreprocessConfig
        What to do (see its fields for the defaults).
    masks : MaskSet, optional
        What is missing: the user's masks, simulated missing data (:func:`~mmqnet_core.masking.simulate_missing`)
        or both. Masked samples are treated as missing data from the first step on: they never enter the
        common average reference, the EOG regression / ICA fit, line-noise detection, muscle detection or any
        statistic over channels or time (for filtering they are bridged by a straight line between the visible
        samples around them, so nothing under a mask reaches a visible sample), and ``cleaned`` is NaN under
        them. ``raw`` keeps the masked data (a mask hides data, it does not delete it). None = nothing masked.
    start_s, stop_s : float
        Span to process, seconds from the recording start; ``stop_s=None`` means the end.
    progress : callable, optional
        ``progress(fraction, message)``, called once per step.
    cancel : CancelToken, optional
        Checked between steps; :class:`~mmqnet_core.errors.Cancelled` is raised when set.

    Returns
    -------
    PreprocessResult
        ``raw`` (resampled only) and ``cleaned`` signals at ``min(target_sfreq, recording.sfreq)`` Hz (a rate that is
        not a whole number of Hz rounded down to one: ``streaming.analysis_sfreq``) in the
        units of the recording (V for EEG/EOG/EMG/ECG), float32, plus the interference spans and a step log.

    Raises
    ------
    ConfigError
        If ``config``, ``masks`` or the span is invalid.
    RecordingError
        If the span holds no samples.
    Cancelled
        If ``cancel`` is set between two steps.
    """
    if not isinstance(config, PreprocessConfig):
        raise ConfigError(f"'config' must be a PreprocessConfig, got {type(config).__name__}.")
    if masks is not None and not isinstance(masks, MaskSet):
        raise ConfigError(f"'masks' must be a MaskSet or None, got {type(masks).__name__}.")
    from .streaming import SpanCollector, clean_piece, fit_cleaning, iter_clean, piece_bounds

    start, stop = _check_span(recording, start_s, stop_s)
    sfreq_in = recording.sfreq
    offset = start / sfreq_in
    report(progress, 0.0, "reading")
    steps = [f"read {recording.n_channels} channels, {(stop - start) / sfreq_in:.3f} s at {sfreq_in:g} Hz from "
             f"{offset:.3f} s"]
    # the global quantities (inline: fitted by the one piece below when the span is fitted whole)
    fit = fit_cleaning(recording, config, masks=masks, start_s=start_s, stop_s=stop_s, inline=True,
                       progress=scaled(progress, 0.0, 0.3), cancel=cancel)
    if fit.mask_runs is not None:
        total = sum(int((s[:, 1] - s[:, 0]).sum()) for s in fit.mask_runs if s.size)
        partly = sum(1 for i, s in enumerate(fit.mask_runs) if s.size and recording.ch_names[i] not in fit.masked_ch)
        steps.append(f"masks: {len(fit.masked_ch)} whole channel(s) ({', '.join(fit.masked_ch) or 'none'}) and "
                     f"segments on {partly} channel(s), {total / sfreq_in:.1f} channel-seconds in all: treated as "
                     "missing data (left out of every fit and statistic, NaN in the cleaned signals)")
    steps += fit.steps
    check_cancel(cancel)
    report(progress, 0.3, "cleaning")
    piece_notes: list[str] = []
    spans = SpanCollector(fit, recording)
    bounds = piece_bounds(fit)
    if len(bounds) == 1:
        piece = clean_piece(recording, fit, fit.start, fit.stop, with_raw=True, notes=piece_notes,
                            progress=scaled(progress, 0.3, 1.0), cancel=cancel)
        spans.add(piece)
        raw, cleaned = piece.raw, piece.cleaned
    else:
        # a long span is cleaned in pieces of CHUNK_S into arrays allocated once at the output rate: the pieces
        # equal the whole-span cleaning within float rounding (tests/core/preprocessing/test_streaming.py), and
        # working on 10-min blocks instead of one (C, n) float64 array of the whole span at the input rate is
        # both smaller and faster (1 h x 40 ch at 512 Hz: ~2.5x less wall time on this 2-core machine, where
        # the first use of hundreds of MB of fresh memory costs seconds of kernel time)
        n_ch = len(recording.ch_names)
        raw = np.empty((n_ch, fit.n_out), np.float32)
        cleaned = np.empty((n_ch, fit.n_out), np.float32)
        filled = 0
        for piece in iter_clean(recording, fit, collector=spans, with_raw=True, notes=piece_notes,
                                progress=scaled(progress, 0.3, 1.0), cancel=cancel):
            j, n = piece.out_start, piece.cleaned.shape[1]
            cleaned[:, j:j + n] = piece.cleaned
            raw[:, j:j + n] = piece.raw
            filled += n
        if filled != fit.n_out:  # the pieces tile the span's output exactly
            raise AssertionError(f"cleaning pieces gave {filled} output samples, expected {fit.n_out}")
    steps += spans.notes() + piece_notes
    for message in steps:
        log.info(message)
    check_cancel(cancel)
    report(progress, 1.0, "done")
    return PreprocessResult(
        raw=Signals(raw, fit.sfreq_out, recording.channels),
        cleaned=Signals(cleaned, fit.sfreq_out, recording.channels),
        interference=tuple(spans.annotations()),
        line_freq=fit.line_freq,
        steps=tuple(steps),
        config=config,
        start_s=offset,
    )


# --- helpers ------------------------------------------------------------------------------------------------
def _check_span(recording: Recording, start_s: float, stop_s: float | None) -> tuple[int, int]:
    """Validate the span and return it as sample indices [start, stop) of the recording."""
    duration = recording.duration_s
    if not isinstance(start_s, (int, float)) or not math.isfinite(start_s) or not 0 <= start_s < duration:
        raise ConfigError(
            f"Invalid value for 'start_s': must be between 0 and the recording's duration {duration:.3f} s, "
            f"got {start_s!r}."
        )
    if stop_s is not None and (not isinstance(stop_s, (int, float)) or not stop_s > start_s):
        raise ConfigError(f"Invalid value for 'stop_s': must be after start_s={start_s} s, got {stop_s!r}.")
    start = int(round(start_s * recording.sfreq))
    stop = recording.n_times if stop_s is None else min(recording.n_times, int(round(stop_s * recording.sfreq)))
    if stop - start < 2:
        raise RecordingError(
            f"The span {start_s}-{stop_s} s of {recording.title} holds {max(0, stop - start)} sample(s); "
            "choose a longer span."
        )
    return start, stop


def _filter_kwargs(config: PreprocessConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"method": config.filter_method, "verbose": "error"}
    if config.filter_method == "iir":
        kwargs["iir_params"] = dict(_IIR_PARAMS)
    return kwargs


def _describe_band(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"band-pass {low:g}-{high:g} Hz"
    return f"high-pass {low:g} Hz" if low is not None else f"low-pass {high:g} Hz"


def _band_pass(x: np.ndarray, sfreq: float, config: PreprocessConfig, mod: Modality, picks: list[int],
               names: list[str], nyq: float, note, cancel: CancelToken | None = None) -> None:
    """Filter the rows ``picks`` of ``x`` ((C, n) float64, in place; modality ``mod``) with its configured band,
    clipped to the Nyquist frequency."""
    band = config.band_for(mod)
    if not picks or band is None:
        return
    low, high = band
    clip = ""
    if low is not None and low >= 0.9 * nyq:
        note(f"{mod.value}: high-pass {low:g} Hz is above the Nyquist frequency {nyq:g} Hz: not filtered")
        return
    h_trans: float | str = "auto"
    if high is not None:
        # mne's automatic transition (max(high / 4, 2 Hz)) is far too wide for sub-hertz low-passes.
        if high >= 0.9 * nyq:
            clip = f" (low-pass {high:g} Hz dropped: too close to the Nyquist frequency {nyq:g} Hz)"
            high = None
        else:
            h_trans = min(max(0.25 * high, 2.0) if high >= 8 else 0.5 * high, nyq - high)
    if low is None and high is None:
        note(f"{mod.value}: not filtered{clip}")
        return
    filter_rows(x, picks, sfreq, low, high, config, h_trans=h_trans, cancel=cancel)
    span_s = x.shape[1] / sfreq
    short = ""
    if low is not None and span_s < 3.3 / min(max(0.25 * low, 2.0), low):
        short = f"; span {span_s:.1f} s is shorter than the filter, content below ~{2 * low:g} Hz is unreliable"
    note(f"{_describe_band(low, high)} on {len(picks)} {mod.value} channel(s){clip}{short}")


# --- zero-phase filtering -----------------------------------------------------------------------------------
# The FIR filters are mne's (designed by mne.filter.create_filter with the defaults of Raw.filter and
# Raw.notch_filter: firwin, Hamming window, zero phase, "reflect_limited" edge padding), but applied here rather
# than by mne.filter.filter_data, which re-designs the filter and checks its attenuation (freqz) on every call and
# then convolves one row and one FFT block at a time in Python (~10 000 FFT calls per 10-minute piece of 40
# channels). The taps are designed once per rate and band (cached), and the convolution of the padded rows is one
# scipy.signal.fftconvolve per group of rows, in two threads: the same numbers as mne's overlap-add within FFT
# rounding (relative 1e-14, tests/core/preprocessing/test_cleaning_runtime.py) for about half the CPU time.
# IIR filters (filter_method="iir") stay with mne.

_NOTCH_TRANS = 1.0  # Hz, mne's default transition band of Raw.notch_filter


@functools.lru_cache(maxsize=128)
def _fir_taps(sfreq: float, l_freq, h_freq, l_trans, h_trans) -> np.ndarray:
    """The zero-phase FIR taps mne designs for ``filter_data(x, sfreq, l_freq, h_freq, ...)`` (read-only).

    mne's FIR design does not depend on the data (its length only triggers a warning), so it is cached.
    ``l_freq``/``h_freq`` are floats, None or tuples (mne's band-stop lists, for the notch).
    """
    as_arg = (lambda f: list(f) if isinstance(f, tuple) else f)
    h = mne.filter.create_filter(None, sfreq, as_arg(l_freq), as_arg(h_freq), filter_length="auto",
                                 l_trans_bandwidth=l_trans, h_trans_bandwidth=h_trans, method="fir",
                                 phase="zero", fir_window="hamming", fir_design="firwin", verbose="error")
    h = np.asarray(h, dtype=np.float64)
    h.setflags(write=False)
    return h


def _fir_apply(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Rows of ``x`` filtered with the zero-phase FIR ``h`` exactly as mne's overlap-add does it (see above).

    mne pads each row with ``min(len(h), n) - 1`` samples on each side, point-reflected about the edge sample and
    zero beyond the row's own length ("reflect_limited"), convolves, and keeps the samples delayed by half the
    filter.
    """
    from .._scipy_signal import signal

    n, n_h = x.shape[1], len(h)
    if n_h == 1:
        return x * h[0]
    n_edge = max(min(n_h, n) - 1, 0)
    if n_edge:
        zeros = np.zeros((x.shape[0], max(n_edge - n + 1, 0)))
        x = np.concatenate([zeros, 2 * x[:, :1] - x[:, n_edge:0:-1], x, 2 * x[:, -1:] - x[:, -2:-n_edge - 2:-1],
                            zeros], axis=1)
    shift = (n_h - 1) // 2 + n_edge
    return signal.fftconvolve(x, h[None, :], mode="full", axes=1)[:, shift:shift + n]


_SCOPE = threading.local()  # .pool: the worker threads of the cleaning call running in this thread


@contextmanager
def _worker_scope():
    """Worker threads for every row-group step of one cleaning call (:func:`with_small_pages` opens it): a pool
    per step would start 2 threads ~15 times per piece, and on a loaded machine each start waits for the
    scheduler (~10 ms at load 7). Re-entrant; the threads are joined when the outermost call returns."""
    if getattr(_SCOPE, "pool", None) is not None or _THREADS < 2:
        yield
        return
    with ThreadPoolExecutor(_THREADS, thread_name_prefix="mmqnet-rows") as pool:
        _SCOPE.pool = pool
        try:
            yield
        finally:
            _SCOPE.pool = None


def _map_groups(fn, groups: list) -> list:
    """``[fn(g) for g in groups]`` on :data:`_THREADS` threads (those of the current cleaning call, else a pool of
    its own). Every group has finished when this returns or raises (the first error, e.g. Cancelled, is
    re-raised), so no worker writes into the caller's arrays afterwards."""
    if _THREADS < 2 or len(groups) < 2:
        return [fn(g) for g in groups]
    pool = getattr(_SCOPE, "pool", None)
    if pool is None:
        with ThreadPoolExecutor(_THREADS) as own:
            futures = [own.submit(fn, g) for g in groups]
    else:
        futures = [pool.submit(fn, g) for g in groups]
        wait(futures)
    return [f.result() for f in futures]


def _rows_in_place(x: np.ndarray, rows: list[int], fn, cancel: CancelToken | None) -> None:
    """``x[rows] = fn(x[rows])`` in groups of rows spread over :data:`_THREADS` threads, ``cancel`` checked
    between groups (a group is at most 8 rows: a fraction of a second)."""
    rows = [int(r) for r in rows]
    if not rows:
        return
    groups = [rows[a:b] for a, b in _row_groups(len(rows))]

    def one(group: list[int]) -> None:
        check_cancel(cancel)
        x[group] = fn(x[group])

    _map_groups(one, groups)


def filter_rows(x: np.ndarray, rows: list[int], sfreq: float, l_freq: float | None, h_freq: float | None,
                config: PreprocessConfig, *, l_trans: float | str = "auto", h_trans: float | str = "auto",
                cancel: CancelToken | None = None) -> None:
    """Zero-phase filter of the ``rows`` of ``x`` ((C, n) float64) in place, as
    ``mne.filter.filter_data(x, sfreq, l_freq, h_freq, picks=rows, method=config.filter_method, ...)``.

    ``cancel`` is checked between groups of rows.
    """
    if config.filter_method == "iir":
        check_cancel(cancel)
        mne.filter.filter_data(x, sfreq, l_freq, h_freq, picks=list(rows), l_trans_bandwidth=l_trans,
                               h_trans_bandwidth=h_trans, copy=False, **_filter_kwargs(config))
        return
    h = _fir_taps(float(sfreq), l_freq, h_freq, l_trans, h_trans)
    _rows_in_place(x, rows, lambda r: _fir_apply(r, h), cancel)


def notch_rows(x: np.ndarray, rows: list[int], sfreq: float, freqs: list[float], config: PreprocessConfig, *,
               cancel: CancelToken | None = None) -> None:
    """Notch at ``freqs`` of the ``rows`` of ``x`` in place, as ``mne.io.Raw.notch_filter(freqs, picks=rows)``
    (mne's default widths: band-stops of freq / 200 + 1 Hz of transition, Hz)."""
    if config.filter_method == "iir":
        check_cancel(cancel)
        mne.filter.notch_filter(x, sfreq, freqs, picks=list(rows), copy=False, **_filter_kwargs(config))
        return
    # what mne.filter.notch_filter hands to filter_data: band-stops [f - w/2 - tb/2, f + w/2 + tb/2], w = f / 200
    tb_2 = _NOTCH_TRANS / 2.0
    widths = [f / 200.0 for f in freqs]
    lows = tuple(f - w / 2.0 - tb_2 for f, w in zip(freqs, widths))
    highs = tuple(f + w / 2.0 + tb_2 for f, w in zip(freqs, widths))
    h = _fir_taps(float(sfreq), highs, lows, tb_2, tb_2)
    _rows_in_place(x, rows, lambda r: _fir_apply(r, h), cancel)


def _muscle_plan(config: PreprocessConfig, mods: list[Modality], names: list[str], left_out: set[str],
                 sfreq: float, channels: tuple[ChannelInfo, ...],
                 note) -> tuple[list[int], tuple[float, float], str] | None:
    """How muscle detection runs at the analysis rate ``sfreq``: (picks, band Hz, modality name), or None (the
    reason said once through ``note``: no usable EEG/EMG channel, or channels recorded too slowly).

    A channel holds content only below the Nyquist frequency of its OWN recorded rate (``ChannelInfo.sfreq``;
    a 128-Hz channel stored up-sampled in a 512-Hz file holds nothing above 64 Hz) and of the analysis rate.
    The default band is 110-140 Hz when the best channel holds it, else the top 30 Hz below 95 % of what it
    holds (e.g. 30.8-60.8 Hz at 128 Hz); channels that cannot hold the band are left out (said in the log).
    """
    if not config.detect_muscle:
        return None
    for mod in (Modality.EEG, Modality.EMG):
        picks = [i for i, m in enumerate(mods) if m == mod and names[i] not in left_out]
        if picks:
            break
    else:
        note("no usable EEG or EMG channels: no muscle detection")
        return None

    def held(i: int) -> float:  # highest frequency channel i can carry at the analysis rate, Hz
        own = channels[i].sfreq if channels[i].sfreq > 0 else sfreq
        return 0.95 * min(sfreq, own) / 2

    best = max(held(i) for i in picks)
    if config.muscle_band is not None:
        band = config.muscle_band
    elif best >= 0.95 * 150:
        band = _MUSCLE_BAND_HIGH
    else:  # the top 30 Hz below 95 % of the Nyquist frequency (e.g. 30.8-60.8 Hz at 128 Hz)
        band = (max(best - 30.0, 20.0), best)
        if band[0] >= band[1]:  # muscle activity lies above 20 Hz: channels recorded this slowly cannot show it
            note(f"no muscle detection: the {mod.value} channels hold nothing above {best:.3g} Hz (recorded at "
                 f"{max(channels[i].sfreq for i in picks):g} Hz; muscle activity lies above 20 Hz)")
            return None
    if band[1] > best + 1e-9:
        raise ConfigError(
            f"Invalid value for 'muscle_band': {band[0]:g}-{band[1]:g} Hz needs a sampling rate above "
            f"{band[1] / 0.475:.0f} Hz, the recording has {2 * best / 0.95:g} Hz at the analysis rate "
            f"(target_sfreq {config.target_sfreq:g} Hz, channels' own rates up to "
            f"{max(channels[i].sfreq for i in picks):g} Hz); lower the band or set detect_muscle=False."
        )
    short = [i for i in picks if held(i) < band[1] - 1e-9]
    if short:
        note(f"muscle detection leaves out {len(short)} channel(s) recorded too slowly for "
             f"{band[0]:g}-{band[1]:g} Hz: {', '.join(f'{names[i]} ({channels[i].sfreq:g} Hz)' for i in short)}")
    return [i for i in picks if i not in short], band, mod.value



def _average_reference(x: np.ndarray, ref_to: list[int], ref_from: list[int], missing: np.ndarray | None) -> None:
    """Common average reference of ``x`` ((C, n_times) float64) in place: the mean of rows ``ref_from``
    subtracted from rows ``ref_to``.

    With ``missing`` ((C, n_times) bool), the mean at each sample is over the ``ref_from`` channels visible
    there, so a masked or NaN sample never enters the reference of the others. Written by hand because
    :meth:`mne.io.Raw.set_eeg_reference` can only leave a channel out for the whole recording.
    """
    total = np.zeros(x.shape[1])
    count: np.ndarray | int = np.zeros(x.shape[1])
    for i in ref_from:  # one channel at a time: no (C, n_times) temporary
        if missing is None or not missing[i].any():  # the same sums as below, without boolean indexing
            total += x[i]
            count += 1
        else:
            vis = ~missing[i]
            total[vis] += x[i, vis]
            count += vis
    ref = total / len(ref_from) if missing is None else total / np.maximum(count, 1)
    for i in ref_to:
        x[i] -= ref


def _row_groups(n: int, size: int = 8) -> list[tuple[int, int]]:
    """[a, b) groups of at most ``size`` of ``n`` rows (evenly spread; at least one per thread when possible)."""
    k = max(-(-n // size), min(n, _THREADS), 1)
    cut = np.linspace(0, n, k + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(cut[:-1], cut[1:])]


def _by_rows(fn, x: np.ndarray, cancel: CancelToken | None = None) -> np.ndarray:
    """``fn`` applied to groups of rows of ``x`` in :data:`_THREADS` threads, results stacked by rows.

    The heavy loops below (polyphase filtering, IIR filtering, FFTs) run in scipy's compiled code, which
    releases the GIL: two threads use the two cores of the target machine. Each row is processed exactly as
    in one call, so the result does not depend on the number of threads or groups. ``cancel`` is checked before
    each group (at most 8 rows: a fraction of a second).
    """
    if x.shape[0] < 2:
        check_cancel(cancel)
        return fn(x)
    groups = _row_groups(x.shape[0])

    def one(ab: tuple[int, int]) -> np.ndarray:
        check_cancel(cancel)
        return fn(x[ab[0]:ab[1]])

    parts = _map_groups(one, groups)
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def _may_be_flat(x: np.ndarray, sfreq: float, config: PreprocessConfig, scale: float | None = None) -> bool:
    """False when :func:`.detect.flat_mask` cannot find a flat window in the row ``x`` (no NaN), cheaply.

    The detector calls a sliding window of ``w`` samples flat when its peak-to-peak is at most
    ``flat_rel_threshold`` times the median peak-to-peak of the non-overlapping windows starting at 0, w, 2w...
    Every sliding window of w samples contains a whole block of ``w // 2`` samples on the block grid, and that
    block's peak-to-peak is at most the window's; so when no such block is that flat, no window is, and the
    detector's exact answer is "nothing". Block extremes are plain reshapes (vectorised, no sliding filter):
    about a tenth of the detector's cost, and real channels are rarely close to flat.
    """
    n = x.size
    w = max(2, int(round(config.flat_window_s * sfreq)))
    if n < w:
        return False
    if scale is None:  # the detector's own scale, exactly (a fitted one is given by the streamed cleaning)
        full = x[: (n // w) * w].reshape(-1, w)
        scale = float(np.median(full.max(axis=1) - full.min(axis=1)))
    h = w // 2
    if h < 1:
        return True
    half = x[: (n // h) * h].reshape(-1, h)
    return bool(((half.max(axis=1) - half.min(axis=1)) <= config.flat_rel_threshold * scale).any())




