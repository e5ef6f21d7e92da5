"""What the Batch tab shows besides its queue: a one-line summary of the settings it takes from
the Stylize tab, and images (thumbnails, the input/output comparison) read off the GUI thread."""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, QSize, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader

from engine.settings import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, TransferSettings
from gui import painter_controls as painter

COLOURS = {"none": "style colours", "luminance": "content colours (luminance)", "match": "content colours (matched)"}
OPTIMISERS = {"lbfgs": "L-BFGS", "adam": "Adam"}


def settings_summary(settings: TransferSettings) -> str:
    """The settings a batch inherits, in a painter's words, on one line."""
    ratio = settings.style_weight / settings.content_weight if settings.content_weight else math.inf
    parts = [
        f"{settings.size} px",
        f"{settings.iterations} iterations",
        f"style strength {painter.strength_text(ratio)}",  # in the Look panel's words and figures
        f"stroke size {painter.stroke_text(settings.style_scale)}",
        f"smoothness {painter.smoothness_text(settings.tv_weight)}",
        COLOURS.get(settings.preserve_colors, settings.preserve_colors),
        OPTIMISERS.get(settings.optimizer, settings.optimizer),
        "random seed" if settings.seed is None else f"seed {settings.seed}",
    ]
    if settings.style_layers != DEFAULT_STYLE_LAYERS or settings.content_layers != DEFAULT_CONTENT_LAYERS:
        parts.append("own layer weights")
    if settings.init != "content":
        parts.append(f"starts from {settings.init}")
    return " · ".join(parts)


def read_scaled(path: str, box: int) -> QImage:
    """``path`` with its long side at most ``box`` pixels, EXIF orientation applied (null if
    unreadable). JPEG decodes straight at the smaller size."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > box:
        scale = box / max(size.width(), size.height())
        reader.setScaledSize(QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale))))
    return reader.read()


class ImageLoader(QObject):
    """Reads images on Qt's thread pool; ``loaded(key, image)`` arrives on the GUI thread."""

    loaded = Signal(object, QImage)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # the CPU belongs to the batch

    def request(self, key, path: str, box: int) -> None:
        def work():
            image = read_scaled(path, box)
            try:
                self.loaded.emit(key, image)
            except RuntimeError:  # the panel was closed meanwhile
                pass

        self.pool.start(work)

    def wait(self) -> None:
        self.pool.waitForDone()
