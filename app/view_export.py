"""Images of the analysis views for File > Export analysis views and the report: the plots without UI controls.

A view lists what belongs in its image with ``export_parts()``: widgets (the banner that labels synthetic data
and the model, the plot area) and caption strings that say what the left-out controls had chosen ("Channel GSR,
feature level"). Those are stacked top to bottom on white. A view without ``export_parts`` is grabbed whole.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QWidget

#: Caption text size (px, before the device pixel ratio) and padding around it.
CAPTION_PX = 13
CAPTION_PAD = 4


def _caption_image(text: str, width: int, dpr: float) -> QImage:
    font = QFont()
    font.setPixelSize(max(1, round(CAPTION_PX * dpr)))
    metrics = QFontMetrics(font)
    pad = round(CAPTION_PAD * dpr)
    flags = int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft)
    rect = metrics.boundingRect(QRect(0, 0, max(1, width - 2 * pad), 10_000), flags, text)
    image = QImage(width, rect.height() + 2 * pad, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setFont(font)
        painter.setPen(QColor("#303030"))
        painter.drawText(QRect(pad, pad, width - 2 * pad, rect.height()), flags, text)
    finally:
        painter.end()
    return image


def view_image(view: QWidget) -> QImage:
    """``view`` as an image: its ``export_parts()`` stacked (hidden widgets and empty captions left out)."""
    parts = view.export_parts() if hasattr(view, "export_parts") else [view]
    widgets = [p for p in parts if isinstance(p, QWidget)]
    grabs: dict[int, QImage] = {id(w): w.grab().toImage() for w in widgets
                                if w is view or w.isVisibleTo(view)}
    if not grabs:
        return view.grab().toImage()
    dpr = next(iter(grabs.values())).devicePixelRatio() or 1.0
    width = max(image.width() for image in grabs.values())
    images: list[QImage] = []
    for part in parts:
        if isinstance(part, str):
            if part.strip():
                images.append(_caption_image(part, width, dpr))
        elif id(part) in grabs:
            images.append(grabs[id(part)])
    out = QImage(width, sum(image.height() for image in images), QImage.Format.Format_RGB32)
    out.fill(QColor("white"))
    painter = QPainter(out)
    try:
        y = 0
        for image in images:
            image.setDevicePixelRatio(1.0)  # compose in device pixels
            painter.drawImage(0, y, image)
            y += image.height()
    finally:
        painter.end()
    out.setDevicePixelRatio(dpr)
    return out
