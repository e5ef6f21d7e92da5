"""Run (and remove) icons drawn in the palette's own text colour, so they stay legible on a dark palette (the
style's stock media icons are dark grey whatever the theme)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPalette, QPen, QPixmap, QPolygonF

SIZE = 16  # logical pixels
RATIOS = (1, 2, 3)  # drawn for normal and high-DPI screens


def _pixmap(shape: str, colour, ratio: int) -> QPixmap:
    pixmap = QPixmap(SIZE * ratio, SIZE * ratio)
    pixmap.fill(Qt.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.Antialiasing)
    painter.scale(ratio, ratio)
    painter.setPen(Qt.NoPen)
    painter.setBrush(colour)
    if shape == "play":
        painter.drawPolygon(QPolygonF([QPointF(4, 2.5), QPointF(13.5, 8), QPointF(4, 13.5)]))
    elif shape == "draft":  # fast forward: the quick run
        painter.drawPolygon(QPolygonF([QPointF(1.5, 3.5), QPointF(8, 8), QPointF(1.5, 12.5)]))
        painter.drawPolygon(QPolygonF([QPointF(8, 3.5), QPointF(14.5, 8), QPointF(8, 12.5)]))
    elif shape == "remove":  # a cross
        painter.setPen(QPen(colour, 2.0, Qt.SolidLine, Qt.RoundCap))
        painter.drawLine(QPointF(4, 4), QPointF(12, 12))
        painter.drawLine(QPointF(12, 4), QPointF(4, 12))
    else:
        painter.drawRoundedRect(QRectF(3.5, 3.5, 9, 9), 1.5, 1.5)
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


def glyph_icon(shape: str, palette: QPalette) -> QIcon:
    """``shape`` "play", "draft", "stop" or "remove", in the palette's button text colour (greyed when disabled)."""
    icon = QIcon()
    for ratio in RATIOS:
        icon.addPixmap(_pixmap(shape, palette.color(QPalette.Active, QPalette.ButtonText), ratio), QIcon.Normal)
        icon.addPixmap(_pixmap(shape, palette.color(QPalette.Disabled, QPalette.ButtonText), ratio), QIcon.Disabled)
    return icon
