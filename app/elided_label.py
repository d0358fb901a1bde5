"""ElidedLabel: a one-line label that shrinks with "…" instead of being cut off (status bar texts).

A plain QLabel in a crowded status bar is clipped in mid-word ("cleanec", "| : |") once the bar is narrower than
its texts (a 1024-px window, or while the progress bar and Cancel button are shown). This label may shrink to a
few characters; what no longer fits ends in "…", and the full text is its tooltip (or the tooltip it was given).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QWidget

#: Characters an ElidedLabel keeps at its narrowest (before the "…").
MIN_CHARS = 8


class ElidedLabel(QLabel):
    """A one-line plain-text label drawn elided at the right when it is narrower than its text.

    ``clicked`` is emitted on a left click (the damaged-file label opens its details with it).
    """

    clicked = Signal()

    def __init__(self, text: str = "", parent: QWidget | None = None, min_chars: int = MIN_CHARS) -> None:
        super().__init__(text, parent)
        self._min_chars = min_chars
        self._text = text
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def text(self) -> str:  # noqa: D102 (QLabel API; see setText)
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (Qt API)
        """Show ``text``; a text as wide as the one shown is only repainted, never laid out again.

        QLabel.setText asks the parent's layout to run again at every call, and in the status bar that
        relays out and repaints the whole bar: ~2.3 ms of the GUI thread at each page step for the page label,
        whose text changes at every step but seldom its width (digits are equally wide). The size hints only
        depend on the text's width, so QLabel keeps the last text of another width and this one is drawn.
        """
        text = str(text)
        if text == self._text:
            return
        metrics = self.fontMetrics()
        same_width = metrics.horizontalAdvance(text) == metrics.horizontalAdvance(QLabel.text(self))
        self._text = text
        if same_width and ("\n" in text) == ("\n" in QLabel.text(self)):
            self.update()
        else:
            super().setText(text)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        hint = super().minimumSizeHint()
        m = self.contentsMargins()
        narrow = self.fontMetrics().horizontalAdvance("x" * self._min_chars + "…") + m.left() + m.right()
        return QSize(min(hint.width(), narrow), hint.height())

    def shown_text(self) -> str:
        """The text as drawn at the label's current width (ends in "…" when it does not fit)."""
        width = self.contentsRect().width() - 2 * self.margin()
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, max(width, 0))

    @property
    def is_elided(self) -> bool:
        return self.shown_text() != self.text()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        rect = self.contentsRect().adjusted(self.margin(), 0, -self.margin(), 0)
        align = self.alignment() | Qt.AlignmentFlag.AlignVCenter
        self.style().drawItemText(painter, rect, int(align), self.palette(), self.isEnabled(), self.shown_text(),
                                  self.foregroundRole())

    def event(self, event) -> bool:  # noqa: A003 (Qt API)
        if event.type() == QEvent.Type.ToolTip and not self.toolTip() and self.is_elided:
            QToolTip.showText(event.globalPos(), self.text(), self)
            return True
        return super().event(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)


def warning_label(parent: QWidget, on_click) -> ElidedLabel:
    """A status-bar warning that stays until dealt with: amber, elided to its share of the bar, a click calls
    ``on_click`` (which shows the whole text); hidden until given a text."""
    label = ElidedLabel("", parent, min_chars=24)
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#fff3cd"))
    palette.setColor(QPalette.ColorRole.WindowText, QColor("#7a4b00"))
    label.setPalette(palette)
    label.setAutoFillBackground(True)
    label.setContentsMargins(6, 0, 6, 0)
    label.setCursor(Qt.CursorShape.PointingHandCursor)
    label.clicked.connect(on_click)
    label.hide()
    return label
