"""Issue 16, parts 1-3: painter-level controls, no lost work, the cost up front (pytest-qt)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.layers import RELU_LAYERS
from engine.settings import DEFAULT_STYLE_LAYERS, LOOK_FIELDS, TransferSettings
from gui import painter_controls as painter
from gui.layer_table import STYLE_COLUMN
from tests.qt_helpers import dialogs, window  # noqa: F401  (fixtures)


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


# --- 2. no lost work ------------------------------------------------------------------------
def tiny_result(window, qtbot, tmp_path, iterations=3, stop_after=None):
    """A real run on a 32 px picture (the same images as the engine tests)."""
    from tests.helpers import content_image, style_image

    content_image().save(tmp_path / "c.png")
    style_image().save(tmp_path / "s.png")
    window.apply_settings(TransferSettings(size=32, start_size=32, iterations=iterations, plateau=0.0, device="cpu",
                                           precision="fp32", preview_interval_ms=0), with_images=False)
    assert window.load_content(str(tmp_path / "c.png")) and window.add_styles([str(tmp_path / "s.png")]) == 1
    with qtbot.waitSignal(window.run_finished, timeout=120_000) as finished:
        assert window.start()
        if stop_after is not None:
            qtbot.waitUntil(lambda: window.progress_bar.maximum() > 1 and window.progress_bar.value() > 0,
                            timeout=120_000)
            window.stop()
    return finished.args[0]


def test_closing_or_starting_over_an_unsaved_result_asks(window, qtbot, tmp_path, dialogs, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    tiny_result(window, qtbot, tmp_path)
    window.show()
    assert window.unsaved
    dialogs.answer = QMessageBox.Cancel
    assert not window.close()  # Ctrl+Q is the same close()
    assert window.isVisible() and window.outcome is not None
    assert "unsaved result" in dialogs.questions[-1]
    assert not window.start()  # Start over it: asked, Cancel keeps the result
    assert len(dialogs.questions) == 2 and window.outcome is not None and not window.busy
    with qtbot.waitSignal(window.saved, timeout=30_000):
        window.save_to(str(tmp_path / "kept.png"))
    assert not window.unsaved
    batch = window.panels[0]
    monkeypatch.setattr(type(batch), "busy", property(lambda panel: True))  # a batch running
    assert not window.close() and "running batch job" in dialogs.questions[-1]
    monkeypatch.undo()
    assert window.close() and len(dialogs.questions) == 3  # saved, nothing running: nothing to ask


def test_ctrl_return_starts_the_visible_tabs_job(window, qtbot, monkeypatch):
    from PySide6.QtTest import QTest

    started = []
    monkeypatch.setattr(window, "start", lambda draft=False: started.append("stylize"))
    batch, explorer = window.panels
    monkeypatch.setattr(batch, "start", lambda: started.append("batch"))
    monkeypatch.setattr(explorer, "run", lambda: started.append("explorer"))
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # shortcuts reach the active window only
    for index, expected in ((1, "batch"), (2, "explorer"), (0, "stylize")):
        window.tabs.setCurrentIndex(index)
        QTest.keyClick(window.tabs.currentWidget(), Qt.Key_Return, Qt.ControlModifier)
        assert started[-1] == expected
    assert started == ["batch", "explorer", "stylize"]
    assert (window.draft_button.text(), window.start_button.text()) == ("Draft", "Final")
    stopped = []
    monkeypatch.setattr(window, "stop", lambda: stopped.append("stylize"))
    monkeypatch.setattr(batch, "cancel", lambda: stopped.append("batch"))
    window.tabs.setCurrentIndex(1)
    QTest.keyClick(window.tabs.currentWidget(), Qt.Key_Escape)
    assert stopped == ["batch"]  # Esc on Batch cancels the batch, never the Stylize run


def test_undo_restores_a_weight_and_a_preset(window, qtbot):
    from PySide6.QtTest import QTest

    panel, session = window.look_panel, window.session
    row = RELU_LAYERS.index("relu3_1")
    default = session.settings().style_layers["relu3_1"]
    assert not window.undo_action.isEnabled()  # the restored settings are where undo stops
    panel.model.setData(panel.model.index(row, STYLE_COLUMN), 2.0)
    assert session.settings().style_layers["relu3_1"] == 2.0
    window.undo_action.trigger()
    assert session.settings().style_layers["relu3_1"] == default
    assert panel.model.data(panel.model.index(row, STYLE_COLUMN), Qt.EditRole) == default
    window.redo_action.trigger()
    assert session.settings().style_layers["relu3_1"] == 2.0
    panel.apply_preset("Bold strokes")
    window.undo_action.trigger()  # one step undoes the whole preset
    assert session.settings().style_scale == 1.0 and panel.stroke_label.text() == "100 %"
    assert session.settings().style_layers["relu3_1"] == 2.0
    assert window.undo_action.toolTip() == "Undo brushwork edit"  # named in the Edit menu
    before = session.settings().style_weight
    for position in (10, 20, 30):  # one drag of the strength slider...
        panel.balance.setValue(position)
    window.undo_action.trigger()  # ...is one step
    assert session.settings().style_weight == before
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    QTest.keyClick(window.tabs, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)  # Ctrl+Shift+Z redoes
    assert session.settings().style_weight != before
    QTest.keyClick(window.tabs, Qt.Key_Z, Qt.ControlModifier)  # Ctrl+Z undoes
    assert session.settings().style_weight == before


def test_recipe_of_a_stopped_run_says_so(window, qtbot, tmp_path):
    from engine import images
    from engine.settings import RUN_KEY

    outcome = tiny_result(window, qtbot, tmp_path, iterations=2000, stop_after=1)
    assert outcome.result.stopped
    with qtbot.waitSignal(window.saved, timeout=30_000):
        window.save_to(str(tmp_path / "stopped.png"))
    recipe = images.read_recipe(tmp_path / "stopped.png")
    assert recipe[RUN_KEY]["stopped"] is True and recipe["iterations"] == 2000
    assert recipe[RUN_KEY]["iterations"] == outcome.result.iterations < 2000
    assert window.restore_recipe(recipe, "stopped.png")
    message = window.statusBar().currentMessage()
    assert f"stopped after {outcome.result.iterations} of 2000 iterations" in message


# --- 3. cost up front -----------------------------------------------------------------------
def test_estimate_names_the_device_and_follows_size_iterations_and_measured_speed(window, qtbot, tmp_path,
                                                                                  monkeypatch):
    from engine.devices import available_devices
    from gui import estimate

    cpu = next(d for d in available_devices() if d.id == "cpu")
    window.settings_panel.device.setCurrentIndex(window.settings_panel.device.findData("cpu"))
    text = window.estimate_label.text()
    assert text.startswith("≈ ") and "draft ≈" in text and cpu.name in text
    assert "first guess" in window.estimate_label.toolTip()
    seconds = window.estimator.seconds(window.session.settings(), estimate.resolve("cpu"))
    window.settings_panel.size_box.setValue(2 * window.session.settings().size)
    bigger = window.estimator.seconds(window.session.settings(), estimate.resolve("cpu"))
    assert bigger > 3 * seconds  # four times the pixels at the largest scales
    window.settings_panel.iterations.setValue(window.session.settings().iterations // 2)
    assert window.estimator.seconds(window.session.settings(), estimate.resolve("cpu")) < bigger
    picked = estimate.resolve("auto").name  # what "Automatic" picks, named in the device list too
    assert picked in [d.name for d in available_devices()]
    assert window.settings_panel.device.itemText(0) == f"Automatic: {picked}"

    window.state.store.setValue("speed/cpu", "garbage")  # a damaged store: back to the first guess
    assert window.estimator.speeds.rate("cpu") == estimate.FIRST_GUESS["cpu"]
    monkeypatch.setattr(estimate, "MIN_SECONDS", 0.0)  # learn from a tiny run
    outcome = tiny_result(window, qtbot, tmp_path)
    measured = window.estimator.speeds.measured("cpu")
    mark = window._speed_mark  # after the last scale's first iteration (gui.main_window._learn_speed)
    work = (outcome.result.iterations - mark.iteration) * mark.size[0] * mark.size[1] / 1e6
    assert measured == pytest.approx((outcome.result.seconds - mark.elapsed) / work, rel=1e-6)
    assert "measured on this machine" in window.estimate_label.toolTip()


def test_draft_runs_small_and_fast_with_the_same_look(window, qtbot, tmp_path, monkeypatch, dialogs):
    from gui import estimate

    monkeypatch.setattr(estimate, "DRAFT_SIZE", 24)
    monkeypatch.setattr(estimate, "DRAFT_ITERATIONS", 2)
    tiny_result(window, qtbot, tmp_path, iterations=3)  # loads the images; a final run at 32 px
    window.look_panel.stroke_size.setValue(-50)
    with qtbot.waitSignal(window.run_finished, timeout=120_000) as finished:
        assert window.start(draft=True)
    ran = finished.args[0].result
    assert max(ran.image.size) == 24 and ran.iterations <= 2 * len(ran.settings.scale_sizes())
    assert ran.settings.style_scale == 0.5 and window.session.settings().size == 32  # the look kept, size not
    assert len(dialogs.questions) == 1  # the final run's unsaved result: asked before replacing it
    assert not window.unsaved  # a draft's result is a look to judge...
    with qtbot.waitSignal(window.run_finished, timeout=120_000):
        assert window.start(draft=True)
    assert len(dialogs.questions) == 1  # ...so replacing it asks nothing
