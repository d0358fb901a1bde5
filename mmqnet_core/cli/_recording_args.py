"""Command-line options shared by the commands that open one recording (info, preprocess, features, analyze)."""

from __future__ import annotations

import argparse
import os
import sys

from pathlib import Path

from ..check import check_range, check_size, invalid, safe_text
from ..errors import ConfigError
from ..recording import Modality, Recording


def add_modality_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--modality CH=MOD`` (repeatable): override the modality inferred for a channel."""
    parser.add_argument(
        "--modality", action="append", default=[], metavar="CH=MOD",
        help="set a channel's modality, e.g. --modality EXG1=ECG (repeatable; modalities: "
        + ", ".join(m.value for m in Modality) + ")",
    )


def parse_modalities(items: list[str]) -> dict[str, Modality] | None:
    """Turn ``["EXG1=ECG", ...]`` into ``{"EXG1": Modality.ECG}``; a clear error for a malformed item."""
    out: dict[str, Modality] = {}
    for item in items or ():
        name, sep, mod = item.partition("=")
        if not sep or not name.strip() or not mod.strip():
            raise ConfigError(f"Invalid value for '--modality': expected CHANNEL=MODALITY (e.g. EXG1=ECG), got {item!r}.")
        out[name.strip()] = Modality.parse(mod)
    return out or None


def add_mask_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--masks JSON`` and ``--no-masks``: the masks every command applies (see
    :func:`mmqnet_core.masking.masks_for`)."""
    parser.add_argument("--masks", default=None, metavar="JSON",
                        help="mask file: masked channels and segments are missing data (default: the recording's "
                        "sidecar <FILE>.masks.json when it exists)")
    parser.add_argument("--no-masks", action="store_true", help="ignore the sidecar mask file")


def check_not_all_masked(recording: Recording, masks, note: str, start_s: float = 0.0,
                         stop_s: float | None = None, *, what: str = "clean") -> None:
    """Refuse a span in which every channel is masked (nothing would be left but NaN), with the masks' source."""
    if masks is None or masks.is_empty:
        return
    from ..errors import MaskError
    from ..masking import mask_sample_spans

    start = max(0.0, float(start_s))
    stop = recording.duration_s if stop_s is None else min(float(stop_s), recording.duration_s)
    n = max(0, int(round((stop - start) * recording.sfreq)))
    spans = mask_sample_spans(masks, recording.ch_names, recording.sfreq, n, offset_s=start)
    if n and all(s.size and int((s[:, 1] - s[:, 0]).sum()) >= n for s in spans):
        raise MaskError(f"Every channel of {recording.title} is masked from {start:g} s to {stop:g} s ({note}): "
                        f"nothing to {what} -- unmask at least one channel or span, or ignore the masks with "
                        "--no-masks.")


def print_warnings(recording: Recording) -> None:
    """Say loudly what was wrong with the file: one ``warning: ...`` line on stderr per :attr:`Recording.warnings`
    (truncated data, records beyond the end, a corrected header, dropped labels), each with what was read and
    what was not."""
    for w in recording.warnings:
        _say(f"warning: {safe_text(w)}")


def print_step_warnings(steps) -> None:
    """A ``warning:`` line for each preprocessing step that left data out (flat channels, no usable EEG)."""
    from ..preprocessing.left_out import left_out_steps

    for step in left_out_steps(steps):
        _say(f"warning: {safe_text(step)}")


def _say(line: str) -> None:
    """One line on stderr on a line of its own: a progress bar being drawn there is cleared first and drawn again
    below it (a plain print continued the bar's line: "analyze:  10%|█ | opened x.edf warning: ...")."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


#: Copies of the signals that cleaning and featurising hold at once (raw, working copy, filtered, resampled).
_COPIES_IN_MEMORY = 4


def available_bytes() -> int:
    """Memory available to this process now, bytes: MemAvailable (free memory plus reclaimable cache) on Linux,
    else the physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fid:
            for line in fid:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * 1024**3


def check_span(start_s: float, stop_s: float | None) -> None:
    """``--start``/``--stop``: finite seconds, start >= 0 and stop after start (checked before any reading)."""
    check_range("--start", start_s, 0.0, unit="s")
    if stop_s is not None:
        check_range("--stop", stop_s, start_s, lo_open=True, unit="s")


def check_fits_memory(recording: Recording, start_s: float = 0.0, stop_s: float | None = None, *,
                      streamed_s: float | None = None) -> None:
    """Refuse, before reading, a span whose cleaning would not fit in the memory available.

    A sparse or forged file can declare billions of records; cleaning reads the span at once (in float64), so
    it is bounded here with a message that says how long a span fits. ``streamed_s``: the span is cleaned in
    pieces of at most this many seconds (with their context) instead (the bounded-memory analysis).
    """
    stop = recording.duration_s if stop_s is None else min(stop_s, recording.duration_s)
    span = max(0.0, stop - max(0.0, start_s))
    if streamed_s is not None:
        span = min(span, streamed_s)
    per_s = recording.n_channels * recording.sfreq * 8 * _COPIES_IN_MEMORY
    budget = available_bytes()
    fits_s = budget / per_s if per_s else float("inf")
    check_size(
        "span to clean", span * per_s, budget, where=recording.title, error=ConfigError,
        hint=f"{span:g} s of {recording.n_channels} channels at {recording.sfreq:g} Hz; about {fits_s:.0f} s fit. "
        "Choose a shorter span with --start/--stop.",
    )


def check_output(output: str | os.PathLike, source: str | os.PathLike, option: str = "--output") -> Path:
    """Refuse an output path that is the input recording (or one of a session folder's files), before anything
    is read: source recordings are never written, even by a typo such as ``-o rec.edf`` for ``rec.edf``.

    Symbolic and hard links to the source are caught too (the paths are resolved and compared by inode).
    """
    out, src = Path(output), Path(source)
    sources = [src]
    if src.is_dir():
        sources += [p for p in src.iterdir() if p.is_file()]
    for s in sources:
        same = out.resolve() == s.resolve()
        if not same and out.exists() and s.exists():
            try:
                same = os.path.samefile(out, s)
            except OSError:
                same = False
        if same:
            raise invalid(option, "must not be the input recording (source files are never written)", str(out),
                          hint="Choose another output file.")
    return out


def check_output_folder(output: str | os.PathLike, option: str = "--output") -> Path:
    """Check, before any work, that the output folder ``output`` can be made and written, so that a folder that
    cannot (a file in the way, no permission, a read-only or special file system) is said at once in one line, not
    after a long analysis as the last-resort error of the saving step. Folders made for the check are removed again
    (nothing is left behind by a command that fails later)."""
    out = Path(output)
    made: list[Path] = []
    try:
        for folder in reversed([out, *out.parents]):
            if not folder.exists():
                folder.mkdir()
                made.append(folder)
        if not out.is_dir():
            raise NotADirectoryError(20, "not a directory")
        if not os.access(out, os.W_OK | os.X_OK):
            if hasattr(os, "statvfs") and os.statvfs(out).f_flag & os.ST_RDONLY:  # not "permission denied"
                raise OSError(30, "read-only file system")
            raise PermissionError(13, "permission denied")
    except OSError as exc:
        reason = "a file of that name is in the way" if out.exists() and not out.is_dir() else (
            exc.strerror or str(exc)).lower()
        raise ConfigError(f"Invalid value for '{option}': cannot write the results into {safe_text(str(out))} "
                          f"({reason}); choose a folder you can write to.") from None
    finally:
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:  # pragma: no cover - something else wrote there meanwhile: leave it
                break
    return out


def check_output_file(output: str | os.PathLike, option: str = "--output", *, make_folder: bool = True) -> Path:
    """Check, before any work, that the output file ``output`` can be written: not a folder, in a folder that
    exists (or, with ``make_folder``, can be made) and can be written. A read-only folder, or one without permission,
    was said only after the whole cleaning, as the last-resort error of the saving step."""
    out = Path(output)
    if out.is_dir():
        raise ConfigError(f"Invalid value for '{option}': {safe_text(str(out))} is a folder; give a file name "
                          f"(e.g. {safe_text(str(out / 'out'))}{out.suffix or ''}).")
    parent = out.parent
    if not make_folder and not parent.exists():
        raise ConfigError(f"Invalid value for '{option}': cannot write {safe_text(str(out))}: the folder "
                          f"{safe_text(str(parent))} does not exist; make it first or choose another folder.")
    check_output_folder(parent, option)
    return out
