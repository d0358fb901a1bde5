"""Per-window arrays of long analyses in memory-mapped temporary files, so that resident memory stays bounded.

The analysis of a recording keeps a few (T windows x N tokens x F features) arrays -- the features, their
validity and the model's reconstructions: ~7 MB each per recorded hour in float32, so that past ~30 h they alone
would take the analysis above its memory budget (1.5 GB at any length). Arrays above
:data:`SPILL_ABOVE_BYTES` are therefore allocated in an anonymous temporary file (deleted as soon as it is
created: nothing is left behind, whatever happens to the process) mapped into memory: they are ordinary numpy
arrays for every reader (the app's views, ``AnalysisResult.save``, pickling copies them), but their pages are
the file's. The loops that walk such arrays block by block call :func:`trim`, which tells the kernel that the
pages touched so far are not needed in this process any more (``madvise(MADV_DONTNEED)``; for a shared file
mapping the data stay in the file and the page cache, and are read back on the next access), so the resident
memory of the analysis holds a block of each at a time instead of the whole arrays. Short recordings (below the
threshold: ~10 h of 40 tokens x 12 features) keep plain in-memory arrays.

Written with :mod:`mmap` because numpy's ``memmap`` does not expose ``madvise`` and has no anonymous temp-file
mode.
"""

from __future__ import annotations

import mmap
import tempfile
import threading
import weakref
from typing import Any

import numpy as np

#: Arrays larger than this many bytes are spilled to a temporary file (64 MB: (T, 40, 12) float32 of ~9.7 h).
SPILL_ABOVE_BYTES = 64 * 2**20

_maps: "weakref.WeakSet[mmap.mmap]" = weakref.WeakSet()
_lock = threading.Lock()


def zeros(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A zero-filled array: in memory when small, else backed by a deleted temporary file (see the module doc)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes <= SPILL_ABOVE_BYTES or not hasattr(mmap.mmap, "madvise"):
        return np.zeros(shape, dtype)
    with tempfile.TemporaryFile(prefix="mmqnet-spill-") as fh:  # the file has no name: gone with the mapping
        fh.truncate(nbytes)  # a sparse file: reads as zeros, no disk used until written
        mm = mmap.mmap(fh.fileno(), nbytes)  # the mapping keeps its own reference to the file
    with _lock:
        _maps.add(mm)
    return np.frombuffer(mm, dtype=dtype).reshape(shape)


def full(shape: tuple[int, ...], value: Any, dtype: Any) -> np.ndarray:
    """:func:`zeros` filled with ``value`` (block by block, trimmed, when spilled)."""
    out = zeros(shape, dtype)
    if not is_spilled(out):
        out[...] = value
        return out
    step = max(1, (8 * 2**20) // max(1, out[:1].nbytes))
    for a in range(0, out.shape[0], step):
        out[a:a + step] = value
        trim()
    return out


def is_spilled(array: np.ndarray) -> bool:
    """True when ``array`` (or the array it views) lives in a spill file."""
    base = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):  # np.frombuffer keeps a memoryview of the mapping
        base = base.obj
    return isinstance(base, mmap.mmap)


def trim() -> None:
    """Drop the pages of every live spill mapping from this process' resident memory (their data stay in the
    file; the next access reads them back). Cheap; call it between the blocks of a loop over spilled arrays."""
    with _lock:
        maps = list(_maps)
    for mm in maps:
        try:
            mm.madvise(mmap.MADV_DONTNEED)
        except (ValueError, OSError):  # closed meanwhile
            pass
