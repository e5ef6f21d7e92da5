"""Run settings: output size, iterations, optimiser, start image, seed, colours, device and the
quality used when saving (smoothness is a look control: gui/layer_table.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QSpinBox, QWidget

from engine.devices import available_devices, resolve_device
from engine.settings import MAX_SIZE, MIN_SIZE, TransferSettings

OPTIMISERS = (("L-BFGS (best quality)", "lbfgs"), ("Adam (steady, low memory)", "adam"))
INITS = (("The content photo", "content"), ("Random noise", "noise"))
COLOUR_MODES = (
    ("Style colours", "none"),
    ("Keep content colours (luminance only)", "luminance"),
    ("Keep content colours (match colours)", "match"),
)


def device_choices() -> list[tuple[str, str]]:
    """("Automatic: <the device it picks>", "auto") then every real device by name: each CUDA GPU,
    Apple MPS, the CPU."""
    found = available_devices()
    picked = str(resolve_device("auto"))
    auto = next((d.name for d in found if d.id == picked or d.id == f"{picked}:0"), picked)
    return [(f"Automatic: {auto}", "auto")] + [(f"{d.name} ({d.id})", d.id) for d in found]


def _combo(items) -> QComboBox:
    combo = QComboBox()
    # long names (a CPU model, a colour mode) elide instead of widening the whole window
    combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(12)
    for text, value in items:
        combo.addItem(text, value)
    return combo


def _select(combo: QComboBox, value, label: str | None = None) -> None:
    """Select the item holding ``value``, adding one when a restored setting names another."""
    index = combo.findData(value)
    if index < 0:
        combo.addItem(label or str(value), value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)


class SettingsPanel(QWidget):
    changed = Signal()  # any setting changed: the window's session takes it (apply_to)

    # the TransferSettings fields this panel shows
    FIELDS = frozenset({"size", "start_size", "iterations", "seed", "optimizer", "init", "preserve_colors",
                        "device"})

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.size_box = QSpinBox(minimum=MIN_SIZE, maximum=MAX_SIZE, singleStep=64, suffix=" px")
        self.size_box.setToolTip("Long side of the output image")
        self.start_size = QSpinBox(minimum=MIN_SIZE, maximum=MAX_SIZE, singleStep=64, suffix=" px")
        self.start_size.setToolTip(
            "Long side of the first, coarsest scale; the image then grows in steps of √2 up to the output size"
        )
        self.iterations = QSpinBox(minimum=1, maximum=100000, singleStep=50)
        self.iterations.setToolTip(
            "Most optimisation steps at the output size, or at 512 px for a larger output, whose bigger scales "
            "then run fewer in proportion; each smaller scale runs fewer (the iteration growth of the preset), "
            "but the first, smallest one about two thirds as many (its start share), as the painting's large "
            "shapes form there. "
            "A scale whose picture has stopped changing ends early."
        )
        self.optimizer = _combo(OPTIMISERS)
        self.optimizer.setToolTip(
            "How the picture is improved each step: L-BFGS reaches the best result in fewest steps; Adam "
            "moves more steadily and needs less memory for very large pictures"
        )
        self.init = _combo(INITS)
        self.init.setToolTip("What the optimisation starts from")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.seed.setToolTip("Which random noise a run uses: the same seed and settings give the same picture")
        self.random_seed = QCheckBox("Random")
        self.random_seed.setToolTip("A new seed at each Start (the saved recipe records it)")
        self.random_seed.toggled.connect(lambda random: self.seed.setEnabled(not random))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        self.preserve_colors = _combo(COLOUR_MODES)
        self.preserve_colors.setToolTip(
            "Style colours: the painting's palette. Keep content colours: the photo's own colours under the "
            "painting's strokes (luminance only: strokes painted in light and dark only; match colours: the "
            "painting's colours shifted to the photo's first)"
        )
        self.device = _combo(device_choices())
        self.device.setToolTip("Where the work runs")
        for combo in (self.optimizer, self.init, self.preserve_colors, self.device):
            for index in range(combo.count()):
                combo.setItemData(index, combo.itemText(index), Qt.ToolTipRole)
        self.quality = QSpinBox(minimum=1, maximum=100, value=95)
        self.quality.setToolTip("JPEG and WebP quality used by Save (100 = lossless WebP)")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow("Output size", self.size_box)
        form.addRow("First scale", self.start_size)
        form.addRow("Iterations (full size)", self.iterations)
        form.addRow("Optimiser", self.optimizer)
        form.addRow("Start from", self.init)
        form.addRow("Seed", seed_row)
        form.addRow("Colours", self.preserve_colors)
        form.addRow("Device", self.device)
        form.addRow("Save quality", self.quality)
        for spin in (self.size_box, self.start_size, self.iterations, self.seed):
            spin.valueChanged.connect(self.changed)
        for combo in (self.optimizer, self.init, self.preserve_colors, self.device):
            combo.currentIndexChanged.connect(self.changed)
        self.random_seed.toggled.connect(self.changed)

    def load(self, settings: TransferSettings) -> None:
        widgets = (self.size_box, self.start_size, self.iterations, self.seed, self.random_seed, self.optimizer,
                   self.init, self.preserve_colors, self.device)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.size_box.setValue(settings.size)
            self.start_size.setValue(settings.start_size)
            self.iterations.setValue(settings.iterations)
            self.seed.setValue(settings.seed or 0)
            self.random_seed.setChecked(settings.seed is None)
            self.seed.setEnabled(settings.seed is not None)
            _select(self.optimizer, settings.optimizer)
            _select(self.init, settings.init, "An image (from a recipe)")
            _select(self.preserve_colors, settings.preserve_colors)
            _select(self.device, settings.device, f"{settings.device} (not available here)")
        finally:
            for widget in widgets:
                widget.blockSignals(False)

    def apply_to(self, settings: TransferSettings) -> TransferSettings:
        return settings.replace(
            size=self.size_box.value(),
            start_size=self.start_size.value(),
            iterations=self.iterations.value(),
            seed=None if self.random_seed.isChecked() else self.seed.value(),
            optimizer=self.optimizer.currentData(),
            init=self.init.currentData(),
            preserve_colors=self.preserve_colors.currentData(),
            device=self.device.currentData(),
        )
