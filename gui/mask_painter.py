"""The mask painter: paint where each style applies (issue 14; engine.masks does the rest).

A tool window beside the main one, so the preview stays in sight while painting: the content
photo with every style's mask as a coloured overlay, a brush, an eraser and a fill, undo/redo
(QUndoStack), clear, import and export of a mask as PNG. Masks are greyscale QImages of at most
engine.masks.STORED_SIDE pixels on the long side, painted with QPainter on the GUI thread (a
stroke touches a few thousand pixels); each finished edit is written into the Session as PNG data
URIs (``TransferSettings.style_masks``), so the recipe keeps them and a running optimisation is
steered at its next iteration, as weight edits are. A style with nothing painted applies
everywhere ("" in style_masks).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QImage, QImageReader, QKeySequence, QPainter, QPen, QPixmap, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QButtonGroup, QComboBox, QFileDialog, QHBoxLayout, QLabel, QMessageBox, QSizePolicy, QSlider, QSpinBox,
    QToolButton, QVBoxLayout, QWidget,
)

from engine import files, images, masks
from engine.errors import ImpastoError
from gui.session import Session
from gui.worker import pil_to_qimage

COLOURS = ("#e8413c", "#2f7df6", "#2fb45a", "#f0a818", "#a550e0", "#18b8c8")  # one per style, in order
TOOLS = ("brush", "eraser", "fill")
DISPLAY_SIDE = 1024  # the photo under the masks is shown sharper than the masks are kept
FILL_THRESHOLD = 64  # a fill spreads over mask values within this of the clicked one
PNG_FILTER = "PNG image (*.png)"
OPEN_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp);;All files (*)"


def colour_of(index: int) -> QColor:
    return QColor(COLOURS[index % len(COLOURS)])


# ------------------------------------------------------------------------ QImage <-> PIL


def to_pil(mask: QImage) -> Image.Image:
    """A greyscale QImage as a PIL "L" image (rows are padded to 4 bytes in a QImage)."""
    rows = np.frombuffer(mask.constBits(), np.uint8, mask.sizeInBytes()).reshape(mask.height(), mask.bytesPerLine())
    # a copy: an image made on a borrowed read-only buffer silently ignores ImageDraw.floodfill
    return Image.fromarray(rows[:, : mask.width()]).copy()


def to_qimage(mask: Image.Image) -> QImage:
    grey = mask.convert("L")
    return QImage(grey.tobytes(), grey.width, grey.height, grey.width, QImage.Format_Grayscale8).copy()


def is_blank(mask: QImage | None) -> bool:
    return mask is None or masks.is_empty(to_pil(mask))


def overlay(mask: QImage, colour: QColor, opacity: float) -> QImage:
    """``colour`` wherever ``mask`` is painted, as see-through as the mask is grey."""
    values = np.asarray(to_pil(mask), dtype=np.float32)
    rgba = np.empty(values.shape + (4,), np.uint8)
    rgba[..., :3] = (colour.red(), colour.green(), colour.blue())
    rgba[..., 3] = (values * opacity).astype(np.uint8)
    height, width = values.shape
    return QImage(rgba.tobytes(), width, height, 4 * width, QImage.Format_RGBA8888).copy()


# ------------------------------------------------------------------------ the masks and their history


class ReplaceMask(QUndoCommand):
    """One edit of one style's mask (a stroke, a fill, a clear, an import): before and after."""

    def __init__(self, document: "MaskDocument", index: int, before: QImage | None, after: QImage | None, text: str):
        super().__init__(text)
        self.document, self.index, self.before, self.after = document, index, before, after

    def redo(self):
        self.document.set_mask(self.index, self.after)

    def undo(self):
        self.document.set_mask(self.index, self.before)


class MaskDocument(QObject):
    """One mask per style for the current photo (None: nothing painted), with the undo history."""

    changed = Signal(int)  # the index of a mask whose pixels changed

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.size = QSize()
        self.masks: list[QImage | None] = []
        self.undo_stack = QUndoStack(self)

    def reset(self, size: QSize, loaded: list[QImage | None]) -> None:
        """New masks (a new photo, or styles added or removed): the old history no longer applies."""
        self.size = QSize(size)
        self.masks = list(loaded)
        self.undo_stack.clear()
        for index in range(len(self.masks)):
            self.changed.emit(index)

    def blank(self) -> QImage:
        image = QImage(self.size, QImage.Format_Grayscale8)
        image.fill(0)
        return image

    def set_mask(self, index: int, mask: QImage | None) -> None:
        self.masks[index] = mask
        self.changed.emit(index)

    def replace(self, index: int, after: QImage | None, text: str) -> None:
        self.undo_stack.push(ReplaceMask(self, index, self.masks[index], after, text))

    def fitted(self, mask: Image.Image) -> QImage:
        """An imported mask resized to this photo's masks (bilinear: soft edges stay soft)."""
        return to_qimage(mask.convert("L").resize((self.size.width(), self.size.height()), Image.Resampling.BILINEAR))


# ------------------------------------------------------------------------ the canvas


class MaskCanvas(QWidget):
    """The photo with every mask as an overlay; the mouse paints the current style's mask."""

    def __init__(self, document: MaskDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.photo = QImage()
        self.current = 0
        self.tool = "brush"
        self.brush_size = 24  # in mask pixels
        self.opacity = 0.5
        self.hint = ""
        self._overlays: dict[int, QImage] = {}
        self._stroke: tuple[QImage | None, QImage] | None = None  # (before, the mask being painted)
        self._last: QPointF | None = None
        self._cursor: QPointF | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        document.changed.connect(self._mask_changed)

    # --- geometry ------------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the photo is drawn: fitted into the widget, centred."""
        size = self.document.size
        if size.isEmpty():
            return QRectF()
        scale = min(self.width() / size.width(), self.height() / size.height())
        w, h = size.width() * scale, size.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def to_mask(self, pos: QPointF) -> QPointF:
        rect = self.image_rect()
        scale = self.document.size.width() / rect.width()
        return QPointF((pos.x() - rect.x()) * scale, (pos.y() - rect.y()) * scale)

    def _can_paint(self) -> bool:
        return not self.document.size.isEmpty() and 0 <= self.current < len(self.document.masks)

    # --- painting ------------------------------------------------------------------------
    def mousePressEvent(self, event):
        if event.button() != Qt.LeftButton or not self._can_paint():
            return
        point = self.to_mask(event.position())
        if self.tool == "fill":
            self._fill(point)
            return
        before = self.document.masks[self.current]
        working = QImage(before) if before is not None else self.document.blank()
        self._stroke = (before, working)
        self.document.masks[self.current] = working  # painted live; the undo step comes on release
        self._last = point
        self._paint_segment(point, point)

    def mouseMoveEvent(self, event):
        self._cursor = event.position()
        if self._stroke is not None:
            point = self.to_mask(event.position())
            self._paint_segment(self._last, point)
            self._last = point
        else:
            self.update()

    def mouseReleaseEvent(self, event):
        if event.button() != Qt.LeftButton or self._stroke is None:
            return
        before, working = self._stroke
        self._stroke = None
        self.document.masks[self.current] = before
        self.document.replace(self.current, working, "Brush stroke" if self.tool == "brush" else "Eraser stroke")

    def leaveEvent(self, event):
        self._cursor = None
        self.update()

    def _paint_segment(self, start: QPointF, end: QPointF) -> None:
        working = self._stroke[1]
        painter = QPainter(working)
        painter.setRenderHint(QPainter.Antialiasing)  # soft edges, which the engine keeps
        value = 255 if self.tool == "brush" else 0
        painter.setPen(QPen(QColor(value, value, value), self.brush_size, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
        if start == end:
            painter.drawPoint(end)
        else:
            painter.drawLine(start, end)
        painter.end()
        self.document.changed.emit(self.current)

    def _fill(self, point: QPointF) -> None:
        """Paint the connected area around ``point`` whose mask value is close to the clicked one."""
        x, y = int(point.x()), int(point.y())
        if not (0 <= x < self.document.size.width() and 0 <= y < self.document.size.height()):
            return
        before = self.document.masks[self.current]
        picture = to_pil(before) if before is not None else Image.new("L", (self.document.size.width(), self.document.size.height()), 0)
        ImageDraw.floodfill(picture, (x, y), 255, thresh=FILL_THRESHOLD)
        self.document.replace(self.current, to_qimage(picture), "Fill")

    # --- drawing -------------------------------------------------------------------------
    def _mask_changed(self, index: int) -> None:
        self._overlays.pop(index, None)
        self.update()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = opacity
        self._overlays.clear()
        self.update()

    def _overlay(self, index: int) -> QImage | None:
        mask = self.document.masks[index] if index < len(self.document.masks) else None
        if mask is None:
            return None
        if index not in self._overlays:
            self._overlays[index] = overlay(mask, colour_of(index), self.opacity)
        return self._overlays[index]

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        rect = self.image_rect()
        if rect.isEmpty() or self.photo.isNull():
            painter.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self.hint)
            return
        painter.setRenderHint(QPainter.SmoothPixmapTransform)
        painter.drawImage(rect, self.photo)
        # the current style's overlay on top, so what is being painted is always seen
        order = [i for i in range(len(self.document.masks)) if i != self.current] + [self.current]
        for index in order:
            image = self._overlay(index)
            if image is not None:
                painter.drawImage(rect, image)
        if self._cursor is not None and self.tool != "fill" and self._can_paint():
            radius = self.brush_size / 2 * rect.width() / self.document.size.width()
            painter.setRenderHint(QPainter.Antialiasing)
            for colour, width in ((QColor(0, 0, 0, 160), 3), (QColor(255, 255, 255), 1)):
                painter.setPen(QPen(colour, width))
                painter.drawEllipse(self._cursor, radius, radius)


# ------------------------------------------------------------------------ the window


class MaskPainter(QWidget):
    """The mask painter's window, bound to the Session: it shows the session's content and styles
    and writes each finished edit back as ``style_masks``."""

    message = Signal(str)  # for the main window's status line

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent, Qt.Window)
        self.session = session
        self.document = MaskDocument(self)
        self.canvas = MaskCanvas(self.document)
        self._specs: list[str] = []  # the style_masks this painter last read or wrote
        self._photo_path = ""
        self._loading = False  # masks being read from the session: nothing to write back
        self.setWindowTitle("Masks — Impasto")
        self._build()
        self.document.undo_stack.indexChanged.connect(lambda _: self._write_to_session())
        self.document.changed.connect(lambda _: self._show_state())
        session.content_changed.connect(lambda _: self.reload())
        session.styles_changed.connect(self._sync_styles)
        session.settings_changed.connect(self._on_settings_changed)
        self.resize(820, 680)
        self.reload()

    # --- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        self.style_box = QComboBox()
        self.style_box.setToolTip("The style whose mask you paint")
        self.style_box.currentIndexChanged.connect(self._select_style)
        self.tool_group = QButtonGroup(self)
        tools = QHBoxLayout()
        for tool, text, key, tip in (("brush", "Brush", "B", "Paint where this style applies (B)"),
                                     ("eraser", "Eraser", "E", "Take this style away (E)"),
                                     ("fill", "Fill", "F", "Fill the enclosed area you click (F)")):
            button = QToolButton(text=text, checkable=True, toolTip=tip)
            button.setShortcut(QKeySequence(key))
            button.setProperty("tool", tool)
            self.tool_group.addButton(button)
            tools.addWidget(button)
        self.tool_group.buttons()[0].setChecked(True)
        self.tool_group.buttonClicked.connect(lambda button: self.set_tool(button.property("tool")))
        self.size_box = QSpinBox(minimum=1, maximum=256, value=self.canvas.brush_size, suffix=" px")
        self.size_box.setToolTip("Brush size, in mask pixels ([ and ] change it)")
        self.size_box.valueChanged.connect(self._set_brush_size)
        self.opacity_slider = QSlider(Qt.Horizontal, minimum=0, maximum=100, value=round(self.canvas.opacity * 100))
        self.opacity_slider.setToolTip("Opacity of the coloured overlays")
        self.opacity_slider.valueChanged.connect(lambda value: self.canvas.set_opacity(value / 100))
        self.undo_action = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.Undo)
        self.redo_action = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence.Redo, QKeySequence("Ctrl+Shift+Z")])
        self.clear_action = QAction("&Clear", self, toolTip="Erase this style's mask: it applies everywhere again")
        self.clear_action.triggered.connect(self.clear_mask)
        self.import_action = QAction("&Import…", self, toolTip="Load this style's mask from an image")
        self.import_action.triggered.connect(self.import_dialog)
        self.export_action = QAction("&Export…", self, toolTip="Save this style's mask as a PNG")
        self.export_action.triggered.connect(self.export_dialog)
        for key, step in (("[", -4), ("]", 4)):
            action = QAction(self, shortcut=QKeySequence(key))
            action.triggered.connect(lambda checked=False, s=step: self.size_box.setValue(self.size_box.value() + s))
            self.addAction(action)
        actions = QHBoxLayout()
        for action in (self.undo_action, self.redo_action, self.clear_action, self.import_action, self.export_action):
            action.setShortcutContext(Qt.WidgetWithChildrenShortcut)  # not the main window's Ctrl+Z
            self.addAction(action)
            button = QToolButton()
            button.setDefaultAction(action)
            actions.addWidget(button)
        actions.addStretch(1)
        self.uncovered_box = QComboBox()
        self.uncovered_box.addItem("keep the photo", "photo")
        self.uncovered_box.addItem("take every style, blended", "blend")
        self.uncovered_box.setToolTip("What the areas no mask covers become")
        self.uncovered_box.currentIndexChanged.connect(
            lambda _: self.session.update(mask_uncovered=self.uncovered_box.currentData(), origin=self)
        )
        actions.addWidget(QLabel("Unpainted areas:"))
        actions.addWidget(self.uncovered_box)

        top = QHBoxLayout()
        top.addWidget(QLabel("Style:"))
        top.addWidget(self.style_box, 1)
        top.addLayout(tools)
        top.addWidget(QLabel("Size:"))
        top.addWidget(self.size_box)
        top.addWidget(QLabel("Overlay:"))
        top.addWidget(self.opacity_slider)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.state_label)

    # --- tools ---------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.canvas.tool = tool
        for button in self.tool_group.buttons():
            button.setChecked(button.property("tool") == tool)
        self.canvas.update()

    def _set_brush_size(self, size: int) -> None:
        self.canvas.brush_size = size
        self.canvas.update()

    def _select_style(self, index: int) -> None:
        self.canvas.current = max(0, index)
        self.canvas.update()
        self._show_state()

    def clear_mask(self) -> None:
        index = self.canvas.current
        if self.canvas._can_paint() and self.document.masks[index] is not None:
            self.document.replace(index, None, "Clear")

    def import_mask(self, path: str) -> bool:
        if not self.canvas._can_paint():
            return False
        try:
            mask = masks.decode(path, Path(path).name)
        except ImpastoError as exc:
            QMessageBox.warning(self, "Cannot import the mask", str(exc))
            return False
        self.document.replace(self.canvas.current, self.document.fitted(mask), "Import")
        return True

    def export_mask(self, path: str) -> bool:
        """Write the current style's mask as a greyscale PNG, atomically."""
        mask = self.document.masks[self.canvas.current] if self.canvas._can_paint() else None
        if is_blank(mask):
            self.message.emit("Nothing is painted for this style: it applies everywhere")
            return False
        target = Path(path).with_suffix(".png") if Path(path).suffix.lower() != ".png" else Path(path)
        try:
            files.write_atomic(target, lambda file: to_pil(mask).save(file, format="PNG"))
        except OSError as exc:
            QMessageBox.warning(self, "Cannot export the mask", f"Cannot write {target.name}: {exc.strerror or exc}")
            return False
        self.message.emit(f"Mask saved to {target}")
        return True

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a mask", str(Path(self._photo_path).parent), OPEN_FILTER)
        if path:
            self.import_mask(path)

    def export_dialog(self) -> None:
        styles = self.session.styles
        stem = Path(self._photo_path).stem
        if self.canvas.current < len(styles):
            stem += f"-{Path(styles[self.canvas.current].path).stem}-mask"
        path, _ = QFileDialog.getSaveFileName(self, "Export the mask", str(Path(self._photo_path).with_name(stem + ".png")), PNG_FILTER)
        if path:
            self.export_mask(path)

    # --- the session ---------------------------------------------------------------------
    def reload(self) -> None:
        """The session's photo and its masks, afresh (a new content photo)."""
        path = self.session.content
        self._photo_path = path
        self.canvas.photo = self._read_photo(path) if path else QImage()
        self.setWindowTitle(f"Masks — {Path(path).name} — Impasto" if path else "Masks — Impasto")
        self._specs = None  # read the session's masks whatever they are
        self._sync_styles()
        self._on_settings_changed({"mask_uncovered"}, None)

    def _read_photo(self, path: str) -> QImage:
        """The photo at most DISPLAY_SIDE pixels on its long side (a scaled decode: cheap), upright."""
        reader = QImageReader(path)
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid() and max(size.width(), size.height()) > DISPLAY_SIDE:
            scale = DISPLAY_SIDE / max(size.width(), size.height())
            reader.setScaledSize(QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale))))
        photo = reader.read()
        if photo.isNull():  # a file Qt cannot decode (CMYK TIFF, 16-bit...) that the engine can
            try:
                picture = images.load_image(path)
                photo = pil_to_qimage(images.resize_long_side(picture, min(DISPLAY_SIDE, max(picture.size))))
            except ImpastoError as exc:
                self.message.emit(str(exc))
        return photo

    def _sync_styles(self) -> None:
        """Follow the session's styles: the list, and masks set elsewhere (a restored recipe)."""
        styles = self.session.styles
        self._fill_style_box(styles)
        specs = [style.mask for style in styles]
        if specs == self._specs:
            return  # this painter's own write, or a blend change
        self._specs = specs
        size = QSize()
        if not self.canvas.photo.isNull():  # masks at most STORED_SIDE, the photo's shape
            width, height = self.canvas.photo.width(), self.canvas.photo.height()
            size = QSize(*images.fit_size(width, height, min(masks.STORED_SIDE, max(width, height))))
        self.document.size = size
        loaded = []
        for index, spec in enumerate(specs):
            try:
                loaded.append(self.document.fitted(masks.decode(spec, masks.label(index))) if spec and not size.isEmpty() else None)
            except ImpastoError as exc:
                self.message.emit(str(exc))
                loaded.append(None)
        self._loading = True
        try:
            self.document.reset(size, loaded)
        finally:
            self._loading = False
        self._show_state()

    def _fill_style_box(self, styles) -> None:
        names = [Path(style.path).name for style in styles]
        if names == [self.style_box.itemText(i) for i in range(self.style_box.count())]:
            return
        current = self.style_box.currentIndex()
        self.style_box.blockSignals(True)
        self.style_box.clear()
        for index, name in enumerate(names):
            swatch = QPixmap(14, 14)
            swatch.fill(colour_of(index))
            self.style_box.addItem(QIcon(swatch), name)
        self.style_box.setCurrentIndex(min(max(current, 0), len(names) - 1))
        self.style_box.blockSignals(False)
        self._select_style(self.style_box.currentIndex())

    def _write_to_session(self) -> None:
        """Each finished edit (and each undo or redo) goes into the session as PNG data."""
        styles = self.session.styles
        if self._loading or len(styles) != len(self.document.masks):
            return
        specs = ["" if is_blank(mask) else masks.encode(to_pil(mask)) for mask in self.document.masks]
        self._specs = specs
        self.session.set_styles([dataclasses.replace(s, mask=spec) for s, spec in zip(styles, specs)], origin=self)

    def _on_settings_changed(self, fields, origin) -> None:
        if "mask_uncovered" in fields and origin is not self:
            self.uncovered_box.blockSignals(True)
            self.uncovered_box.setCurrentIndex(max(0, self.uncovered_box.findData(self.session.settings().mask_uncovered)))
            self.uncovered_box.blockSignals(False)

    def _show_state(self) -> None:
        styles = self.session.styles
        if not self._photo_path:
            self.canvas.hint = "Open a content photo: masks are painted over it."
        elif not styles:
            self.canvas.hint = "Add style images: each gets a mask."
        index = self.canvas.current
        if not self._photo_path or not styles or index >= len(self.document.masks):
            self.state_label.setText(self.canvas.hint)
            return
        name = Path(styles[index].path).name
        if is_blank(self.document.masks[index]):
            self.state_label.setText(f"{name}: nothing painted, so it applies everywhere. Paint where it should apply.")
        else:
            self.state_label.setText(f"{name} applies where its colour is painted. "
                                     "Painting during a run steers it at the next iteration.")


__all__ = ["MaskCanvas", "MaskDocument", "MaskPainter", "ReplaceMask", "overlay", "to_pil", "to_qimage"]
