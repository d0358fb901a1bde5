"""Session 13: writes that fail because of the destination (a full disk, a read-only folder, a folder in the way)
are one clear error naming the file, the reason and what to do, before any work where that can be known; the
old file stays and no temporary file is left. Each test failed before its fix."""

from __future__ import annotations

import errno
import os
import shutil
from collections import namedtuple

import numpy as np
import pytest

from mmqnet_core import fileio
from mmqnet_core.cli import main
from mmqnet_core.errors import MMQNetError, OutputError
from mmqnet_core.fileio import atomic_path, atomic_write, atomic_write_text

from .bad_inputs.cases import edf_bytes

_Usage = namedtuple("_Usage", "total used free")


def _rec(folder):
    path = folder / "rec.edf"
    path.write_bytes(edf_bytes(labels=("Fp1", "Fp2", "F3", "F4", "GSR"), ns=128, n_records=20))
    return path


def test_a_full_disk_is_said_with_the_file_and_what_to_do(tmp_path):
    """Was the library's bare OSError ("[Errno 28] No space left on device", no file name), which the command line
    printed as "failed while ... The input may be damaged ... report it"."""
    path = tmp_path / "out.csv"
    path.write_text("old")

    def write(tmp):
        with open(tmp, "w") as fid:
            fid.write("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError) as info:
        atomic_write(path, write)
    assert str(info.value) == (f"Cannot write {path}: no space left on the disk that holds {tmp_path}. Free some "
                               "space there or choose another output folder. Nothing was written to out.csv (a file "
                               "already there is unchanged).")
    assert isinstance(info.value, OSError) and isinstance(info.value, MMQNetError)  # old `except OSError` still work
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_short_write_without_an_error_number_on_a_full_disk_is_a_full_disk(tmp_path, monkeypatch):
    """numpy's ``tofile`` (mne's EDF export) says only "52080 requested and 2304 written"."""
    monkeypatch.setattr(shutil, "disk_usage", lambda p: _Usage(10**9, 10**9 - 4096, 4096))
    with pytest.raises(OutputError, match=r"^Cannot write .*o\.edf: no space left on the disk that holds "):
        with atomic_path(tmp_path / "o.edf"):
            raise OSError("52080 requested and 2304 written")


def test_a_library_error_raised_from_a_full_disk_is_a_full_disk(tmp_path):
    """preprocessing.export wraps mne's failure in a RecordingError ("Could not write ..."); the app then advised
    choosing another recording."""
    from mmqnet_core.errors import RecordingError

    with pytest.raises(OutputError, match=r"no space left on the disk"):
        with atomic_path(tmp_path / "o.fif"):
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            except OSError as exc:
                raise RecordingError("Could not write o.fif: [Errno 28] No space left on device") from exc


@pytest.mark.parametrize("code, reason", [
    (errno.EROFS, "{folder} is on a read-only file system. Choose a folder you can write to."),
    (errno.EACCES, "no permission to write in {folder}. Choose a folder you can write to."),
])
def test_a_folder_that_cannot_be_written_is_said_as_such(tmp_path, monkeypatch, code, reason):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path / ".x.tmp"))

    monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError) as info:
        atomic_write_text(tmp_path / "m.json", "{}")
    assert str(info.value).startswith(f"Cannot write {tmp_path / 'm.json'}: " + reason.format(folder=tmp_path))
    assert ".tmp" not in str(info.value)  # the temporary name is not the user's business


def test_other_errors_pass_unchanged(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with atomic_path(tmp_path / "a.txt"):
            raise ZeroDivisionError("bug")


# ------------------------------------------------------------------------------------------ the command line


def _last_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1]


@pytest.mark.parametrize("command, out", [("preprocess", "o.fif"), ("features", "o.csv")])
def test_an_output_that_is_a_folder_is_refused_before_reading(tmp_path, capsys, command, out):
    """Was the last-resort line after the whole cleaning: "failed while ... (IsADirectoryError ...). The input may
    be damaged"."""
    (tmp_path / out).mkdir()
    assert main([command, str(tmp_path / "missing.edf"), "-o", str(tmp_path / out)]) == 2  # said before reading
    assert _last_error(capsys) == (f"error: Invalid value for '--output': {tmp_path / out} is a folder; give a file "
                                   f"name (e.g. {tmp_path / out / 'out'}{os.path.splitext(out)[1]}).")


@pytest.mark.parametrize("command, out", [("preprocess", "o.npz"), ("features", "o.parquet")])
def test_an_output_folder_that_cannot_be_written_is_refused_before_reading(tmp_path, capsys, command, out):
    (tmp_path / "afile").write_text("x")
    assert main([command, str(tmp_path / "missing.edf"), "-o", str(tmp_path / "afile" / out)]) == 2
    assert _last_error(capsys) == (f"error: Invalid value for '--output': cannot write the results into "
                                   f"{tmp_path / 'afile'} (a file of that name is in the way); choose a folder you "
                                   "can write to.")


def test_a_read_only_output_folder_is_said_as_read_only(tmp_path, capsys, monkeypatch):
    """(root may write anywhere: os.access is what tells.) Was "permission denied" for a read-only file system."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(tmp_path) else real_access(p, mode))
    monkeypatch.setattr(os, "statvfs", lambda p: os.statvfs_result((4096,) * 8 + (os.ST_RDONLY, 255)))
    assert main(["features", str(tmp_path / "missing.edf"), "-o", str(tmp_path / "o.csv")]) == 2
    assert _last_error(capsys) == (f"error: Invalid value for '--output': cannot write the results into {tmp_path} "
                                   "(read-only file system); choose a folder you can write to.")


def test_a_disk_that_fills_while_writing_the_features_is_one_clear_line(tmp_path, capsys, monkeypatch):
    import pandas as pd

    src = _rec(tmp_path)
    (tmp_path / "o.csv").write_text("earlier table")

    def full(self, path, **kwargs):
        with open(path, "w") as fid:
            fid.write("window_start,")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert main(["features", str(src), "-o", str(tmp_path / "o.csv")]) == 2
    line = _last_error(capsys)
    assert line == (f"error: Cannot write {tmp_path / 'o.csv'}: no space left on the disk that holds {tmp_path}. Free "
                    "some space there or choose another output folder. Nothing was written to o.csv (a file already "
                    "there is unchanged).")
    assert (tmp_path / "o.csv").read_text() == "earlier table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "rec.edf"]


def test_preprocess_into_a_missing_folder_is_refused_before_the_cleaning(tmp_path, capsys):
    """The folder was checked only by the writer, after the cleaning."""
    assert main(["preprocess", str(tmp_path / "missing.edf"), "-o", str(tmp_path / "no" / "o.fif")]) == 2
    assert _last_error(capsys) == (f"error: Invalid value for '--output': cannot write {tmp_path / 'no' / 'o.fif'}: "
                                   f"the folder {tmp_path / 'no'} does not exist; make it first or choose another "
                                   "folder.")
    assert not (tmp_path / "no").exists()


# ------------------------------------------------------------------------------------------------- evaluate


@pytest.fixture
def no_building(monkeypatch):
    """Any corpus build or pinned rebuild fails the test: the options must be refused before."""
    from mmqnet_core.cli import cmd_evaluate, cmd_train
    from mmqnet_core.datasets import pinned

    def built(*args, **kwargs):
        raise AssertionError("a corpus was built before the options were checked")

    monkeypatch.setattr(pinned, "build_pinned", built)
    monkeypatch.setattr(cmd_train, "load_corpus", built)
    monkeypatch.setattr(cmd_evaluate, "load_corpus", built)


CHECKPOINT = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "checkpoint")


@pytest.mark.parametrize("extra, message", [
    (["--rates", "0,1.5"], "error: Invalid value for '--rates': each rate must be 0 to 0.9, got 1.5."),
    (["--rates", "nan"], "error: Invalid value for '--rates': each rate must be 0 to 0.9, got nan."),
    (["--methods", "MMQ-Net,Magic"], "error: Invalid value for '--methods': unknown ['Magic']; allowed: "),
    (["--data", "deap:{tmp}/nowhere"], "error: Invalid value for '--data': {tmp}/nowhere is not a folder (give the "
                                      "folder that holds the sNN.dat files)."),
    (["-o", "{tmp}/afile/ev"], "error: Invalid value for '--output': cannot write the results into {tmp}/afile/ev "
                               "(not a directory); choose a folder you can write to."),
    (["--corpus", "{tmp}/afile"], "error: Invalid value for '--corpus': {tmp}/afile is not a corpus file of MMQ-Net "
                                  "Studio (a .npz of feature arrays with their metadata, written by 'mmqnet train' or "
                                  "'mmqnet evaluate'); give such a file, a pinned corpus key or 'current'."),
])
def test_evaluate_checks_its_options_before_building_anything(tmp_path, capsys, no_building, extra, message):
    """Was: the checkpoint's pinned corpus rebuilt first (8-18 minutes), the bad option said after it (or, for a
    file given as --corpus, "...Delete it to rebuild": the user's own file)."""
    (tmp_path / "afile").write_text("not a corpus")
    argv = ["evaluate", "--checkpoint", CHECKPOINT, "-o", str(tmp_path / "ev"), *extra]
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    assert _last_error(capsys).startswith(message.replace("{tmp}", str(tmp_path)))
    assert (tmp_path / "afile").read_text() == "not a corpus"


def test_evaluate_checkpoint_on_the_data_given_not_its_pinned_corpus(tmp_path, capsys, no_building, monkeypatch):
    """--data deap:DIR with --checkpoint evaluated the checkpoint's own (synthetic) pinned corpus instead."""
    (tmp_path / "deap").mkdir()
    from mmqnet_core.cli import cmd_evaluate

    def load_corpus(args, progress=None):
        raise MMQNetError(f"corpus of {args.data}")

    monkeypatch.setattr(cmd_evaluate, "load_corpus", load_corpus)
    assert main(["evaluate", "--checkpoint", CHECKPOINT, "-o", str(tmp_path / "ev"), "--data",
                 f"deap:{tmp_path / 'deap'}"]) == 2
    assert _last_error(capsys) == f"error: corpus of deap:{tmp_path / 'deap'}"


# ----------------------------------------------------------------------------------- sources are never written


def test_a_recording_opened_for_reading_is_never_replaced_by_a_write(tmp_path):
    """Before: any export of the app named like the open recording (a file dialog's "replace it?" answered yes)
    replaced it; only the command line compared its output with its input. (The app marks what it opens:
    tests/app/test_bad_input_session13.py.)"""
    import hashlib

    src = _rec(tmp_path)
    os.link(src, tmp_path / "link.edf")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    fileio.protect_source(src)
    for name in ("rec.edf", "link.edf"):
        with pytest.raises(OutputError, match=rf"^Cannot write .*{name}: it is a recording opened for reading, and "
                           r"recordings are never written\. Choose another file name; nothing was written\.$"):
            atomic_write_text(tmp_path / name, "masks")
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.edf", "rec.edf"]
    atomic_write_text(tmp_path / "other.json", "{}")  # other files are written as before
