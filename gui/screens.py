"""Fitting the window to the screen it is on: a geometry restored from a larger screen (or a
higher scale factor) must not put Start or the side panels off-screen. And combos to their
item names, so that no name is cut at the smallest window."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QWidget


def fitted(frame: QRect, available: QRect) -> QRect:
    """``frame`` made no larger than ``available`` and moved inside it."""
    width = min(frame.width(), available.width())
    height = min(frame.height(), available.height())
    left = min(max(frame.left(), available.left()), available.right() - width + 1)
    top = min(max(frame.top(), available.top()), available.bottom() - height + 1)
    return QRect(left, top, width, height)


def fit_to_screen(window: QWidget, available: QRect | None = None) -> None:
    """Shrink and move ``window`` (title bar and frame included) into ``available``, by default
    the free area of the screen it is on (QScreen.availableGeometry: without task bars)."""
    if available is None:
        screen = window.screen()
        if screen is None:
            return
        available = screen.availableGeometry()
    if window.isMaximized() or window.isFullScreen():
        return
    frame = window.frameGeometry()
    # what the window manager adds around the client area (0 before the window is shown)
    extra_width = frame.width() - window.width()
    extra_height = frame.height() - window.height()
    target = fitted(frame, available)
    window.resize(max(1, target.width() - extra_width), max(1, target.height() - extra_height))
    window.move(target.topLeft())


def fit_combo_to(combo: QComboBox, texts) -> None:
    """A minimum width at which ``combo`` shows each of ``texts`` whole. Combos that must not
    widen the window (AdjustToMinimumContentsLength) would otherwise cut their own item names
    ("Painting's world (m"); a user's longer name still elides, its tooltip gives it whole."""
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    metrics = combo.fontMetrics()
    widest = max((metrics.horizontalAdvance(text) for text in texts), default=0)
    size = combo.style().sizeFromContents(QStyle.CT_ComboBox, option, QSize(widest, metrics.height()), combo)
    combo.setMinimumWidth(size.width())
