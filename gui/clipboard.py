"""Copy and paste of images: the engine works with files, so pasted image data is kept as a PNG
(in the same folder as image data dropped from another application)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication, QImage

from engine.errors import ImageError
from gui.drop_panes import dropped_paths


def copy_image(image: QImage | None) -> bool:
    if image is None or image.isNull():
        return False
    QGuiApplication.clipboard().setImage(image)
    return True


def pasted_paths() -> list[str]:
    """Image files copied in a file manager, or copied image data saved to a PNG; raises
    ImageError when the clipboard holds neither."""
    mime = QGuiApplication.clipboard().mimeData()
    paths = dropped_paths(mime) if mime is not None else []
    if not paths:
        raise ImageError("The clipboard holds no image: copy an image or an image file first")
    return paths
