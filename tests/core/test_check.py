"""The one message shape of mmqnet_core.check, pinned word for word."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mmqnet_core.check import (
    MAX_JSON_DEPTH,
    check_finite,
    check_int,
    check_option,
    check_range,
    check_regular_file,
    check_shape,
    check_size,
    check_str_list,
    check_type,
    read_json_file,
    safe_text,
)
from mmqnet_core.errors import ConfigError, MaskError, RecordingError


@pytest.mark.parametrize("call, message", [
    (lambda: check_option("notch_hz", 55, (50, 60)), "Invalid value for 'notch_hz': allowed 50, 60, got 55."),
    (lambda: check_option("mode", True, ("a", "b")), "Invalid value for 'mode': allowed a, b, got True."),
    (lambda: check_option("mode", ["a"], ("a", "b")), "Invalid value for 'mode': allowed a, b, got ['a']."),
    (lambda: check_int("trial", 1.5, min=0, max=39), "Invalid value for 'trial': must be an integer in [0, 39], got 1.5."),
    (lambda: check_int("trial", True, min=0), "Invalid value for 'trial': must be an integer >= 0, got True."),
    (lambda: check_int("n", "3"), "Invalid value for 'n': must be an integer, got '3'."),
    (lambda: check_range("sfreq", "abc", 0, 1e5, lo_open=True, unit="Hz", where=Path("/x/s01.dat")),
     "Invalid value for 'sfreq' in s01.dat: must be a finite number in (0, 100000] Hz, got 'abc'."),
    (lambda: check_range("sfreq", float("nan"), 0, lo_open=True, unit="Hz"),
     "Invalid value for 'sfreq': must be a finite number > 0 Hz, got nan."),
    (lambda: check_range("x", 1 + 2j), "Invalid value for 'x': must be a finite number, got (1+2j)."),
    (lambda: check_range("x", 10**5000, hi=1.0),
     "Invalid value for 'x': must be a finite number <= 1, got an integer of about 5000 digits."),
    (lambda: check_range("x", [128.0], 0), "Invalid value for 'x': must be a finite number >= 0, got [128.0]."),
    (lambda: check_type("extra", [1], dict, "an object", where="checkpoint c", hint="Retrain it."),
     "Invalid value for 'extra' in checkpoint c: must be an object, got [1]. Retrain it."),
    (lambda: check_finite("weights", np.array([1.0, np.nan, np.inf])),
     "Invalid value for 'weights': must be finite, got 2 of 3 values NaN or infinite (1 NaN)."),
    (lambda: check_finite("data", np.array([1j])),
     "Invalid value for 'data': must hold real numbers, got an array of shape (1,) and dtype complex128."),
    (lambda: check_shape("labels", np.zeros((3, 5)), (None, 4)),
     "Invalid value for 'labels': must have shape (n, 4), got an array of shape (3, 5) and dtype float64."),
    (lambda: check_shape("labels", [1], (None,)), "Invalid value for 'labels': must be an array of shape (n,), got [1]."),
    (lambda: check_size("DEAP trial in memory", 186 * 1024**3, 4 * 1024**3),
     "Invalid value for 'DEAP trial in memory': must need at most 4 GiB, got 186 GiB."),
    (lambda: check_str_list("ch_names", ["a", 1], n=2), "Invalid value for 'ch_names': must be a list of 2 texts, got ['a', 1]."),
    (lambda: check_str_list("ch_names", 7), "Invalid value for 'ch_names': must be a list of texts, got 7."),
    (lambda: check_option("ch\nname\x1b", "x\x00y", ("a",)),
     "Invalid value for 'ch\\nname\\x1b': allowed a, got 'x\\x00y'."),
])
def test_message_shape(call, message):
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value) == message


def test_error_class_is_the_callers():
    with pytest.raises(RecordingError, match=r"^Invalid value for 'sfreq' in f.dat: must be a finite number > 0"):
        check_range("sfreq", -1, 0, lo_open=True, where="f.dat", error=RecordingError)


def test_values_pass_through():
    assert check_int("n", np.int64(3), min=0) == 3 and type(check_int("n", np.int64(3))) is int
    assert check_range("x", np.float32(2.5), 0, 3) == 2.5
    assert check_option("m", "a", ("a", "b")) == "a"
    assert check_str_list("c", np.array(["a", "b"])) == ("a", "b")
    assert check_str_list("c", [b"F\xe9"]) == ("F\xe9",)


def test_safe_text_one_printable_line():
    s = safe_text("a\nb\rc\td\x1b[2J\x00\x7f\x9b" + os.fsdecode(b"\xff") + "\u2028é☃")
    assert s == "a\\nb\\rc\\td\\x1b[2J\\x00\\x7f\\x9b\\udcff\\u2028é☃"
    s.encode("utf-8")  # surrogates escaped: always encodable
    assert safe_text("x" * 50, 10) == "xxxxxxx..."


@pytest.mark.parametrize("content, message", [
    (b"[" * 100000 + b"]" * 100000, f"JSON nested more than {MAX_JSON_DEPTH} levels deep; fix or delete it."),
    (b'{"a": 1' + b"0" * 5000 + b"}", "an integer of 5001 digits (at most 30); fix or delete it."),
    (b'{"a": NaN}', "NaN is not valid JSON; fix or delete it."),
    (b"\xff{", "is not valid JSON (not UTF-8 text); fix or delete it."),
    (b"{no", "is not valid JSON (line 1, column 2: Expecting property name enclosed in double quotes); fix or "
             "delete it."),
])
def test_read_json_file_refuses(tmp_path, content, message):
    p = tmp_path / "m.json"
    p.write_bytes(content)
    with pytest.raises(MaskError) as info:
        read_json_file(p, "Mask file", error=MaskError)
    assert str(info.value).startswith(f"Mask file {p} ") and str(info.value).endswith(message)


def test_read_json_file_accepts_ordinary_json(tmp_path):
    p = tmp_path / "c.json"
    p.write_text('\ufeff{"a": [1, 2.5, {"b": "[[[["}], "n": -12345678901234567890}', encoding="utf-8")
    assert read_json_file(p, "Config") == {"a": [1, 2.5, {"b": "[[[["}], "n": -12345678901234567890}


def test_fifo_and_folder_are_refused_without_opening(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"it is not a regular file \(a pipe, socket or device\)\. Give a file\."):
        read_json_file(fifo, "Mask file")  # would hang if it opened the FIFO
    with pytest.raises(ConfigError, match=r"Cannot read Mask file .*: it is a folder\. Give a file\."):
        check_regular_file(tmp_path, "Mask file")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(ConfigError, match=r"2048 bytes is too large \(at most 1024 bytes\)"):
        read_json_file(big, "Mask file", max_bytes=1024)
