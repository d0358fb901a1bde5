"""Atomic file writes: a file is either its old content or its complete new content, never half written.

Every file the core writes (mask sidecars, checkpoints, analysis results, exports, synthetic files) goes
through :func:`atomic_path`: the data are written to a temporary file in the destination folder, flushed to
disk, given the permissions an ordinary new file would get (``mkstemp`` creates files readable by their owner
only), then renamed over the destination with :func:`os.replace`. Written by hand because the standard
library has no atomic-write helper and the small packages that do (atomicwrites) are unmaintained.

A write that fails for a reason of the destination (no space left, a read-only file system, no permission, a
folder where the file should go) raises :class:`~mmqnet_core.errors.OutputError`, whose message names the file
and the reason and says that nothing was written (:func:`output_error`): not the library's bare text ("52080
requested and 2304 written", "[Errno 28] No space left on device" without a file name).

A process that ends while a write is in progress in another thread (the app's "Stop and quit" during an EDF+
export ends with ``os._exit``, which runs no ``finally``) first calls :func:`remove_unfinished_writes`: the
temporary files of the writes still in progress are removed, so nothing half written is left beside the outputs.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import Cancelled, MMQNetError, OutputError


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


#: (device, inode, size, modification time) of every recording file opened for reading (:func:`protect_source`):
#: never replaced by a write. Size and time too: an inode number freed by a deleted file is soon given to a new one.
_SOURCES: set[tuple[int, int, int, int]] = set()


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def protect_source(*paths: str | os.PathLike | None) -> None:
    """Mark recording files opened for reading (the app does for every recording it opens): :func:`atomic_path`
    then refuses to write over them, whatever name or link the output is given (an export named like the
    recording, a file dialog's "replace it?" answered yes). Paths that are not regular files are ignored. (The
    command line refuses an output that is its input before any work; a script of the library may rewrite a file
    it read, e.g. a synthetic recording generated again.)"""
    for p in paths:
        if p is None:
            continue
        try:
            st = os.stat(p)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(st.st_mode):
            with _UNFINISHED_LOCK:
                _SOURCES.add(_identity(st))


def _refuse_source(path: Path) -> None:
    """Raise :class:`OutputError` when ``path`` is (a name or link of) a recording opened for reading."""
    if not _SOURCES:
        return
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return
    if _identity(st) in _SOURCES:
        from .check import safe_text

        err = OutputError(f"Cannot write {safe_text(path, 300)}: it is a recording opened for reading, and recordings "
                          "are never written. Choose another file name; nothing was written.")
        err.path, err.reason = path, "it is a recording opened for reading, and recordings are never written"
        raise err


#: Free space below which a failed write without an error number (numpy's "52080 requested and 2304 written")
#: is taken for a full disk.
FULL_DISK_BYTES = 1024**2

#: What each error number of a failed write means to the user (the folder is named in the message).
_REASONS = {
    errno.ENOSPC: "no space left on the disk that holds {folder}",
    errno.EDQUOT: "the disk quota of the disk that holds {folder} is used up",
    errno.EROFS: "{folder} is on a read-only file system",
    errno.EACCES: "no permission to write in {folder}",
    errno.EPERM: "no permission to write in {folder}",
    errno.ENOENT: "the folder {folder} does not exist",
    errno.ENOTDIR: "{folder} is not a folder",
    errno.EISDIR: "{name} is a folder",
    errno.EFBIG: "the file is larger than the file system of {folder} allows",
    errno.EIO: "the disk that holds {folder} reported an input/output error",
}


def _os_error_in(exc: BaseException) -> OSError | None:
    """The OSError that ``exc`` is or was raised from (a library's own error wrapping it), else None."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and not isinstance(exc, MMQNetError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def output_error(path: str | os.PathLike, exc: BaseException) -> OutputError | None:
    """The user's error for a failed write of ``path`` caused by ``exc``, or None when ``exc`` is not a
    file-system error (a bug, a cancel, a user error that already says what is wrong).

    The message names the file, says why in words (a full disk, a read-only folder, no permission) and what to do.
    An error without an error number (numpy's ``tofile``: "52080 requested and 2304 written") is taken for a full
    disk when less than :data:`FULL_DISK_BYTES` are free on that disk.
    """
    if isinstance(exc, (OutputError, Cancelled)):
        return None
    os_exc = _os_error_in(exc)
    if os_exc is None:
        return None
    from .check import safe_text

    path = Path(path)
    code = os_exc.errno
    if code not in _REASONS:
        try:
            if shutil.disk_usage(path.parent).free < FULL_DISK_BYTES:
                code = errno.ENOSPC
        except OSError:
            pass
    template = _REASONS.get(code)
    if template is None:
        if isinstance(exc, MMQNetError):  # a user error with its own words, whatever the OSError under it
            return None
        template = safe_text(os_exc.strerror or os_exc, 200)
    reason = template.format(folder=safe_text(path.parent, 300), name=safe_text(path.name, 200))
    if code in (errno.ENOSPC, errno.EDQUOT):
        todo = "Free some space there or choose another output folder."
    elif code == errno.EISDIR:
        todo = "Choose a file name, not a folder."
    else:
        todo = "Choose a folder you can write to."
    out = OutputError(f"Cannot write {safe_text(path, 300)}: {reason}. {todo} Nothing was written to "
                      f"{safe_text(path.name, 200)} (a file already there is unchanged).")
    out.path, out.reason = path, reason  # (not errno/filename: OSError.__str__ would print those instead)
    return out


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, move it over ``path`` atomically.

    The temporary name keeps ``path``'s extension (libraries such as mne pick the format from it). When the
    block raises, the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    _refuse_source(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as exc:  # a read-only or missing folder, no permission, no space for one more file
        raise (output_error(path, exc) or exc) from None
    os.close(fd)
    tmp_path = Path(tmp)
    with _UNFINISHED_LOCK:
        _UNFINISHED.add(tmp_path)
    try:
        try:
            yield tmp_path
            os.chmod(tmp_path, 0o666 & ~_umask())
            _fsync_file(tmp_path)
            os.replace(tmp_path, path)
            _fsync_dir(path.parent)
        except BaseException as exc:
            if isinstance(exc, Exception):
                err = output_error(path, exc)  # while the partial file still fills the disk
                if err is not None:
                    raise err from exc
            raise
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a folder should be, a read-only file system, no permission
        raise (output_error(path, exc) or exc) from None
    with atomic_path(path) as tmp:
        write(str(tmp))
    return path
