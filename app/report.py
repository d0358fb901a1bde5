"""One-page analysis report, painted with QPainter onto a PNG image or a PDF page (same layout for both).

The page holds: the recording's title (with a SYNTHETIC label when it is), the model's description and its
warning label, a masking summary with the list of masks (channels, times, source: user, simulated or imported),
the mean probabilities, and thumbnails of the trajectory, circumplex and
attention views (images grabbed from the widgets).
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPageSize, QPainter, QPdfWriter

from .analysis import atomic_write
from .browser_state import format_hms

#: Page size in pixels: A4 at 150 dpi.
PAGE_W, PAGE_H = 1240, 1754
MARGIN = 70
#: Order and captions of the thumbnails.
THUMBNAILS = (("trajectory", "Valence / arousal probability over time"),
              ("circumplex", "Valence-arousal plane"),
              ("attention", "Attention over tokens"))
WARNING_COLOUR = QColor("#b71c1c")
#: Footer note on the uncertainty of an analysis without Monte-Carlo samples.
ENTROPY_NOTE = "binary entropy of the window's prediction (bits)"
#: Added when the analysis marginalised the probability over the evidence of hidden modalities.
MISSING_EVIDENCE_NOTE = ", widened where modalities are hidden (missing-evidence term)"
#: Said on the report of an analysis whose masks were changed afterwards.
STALE_REPORT_TEXT = ("The masks changed after this analysis was run: the results and the masks listed are the "
                     "analysis', not the masks shown now (F5 runs it again).")
#: Most masks listed on the page; the rest are counted (File > Export masks writes them all).
MAX_MASK_LINES = 12
#: Notes of the analysis (what it left out and why) listed on the report; more are counted.
MAX_NOTE_LINES = 3
#: Above the list of masks.
MASK_LIST_HEADING = "Masks (channels: start-end, h:mm:ss from the start of the recording; source):"


def mask_lines(masks: Any) -> tuple[str, ...]:
    """One line per mask of a MaskSet: whole-channel masks first, then segments in time order.

    ``"Fz, GSR: 00:10.0-00:20.0 (user)"``: times h:mm:ss (mm:ss under an hour) from the start with tenths, as the
    time axes and the mask table read them (the report said "2873.5-2890.0 s" where the screen said 47:53); a
    segment without channels applies to all of them.
    """
    if masks is None:
        return ()
    lines = [f"{name}: whole recording (user)" for name in sorted(masks.channels)]
    for seg in sorted(masks.segments, key=lambda m: (m.start_s, m.end_s)):
        chans = ", ".join(seg.channels) if seg.channels else "all channels"
        lines.append(f"{chans}: {format_hms(seg.start_s, decimals=1)}-{format_hms(seg.end_s, decimals=1)} "
                     f"({seg.source})")
    return tuple(lines)


def high_shares(result: Any) -> dict[str, float | None]:
    """Per target, the share of windows with visible data (``~result.no_context``) whose P(high) is >= 0.5."""
    seen = ~np.asarray(result.no_context, bool)
    probs = np.asarray(result.probabilities, float)
    return {name: (float(np.mean(probs[seen, k] >= 0.5)) if seen.any() else None)
            for k, name in enumerate(result.targets)}


def headline(info: "ReportInfo") -> str:
    """The report's line on the predictions: mean P(high) and the share of windows predicted high, per target."""
    parts = []
    for k, v in info.means.items():
        share = info.high_share.get(k)
        if v is None:
            parts.append(f"{k}: n/a")
        elif share is None:
            parts.append(f"{k}: mean P(high) {v:.2f}")
        else:
            parts.append(f"{k}: mean P(high) {v:.2f}, high in {100 * share:.0f} % of windows")
    return "Predictions - " + "; ".join(parts)


def uncertainty_note(result: Any) -> str:
    """The footer's note on how ``result`` (an AnalysisResult) measured uncertainty."""
    if getattr(result, "probability_std", None) is None:
        note = ENTROPY_NOTE
    else:
        note = f"mean ± std of {result.mc_samples} MC-dropout samples (band), entropy of the mean (bits)"
    if getattr(result, "missing_evidence", None) is not None:  # the footer said plain entropy of the prediction
        note += MISSING_EVIDENCE_NOTE
    return note


@dataclass(frozen=True)
class ReportInfo:
    """The text of the report."""

    title: str  # recording title
    synthetic_recording: bool  # the recording is synthetic
    model_description: str  # which model produced the analysis
    model_label: str  # warning about the model ("model trained on SYNTHETIC data", ...), "" if none
    stale: bool  # the masks changed after the analysis
    n_windows: int  # analysed windows
    window_s: float  # window length, s
    means: Mapping[str, float | None]  # target -> mean probability of the high class
    masking: str  # one-line masking summary
    hidden_fraction: float  # share of (window, token) pairs the model did not see
    uncertainty: str = ENTROPY_NOTE  # how the uncertainty was computed (footer line)
    masks: tuple[str, ...] = ()  # one line per mask (see :func:`mask_lines`)
    display: str = ""  # montage and display filters of the signal browser at export ("" = as recorded, none)
    # target -> share of the windows with visible data whose P(high) >= 0.5 (None: no such window). A recording of
    # two states averaged 0.48 and was called "(low)" although half its windows were high.
    high_share: Mapping[str, float | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the analysis left out and why (a damaged DEAP trial), as on the banner

    @classmethod
    def from_analysis(cls, result: Any, masks: Any = None, *, model_label: str = "", stale: bool = False,
                      display: str = "", notes: Sequence[str] = ()) -> "ReportInfo":
        """Build the text from an AnalysisResult and the MaskSet it was run with."""
        summary = result.summary()
        if masks is not None:
            by_source: dict[str, int] = {}
            for seg in masks.segments:
                by_source[seg.source] = by_source.get(seg.source, 0) + 1
            segs = ", ".join(f"{n} {src}" for src, n in sorted(by_source.items())) or "none"
            masking = (f"{len(masks.channels)} whole channel(s) masked; segments: {segs}; "
                       f"{100 * summary['user_masked_fraction']:.1f} % of tokens masked by the user")
        else:
            masking = "no masks"
        return cls(title=result.title, synthetic_recording=bool(result.is_synthetic),
                   model_description=result.model_description, model_label=model_label, stale=stale,
                   n_windows=result.n_windows, window_s=result.window_s,
                   means=dict(summary["mean_probability_high"]), masking=masking,
                   hidden_fraction=float(summary["hidden_fraction"]), uncertainty=uncertainty_note(result),
                   masks=mask_lines(masks), display=display, high_share=high_shares(result), notes=tuple(notes))


def _font(px: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setPixelSize(px)
    font.setBold(bold)
    return font


def paint_report(painter: QPainter, info: ReportInfo, images: Mapping[str, QImage]) -> None:
    """Paint the report on a PAGE_W x PAGE_H logical page (the caller scales the painter to the device)."""
    painter.fillRect(QRectF(0, 0, PAGE_W, PAGE_H), QColor("white"))
    width = PAGE_W - 2 * MARGIN
    y = float(MARGIN)

    def text(line: str, px: int, *, bold: bool = False, colour: QColor | str = "#202020", gap: float = 8) -> None:
        nonlocal y
        painter.setFont(_font(px, bold))
        painter.setPen(QColor(colour))
        rect = painter.boundingRect(QRectF(MARGIN, y, width, PAGE_H), int(Qt.TextFlag.TextWordWrap), line)
        painter.drawText(QRectF(MARGIN, y, width, rect.height()), int(Qt.TextFlag.TextWordWrap), line)
        y += rect.height() + gap

    text("MMQ-Net Studio - analysis report", 40, bold=True, gap=14)
    text(f"Recording: {info.title}", 26, bold=True)
    if info.synthetic_recording:
        text("SYNTHETIC recording: generated data, not recorded from a person.", 22, bold=True,
             colour=WARNING_COLOUR)
    text(f"Model: {info.model_description}", 20)
    if info.model_label:
        text(info.model_label, 22, bold=True, colour=WARNING_COLOUR)
    if info.stale:
        text(STALE_REPORT_TEXT, 20, bold=True, colour="#7a4f00")
    text(f"Analysed {info.n_windows} windows of {info.window_s:g} s "
         f"({info.n_windows * info.window_s / 60:.1f} min).", 20)
    text(f"Masking: {info.masking}. The model did not see {100 * info.hidden_fraction:.1f} % of (window, token) "
         "pairs (masked or no data).", 20)
    if info.masks:
        text(MASK_LIST_HEADING, 17, gap=2)
        shown = info.masks[:MAX_MASK_LINES]
        for line in shown:
            text(f"  \u2022 {line}", 17, gap=2)
        if len(info.masks) > len(shown):
            text(f"  ... and {len(info.masks) - len(shown)} more (File > Export masks lists them all)", 17,
                 colour="#616161", gap=2)
        y += 10
    for note in info.notes[:MAX_NOTE_LINES]:
        text(f"Note: {note}", 17, colour="#7a4f00", gap=4)
    if len(info.notes) > MAX_NOTE_LINES:
        text(f"... and {len(info.notes) - MAX_NOTE_LINES} more notes (in the analysis views' banner tooltip)", 17,
             colour="#616161", gap=4)
    if info.display:
        text(f"Signal display at export: {info.display} (display only: the model read the cleaned signals).", 17,
             colour="#424242")
    text(headline(info), 22, bold=True, gap=18)

    # Thumbnails: the trajectory across the page, circumplex and attention side by side below it.
    boxes = {"trajectory": QRectF(MARGIN, y, width, 480)}
    y2 = y + 480 + 50
    half = (width - 30) / 2
    boxes["circumplex"] = QRectF(MARGIN, y2, half, PAGE_H - MARGIN - 60 - y2)
    boxes["attention"] = QRectF(MARGIN + half + 30, y2, half, PAGE_H - MARGIN - 60 - y2)
    for key, caption in THUMBNAILS:
        box = boxes[key]
        painter.setFont(_font(18, True))
        painter.setPen(QColor("#303030"))
        painter.drawText(QRectF(box.left(), box.top(), box.width(), 26), int(Qt.AlignmentFlag.AlignLeft), caption)
        area = box.adjusted(0, 30, 0, 0)
        image = images.get(key)
        if image is None or image.isNull():
            painter.setPen(QColor("#9e9e9e"))
            painter.drawRect(area)
            painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter), "(not available)")
            continue
        scaled = image.size().scaled(area.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF(area.left(), area.top(), scaled.width(), scaled.height())
        painter.drawImage(target, image)
        painter.setPen(QColor("#bdbdbd"))
        painter.drawRect(target)
    painter.setFont(_font(15))
    painter.setPen(QColor("#616161"))
    painter.drawText(QRectF(MARGIN, PAGE_H - MARGIN - 10, width, 44),  # two lines when the note is long
                     int(Qt.AlignmentFlag.AlignLeft) | int(Qt.TextFlag.TextWordWrap),
                     f"Generated {_dt.datetime.now():%Y-%m-%d %H:%M} by MMQ-Net Studio. Uncertainty: "
                     f"{info.uncertainty}. Not a medical device.")


def render_report(info: ReportInfo, images: Mapping[str, QImage]) -> QImage:
    """The report page as a PAGE_W x PAGE_H image."""
    image = QImage(PAGE_W, PAGE_H, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    try:
        paint_report(painter, info, images)
    finally:
        painter.end()
    return image


def save_report_png(path: str | os.PathLike, info: ReportInfo, images: Mapping[str, QImage]) -> Path:
    """Write the report as a PNG (atomically)."""
    image = render_report(info, images)

    def write(tmp: str) -> None:
        if not image.save(tmp, "PNG"):
            raise OSError(f"cannot write {path}")

    return atomic_write(path, write)


def save_report_pdf(path: str | os.PathLike, info: ReportInfo, images: Mapping[str, QImage]) -> Path:
    """Write the report as a one-page A4 PDF (atomically)."""

    def write(tmp: str) -> None:
        writer = QPdfWriter(tmp)
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setPageMargins(QMarginsF(0, 0, 0, 0))
        writer.setResolution(150)
        writer.setTitle(f"MMQ-Net analysis of {info.title}")
        painter = QPainter(writer)
        try:
            scale = min(writer.width() / PAGE_W, writer.height() / PAGE_H)
            painter.scale(scale, scale)
            paint_report(painter, info, images)
        finally:
            painter.end()

    return atomic_write(path, write)


__all__ = ["MAX_MASK_LINES", "PAGE_H", "PAGE_W", "STALE_REPORT_TEXT", "ReportInfo", "mask_lines", "paint_report", "render_report", "save_report_pdf",
           "save_report_png"]
