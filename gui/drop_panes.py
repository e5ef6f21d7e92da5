"""The content pane (one image) and the style pane (one or more, each with a blend weight).

Both take drops of files from a file manager (URLs) or of raw image data from another
application (saved to a temporary PNG). They only read headers and small thumbnails here;
the pixels the engine uses are loaded inside the worker's job.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QDoubleSpinBox, QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget,
)

from engine import images
from engine.errors import ImageError
from engine.files import custom_config_dir
from engine.jobs import Style
from gui.icons import glyph_icon

CONTENT_THUMB = 200
STYLE_THUMB = 56


# --- drops ------------------------------------------------------------------------------
def spill_folder() -> Path:
    """Where raw image data dropped from other applications is kept as PNG files."""
    folder = (custom_config_dir() or Path(tempfile.gettempdir())) / "dropped-images"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def can_accept(mime: QMimeData) -> bool:
    return any(url.isLocalFile() for url in mime.urls()) or mime.hasImage()


def dropped_paths(mime: QMimeData) -> list[str]:
    """Local files named by the drop, or the dropped image data saved to a temporary PNG."""
    paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
    if paths or not mime.hasImage():
        return paths
    image = mime.imageData()
    if not isinstance(image, QImage) or image.isNull():
        raise ImageError("The dropped data is not an image Impasto can read")
    handle, name = tempfile.mkstemp(prefix="dropped-", suffix=".png", dir=spill_folder())
    os.close(handle)
    if not image.save(name, "PNG"):
        os.unlink(name)
        raise ImageError("Could not store the dropped image in a temporary file")
    return [name]


def _file_key(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def describe(path: str) -> tuple[str, tuple[int, int]]:
    """(file name, displayed size); raises ImageError for anything that is not a readable image."""
    size = images.image_size(path)
    return Path(path).name, size


def thumbnail(path: str, box: int, ratio: float) -> QPixmap | None:
    """A sharp thumbnail whose long side is ``box`` logical pixels, EXIF orientation applied."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    raw = reader.size()
    if raw.isValid() and max(raw.width(), raw.height()) > box * ratio:
        scale = box * ratio / max(raw.width(), raw.height())
        reader.setScaledSize(QSize(max(1, round(raw.width() * scale)), max(1, round(raw.height() * scale))))
    image = reader.read()
    if image.isNull():
        return None
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(max(ratio, pixmap.width() / box, pixmap.height() / box, 1.0))
    return pixmap


class DropFrame(QFrame):
    """A frame that takes image drops and shows a dashed outline (highlighted while dragging)."""

    dropped = Signal(list)  # paths
    drop_failed = Signal(str)
    activated = Signal()  # double-click: open a file dialog

    def __init__(self, hint: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.hint = hint
        self.show_hint = True
        self._hover = False
        self.setMinimumHeight(80)

    def dragEnterEvent(self, event):
        if can_accept(event.mimeData()):
            event.acceptProposedAction()
            self._hover = True
            self.update()

    def dragLeaveEvent(self, event):
        self._hover = False
        self.update()

    def dropEvent(self, event):
        self._hover = False
        self.update()
        if not can_accept(event.mimeData()):
            return
        event.acceptProposedAction()
        try:
            paths = dropped_paths(event.mimeData())
        except ImageError as exc:
            self.drop_failed.emit(str(exc))
            return
        if paths:
            self.dropped.emit(paths)

    def mouseDoubleClickEvent(self, event):
        self.activated.emit()

    def paintEvent(self, event):
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        palette = self.palette()
        role = QPalette.Highlight if self._hover else QPalette.Mid
        pen = QPen(palette.color(role), 2 if self._hover else 1.2, Qt.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(2, 2, -2, -2), 8, 8)
        if self.show_hint:
            painter.setPen(palette.color(QPalette.PlaceholderText))
            painter.drawText(self.rect().adjusted(8, 8, -8, -8), Qt.AlignCenter | Qt.TextWordWrap, self.hint)
        painter.end()


def _header(title: str, button: QToolButton) -> QHBoxLayout:
    label = QLabel(title)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    row = QHBoxLayout()
    row.addWidget(label)
    row.addStretch(1)
    row.addWidget(button)
    return row


def _size_text(name: str, size: tuple[int, int]) -> str:
    return f"{name} — {size[0]} × {size[1]} px"


# --- content ----------------------------------------------------------------------------
class ContentPane(QWidget):
    """One content photo: drop it or open it; shows a thumbnail, its name and its size."""

    files_dropped = Signal(list)
    drop_failed = Signal(str)
    open_requested = Signal()
    changed = Signal(str)  # the new path ("" when cleared)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._path = ""
        self.open_button = QToolButton(text="Open…")
        self.open_button.setToolTip("Open a content photo (Ctrl+O)")
        self.open_button.clicked.connect(self.open_requested)
        self.frame = DropFrame("Drop a photo here\nor double-click to open one")
        self.frame.setMinimumHeight(CONTENT_THUMB + 16)
        self.frame.dropped.connect(self.files_dropped)
        self.frame.drop_failed.connect(self.drop_failed)
        self.frame.activated.connect(self.open_requested)
        self.picture = QLabel(alignment=Qt.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        inner = QVBoxLayout(self.frame)
        inner.setContentsMargins(8, 8, 8, 8)
        inner.addWidget(self.picture)
        self.info = QLabel("No content image", alignment=Qt.AlignCenter)
        self.info.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(_header("Content", self.open_button))
        layout.addWidget(self.frame, 1)
        layout.addWidget(self.info)

    @property
    def path(self) -> str:
        return self._path

    def set_image(self, path: str) -> None:
        """Show ``path``; raises ImageError (keeping the previous image) when it is unreadable."""
        name, size = describe(path)
        pixmap = thumbnail(path, CONTENT_THUMB, self.devicePixelRatioF())
        self._path = str(path)
        self.picture.setPixmap(pixmap or QPixmap())
        self.picture.setText("" if pixmap else "(no preview)")
        self.frame.show_hint = False
        self.frame.update()
        self.info.setText(_size_text(name, size))
        self.info.setToolTip(self._path)
        self.changed.emit(self._path)

    def clear(self) -> None:
        self._path = ""
        self.picture.clear()
        self.frame.show_hint = True
        self.frame.update()
        self.info.setText("No content image")
        self.info.setToolTip("")
        self.changed.emit("")


# --- styles -----------------------------------------------------------------------------
class StyleRow(QFrame):
    """One style image: thumbnail, name and size, blend weight, remove button."""

    removed = Signal(object)
    blend_changed = Signal()

    def __init__(self, path: str, name: str, size: tuple[int, int], ratio: float, blend: float = 1.0):
        super().__init__()
        self.path = path
        picture = QLabel(alignment=Qt.AlignCenter)
        picture.setFixedSize(STYLE_THUMB, STYLE_THUMB)
        pixmap = thumbnail(path, STYLE_THUMB, ratio)
        if pixmap:
            picture.setPixmap(pixmap)
        else:
            picture.setText("?")
        title = QLabel(name)
        title.setToolTip(path)
        title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        dims = QLabel(f"{size[0]} × {size[1]} px")
        dims.setEnabled(False)
        self.blend = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=100.0, singleStep=0.1, value=blend)
        self.blend.setPrefix("blend ")
        self.blend.setToolTip("How much of this style goes into the mix (relative to the others)")
        self.blend.valueChanged.connect(self.blend_changed)
        self.blend.setMinimumWidth(self.blend.sizeHint().width())  # "blend 1.00" and its arrows, never cut
        remove = QToolButton()
        remove.setIcon(glyph_icon("remove", self.palette()))  # the stock title-bar cross is dark on dark
        remove.setToolTip(f"Remove {name}")
        remove.setAutoRaise(True)
        remove.clicked.connect(lambda: self.removed.emit(self))
        self.remove_button = remove
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(title)
        text.addWidget(dims)
        text.addWidget(self.blend)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 4, 4, 4)
        row.addWidget(picture)
        row.addLayout(text, 1)
        row.addWidget(remove, 0, Qt.AlignTop)

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange and hasattr(self, "remove_button"):
            self.remove_button.setIcon(glyph_icon("remove", self.palette()))


class StylePane(QWidget):
    """One or more style images, each with a blend weight and a remove button."""

    files_dropped = Signal(list)
    drop_failed = Signal(str)
    add_requested = Signal()
    changed = Signal()  # an image was added or removed
    blend_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[StyleRow] = []
        self.add_button = QToolButton(text="Add…")
        self.add_button.setToolTip("Add style images (Ctrl+Shift+O)")
        self.add_button.clicked.connect(self.add_requested)
        self.frame = DropFrame("Drop one or more paintings here\nor double-click to add")
        self.frame.dropped.connect(self.files_dropped)
        self.frame.drop_failed.connect(self.drop_failed)
        self.frame.activated.connect(self.add_requested)
        self.list_layout = QVBoxLayout(self.frame)
        self.list_layout.setContentsMargins(6, 6, 6, 6)
        self.list_layout.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(_header("Style", self.add_button))
        layout.addWidget(self.frame, 1)

    def styles(self) -> list[Style]:
        return [Style(row.path, row.blend.value()) for row in self.rows]

    def paths(self) -> list[str]:
        return [row.path for row in self.rows]

    def has(self, path: str) -> bool:
        """Whether ``path`` (however it is spelt: symlinks, "..", case where the OS folds it)
        is already one of the styles."""
        key = _file_key(path)
        return any(_file_key(row.path) == key for row in self.rows)

    def blends(self) -> list[float]:
        return [row.blend.value() for row in self.rows]

    def add_image(self, path: str, blend: float = 1.0) -> None:
        """Add ``path``; raises ImageError when it is not a readable image."""
        name, size = describe(path)
        row = StyleRow(str(path), name, size, self.devicePixelRatioF(), blend)
        row.removed.connect(self.remove_row)
        row.blend_changed.connect(self.blend_changed)
        previous = self.rows[-1].remove_button if self.rows else self.add_button
        self.rows.append(row)
        self.list_layout.insertWidget(len(self.rows) - 1, row)
        # Tab reaches a new row's fields where they are seen, not after every field of the window
        QWidget.setTabOrder(previous, row.blend)
        QWidget.setTabOrder(row.blend, row.remove_button)
        self._update_hint()
        self.changed.emit()

    def remove_row(self, row: StyleRow) -> None:
        self.rows.remove(row)
        self.list_layout.removeWidget(row)
        row.deleteLater()
        self._update_hint()
        self.changed.emit()

    def clear(self) -> None:
        for row in list(self.rows):
            self.remove_row(row)

    def _update_hint(self) -> None:
        self.frame.show_hint = not self.rows
        self.frame.update()
