"""Analysis of a recording of any length in bounded memory: fit -> pieces -> feature blocks -> model.

:func:`analyze_streaming` is :func:`~mmqnet_core.inference.analyze` without ever holding the whole recording:

1. the cleaning's global quantities are fitted once (:func:`~mmqnet_core.preprocessing.streaming.fit_cleaning`:
   the whole span up to 10 minutes, else 5 minutes of blocks spread over it);
2. the span is read and cleaned in pieces of ``chunk_s`` (10 min) with the context the filters need, resampled to
   the analysis rate first (:func:`~mmqnet_core.preprocessing.streaming.iter_clean`); only the cleaned signals at
   the analysis rate (float32) are kept, and only until their features are computed;
3. features are computed on blocks of ``feature_block_s`` (1 h) of cleaned signal plus
   :data:`FEATURE_PAD_S` of context on each side, keeping the windows whose start lies in the block; the EEG
   high-band interference score (a robust z-score over all windows) is computed once over the whole recording;
4. the model runs on the features (T x N x F: ~0.15 GB for 24 h) exactly as in :func:`analyze`.

Equality with the whole-recording path: the cleaning is identical within float rounding (same fit, exact
context; ``tests/core/preprocessing/test_streaming.py``). A recording no longer than one feature block gets
exactly the whole path's features and predictions (``tests/core/inference/test_streaming.py``). Longer ones
differ only in the few peripheral features whose thresholds are statistics over the signal they are computed on
(the 75th percentile of the local beat/breath size, the median beat interval, the EOG channel's robust SD, the
per-channel median window SD of the flat-window rule): those are taken per hour instead of over the whole
recording -- the right scale for a recording of many hours anyway.

Work in parallel (2 cores): pieces are cleaned two at a time in helper threads, ahead of the feature blocks, and
a block's token groups (4 tokens of one modality) run in two threads while the next pieces are cleaned; each
piece and group is computed exactly as alone, so the result does not depend on the threads.

The app's display cleaning is reused: when the cleaning cache holds the on-demand display cleaning of the same
recording, configuration, masks and span (:func:`~mmqnet_core.preprocessing.on_demand.clean_for_display`
registers it), the analysis takes its fit and the tiles it has cleaned, and puts the pieces it cleans into the
display's store (:func:`iter_pieces`).

Memory: the per-window arrays of a long recording (features, their validity, reconstructions) live in a deleted
memory-mapped temp file whose pages are dropped from resident memory between blocks (:mod:`.spill`), so the
peak does not grow with the length.

Cancel: the caller's thread waits on the helpers while checking the token every 0.05 s (the fit too, whose own
checks can be seconds apart: :func:`run_cancellable`), so a cancel raises at once in every stage before the
model; the helpers stop at their next own check. The model checks between batches and before each layer.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Iterator

import numpy as np

from ..progress import CancelToken, ProgressCallback, check_cancel, report, scaled, start_daemon, wait_checking

log = logging.getLogger(__name__)

#: Feature blocks: this much cleaned signal at a time, s (1 h of 40 channels at 128 Hz: 74 MB float32).
FEATURE_BLOCK_S = 3600.0
#: Context on each side of a feature block, s (event-rate contexts and running medians of the local scale).
FEATURE_PAD_S = 60.0

#: When a model still to be loaded (:class:`~mmqnet_core.inference.model_loading.DeferredModel`) starts loading:
#: ``"cleaning"`` once the cleaning is fitted, beside the cleaning of the pieces; ``"features"`` once the first
#: feature block's pieces are cleaned, beside its features. Importing torch holds the interpreter lock most of
#: its ~2.5 s of CPU; see :func:`analyze_streaming`.
LOAD_MODEL_AT = "cleaning"


#: Spans holding more than this many bytes of float64 input samples are analysed in pieces (64 MB: 40 channels at
#: 512 Hz for 6.5 minutes, at 128 Hz for 26 minutes); shorter ones go through the cleaning cache whole (the app's
#: display cleaning is reused).
STREAM_ABOVE_BYTES = 64 * 2**20


def should_stream(recording: Any, config: Any, masks: Any = None, cache: Any = None, *, start_s: float = 0.0,
                  stop_s: float | None = None) -> bool:
    """True when the span is above :data:`STREAM_ABOVE_BYTES` and its cleaning is not in ``cache``."""
    stop = recording.duration_s if stop_s is None else min(float(stop_s), recording.duration_s)
    big = (stop - float(start_s)) * recording.sfreq * recording.n_channels * 8 > STREAM_ABOVE_BYTES
    return big and (cache is None or cache.lookup(recording, config, masks, start_s=start_s, stop_s=stop_s) is None)


def recording_features(recording: Any, model: Any, masks: Any = None, *, cache: Any = None, start_s: float = 0.0,
                       stop_s: float | None = None, cancel: CancelToken | None = None) -> Any:
    """The features of a span on the model's layout, as :func:`analyze` computes them (in pieces when
    :func:`should_stream`, else from ``cache`` / a whole cleaning); windows on the recording clock."""
    from ..features import extract_features
    from ..preprocessing import preprocess
    from ..preprocessing.streaming import fit_cleaning

    config = model.preprocess_config
    if should_stream(recording, config, masks, cache, start_s=start_s, stop_s=stop_s):
        fit = fit_cleaning(recording, config, masks=masks, start_s=start_s, stop_s=stop_s, cancel=cancel)
        return stream_features(recording, fit, model.feature_config, model.layout, cancel=cancel)[0]
    pre = (preprocess(recording, config, masks=masks, start_s=start_s, stop_s=stop_s, cancel=cancel) if cache is None
           else cache.get_or_clean(recording, config, masks=masks, start_s=start_s, stop_s=stop_s, cancel=cancel))
    fs = extract_features(pre.cleaned, model.feature_config, layout=model.layout, interference=pre.interference,
                          cancel=cancel)
    if float(start_s) > 0 and fs.n_windows and fs.window_starts[0] < float(start_s) - 1e-9:
        fs = dataclasses.replace(fs, window_starts=fs.window_starts + float(start_s))  # onto the recording clock
    return fs


#: Tokens featurised per call (one modality): small temporaries, and a cancel check every fraction of a second
#: (an hour of 4 EEG tokens: ~0.15 s of CPU).
TOKEN_GROUP = 4
#: Threads cleaning pieces at once, and threads computing a feature block's token groups at once. Most of a
#: piece's cleaning (reading, detectors, resampling, the reference and EOG steps) runs on one core; two pieces at
#: once keep both cores of the target machine busy, and numpy/scipy/mne release the GIL in their loops. Each
#: piece is cleaned exactly as alone, so the result does not depend on the number of threads.
CLEAN_THREADS = 2
FEATURE_THREADS = 2


def release_memory() -> None:
    """Give the heap memory freed by a piece or block back to the system (glibc ``malloc_trim``; no-op elsewhere).

    Each piece and feature block allocates and frees arrays of a few MB to tens of MB; glibc keeps such freed
    blocks in its heap (below its mmap threshold) and later large allocations (the model stage) come from new
    mappings, so the peak would be the sum of the stages instead of the largest. Written with ctypes because
    neither numpy nor the standard library exposes it.
    """
    global _TRIM
    if _TRIM is None:
        try:
            import ctypes
            import ctypes.util

            _TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)
    from . import spill

    spill.trim()  # and the pages of the spilled per-window arrays touched so far


_TRIM: Any = None


#: Values copied between two cancel checks when a feature block's signal is joined (1 MB of float32).
_TAKE_ELEMENTS = 2**18


class _Buffer:
    """Cleaned pieces kept in order until the feature blocks that need them are done (output samples).

    With ``total`` (a span that is one feature block), each piece is copied on arrival into one array of the
    whole span and kept as a view of it, so that the block's signal is that array: no join after the last
    piece, and the pieces and their joined copy are never held at once. The copies run in the consumer's thread
    while the helper threads clean the next pieces (the join ran after them, before the features could start:
    0.1-0.3 s of a 1-h analysis on one core, with page faults of a new array).
    """

    def __init__(self, total: int | None = None) -> None:
        self.parts: list[tuple[int, np.ndarray]] = []
        self.total = total
        self.whole: np.ndarray | None = None
        self.in_whole = total is not None  # every piece so far is a view of ``whole``

    @property
    def end(self) -> int:
        return self.parts[-1][0] + self.parts[-1][1].shape[1] if self.parts else 0

    def add(self, start: int, data: np.ndarray) -> None:
        if self.in_whole:
            if self.whole is None:
                self.whole = np.empty((data.shape[0], self.total), data.dtype)
            fits = (data.dtype == self.whole.dtype and data.ndim == 2 and data.shape[0] == self.whole.shape[0]
                    and 0 <= start and start + data.shape[1] <= self.whole.shape[1])
            if fits:
                view = self.whole[:, start:start + data.shape[1]]
                np.copyto(view, data)
                data = view
            else:  # pragma: no cover - pieces of another shape: joined by take() as without ``total``
                self.in_whole = False
        self.parts.append((start, data))

    def take(self, a: int, b: int, cancel: CancelToken | None = None) -> np.ndarray:
        """Samples [a, b) (must be held), as ``np.concatenate`` of the pieces, copied in blocks of at most
        :data:`_TAKE_ELEMENTS` values with a cancel check before each (an hour of 40 channels is ~74 MB of new
        pages: seconds on a loaded machine); a view when the pieces were copied into one array (``total``)."""
        parts = [(s, d) for s, d in self.parts if s < b and s + d.shape[1] > a]
        if (self.in_whole and parts and parts[0][0] <= a and parts[-1][0] + parts[-1][1].shape[1] >= b
                and all(s1 == s0 + d0.shape[1] for (s0, d0), (s1, _) in zip(parts, parts[1:]))):
            return self.whole[:, a:b]  # the pieces [a, b) held contiguously, each in its place in ``whole``
        parts = [d[:, max(a, s) - s: min(b, s + d.shape[1]) - s] for s, d in parts]
        if len(parts) == 1:
            return parts[0]
        rows = parts[0].shape[0]
        out = np.empty((rows, sum(p.shape[1] for p in parts)), np.result_type(*parts))
        step = max(1, _TAKE_ELEMENTS // max(1, rows))  # columns per copy (a fraction of a second under load)
        pos = 0
        for part in parts:
            for c in range(0, part.shape[1], step):
                check_cancel(cancel)
                n = min(step, part.shape[1] - c)
                out[:, pos:pos + n] = part[:, c:c + n]
                pos += n
        return out

    def drop_before(self, a: int) -> None:
        self.parts = [(s, d) for s, d in self.parts if s + d.shape[1] > a]


class _Either:
    """A cancel token set when either the caller's token or an internal stop is set (stops the helper threads
    when the consumer of the pieces stops)."""

    def __init__(self, cancel: CancelToken | None) -> None:
        import threading

        self.cancel = cancel
        self.stop = threading.Event()

    def is_set(self) -> bool:
        return self.stop.is_set() or (self.cancel is not None and self.cancel.is_set())


def _start(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` in a new daemon thread (:func:`~mmqnet_core.progress.start_daemon`)."""
    return start_daemon(fn, *args, **kwargs)


def _wait(future: Any, cancel: CancelToken | None) -> Any:
    """``future.result()``, checking ``cancel`` every 0.05 s while waiting."""
    return wait_checking(future, cancel)


def run_cancellable(fn: Any, *args: Any, cancel: CancelToken | None = None, **kwargs: Any) -> Any:
    """``fn(*args, cancel=cancel, **kwargs)`` in a helper thread, this thread checking ``cancel`` every 0.05 s.

    For a step whose own cancel checks can be seconds apart on a busy machine (the cleaning's fit): a cancel
    raises :class:`~mmqnet_core.errors.Cancelled` here at once, and the helper stops at its next own check (it
    is given the same token) in the background. Without a token, ``fn`` runs here.
    """
    if cancel is None:
        return fn(*args, cancel=cancel, **kwargs)
    return _wait(_start(fn, *args, cancel=cancel, **kwargs), cancel)


def _jobs(fit: Any, chunk_s: float, display: Any) -> list[tuple[str, Any]]:
    """What to do for the span in order: ``("clean", (a, b), tiles)`` (clean the input samples [a, b); ``tiles``:
    the display tiles it covers, filled afterwards) or ``("tile", k)`` (the display has cleaned tile ``k``)."""
    from ..preprocessing.streaming import piece_bounds

    if display is None:
        return [("clean", ab, ()) for ab in piece_bounds(fit, chunk_s)]
    lazy = display.data
    per = max(1, int(round(chunk_s / lazy.tile_s)))  # tiles per piece cleaned here (5 by default)
    jobs: list[tuple[str, Any]] = []
    run: list[int] = []

    def flush() -> None:
        for i in range(0, len(run), per):
            ks = run[i:i + per]
            jobs.append(("clean", (lazy.bounds[ks[0]][0], lazy.bounds[ks[-1]][1]), tuple(ks)))
        run.clear()

    for k in range(len(lazy.bounds)):
        if lazy.has_tile(k):
            flush()
            jobs.append(("tile", k))
        else:
            run.append(k)
    flush()
    return jobs


def iter_pieces(
    recording: Any,
    fit: Any,
    *,
    chunk_s: float | None = None,
    display: Any = None,
    collector: Any = None,
    notes: list[str] | None = None,
    threads: int | None = None,
    stats: dict | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Any]:
    """The cleaned pieces of the span of ``fit`` in order, :data:`CLEAN_THREADS` cleaned at once.

    As :func:`~mmqnet_core.preprocessing.streaming.iter_clean` (same pieces, same samples), with two
    differences: pieces are cleaned ahead in helper threads (at most ``threads`` in flight, so memory stays
    bounded), and with ``display`` (the app's :class:`~mmqnet_core.preprocessing.on_demand.OnDemandCleaning` of
    the same recording, configuration, masks and span, whose ``fit`` is ``fit``) the tiles the display has
    already cleaned are taken from its store instead of being cleaned again, and the pieces cleaned here are
    put into that store (the display then shows them without cleaning). Detections go into ``collector`` (in
    order). ``notes`` receives the step log of the first piece cleaned here (of the display's first tile when
    every piece comes from the display). ``stats`` (a dict), when given, receives the counts ``"cleaned"``
    (pieces cleaned here) and ``"reused"`` (display tiles taken from its store).
    """
    import collections

    from ..preprocessing.streaming import CHUNK_S, _input_buffer, clean_piece

    chunk = CHUNK_S if chunk_s is None else chunk_s
    jobs = _jobs(fit, chunk, display)
    # input buffers, one per piece in flight, reused from piece to piece (as iter_clean's): a fresh ~100 MB array
    # per piece at 512 Hz is a fresh mapping whose every page faults on first touch (~0.1 s of kernel time each)
    clean_bounds = [j[1] for j in jobs if j[0] == "clean"]
    free: list[np.ndarray] = []
    made = [0]
    lent: dict[int, np.ndarray] = {}
    counts = stats if stats is not None else {}
    counts["cleaned"] = sum(j[0] == "clean" for j in jobs)
    counts["reused"] = len(jobs) - counts["cleaned"]
    n_threads = max(1, CLEAN_THREADS if threads is None else int(threads))
    stop = _Either(cancel)
    pending: collections.deque = collections.deque()  # (job, future or None), in order
    first_note = [True]
    done_ok = False

    def submit(job: tuple[str, Any]) -> Any:
        if job[0] == "tile":
            return None
        (a, b), _ = job[1], job[2]
        want = notes if (notes is not None and first_note[0]) else None
        first_note[0] = False
        if not free and made[0] < n_threads:
            free.append(_input_buffer(recording, fit, clean_bounds, fit.pad))
            made[0] += 1
        buf = free.pop() if free else None
        fut = _start(clean_piece, recording, fit, a, b, notes=want, cancel=stop, buffer=buf)
        if buf is not None:
            lent[id(fut)] = buf
        return fut

    try:
        n = len(jobs)
        nxt = 0
        while nxt < n or pending:
            # keep up to n_threads pieces in flight (tiles from the display's store cost nothing)
            while nxt < n and sum(f is not None for _, f in pending) < n_threads:
                check_cancel(cancel)
                report(progress, nxt / n, f"cleaning piece {nxt + 1}/{n}")
                pending.append((jobs[nxt], submit(jobs[nxt])))
                nxt += 1
            job, fut = pending.popleft()
            if job[0] == "tile":
                pieces = [display.data.tile_piece(job[1])]
            else:
                piece = _wait(fut, cancel)
                if id(fut) in lent:  # the piece is done with it (nothing it returns refers to it)
                    free.append(lent.pop(id(fut)))
                pieces = [piece]
                if display is not None:
                    display.data.put_piece(piece, job[2])
            for piece in pieces:
                if collector is not None:
                    collector.add(piece)
                yield piece
            del pieces, job, fut
        free.clear()  # the features need the memory next
        if notes is not None and first_note[0] and display is not None:  # nothing cleaned here
            notes.extend(display.data.notes)
        report(progress, 1.0, "cleaned")
        done_ok = True
    finally:
        if not done_ok:  # cancelled, failed or abandoned: the helper threads stop at their next check
            stop.stop.set()


def stream_features(
    recording: Any,
    fit: Any,
    feature_config: Any,
    layout: Any,
    *,
    chunk_s: float | None = None,
    feature_block_s: float = FEATURE_BLOCK_S,
    display: Any = None,
    stats: dict | None = None,
    before_features: Any = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Any, Any, list[str]]:
    """Clean the span of ``fit`` piece by piece and compute its features block by block.

    Each block's features are computed for groups of at most :data:`TOKEN_GROUP` tokens of one modality at a
    time (every feature of a token depends on its own channel only), so that a cancel is seen within a fraction
    of a second and the temporaries stay small; the tokens are bound to channels once, on the whole layout. The
    EEG high-band interference score (a robust z-score over windows and EEG tokens) is computed at the end over
    every window, as :func:`~mmqnet_core.features.extract_features` computes it over the whole recording.
    Pieces come from :func:`iter_pieces` (cleaned ahead in helper threads; with ``display``, the tiles the app's
    on-demand display cleaning already holds are reused, and the pieces cleaned here fill its store); a block's
    token groups run in :data:`FEATURE_THREADS` threads, while the next pieces are being cleaned.

    ``before_features`` (a callable), when given, is called once in this thread when the first block's pieces
    are cleaned, before its features are computed (:func:`analyze_streaming` starts the model's load there).

    Returns
    -------
    features : FeatureSet
        Windows on the recording clock.
    spans : SpanCollector
        The joined detections (``spans.annotations()``: the interference spans).
    notes : list of str
        Step-log lines of the first piece (filters, reference, EOG removal).
    """
    from ..features import extract_features
    from ..features.extract import hf_column, hf_score_from_de
    from ..features.featureset import FeatureSet
    from ..features.layout import bind_layout, layout_for
    from ..features.missing import MissingReason
    from ..features.peripheral import EXTRACTORS
    from ..features.spectral import WindowGrid
    from ..preprocessing.streaming import SpanCollector
    from ..recording import Signals

    sf = fit.sfreq_out
    n_total = fit.n_out
    offset = fit.start / fit.sfreq_in
    grid = WindowGrid.make(sf, n_total, feature_config.window_s, feature_config.step_s)  # the whole span's grid
    step, n_win, t_total = grid.step, grid.n, grid.n_windows
    per_block = max(1, int(round(feature_block_s * sf / step)))  # windows per block
    one_block = per_block >= t_total
    pad_w = int(np.ceil(FEATURE_PAD_S * sf / step))
    cfg = dataclasses.replace(feature_config, hf_z_threshold=None)  # the high-band score: once, at the end
    tokens = bind_layout(layout if layout is not None else layout_for(recording.channels), recording.channels)
    modalities = list(dict.fromkeys(t.modality for t in tokens))
    if not tokens or any(m not in EXTRACTORS for m in modalities):  # extract_features says what is wrong
        extract_features(Signals(np.zeros((recording.n_channels, n_win), np.float32), sf, recording.channels),
                         feature_config, layout=layout)
    names = {m: EXTRACTORS[m].names(feature_config) for m in modalities}
    units = {m: EXTRACTORS[m].units(feature_config) for m in modalities}
    waveform = {m: w for m in modalities if (w := EXTRACTORS[m].waveform_slice(feature_config)) is not None}
    n_feat = max(len(v) for v in names.values())
    groups = []
    for m in modalities:
        idx = [i for i, t in enumerate(tokens) if t.modality == m and t.channel is not None]
        groups += [idx[k:k + TOKEN_GROUP] for k in range(0, len(idx), TOKEN_GROUP)]
    absent_only = not groups
    if absent_only:  # no token has a channel: one call gives the (missing) tokens and the interference coverage
        groups = [list(range(len(tokens)))]
    n_tok = len(tokens)
    from . import spill

    values = spill.zeros((t_total, n_tok, n_feat), np.float32)  # in a temp file for long recordings
    fvalid = spill.zeros((t_total, n_tok, n_feat), bool)
    missing = np.ones((t_total, n_tok), bool)
    reason = np.full((t_total, n_tok), MissingReason.NO_CHANNEL, np.uint8)
    coverage = np.zeros(t_total, np.float32)
    starts = np.zeros(t_total)
    spans = SpanCollector(fit, recording)
    buf = _Buffer(n_total if one_block else None)  # one block: the pieces go straight into its signal
    notes: list[str] = []
    next_block = 0
    n_blocks = -(-t_total // per_block)

    def block_range(k: int) -> tuple[int, int, int, int]:
        w0, w1 = k * per_block, min(t_total, (k + 1) * per_block)
        s0 = max(0, w0 - pad_w) * step
        s1 = n_total if w1 + pad_w >= t_total else (w1 + pad_w - 1) * step + n_win
        return w0, w1, s0, s1

    def run_group(sig: Any, ann: Any, k: int, gi: int, token: CancelToken | None) -> None:
        check_cancel(token)
        w0, w1, s0, _ = block_range(k)
        lo = w0 - s0 // step
        keep = slice(lo, lo + (w1 - w0))
        g = groups[gi]
        # the first group computes the interference coverage; every group needs the flat spans (dead channels)
        fs = extract_features(sig, cfg, layout=[tokens[i] for i in g],
                              interference=ann if gi == 0 else [a for a in ann if a.description == "BAD_flat"],
                              t0_s=offset + s0 / sf, cancel=token)
        f = fs.values.shape[2]
        values[w0:w1, g, :f] = fs.values[keep]  # disjoint tokens per group: threads never write the same cells
        fvalid[w0:w1, g, :f] = fs.feature_valid[keep]
        missing[w0:w1, g] = fs.missing[keep]
        reason[w0:w1, g] = fs.reason[keep]
        if gi == 0:  # the interference coverage: the same for every group, computed by the first
            coverage[w0:w1] = fs.interference[keep]
            starts[w0:w1] = fs.window_starts[keep]

    def run_block(k: int) -> None:
        nonlocal before_features
        if before_features is not None:
            call, before_features = before_features, None
            call()
        _, _, s0, s1 = block_range(k)
        report(progress, min(1.0, buf.end / max(n_total, 1)), f"features of block {k + 1}/{n_blocks}")
        sig = Signals(buf.take(s0, s1, cancel), sf, recording.channels)
        ann = spans.annotations()
        if FEATURE_THREADS < 2 or len(groups) < 2:
            for gi in range(len(groups)):
                run_group(sig, ann, k, gi, cancel)
        else:
            import threading

            stop = _Either(cancel)
            todo = iter(range(len(groups)))
            lock = threading.Lock()

            def worker() -> None:  # takes the next group until none is left or the block is stopped
                while not stop.is_set():
                    with lock:
                        gi = next(todo, None)
                    if gi is None:
                        return
                    run_group(sig, ann, k, gi, stop)

            futures = [_start(worker) for _ in range(FEATURE_THREADS)]
            try:
                for fut in futures:
                    _wait(fut, cancel)
            except BaseException:  # cancelled or failed: the other groups stop at their next check
                stop.stop.set()
                raise
        del sig
        release_memory()

    pieces = iter_pieces(recording, fit, chunk_s=chunk_s, display=display, collector=spans, notes=notes,
                         stats=stats, progress=progress, cancel=cancel)
    for piece in pieces:
        buf.add(piece.out_start, piece.cleaned)
        piece = None
        # a block runs once its signal and the detections around it are complete (joined runs may still grow
        # at the end of what has been cleaned, hence the margin)
        while (not one_block and next_block < n_blocks
               and buf.end >= min(n_total, block_range(next_block)[3] + int(FEATURE_PAD_S * sf))):
            run_block(next_block)
            next_block += 1
            if next_block < n_blocks:
                buf.drop_before(block_range(next_block)[2])
    while next_block < n_blocks:  # the last block(s), once the detections are complete
        run_block(next_block)
        next_block += 1
    buf.parts, buf.whole = [], None
    release_memory()
    valid = np.zeros((n_tok, n_feat), bool)
    for n, tok in enumerate(tokens):
        valid[n, : len(names[tok.modality])] = True
    interference = coverage
    hf = None
    eeg, col = hf_column(tokens, feature_config)
    if eeg and feature_config.hf_z_threshold is not None:  # the DE column block by block (spilled arrays)
        de = np.empty((t_total, len(eeg)))
        for a in range(0, t_total, 4096):
            sl = slice(a, a + 4096)
            de[sl] = np.where(fvalid[sl][:, eeg, col], values[sl][:, eeg, col].astype(np.float64), np.nan)
            spill.trim()
        hf = hf_score_from_de(de, feature_config)
        del de
    if hf is not None:
        interference = np.maximum(coverage, hf).astype(np.float32)
    fs = FeatureSet(values=values, valid=valid, missing=missing, tokens=tokens, feature_names=names,
                    feature_units=units, waveform=waveform, window_starts=starts, window_s=grid.n / grid.sfreq,
                    sfreq=sf, config=feature_config, interference=interference, feature_valid=fvalid, reason=reason)
    return fs, spans, notes


def analyze_streaming(
    recording: Any,
    masks: Any,
    model: Any,
    *,
    preprocess_config: Any = None,
    start_s: float = 0.0,
    stop_s: float | None = None,
    batch_size: int = 64,
    attention: bool = True,
    subject_statistics: Any = None,
    mc_samples: int | None = 0,
    mc_seed: int = 0,
    attribution: Any = None,
    chunk_s: float | None = None,
    feature_block_s: float = FEATURE_BLOCK_S,
    display: Any = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    windows: tuple[float, float] | None = None,
) -> Any:
    """:func:`~mmqnet_core.inference.analyze` in bounded memory (see the module docstring).

    Arguments as :func:`~mmqnet_core.inference.analyze` (the cleaning cache is not used: nothing whole is kept),
    plus ``chunk_s`` (cleaning piece, s; default 600), ``feature_block_s`` (s; default 3600) and ``display``:
    the app's on-demand display cleaning of the same recording, configuration, masks and span
    (:meth:`~mmqnet_core.preprocessing.CleaningCache.lookup_on_demand`), whose fit and cleaned tiles are reused.
    ``windows``: report only the windows of this span, analysed inside the whole (``analyze_features``).
    """
    from ..errors import MMQNetError
    from ..preprocessing.pipeline import small_pages
    from ..preprocessing.streaming import fit_cleaning
    from .analyze import analyze_features, span_step, spans_within
    from .model_loading import start_loading

    timings: dict[str, float] = {}
    check_cancel(cancel)
    t0 = time.perf_counter()
    config = preprocess_config if preprocess_config is not None else model.preprocess_config
    if display is not None and display.fit.config != config:
        raise MMQNetError("The display's cleaning was made with another preprocessing configuration than the "
                          "analysis': look it up with the analysis' configuration (CleaningCache.lookup_on_demand).")
    fit = display.fit if display is not None else run_cancellable(  # its checks can be seconds apart
        fit_cleaning, recording, config, masks=masks, start_s=start_s, stop_s=stop_s,
        progress=scaled(progress, 0.0, 0.08), cancel=cancel)
    timings["fit"] = time.perf_counter() - t0
    late = LOAD_MODEL_AT == "features"
    if not late:
        start_loading(model)  # a model loading in a helper thread: beside the cleaning (see DeferredModel.start)
    t0 = time.perf_counter()
    stats: dict = {}
    with small_pages():  # see small_pages: the features' and the model stage's large numpy temporaries
        fs, spans, notes = stream_features(recording, fit, model.feature_config, model.layout, chunk_s=chunk_s,
                                           feature_block_s=feature_block_s, display=display, stats=stats,
                                           before_features=(lambda: start_loading(model)) if late else None,
                                           progress=scaled(progress, 0.08, 0.6), cancel=cancel)
    start_loading(model)  # (started already, or nothing to start: a loaded model)
    timings["preprocess+features"] = time.perf_counter() - t0
    if all(t.channel is None for t in fs.tokens):
        wanted = ", ".join(f"{t.name} ({t.modality.value})" for t in model.layout[:6])
        raise MMQNetError(
            f"No channel of {recording.title} matches the model's layout (expects e.g. {wanted}, ...; the recording "
            f"has {', '.join(recording.ch_names[:8])}{'...' if recording.n_channels > 8 else ''}): rename the "
            "channels or set their modality, or use a checkpoint trained on this layout."
        )
    reuse = ([] if display is None else [
        f"the display's cleaning reused: its fit, and {stats['reused']} {display.data.tile_s:g}-s tile(s) it had "
        f"cleaned (the {stats['cleaned']} piece(s) cleaned here were kept for the display)"])
    steps = ([f"read and cleaned {recording.n_channels} channels, {fit.n_in / fit.sfreq_in:.3f} s at "
              f"{fit.sfreq_in:g} Hz from {fit.start / fit.sfreq_in:.3f} s, in {stats['cleaned']} piece(s) "
              "(bounded memory)"] + reuse + list(fit.steps) + spans.notes() + notes + list(span_step(windows)))
    interference = spans_within(spans.annotations(), windows)
    with small_pages():
        result = analyze_features(fs, masks, model, batch_size=batch_size, attention=attention,
                                  subject_statistics=subject_statistics, mc_samples=mc_samples, mc_seed=mc_seed,
                                  attribution=attribution, progress=scaled(progress, 0.6, 1.0), cancel=cancel,
                                  title=recording.title, is_synthetic=recording.is_synthetic, steps=tuple(steps),
                                  interference_spans=interference, reuse_features=True,  # fs is ours
                                  windows=windows)
    timings.update(result.timings)
    return dataclasses.replace(result, timings=timings)
