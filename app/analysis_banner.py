"""AnalysisBanner: the line above every analysis view (which model, synthetic/untrained warning, stale result, the
analysis' notes: what it left out and why)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from .model import AppModel

#: Text shown before any analysis was run.
NO_ANALYSIS_TEXT = "No analysis yet: Analysis > Run MMQ-Net (F5)."
#: Appended when the masks changed after the analysis.
STALE_TEXT = "Masks changed since this analysis: press F5 to re-run."
#: Notes of the analysis shown in full on the banner; more are counted (all in its tooltip).
NOTES_SHOWN = 3


def coverage_text(result) -> str:
    """``"1 of the model's 40 channels in this recording"`` when the recording lacks some of the model's channels
    (the model reads them as hidden); "" when it has them all."""
    channels = list(getattr(result, "token_channels", ()) or ())
    present = sum(c is not None for c in channels)
    if not channels or present == len(channels):
        return ""
    return f"{present} of the model's {len(channels)} channels in this recording"


class AnalysisBanner(QLabel):
    """One rich-text line that follows the AppModel's analysis state."""

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self.setContentsMargins(4, 2, 4, 2)
        model.analysisFinished.connect(lambda _r: self.refresh())
        model.analysisStaleChanged.connect(lambda _s: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        result = self.model.analysis
        if result is None:
            self.setText(f"<span style='color:#555'>{NO_ANALYSIS_TEXT}</span>")
            self.setToolTip("")
            return
        parts = []
        if self.model.analysis_model_label:
            parts.append(f"<b style='color:#b71c1c'>{self.model.analysis_model_label}</b>")
        if result.is_synthetic:
            parts.append("<b style='color:#b71c1c'>SYNTHETIC recording</b>")
        coverage = coverage_text(result)
        if coverage:  # a one-channel EDF's smooth trajectory did not say it rests on 1 of 40 inputs
            parts.append(f"<b style='color:#7a4f00'>{coverage}</b>")
        if self.model.analysis_stale:
            parts.append(f"<span style='background:#fff3c4;color:#7a4f00'>&nbsp;{STALE_TEXT}&nbsp;</span>")
        text = " &middot; ".join(parts)
        notes = self.model.analysis_notes
        if notes:  # e.g. a damaged DEAP trial left out of the subject's statistics: was an info line in the log
            lines = [f"Note: {html.escape(n)}" for n in notes[:NOTES_SHOWN]]
            if len(notes) > NOTES_SHOWN:
                lines.append(f"and {len(notes) - NOTES_SHOWN} more notes (in this line's tooltip)")
            text += ("<br>" if text else "") + "<br>".join(
                f"<span style='background:#fff3c4;color:#7a4f00'>&nbsp;{line}&nbsp;</span>" for line in lines)
        self.setText(text)
        tip = result.model_description
        if notes:
            tip += "\n\n" + "\n".join(f"Note: {n}" for n in notes)
        self.setToolTip(tip)

    @property
    def plain_text(self) -> str:
        """The banner without markup (for tests and the report)."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.text())
        return doc.toPlainText()
