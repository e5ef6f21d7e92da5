"""The Batch tab: drop folders and files, pick where and how outputs are named, run the queue.

Planning (scanning folders, reading the manifest) and running both happen in this panel's own
WorkerHost; engine.batch does the work and its item events arrive through ``task.emit`` ->
``WorkerHost.partial``. Pause blocks the engine at its next iteration (engine.batch.PauseGate);
Cancel stops within one iteration and writes nothing for the unfinished image.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
    QLineEdit, QProgressBar, QPushButton, QSizePolicy, QSpinBox, QSplitter, QTableView, QVBoxLayout, QWidget,
)

from engine import images
from engine.batch import (
    DEFAULT_EXTENSION, DEFAULT_TEMPLATE, DONE, FAILED, RUNNING, SKIPPED, TEMPLATE_FIELDS, BatchItem, BatchOptions,
    BatchPlan, BatchProgress, BatchSummary, PauseGate, plan_batch, run_batch, style_label,
)
from engine.errors import ImpastoError
from engine.settings import TransferSettings
from engine.timing import format_duration, time_left
from gui.worker import WorkerHost, describe
from gui.state import open_store

FORMATS = (("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("WebP", "webp"), ("Same as input", "same"))
IMAGE_FILTER = "Images ({})".format(" ".join(f"*{suffix}" for suffix in images.IMAGE_SUFFIXES))
STATE_COLOURS = {FAILED: QColor(200, 60, 50), DONE: QColor(60, 150, 80), RUNNING: QColor(50, 120, 210)}
BAR_STEPS = 1000


@dataclasses.dataclass
class PlanEvent:
    """Emitted by the run job once it has planned: the queue as the run sees it."""

    items: list[BatchItem]


class BatchQueueModel(QAbstractTableModel):
    """One row per input image: where it goes, its state, and why it failed or how long it took."""

    HEADERS = ("Input", "Output", "State", "Details")

    def __init__(self, parent=None):
        super().__init__(parent)
        self._items: list[BatchItem] = []
        self._rows: dict[int, int] = {}  # BatchItem.index -> row
        self._output_dir = ""

    # --- content -------------------------------------------------------------------------
    def set_items(self, items: list[BatchItem], output_dir: str = "") -> None:
        self.beginResetModel()
        self._items = [dataclasses.replace(item) for item in items]
        self._rows = {item.index: row for row, item in enumerate(self._items)}
        self._output_dir = output_dir
        self.endResetModel()

    def update_item(self, item: BatchItem) -> int:
        """Show ``item``'s new state; its row, or -1 when it is not in the queue."""
        row = self._rows.get(item.index, -1)
        if row >= 0:
            self._items[row] = dataclasses.replace(item)
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))
        return row

    def item(self, row: int) -> BatchItem:
        return self._items[row]

    def states(self) -> list[str]:
        return [item.state for item in self._items]

    def row_of(self, index: int) -> int:
        return self._rows.get(index, -1)

    # --- Qt ------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        item = self._items[index.row()]
        column = index.column()
        if role == Qt.DisplayRole:
            return (Path(item.source).name, self._output_text(item), item.state, self._details(item))[column]
        if role == Qt.ToolTipRole:
            return (item.source, item.output, item.state, item.reason or self._details(item))[column]
        if role == Qt.ForegroundRole and column >= 2:
            return STATE_COLOURS.get(item.state)
        return None

    def _output_text(self, item: BatchItem) -> str:
        if not item.output:
            return ""
        try:
            return Path(item.output).relative_to(self._output_dir).as_posix()
        except ValueError:
            return item.output

    @staticmethod
    def _details(item: BatchItem) -> str:
        if item.state == DONE and item.seconds:
            return f"{item.seconds:.1f} s"
        return item.reason


class BatchPanel(QWidget):
    """The Batch tab. ``settings_source()`` gives the Stylize tab's current TransferSettings."""

    run_finished = Signal(object)  # BatchSummary, or the error line when the batch stopped
    planned = Signal()

    def __init__(self, settings_source: Callable[[], TransferSettings], parent=None):
        super().__init__(parent)
        self._settings_source = settings_source
        self._inputs: list[str] = []
        self._styles: list[str] | None = None  # None: the Stylize tab's styles
        self._gate = PauseGate()
        self._running = False
        self.store = open_store()
        self.host = WorkerHost(self)
        self.model = BatchQueueModel(self)
        self._plan_timer = QTimer(self, singleShot=True, interval=250, timeout=self._plan)
        self._build()
        self._connect()
        self._restore()
        self.setAcceptDrops(True)
        self._update_controls()

    # ================================================================== building
    def _build(self) -> None:
        self.add_files_button = QPushButton("Add images…")
        self.add_folder_button = QPushButton("Add folder…")
        self.clear_button = QPushButton("Clear")
        self.styles_label = QLabel()
        self.styles_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.styles_button = QPushButton("Styles…")
        self.styles_button.setToolTip("Use other style images for this batch")
        self.tab_styles_button = QPushButton("Use Stylize tab's")
        inputs_row = QHBoxLayout()
        for widget in (self.add_files_button, self.add_folder_button, self.clear_button):
            inputs_row.addWidget(widget)
        inputs_row.addSpacing(16)
        inputs_row.addWidget(self.styles_label, 1)
        inputs_row.addWidget(self.styles_button)
        inputs_row.addWidget(self.tab_styles_button)

        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("Folder for the results (created if needed)")
        self.choose_output_button = QPushButton("Choose…")
        self.open_output_button = QPushButton("Open")
        self.open_output_button.setToolTip("Show the output folder in the file manager")
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_edit, 1)
        output_row.addWidget(self.choose_output_button)
        output_row.addWidget(self.open_output_button)

        self.template_edit = QLineEdit(DEFAULT_TEMPLATE)
        fields = " ".join("{" + name + "}" for name in TEMPLATE_FIELDS)
        self.template_edit.setToolTip(
            f"Output file name. Fields: {fields}. May name subfolders (style/{{stem}}.{{ext}}), never "
            "outside the output folder. Names already taken get -2, -3…"
        )
        self.format_combo = QComboBox()
        for label, value in FORMATS:
            self.format_combo.addItem(label, value)
        self.format_combo.setToolTip("{ext}: the output format ('Same as input' where Impasto can write it, else PNG)")
        self.quality_spin = QSpinBox(minimum=1, maximum=100, value=95, prefix="Quality ")
        self.quality_spin.setToolTip("JPEG and WebP quality")
        self.recursive_check = QCheckBox("Include subfolders")
        self.recursive_check.setToolTip(
            "Also take images in subfolders; their structure is mirrored in the output folder"
        )
        names_row = QHBoxLayout()
        names_row.addWidget(self.template_edit, 1)
        names_row.addWidget(self.format_combo)
        names_row.addWidget(self.quality_spin)
        names_row.addWidget(self.recursive_check)
        form = QFormLayout()
        form.addRow("Output folder", output_row)
        form.addRow("File names", names_row)

        self.queue_view = QTableView()
        self.queue_view.setModel(self.model)
        self.queue_view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.queue_view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.queue_view.verticalHeader().setVisible(False)
        header = self.queue_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(self.fontMetrics().horizontalAdvance("skipped") + 24)
        self.preview_label = QLabel("The image being stylized shows here")
        self.preview_label.setAlignment(Qt.AlignCenter)
        self.preview_label.setMinimumSize(200, 200)
        self.preview_label.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self._frame: QImage | None = None
        splitter = QSplitter()
        splitter.addWidget(self.queue_view)
        splitter.addWidget(self.preview_label)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        self.item_label = QLabel(" ")
        self.item_bar = QProgressBar(maximum=BAR_STEPS, textVisible=True)
        self.overall_label = QLabel(" ")
        self.overall_bar = QProgressBar(maximum=BAR_STEPS, textVisible=True)
        self.start_button = QPushButton("Start batch")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.status_label = QLabel("Drop images or folders here, or use Add.")
        self.status_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for widget in (self.start_button, self.pause_button, self.cancel_button):
            buttons.addWidget(widget)
        buttons.addWidget(self.status_label, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(inputs_row)
        layout.addLayout(form)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.item_label)
        layout.addWidget(self.item_bar)
        layout.addWidget(self.overall_label)
        layout.addWidget(self.overall_bar)
        layout.addLayout(buttons)

    def _connect(self) -> None:
        self.add_files_button.clicked.connect(self._ask_files)
        self.add_folder_button.clicked.connect(self._ask_folder)
        self.clear_button.clicked.connect(self.clear)
        self.styles_button.clicked.connect(self._ask_styles)
        self.tab_styles_button.clicked.connect(lambda: self.set_styles(None))
        self.choose_output_button.clicked.connect(self._ask_output)
        self.open_output_button.clicked.connect(self.open_output_folder)
        self.output_edit.editingFinished.connect(self._schedule_plan)
        self.template_edit.editingFinished.connect(self._schedule_plan)
        self.format_combo.currentIndexChanged.connect(self._schedule_plan)
        self.quality_spin.valueChanged.connect(self._schedule_plan)
        self.recursive_check.toggled.connect(self._schedule_plan)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        self.host.partial.connect(self._on_partial)
        self.host.progress.connect(self._on_progress)
        self.host.preview.connect(self._on_preview)
        self.host.finished.connect(self._on_finished)
        self.host.failed.connect(self._on_failed)

    # ================================================================== public API
    @property
    def busy(self) -> bool:
        """True while a batch runs (planning the queue does not count)."""
        return self._running

    @property
    def paused(self) -> bool:
        return self._running and self._gate.paused

    @property
    def inputs(self) -> list[str]:
        return list(self._inputs)

    def add_paths(self, paths) -> int:
        """Queue files and folders (duplicates ignored); how many were new."""
        if self._running:
            self.show_status("Wait for the batch to finish (or cancel it) before adding more.")
            return 0
        known = {os.path.normcase(os.path.abspath(p)) for p in self._inputs}
        added = 0
        for path in map(str, paths):
            key = os.path.normcase(os.path.abspath(path))
            if key not in known:
                known.add(key)
                self._inputs.append(os.path.abspath(path))
                added += 1
        if added and not self.output_edit.text().strip():
            first = Path(self._inputs[0])
            self.output_edit.setText(str((first if first.is_dir() else first.parent) / "stylized"))
        if added:
            self._plan_timer.start()
        return added

    def clear(self) -> None:
        if self._running:
            return
        self._inputs.clear()
        self.model.set_items([])
        self._reset_progress()
        self.show_status("Drop images or folders here, or use Add.")
        self._update_controls()

    def set_styles(self, paths: list[str] | None) -> None:
        """Style images for the batch; None follows the Stylize tab's."""
        self._styles = list(paths) if paths else None
        self._show_styles()
        self._schedule_plan()

    def batch_settings(self) -> TransferSettings:
        """The Stylize tab's settings, with this panel's styles when chosen here."""
        settings = self._settings_source()
        if self._styles is not None:
            settings = settings.replace(styles=list(self._styles), style_blend=[], style_masks=[])
        return settings.replace(content="")

    def batch_options(self) -> BatchOptions:
        return BatchOptions(
            output_dir=self.output_edit.text().strip(),
            template=self.template_edit.text().strip() or DEFAULT_TEMPLATE,
            extension=self.format_combo.currentData(),
            recursive=self.recursive_check.isChecked(),
            quality=self.quality_spin.value(),
        )

    def start(self) -> bool:
        if self._running or not self._inputs:
            return False
        try:
            settings = self.batch_settings()
            options = self.batch_options().validate()
        except ImpastoError as exc:
            self.show_status(f"Cannot start: {exc}")
            return False
        self._plan_timer.stop()
        self._remember()
        self._gate = PauseGate()
        self.host.submit(_run_job(list(self._inputs), settings, options, self._gate))
        self._set_running(True)
        self._reset_progress()
        self.show_status("Loading the network and the style images…")
        return True

    def toggle_pause(self) -> None:
        if not self._running:
            return
        if self._gate.paused:
            self._gate.resume()
            self.show_status("Resumed.")
        else:
            self._gate.pause()
            self.show_status("Paused: the current image waits at its next iteration.")
        self._update_controls()

    def cancel(self) -> None:
        if self._running:
            self.host.stop()
            self._gate.resume()
            self.show_status("Cancelling: the unfinished image will not be written…")

    def open_output_folder(self) -> bool:
        folder = self.output_edit.text().strip()
        if not folder or not Path(folder).is_dir():
            self.show_status("The output folder does not exist yet: it is made when the batch starts.")
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    def shutdown(self) -> bool:
        """Stop any batch (the unfinished image is not written) and end the worker thread."""
        self._plan_timer.stop()
        self._remember()
        self._gate.resume()
        self._running = False
        return self.host.shutdown()

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)

    # ================================================================== drops and dialogs
    def dragEnterEvent(self, event):
        if not self._running and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        self.dragEnterEvent(event)

    def dropEvent(self, event):
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths and self.add_paths(paths) >= 0:
            event.acceptProposedAction()

    def _ask_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add images", self._last_folder(), IMAGE_FILTER)
        self.add_paths(paths)

    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of images", self._last_folder())
        if folder:
            self.add_paths([folder])

    def _ask_styles(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Style images for the batch", self._last_folder(), IMAGE_FILTER)
        if paths:
            self.set_styles(paths)

    def _ask_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_edit.text() or self._last_folder())
        if folder:
            self.output_edit.setText(folder)
            self._schedule_plan()

    def _last_folder(self) -> str:
        if self._inputs:
            first = Path(self._inputs[-1])
            return str(first if first.is_dir() else first.parent)
        return str(Path.home())

    # ================================================================== planning
    def showEvent(self, event):
        super().showEvent(event)
        self._show_styles()
        self._schedule_plan()  # the Stylize tab's settings may have changed what is done

    def _schedule_plan(self) -> None:
        if not self._running:
            self._plan_timer.start()

    def _plan(self) -> None:
        """Rebuild the queue (in the worker: folders can be slow to list) without running it."""
        if self._running:
            return
        self._show_styles()
        if not self._inputs:
            self.model.set_items([])
            self._update_controls()
            return
        try:
            settings = self.batch_settings()
            options = self.batch_options().validate()
        except ImpastoError as exc:
            self.show_status(str(exc))
            return
        inputs = list(self._inputs)
        self.host.submit(lambda task: plan_batch(inputs, settings, options))

    def _show_plan(self, plan: BatchPlan) -> None:
        self.model.set_items(plan.items, str(plan.output_dir))
        self.queue_view.resizeColumnsToContents()
        self.show_status(
            f"{len(plan.items)} image(s): {len(plan.pending)} to do, {plan.count(SKIPPED)} already done, "
            f"{plan.count(FAILED)} cannot be read."
        )
        self._update_controls()
        self.planned.emit()

    def _show_styles(self) -> None:
        try:
            settings = self.batch_settings()
        except Exception:  # the window's settings are being edited; the label catches up later
            return
        source = "chosen here" if self._styles is not None else "from the Stylize tab"
        if settings.styles:
            self.styles_label.setText(f"Style: {style_label(settings)} ({source})")
        else:
            self.styles_label.setText("No style image: add one on the Stylize tab or with Styles…")
        if any(settings.style_masks):  # engine.batch drops them
            self.styles_label.setText(self.styles_label.text() + " · masks ignored: each was painted for one photo")
        self.tab_styles_button.setEnabled(self._styles is not None)

    # ================================================================== running
    def _on_partial(self, payload) -> None:
        if isinstance(payload, PlanEvent):
            self.model.set_items(payload.items, self.output_edit.text().strip())
        elif isinstance(payload, BatchItem):
            row = self.model.update_item(payload)
            if payload.state == RUNNING and row >= 0:
                self._frame = None
                self.preview_label.clear()
                self.queue_view.scrollTo(self.model.index(row, 0))
                if not self._gate.paused:
                    self.show_status(f"Stylizing {payload.name}…")

    def _on_progress(self, progress) -> None:
        if not isinstance(progress, BatchProgress):
            return
        step = progress.step
        self.item_bar.setValue(round(progress.item_fraction * BAR_STEPS))
        self.overall_bar.setValue(round(progress.fraction * BAR_STEPS))
        scale = f", scale {step.scale + 1}/{step.scales}" if step.scales > 1 else ""
        self.item_label.setText(
            f"Image {progress.position} of {progress.count}: {progress.name} — iteration "
            f"{step.iteration}/{step.total}{scale}, {time_left(progress.item_eta)}"
        )
        self.overall_label.setText(f"Batch: {time_left(progress.eta)}")

    def _on_preview(self, frame: QImage, progress) -> None:
        self._frame = frame
        self._show_frame()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._show_frame()

    def _show_frame(self) -> None:
        if self._frame is not None and not self._frame.isNull():
            pixmap = QPixmap.fromImage(self._frame)
            self.preview_label.setPixmap(
                pixmap.scaled(self.preview_label.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation)
            )

    def _on_finished(self, result) -> None:
        if isinstance(result, BatchPlan):
            self._show_plan(result)
        elif isinstance(result, BatchSummary):
            self._set_running(False)
            if result.interrupted:
                self.show_status(f"Cancelled: {result.line()}. The unfinished image was not written; Start resumes.")
            else:
                self.overall_bar.setValue(BAR_STEPS)
                self.show_status(f"Batch finished: {result.line()} in {format_duration(result.seconds)}.")
            self.run_finished.emit(result)

    def _on_failed(self, error: BaseException) -> None:
        message = describe(error)
        if self._running:
            self._set_running(False)
            self.show_status(message)
            self.run_finished.emit(message)
        else:
            self.show_status(message)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self._update_controls()

    def _update_controls(self) -> None:
        idle = not self._running
        for widget in (
            self.add_files_button, self.add_folder_button, self.clear_button, self.styles_button,
            self.output_edit, self.choose_output_button, self.template_edit, self.format_combo,
            self.quality_spin, self.recursive_check,
        ):
            widget.setEnabled(idle)
        self.tab_styles_button.setEnabled(idle and self._styles is not None)
        self.start_button.setEnabled(idle and bool(self._inputs))
        self.pause_button.setEnabled(self._running)
        self.pause_button.setText("Resume" if self.paused else "Pause")
        self.cancel_button.setEnabled(self._running)

    def _reset_progress(self) -> None:
        self.item_bar.setValue(0)
        self.overall_bar.setValue(0)
        self.item_label.setText(" ")
        self.overall_label.setText(" ")

    # ================================================================== remembered choices
    def _restore(self) -> None:
        store = self.store
        output = store.value("batch/output_dir")
        if isinstance(output, str):
            self.output_edit.setText(output)
        template = store.value("batch/template")
        if isinstance(template, str) and template.strip():
            self.template_edit.setText(template)
        index = self.format_combo.findData(store.value("batch/format", DEFAULT_EXTENSION))
        self.format_combo.setCurrentIndex(max(0, index))
        self.recursive_check.setChecked(str(store.value("batch/recursive", "false")).lower() == "true")
        try:
            self.quality_spin.setValue(int(store.value("batch/quality", 95)))
        except (TypeError, ValueError):
            pass

    def _remember(self) -> None:
        store = self.store
        store.setValue("batch/output_dir", self.output_edit.text().strip())
        store.setValue("batch/template", self.template_edit.text().strip())
        store.setValue("batch/format", self.format_combo.currentData())
        store.setValue("batch/recursive", "true" if self.recursive_check.isChecked() else "false")
        store.setValue("batch/quality", self.quality_spin.value())
        store.sync()


def _run_job(inputs: list[str], settings: TransferSettings, options: BatchOptions, gate: PauseGate):
    """The worker job: plan (the queue as the run sees it), then run with pause and stop."""

    def job(task) -> BatchSummary:
        return run_batch(
            inputs, settings, options,
            on_plan=lambda plan: task.emit(PlanEvent([dataclasses.replace(item) for item in plan.items])),
            on_item=task.emit, on_progress=task.report, should_stop=task.should_stop, pause=gate,
        )

    return job


__all__ = ["BatchPanel", "BatchQueueModel", "PlanEvent"]
