"""Issue 16, parts 1-3: painter-level controls, no lost work, the cost up front (pytest-qt)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.layers import RELU_LAYERS
from engine.settings import DEFAULT_STYLE_LAYERS, LOOK_FIELDS, TransferSettings
from gui import painter_controls as painter
from gui.layer_table import STYLE_COLUMN
from gui.main_window import MainWindow
from tests.qt_helpers import dialogs  # noqa: F401  (autouse fixture)


@pytest.fixture
def window(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    yield win
    win.close()


# --- 1. painter-level controls ------------------------------------------------------------
def test_mappings_are_centred_on_the_defaults_and_invert():
    assert painter.series_weights(painter.DEFAULT_FALLOFF) == pytest.approx(DEFAULT_STYLE_LAYERS)
    assert painter.falloff_of(DEFAULT_STYLE_LAYERS) == (pytest.approx(0.25, rel=1e-3), True)
    assert painter.falloff_of({"relu2_1": 1.0, "relu3_1": 0.25})[1] is False  # not a series: "custom"
    assert painter.strength_for_ratio(TransferSettings().style_weight) == 50
    assert painter.strength_for_ratio(10 * TransferSettings().style_weight) == pytest.approx(75)
    for percent in (0, 30, 50, 100):
        assert painter.strength_for_ratio(painter.ratio_for_strength(percent)) == pytest.approx(percent)
    assert painter.stroke_scale(painter.stroke_position(1.4)) == pytest.approx(1.4, rel=0.02)
    assert painter.tv_for_position(0) == 0 and painter.position_for_tv(0.0) == 0
    assert painter.tv_for_position(painter.position_for_tv(0.5)) == pytest.approx(0.5, rel=0.05)


def test_painter_controls_write_the_settings(window):
    panel = window.look_panel
    assert panel.stroke_label.text() == "100 %" and panel.detail_label.text() == "1 : 4"
    panel.stroke_size.setValue(50)  # one doubling
    assert window.session.settings().style_scale == 2.0 and panel.stroke_label.text() == "200 %"
    panel.detail.setValue(-100)  # all the way to Detail
    detail = window.session.settings().style_layers
    panel.detail.setValue(100)  # all the way to Broad
    broad = window.session.settings().style_layers
    assert detail["relu1_1"] > DEFAULT_STYLE_LAYERS["relu1_1"] > broad["relu1_1"]
    assert detail["relu5_1"] < DEFAULT_STYLE_LAYERS["relu5_1"] < broad["relu5_1"]
    assert sum(broad.values()) == pytest.approx(sum(DEFAULT_STYLE_LAYERS.values()))  # strength unchanged
    panel.smoothness.setValue(0)
    assert window.session.settings().tv_weight == 0 and panel.smoothness_label.text() == "off"
    panel.model.setData(panel.model.index(RELU_LAYERS.index("relu2_2"), STYLE_COLUMN), 3.0)
    assert panel.detail_label.text() == "custom"  # a table edit the series cannot show


def test_layer_table_is_folded_under_advanced_with_one_vocabulary(window):
    panel = window.look_panel
    window.show()
    assert not panel.table.isVisible() and panel.advanced_button.text() == "Advanced: network layers"
    panel.advanced_button.click()
    assert panel.table.isVisible()
    model = panel.model
    assert model.headerData(0, Qt.Vertical) == "depth 1.1"
    tooltip = model.data(model.index(RELU_LAYERS.index("relu5_1"), STYLE_COLUMN), Qt.ToolTipRole)
    assert "depth 5.1" in tooltip and "objects" in tooltip and "brushwork" in tooltip
    explorer = window.panels[1]
    names = [explorer.layer_combo.itemText(i) for i in range(explorer.layer_combo.count())]
    assert "depth 3.1" in names and not any("conv" in name or "relu" in name for name in names)


def test_preset_shows_modified_and_reset_leaves_no_hidden_field(window):
    """Bold strokes sets the stroke size (1.4) and the smoothness: both visible, "(modified)" after
    an edit, and Reset puts back every field a preset can set."""
    panel = window.look_panel
    window.settings_panel.iterations.setValue(37)
    panel.apply_preset("Bold strokes")
    settings = window.session.settings()
    assert settings.style_scale == 1.4 and panel.stroke_label.text() == "140 %"
    assert panel.smoothness_label.text() == "1.00" and panel.detail_label.text() == "custom"
    assert panel.presets.currentText() == "Bold strokes"
    assert "Larger brush marks" in panel.presets.toolTip()
    window.settings_panel.size_box.setValue(320)  # a field Bold strokes does not set
    assert panel.presets.currentText() == "Bold strokes"
    panel.balance.setValue(30)
    assert panel.presets.currentText() == "Bold strokes (modified)"
    panel.reset()
    reset = window.session.settings()
    assert reset.look() == TransferSettings().look()  # size, iterations, stroke size... all of them
    assert set(TransferSettings().look()) == set(LOOK_FIELDS)
    assert panel.stroke_label.text() == "100 %" and panel.presets.currentText() == "Choose…"
    assert window.settings_panel.iterations.value() == TransferSettings().iterations
