"""AnalysisBanner: the line above every analysis view (which model, synthetic/untrained warning, stale result)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from .model import AppModel

#: Text shown before any analysis was run.
NO_ANALYSIS_TEXT = "No analysis yet: Analysis > Run MMQ-Net (F5)."
#: Appended when the masks changed after the analysis.
STALE_TEXT = "Masks changed since this analysis: press F5 to re-run."


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
        self.setText(" &middot; ".join(parts) if parts else "")
        self.setToolTip(result.model_description)

    @property
    def plain_text(self) -> str:
        """The banner without markup (for tests and the report)."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.text())
        return doc.toPlainText()
