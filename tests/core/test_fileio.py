"""Atomic writes: the destination is the old or the complete new file, with ordinary permissions."""

import os
import stat

import pytest

from mmqnet_core.fileio import atomic_path, atomic_write_text


def test_atomic_write_gives_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert path.read_text() == "{}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failure_keeps_old_content_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["b.csv"]


def test_temporary_path_keeps_the_extension(tmp_path):
    with atomic_path(tmp_path / "x.fif") as tmp:
        assert tmp.suffix == ".fif" and tmp.parent == tmp_path
        tmp.write_bytes(b"1")
    assert (tmp_path / "x.fif").read_bytes() == b"1"


def test_atomic_write_by_file_name_creates_the_folder(tmp_path):
    from mmqnet_core.fileio import atomic_write

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "run" / "metrics.csv", lambda tmp: open(tmp, "w").write("a,b\n"))
    finally:
        os.umask(old)
    assert path.read_text() == "a,b\n" and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["metrics.csv"]


def test_unfinished_writes_of_other_threads_are_removed_and_leave_nothing(tmp_path):
    """A process ending without waiting for a writer thread (os._exit) removes its temporary file first; the
    writer, should it go on, fails at its rename: neither a .tmp nor a half-written output is left."""
    import threading

    from mmqnet_core.fileio import remove_unfinished_writes

    started, release, outcome = threading.Event(), threading.Event(), []

    def writer():
        try:
            with atomic_path(tmp_path / "out.edf") as tmp:
                tmp.write_bytes(b"first part")
                started.set()
                release.wait(10)
                tmp.write_bytes(b"first part, second part")  # a library writing by name creates it again
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(10)
        before = os.listdir(tmp_path)
        removed = remove_unfinished_writes()
        assert len(before) == 1 and before[0].startswith(".out.edf.") and [p.name for p in removed] == before
        assert os.listdir(tmp_path) == []
    finally:
        release.set()
        thread.join(10)
    # the writer created its temporary file again and renamed it: a complete output, never a half one; a second
    # call (app.main's last one before os._exit) removes one created again and not yet renamed
    assert os.listdir(tmp_path) in ([], ["out.edf"])
    assert remove_unfinished_writes() == []
    with atomic_path(tmp_path / "b.txt") as tmp:  # later writes are unaffected
        tmp.write_text("ok")
    assert (tmp_path / "b.txt").read_text() == "ok"
