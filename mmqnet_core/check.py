"""One place for validating values, modelled on MNE-Python's ``mne/utils/check.py``.

Every check raises with ONE message shape, so that users read the same sentence everywhere::

    Invalid value for 'sfreq' in s01.dat: must be a finite number in (0, 100000] Hz, got 'abc'.

``name`` is the field or option, ``where`` (optional) the file or object it came from, then what the value must
be, then the value itself (shortened and made safe to print). A ``hint`` (what to do) may follow. The error class
is chosen by the caller (:class:`~mmqnet_core.errors.ConfigError` for options, ``RecordingError`` for files,
``CheckpointError``, ``MaskError``), so callers keep catching what they caught before.

Also here: :func:`safe_text` (make any text printable on one line under any locale) and :func:`read_json_file`
(a JSON file that cannot hang, recurse or allocate without bound). ``tests/core/test_check.py`` pins the wording.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import stat
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import ConfigError

__all__ = [
    "safe_text",
    "invalid",
    "check_option",
    "check_type",
    "check_int",
    "check_range",
    "check_finite",
    "check_shape",
    "check_size",
    "check_str",
    "check_str_list",
    "check_regular_file",
    "read_json_file",
    "MAX_JSON_DEPTH",
    "MAX_JSON_INT_DIGITS",
]

_REPR_MAX = 80  # characters of a value shown in a message
MAX_JSON_DEPTH = 64  # nesting levels accepted in a JSON file (our files use < 6)
MAX_JSON_INT_DIGITS = 30  # digits of an integer literal accepted in a JSON file


# ------------------------------------------------------------------------------------------------ printing


def safe_text(text: object, max_len: int | None = None) -> str:
    """``text`` made safe to print on one terminal line under any locale.

    Control characters (newline, ESC, NUL, DEL, C1 controls) are written as ``\\n``, ``\\x1b``...; characters a
    file name smuggled in as surrogates (undecodable bytes, ``os.fsdecode``) are written as ``\\udcff``. Other
    non-ASCII characters are kept: the CLI's output stream escapes what its encoding cannot show.

    Parameters
    ----------
    text : object
        Anything; ``str(text)`` is used.
    max_len : int or None
        Cut to this many characters (with ``...``), None for no limit.
    """
    s = str(text)
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or 0x7F <= o < 0xA0 or 0xD800 <= o <= 0xDFFF or o in (0x2028, 0x2029):
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
        else:
            out.append(ch)
    s = "".join(out)
    if max_len is not None and len(s) > max_len:
        s = s[: max(0, max_len - 3)] + "..."
    return s


def _show(value: Any) -> str:
    """Short printable form of a value for a message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (bytes, bytearray, str)) or value is None or isinstance(value, (bool, numbers.Number)):
        try:
            r = repr(value)
        except ValueError:  # an int too large for repr (sys.int_info.str_digits_check_threshold)
            r = f"an integer of about {int(value.bit_length() * 0.30103)} digits"
        return safe_text(r, _REPR_MAX)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return safe_text(f"a {type(value).__name__} of {len(value)} item(s)" if len(repr(value)) > _REPR_MAX
                         else repr(value), _REPR_MAX)
    return f"a {type(value).__name__}"


def invalid(name: str, must: str, value: Any, *, where: object = None, hint: str = "",
            error: type[Exception] = ConfigError) -> Exception:
    """The exception of a failed check (raise it): ``Invalid value for 'name' in where: must, got value. hint``.

    Parameters
    ----------
    name : str
        The field or option.
    must : str
        What the value must be, e.g. ``"must be an integer >= 1"``.
    value : object
        The value found (shown shortened and escaped).
    where : object
        The file or object the value came from (its name is shown), or None.
    hint : str
        What to do, appended as a sentence.
    error : type
        Exception class to build.
    """
    loc = f" in {safe_text(where.name if isinstance(where, Path) else where, 120)}" if where is not None else ""
    msg = f"Invalid value for {safe_text(repr(name), 60)}{loc}: {must}, got {_show(value)}."
    if hint:
        msg += " " + hint.strip()
    return error(msg)


# ------------------------------------------------------------------------------------------------- checks


def check_option(name: str, value: Any, allowed: Iterable[Any], *, where: object = None, hint: str = "",
                 error: type[Exception] = ConfigError) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise "allowed a, b, c"."""
    allowed = tuple(allowed)
    try:
        ok = value in allowed
    except TypeError:  # unhashable values compared to hashables
        ok = False
    if isinstance(value, bool) and not any(isinstance(a, bool) for a in allowed):
        ok = False
    if not ok:
        raise invalid(name, "allowed " + ", ".join(map(str, allowed)), value, where=where, hint=hint, error=error)
    return value


def check_type(name: str, value: Any, types: type | tuple[type, ...], what: str, *, where: object = None,
               hint: str = "", error: type[Exception] = ConfigError) -> Any:
    """Return ``value`` if it is an instance of ``types`` (bool is not a number), else "must be <what>"."""
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in (types if isinstance(types, tuple)
                                                                               else (types,))):
        raise invalid(name, f"must be {what}", value, where=where, hint=hint, error=error)
    return value


def _bounds(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool, unit: str) -> str:
    u = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}{u}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}{u}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}{u}"
    return ""


def check_int(name: str, value: Any, *, min: int | None = None, max: int | None = None, where: object = None,
              hint: str = "", error: type[Exception] = ConfigError) -> int:
    """Return ``value`` as an int if it is an integer (not bool) within ``[min, max]``."""
    b = _bounds(min, max, False, False, "")
    must = "must be an integer" + (f" {b}" if b else "")
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise invalid(name, must, value, where=where, hint=hint, error=error)
    v = int(value)
    if (min is not None and v < min) or (max is not None and v > max):
        raise invalid(name, must, value, where=where, hint=hint, error=error)
    return v


def check_range(name: str, value: Any, lo: float | None = None, hi: float | None = None, *,
                lo_open: bool = False, hi_open: bool = False, unit: str = "", where: object = None,
                hint: str = "", error: type[Exception] = ConfigError) -> float:
    """Return ``value`` as a float if it is a finite real number within the bounds.

    ``lo_open``/``hi_open`` make a bound exclusive. Strings, bools, complex numbers, NaN and inf are refused.
    """
    b = _bounds(lo, hi, lo_open, hi_open, unit)
    must = "must be a finite number" + (f" {b}" if b else (f" ({unit})" if unit else ""))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise invalid(name, must, value, where=where, hint=hint, error=error)
    try:
        v = float(value)
    except (OverflowError, ValueError):
        raise invalid(name, must, value, where=where, hint=hint, error=error) from None
    if not math.isfinite(v):
        raise invalid(name, must, value, where=where, hint=hint, error=error)
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise invalid(name, must, value, where=where, hint=hint, error=error)
    if hi is not None and (v >= hi if hi_open else v > hi):
        raise invalid(name, must, value, where=where, hint=hint, error=error)
    return v


def check_finite(name: str, values: Any, *, where: object = None, hint: str = "",
                 error: type[Exception] = ConfigError) -> np.ndarray:
    """Return ``values`` as a real array if every element is finite, else say how many are NaN/inf."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise invalid(name, "must hold real numbers", arr, where=where, hint=hint, error=error)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        n_bad = int(bad.sum())
        if n_bad:
            n_nan = int(np.isnan(arr).sum())
            loc = f" in {safe_text(where.name if isinstance(where, Path) else where, 120)}" if where is not None else ""
            msg = (f"Invalid value for {safe_text(repr(name), 60)}{loc}: must be finite, got {n_bad} of {arr.size} "
                   f"values NaN or infinite ({n_nan} NaN).")
            raise error(msg + (" " + hint.strip() if hint else ""))
    return arr


def check_shape(name: str, arr: Any, shape: Sequence[int | None], *, where: object = None, hint: str = "",
                error: type[Exception] = ConfigError) -> np.ndarray:
    """Return ``arr`` if it is an ndarray of ``shape`` (None = any length on that axis)."""
    want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    if not isinstance(arr, np.ndarray):
        raise invalid(name, f"must be an array of shape {want}", arr, where=where, hint=hint, error=error)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        raise invalid(name, f"must have shape {want}", arr, where=where, hint=hint, error=error)
    return arr


def check_size(name: str, n_bytes: int | float, limit: int | float, *, where: object = None, hint: str = "",
               error: type[Exception] = ConfigError) -> int:
    """Refuse, before allocating, anything that would need more than ``limit`` bytes."""
    if not n_bytes <= limit:
        loc = f" in {safe_text(where.name if isinstance(where, Path) else where, 120)}" if where is not None else ""
        msg = (f"Invalid value for {safe_text(repr(name), 60)}{loc}: must need at most {_gib(limit)}, got "
               f"{_gib(n_bytes)}.")
        raise error(msg + (" " + hint.strip() if hint else ""))
    return int(n_bytes)


def _gib(n: float) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.3g} GiB"
    if n >= 1024**2:
        return f"{n / 1024**2:.3g} MiB"
    return f"{int(n)} bytes"


def check_str(name: str, value: Any, *, max_len: int = 1000, where: object = None, hint: str = "",
              error: type[Exception] = ConfigError) -> str:
    """Return ``value`` if it is a str of at most ``max_len`` characters."""
    if not isinstance(value, str) or len(value) > max_len:
        raise invalid(name, f"must be a text of at most {max_len} characters", value, where=where, hint=hint,
                      error=error)
    return value


def check_str_list(name: str, value: Any, *, n: int | None = None, max_len: int = 1000, where: object = None,
                   hint: str = "", error: type[Exception] = ConfigError) -> tuple[str, ...]:
    """Return ``value`` as a tuple of str if it is a list/tuple/array of ``n`` texts."""
    must = "must be a list of " + (f"{n} " if n is not None else "") + "texts"
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "US":
        value = [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in value.tolist()]
    if not isinstance(value, (list, tuple)) or (n is not None and len(value) != n):
        raise invalid(name, must, value, where=where, hint=hint, error=error)
    out = []
    for v in value:
        if isinstance(v, bytes):
            v = v.decode("latin-1")
        if not isinstance(v, str) or len(v) > max_len:
            raise invalid(name, must, value, where=where, hint=hint, error=error)
        out.append(v)
    return tuple(out)


# ------------------------------------------------------------------------------------------------- files


def check_regular_file(path: str | os.PathLike, what: str, *, max_bytes: int | None = None,
                       error: type[Exception] = ConfigError) -> int:
    """Return the size of ``path`` if it is a regular file (not a FIFO, device or folder) within ``max_bytes``.

    Opening a FIFO blocks until a writer comes; a device may never end. Both are refused before opening.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{what} {safe_text(p)} does not exist.") from None
    except OSError as exc:
        raise error(f"Cannot read {what} {safe_text(p)}: {safe_text(exc.strerror or exc)}.") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe, socket or device)"
        raise error(f"Cannot read {what} {safe_text(p)}: it is {kind}. Give a file.")
    if max_bytes is not None and st.st_size > max_bytes:
        raise error(f"Cannot read {what} {safe_text(p)}: {_gib(st.st_size)} is too large (at most "
                    f"{_gib(max_bytes)}).")
    return int(st.st_size)


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_JSON_INT_DIGITS})")
    return int(text)


def _parse_constant(text: str) -> float:
    raise ValueError(f"{text} is not valid JSON")


def _depth(obj: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, iteratively (no recursion), stopping past ``limit``."""
    stack = [(obj, 1)]
    deepest = 0
    while stack:
        o, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return deepest


def read_json_file(path: str | os.PathLike, what: str, *, max_bytes: int = 64 * 1024**2,
                   error: type[Exception] = ConfigError, advice: str = "fix or delete it") -> Any:
    """Read a small JSON file that cannot hang, recurse without bound or hold absurd numbers.

    Refused with ``error``: a path that is not a regular file (FIFO...), more than ``max_bytes``, text that is
    not UTF-8, invalid JSON, ``NaN``/``Infinity`` literals, nesting deeper than :data:`MAX_JSON_DEPTH` levels,
    integers longer than :data:`MAX_JSON_INT_DIGITS` digits.

    Parameters
    ----------
    path : path-like
        The file (read-only).
    what : str
        What the file is, for messages ("Mask file", "Checkpoint config").
    max_bytes : int
        Largest accepted size, bytes.
    error : type
        Exception class raised.
    advice : str
        What to do, ending the message.
    """
    p = Path(path)
    check_regular_file(p, what, max_bytes=max_bytes, error=error)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise error(f"Cannot read {what} {safe_text(p)}: {safe_text(exc.strerror or exc)}.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"{what} {safe_text(p)} is not valid JSON (not UTF-8 text); {advice}.") from None
    # Cheap bound on nesting before the (recursive) C parser sees it: brackets can only nest this deep if
    # there are this many of them.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        depth = cur = 0
        in_str = esc = False
        for ch in text:
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch in "[{":
                cur += 1
                depth = max(depth, cur)
                if depth > MAX_JSON_DEPTH:
                    break
            elif ch in "]}":
                cur -= 1
        if depth > MAX_JSON_DEPTH:
            raise error(f"{what} {safe_text(p)} is not valid here: JSON nested more than {MAX_JSON_DEPTH} levels "
                        f"deep; {advice}.")
    try:
        data = json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise error(f"{what} {safe_text(p)} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                    f"{safe_text(exc.msg)}); {advice}.") from None
    except (ValueError, RecursionError) as exc:
        raise error(f"{what} {safe_text(p)} is not valid here: {safe_text(exc, 200)}; {advice}.") from None
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:  # pragma: no cover - caught by the scan above
        raise error(f"{what} {safe_text(p)}: JSON nested more than {MAX_JSON_DEPTH} levels deep.")
    return data
