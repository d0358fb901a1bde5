"""BrowserState: what the signal browser shows, as a Qt-free model with change events.

napari keeps its ``Dims`` (the model: which slice, which axes) apart from ``QtDims`` (the sliders that draw it);
this module is the ``Dims`` of the signal browser. It holds the page (start, length), the channel window (first
row, rows per page), the amplitude scales (per modality, per channel gain), the montage and display filters,
the display options (clipping, clock time) and the interaction mode (raw / cleaned / both, mask mode). Every
change goes through a method here that validates and clamps it, then emits one named event; the widget
(:class:`app.signal_browser.SignalBrowser`) subscribes and draws. Paging, scaling and the channel window are
therefore tested without a window (``tests/app/test_browser_state.py``).

The view's geometry (plot size in px, pixels per mm of the screen) is *told* to the state by the widget, so the
calibrated quantities -- sensitivity in units/mm, timebase in mm/s -- are computed here too.

Events (``state.events.connect(name, callback)``; callbacks take no arguments):

============  =================================================================
``page``      start or length of the page changed
``channels``  the channel window (first row, rows per page) or the rows changed
``scale``     a modality's amplitude or a channel's gain changed
``mode``      raw / cleaned / both changed
``mask_mode`` mask mode switched
``montage``   the montage changed
``filters``   the display filters changed
``display``   clipping, time format, calibration or the heart-rate row changed
============  =================================================================
"""

from __future__ import annotations

import datetime as _dt
import math
import numbers
import re
from collections import defaultdict
from typing import Callable, Iterable, Mapping

import numpy as np

from mmqnet_core.montage import AS_RECORDED, Montage
from mmqnet_core.preprocessing.display_filter import DisplayFilter
from mmqnet_core.recording import Modality

#: Page lengths offered by ',' / '.' and Ctrl+wheel, s.
PAGE_LENGTHS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
#: One '+' or '-' press multiplies or divides the amplitude by this.
SCALE_STEP = math.sqrt(2.0)
MODES = ("raw", "cleaned", "both")
#: Smallest row spacing, px, at which the automatic channel page still shows a channel more.
MIN_ROW_PX = 22.0
#: Channels per page offered by Ctrl+Shift+Up / Ctrl+Shift+Down (capped at the number of channels shown).
CHANNELS_PER_PAGE: tuple[int, ...] = (1, 2, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128)
#: Timebases offered in the toolbar, mm/s (30 mm/s is the clinical EEG standard).
TIMEBASES_MM_S: tuple[float, ...] = (7.5, 10.0, 15.0, 20.0, 30.0, 60.0)
#: Screen pixels per mm used when the screen does not report its size (96 dpi).
DEFAULT_PX_PER_MM = 96 / 25.4
#: Margin kept above the first and below the last row in view, rows.
ROW_MARGIN = 0.2
#: Unit prefixes for displaying a sensitivity: the unit of the data -> (display unit, factor to multiply by).
DISPLAY_UNITS: dict[str, tuple[str, float]] = {"V": ("\u00b5V", 1e6), "uV": ("\u00b5V", 1.0), "mV": ("\u00b5V", 1e3),
                                               "S": ("\u00b5S", 1e6), "uS": ("\u00b5S", 1.0)}


class Events:
    """Named change events with plain callbacks (the Qt-free counterpart of Qt signals)."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._blocked = 0
        self._pending: list[str] = []

    def connect(self, name: str, callback: Callable[[], None]) -> None:
        self._callbacks[name].append(callback)

    def emit(self, name: str) -> None:
        if self._blocked:
            if name not in self._pending:
                self._pending.append(name)
            return
        for callback in list(self._callbacks.get(name, ())):
            callback()

    def batch(self) -> "_Batch":
        """``with state.events.batch():`` emit each event once, when the block ends."""
        return _Batch(self)


class _Batch:
    def __init__(self, events: Events) -> None:
        self.events = events

    def __enter__(self) -> None:
        self.events._blocked += 1

    def __exit__(self, *exc) -> None:
        self.events._blocked -= 1
        if not self.events._blocked:
            pending, self.events._pending = self.events._pending, []
            for name in pending:
                self.events.emit(name)


def auto_channels_per_page(height_px: float, n_channels: int, min_row_px: float = MIN_ROW_PX) -> int:
    """Channels that fit in a plot ``height_px`` tall at ``min_row_px`` or more per row (at least 1, at most all).

    The page shows its rows with :data:`ROW_MARGIN` row of margin above and below. A height not known yet
    (0 before the widget is laid out) gives every channel.
    """
    if n_channels <= 0:
        return 0
    if height_px <= 0:
        return n_channels
    return max(1, min(n_channels, int(height_px / min_row_px - 2 * ROW_MARGIN)))


def display_unit(unit: str) -> tuple[str, float]:
    """(unit to show, factor from the data's unit) for a channel unit: volts are shown in µV, siemens in µS."""
    return DISPLAY_UNITS.get(unit, (unit or "a.u.", 1.0))


def format_number(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits without an exponent from 1e-4 to 1e7 (a sensitivity of
    1053 µV/mm read "1.05e+03", cut to "05e+03" in the toolbar's box): "1050", "7.33", "0.0123"."""
    if not math.isfinite(value) or value == 0 or not 1e-4 <= abs(value) < 1e7:
        return f"{value:.{digits}g}"
    exponent = math.floor(math.log10(abs(value)))
    decimals = digits - 1 - exponent
    text = f"{round(value, decimals):.{max(decimals, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text  # no trailing zeros, as "g" writes them


def format_hms(t_s: float, *, decimals: int = 0) -> str:
    """``t_s`` seconds as h:mm:ss (or mm:ss under an hour), with ``decimals`` digits of the second (a time that
    rounds to zero has no sign: never "-00:00.0")."""
    t = abs(t_s)
    scale = 10 ** decimals
    total = round(t * scale) / scale
    sign = "-" if t_s < 0 and total > 0 else ""
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    sec = f"{s:0{3 + decimals if decimals else 2}.{decimals}f}"
    return f"{sign}{int(h)}:{int(m):02d}:{sec}" if h else f"{sign}{int(m):02d}:{sec}"


def format_clock(t_s: float, start: _dt.datetime, *, decimals: int = 0) -> str:
    """Clock time (hh:mm:ss) of ``t_s`` seconds after ``start``."""
    # The clock time itself rounded (59.97 s read "00:00:59.0"; a start at 14:00:05.25 read 0.25 s early).
    when = start + _dt.timedelta(seconds=t_s)
    unit = 10 ** (6 - decimals)
    when = when.replace(microsecond=0) + _dt.timedelta(microseconds=round(when.microsecond / unit) * unit)
    text = when.strftime("%H:%M:%S")
    if decimals:
        frac = f"{when.microsecond / 1e6:.{decimals}f}"[1:]
        text += frac
    return text


_HMS = re.compile(r"^\s*(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)\s*$")
_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})[ T]+(.*)$")
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*s?\s*$")


def parse_time(text: str, *, duration_s: float, start: _dt.datetime | None = None,
               clock: bool = False, near_s: float | None = None) -> float:
    """Seconds from the recording start for a time typed by the user.

    Accepted: seconds (``"125"``, ``"125.5 s"``), ``mm:ss`` (``"2:05"``), ``hh:mm:ss`` (``"1:02:05.5"``), and a clock
    time: ``"@14:05:30"`` or ``"@14:05"`` (hh:mm) always, or any ``hh:mm:ss``/``hh:mm`` when ``clock`` is true (the
    axis shows clock time).
    A clock time before the recording's start is taken on the next day; a clock time on a given day
    (``"@2024-03-02 10:00:00"``) reaches any day of a recording of several days. A bare clock time lands on the
    day of ``near_s`` (s from the start: the page shown) when the recording holds it there, else on the occurrence
    nearest to it (on day 3 of a 72-h recording, "14:00" went back to day 1); without ``near_s``, on its first.

    Raises
    ------
    ValueError
        With a message that says what was typed and what is accepted, or that the time lies outside the recording.
    """
    raw = text.strip()
    is_clock = raw.startswith("@")
    body = raw[1:] if is_clock else raw
    dated = _DATE.match(body) if is_clock else None
    if dated:  # "@2024-03-02 10:00:00": a clock time on a given day (recordings of several days)
        return _parse_dated(text, dated, duration_s=duration_s, start=start)
    hms = _HMS.match(body)
    seconds = _SECONDS.match(body)
    as_clock = is_clock or (clock and hms is not None)
    if hms and as_clock and hms.group(1) is None and "." not in hms.group(3):
        # A clock time of two fields is hh:mm ("@13:30" is half past one, as after a date): it was read as mm:ss
        # and went to 00:13:30.
        hms = _HMS.match(f"{hms.group(2)}:{hms.group(3)}:00")
    if hms:
        h, m, s = hms.groups()
        value = int(h or 0) * 3600 + int(m) * 60 + float(s)
        if hms.group(1) is not None and (int(m) >= 60 or float(s) >= 60) or hms.group(1) is None and float(s) >= 60:
            raise ValueError(f"Invalid time {text!r}: minutes and seconds must be below 60.")
    elif seconds and not is_clock:
        value = float(seconds.group(1))
    else:
        raise ValueError(f"Invalid time {text!r}: type seconds (125), mm:ss (2:05), hh:mm:ss (1:02:05) or a clock "
                         "time (@14:05:30).")
    if as_clock:
        if start is None:
            raise ValueError(f"Cannot go to clock time {text!r}: the recording has no start time; type a time from "
                             "its start instead (e.g. 2:05).")
        start_of_day = start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6
        value = value - start_of_day
        if value < 0:
            value += 24 * 3600
        if near_s is not None and duration_s > 86400 - value:  # the clock time recurs: the day shown
            day = (start + _dt.timedelta(seconds=float(near_s))).date()
            days = [value + k * 86400.0 for k in range(int((duration_s - value) // 86400) + 1)]
            on_day = [t for t in days if (start + _dt.timedelta(seconds=t)).date() == day]
            value = on_day[0] if on_day else min(days, key=lambda t: abs(t - near_s))  # else the nearest
    if not 0 <= value <= duration_s:
        raise ValueError(f"Time {text!r} is outside the recording, which lasts {format_hms(duration_s)} "
                         f"({duration_s:g} s).")
    return value


def _parse_dated(text: str, dated: re.Match, *, duration_s: float, start: _dt.datetime | None) -> float:
    """Seconds from the start of a typed ``@YYYY-MM-DD hh:mm[:ss]`` (see :func:`parse_time`)."""
    if start is None:
        raise ValueError(f"Cannot go to clock time {text!r}: the recording has no start time; type a time from "
                         "its start instead (e.g. 2:05).")
    year, month, day, rest = dated.groups()
    hms = _HMS.match(rest)
    if hms is None:
        raise ValueError(f"Invalid time {text!r}: type a date and time as @YYYY-MM-DD hh:mm:ss.")
    h, m, sec = hms.groups()
    if h is None:  # "10:00" after a date is hh:mm
        if "." in sec:
            raise ValueError(f"Invalid time {text!r}: type a date and time as @YYYY-MM-DD hh:mm:ss.")
        h, m, sec = m, sec, "0"
    if int(m) >= 60 or float(sec) >= 60:
        raise ValueError(f"Invalid time {text!r}: minutes and seconds must be below 60.")
    try:
        when = _dt.datetime(int(year), int(month), int(day), int(h), int(m), 0, tzinfo=start.tzinfo)
    except ValueError as exc:
        raise ValueError(f"Invalid time {text!r}: {exc}.") from None
    value = (when - start).total_seconds() + float(sec)
    if not 0 <= value <= duration_s:
        raise ValueError(f"Time {text!r} is outside the recording, which lasts {format_hms(duration_s)} "
                         f"({duration_s:g} s) from {start:%Y-%m-%d %H:%M:%S}.")
    return value


class BrowserState:
    """Everything the signal browser shows, with validation and change events (see the module docstring).

    Rows are the lines drawn top to bottom (channels, or a montage's derivations); the state knows only how many
    there are and their modalities. Scales are amplitudes per row spacing, in each row's unit.
    """

    def __init__(self) -> None:
        self.events = Events()
        self.duration_s = 0.0
        self.start_s = 0.0
        self.page_s = 10.0
        self.direction = 1  # +1 after a step forward, -1 after a step back
        self.n_rows = 0
        self.first_row = 0
        self.per_page_choice: int | None = None  # None: as many as fit the height
        self.mode = "raw"
        self.mask_mode = False
        self.scales: dict[Modality, float] = {}  # amplitude per row spacing, in the channel's unit
        self.scale_target: Modality | None = None  # modality changed by +/-; None = all
        self.gains: dict[str, float] = {}  # per-row gain by row name (1 when absent)
        self.montage: Montage = AS_RECORDED
        self.filters: dict[Modality, DisplayFilter] = {}  # display filters set per modality
        self.filters_on = True  # F switches them all off and on without forgetting them
        self.clip = True  # traces clipped to their row
        self.negative_up = False  # EEG polarity: negative deflections drawn upwards (the clinical convention)
        self.clock_time = False  # the time axis shows clock time (needs a start time)
        self.heart_rate = False  # the heart-rate row (from an ECG/PPG channel) is wanted under the traces
        self.start_time: _dt.datetime | None = None  # the recording's start (clock time of t = 0)
        # Geometry told by the view, px; px_per_mm from the screen or the calibration dialog.
        self.view_width_px = 0.0
        self.view_height_px = 0.0
        self.strip_px = 0.0  # height of the annotation label strip above the traces, px
        self.px_per_mm = DEFAULT_PX_PER_MM

    # --- recording ----------------------------------------------------------------------------------------
    def reset(self, duration_s: float, start_time: _dt.datetime | None = None) -> None:
        """A new recording: page at 0 (length kept but not beyond the recording), scales and gains forgotten."""
        with self.events.batch():
            self.duration_s = float(duration_s)
            self.start_time = start_time
            self.start_s = 0.0
            self.first_row = 0
            self.page_s = min(self.page_s, max(PAGE_LENGTHS[0], self.duration_s))
            self.scales = {}
            self.gains = {}
            self.events.emit("page")
            self.events.emit("scale")
            self.events.emit("display")

    def set_rows(self, n_rows: int, keep_top: int | None = None) -> None:
        """The number of rows changed (channels hidden or shown, another montage); ``keep_top``: new top row."""
        row_px = self.row_px
        self.n_rows = int(n_rows)
        if keep_top is not None:
            self.first_row = keep_top
        self._clamp_channels()
        self._keep_sensitivity(row_px)
        self.events.emit("channels")

    # --- page -------------------------------------------------------------------------------------------------
    def clamp_start(self, start_s: float) -> float:
        """``start_s`` moved so that the page lies within the recording, s."""
        return max(0.0, min(float(start_s), max(0.0, self.duration_s - self.page_s)))

    def set_start(self, start_s: float) -> None:
        """Show the page starting at ``start_s`` (clamped to the recording), s; emits ``page`` even if unchanged."""
        start_s = self.clamp_start(start_s)
        if start_s != self.start_s:
            self.direction = 1 if start_s > self.start_s else -1
            self.start_s = start_s
        self.events.emit("page")

    def scroll_pages(self, pages: float) -> None:
        """Move by ``pages`` pages (negative: back)."""
        self.set_start(self.start_s + pages * self.page_s)

    def center_on(self, t_s: float) -> None:
        self.set_start(t_s - self.page_s / 2)

    def set_page_length(self, page_s: float) -> None:
        """Set the page length, s (the page keeps its start)."""
        if not page_s > 0 or not math.isfinite(page_s):
            raise ValueError(f"page length must be a finite number > 0 s, got {page_s}")
        self.page_s = float(page_s)
        self.set_start(self.start_s)

    def step_page_length(self, steps: int) -> None:
        """Go ``steps`` entries along :data:`PAGE_LENGTHS` (negative: shorter)."""
        lengths = PAGE_LENGTHS
        i = int(np.searchsorted(lengths, self.page_s - 1e-9))
        if steps < 0 and (i >= len(lengths) or lengths[i] > self.page_s + 1e-9):
            i -= 1  # from a length between two entries, '<' goes to the lower one
            steps += 1
        i = min(max(i + steps, 0), len(lengths) - 1)
        self.set_page_length(lengths[i])

    @property
    def stop_s(self) -> float:
        return self.start_s + self.page_s

    # --- channel window ---------------------------------------------------------------------------------------
    @property
    def channels_per_page(self) -> int:
        """Rows in view: the user's choice (capped at the rows there are), else as many as fit the height."""
        if self.per_page_choice is not None:
            return min(self.per_page_choice, self.n_rows)
        height = self.view_height_px - self.strip_px if self.view_height_px > 0 else 0.0
        return auto_channels_per_page(max(height, 1.0) if self.view_height_px > 0 else 0.0, self.n_rows)

    def _clamp_channels(self) -> None:
        per_page = max(1, self.channels_per_page)
        self.first_row = max(0, min(int(self.first_row), self.n_rows - per_page))

    def set_channels_per_page(self, n: int | None) -> None:
        """Show ``n`` rows at a time (the top row stays), or as many as fit (``None``)."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
            raise ValueError(f"channels per page must be a whole number >= 1 (or None for automatic), got {n!r}")
        self.per_page_choice = None if n is None else int(n)
        self._clamp_channels()
        self.events.emit("channels")

    def step_channels_per_page(self, steps: int) -> None:
        """Go ``steps`` entries along :data:`CHANNELS_PER_PAGE` from the current count (negative: fewer)."""
        if self.n_rows == 0 or steps == 0:
            return
        current = self.channels_per_page
        if steps > 0:
            larger = [c for c in CHANNELS_PER_PAGE if c > current]
            n = larger[min(steps, len(larger)) - 1] if larger else current
        else:
            smaller = [c for c in CHANNELS_PER_PAGE if c < current][::-1]
            n = smaller[min(-steps, len(smaller)) - 1] if smaller else current
        self.set_channels_per_page(max(1, min(n, self.n_rows)))

    def set_first_channel(self, row: int) -> None:
        """Put row ``row`` at the top of the view, clamped to the rows."""
        self.first_row = int(row)
        self._clamp_channels()
        self.events.emit("channels")

    def scroll_channels(self, rows: int) -> None:
        self.set_first_channel(self.first_row + rows)

    def scroll_channel_pages(self, pages: int) -> None:
        self.scroll_channels(pages * max(1, self.channels_per_page))

    def set_view_size(self, width_px: float, height_px: float, strip_px: float | None = None) -> None:
        """The plot's size (and the label strip's height), px, as laid out by the widget."""
        changed = (width_px, height_px) != (self.view_width_px, self.view_height_px)
        row_px = self.row_px
        self.view_width_px, self.view_height_px = float(width_px), float(height_px)
        if strip_px is not None and strip_px != self.strip_px:
            self.strip_px, changed = float(strip_px), True
        if changed:
            self._clamp_channels()
            self._keep_sensitivity(row_px)
            self.events.emit("channels")

    def _keep_sensitivity(self, old_row_px: float) -> None:
        """Rows ``old_row_px`` px high became :attr:`row_px` high (a dock opened, the window or the channels per
        page changed): scale the amplitudes per row with them, so that the sensitivity in µV/mm the user set stays
        (as in EDFbrowser: traces keep their size in mm; a row's height is not an amplitude). Before the first
        layout (0 px) the scales stay per row. Choosing how many channels a page shows (Ctrl+Shift+Up/Down) keeps
        the traces' size per row instead: the user asked for rows that fit."""
        new_row_px = self.row_px
        if old_row_px > 0 and new_row_px > 0 and new_row_px != old_row_px and self.scales:
            factor = new_row_px / old_row_px
            self.scales = {m: v * factor for m, v in self.scales.items()}
            self.events.emit("scale")

    # --- amplitude --------------------------------------------------------------------------------------------
    def scale(self, modality: Modality | str) -> float:
        """Amplitude per row spacing for ``modality``, in the channel's unit (1 when not set)."""
        return self.scales.get(Modality.parse(modality), 1.0)

    def set_scales(self, scales: Mapping[Modality, float]) -> None:
        for m, v in scales.items():
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"amplitude scale of {Modality.parse(m).value} must be a finite number > 0, got {v}")
        self.scales.update({Modality.parse(m): float(v) for m, v in scales.items()})
        self.events.emit("scale")

    def set_scale_target(self, modality: Modality | str | None) -> None:
        """Modality whose amplitude '+'/'-' change (``None``: all)."""
        self.scale_target = None if modality is None else Modality.parse(modality)

    def change_scale(self, factor: float, modality: Modality | str | None = None) -> None:
        """Multiply the amplitude shown by ``factor`` (> 1 = larger traces) for one modality or all."""
        if not factor > 0:
            raise ValueError(f"scale factor must be > 0, got {factor}")
        targets = [Modality.parse(modality)] if modality is not None else list(self.scales)
        for m in targets:
            if m in self.scales:
                self.scales[m] /= factor
        self.events.emit("scale")

    def gain(self, row_name: str) -> float:
        """Extra gain of one row (1 = as its modality)."""
        return self.gains.get(row_name, 1.0)

    def change_gain(self, row_names: Iterable[str], factor: float) -> None:
        """Multiply the gain of some rows by ``factor`` (> 1 = larger traces); a gain back at 1 is forgotten."""
        for name in row_names:
            g = self.gains.get(name, 1.0) * factor
            if abs(g - 1.0) < 1e-9:
                self.gains.pop(name, None)
            else:
                self.gains[name] = g
        self.events.emit("scale")

    def reset_gains(self) -> None:
        self.gains = {}
        self.events.emit("scale")

    # --- calibration -------------------------------------------------------------------------------------------
    @property
    def row_px(self) -> float:
        """Row spacing on screen, px (0 before the view is laid out)."""
        rows = max(1, self.channels_per_page) + 2 * ROW_MARGIN
        return max(0.0, self.view_height_px - self.strip_px) / rows

    def set_px_per_mm(self, px_per_mm: float) -> None:
        """Screen pixels per mm (from the screen's physical size or the calibration dialog)."""
        if not (px_per_mm > 0 and math.isfinite(px_per_mm)):
            raise ValueError(f"pixels per mm must be a finite number > 0, got {px_per_mm}; measure a ruler "
                             "on the screen in the calibration dialog")
        self.px_per_mm = float(px_per_mm)
        self.events.emit("display")

    def sensitivity(self, modality: Modality | str) -> float:
        """Amplitude per mm on screen for ``modality``, in the channel's unit per mm (NaN before layout)."""
        row_mm = self.row_px / self.px_per_mm
        return self.scale(modality) / row_mm if row_mm > 0 else math.nan

    def set_sensitivity(self, modality: Modality | str, per_mm: float) -> None:
        """Set ``modality``'s amplitude so that one mm on screen is ``per_mm`` (channel unit) at the current rows."""
        row_mm = self.row_px / self.px_per_mm
        if not (per_mm > 0 and math.isfinite(per_mm)):
            raise ValueError(f"sensitivity must be a finite number > 0 per mm, got {per_mm}")
        if row_mm <= 0:
            raise ValueError("sensitivity cannot be set before the browser is laid out")
        self.set_scales({Modality.parse(modality): per_mm * row_mm})

    @property
    def timebase_mm_s(self) -> float:
        """Paper speed on screen, mm/s (NaN before layout)."""
        width_mm = self.view_width_px / self.px_per_mm
        return width_mm / self.page_s if width_mm > 0 else math.nan

    def set_timebase(self, mm_per_s: float) -> None:
        """Set the page length so that one second is ``mm_per_s`` mm wide on screen."""
        if not (mm_per_s > 0 and math.isfinite(mm_per_s)):
            raise ValueError(f"timebase must be a finite number > 0 mm/s, got {mm_per_s}; 30 mm/s is the standard")
        if self.view_width_px <= 0:
            raise ValueError("timebase cannot be set before the browser is laid out")
        self.set_page_length(self.view_width_px / self.px_per_mm / mm_per_s)

    # --- mode, montage, filters, display -----------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode != self.mode:
            self.mode = mode
            self.events.emit("mode")

    def cycle_mode(self) -> None:
        """raw -> cleaned -> both -> raw."""
        self.set_mode(MODES[(MODES.index(self.mode) + 1) % len(MODES)])

    def set_mask_mode(self, on: bool) -> None:
        if bool(on) != self.mask_mode:
            self.mask_mode = bool(on)
            self.events.emit("mask_mode")

    def set_montage(self, montage: Montage) -> None:
        if montage != self.montage:
            self.montage = montage
            self.events.emit("montage")

    def set_filter(self, modality: Modality | str, display_filter: DisplayFilter | None) -> None:
        """Display filter of one modality (``None`` or an empty filter: none)."""
        m = Modality.parse(modality)
        if display_filter is None or not display_filter.active:
            self.filters.pop(m, None)
        else:
            self.filters[m] = display_filter
        self.events.emit("filters")

    def set_filters(self, filters: Mapping[Modality, DisplayFilter]) -> None:
        self.filters = {Modality.parse(m): f for m, f in filters.items() if f is not None and f.active}
        self.events.emit("filters")

    def set_filters_on(self, on: bool) -> None:
        if bool(on) != self.filters_on:
            self.filters_on = bool(on)
            self.events.emit("filters")

    def active_filters(self) -> dict[Modality, DisplayFilter]:
        """The display filters in force (none while switched off)."""
        return dict(self.filters) if self.filters_on else {}

    def filters_text(self, modalities: Iterable[Modality] | None = None) -> str:
        """The display filters in force, e.g. "EEG 0.5-35 Hz notch 50 Hz; ECG 1-40 Hz" ("" when none); with
        ``modalities``, only theirs (the drawn rows': a file without EEG read "display filter: EEG ...")."""
        items = sorted(self.active_filters().items(), key=lambda kv: kv[0].value)
        if modalities is not None:
            drawn = set(modalities)
            items = [(m, f) for m, f in items if m in drawn]
        return "; ".join(f"{m.value} {f.describe()}" for m, f in items)

    def set_clip(self, on: bool) -> None:
        if bool(on) != self.clip:
            self.clip = bool(on)
            self.events.emit("display")

    def set_negative_up(self, on: bool) -> None:
        """Draw negative values upwards (clinical EEG convention) or positive values upwards (default)."""
        if bool(on) != self.negative_up:
            self.negative_up = bool(on)
            self.events.emit("display")

    def set_heart_rate(self, on: bool) -> None:
        """Want the heart-rate row under the traces (shown when the recording has an ECG or PPG channel)."""
        if bool(on) != self.heart_rate:
            self.heart_rate = bool(on)
            self.events.emit("display")

    def set_clock_time(self, on: bool) -> None:
        """Show clock time on the time axis (only when the recording's start time is known)."""
        on = bool(on) and self.start_time is not None
        if on != self.clock_time:
            self.clock_time = on
            self.events.emit("display")

    def format_time(self, t_s: float, decimals: int = 0) -> str:
        """A time on the recording as the axis shows it: h:mm:ss from the start, or the clock time."""
        if self.clock_time and self.start_time is not None:
            return format_clock(t_s, self.start_time, decimals=decimals)
        return format_hms(t_s, decimals=decimals)

    def parse_time(self, text: str) -> float:
        """Seconds from the start for a typed time (see :func:`parse_time`)."""
        return parse_time(text, duration_s=self.duration_s, start=self.start_time, clock=self.clock_time,
                          near_s=self.start_s)
