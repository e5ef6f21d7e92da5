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

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QImage, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
    QLineEdit, QMessageBox, QProgressBar, QPushButton, QSpinBox, QSplitter, QTableView, QVBoxLayout, QWidget,
)

from engine import images
from engine.batch import (
    DEFAULT_EXTENSION, DEFAULT_TEMPLATE, DONE, FAILED, RUNNING, SKIPPED, TEMPLATE_FIELDS, WAITING, BatchItem,
    BatchOptions, BatchPlan, BatchProgress, BatchSummary, PauseGate, plan_batch, plan_refine, run_batch, run_refine,
    style_label,
)
from engine.errors import ImpastoError
from engine.settings import TransferSettings
from engine.timing import format_duration, time_left
from gui.batch_views import ImageLoader, settings_summary
from gui.preview import PreviewPanel
from gui.worker import WorkerHost, describe
from gui.state import open_store

FORMATS = (("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("WebP", "webp"), ("Same as input", "same"))
IMAGE_FILTER = "Images ({})".format(" ".join(f"*{suffix}" for suffix in images.IMAGE_SUFFIXES))
STATE_COLOURS = {FAILED: QColor(200, 60, 50), DONE: QColor(60, 150, 80), RUNNING: QColor(50, 120, 210)}
BAR_STEPS = 1000
THUMB = 40  # logical pixels, the long side of a queue thumbnail
COMPARE_BOX = 1024  # the long side an input/output comparison is read at


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
        self.thumb_ratio = 1.0  # the view's device pixel ratio: thumbnails sharp on high-DPI screens
        self._thumbs: dict[str, QImage | None] = {}  # input path -> thumbnail (None: being read)
        self.loader = ImageLoader(self)
        self.loader.loaded.connect(self._thumb_loaded)

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
        if role == Qt.DecorationRole and column == 0:
            return self._thumbnail(item.source)
        return None

    # --- thumbnails, read when a row is first painted ---------------------------------------
    def _thumbnail(self, source: str) -> QImage | None:
        if source not in self._thumbs:
            self._thumbs[source] = None
            self.loader.request(source, source, round(THUMB * self.thumb_ratio))
        return self._thumbs[source]

    def _thumb_loaded(self, source, image: QImage) -> None:
        if image.isNull():
            return  # unreadable: its row says why
        image.setDevicePixelRatio(max(1.0, self.thumb_ratio))
        self._thumbs[source] = image
        for row, item in enumerate(self._items):
            if item.source == source:
                self.dataChanged.emit(self.index(row, 0), self.index(row, 0), [Qt.DecorationRole])

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
    edit_settings_requested = Signal()  # "Edit…" beside the inherited settings: show the Stylize tab

    def __init__(self, settings_source: Callable[[], TransferSettings], parent=None):
        super().__init__(parent)
        self._settings_source = settings_source
        self._inputs: list[str] = []
        self._styles: list[str] | None = None  # None: the Stylize tab's styles
        self._gate = PauseGate()
        self._running = False
        self._redo: list[str] = []
        self._live = True  # the preview follows the running image (until a finished row is clicked)
        self._compare_row = -1
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
        self.refine_check = QCheckBox("Refine earlier results to")
        self.refine_check.setToolTip("The inputs are images Impasto made: carry each one on to this size, "
                                     "from its own recipe and pixels (the styles here are not used)")
        self.refine_size = QSpinBox(minimum=16, maximum=16384, value=1024, singleStep=128, suffix=" px")
        inputs_row = QHBoxLayout()
        for widget in (self.add_files_button, self.add_folder_button, self.clear_button):
            inputs_row.addWidget(widget)
        inputs_row.addSpacing(16)
        inputs_row.addWidget(self.refine_check)
        inputs_row.addWidget(self.refine_size)
        inputs_row.addSpacing(16)
        inputs_row.addWidget(self.styles_label, 1)
        inputs_row.addWidget(self.styles_button)
        inputs_row.addWidget(self.tab_styles_button)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.RichText)
        self.summary_label.setToolTip("Every image of the batch is made with the Stylize tab's settings")
        self.summary_label.linkActivated.connect(lambda _: self.edit_settings_requested.emit())

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
        self.queue_view.setIconSize(QSize(THUMB, THUMB))
        self.queue_view.verticalHeader().setDefaultSectionSize(THUMB + 4)
        self.model.thumb_ratio = self.devicePixelRatioF()
        header = self.queue_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(self.fontMetrics().horizontalAdvance("skipped") + 24)
        self.preview = PreviewPanel()
        self.preview.view.placeholder = (
            "The image being stylized shows here.\n\nClick a row to compare its photo with its result."
        )
        self.preview.setMinimumSize(200, 200)
        self.compare_loader = ImageLoader(self)
        self.compare_loader.loaded.connect(self._compare_loaded)
        splitter = QSplitter()
        splitter.addWidget(self.queue_view)
        splitter.addWidget(self.preview)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        self.item_label = QLabel(" ")
        self.item_bar = QProgressBar(maximum=BAR_STEPS, textVisible=True)
        self.overall_label = QLabel(" ")
        self.overall_bar = QProgressBar(maximum=BAR_STEPS, textVisible=True)
        self.start_button = QPushButton("Start batch")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.redo_button = QPushButton("Redo selected")
        self.redo_button.setToolTip(
            "Make the selected images again, replacing their earlier results (and do what is left to do)"
        )
        self.status_label = QLabel("Drop images or folders here, or use Add.")
        self.status_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for widget in (self.start_button, self.pause_button, self.cancel_button, self.redo_button):
            buttons.addWidget(widget)
        buttons.addWidget(self.status_label, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(inputs_row)
        layout.addWidget(self.summary_label)
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
        self.refine_check.toggled.connect(self._schedule_plan)
        self.refine_check.toggled.connect(self._update_controls)
        self.refine_size.valueChanged.connect(self._schedule_plan)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        self.redo_button.clicked.connect(self.redo_selected)
        self.queue_view.selectionModel().selectionChanged.connect(self._on_selection)
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

    def _planner(self, settings: TransferSettings):
        """(plan, run) of this batch: a stylize batch, or with Refine each result from its recipe
        (on the Stylize tab's device)."""
        if not self.refine_check.isChecked():
            return (lambda inputs, options: plan_batch(inputs, settings, options),
                    lambda inputs, options, **hooks: run_batch(inputs, settings, options, **hooks))
        size, overrides = self.refine_size.value(), {"device": settings.device}
        return (lambda inputs, options: plan_refine(inputs, size, overrides, options),
                lambda inputs, options, **hooks: run_refine(inputs, size, overrides, options, **hooks))

    def batch_options(self) -> BatchOptions:
        return BatchOptions(
            output_dir=self.output_edit.text().strip(),
            template=self.template_edit.text().strip() or DEFAULT_TEMPLATE,
            extension=self.format_combo.currentData(),
            recursive=self.recursive_check.isChecked(),
            quality=self.quality_spin.value(),
        )

    def start(self, redo: list[str] | None = None) -> bool:
        """Run the queue; ``redo``: inputs to make again over their earlier results."""
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
        run = self._planner(settings)[1]
        hooks = {"redo": redo} if redo else {}  # only a stylize batch redoes (redo_selected refuses a refine)
        self.host.submit(_run_job(list(self._inputs), run, options, self._gate, hooks))
        self._set_running(True)
        self._reset_progress()
        self.show_status("Loading the network and the style images…")
        return True

    def selected_items(self) -> list[BatchItem]:
        rows = sorted({index.row() for index in self.queue_view.selectionModel().selectedRows()})
        return [self.model.item(row) for row in rows]

    def redo_selected(self) -> bool:
        """Make the selected images again, after asking: their earlier results are replaced."""
        sources = [item.source for item in self.selected_items() if item.output]
        if self._running or not sources:
            return False
        if self.refine_check.isChecked():
            self.show_status("Redo selected makes stylized images again; untick Refine to use it.")
            return False
        names = ", ".join(Path(source).name for source in sources[:3]) + (" …" if len(sources) > 3 else "")
        answer = QMessageBox.question(
            self, "Redo selected images?",
            f"Make {len(sources)} image(s) again ({names})?\n\nTheir earlier results in the output "
            "folder are replaced.",
        )
        if answer != QMessageBox.Yes:
            return False
        return self.start(redo=sources)

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
        self.model.loader.wait()
        self.compare_loader.wait()
        return self.host.shutdown()

    def show_status(self, text: str) -> None:
        """This tab's own status line (the window's status bar belongs to the Stylize tab)."""
        self.status_label.setText(text)

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange and hasattr(self, "summary_label"):
            self._show_styles()  # a rich-text label keeps its link colour until its text is set again

    # ================================================================== compare
    def _on_selection(self) -> None:
        """A clicked row shows its photo against its result (the split line, Hold to compare);
        the running image's row, or no row, follows the run."""
        self._update_controls()
        items = self.selected_items()
        if len(items) != 1:
            return
        item = items[0]
        self._live = item.state == RUNNING
        if self._live:
            return
        self._compare_row = self.model.row_of(item.index)
        view = self.preview.view
        view.clear()
        self.preview.info.setText(f"{item.name}: reading…")
        self.compare_loader.request(("before", item.index), item.source, COMPARE_BOX)
        if item.output and Path(item.output).is_file():
            self.compare_loader.request(("after", item.index), item.output, COMPARE_BOX)

    def _compare_loaded(self, key, image: QImage) -> None:
        side, index = key
        if self._live or self.model.row_of(index) != self._compare_row or image.isNull():
            return
        item = self.model.item(self._compare_row)
        if side == "before":
            self.preview.show_content(image)
            done = item.output and Path(item.output).is_file()
            self.preview.info.setText(
                f"{item.name} → {Path(item.output).name}: drag the line to compare" if done
                else f"{item.name}: not made yet ({item.state})"
            )
        else:
            self.preview.view.set_after(image)

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
        inputs, plan = list(self._inputs), self._planner(settings)[0]
        self.host.submit(lambda task: plan(inputs, options))

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
        link = self.palette().color(QPalette.Link).name()
        self.summary_label.setText(
            f"Settings from the Stylize tab: {settings_summary(settings)} — "
            f'<a href="edit" style="color: {link}">Edit…</a>'
        )

    # ================================================================== running
    def _on_partial(self, payload) -> None:
        if isinstance(payload, PlanEvent):
            self.model.set_items(payload.items, self.output_edit.text().strip())
        elif isinstance(payload, BatchItem):
            row = self.model.update_item(payload)
            if payload.state == RUNNING and row >= 0:
                self.queue_view.scrollTo(self.model.index(row, 0))
                self._follow_run(payload)
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

    def _follow_run(self, item: BatchItem) -> None:
        """A new image started: the preview shows it unless a finished row is being compared."""
        selected = self.selected_items()
        self._live = not selected or all(s.state in (RUNNING, WAITING) for s in selected)
        if self._live:
            self._compare_row = -1
            self.preview.view.clear()
            self.preview.info.setText(f"{item.name}: starting…")

    def _on_preview(self, frame: QImage, progress) -> None:
        if self._live:
            self.preview.show_frame(frame, f"{progress.name} · {frame.width()}×{frame.height()} px")

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
            self.quality_spin, self.recursive_check, self.refine_check,
        ):
            widget.setEnabled(idle)
        refining = self.refine_check.isChecked()
        self.refine_size.setEnabled(idle and refining)
        self.styles_button.setEnabled(idle and not refining)
        self.tab_styles_button.setEnabled(idle and self._styles is not None and not refining)
        self.start_button.setEnabled(idle and bool(self._inputs))
        self.pause_button.setEnabled(self._running)
        self.pause_button.setText("Resume" if self.paused else "Pause")
        self.cancel_button.setEnabled(self._running)
        has_selection = self.queue_view.selectionModel().hasSelection()
        self.redo_button.setEnabled(idle and has_selection and not self.refine_check.isChecked())

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


def _run_job(inputs: list[str], run: Callable, options: BatchOptions, gate: PauseGate, hooks: dict):
    """The worker job: plan (the queue as the run sees it), then run with pause and stop;
    ``run`` is run_batch or run_refine with their settings bound (BatchPanel._planner), ``hooks``
    its extra arguments (``redo``)."""

    def job(task) -> BatchSummary:
        return run(
            inputs, options,
            on_plan=lambda plan: task.emit(PlanEvent([dataclasses.replace(item) for item in plan.items])),
            on_item=task.emit, on_progress=task.report, should_stop=task.should_stop, pause=gate, **hooks,
        )

    return job


__all__ = ["BatchPanel", "BatchQueueModel", "PlanEvent"]
