"""The Explorer tab: what each VGG19 layer sees, shown to artists as rows of tiles.

Content reconstructions rebuild the content photo from noise through one layer at a time,
style reconstructions grow the texture from depth 1.1 to depth 5.1 (``engine.layers.layer_name``:
the one layer vocabulary of every tab), and feature maps show a layer's
strongest channels with the image patches that excite one channel most (click a map to pick
it). All the work runs in this panel's own WorkerHost (engine.explore); finished tiles arrive
through ``task.emit`` and the tile being optimised updates from the progress previews.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem,
    QProgressBar, QPushButton, QScrollArea, QSizePolicy, QSpinBox, QVBoxLayout, QWidget,
)

from engine import explore
from engine.errors import ImpastoError
from engine.layers import CONV_LAYERS, channels, layer_name
from engine.settings import TransferSettings
from engine.timing import format_duration, time_left
from gui.worker import WorkerHost, describe, pil_to_qimage
from gui.layer_table import depth_tooltip
from gui.screens import fit_combo_to

MODES = (
    ("content", "Content reconstructions",
     "The content photo rebuilt from noise using one layer only: shallow layers keep the pixels, "
     "deep layers only the arrangement of things."),
    ("style", "Style reconstructions",
     "Texture grown from the style image: depth 1.1 alone gives the fine grain, each deeper layer "
     "adds larger structures until the painting's whole manner appears."),
    ("features", "Feature maps",
     "The strongest channels of a layer over the content photo, and the patches of the content and "
     "style images that excite one channel most. Click a map to see its patches."),
)
WHOLE_ROW = "Whole row (depth 1.1 … 5.1)"
BAR_STEPS = 1000
MIN_CELL, MAX_CELL = 96, 256


@dataclass
class ShownTile:
    """A finished tile and its picture, converted in the worker thread."""

    tile: explore.Tile
    image: QImage


@dataclass
class SavedSheet:
    path: Path


def explore_job(request: explore.ExploreRequest):
    def job(task) -> explore.ExploreResult:
        def send(tile: explore.Tile) -> None:
            task.emit(ShownTile(tile, pil_to_qimage(tile.image)))

        return explore.explore(request, task.report, task.should_stop, send)

    return job


def save_sheet_job(result: explore.ExploreResult, path: str):
    def job(task) -> SavedSheet:
        return SavedSheet(explore.save_sheet(result, path))

    return job


class TileStrip(QListWidget):
    """One row of tiles (icon mode, wrapping), exactly as tall as its contents."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.IconMode)
        self.setFlow(QListView.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setUniformItemSizes(True)
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.items: dict[int, QListWidgetItem] = {}  # tile index -> item

    def item_at(self, index: int) -> QListWidgetItem:
        item = self.items.get(index)
        if item is None:
            item = QListWidgetItem()
            item.setTextAlignment(Qt.AlignHCenter | Qt.AlignTop)
            self.items[index] = item
            position = sum(1 for i in self.items if i < index)
            self.insertItem(position, item)
        return item

    def set_cell(self, size: QSize) -> None:
        if size.width() > self.iconSize().width() or size.height() > self.iconSize().height():
            self.setIconSize(size)
            self.setGridSize(QSize(size.width() + 16, size.height() + 36))

    def fit_height(self) -> None:
        self.doItemsLayout()
        bottom = max((self.visualItemRect(self.item(i)).bottom() for i in range(self.count())), default=0)
        self.setFixedHeight(bottom + 2 * self.frameWidth() + 8)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        QTimer.singleShot(0, self, self.fit_height)  # the context cancels it once the strip is gone


class ExplorerPanel(QWidget):
    busy_changed = Signal(bool)
    tile_shown = Signal(object)  # explore.Tile, once it is on screen
    run_finished = Signal(object)  # explore.ExploreResult
    sheet_saved = Signal(object)  # Path

    def __init__(self, settings_source: Callable[[], TransferSettings], parent=None):
        super().__init__(parent)
        self._settings_source = settings_source
        self.host = WorkerHost(self)
        self.host.progress.connect(self._on_progress)
        self.host.preview.connect(self._on_preview)
        self.host.partial.connect(self._on_partial)
        self.host.finished.connect(self._on_finished)
        self.host.failed.connect(self._on_failed)
        self.request: explore.ExploreRequest | None = None
        self.result: explore.ExploreResult | None = None
        self.strips: dict[str, TileStrip] = {}
        self._saving = False
        self._build()
        self._on_mode_changed()

    # ================================================================== layout
    def _build(self) -> None:
        self.mode_combo = QComboBox()
        for key, title, _ in MODES:
            self.mode_combo.addItem(title, key)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        self.layer_combo = QComboBox()
        self.layer_combo.currentIndexChanged.connect(self._on_layer_changed)
        for combo in (self.mode_combo, self.layer_combo):  # long titles must not widen the window
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        fit_combo_to(self.mode_combo, [title for _, title, _ in MODES])
        fit_combo_to(self.layer_combo, [WHOLE_ROW] + [layer_name(layer) for layer in CONV_LAYERS])
        self.channel_spin = QSpinBox()
        self.channel_spin.setMinimum(-1)
        self.channel_spin.setSpecialValueText("strongest")
        self.channel_spin.setToolTip("The channel whose favourite patches are shown (click a map to pick one)")
        self.size_spin = _spin(16, 1024, explore.DEFAULT_SIZE, " px", "Long side of each tile")
        self.iterations_spin = _spin(1, 5000, explore.DEFAULT_ITERATIONS, " it",
                                     "L-BFGS iterations per reconstruction")
        self.run_button = QPushButton("Explore")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.export_button = QPushButton("Export sheet…")
        self.export_button.clicked.connect(self._ask_export)
        controls = QHBoxLayout()
        for label, widget in (("", self.mode_combo), ("Layer", self.layer_combo), ("Channel", self.channel_spin),
                              ("Size", self.size_spin), ("Iterations", self.iterations_spin)):
            if label:
                controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addStretch(1)
        for button in (self.run_button, self.stop_button, self.export_button):
            controls.addWidget(button)

        self.help_label = QLabel()
        self.help_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, BAR_STEPS)
        self.progress_bar.setValue(0)
        self.status_label = QLabel(" ")
        self.status_label.setWordWrap(True)
        self.rows_widget = QWidget()
        self.rows_layout = QVBoxLayout(self.rows_widget)
        self.rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.rows_widget)

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.help_label)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        self._set_running(False)

    # ================================================================== public API
    @property
    def busy(self) -> bool:
        return self.host.busy

    @property
    def mode(self) -> str:
        return self.mode_combo.currentData()

    def set_mode(self, mode: str) -> None:
        self.mode_combo.setCurrentIndex(self.mode_combo.findData(mode))

    def set_layer(self, layer: str | None) -> None:
        """``None`` picks the whole row (content and style modes)."""
        index = self.layer_combo.findData(layer)
        if index >= 0:
            self.layer_combo.setCurrentIndex(index)

    def build_request(self) -> explore.ExploreRequest:
        """The request the controls and the current content/style describe (validated)."""
        settings = self._settings_source()
        channel = self.channel_spin.value()
        request = explore.ExploreRequest(
            what=self.mode, content=settings.content, style=settings.styles[0] if settings.styles else "",
            layer=self.layer_combo.currentData(), channel=None if channel < 0 else channel,
            size=self.size_spin.value(), iterations=self.iterations_spin.value(),
            base=settings.replace(seed=settings.seed or 0),
        )
        return request.validate()

    def run(self) -> bool:
        """Start exploring; False (with the reason in the status line) when it cannot."""
        if self.busy:
            return False
        try:
            request = self.build_request()
        except ImpastoError as exc:
            self.show_status(f"Cannot explore: {exc}")
            return False
        self.request = request
        self.result = None
        self._clear_rows()
        self._plan(request)
        self.progress_bar.setValue(0)
        self.host.submit(explore_job(request))
        self._set_running(True)
        self.show_status("Loading the network…")
        return True

    def stop(self) -> None:
        if self.busy:
            self.host.stop()
            self.show_status("Stopping after this iteration…")

    def export_sheet(self, path: str) -> bool:
        """Save the shown tiles as one labelled image (in the worker); False when nothing to save."""
        if self.busy or self.result is None:
            return False
        self._saving = True
        self.host.submit(save_sheet_job(self.result, path))
        self._set_running(True)
        self.show_status(f"Saving {Path(path).name}…")
        return True

    def shutdown(self) -> bool:
        """Stop any run and end the worker thread; True when it ended in time."""
        return self.host.shutdown()

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)

    # ================================================================== controls
    def _on_mode_changed(self) -> None:
        mode = self.mode
        self.help_label.setText(next(text for key, _, text in MODES if key == mode))
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        if mode != "features":
            self.layer_combo.addItem(WHOLE_ROW, None)
        for layer in CONV_LAYERS:
            self.layer_combo.addItem(layer_name(layer), layer)
            self.layer_combo.setItemData(self.layer_combo.count() - 1, depth_tooltip(layer), Qt.ToolTipRole)
        if mode == "features":
            self.layer_combo.setCurrentIndex(self.layer_combo.findData(explore.DEFAULT_FEATURE_LAYER))
        self.layer_combo.blockSignals(False)
        self._on_layer_changed()
        self._set_running(self.busy)

    def _on_layer_changed(self) -> None:
        layer = self.layer_combo.currentData() or explore.DEFAULT_FEATURE_LAYER
        self.channel_spin.setMaximum(channels(layer) - 1)
        self.channel_spin.setValue(-1)

    def _set_running(self, running: bool) -> None:
        for widget in (self.mode_combo, self.layer_combo, self.size_spin, self.run_button):
            widget.setEnabled(not running)
        features = self.mode == "features"
        self.channel_spin.setEnabled(not running and features)
        self.iterations_spin.setEnabled(not running and not features)
        self.stop_button.setEnabled(running and not self._saving)
        self.export_button.setEnabled(not running and self.result is not None and len(self.result.tiles) > 1)
        if running != getattr(self, "_was_running", False):
            self._was_running = running
            self.busy_changed.emit(running)

    def _ask_export(self) -> None:
        if self.result is None:
            return
        from gui.state import open_store

        store = open_store()
        folder = store.value("explorer/export_folder")
        folder = folder if isinstance(folder, str) and os.path.isdir(folder) else str(Path.home())
        name = f"explore-{self.result.request.what}.png"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the explorer sheet", os.path.join(folder, name),
            "PNG (*.png);;JPEG (*.jpg *.jpeg);;TIFF (*.tif *.tiff);;WebP (*.webp)",
        )
        if path:
            store.setValue("explorer/export_folder", str(Path(path).parent))
            self.export_sheet(path)

    # ================================================================== tiles
    def _clear_rows(self) -> None:
        for strip in self.strips.values():
            strip.heading.deleteLater()
            strip.deleteLater()
        self.strips = {}

    def _strip(self, heading: str) -> TileStrip:
        strip = self.strips.get(heading)
        if strip is None:
            strip = TileStrip(self.rows_widget)
            strip.heading = QLabel(heading)
            strip.itemClicked.connect(self._on_tile_clicked)
            position = self.rows_layout.count() - 1  # before the stretch
            self.rows_layout.insertWidget(position, strip.heading)
            self.rows_layout.insertWidget(position + 1, strip)
            self.strips[heading] = strip
        return strip

    def _plan(self, request: explore.ExploreRequest) -> None:
        """Waiting tiles for a reconstruction row, so the row's shape shows at once."""
        if request.what == "features":
            return
        strip = self._strip(explore.row_heading(request.what))
        for number, layers in enumerate(request.layer_sets(), 1):
            item = strip.item_at(number)
            item.setText(explore.tile_label(request.what, layers))
            item.setToolTip("Waiting")
            item.setIcon(_placeholder(QSize(request.size, request.size), "waiting"))
        strip.set_cell(_cell_size(QSize(request.size, request.size)))
        strip.fit_height()

    def _on_partial(self, payload) -> None:
        if not isinstance(payload, ShownTile):
            return
        tile = payload.tile
        strip = self._strip(tile.row)
        pixmap = QPixmap.fromImage(payload.image)
        strip.set_cell(_cell_size(pixmap.size()))
        item = strip.item_at(tile.index)
        item.setIcon(_scaled(pixmap, strip.iconSize()))
        item.setText(tile.label)
        item.setToolTip(_tooltip(tile))
        item.setData(Qt.UserRole, tile.channel if tile.kind == "feature" else None)
        strip.fit_height()
        self.tile_shown.emit(tile)

    def _on_preview(self, frame: QImage, progress) -> None:
        """The tile being optimised, as it forms."""
        request = self.request
        if request is None or request.what == "features" or progress.iteration < 1:
            return
        sets = request.layer_sets()
        number = min((progress.iteration - 1) // request.iterations, len(sets) - 1) + 1
        strip = self._strip(explore.row_heading(request.what))
        item = strip.item_at(number)
        item.setIcon(_scaled(QPixmap.fromImage(frame), strip.iconSize()))
        item.setToolTip("Being optimised")

    def _on_tile_clicked(self, item: QListWidgetItem) -> None:
        channel = item.data(Qt.UserRole)
        if channel is None or self.busy or self.mode != "features":
            return
        self.channel_spin.setValue(int(channel))
        self.run()

    # ================================================================== worker signals
    def _on_progress(self, progress) -> None:
        if progress.total:
            self.progress_bar.setValue(round(BAR_STEPS * progress.iteration / progress.total))
        if progress.phase in ("optimising", "cached"):
            eta = f", about {time_left(progress.eta)}" if progress.eta is not None else ""
            self.show_status(f"Iteration {progress.iteration} of {progress.total}{eta}")

    def _on_finished(self, outcome) -> None:
        if isinstance(outcome, SavedSheet):
            self._saving = False
            self._set_running(False)
            self.show_status(f"Saved {outcome.path}")
            self.sheet_saved.emit(outcome.path)
            return
        self.result = outcome
        cached = sum(1 for t in outcome.tiles if t.cached)
        from_cache = f" ({cached} from earlier runs)" if cached else ""
        if outcome.stopped:
            self.show_status(f"Stopped after {len(outcome.tiles) - 1} tile(s){from_cache}.")
        else:
            self.progress_bar.setValue(BAR_STEPS)
            self.show_status(f"Done in {format_duration(outcome.seconds)}{from_cache}.")
        self._set_running(False)
        self.run_finished.emit(outcome)

    def _on_failed(self, error: BaseException) -> None:
        message = describe(error)
        action = "save the sheet" if self._saving else "explore"
        self._saving = False
        self._set_running(False)
        self.show_status(f"Could not {action}: {message}")


# --- helpers ----------------------------------------------------------------------------------
def _spin(low: int, high: int, value: int, suffix: str, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setSuffix(suffix)
    spin.setToolTip(tip)
    return spin


def _cell_size(size: QSize) -> QSize:
    """The icon box for tiles of ``size``: small ones enlarged to MIN_CELL, large ones capped."""
    long_side = max(size.width(), size.height(), 1)
    scale = min(max(1.0, MIN_CELL / long_side), MAX_CELL / long_side)
    return QSize(round(size.width() * scale), round(size.height() * scale))


def _scaled(pixmap: QPixmap, box: QSize) -> QPixmap:
    """Fit ``pixmap`` in ``box``; enlarged with hard pixel edges (a 3 px patch stays 3x3 blocks)."""
    enlarge = pixmap.width() < box.width() and pixmap.height() < box.height()
    mode = Qt.FastTransformation if enlarge else Qt.SmoothTransformation
    return pixmap.scaled(box, Qt.KeepAspectRatio, mode)


def _placeholder(size: QSize, text: str) -> QPixmap:
    pixmap = QPixmap(_cell_size(size))
    pixmap.fill(QColor(70, 70, 70))
    painter = QPainter(pixmap)
    painter.setPen(QColor(200, 200, 200))
    painter.drawText(pixmap.rect(), Qt.AlignCenter, text)
    painter.end()
    return pixmap


def _tooltip(tile: explore.Tile) -> str:
    """In the layer table's words ("depth 3.1"), the network's own name last for those who want it."""
    names = [layer_name(layer) for layer in tile.layers]
    if tile.kind == "content":
        text = f"Rebuilt from noise matching {names[0]} only"
    elif tile.kind == "style":
        text = "The painting's texture as seen at " + ", ".join(names)
    elif tile.kind == "feature":
        text = f"{names[0]} channel {tile.channel}, mean response {tile.value:.3g} (click for its patches)"
    elif tile.kind == "patch":
        text = f"Excites {names[0]} channel {tile.channel} by {tile.value:.3g}; grey lies outside the image"
    else:
        text = "The image as the network sees it"
    if tile.layers:
        text += f" [VGG19 {tile.layers[-1]}]"
    return text + (" (from an earlier run)" if tile.cached else "")
