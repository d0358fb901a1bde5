"""Min/max peak decimation of traces for display.

This is display code, not signal processing: it picks which samples to draw so that a page of signal drawn on
``n_px`` pixels looks the same as if every sample had been drawn (every peak stays visible), while the number of
points handed to Qt stays about ``2 * n_px`` whatever the page length. It is written by hand because the
plotting libraries either decimate by sub-sampling (pyqtgraph's ``downsampleMethod='subsample'``/``'mean'``
lose peaks) or only decimate one curve at a time (``'peak'`` mode works per ``PlotDataItem`` and re-runs on
every repaint); here all channels of a page are done in one vectorised numpy call.
"""

from __future__ import annotations

import numpy as np

#: Rows of a page are decimated this many bytes of samples at a time (see :func:`peak_decimate`): a block this size
#: and its transposed copy stay in the CPU's cache.
_CHUNK_BYTES = 1 << 18


def peak_decimate(
    data: np.ndarray, start_s: float, sfreq: float, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a page of samples to the minimum and maximum of each of ``n_bins`` bins.

    Parameters
    ----------
    data : np.ndarray, shape (n_channels, n_times)
        The samples of the page (any unit); NaN marks missing samples.
    start_s : float
        Time of the first sample, s.
    sfreq : float
        Sampling rate of ``data``, Hz.
    n_bins : int
        Number of bins, normally the width of the plot in pixels.

    Returns
    -------
    times : np.ndarray, shape (n_points,)
        Times of the returned points, s. With decimation, each bin gives two points at the time of the bin's
        first sample; without (``n_times <= 2 * n_bins``), the times of the samples.
    values : np.ndarray, shape (n_channels, n_points)
        Without decimation the data unchanged; with decimation the interleaved ``min, max`` of each bin, so a
        line drawn through them covers every value of the bin. A bin whose samples are all NaN gives NaN.
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"data must be (n_channels, n_times), got shape {data.shape}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    n_ch, n_times = data.shape
    if n_times <= 2 * n_bins:
        return start_s + np.arange(n_times) / sfreq, data
    k = -(-n_times // n_bins)  # samples per bin (ceil), so that at most n_bins bins are made
    n_full = -(-n_times // k)
    n_whole = n_times // k  # bins with k samples; the last bin may have fewer
    values = np.empty((n_ch, 2 * n_full), dtype=data.dtype)
    lo, hi = values[:, 0::2], values[:, 1::2]  # (C, bins) views: the reductions write there directly
    # fmin/fmax ignore NaN unless the whole bin is NaN (then NaN, drawn as a gap), without warnings; the minimum
    # and maximum do not depend on the order in which a bin's samples are compared (the same values whatever the
    # layout below). numpy reduces a short last axis (k samples per bin) one bin at a time (3 ms for 40 x 5120),
    # and k strided whole-array passes read the whole page 2k times (0.7 ms): a block of rows is copied once
    # with the bins' samples transposed, (k, rows, bins), then reduced over its first axis -- k contiguous
    # whole-array passes that stay in the cache (0.4 ms).
    if n_whole:
        blocks = data[:, :n_whole * k].reshape(n_ch, n_whole, k)  # (C, bins, k)
        rows = max(1, _CHUNK_BYTES // max(1, n_whole * k * data.itemsize))
        for r0 in range(0, n_ch, rows):
            r1 = min(n_ch, r0 + rows)
            stacked = np.ascontiguousarray(blocks[r0:r1].transpose(2, 0, 1))  # (k, rows, bins)
            np.fmin.reduce(stacked, axis=0, out=lo[r0:r1, :n_whole])
            np.fmax.reduce(stacked, axis=0, out=hi[r0:r1, :n_whole])
    if n_whole < n_full:  # the last bin, with fewer than k samples
        tail = data[:, n_whole * k:]
        lo[:, -1] = np.fmin.reduce(tail, axis=1)
        hi[:, -1] = np.fmax.reduce(tail, axis=1)
    times = start_s + np.repeat(np.arange(n_full) * k, 2) / sfreq
    return times, values
