"""Issue 16 checked as a painter would on the merged window: what the first two rounds left cut
off, in network words, or illegible on a dark palette (pytest-qt, offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox

from engine.settings import TransferSettings
from tests.qt_helpers import dialogs, window  # noqa: F401  (fixtures)


def shows_whole(combo: QComboBox, text: str) -> bool:
    """Whether ``text`` fits the combo's text field (Qt elides it otherwise: "Painting's world (m")."""
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(QStyle.CC_ComboBox, option, QStyle.SC_ComboBoxEditField, combo)
    return combo.fontMetrics().horizontalAdvance(text) <= field.width() - 2  # the label's own margin


def test_preset_and_explorer_names_are_whole_at_1280_by_720(window, qtbot):
    window.resize(1280, 690)
    window.show()
    qtbot.waitExposed(window)
    presets = window.look_panel.presets
    window.look_panel.apply_preset("Painting's world")
    window.look_panel.balance.setValue(window.look_panel.balance.value() + 5)
    assert presets.currentText() == "Painting's world (modified)"
    qtbot.wait(10)
    assert shows_whole(presets, presets.currentText())
    explorer = window.panels[1]
    window.tabs.setCurrentWidget(explorer)
    qtbot.wait(10)
    for combo in (explorer.mode_combo, explorer.layer_combo):
        for index in range(combo.count()):
            assert shows_whole(combo, combo.itemText(index)), combo.itemText(index)
    explorer.mode_combo.setCurrentIndex(explorer.mode_combo.count() - 1)  # another mode, other layers
    for index in range(explorer.layer_combo.count()):
        assert shows_whole(explorer.layer_combo, explorer.layer_combo.itemText(index))


def test_explorer_tooltips_name_layers_as_the_layer_table_does(window):
    """One layer vocabulary: the Explorer's tiles said "conv3_1 channel 7" and "Gram matrices of
    conv1_1, conv2_1" where the table says "depth 3.1"."""
    from PIL import Image

    from engine.explore import Tile
    from gui.explorer_panel import _tooltip

    picture = Image.new("RGB", (8, 8))
    tiles = [Tile("content", "row", 1, "depth 3.1", picture, ("conv3_1",)),
             Tile("style", "row", 2, "+ depth 2.1", picture, ("conv1_1", "conv2_1")),
             Tile("feature", "row", 1, "ch 7", picture, ("conv3_1",), 7, 0.5),
             Tile("patch", "row", 1, "0.5", picture, ("conv3_1",), 7, 0.5)]
    for tile in tiles:
        text = _tooltip(tile)
        plain = text.split("[VGG19")[0]  # the network's own name only last, in brackets
        assert "depth" in plain and "conv" not in plain and "relu" not in plain and "Gram" not in plain, text
    explorer = window.panels[1]
    combo = explorer.layer_combo
    tips = [combo.itemData(index, Qt.ToolTipRole) or "" for index in range(combo.count())]
    assert any(tip.startswith("depth 3.1: larger strokes") for tip in tips)
    assert not any(tip.startswith(("VGG19", "conv", "relu")) for tip in tips)


def test_remove_style_cross_follows_the_palette_so_it_stays_legible_on_dark(window, tmp_path):
    """The style's remove button used the style's stock title-bar cross: dark grey on a dark panel."""
    from PySide6.QtGui import QColor, QPalette

    from tests.test_gui import make_image

    assert window.add_styles([str(make_image(tmp_path / "style.png", (40, 40)))]) == 1
    button = window.style_pane.rows[0].remove_button

    def centre_colour() -> QColor:
        return button.icon().pixmap(16, 16).toImage().pixelColor(8, 8)

    assert centre_colour() == window.palette().color(QPalette.ButtonText)
    dark = QPalette(window.palette())
    dark.setColor(QPalette.Window, QColor(40, 40, 40))
    dark.setColor(QPalette.ButtonText, QColor(235, 235, 235))
    window.setPalette(dark)
    assert centre_colour() == QColor(235, 235, 235)


def test_a_draft_never_costs_more_than_the_final_run(window):
    """At 128 px with the first scale at 128, the draft added a 64 px scale: "≈ 13 s · draft ≈ 23 s"."""
    from gui.estimate import draft_settings, megapixel_iterations

    for size, start_size, iterations in ((128, 128, 40), (200, 100, 300), (512, 256, 200), (512, 512, 20)):
        final = TransferSettings(size=size, start_size=start_size, iterations=iterations)
        draft = draft_settings(final)
        assert megapixel_iterations(draft, (400, 300)) <= megapixel_iterations(final, (400, 300)), final
        assert draft.look() | {"size": 0, "start_size": 0, "iterations": 0} == \
            final.look() | {"size": 0, "start_size": 0, "iterations": 0}  # the same look
    window.apply_settings(TransferSettings(size=128, start_size=128, iterations=40), with_images=False)
    full, draft = (part.split("≈ ")[1] for part in window.estimate_label.text().split(" · ")[:2])
    assert draft == full  # 40 iterations are under the draft's cap: the same work, the same time


def test_a_long_estimate_and_loss_line_keep_the_window_within_1280(window, qtbot):
    """Side by side, the estimate with a GPU's name and a filled loss line widened the window to
    more than 1280 px, pushing the Settings column off a 1280×720 screen."""
    window.resize(1280, 690)
    window.show()
    qtbot.waitExposed(window)
    window.estimate_label.setText("≈ 1 h 12 min 40 s · draft ≈ 1 min 29 s · on CUDA — NVIDIA H100 80GB HBM3")
    window.loss_label.setText(
        "Distance to photo 1.23e+04 · to painting 3.45e+05 · speckle 1.67e+03 · loss 1.235e+07")
    qtbot.wait(20)
    assert window.minimumSizeHint().width() <= 1280 and window.width() <= 1280


def test_the_loss_line_speaks_of_photo_painting_and_speckle():
    from engine.transfer import Progress
    from gui.main_window import loss_text

    progress = Progress(phase="optimising", total=10, scales=1, loss=2326.0, content_loss=5.63,
                        style_loss=30.9, tv_loss=0.166)
    text = loss_text(progress)
    assert "photo 5.63" in text and "painting 30.9" in text and "speckle 0.166" in text
    assert "content" not in text and "TV" not in text


def test_batch_summary_reads_as_the_look_panel_does(window, qtbot):
    """The summary said "style 100% · stroke size ×1.4" where the Look panel says Style strength
    50 % and Stroke size 140 %."""
    from gui.batch_views import settings_summary

    panel = window.look_panel
    panel.apply_preset("Bold strokes")
    panel.balance.setValue(panel.balance.value() + 7)
    summary = settings_summary(window.session.settings())
    assert f"style strength {panel.ratio_label.text()}" in summary
    assert f"stroke size {panel.stroke_label.text()}" in summary and panel.stroke_label.text() == "140 %"
    assert f"smoothness {panel.smoothness_label.text()}" in summary
    batch = window.panels[0]
    window.show()
    window.tabs.setCurrentWidget(batch)  # showing the tab reads the Stylize tab's settings
    qtbot.waitUntil(lambda: summary in batch.summary_label.text())


def test_hints_name_the_run_buttons_the_window_has(window):
    """The buttons read Draft and Final; the preview's hint and a restored stopped recipe said
    "press Start" and "Start runs them all"."""
    from gui.main_window import _run_remark

    assert (window.draft_button.text(), window.start_button.text()) == ("Draft", "Final")
    hint = window.preview.view.placeholder
    assert "Draft" in hint and "Final (Ctrl+Return)" in hint and "Start" not in hint
    remark = _run_remark({"iterations": 4, "planned": 20, "stopped": True})
    assert "4 of 20" in remark and "Final runs them all" in remark and "Start" not in remark


def test_tab_goes_from_the_style_rows_to_the_run_buttons_without_hiding_the_panels(window, qtbot, tmp_path):
    """Tab order as a keyboard user meets it: a style's blend and remove button right after Add…
    (they came after Save quality), and no stop on the preview's viewport or the controls' scroll
    area, where the next Tab hid the side panels."""
    from PySide6.QtWidgets import QApplication

    from tests.test_gui import make_image

    window.resize(1280, 690)
    window.show()
    qtbot.waitExposed(window)
    assert window.add_styles([str(make_image(tmp_path / "style.png", (40, 40)))]) == 1
    row = window.style_pane.rows[0]
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.style_pane.add_button.setFocus()
    met = []
    for _ in range(20):  # past the mask button, the preview's controls and the film strip
        qtbot.keyClick(window.focusWidget(), Qt.Key_Tab)
        met.append(window.focusWidget().focusProxy() or window.focusWidget())
    assert window.inputs_panel.isVisible() and window.controls_panel.isVisible()
    assert met[0] is row.blend and met[1] is row.remove_button
    assert window.preview.view not in met and window.controls_panel not in met
    assert window.draft_button in met and window.look_panel.presets in met


def test_choosing_a_preset_says_what_it_does_in_the_status_line(window):
    """The description was only a tooltip; choosing a preset said "Preset applied"."""
    window.show()
    presets = window.look_panel.presets
    presets.setCurrentIndex(presets.findData("Bold strokes"))
    presets.activated.emit(presets.currentIndex())
    assert window.session.settings().style_scale == 1.4
    assert window.statusBar().currentMessage() == (
        "Preset Bold strokes: Larger brush marks: the painting seen bigger, its fine grain left out.")
    window.look_panel.apply_preset("Fine texture")  # chosen otherwise than from the combo: still named
    assert window.statusBar().currentMessage().startswith("Preset Fine texture: Small, dense brushwork")
    window.look_panel.reset()
    assert window.statusBar().currentMessage() == "Look back to the defaults"


def test_speed_is_learnt_from_the_last_scale_not_the_first_passes(window):
    """A first run pays one-off costs at each new size (17.7 s here, then 1.7 s for the same run):
    learnt whole, a first tiny draft made the next estimate twice to ten times too long."""
    from types import SimpleNamespace

    from engine.transfer import Progress

    def report(scale, iteration, elapsed, size):
        window._on_progress(Progress(phase="optimising", scale=scale, scales=2, iteration=iteration,
                                     total=80, elapsed=elapsed, size=size))

    window.estimator.speeds.store.remove("speed/cpu")  # nothing measured before
    report(0, 1, 9.0, (64, 48))  # the first passes: slow
    report(0, 40, 11.0, (64, 48))
    report(1, 41, 12.5, (128, 96))  # the last scale's first report: measured from here
    report(1, 60, 13.5, (128, 96))
    ran = TransferSettings(device="cpu", size=128, start_size=64, iterations=40)
    outcome = SimpleNamespace(result=SimpleNamespace(settings=ran, seconds=14.5, iterations=80))
    window._learn_speed(outcome)
    work = 39 * 128 * 96 / 1e6
    assert window.estimator.speeds.measured("cpu") == pytest.approx(2.0 / work)
    window.estimator.speeds.store.remove("speed/cpu")
    window._speed_mark = None  # a run stopped before its last scale teaches nothing
    window._learn_speed(outcome)
    assert window.estimator.speeds.measured("cpu") is None


def test_the_before_after_slider_keeps_a_usable_length_at_the_smallest_window(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    window.resize(window.minimumSizeHint())
    qtbot.wait(20)
    assert window.width() <= 1280
    assert window.preview.split_slider.width() >= 100  # it was squeezed to about 15 px


def test_a_style_row_is_never_cut_at_the_smallest_window(window, qtbot, tmp_path):
    """With Advanced open at the window's minimum width the Style column was squeezed to 210 px:
    "blend 1.0" with half its arrows."""
    from tests.test_gui import make_image

    window.show()
    qtbot.waitExposed(window)
    assert window.add_styles([str(make_image(tmp_path / "style.png", (40, 40)))]) == 1
    window.look_panel.advanced_button.setChecked(True)
    window.resize(window.minimumSizeHint())
    qtbot.wait(20)
    row = window.style_pane.rows[0]
    assert row.blend.width() >= row.blend.sizeHint().width() and window.width() <= 1280
    assert row.blend.geometry().right() < row.remove_button.geometry().left()  # beside it, not under it


def test_undoing_a_preset_shows_the_preset_chosen_before(window):
    """Undo put the settings back but the combo read "Bold strokes (modified)"."""
    panel, presets = window.look_panel, window.look_panel.presets
    panel.apply_preset("Bold strokes")
    window.undo_action.trigger()
    assert window.session.settings().style_scale == 1.0 and presets.currentText() == "Choose…"
    window.redo_action.trigger()
    assert window.session.settings().style_scale == 1.4 and presets.currentText() == "Bold strokes"
    panel.apply_preset("Fine texture")
    panel.balance.setValue(panel.balance.value() + 9)
    assert presets.currentText() == "Fine texture (modified)"
    window.undo_action.trigger()  # the strength edit
    assert presets.currentText() == "Fine texture"
    window.undo_action.trigger()  # the preset: Bold strokes as it was applied
    assert presets.currentText() == "Bold strokes" and window.session.settings().style_scale == 1.4
