"""TimeSpinBox: a time on the recording typed and shown as h:mm:ss like the time axes (a light module: the
annotation dialog is made at start-up, the spectrum dialog on first use)."""

from __future__ import annotations

import datetime as _dt

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QWidget

from .browser_state import format_clock, format_hms, parse_time


class TimeSpinBox(QDoubleSpinBox):
    """A time from the recording's start, s, shown as h:mm:ss.ss (mm:ss.ss under an hour) like the time axes;
    typed as h:mm:ss, mm:ss or seconds (:func:`app.browser_state.parse_time`). It showed "2873.45 s" where the
    axes said 47:53."""

    def __init__(self, duration_s: float, parent: QWidget | None = None, decimals: int = 2,
                 start: _dt.datetime | None = None) -> None:
        """``start``: the recording's clock start when the axes show clock time (T): the time is then shown and
        typed as a clock time (hh:mm:ss.sss), as the axis and the event list read it."""
        super().__init__(parent)
        self.start = start
        self.setDecimals(decimals)
        self.setRange(0.0, duration_s)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt API)
        if self.start is not None:
            return format_clock(value, self.start, decimals=self.decimals())
        return format_hms(value, decimals=self.decimals())

    def _parse(self, text: str) -> float:
        # a clock time on the day of the time shown (a recording of several days), as Go to time does
        return parse_time(text, duration_s=self.maximum(), start=self.start, clock=self.start is not None,
                          near_s=self.value() if self.start is not None else None)

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt API)
        try:
            return self._parse(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):  # noqa: D102 (Qt API)
        try:
            self._parse(text)
        except ValueError:
            ok = all(c.isdigit() or c in ":. s@" for c in text)
            return (QValidator.State.Intermediate if ok else QValidator.State.Invalid), text, pos
        return QValidator.State.Acceptable, text, pos
