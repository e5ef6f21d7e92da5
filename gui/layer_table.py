"""The look: presets, the content-versus-style balance and the per-layer weight table.

``LayerWeightsModel`` is a QAbstractTableModel over the content_layers / style_layers dicts of
TransferSettings: one row per VGG19 ReLU layer, a content and a style weight column (0 = unused).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QInputDialog, QLabel,
    QMessageBox, QPushButton, QSizePolicy, QSlider, QStyledItemDelegate, QTableView, QVBoxLayout, QWidget,
)

from engine.errors import SettingsError
from engine.layers import RELU_LAYERS
from engine.settings import (
    DEFAULT_STYLE_WEIGHT, TransferSettings, list_presets, load_preset, preset_description, save_user_preset,
)

CONTENT_COLUMN, STYLE_COLUMN = 0, 1
MAX_LAYER_WEIGHT = 1000.0
SLIDER_RANGE = 100
BASE_RATIO = DEFAULT_STYLE_WEIGHT  # style_weight / content_weight at the slider's centre
STEPS_PER_DECADE = 50
# Measured (bench/study_look.py, 12 photo x painting pairs): the photo's content distance grows
# by about the same amount (0.045 of the painting's own) for each doubling of the style weight,
# so a log scale moves in even steps from "photo with a painted surface" to "the painting's world".

# What each depth of VGG19 does to a picture, in a painter's words (tooltips of the layer table).
DEPTH_ROLES = {
    1: "colours and the finest grain of the paint",
    2: "small brush marks and textures",
    3: "larger strokes and repeated motifs",
    4: "shapes and their arrangement: as content, the photo's structure (relu4_2 by default)",
    5: "whole objects of the painting (faces, figures): a large style weight here paints them into the photo",
}


def layer_tooltip(layer: str, kind: str) -> str:
    role = DEPTH_ROLES[int(layer[4])]
    use = "matched to the photo" if kind == "content" else "taken from the painting"
    return f"{layer}: {role} — {use} (0 = not used). Shallow layers carry texture, deep ones structure."


def ratio_for_slider(position: int) -> float:
    """style_weight / content_weight for a slider position: 1/100 .. 100 times the default, log scale."""
    return BASE_RATIO * 10 ** (position / STEPS_PER_DECADE)


def slider_for_ratio(ratio: float) -> int:
    if ratio <= 0 or not math.isfinite(ratio):
        return -SLIDER_RANGE
    position = round(STEPS_PER_DECADE * math.log10(ratio / BASE_RATIO))
    return max(-SLIDER_RANGE, min(SLIDER_RANGE, position))


class LayerWeightsModel(QAbstractTableModel):
    """Rows: relu1_1 .. relu5_4; columns: content weight, style weight."""

    weights_changed = Signal()

    HEADERS = ("Content", "Style")

    def __init__(self, parent=None):
        super().__init__(parent)
        self._content: dict[str, float] = {}
        self._style: dict[str, float] = {}

    # --- binding to settings ------------------------------------------------------------
    def set_layers(self, content: dict[str, float], style: dict[str, float]) -> None:
        self.beginResetModel()
        self._content = {k: float(v) for k, v in content.items()}
        self._style = {k: float(v) for k, v in style.items()}
        self.endResetModel()

    def load(self, settings: TransferSettings) -> None:
        self.set_layers(settings.content_layers, settings.style_layers)

    def content_layers(self) -> dict[str, float]:
        return _nonzero(self._content)

    def style_layers(self) -> dict[str, float]:
        return _nonzero(self._style)

    def apply_to(self, settings: TransferSettings) -> TransferSettings:
        return settings.replace(content_layers=self.content_layers(), style_layers=self.style_layers())

    # --- Qt model -----------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(RELU_LAYERS)

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else 2

    def _table(self, column: int) -> dict[str, float]:
        return self._content if column == CONTENT_COLUMN else self._style

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        value = self._table(index.column()).get(RELU_LAYERS[index.row()], 0.0)
        if role == Qt.DisplayRole:
            return f"{value:g}" if value else "·"
        if role == Qt.EditRole:
            return value
        if role == Qt.TextAlignmentRole:
            return int(Qt.AlignCenter)
        if role == Qt.ForegroundRole and not value:
            return QPalette().brush(QPalette.PlaceholderText)
        if role == Qt.ToolTipRole:
            return layer_tooltip(RELU_LAYERS[index.row()], self.HEADERS[index.column()].lower())
        return None

    def setData(self, index, value, role=Qt.EditRole):
        if role != Qt.EditRole or not index.isValid():
            return False
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        if not math.isfinite(number) or not 0 <= number <= MAX_LAYER_WEIGHT:
            return False
        table = self._table(index.column())
        layer = RELU_LAYERS[index.row()]
        if table.get(layer, 0.0) == number:
            return True
        table[layer] = number
        self.dataChanged.emit(index, index, [Qt.DisplayRole, Qt.EditRole])
        self.weights_changed.emit()
        return True

    def flags(self, index):
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsEditable

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.ToolTipRole and orientation == Qt.Vertical:
            return f"{RELU_LAYERS[section]}: {DEPTH_ROLES[int(RELU_LAYERS[section][4])]}"
        if role != Qt.DisplayRole:
            return None
        if orientation == Qt.Horizontal:
            return self.HEADERS[section]
        return RELU_LAYERS[section]


def _nonzero(table: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in table.items() if v > 0}


class WeightDelegate(QStyledItemDelegate):
    def createEditor(self, parent, option, index):
        editor = QDoubleSpinBox(parent, decimals=5, minimum=0.0, maximum=MAX_LAYER_WEIGHT, singleStep=0.25)
        editor.setFrame(False)
        editor.setAlignment(Qt.AlignCenter)
        return editor


class LookPanel(QWidget):
    """Presets, the content/style balance slider and the layer table; emits ``look_changed``
    whenever a weight the running optimisation can pick up has changed."""

    look_changed = Signal()  # weights that live steering can apply
    FIELDS = frozenset({"content_layers", "style_layers", "content_weight", "style_weight"})  # shown here
    preset_applied = Signal(object)  # TransferSettings: the preset applied on the current ones
    message = Signal(str)

    def __init__(self, settings_source, parent: QWidget | None = None):
        super().__init__(parent)
        self._settings_source = settings_source  # -> the window's current TransferSettings
        self.content_weight = 1.0
        self.style_weight = DEFAULT_STYLE_WEIGHT
        self.model = LayerWeightsModel(self)
        self.model.weights_changed.connect(self.look_changed)
        self._build_presets()
        self._build_balance()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegate(WeightDelegate(self.table))
        self.table.setEditTriggers(
            QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed | QAbstractItemView.AnyKeyPressed
            | QAbstractItemView.SelectedClicked
        )
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setAlternatingRowColors(True)
        rows_height = self.table.verticalHeader().defaultSectionSize() * len(RELU_LAYERS)
        self.table.setMinimumHeight(min(rows_height, 260))
        self.table.setMaximumHeight(rows_height + self.table.horizontalHeader().sizeHint().height() + 4)
        self.table.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.preset_row)
        layout.addLayout(self.balance_layout)
        layout.addWidget(self.table, 1)

    # --- widgets ------------------------------------------------------------------------
    def _build_presets(self) -> None:
        self.presets = QComboBox()
        self.presets.setToolTip("Apply a preset: layer weights, balance and the other look settings")
        self.presets.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.presets.setMinimumContentsLength(10)
        self.presets.activated.connect(lambda _: self.apply_preset(self.presets.currentData()))
        self.save_preset_button = QPushButton("Save…")
        self.save_preset_button.setToolTip("Save the current look as a preset")
        self.save_preset_button.clicked.connect(self.ask_preset_name)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the default layer weights and balance")
        self.reset_button.clicked.connect(self.reset)
        self.preset_row = QHBoxLayout()
        self.preset_row.addWidget(QLabel("Preset"))
        self.preset_row.addWidget(self.presets, 1)
        self.preset_row.addWidget(self.save_preset_button)
        self.preset_row.addWidget(self.reset_button)
        self.refresh_presets()

    def _build_balance(self) -> None:
        self.balance = QSlider(Qt.Horizontal, minimum=-SLIDER_RANGE, maximum=SLIDER_RANGE)
        self.balance.setPageStep(10)
        self.balance.setTickPosition(QSlider.TicksBelow)
        self.balance.setTickInterval(STEPS_PER_DECADE)
        self.balance.setToolTip(
            "How much of the painting: left keeps the photo with a painted surface, right gives the "
            "painting's world. Each tick is ten times the style weight; the middle is the default."
        )
        self.balance.valueChanged.connect(self._on_balance_moved)
        self.ratio_label = QLabel()
        self.ratio_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("style 10000 % "))
        self.ratio_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.balance_layout = QHBoxLayout()
        self.balance_layout.addWidget(QLabel("Photo"))
        self.balance_layout.addWidget(self.balance, 1)
        self.balance_layout.addWidget(QLabel("Painting"))
        self.balance_layout.addWidget(self.ratio_label)

    # --- settings in and out ------------------------------------------------------------
    def load(self, settings: TransferSettings) -> None:
        self.model.load(settings)
        self.content_weight = settings.content_weight
        self.style_weight = settings.style_weight
        self._show_balance()

    def apply_to(self, settings: TransferSettings) -> TransferSettings:
        return self.model.apply_to(settings).replace(
            content_weight=self.content_weight, style_weight=self.style_weight
        )

    def ratio(self) -> float:
        return self.style_weight / self.content_weight if self.content_weight else math.inf

    def _show_balance(self) -> None:
        self.balance.blockSignals(True)
        self.balance.setValue(slider_for_ratio(self.ratio()))
        self.balance.blockSignals(False)
        self._show_ratio()

    def _show_ratio(self) -> None:
        ratio = self.ratio()
        strength = 100 * ratio / BASE_RATIO  # of the default balance
        self.ratio_label.setText(f"style {strength:.3g} %" if math.isfinite(ratio) else "style only")
        self.ratio_label.setToolTip(
            f"style weight {self.style_weight:.4g} : content weight {self.content_weight:.4g}"
        )

    def _on_balance_moved(self, position: int) -> None:
        base = self.content_weight if self.content_weight > 0 else 1.0
        self.content_weight = base
        self.style_weight = base * ratio_for_slider(position)
        self._show_ratio()
        self.look_changed.emit()

    # --- presets ------------------------------------------------------------------------
    def refresh_presets(self, select: str = "") -> None:
        self.presets.blockSignals(True)
        self.presets.clear()
        self.presets.addItem("Choose…", "")
        for name in list_presets():
            self.presets.addItem(name, name)
            self.presets.setItemData(self.presets.count() - 1, preset_description(name), Qt.ToolTipRole)
        index = self.presets.findData(select) if select else 0
        self.presets.setCurrentIndex(max(index, 0))
        self.presets.blockSignals(False)

    def apply_preset(self, name: str) -> None:
        if not name:
            return
        try:
            settings = load_preset(name, self._settings_source())
        except SettingsError as exc:
            self.message.emit(str(exc))
            return
        self.load(settings)
        self.preset_applied.emit(settings)
        self.look_changed.emit()

    def save_preset(self, name: str) -> None:
        """Save the current look as a user preset (raises SettingsError for a bad name)."""
        save_user_preset(name.strip(), self._settings_source())
        self.refresh_presets(select=name.strip())

    def ask_preset_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:")
        if not ok or not name.strip():
            return
        if name.strip() in list_presets():
            answer = QMessageBox.question(self, "Save preset", f"Replace the preset “{name.strip()}”?")
            if answer != QMessageBox.Yes:
                return
        try:
            self.save_preset(name)
        except (SettingsError, OSError) as exc:
            QMessageBox.warning(self, "Save preset", str(exc))

    def reset(self) -> None:
        defaults = TransferSettings()
        self.load(defaults)
        self.refresh_presets()
        self.look_changed.emit()
