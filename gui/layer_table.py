"""The look: presets, the painter-level controls (Style strength, Stroke size, Detail ↔ Broad
strokes, Smoothness: gui/painter_controls.py has their mappings) and, folded under "Advanced:
network layers", the per-layer weight table.

``LayerWeightsModel`` is a QAbstractTableModel over the content_layers / style_layers dicts of
TransferSettings: one row per VGG19 ReLU layer, a content and a style weight column (0 = unused).
"""

from __future__ import annotations

import json
import math

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QHeaderView, QInputDialog, QLabel,
    QMessageBox, QPushButton, QSizePolicy, QSlider, QStyledItemDelegate, QTableView, QToolButton, QVBoxLayout,
    QWidget,
)

from engine.errors import SettingsError
from engine.layers import RELU_LAYERS, layer_name
from engine.settings import (
    DEFAULT_STYLE_WEIGHT, LOOK_FIELDS, TransferSettings, list_presets, load_preset, preset_description,
    save_user_preset,
)
from gui import painter_controls as painter
from gui.screens import fit_combo_to

CONTENT_COLUMN, STYLE_COLUMN = 0, 1
MAX_LAYER_WEIGHT = 1000.0
SLIDER_RANGE = 100
BASE_RATIO = DEFAULT_STYLE_WEIGHT  # style_weight / content_weight at the slider's centre
STEPS_PER_DECADE = 50
FITTED_NAME = 16  # preset names up to this long ("Painting's world") show whole in the combo
# Measured (bench/study_look.py, 12 photo x painting pairs): the photo's content distance grows
# by about the same amount (0.045 of the painting's own) for each doubling of the style weight,
# so a log scale moves in even steps from "photo with a painted surface" to "the painting's world".

# What each depth of VGG19 does to a picture, in a painter's words (tooltips of the layer table).
DEPTH_ROLES = {
    1: "colours and the finest grain of the paint",
    2: "small brush marks and textures",
    3: "larger strokes and repeated motifs",
    4: "shapes and their arrangement: as content, the photo's structure (depth 4.2 by default)",
    5: "whole objects of the painting (faces, figures): a large style weight here paints them into the photo",
}


def layer_tooltip(layer: str, kind: str) -> str:
    role = DEPTH_ROLES[int(layer[4])]
    if kind == "content":
        use = ("how much of the photo's own arrangement at this depth is kept (the smaller scales at the start of "
               "a run also keep it one depth shallower, where it is as fine in the picture)")
    else:
        use = "how much of the painting's manner at this depth is painted in"
    return (f"{layer_name(layer)} — {role}: {use} (0 = not used). Shallow depths carry brushwork and "
            f"texture, deep ones structure and objects. [VGG19 {layer}]")


def depth_tooltip(layer: str) -> str:
    """"depth 3.1: larger strokes and repeated motifs [VGG19 relu3_1]" (the table and the Explorer)."""
    return f"{layer_name(layer)}: {DEPTH_ROLES[int(layer[4])]} [VGG19 {layer}]"


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
            return depth_tooltip(RELU_LAYERS[section])
        if role != Qt.DisplayRole:
            return None
        if orientation == Qt.Horizontal:
            return self.HEADERS[section]
        return layer_name(RELU_LAYERS[section])


def _nonzero(table: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in table.items() if v > 0}


class WeightDelegate(QStyledItemDelegate):
    def createEditor(self, parent, option, index):
        editor = QDoubleSpinBox(parent, decimals=5, minimum=0.0, maximum=MAX_LAYER_WEIGHT, singleStep=0.25)
        editor.setFrame(False)
        editor.setAlignment(Qt.AlignCenter)
        return editor


class LookPanel(QWidget):
    """Presets, the painter-level controls and (folded) the layer table; emits ``look_changed``
    whenever one of its fields changed (the window's session takes them: ``apply_to``)."""

    look_changed = Signal()  # any field shown here; the weights among them steer a running job
    FIELDS = frozenset({"content_layers", "style_layers", "content_weight", "style_weight", "style_scale",
                        "tv_weight"})  # shown here
    preset_applied = Signal(object)  # TransferSettings: the preset (or Reset) applied on the current ones
    applying = ""  # while preset_applied is emitted: the preset's name ("" for Reset)
    message = Signal(str)

    def __init__(self, settings_source, parent: QWidget | None = None):
        super().__init__(parent)
        self._settings_source = settings_source  # -> the window's current TransferSettings
        self.content_weight = 1.0
        self.style_weight = DEFAULT_STYLE_WEIGHT
        self.style_scale = 1.0
        self.tv_weight = TransferSettings().tv_weight
        self._applied: tuple[str, dict] | None = None  # the preset last applied: name, its fields
        self.model = LayerWeightsModel(self)
        self.model.weights_changed.connect(self._on_table_edited)
        self._build_presets()
        self._build_balance()
        self._build_painter_controls()
        self._build_table()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.preset_row)
        layout.addLayout(self.controls_form)
        layout.addWidget(self.advanced_button)
        layout.addWidget(self.table, 1)
        layout.addStretch(0)

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
        self.reset_button.setToolTip(
            "Back to the defaults of everything a preset sets: strength, stroke size, detail, smoothness, "
            "layers, size, iterations, colours and optimiser"
        )
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
            "Style strength: how much of the painting. Left keeps the photo with a painted surface, right "
            "gives the painting's world; 50 % is the default and every 25 % is ten times more style."
        )
        self.balance.valueChanged.connect(self._on_balance_moved)
        self.ratio_label = _value_label(self, "100 %")

    def _build_painter_controls(self) -> None:
        self.stroke_size = _slider(-painter.SLIDER_STEPS, painter.SLIDER_STEPS, painter.STROKE_STEPS_PER_DOUBLING)
        self.stroke_size.setToolTip(
            "Stroke size: the painting is seen this big against the picture before its brush marks are "
            "copied. Above 100 % the strokes come out larger, below smaller."
        )
        self.stroke_size.valueChanged.connect(self._on_stroke_moved)
        self.stroke_label = _value_label(self, "400 %")
        self.detail = _slider(-painter.SLIDER_STEPS, painter.SLIDER_STEPS, painter.SLIDER_STEPS)
        self.detail.setToolTip(
            "Detail: the painting's fine grain and colour. Broad strokes: its larger marks and motifs. "
            "Moves the weight between shallow and deep network layers (Advanced shows them)."
        )
        self.detail.valueChanged.connect(self._on_detail_moved)
        self.detail_label = _value_label(self, "custom")
        self.smoothness = _slider(0, painter.SLIDER_STEPS, 25)
        self.smoothness.setToolTip(
            "Smoothness: evens out speckle and noise between brush marks; high values flatten the paint. "
            "Far left is off."
        )
        self.smoothness.valueChanged.connect(self._on_smoothness_moved)
        self.smoothness_label = _value_label(self, "20.00")
        form = self.controls_form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow("Style strength", _ends("Photo", self.balance, "Painting", self.ratio_label))
        form.addRow("Stroke size", _ends("Small", self.stroke_size, "Large", self.stroke_label))
        form.addRow("Brushwork", _ends("Detail", self.detail, "Broad", self.detail_label))
        form.addRow("Smoothness", _ends("Off", self.smoothness, "Flat", self.smoothness_label))

    def _build_table(self) -> None:
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
        self.advanced_button = QToolButton(text="Advanced: network layers", checkable=True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.advanced_button.setAutoRaise(True)
        self.advanced_button.setToolTip(
            "The weight of each network layer, as content (the photo's arrangement kept) and as style "
            "(the painting's manner painted in): shallow depths carry brushwork, deep ones structure"
        )
        self.advanced_button.toggled.connect(self.show_advanced)
        self.show_advanced(False)

    def show_advanced(self, shown: bool) -> None:
        self.advanced_button.setChecked(shown)
        self.advanced_button.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)
        self.table.setVisible(shown)

    # --- settings in and out ------------------------------------------------------------
    def load(self, settings: TransferSettings) -> None:
        self.model.load(settings)
        self.content_weight = settings.content_weight
        self.style_weight = settings.style_weight
        self.style_scale = settings.style_scale
        self.tv_weight = settings.tv_weight
        self._show_balance()
        self._show_painter_controls()

    def apply_to(self, settings: TransferSettings) -> TransferSettings:
        return self.model.apply_to(settings).replace(
            content_weight=self.content_weight, style_weight=self.style_weight, style_scale=self.style_scale,
            tv_weight=self.tv_weight,
        )

    def ratio(self) -> float:
        return self.style_weight / self.content_weight if self.content_weight else math.inf

    def _show_balance(self) -> None:
        _set_quietly(self.balance, slider_for_ratio(self.ratio()))
        self._show_ratio()

    def _show_ratio(self) -> None:
        ratio = self.ratio()
        self.ratio_label.setText(painter.strength_text(ratio))
        self.ratio_label.setToolTip(
            f"style weight {self.style_weight:.4g} : content weight {self.content_weight:.4g}"
        )

    def _show_painter_controls(self) -> None:
        _set_quietly(self.stroke_size, painter.stroke_position(self.style_scale))
        self.stroke_label.setText(painter.stroke_text(self.style_scale))
        self._show_detail()
        _set_quietly(self.smoothness, painter.position_for_tv(self.tv_weight))
        self.smoothness_label.setText(painter.smoothness_text(self.tv_weight))

    def _show_detail(self) -> None:
        falloff, exact = painter.falloff_of(self.model.style_layers())
        _set_quietly(self.detail, painter.position_for_falloff(falloff))
        self.detail_label.setText(f"1 : {1 / falloff:.3g}" if exact else "custom")
        self.detail_label.setToolTip(
            f"Each depth weighs 1/{1 / falloff:.3g} of the one before" if exact else
            "Layer weights set by a preset or in Advanced; moving the slider replaces them"
        )

    def _on_balance_moved(self, position: int) -> None:
        base = self.content_weight if self.content_weight > 0 else 1.0
        self.content_weight = base
        self.style_weight = base * ratio_for_slider(position)
        self._show_ratio()
        self.look_changed.emit()

    def _on_stroke_moved(self, position: int) -> None:
        self.style_scale = painter.stroke_scale(position)
        self.stroke_label.setText(painter.stroke_text(self.style_scale))
        self.look_changed.emit()

    def _on_detail_moved(self, position: int) -> None:
        series = painter.series_weights(painter.falloff_for_position(position))
        self.model.set_layers(self.model.content_layers(), series)
        self._show_detail()
        self.look_changed.emit()

    def _on_smoothness_moved(self, position: int) -> None:
        self.tv_weight = painter.tv_for_position(position)
        self.smoothness_label.setText(painter.smoothness_text(self.tv_weight))
        self.look_changed.emit()

    def _on_table_edited(self) -> None:
        self._show_detail()
        self.look_changed.emit()

    # --- presets ------------------------------------------------------------------------
    def refresh_presets(self, select: str = "") -> None:
        self.presets.blockSignals(True)
        self.presets.clear()
        self.presets.addItem("Choose…", "")
        for name in list_presets():
            self.presets.addItem(name, name)
            self.presets.setItemData(self.presets.count() - 1, preset_description(name), Qt.ToolTipRole)
        # whole names at the smallest window, "(modified)" included; a longer name elides
        fit_combo_to(self.presets, [f"{name} (modified)" for name in list_presets() if len(name) <= FITTED_NAME])
        index = self.presets.findData(select) if select else 0
        self.presets.setCurrentIndex(max(index, 0))
        self.presets.blockSignals(False)
        self._applied = (select, _preset_fields(select, self._settings_source())) if index > 0 else None
        self.presets.setToolTip(preset_description(select) if index > 0 else
                                "Apply a preset: layer weights, balance and the other look settings")

    def applied_preset(self) -> str:
        """The preset the combo names ("" for none)."""
        return self._applied[0] if self._applied else ""

    def show_applied(self, name: str) -> None:
        """Name ``name`` in the combo again (undo and redo of a preset), "(modified)" as it is."""
        self.refresh_presets(select=name)
        self.show_preset_state(self._settings_source())

    def apply_preset(self, name: str) -> None:
        if not name:
            return
        try:
            settings = load_preset(name, self._settings_source())
        except SettingsError as exc:
            self.message.emit(str(exc))
            return
        self.load(settings)
        self.applying = name  # for preset_applied's receivers: the combo shows the new name only after
        self.preset_applied.emit(settings)
        self.refresh_presets(select=name)

    def show_preset_state(self, settings: TransferSettings) -> None:
        """Name the applied preset in the combo, "(modified)" once a field it sets has changed."""
        if self._applied is None:
            return
        name, fields = self._applied
        index = self.presets.findData(name)
        if index < 0:
            return
        modified = any(getattr(settings, key) != value for key, value in fields.items())
        self.presets.setItemText(index, f"{name} (modified)" if modified else name)

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
        """Every field a preset can set (LOOK_FIELDS) back to its default: nothing a preset
        changed (a stroke size, a smoothness) survives unseen."""
        settings = self._settings_source().with_look(TransferSettings().look())
        self.load(settings)
        self.refresh_presets()
        self.applying = ""
        self.preset_applied.emit(settings)


def _preset_fields(name: str, base: TransferSettings) -> dict:
    """The fields preset ``name`` sets, with the values it sets them to."""
    path = list_presets().get(name)
    try:
        keys = set(json.loads(path.read_text(encoding="utf-8"))) & set(LOOK_FIELDS) if path else set()
        applied = load_preset(name, base)
    except (OSError, ValueError, TypeError, SettingsError):
        return {}
    return {key: getattr(applied, key) for key in keys}


def _slider(low: int, high: int, tick: int) -> QSlider:
    slider = QSlider(Qt.Horizontal, minimum=low, maximum=high)
    slider.setPageStep(10)
    slider.setTickPosition(QSlider.TicksBelow)
    slider.setTickInterval(tick)
    return slider


def _value_label(widget: QWidget, widest: str) -> QLabel:
    label = QLabel()
    label.setMinimumWidth(widget.fontMetrics().horizontalAdvance(widest + " "))
    label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
    return label


def _ends(left: str, slider: QSlider, right: str, value: QLabel) -> QHBoxLayout:
    """A slider between the words for its ends, its value after them."""
    row = QHBoxLayout()
    row.addWidget(QLabel(left))
    row.addWidget(slider, 1)
    row.addWidget(QLabel(right))
    row.addWidget(value)
    return row


def _set_quietly(slider: QSlider, position: int) -> None:
    slider.blockSignals(True)
    slider.setValue(position)
    slider.blockSignals(False)
