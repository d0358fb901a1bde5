"""File > Export page: the signal browser's page as a PNG or a one-page PDF, saying what the display changed.

An exported page shows traces that a montage and display filters may have changed; a reader of the image must
know that, as on screen (the status bar). The image is the browser's ``export_parts()`` stacked by
:func:`app.view_export.view_image`: caption lines -- the recording and the page, which traces (raw, cleaned model
input), the montage, the display filters with the note that they change the display only, not the cleaned
signal the model reads, the sensitivity and timebase -- then the plot (and the heart-rate row when shown), without
the toolbar. Files are written atomically (:func:`mmqnet_core.fileio.atomic_write`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPainter, QPdfWriter

from mmqnet_core.fileio import atomic_write

from .view_export import view_image

if TYPE_CHECKING:  # pragma: no cover
    from .signal_browser import SignalBrowser

#: What each mode draws, in the caption.
MODE_TEXT = {"raw": "raw signals", "cleaned": "cleaned signals (the model's input)",
             "both": "raw (blue) and cleaned model input (orange) overlaid"}
#: Resolution of the PDF page, dots per inch.
PDF_DPI = 150


def page_caption(browser: SignalBrowser) -> list[str]:
    """Caption lines of an exported page (empty when no recording is open)."""
    rec = browser.recording
    if rec is None:
        return []
    state = browser.state
    start, stop = browser.visible_range()
    lines = [f"{rec.title} - page {state.format_time(start, 1)} to {state.format_time(stop, 1)} "
             f"({stop - start:g} s): {MODE_TEXT.get(state.mode, state.mode)}"]
    montage = state.montage
    if montage.kind == "recorded":
        montage_text = "as recorded"
    elif rec is not None and montage.available(browser._channel_list()):
        montage_text = montage.name
        left_out = montage.not_derivable(browser._channel_list())
        if left_out:  # a Laplacian's electrodes with fewer than two neighbours recorded
            montage_text += f" (not derivable, not drawn: {', '.join(left_out)})"
    else:
        montage_text = f"{montage.name} not possible with these channels: as recorded"
    filters = state.filters_text(browser._row_mods)  # of the modalities drawn
    if filters:
        filter_text = f"display filters {filters}"
    elif state.filters and not state.filters_on:
        filter_text = "display filters off"
    else:
        filter_text = "no display filter"
    lines.append(f"Montage: {montage_text}; {filter_text}. Montage and display filters change the display only: "
                 "the cleaned signal used by the model is neither re-referenced nor filtered by them.")
    calibration = browser.calibration_text()
    polarity = "negative up" if state.negative_up else "positive up"  # which way a spike on paper points
    if calibration:
        lines.append(f"Sensitivity and timebase on screen: {calibration}; {polarity}.")
    else:
        lines.append(f"Polarity: {polarity}.")
    return lines


def page_image(browser: SignalBrowser) -> QImage:
    """The page as an image: the caption lines over the plot (and the heart-rate row when shown), without the
    mouse read-out or the handles of a focused mask."""
    with browser.without_overlays():
        return view_image(browser)


def save_page_png(path: str | os.PathLike, image: QImage) -> Path:
    """Write ``image`` as a PNG (atomically)."""

    def write(tmp: str) -> None:
        if not image.save(tmp, "PNG"):
            raise OSError(f"cannot write {path}")

    return atomic_write(path, write)


def save_page_pdf(path: str | os.PathLike, image: QImage, title: str) -> Path:
    """Write ``image`` on one landscape A4 PDF page, scaled to fit (atomically)."""

    def write(tmp: str) -> None:
        writer = QPdfWriter(tmp)
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setPageOrientation(QPageLayout.Orientation.Landscape)
        writer.setPageMargins(QMarginsF(10, 10, 10, 10))
        writer.setResolution(PDF_DPI)
        writer.setTitle(title)
        painter = QPainter(writer)
        try:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            size = image.size().scaled(writer.width(), writer.height(), Qt.AspectRatioMode.KeepAspectRatio)
            painter.drawImage(QRectF(0, 0, size.width(), size.height()), image)
        finally:
            painter.end()

    return atomic_write(path, write)


def save_page(browser: SignalBrowser, path: str | os.PathLike) -> Path:
    """The browser's page as PNG, or PDF when ``path`` ends in .pdf."""
    path = Path(path)
    image = page_image(browser)
    if path.suffix.lower() == ".pdf":
        title = browser.recording.title if browser.recording is not None else "signal page"
        return save_page_pdf(path, image, f"MMQ-Net Studio page of {title}")
    return save_page_png(path, image)
