"""The film strip under the preview: the snapshots of the run as they arrive (one every N
iterations and one at the end of each scale), oldest on the left.

Clicking one asks the window to show it (``chosen``); "Continue from here" asks it to start a new
run from the one shown (``continue_requested``). The strip keeps the snapshots under the run's
memory cap with the engine's own ``SnapshotKeeper``, so what it shows is what the engine keeps.
Thumbnails are made in the worker (gui.jobs.SnapshotFrame); nothing here touches pixels.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QSpinBox,
    QToolButton, QVBoxLayout, QWidget,
)

from engine.snapshots import SnapshotKeeper

THUMBNAIL_SIDE = 72
DEFAULT_EVERY = 25


class FilmStrip(QWidget):
    chosen = Signal(object)  # the SnapshotFrame clicked
    continue_requested = Signal(object)  # the SnapshotFrame to start a new run from
    live_requested = Signal()  # back from a snapshot to the run's newest frame

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.keeper = SnapshotKeeper(limit_mb=256)
        self.list = QListWidget()
        self.list.setViewMode(QListView.IconMode)
        self.list.setFlow(QListView.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListView.Static)
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.list.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        self.list.setFixedHeight(THUMBNAIL_SIDE + self.fontMetrics().height() + 30)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.every = QSpinBox(minimum=1, maximum=100000, value=DEFAULT_EVERY, singleStep=5)
        self.every.setToolTip("A snapshot every N iterations of the next run, and one at the end of each scale")
        self.continue_button = QToolButton(text="Continue from here")  # tool buttons: a narrower strip
        self.continue_button.setToolTip("Start a new run from the snapshot shown, with the current settings")
        self.continue_button.clicked.connect(self._continue)
        self.continue_button.setEnabled(False)
        self.live_button = QToolButton(text="Live")
        self.live_button.setToolTip("Back from the snapshot shown to the run's newest picture")
        self.live_button.clicked.connect(self.live_requested)
        self.list.currentItemChanged.connect(self._current_changed)  # a click, or the arrow keys
        header = self.header = QHBoxLayout()
        header.addWidget(QLabel("Snapshots every"))
        header.addWidget(self.every)
        header.addWidget(QLabel("iterations"))
        header.addStretch(1)
        header.addWidget(self.live_button)
        header.addWidget(self.continue_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.list)

    def add_buttons(self, *actions) -> None:
        """Buttons for the window's own actions (Continue, Refine to… px) at the header's end."""
        for action in actions:
            button = QToolButton()
            button.setDefaultAction(action)
            self.header.addWidget(button)

    def snapshot_every(self) -> int:
        """The next run's ``snapshot_every``."""
        return self.every.value()

    def start(self, limit_mb: int) -> None:
        """A new run: empty the strip."""
        self.list.clear()
        self.keeper = SnapshotKeeper(limit_mb)

    def add(self, frame) -> None:
        """Keep ``frame`` (a gui.jobs.SnapshotFrame), dropping the thumbnails the cap thins out."""
        for gone in self.keeper.add(frame.snapshot):
            for row in range(self.list.count()):
                if self.list.item(row).data(Qt.UserRole).snapshot is gone:
                    self.list.takeItem(row)
                    break
        snapshot = frame.snapshot
        item = QListWidgetItem(QIcon(QPixmap.fromImage(frame.thumbnail)), f"{snapshot.iteration}")
        item.setData(Qt.UserRole, frame)
        width, height = snapshot.image.size
        kind = "end of scale" if snapshot.end_of_scale else "snapshot"
        item.setToolTip(f"Iteration {snapshot.iteration} · {width}×{height} px · {kind}")
        self.list.addItem(item)
        self.list.scrollToItem(item)

    def frames(self) -> list:
        return [self.list.item(row).data(Qt.UserRole) for row in range(self.list.count())]

    def current(self):
        """The SnapshotFrame the user picked, or None."""
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item is not None and item.isSelected() else None

    def choose(self, row: int) -> None:
        """Pick the snapshot at ``row`` as a click does."""
        self.list.setCurrentRow(row)

    def forget_choice(self) -> None:
        self.list.clearSelection()
        self.list.setCurrentItem(None)

    def _current_changed(self, item, previous) -> None:
        self.continue_button.setEnabled(item is not None)
        if item is not None:
            self.chosen.emit(item.data(Qt.UserRole))

    def _continue(self) -> None:
        frame = self.current()
        if frame is not None:
            self.continue_requested.emit(frame)


__all__ = ["FilmStrip"]
