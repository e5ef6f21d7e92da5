"""Undo and redo of look edits, through the Session (Qt's QUndoStack).

Every change of a look field (``engine.settings.LOOK_FIELDS``: strength, layers, stroke size,
smoothness, size, iterations, ... whether from a slider, the table, a preset, Reset or a restored
recipe) becomes one command holding the fields' values before and after. Undo and redo write them
back with ``session.update``, so every widget shows them and a running job is steered by them
like any other edit. A slider drag is many changes of the same fields: those within
``MERGE_SECONDS`` of each other merge into one step.
"""

from __future__ import annotations

import copy
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.settings import LOOK_FIELDS
from gui.session import Session

MERGE_SECONDS = 1.0
LOOK_EDIT_ID = 1604  # QUndoCommand.id(): commands that may merge share one
FIELD_NAMES = {
    "content_weight": "style strength", "style_weight": "style strength", "style_layers": "brushwork",
    "content_layers": "content layers", "style_scale": "stroke size", "tv_weight": "smoothness",
    "start_size": "first scale", "iteration_growth": "iteration growth",
    "iteration_side": "iteration side", "start_share": "first-scale iterations",
    "coarse_content": "coarse-scale content", "preserve_colors": "colours",
    "init": "start image", "learning_rate": "learning rate",
}


class LookEdit(QUndoCommand):
    def __init__(self, history: "LookHistory", before: dict, after: dict):
        names = sorted({FIELD_NAMES.get(name, name) for name in after})
        super().__init__(f"{', '.join(names)} edit")
        self.history = history
        self.before, self.after = before, after
        self.when = time.monotonic()
        self.presets = history.preset_change  # (shown before, after) in the preset combo, or None
        self._done = True  # pushed after the edit happened: the first redo has nothing to do

    def id(self) -> int:
        return LOOK_EDIT_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, LookEdit) or set(other.after) != set(self.after):
            return False
        if self.presets or other.presets:  # a preset is a step of its own
            return False
        if other.when - self.when > MERGE_SECONDS:
            return False
        self.after, self.when = other.after, other.when
        return True

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self.history.write(self.after)
        if self.presets:
            self.history.preset_shown.emit(self.presets[1])

    def undo(self) -> None:
        self.history.write(self.before)
        if self.presets:
            self.history.preset_shown.emit(self.presets[0])


class LookHistory(QObject):
    """Watches the session's look fields and keeps their edits on ``stack``."""

    preset_shown = Signal(str)  # undo/redo of a preset: the name the preset combo shows again ("" none)

    def __init__(self, session: Session, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.preset_change: tuple[str, str] | None = None  # set while a preset is applied
        self.stack = QUndoStack(self)
        self._last = session.settings()
        session.settings_changed.connect(self._on_changed)

    def _on_changed(self, fields, origin) -> None:
        before, self._last = self._last, self.session.settings()
        look = set(fields) & set(LOOK_FIELDS)
        if origin is self or not look:
            return
        self.stack.push(LookEdit(
            self,
            {name: copy.deepcopy(getattr(before, name)) for name in look},
            {name: copy.deepcopy(getattr(self._last, name)) for name in look},
        ))

    def write(self, values: dict) -> None:
        self.session.update(origin=self, **copy.deepcopy(values))

    def forget(self) -> None:
        """Start a new history from what the session holds now (after the window restored it)."""
        self._last = self.session.settings()
        self.stack.clear()


__all__ = ["LookEdit", "LookHistory"]
