"""The live preview: the current frame, fit or 1:1 zoom, panning, and a before/after split
with the content photo whose line can be dragged on the image itself."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame, QGraphicsLineItem, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QHBoxLayout,
    QLabel, QSlider, QToolButton, QVBoxLayout, QWidget,
)

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
GRAB_PX = 6  # how near the split line (in screen pixels) a press grabs it
SPLIT_SLIDER_MIN = 120  # px: at the window's minimum width the Before/After slider was a 15 px stub


class _ClippedPixmapItem(QGraphicsPixmapItem):
    """A pixmap drawn only on the left ``fraction`` of its width (the "before" side)."""

    def __init__(self):
        super().__init__()
        self.fraction = 0.0

    def paint(self, painter, option, widget=None):
        if self.fraction <= 0:
            return
        bounds = self.boundingRect()
        painter.save()
        painter.setClipRect(QRectF(bounds.left(), bounds.top(), bounds.width() * self.fraction, bounds.height()))
        super().paint(painter, option, widget)
        painter.restore()


class PreviewView(QGraphicsView):
    """Shows the result; the content photo covers its left part when comparing."""

    zoom_changed = Signal(float)
    split_changed = Signal(float)  # the user dragged the split line

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.SmoothPixmapTransform | QPainter.Antialiasing)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setFrameShape(QFrame.NoFrame)
        self.setAlignment(Qt.AlignCenter)
        self.after = QGraphicsPixmapItem()
        self.after.setTransformationMode(Qt.SmoothTransformation)
        self.before = _ClippedPixmapItem()
        self.before.setTransformationMode(Qt.SmoothTransformation)
        self.divider = QGraphicsLineItem()
        self.divider.setVisible(False)
        for z, item in enumerate((self.after, self.before, self.divider)):
            item.setZValue(z)
            self.scene().addItem(item)
        self.fit_mode = True
        self._split = 0.0
        self._holding = False
        self._dragging_split = False
        self.viewport().setMouseTracking(True)
        self.before_image: QImage | None = None
        self.after_image: QImage | None = None
        self.placeholder = (
            "The live preview appears here.\n\nDrop a photo on Content and a painting on Style,\n"
            "then press Draft for a quick look, or Final (Ctrl+Return)."
        )
        self._apply_background()
        QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _: self._apply_background())

    def _apply_background(self) -> None:
        """A neutral surround a little darker (light theme) or lighter (dark theme) than the window."""
        window = self.palette().color(QPalette.Window)
        dark = QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark or window.lightness() < 128
        self.setBackgroundBrush(window.lighter(125) if dark else window.darker(112))

    def drawForeground(self, painter, rect):
        if self.has_image():
            self._draw_split_labels(painter)
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(self.palette().color(QPalette.PlaceholderText))
        painter.drawText(self.viewport().rect(), Qt.AlignCenter | Qt.TextWordWrap, self.placeholder)
        painter.restore()

    def _draw_split_labels(self, painter) -> None:
        """"Before" and "After" on either side of the split line, at the top of the view."""
        if not self.divider.isVisible():
            return
        line_top = self.mapFromScene(QPointF(self.divider.line().x1(), 0))
        line_x = line_top.x()
        metrics = self.fontMetrics()
        pad = metrics.height() // 4
        top = max(pad, line_top.y() + pad)  # on the image, or at the top of the view when scrolled
        painter.save()
        painter.resetTransform()
        for text, right_side in (("Before", False), ("After", True)):
            width = metrics.horizontalAdvance(text) + 2 * pad
            left = line_x + pad if right_side else line_x - pad - width
            box = QRectF(left, top, width, metrics.height() + pad)
            painter.fillRect(box, QColor(0, 0, 0, 150))
            painter.setPen(Qt.white)
            painter.drawText(box, Qt.AlignCenter, text)
        painter.restore()

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange:
            self._apply_background()

    # --- images -------------------------------------------------------------------------
    def has_image(self) -> bool:
        return self.after_image is not None or self.before_image is not None

    def set_after(self, image: QImage | None) -> None:
        """The newest frame (or result); the view keeps the zoom unless it is in fit mode."""
        old_size = self.after_image.size() if self.after_image is not None else None
        self.after_image = image
        self.after.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        if old_size != (image.size() if image is not None else None):
            self._layout_items()
        self._update_before()

    def set_before(self, image: QImage | None) -> None:
        self.before_image = image
        self.before.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        self._layout_items()
        self._update_before()

    def clear(self) -> None:
        self.after_image = self.before_image = None
        self.after.setPixmap(QPixmap())
        self.before.setPixmap(QPixmap())
        self._update_before()
        self.viewport().update()

    def _shown_size(self) -> tuple[float, float]:
        """Scene size of the picture: the frame's, or the content's while no frame has arrived."""
        image = self.after_image if self.after_image is not None else self.before_image
        return (image.width(), image.height()) if image is not None else (0.0, 0.0)

    def _layout_items(self) -> None:
        width, height = self._shown_size()
        if self.before_image is not None and self.before_image.width() > 0 and width:
            self.before.setScale(width / self.before_image.width())
        self.scene().setSceneRect(QRectF(0, 0, width, height))
        if self.fit_mode:
            self.zoom_fit()

    # --- before / after -----------------------------------------------------------------
    def set_split(self, fraction: float) -> None:
        """0 shows only the result, 1 only the content photo; between, a split at that point."""
        self._split = min(1.0, max(0.0, fraction))
        self._update_before()

    def hold_compare(self, holding: bool) -> None:
        self._holding = holding
        self._update_before()

    def split(self) -> float:
        if self.after_image is None:
            return 1.0  # nothing stylised yet: show the content
        return 1.0 if self._holding else self._split

    def _split_line_x(self) -> float | None:
        """Where the split line is on screen (viewport x), or None when none is shown."""
        if not self.divider.isVisible():
            return None
        return self.mapFromScene(QPointF(self.divider.line().x1(), 0)).x()

    def _split_at(self, viewport_x: float) -> None:
        width, _ = self._shown_size()
        if width <= 0:
            return
        scene_x = self.mapToScene(round(viewport_x), 0).x()
        self.set_split(scene_x / width)
        self.split_changed.emit(self._split)

    def _can_split(self) -> bool:
        return self.after_image is not None and self.before_image is not None and not self._holding

    def _near_split_line(self, viewport_x: float) -> bool:
        line_x = self._split_line_x()
        return line_x is not None and abs(viewport_x - line_x) <= GRAB_PX

    def mousePressEvent(self, event):
        """Drag the split line where it is, or Shift+drag anywhere to put it there."""
        x = event.position().x()
        grab = self._near_split_line(x) or event.modifiers() & Qt.ShiftModifier
        if event.button() == Qt.LeftButton and self._can_split() and grab:
            self._dragging_split = True
            self._split_at(x)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        x = event.position().x()
        if self._dragging_split:
            self._split_at(x)
            event.accept()
            return
        super().mouseMoveEvent(event)
        if not event.buttons():
            near = self._can_split() and self._near_split_line(x)
            self.viewport().setCursor(Qt.SplitHCursor if near else Qt.OpenHandCursor)

    def mouseReleaseEvent(self, event):
        if self._dragging_split and event.button() == Qt.LeftButton:
            self._dragging_split = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _update_before(self) -> None:
        fraction = self.split() if self.before_image is not None else 0.0
        self.before.fraction = fraction
        self.before.update()
        width, height = self._shown_size()
        show_line = 0 < fraction < 1 and width > 0
        self.divider.setVisible(show_line)
        if show_line:
            pen = QPen(self.palette().highlight().color(), 0)  # cosmetic: one device pixel wide
            self.divider.setPen(pen)
            self.divider.setLine(width * fraction, 0, width * fraction, height)
        self.viewport().update()  # the Before/After labels follow the line

    # --- zoom ---------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def nearest_neighbour(self) -> bool:
        """Above 100 % each image pixel shows as a sharp square (real pixels), below it smoothly."""
        return self.zoom() * self.devicePixelRatioF() > 1 + 1e-6

    def _zoomed(self) -> None:
        mode = Qt.FastTransformation if self.nearest_neighbour() else Qt.SmoothTransformation
        for item in (self.after, self.before):
            item.setTransformationMode(mode)
        self.setRenderHint(QPainter.SmoothPixmapTransform, mode == Qt.SmoothTransformation)
        self.zoom_changed.emit(self.zoom())

    def zoom_fit(self) -> None:
        self.fit_mode = True
        rect = self.sceneRect()
        if rect.width() > 0 and rect.height() > 0:
            self.fitInView(rect, Qt.KeepAspectRatio)
        self._zoomed()

    def zoom_actual(self) -> None:
        """One image pixel on one screen pixel (sharp on high-DPI screens)."""
        self.fit_mode = False
        self.resetTransform()
        self.scale(1 / self.devicePixelRatioF(), 1 / self.devicePixelRatioF())
        self._zoomed()

    def zoom_by(self, factor: float) -> None:
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        self.fit_mode = False
        self.scale(target / self.zoom(), target / self.zoom())
        self._zoomed()

    def zoom_step(self, steps: int) -> None:
        """Zoom in (steps > 0) or out about the centre of the view (Ctrl+= / Ctrl+−)."""
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.AnchorViewCenter)
        self.zoom_by(ZOOM_STEP ** steps)
        self.setTransformationAnchor(anchor)

    def shown_image(self) -> QImage | None:
        """What Copy takes: the content photo while it covers the view, else the result."""
        if self.after_image is None or self.split() >= 1:
            return self.before_image
        return self.after_image

    def wheelEvent(self, event):
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP ** steps)
        event.accept()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self.fit_mode:
            self.zoom_fit()


class PreviewPanel(QWidget):
    """The view plus its controls: Fit, 1:1, a before/after split slider, hold-to-compare, and a
    line saying which scale and iteration the frame shows."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = PreviewView()
        self.fit_button = QToolButton(text="Fit", checkable=True, checked=True)
        self.fit_button.setToolTip("Fit the image in the view (Ctrl+0)")
        self.actual_button = QToolButton(text="1:1", checkable=True)
        self.actual_button.setToolTip("One image pixel per screen pixel (Ctrl+1); drag to pan, wheel to zoom")
        self.fit_button.clicked.connect(lambda: self.view.zoom_fit())
        self.actual_button.clicked.connect(lambda: self.view.zoom_actual())
        self.view.zoom_changed.connect(self._show_zoom)
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("3200%") + 6)
        self.split_slider = QSlider(Qt.Horizontal, minimum=0, maximum=100, value=0)
        self.split_slider.setToolTip(
            "Where the split line is: the content photo (before) on its left, the result (after) on "
            "its right. Or drag the line on the image; Shift+drag puts it where you press."
        )
        self.split_slider.valueChanged.connect(lambda v: self.view.set_split(v / 100))
        self.split_slider.setMinimumWidth(SPLIT_SLIDER_MIN)  # a usable length at the smallest window
        self.view.split_changed.connect(self._show_split)
        self.hold_button = QToolButton(text="Hold to compare")
        self.hold_button.setToolTip("Shows the content photo while pressed")
        self.hold_button.pressed.connect(lambda: self.view.hold_compare(True))
        self.hold_button.released.connect(lambda: self.view.hold_compare(False))
        self.info = QLabel("No preview yet")
        self.info.setTextInteractionFlags(Qt.TextSelectableByMouse)
        controls = QHBoxLayout()
        controls.addWidget(self.fit_button)
        controls.addWidget(self.actual_button)
        controls.addWidget(self.zoom_label)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Before"))
        controls.addWidget(self.split_slider, 1)
        controls.addWidget(QLabel("After"))
        controls.addWidget(self.hold_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(controls)
        layout.addWidget(self.info)

    def _show_split(self, fraction: float) -> None:
        self.split_slider.blockSignals(True)  # the view has it already
        self.split_slider.setValue(round(fraction * 100))
        self.split_slider.blockSignals(False)

    def _show_zoom(self, zoom: float) -> None:
        self.fit_button.setChecked(self.view.fit_mode)
        device_zoom = zoom * self.devicePixelRatioF()
        self.actual_button.setChecked(not self.view.fit_mode and abs(device_zoom - 1) < 1e-6)
        self.zoom_label.setText(f"{device_zoom:.0%}" if self.view.has_image() else "")

    def show_frame(self, image: QImage, text: str) -> None:
        self.view.set_after(image)
        self.info.setText(text)

    def show_content(self, image: QImage) -> None:
        self.view.set_before(image)
