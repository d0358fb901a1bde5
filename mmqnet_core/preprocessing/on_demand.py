"""The display's cleaning of a long recording, on demand: pages are cleaned when they are drawn.

A long recording (above :data:`ON_DEMAND_ABOVE_BYTES` of float64 input) is not cleaned whole for display: the
cleaning task only fits the global quantities (:func:`~.streaming.fit_cleaning`, seconds for hours of data) and
returns an :class:`OnDemandCleaning`, whose ``cleaned.data[rows, a:b]`` cleans the tiles of :data:`TILE_S` that
the page covers with :func:`~.streaming.clean_piece` -- the same code and fit as the bounded-memory analysis, so
a page equals the whole-span cleaning within float rounding. The browser reads pages (and prefetches the next
one) in its own threads; tiles are kept in a bounded least-recently-used store. Short recordings are cleaned
whole through the cleaning cache, as before (the analysis reuses that cleaning).

The analysis shares this cleaning: :func:`clean_for_display` registers it in the cleaning cache
(:meth:`~.cache.CleaningCache.register_on_demand`, held weakly: it lives as long as the display holds it), and
:func:`~mmqnet_core.inference.analyze` with that cache takes its fit, the tiles it holds (not cleaned again) and
puts the pieces it cleans into the store (:meth:`_LazyCleaned.put_piece`: pages shown afterwards are not cleaned
again either).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from ..masking import MaskSet
from ..progress import CancelToken, ProgressCallback
from ..recording import Annotation, Recording
from .config import PreprocessConfig
from .streaming import CleaningFit, Piece, SpanCollector, clean_piece, fit_cleaning, piece_bounds

#: Spans above this many bytes of float64 input samples are cleaned for display on demand (64 MB: 40 channels
#: at 512 Hz for 6.5 minutes); shorter ones are cleaned whole (through the cache, shared with the analysis).
ON_DEMAND_ABOVE_BYTES = 64 * 2**20
#: Length of the tiles the display cleans on demand, s (a 10-s page and its neighbours lie in one or two).
TILE_S = 120.0
#: Most bytes of cleaned tiles kept (least recently used first out).
TILE_CACHE_BYTES = 256 * 2**20


def _clip(runs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The (K, 2) runs ``runs`` cut to [lo, hi) (empty runs dropped)."""
    if not runs.size:
        return runs
    s = np.maximum(runs[:, 0], lo)
    e = np.minimum(runs[:, 1], hi)
    keep = e > s
    return np.column_stack([s[keep], e[keep]]).astype(runs.dtype).reshape(-1, 2)


class _LazyCleaned:
    """An array-like (C, n_out) float32 whose samples are cleaned when indexed (``data[rows, a:b]``).

    Tiles of :data:`TILE_S` are cleaned with the fit (:func:`clean_piece`) on first use and kept in a bounded LRU
    store; thread-safe (the browser prefetches neighbouring pages in a thread): a tile asked for twice at once is
    cleaned once.
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, recording: Recording, fit: CleaningFit, collector: SpanCollector,
                 tile_s: float = TILE_S, max_bytes: int = TILE_CACHE_BYTES) -> None:
        self.recording, self.fit, self.collector = recording, fit, collector
        self.tile_s = float(tile_s)
        self.bounds = piece_bounds(fit, tile_s)
        self.starts = np.array([fit.out_index(a) for a, _ in self.bounds] + [fit.n_out])
        self.shape = (len(recording.ch_names), fit.n_out)
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[int, np.ndarray] = OrderedDict()
        self._busy: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._seen: set[int] = set()
        self._found: dict[int, tuple[dict, Any]] = {}  # tile -> its detections (runs, muscle runs): small, all kept
        self.notes: list[str] = []  # step log of the first tile cleaned (filters, reference, EOG removal)
        self.cleaned_tiles = 0  # tiles cleaned here (for tests and the log)
        self.put_tiles = 0  # tiles put into the store by the analysis' cleaning
        # Set by the display: False for a tile no page near the one shown needs (the reader paged past it). A tile
        # cleaned for a read of pages (``data[rows, a:b]``) then stops at its next cancel check (Cancelled); tiles
        # asked for by the analysis (:meth:`tile_piece`) or by name (:meth:`tile`) are always cleaned.
        self.wanted: Callable[[int], bool] | None = None

    def has_tile(self, k: int) -> bool:
        """True when tile ``k`` is in the store (cleaned and not yet dropped)."""
        with self._lock:
            return k in self._tiles

    def tile_piece(self, k: int) -> Piece:
        """Tile ``k`` as a cleaned :class:`~.streaming.Piece` (samples and detections), from the store or now."""
        cleaned = self.tile(k)
        with self._lock:
            runs, muscle = self._found[k]
        return Piece(out_start=int(self.starts[k]), cleaned=cleaned, raw=None, runs=runs, muscle=muscle)

    def put_piece(self, piece: Piece, tiles: "tuple[int, ...] | list[int]") -> None:
        """Keep the tiles ``tiles`` of a piece cleaned elsewhere with the same fit (the analysis' pieces span whole
        tiles): their samples go into the store while it has room (at the least recently used end: they never
        push out a tile the display cleaned), their detections into the display's spans. The piece must start at
        the first tile and end at the last one."""
        fit = self.fit
        if not tiles:
            return
        first, last = tiles[0], tiles[-1]
        if piece.out_start != self.starts[first] or piece.out_start + piece.cleaned.shape[1] != self.starts[last + 1]:
            raise ValueError(f"piece at output sample {piece.out_start} does not span tiles {first}-{last}")
        q = fit.muscle_q
        for k in tiles:
            lo, hi = self.bounds[k][0] - fit.start, self.bounds[k][1] - fit.start  # input samples from the start
            mlo = -np.inf if k == first else fit.out_index(self.bounds[k][0]) // q
            mhi = np.inf if k == last else fit.out_index(self.bounds[k][1]) // q
            runs = {key: [_clip(r, lo if k != first else -np.inf, hi if k != last else np.inf) for r in rows]
                    for key, rows in piece.runs.items()}
            muscle = None if piece.muscle is None else _clip(piece.muscle, mlo, mhi)
            a, b = int(self.starts[k] - piece.out_start), int(self.starts[k + 1] - piece.out_start)
            tile = Piece(out_start=int(self.starts[k]), cleaned=piece.cleaned[:, a:b].copy(), raw=None, runs=runs,
                         muscle=muscle)
            with self._lock:
                self._found.setdefault(k, (runs, muscle))
                if k not in self._seen:
                    self._seen.add(k)
                    self.collector.add(tile)
                # kept while the store has room: the analysis never pushes out the tiles of the pages on screen
                if k not in self._tiles and self._nbytes() + tile.cleaned.nbytes <= self.max_bytes:
                    self._tiles[k] = tile.cleaned
                    self._tiles.move_to_end(k, last=False)  # and its tiles are the first to go for a new page
                    self.put_tiles += 1

    def _nbytes(self) -> int:  # called with the lock held
        return sum(t.nbytes for t in self._tiles.values())

    def _trim(self) -> None:  # called with the lock held
        total = self._nbytes()
        while total > self.max_bytes and len(self._tiles) > 1:
            _, old = self._tiles.popitem(last=False)
            total -= old.nbytes

    def __len__(self) -> int:
        return self.shape[0]

    def tile(self, k: int, cancel: CancelToken | None = None) -> np.ndarray:
        """Tile ``k`` (C, n) cleaned, from the store or now (``cancel``: checked while it is cleaned here)."""
        while True:
            with self._lock:
                if k in self._tiles:
                    self._tiles.move_to_end(k)
                    return self._tiles[k]
                event = self._busy.get(k)
                if event is None:
                    event = self._busy[k] = threading.Event()
                    break
            event.wait()
        try:
            a, b = self.bounds[k]
            notes: list[str] = []
            piece = clean_piece(self.recording, self.fit, a, b, notes=notes, cancel=cancel)
            with self._lock:
                self.cleaned_tiles += 1
                if not self.notes:
                    self.notes = notes
                self._found.setdefault(k, (piece.runs, piece.muscle))
                if k not in self._seen:  # detections of each tile once
                    self._seen.add(k)
                    self.collector.add(piece)
                self._tiles[k] = piece.cleaned
                self._trim()
            return piece.cleaned
        finally:
            with self._lock:
                self._busy.pop(k, None)
            event.set()

    def __getitem__(self, index) -> np.ndarray:
        rows, cols = index if isinstance(index, tuple) else (index, slice(None))
        if not isinstance(cols, slice) or cols.step not in (None, 1):
            raise IndexError("on-demand cleaned signals are indexed as data[rows, start:stop]")
        a, b, _ = cols.indices(self.shape[1])
        b = max(a, b)
        n_rows = len(np.arange(self.shape[0])[rows]) if not isinstance(rows, (int, np.integer)) else None
        out = np.full((self.shape[0] if n_rows is None else n_rows, b - a), np.nan, np.float32) \
            if n_rows is not None else np.full(b - a, np.nan, np.float32)
        first = int(np.searchsorted(self.starts, a, side="right")) - 1
        k = max(first, 0)
        while k < len(self.bounds) and self.starts[k] < b:
            lo, hi = max(a, self.starts[k]), min(b, self.starts[k + 1])
            t = self.tile(k, _Unwanted(self, k))
            out[..., lo - a: hi - a] = t[rows, lo - self.starts[k]: hi - self.starts[k]]
            k += 1
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:, :]
        return out if dtype is None else out.astype(dtype)


class _Unwanted:
    """Cancel token of a tile cleaned for a read of pages: set once the display no longer wants the tile."""

    def __init__(self, data: _LazyCleaned, k: int) -> None:
        self.data, self.k = data, k

    def is_set(self) -> bool:
        wanted = self.data.wanted
        return wanted is not None and not wanted(self.k)


class OnDemandCleaning:
    """A cleaning whose samples are computed when read: what the display of a long recording uses.

    Looks like a :class:`~.pipeline.PreprocessResult` to a reader of pages: ``cleaned`` is a
    :class:`~mmqnet_core.recording.Signals` whose ``data[rows, a:b]`` cleans the tiles it covers with the fit
    (the same code and fit as the bounded-memory analysis; equal to the whole-span cleaning within float
    rounding). ``interference`` holds the spans found in the tiles cleaned so far; ``raw`` is None (the
    recording itself is the raw view).
    """

    def __init__(self, recording: Recording, fit: CleaningFit, tile_s: float = TILE_S) -> None:
        from ..recording import Signals

        self.fit = fit
        self.config = fit.config
        self.line_freq = fit.line_freq
        self.start_s = fit.start / fit.sfreq_in
        self._spans = SpanCollector(fit, recording)
        self.data = _LazyCleaned(recording, fit, self._spans, tile_s)
        self.cleaned = Signals(self.data, fit.sfreq_out, recording.channels)  # type: ignore[arg-type]
        self.raw = None
        self.steps = tuple(fit.steps) + (
            f"cleaned on demand for display in tiles of {tile_s:g} s (long recording: bounded memory)",)

    @property
    def sfreq(self) -> float:
        return self.fit.sfreq_out

    @property
    def interference(self) -> tuple[Annotation, ...]:
        """Interference spans of the tiles cleaned so far (recording time)."""
        with self.data._lock:
            return tuple(self._spans.annotations())

    def interference_relative(self) -> tuple[Annotation, ...]:
        return tuple(Annotation(a.onset - self.start_s, a.duration, a.description, a.ch_names)
                     for a in self.interference)


def clean_for_display(
    recording: Recording,
    config: PreprocessConfig = PreprocessConfig(),
    *,
    masks: MaskSet | None = None,
    cache: Any = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Any:
    """The display's cleaning: whole through the cache for a short recording, :class:`OnDemandCleaning` (only the
    fit now: ~1-3 s for hours at 512 Hz) for one above :data:`ON_DEMAND_ABOVE_BYTES`."""
    from .cache import cached_preprocess

    if recording.n_times * recording.n_channels * 8 <= ON_DEMAND_ABOVE_BYTES:
        return cached_preprocess(recording, config, masks=masks, cache=cache, progress=progress, cancel=cancel)
    fit = fit_cleaning(recording, config, masks=masks, progress=progress, cancel=cancel)
    cleaning = OnDemandCleaning(recording, fit)
    from .cache import default_cache

    # the analysis of the same recording, configuration and masks finds it there and reuses its fit and tiles
    (cache if cache is not None else default_cache()).register_on_demand(recording, config, masks, cleaning)
    return cleaning
