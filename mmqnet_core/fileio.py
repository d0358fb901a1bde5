"""Atomic file writes: a file is either its old content or its complete new content, never half written.

Every file the core writes (mask sidecars, checkpoints, analysis results, exports, synthetic files) goes
through :func:`atomic_path`: the data are written to a temporary file in the destination folder, flushed to
disk, given the permissions an ordinary new file would get (``mkstemp`` creates files readable by their owner
only), then renamed over the destination with :func:`os.replace`. Written by hand because the standard
library has no atomic-write helper and the small packages that do (atomicwrites) are unmaintained.

A process that ends while a write is in progress in another thread (the app's "Stop and quit" during an EDF+
export ends with ``os._exit``, which runs no ``finally``) first calls :func:`remove_unfinished_writes`: the
temporary files of the writes still in progress are removed, so nothing half written is left beside the outputs.
"""

from __future__ import annotations

import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


#: Temporary files of the atomic writes in progress (any thread), removed by :func:`remove_unfinished_writes`.
_UNFINISHED: set[Path] = set()
#: Those already removed once: a later call removes them again if their writer has created them anew.
_REMOVED: set[Path] = set()
_UNFINISHED_LOCK = threading.Lock()


def remove_unfinished_writes() -> list[Path]:
    """Remove the temporary files of the atomic writes still in progress in other threads; returns them.

    For a process about to end without waiting for those threads (``os._exit``): their destinations keep their
    old content (or stay absent), and no ``.tmp`` file is left beside them. A writer still running afterwards
    writes into the removed file and fails at its rename, leaving nothing either; one that creates the file again
    by name (a library opening its output) renames a complete file, or has it removed by the next call (the app
    calls this again just before ``os._exit``). Errors are ignored (a file already gone, a folder that cannot be
    written any more).
    """
    with _UNFINISHED_LOCK:
        _REMOVED.update(_UNFINISHED)  # a library writing by name may create the file again: removed again
        _UNFINISHED.clear()
        pending = sorted(p for p in _REMOVED if os.path.lexists(p))
    for tmp in pending:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return pending


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_file(path: Path) -> None:
    """Flush a file's data to disk; an error (a full or failing disk) propagates."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened or synced (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, move it over ``path`` atomically.

    The temporary name keeps ``path``'s extension (libraries such as mne pick the format from it). When the
    block raises, the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    with _UNFINISHED_LOCK:
        _UNFINISHED.add(tmp_path)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        _fsync_file(tmp_path)
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    finally:
        with _UNFINISHED_LOCK:
            _UNFINISHED.discard(tmp_path)
        tmp_path.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> Path:
    """Call ``write(tmp)`` with a temporary file name beside ``path``, then move it onto ``path`` atomically.

    For libraries that write by file name (pandas, numpy, safetensors, matplotlib). The parent folder is
    created if needed. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        write(str(tmp))
    return path
