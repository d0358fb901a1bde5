"""Simple, vectorised detectors of interference: NaN spans, flat spans, abrupt jumps, power-line frequency.

mne has no detectors for these peripheral-signal faults (its ``annotate_amplitude`` flags whole channels or
needs absolute thresholds in the unit of each channel type, which our GSR/PPG/RESP channels do not share), so
they are written here as a few numpy/scipy operations over the whole (n_channels, n_times) array. The rules:

NaN (``BAD_nan``)
    every run of NaN samples of a channel.
Flat (``BAD_flat``)
    a sample is flat when a window of ``flat_window_s`` containing it has a peak-to-peak amplitude of at most
    ``flat_rel_threshold`` times the channel's median window peak-to-peak (so an exactly constant signal is
    always flat, a recording's normal quiet periods never are); runs shorter than ``flat_min_s`` are dropped.
    Temperature is exempt: it legitimately stays constant for minutes.
Jump (``BAD_jump``, GSR and PPG)
    the change over ``jump_lag_s`` exceeds ``jump_threshold`` robust standard deviations of such changes
    (1.4826 x median absolute deviation), ``jump_min_fraction`` of the channel's 1-99 % percentile range (keeps
    fast but genuine skin-conductance responses) and ``rhythm_factor`` times the 99th percentile of the absolute
    changes (keeps pulse upstrokes: in a PPG every beat is a fast rise, ~10 % of all samples, so the MAD of the
    changes, set by the slow parts, calls each upstroke a 10-SD outlier; a movement step is several times
    steeper than the steepest usual upstroke); the span is widened by ``jump_pad_s`` on both sides.
Line frequency
    Welch spectrum (0.5 Hz resolution) of the electrophysiological channels; for 50 and 60 Hz the peak power
    within +-1 Hz is compared with the median power 2-6 Hz away on both sides; the largest ratio over channels
    must reach ``ratio`` (line noise may hit only a few electrodes; a notch on clean channels costs nothing)
    and the larger of the two candidates wins.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np
from scipy import ndimage

from .._scipy_signal import signal  # scipy.signal without scipy.stats (see there)
from ..recording import Annotation


def runs(mask: np.ndarray) -> np.ndarray:
    """Start/stop indices of the runs of True in a 1-D boolean array, shape (n_runs, 2), stop exclusive."""
    padded = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return edges.reshape(-1, 2)


def spans_to_annotations(
    masks: np.ndarray,
    ch_names: Sequence[str],
    sfreq: float,
    description: str,
    *,
    offset_s: float = 0.0,
    min_samples: int = 1,
) -> list[Annotation]:
    """Turn per-channel sample masks (n_channels, n_times) into annotations, one per distinct span.

    A span found on several channels at exactly the same samples becomes a single annotation that names all
    of them. Onsets are ``offset_s`` plus the sample time, seconds.
    """
    by_span: dict[tuple[int, int], list[str]] = defaultdict(list)
    for name, mask in zip(ch_names, masks):
        if not mask.any():
            continue
        for start, stop in runs(mask):
            if stop - start >= min_samples:
                by_span[(int(start), int(stop))].append(name)
    return [
        Annotation(offset_s + start / sfreq, (stop - start) / sfreq, description, tuple(names))
        for (start, stop), names in sorted(by_span.items())
    ]


def fill_nan(data: np.ndarray) -> np.ndarray:
    """Replace NaN samples in place by linear interpolation along time (all-NaN rows become 0); return data."""
    for row in np.flatnonzero(np.isnan(data).any(axis=1)):
        x = data[row]
        bad = np.isnan(x)
        if bad.all():
            x[:] = 0.0
            continue
        idx = np.arange(x.size)
        x[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    return data


def flat_mask(
    data: np.ndarray,
    sfreq: float,
    *,
    window_s: float,
    rel_threshold: float,
    min_s: float,
    nan_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Samples that lie in a flat stretch, per channel (see module docstring). Returns (n_channels, n_times) bool.

    Exact, but computed only where a flat window can be: every window of ``w`` samples contains a whole block of
    ``w // 2`` samples of the block grid, whose peak-to-peak is at most the window's; so a window can be flat only
    around a block that is itself that flat. The sliding peak-to-peak (van Herk max/min filters) is evaluated on
    the stretches around such blocks only, and flat samples are assembled from runs of flat window starts, so a
    channel with no near-flat block costs two reshapes (the whole-signal filters cost ~20x more).
    """
    n_ch, n = data.shape
    w = max(2, int(round(window_s * sfreq)))
    out = np.zeros((n_ch, n), dtype=bool)
    if n < w:
        return out
    min_samples = int(round(min_s * sfreq))
    h = max(1, w // 2)
    for c in range(n_ch):
        x = data[c]
        half = x[: (n // h) * h].reshape(-1, h)
        hmax, hmin = half.max(axis=1), half.min(axis=1)
        m = n // w
        if w == 2 * h:  # a block of w is two half-blocks: its extremes come from theirs
            fmax = np.maximum(hmax[0:2 * m:2], hmax[1:2 * m:2])
            fmin = np.minimum(hmin[0:2 * m:2], hmin[1:2 * m:2])
        else:
            full = x[: m * w].reshape(-1, w)
            fmax, fmin = full.max(axis=1), full.min(axis=1)
        # typical window peak-to-peak: the windows starting at 0, w, 2w... (the blocks of w samples)
        limit = rel_threshold * np.median(fmax - fmin)
        cand = (hmax - hmin) <= limit  # half-blocks that may lie in a flat window
        if not cand.any():
            continue
        nan_c = None if nan_mask is None or not nan_mask[c].any() else nan_mask[c]
        starts = []  # runs [a, b) of flat window starts
        for k0, k1 in runs(cand):
            # windows containing half-block k start in [(k + 1) h - w, k h]; they reach (k1 h) - 1 + w at most
            a = max(0, (k0 + 1) * h - w)
            b = min(n - w + 1, (k1 - 1) * h + 1)
            if b <= a:
                continue
            seg = x[a: b + w - 1]  # every sample of windows starting in [a, b)
            hi = ndimage.maximum_filter1d(seg, w, origin=-(w // 2), mode="nearest")[: b - a]
            lo = ndimage.minimum_filter1d(seg, w, origin=-(w // 2), mode="nearest")[: b - a]
            flat_start = (hi - lo) <= limit
            if nan_c is not None:
                has_nan = ndimage.maximum_filter1d(nan_c[a: b + w - 1].astype(np.uint8), w, origin=-(w // 2),
                                                   mode="constant")[: b - a]
                flat_start &= ~has_nan.astype(bool)
            starts += [(a + r0, a + r1) for r0, r1 in runs(flat_start)]
        # a sample is flat when a flat window covers it: starts [r0, r1) cover samples [r0, r1 - 1 + w)
        for r0, r1 in _merge_spans([(r0, r1 - 1 + w) for r0, r1 in starts]):
            if r1 - r0 >= min_samples:
                out[c, r0:r1] = True
    return out


def _merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of half-open [start, stop) spans, as sorted disjoint spans (touching spans are joined)."""
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def jump_mask(
    data: np.ndarray,
    sfreq: float,
    *,
    lag_s: float,
    threshold: float,
    min_fraction: float,
    pad_s: float,
    rhythm_factor: float = 3.0,
) -> np.ndarray:
    """Samples around abrupt jumps, per channel (see module docstring). Returns (n_channels, n_times) bool.

    ``rhythm_factor`` (keyword, default 3): a jump must also exceed this many times the 99th percentile of the
    absolute changes over the lag; 0 turns the criterion off (the rule before it was added).
    """
    n_ch, n = data.shape
    lag = max(1, int(round(lag_s * sfreq)))
    out = np.zeros((n_ch, n), dtype=bool)
    if n <= lag + 1:
        return out
    pad = max(0, int(round(pad_s * sfreq)))
    for c in range(n_ch):  # one row at a time: the temporaries stay one row long
        x = data[c]
        # order statistics of the changes over the lag, in one scratch array partitioned in place (the values are
        # those of the sorted changes, so reordering them changes nothing; no copies of an hour-long row)
        scratch = x[lag:] - x[:-lag]
        med = np.median(scratch, overwrite_input=True)
        np.subtract(scratch, med, out=scratch)
        np.abs(scratch, out=scratch)  # |change - median|, in partition order
        sigma = 1.4826 * np.median(scratch, overwrite_input=True)
        p99_change = np.percentile(scratch, 99, overwrite_input=True) if rhythm_factor > 0 else 0.0
        del scratch
        p1, p99 = np.percentile(x, [1, 99])
        limit = max(threshold * sigma, min_fraction * (p99 - p1))
        if rhythm_factor > 0:
            limit = max(limit, rhythm_factor * p99_change)
        if not limit > 0:
            continue
        hit = np.flatnonzero(np.abs(x[lag:] - x[:-lag] - med) > limit)  # in time order again
        if hit.size == 0:
            continue
        # the jump lies somewhere in [i, i + lag]: both ends are marked, then widened by the pad on both sides
        # (runs of marked samples, not a sliding maximum over the whole row: hits are rare)
        pts = np.union1d(hit, hit + lag)
        brk = np.flatnonzero(np.diff(pts) > 1)
        firsts, lasts = pts[np.r_[0, brk + 1]], pts[np.r_[brk, pts.size - 1]]
        for a, b in _merge_spans([(max(0, a - pad), min(n, b + pad + 1)) for a, b in zip(firsts, lasts)]):
            out[c, a:b] = True
    return out


def detect_line_freq(
    data: np.ndarray,
    sfreq: float,
    *,
    ratio: float,
    picks: Sequence[int] | None = None,
    candidates: Sequence[float] = (50.0, 60.0),
    max_s: float = 300.0,
) -> tuple[float | None, dict[float, float]]:
    """Find the power-line frequency of electrophysiological data (see module docstring).

    Parameters
    ----------
    data : np.ndarray, shape (n_channels, n_times), or a sequence of them
        Signals, any unit, no NaN; a sequence of blocks (same channels) is read as their concatenation in time
        without building it (only the analysed seconds are copied).
    sfreq : float
        Sampling rate, Hz.
    ratio : float
        Smallest median peak-to-neighbour power ratio that counts as line noise.
    picks : sequence of int, optional
        Rows of ``data`` to analyse (the electrophysiological channels); all rows if None.
    candidates : sequence of float
        Frequencies tried, Hz.
    max_s : float
        At most this many seconds are analysed, taken as 10 chunks spread over the recording.

    Returns
    -------
    freq : float or None
        The detected line frequency (Hz), or None when no candidate stands out.
    ratios : dict
        Largest peak-to-neighbour power ratio over channels per candidate below the Nyquist frequency.
    """
    blocks = list(data) if isinstance(data, (list, tuple)) else [data]
    rows = list(range(blocks[0].shape[0])) if picks is None else list(picks)
    n = sum(b.shape[1] for b in blocks)
    nperseg = int(round(2 * sfreq))  # 0.5 Hz resolution
    if not rows or n < nperseg:
        return None, {}
    edges = np.cumsum([0] + [b.shape[1] for b in blocks])

    def span(a: int, b: int) -> list[np.ndarray]:  # rows x samples [a, b) of the blocks' concatenation
        return [blk[rows, max(a, lo) - lo:min(b, hi) - lo]
                for blk, lo, hi in zip(blocks, edges[:-1], edges[1:]) if hi > a and lo < b]

    max_n = int(max_s * sfreq)
    if n > max_n:  # slice time first, then channels, so that only max_s seconds are copied
        chunk = max_n // 10
        starts = np.linspace(0, n - chunk, 10).astype(int)
        data = np.concatenate([p for s in starts for p in span(s, s + chunk)], axis=1)
    else:
        data = np.concatenate(span(0, n), axis=1)
    freqs, psd = signal.welch(data, fs=sfreq, nperseg=nperseg, axis=-1)
    nyq = sfreq / 2
    ratios: dict[float, float] = {}
    for f0 in candidates:
        if f0 + 6 >= nyq:
            continue
        peak = psd[:, np.abs(freqs - f0) <= 1.0].max(axis=1)
        dist = np.abs(freqs - f0)
        neigh = np.median(psd[:, (dist >= 2.0) & (dist <= 6.0)], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(neigh > 0, peak / neigh, np.where(peak > 0, np.inf, 1.0))
        ratios[float(f0)] = float(np.max(r))
    best = max(ratios, key=ratios.get, default=None)
    if best is None or not ratios[best] >= ratio:
        return None, ratios
    return best, ratios


def local_scale(
    y: np.ndarray, sfreq: float, *, block_s: float, context_blocks: int = 5, stat: str = "range",
    full_edges: bool = False,
) -> np.ndarray:
    """Robust local amplitude of a 1-D signal, one value per sample (signal units).

    ``y`` is cut into blocks of ``block_s`` seconds; each block gets ``stat`` ("range": max - min, "peak":
    max - median); each block's value is then the *median* over the ``context_blocks`` blocks centred on it,
    and values are interpolated linearly between block centres. A movement artefact that dominates one or two
    blocks therefore does not move the scale of its neighbours, unlike a global percentile or maximum, which
    one large artefact sets for the whole recording. Written here because scipy has no blockwise running
    median; ``scipy.ndimage.median_filter`` over every sample costs O(n x window) and is far too slow for an
    hour at 128 Hz with a 60-s window.

    Parameters
    ----------
    y : np.ndarray, shape (n_times,)
        Signal, finite.
    sfreq : float
        Sampling rate, Hz.
    block_s : float
        Block length, s (a few periods of the rhythm measured).
    context_blocks : int
        Blocks in the running median (odd; rounded up).
    stat : {"range", "peak", "mad"}
        Per-block amplitude ("mad": 1.4826 x the median absolute deviation, a robust SD).
    full_edges : bool
        If True (and the signal holds ``context_blocks`` blocks), the blocks within half a context of either
        end take the median of the first / last full context instead of a median over the fewer blocks that
        exist there, so the scale at the edges is as robust to one large block as anywhere else.

    Returns
    -------
    np.ndarray, shape (n_times,)
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    if n == 0:
        return np.zeros(0)
    b = max(2, int(round(block_s * sfreq)))
    nb = max(1, n // b)
    blocks = y[: nb * b].reshape(nb, b) if n >= b else y[None, :]
    top = blocks.max(axis=1)
    if stat == "mad":  # robust SD of each block (1.4826 x median absolute deviation)
        v = 1.4826 * np.median(np.abs(blocks - np.median(blocks, axis=1, keepdims=True)), axis=1)
    else:
        v = top - (blocks.min(axis=1) if stat == "range" else np.median(blocks, axis=1))  # (nb,)
    k = max(0, int(context_blocks) // 2)
    if k and nb > 1:
        padded = np.pad(v, k, constant_values=np.nan)
        v = np.nanmedian(np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1), axis=1)
        if full_edges and nb >= 2 * k + 1:
            v[:k], v[nb - k:] = v[k], v[nb - k - 1]
    if nb == 1:
        return np.full(n, v[0])
    centres = (np.arange(nb) + 0.5) * blocks.shape[1]
    return np.interp(np.arange(n), centres, v)
