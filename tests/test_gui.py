"""The Stylize window: drops, the layer table, presets, runs end to end, Stop, live steering,
saving with the recipe, remembered state and error reporting (pytest-qt, offscreen)."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from engine import images
from engine.errors import OutOfMemoryError
from engine.layers import RELU_LAYERS
from engine.settings import TransferSettings
from engine.timing import format_duration, time_left
from gui import drop_panes
from gui.jobs import RunOutcome
from gui.layer_table import CONTENT_COLUMN, STYLE_COLUMN, ratio_for_slider, slider_for_ratio
from gui.main_window import MainWindow
from gui.state import AppState
from tests.qt_helpers import Dialogs, dialogs, pictures, window  # noqa: F401  (fixtures)

RUN_TIMEOUT_MS = 120_000  # a busy shared CPU; a healthy run takes a few seconds


# --- helpers ----------------------------------------------------------------------------
def make_image(path: Path, size=(48, 40), seed: int = 0) -> Path:
    image = Image.new("RGB", size, (200 - seed * 40, 180, 120 + seed * 30))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 8):
        draw.line((x, 0, x + size[1], size[1]), fill=(30 + seed * 60, 60, 160), width=3)
    draw.ellipse((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=(240, 200, 40))
    image.save(path)
    return path


def drop_on(widget: QWidget, mime: QMimeData) -> bool:
    """Drag ``mime`` onto ``widget`` and drop it there, as a file manager would; True if accepted."""
    enter = QDragEnterEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, drop)
    return enter.isAccepted() and drop.isAccepted()


def url_mime(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def tiny_run(win: MainWindow, pictures, **changes) -> None:
    settings = TransferSettings(
        size=48, start_size=48, iterations=4, device="cpu", preview_interval_ms=0, precision="fp32"
    ).replace(**changes)
    win.apply_settings(settings, with_images=False)
    assert win.load_content(str(pictures[0]))
    win.style_pane.clear()
    assert win.add_styles([str(pictures[1])]) == 1


def wait_optimising(qtbot, win: MainWindow):
    """Block until the running job has reported one optimisation step; returns that Progress."""
    seen = []
    win.host.progress.connect(lambda p: seen.append(p) if p.phase == "optimising" else None)
    qtbot.waitUntil(lambda: bool(seen), timeout=RUN_TIMEOUT_MS)
    return seen[0]


# --- drops ------------------------------------------------------------------------------
def test_file_url_dropped_on_content_pane_shows_name_and_size(window, pictures):
    mime = url_mime(pictures[0])
    assert drop_on(window.content_pane.frame, mime)
    assert window.content_pane.path == str(pictures[0])
    assert window.content_pane.info.text() == "content.png — 48 × 40 px"
    assert not window.content_pane.picture.pixmap().isNull()
    assert window.session.settings().content == str(pictures[0])


def test_file_opened_from_the_finder_becomes_the_content(window, pictures):
    from PySide6.QtGui import QFileOpenEvent

    from gui.app import FileOpenHandler

    app = QApplication.instance()
    handler = FileOpenHandler(window)
    app.installEventFilter(handler)
    try:
        QApplication.sendEvent(app, QFileOpenEvent(str(pictures[0])))
    finally:
        app.removeEventFilter(handler)
    assert window.content_pane.path == str(pictures[0])


def test_content_size_is_shown_after_exif_orientation(window, tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°: stored 48x40, shown 40x48
    Image.new("RGB", (48, 40), (10, 200, 90)).save(path, exif=exif)
    drop_on(window.content_pane.frame, url_mime(path))
    assert window.content_pane.info.text() == "rotated.jpg — 40 × 48 px"


def test_raw_image_data_is_saved_to_a_temporary_png(window):
    image = QImage(30, 20, QImage.Format_RGB32)
    image.fill(QColor(10, 120, 240))
    mime = QMimeData()
    mime.setImageData(image)
    drop_on(window.content_pane.frame, mime)
    path = Path(window.content_pane.path)
    assert path.suffix == ".png" and path.parent == Path(os.environ["IMPASTO_CONFIG_DIR"]) / "dropped-images"
    assert images.image_size(path) == (30, 20)


def test_several_styles_dropped_each_with_blend_and_remove(window, tmp_path):
    paths = [make_image(tmp_path / f"s{i}.png", (32, 32), seed=i) for i in range(3)]
    drop_on(window.style_pane.frame, url_mime(*paths))
    assert window.style_pane.paths() == [str(p) for p in paths]
    window.style_pane.rows[1].blend.setValue(2.5)
    window.style_pane.rows[0].remove_button.click()
    settings = window.session.settings()
    assert settings.styles == [str(paths[1]), str(paths[2])]
    assert settings.style_blend == [2.5, 1.0]


def test_a_style_dropped_again_is_refused_with_a_status_line(window, tmp_path, dialogs):
    starry = make_image(tmp_path / "starry.jpg", (32, 32), seed=1)
    other = make_image(tmp_path / "other.png", (32, 32), seed=2)
    assert drop_on(window.style_pane.frame, url_mime(starry))
    assert drop_on(window.style_pane.frame, url_mime(starry, other))
    assert window.style_pane.paths() == [str(starry), str(other)]
    assert window.statusBar().currentMessage() == "starry.jpg is already a style"
    (tmp_path / "sub").mkdir()
    assert window.add_styles([str(tmp_path / "sub" / ".." / "other.png")]) == 0  # the same file, spelt otherwise
    assert window.style_pane.paths() == [str(starry), str(other)]
    assert window.statusBar().currentMessage() == "other.png is already a style"
    assert not dialogs.warnings  # a status line, not a dialog
    assert window.session.settings().styles == [str(starry), str(other)]


def test_bad_file_gives_a_message_and_keeps_the_previous_image(window, pictures, tmp_path, dialogs):
    drop_on(window.content_pane.frame, url_mime(pictures[0]))
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a photo")
    drop_on(window.content_pane.frame, url_mime(fake))
    assert window.content_pane.path == str(pictures[0])
    assert dialogs.warnings and "notes.jpg" in dialogs.warnings[-1]
    drop_on(window.style_pane.frame, url_mime(fake, pictures[1]))
    assert window.style_pane.paths() == [str(pictures[1])]
    assert "notes.jpg" in dialogs.warnings[-1]


def test_dropping_an_impasto_image_offers_to_restore_its_settings(window, pictures, tmp_path, dialogs):
    recipe = TransferSettings(style_weight=123.0, tv_weight=2.0, style_layers={"relu2_1": 3.0}).recipe()
    made = images.save_image(Image.new("RGB", (32, 32)), tmp_path / "made.png", recipe=recipe)
    dialogs.answer = QMessageBox.Yes
    drop_on(window, url_mime(made))
    settings = window.session.settings()
    assert dialogs.questions and "made.png" in dialogs.questions[0]
    assert (settings.style_weight, settings.tv_weight) == (123.0, 2.0)
    assert settings.style_layers == {"relu2_1": 3.0}
    assert window.look_panel.smoothness_label.text() == "2.00"
    dialogs.answer = QMessageBox.No  # declined: the image is used as content instead
    drop_on(window.content_pane.frame, url_mime(made))
    assert window.content_pane.path == str(made)


# --- look: table, balance, presets -------------------------------------------------------
def test_table_edits_change_the_settings(window):
    model = window.look_panel.model
    assert model.rowCount() == len(RELU_LAYERS) == 16
    row = RELU_LAYERS.index("relu3_1")
    assert model.setData(model.index(row, CONTENT_COLUMN), 2.5)
    assert model.setData(model.index(RELU_LAYERS.index("relu1_1"), STYLE_COLUMN), 0)
    assert not model.setData(model.index(row, STYLE_COLUMN), -1)
    assert not model.setData(model.index(row, STYLE_COLUMN), "lots")
    settings = window.session.settings()
    assert settings.content_layers == {"relu4_2": 1.0, "relu3_1": 2.5}
    assert "relu1_1" not in settings.style_layers
    assert settings.style_layers["relu3_1"] == TransferSettings().style_layers["relu3_1"]  # untouched
    tooltips = [model.data(model.index(RELU_LAYERS.index(name), STYLE_COLUMN), Qt.ToolTipRole)
                for name in ("relu1_1", "relu5_1")]
    assert "colours" in tooltips[0] and "objects" in tooltips[1]  # what shallow and deep layers do


def test_balance_slider_is_a_log_scale_on_style_weight_centred_on_the_default(window):
    panel = window.look_panel
    default = TransferSettings().style_weight
    assert panel.balance.value() == 0 and panel.ratio_label.text() == "50 %"  # Style strength
    panel.balance.setValue(50)
    assert window.session.settings().style_weight == pytest.approx(10 * default)
    panel.balance.setValue(-100)
    assert window.session.settings().style_weight == pytest.approx(default / 100)
    assert panel.ratio_label.text() == "0 %"
    assert slider_for_ratio(ratio_for_slider(37)) == 37


def test_preset_keeps_exact_weights_that_the_slider_cannot_show(window):
    window.look_panel.apply_preset("Bold strokes")
    settings = window.session.settings()
    assert settings.style_weight == 75.0 and settings.style_scale == 1.4
    assert settings.style_layers == {"relu2_1": 1.0, "relu3_1": 0.25, "relu4_1": 0.03125}


def test_presets_builtin_listed_and_user_preset_round_trip(window):
    panel = window.look_panel
    names = [panel.presets.itemText(i) for i in range(panel.presets.count())]
    assert {"Default", "Painted surface", "Painting's world", "Fine texture", "Bold strokes"} <= set(names)
    tooltip = panel.presets.itemData(names.index("Painting's world"), Qt.ToolTipRole)
    assert "objects" in tooltip
    panel.model.setData(panel.model.index(RELU_LAYERS.index("relu5_4"), STYLE_COLUMN), 4.0)
    panel.balance.setValue(20)
    panel.smoothness.setValue(60)
    saved = window.session.settings()
    panel.save_preset("My look")
    assert panel.presets.currentText() == "My look"
    panel.reset()
    panel.smoothness.setValue(0)
    assert window.session.settings().style_layers != saved.style_layers
    panel.apply_preset("My look")
    restored = window.session.settings()
    assert restored.style_layers == saved.style_layers
    assert restored.style_weight == pytest.approx(saved.style_weight)
    assert restored.tv_weight == saved.tv_weight and panel.smoothness.value() == 60


def test_settings_panel_fields_feed_the_settings(window):
    panel = window.settings_panel
    assert panel.device.itemText(0).startswith("Automatic: ")  # named: the device it picks
    assert panel.device.findData("cpu") > 0
    panel.size_box.setValue(320)
    panel.iterations.setValue(33)
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("adam"))
    panel.init.setCurrentIndex(panel.init.findData("noise"))
    panel.seed.setValue(7)
    panel.preserve_colors.setCurrentIndex(panel.preserve_colors.findData("match"))
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    settings = window.session.settings()
    assert (settings.size, settings.iterations, settings.optimizer, settings.init) == (320, 33, "adam", "noise")
    assert (settings.seed, settings.preserve_colors, settings.device) == (7, "match", "cpu")
    assert panel.seed.minimum() == 0  # no hidden "Random" one step below 0...
    panel.random_seed.setChecked(True)  # ...a box that says it
    assert window.session.settings().seed is None and not panel.seed.isEnabled()


# --- running ----------------------------------------------------------------------------
def test_tiny_run_end_to_end_then_save_with_recipe(window, pictures, qtbot, tmp_path):
    tiny_run(window, pictures)
    frames = []
    window.host.preview.connect(lambda frame, progress: frames.append((frame, progress)))
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        with qtbot.waitSignal(window.host.progress, timeout=RUN_TIMEOUT_MS):
            assert window.start()
    outcome = finished.args[0]
    assert isinstance(outcome, RunOutcome) and not outcome.result.stopped
    assert outcome.result.iterations == 4
    assert frames and frames[-1][0].size().toTuple() == (48, 40)
    assert frames[-1][1].iteration == 4
    assert window.progress_bar.value() == window.progress_bar.maximum()
    assert "loss" in window.loss_label.text()
    assert window.preview.view.after_image.size().toTuple() == (48, 40)
    assert window.save_as_action.isEnabled()
    for name in ("out.png", "out.jpg"):
        with qtbot.waitSignal(window.saved, timeout=30_000) as saved:
            assert window.save_to(str(tmp_path / name))
        assert saved.args[0] == str(tmp_path / name)
        assert images.read_recipe(tmp_path / name) == outcome.result.recipe()  # settings and run record
        assert images.image_size(tmp_path / name) == (48, 40)


def test_save_refuses_to_overwrite_an_input(window, pictures, qtbot, dialogs):
    tiny_run(window, pictures, iterations=1)
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS):
        window.start()
    before = pictures[0].read_bytes()
    assert not window.save_to(str(pictures[0]))
    assert "Refusing to overwrite" in dialogs.warnings[-1]
    assert pictures[0].read_bytes() == before


def test_a_small_style_image_is_used_at_its_own_size_and_the_status_line_says_so_once(window, pictures, qtbot,
                                                                                      tmp_path):
    small = make_image(tmp_path / "tiny style.png", (24, 24), seed=2)
    tiny_run(window, pictures, iterations=2, start_size=34)
    window.style_pane.clear()
    assert window.add_styles([str(small)]) == 1
    messages = []
    window.statusBar().messageChanged.connect(messages.append)
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS):
        assert window.start()
    notes = [message for message in messages if "tiny style.png is only 24 px" in message]
    assert len(notes) == 1, messages


def test_save_refuses_to_overwrite_the_init_image(window, pictures, qtbot, tmp_path, dialogs):
    start = make_image(tmp_path / "start.png", seed=3)
    tiny_run(window, pictures, iterations=1, init="image", init_image=str(start))
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        window.start()
    assert finished.args[0].result.settings.init_image == str(start)
    before = start.read_bytes()
    assert not window.save_to(str(start))
    assert "Refusing to overwrite the input image start.png" in dialogs.warnings[-1]
    assert start.read_bytes() == before


def test_stop_ends_the_run_quickly_with_the_image_so_far(window, pictures, qtbot):
    tiny_run(window, pictures, iterations=2000)
    window.start()
    wait_optimising(qtbot, window)
    with qtbot.waitSignal(window.run_finished, timeout=15_000) as finished:
        window.stop_button.click()
    result = finished.args[0].result
    assert result.stopped and 1 <= result.iterations < 2000
    assert result.image.size == (48, 40)
    assert window.start_action.isEnabled() and not window.stop_action.isEnabled()
    assert window.save_as_action.isEnabled()


def test_live_steering_reaches_the_running_optimisation(window, pictures, qtbot):
    tiny_run(window, pictures, iterations=2000)
    window.start()
    first = wait_optimising(qtbot, window)
    tv = window.session.settings().tv_weight

    def weighted(progress, style_weight):
        return progress.content_loss + style_weight * progress.style_loss + tv * progress.tv_loss

    default = TransferSettings().style_weight
    assert first.loss == pytest.approx(weighted(first, default), rel=1e-3)
    window.look_panel.balance.setValue(100)  # style weight: the default -> 100x the default
    assert window.session.settings().style_weight == pytest.approx(100 * default)
    steered = []
    window.host.progress.connect(
        lambda p: steered.append(p) if p.loss == pytest.approx(weighted(p, 100 * default), rel=1e-3) else None
    )
    qtbot.waitUntil(lambda: bool(steered), timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(window.run_finished, timeout=15_000) as finished:
        window.stop()
    assert finished.args[0].result.settings.style_weight == pytest.approx(100 * default)


def test_preset_applied_mid_run_saves_a_recipe_of_what_ran(window, pictures, qtbot, tmp_path):
    """The preset names another size, scale, colour mode...: only its weights steer the running
    job, and the recipe saved with the result names what the image was made with."""
    from engine.settings import save_user_preset

    tiny_run(window, pictures, iterations=2000)
    started = window.session.settings()
    save_user_preset("Mid-run", started.replace(
        style_weight=77.0, size=96, start_size=96, iterations=9, style_scale=0.5, preserve_colors="match"))
    tv = window.session.settings().tv_weight
    window.start()
    wait_optimising(qtbot, window)
    steered = []
    window.host.progress.connect(lambda p: steered.append(p) if p.phase == "optimising" and p.loss == pytest.approx(
        p.content_loss + 77.0 * p.style_loss + tv * p.tv_loss, rel=1e-3) else None)
    window.look_panel.apply_preset("Mid-run")
    qtbot.waitUntil(lambda: bool(steered), timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(window.run_finished, timeout=15_000) as finished:
        window.stop()
    assert finished.args[0].result.image.size == (48, 40)
    with qtbot.waitSignal(window.saved, timeout=30_000):
        assert window.save_to(str(tmp_path / "steered.png"))
    recipe = images.read_recipe(tmp_path / "steered.png")
    made_with = {name: recipe[name] for name in ("size", "start_size", "iterations", "style_scale", "preserve_colors")}
    assert made_with == {"size": 48, "start_size": 48, "iterations": 2000, "style_scale": started.style_scale,
                         "preserve_colors": started.preserve_colors}
    assert recipe["style_weight"] == 77.0
    from engine.settings import STEERING_KEY

    assert [entry["changes"] for entry in recipe[STEERING_KEY]] == [{"style_weight": 77.0}]
    assert recipe[STEERING_KEY][0]["iteration"] >= 1
    assert TransferSettings.from_dict(recipe).style_weight == 77.0


def test_closing_mid_run_stops_the_worker_cleanly(qtbot, pictures):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    tiny_run(win, pictures, iterations=2000)
    win.start()
    wait_optimising(qtbot, win)
    win.close()
    assert win.shutdown_clean is True
    assert win.host._thread.isFinished() and win.io_host._thread.isFinished()


def test_worker_failure_shows_a_dialog(window, pictures, qtbot, dialogs):
    tiny_run(window, pictures)
    gone = Path(window.content_pane.path)
    gone.unlink()
    with qtbot.waitSignal(window.host.failed, timeout=RUN_TIMEOUT_MS):
        window.start()
    assert dialogs.warnings and "content.png" in dialogs.warnings[-1]
    assert window.start_action.isEnabled()


def test_start_without_images_says_why_in_the_status_line(window):
    assert not window.start()
    assert "No content image" in window.statusBar().currentMessage()
    assert not window.busy


def test_out_of_memory_names_a_size_and_offers_it(window, dialogs):
    error = OutOfMemoryError("Ran out of CPU memory at 1024 px; try 724 px or another device.", suggested_size=724)
    dialogs.answer = QMessageBox.Yes
    window._on_failed(error)  # the error object itself crosses the thread: no text is parsed
    assert "Out of memory: Ran out of CPU memory" in dialogs.questions[-1]
    assert "Set the output size to 724 px?" in dialogs.questions[-1]
    assert window.settings_panel.size_box.value() == 724


# --- state, panels, shortcuts, preview ------------------------------------------------------
def test_window_remembers_geometry_settings_folders_and_recent_files(qtbot, pictures):
    first = MainWindow()
    qtbot.addWidget(first)
    first.resize(1050, 700)
    first.load_content(str(pictures[0]))
    first.add_styles([str(pictures[1])])
    first.settings_panel.size_box.setValue(384)
    first.settings_panel.quality.setValue(80)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.state.geometry() is not None
    assert abs(second.height() - 700) <= 8  # the offscreen screen is 800 px wide, so only the height
    assert second.settings_panel.size_box.value() == 384
    assert second.settings_panel.quality.value() == 80
    assert second.content_pane.path == str(pictures[0])
    assert second.style_pane.paths() == [str(pictures[1])]
    assert second.state.last_folder("content") == str(pictures[0].parent)
    second._fill_recent_menu()
    titles = [a.text() for a in second.recent_menu.actions()]
    assert "content.png" in titles and "style.png" in titles
    second.style_pane.clear()
    next(a for a in second.recent_menu.actions() if a.text() == "style.png").trigger()
    assert second.style_pane.paths() == [str(pictures[1])]
    second.close()


@pytest.mark.parametrize("stored", [
    "{not json",
    '{"size": "huge"}',
    '{"content_layers": 5}',
    '[1, 2, 3]',
    '{"style_layers": {"relu9_9": 1}}',
    '{"device": 12}',
])
def test_corrupt_settings_store_falls_back_to_defaults(qtbot, stored):
    ini = Path(os.environ["IMPASTO_CONFIG_DIR"]) / "impasto.ini"
    state = AppState()
    state.store.setValue("settings/last", stored)
    state.store.setValue("window/geometry", "garbage")
    state.store.setValue("window/splitter", 42)
    state.store.setValue("output/quality", "loud")
    state.store.setValue("recent/files", '{"a": 1}')
    state.store.setValue("folders/content", ["x", "y"])
    state.sync()
    assert ini.is_file()
    win = MainWindow()
    qtbot.addWidget(win)
    defaults = TransferSettings()
    assert win.session.settings().look() == defaults.look()
    assert win.settings_panel.quality.value() == 95
    assert win.state.recent_files() == [] and win.state.last_folder("content") == ""
    assert win.state.problems
    win.close()


def test_unreadable_ini_file_is_survived(qtbot):
    ini = Path(os.environ["IMPASTO_CONFIG_DIR"]) / "impasto.ini"
    ini.write_bytes(b"\x00\xff\xfe garbage [[[ = = \n\x89PNG")
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.session.settings().look() == TransferSettings().look()
    win.close()


def test_extra_panels_get_the_settings_source_and_are_shut_down(qtbot, monkeypatch):
    made = []

    class FakePanel(QWidget):
        def __init__(self, settings_source, parent=None):
            super().__init__(parent)
            self.settings_source = settings_source
            self.stopped = False
            made.append(self)

        busy = False

        def shutdown(self):
            self.stopped = True
            return True

    for module, name in (("gui.batch_panel", "BatchPanel"), ("gui.explorer_panel", "ExplorerPanel")):
        monkeypatch.setitem(sys.modules, module, types.SimpleNamespace(**{name: FakePanel}))
    win = MainWindow()
    qtbot.addWidget(win)
    assert [win.tabs.tabText(i) for i in range(win.tabs.count())] == ["Stylize", "Batch", "Explorer"]
    win.settings_panel.size_box.setValue(300)
    assert all(panel.settings_source().size == 300 for panel in made)
    win.close()
    assert all(panel.stopped for panel in made) and win.shutdown_clean


def test_shortcuts(window):
    assert window.open_action.shortcut() == QKeySequence(QKeySequence.Open)
    assert window.save_action.shortcut() == QKeySequence(QKeySequence.Save)
    assert window.save_as_action.shortcut() == QKeySequence(QKeySequence.SaveAs)
    assert QKeySequence("Ctrl+Return") in window.start_action.shortcuts()
    assert window.stop_action.shortcut() == QKeySequence("Esc")


def test_preview_zoom_and_before_after(window):
    view = window.preview.view
    after = QImage(40, 30, QImage.Format_RGB32)
    after.fill(QColor("red"))
    before = QImage(80, 60, QImage.Format_RGB32)
    before.fill(QColor("blue"))
    view.set_before(before)
    assert view.split() == 1.0  # nothing stylised yet: the content shows
    view.set_after(after)
    assert view.before.scale() == pytest.approx(0.5)
    assert view.split() == 0.0
    window.preview.split_slider.setValue(50)
    assert view.before.fraction == pytest.approx(0.5) and view.divider.isVisible()
    view.hold_compare(True)
    assert view.before.fraction == 1.0
    view.hold_compare(False)
    view.zoom_actual()
    assert view.zoom() * view.devicePixelRatioF() == pytest.approx(1.0)
    assert window.preview.actual_button.isChecked() and not window.preview.fit_button.isChecked()
    view.zoom_fit()
    assert view.fit_mode and window.preview.fit_button.isChecked()


def test_format_duration():
    """One way of writing a duration for the Stylize, Batch and Explorer tabs and the CLI."""
    assert format_duration(7) == "7 s"
    assert format_duration(125) == "2 min 05 s"
    assert format_duration(3725) == "1 h 02 min"
    assert format_duration(None) == "estimating"
    assert time_left(125) == "2 min 05 s left"
    assert time_left(None) == "estimating time left"


def test_dropped_paths_ignores_remote_urls():
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/a.jpg")])
    assert not drop_panes.can_accept(mime)


def test_application_is_named_for_its_settings_store(qapp):
    from gui.app import make_application

    app = make_application()
    assert app is qapp
    assert (app.applicationName(), app.organizationName()) == ("Impasto", "Impasto")


def test_window_drops_only_count_on_the_stylize_tab(window, pictures):
    other = QWidget()
    window.tabs.addTab(other, "Other")
    mime = url_mime(pictures[0])

    def entered_on(tab: QWidget) -> bool:
        window.tabs.setCurrentWidget(tab)
        enter = QDragEnterEvent(QPoint(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
        enter.setAccepted(False)
        window.dragEnterEvent(enter)
        return enter.isAccepted()

    assert not entered_on(other)
    assert entered_on(window.stylize_tab)
    assert drop_on(window, mime)
    assert window.content_pane.path == str(pictures[0])


def test_torchs_optimiser_imports_are_warmed_only_once_adam_is_chosen(window, monkeypatch):
    """L-BFGS is the engine's own, so the launch pays nothing; choosing Adam starts the one-off
    import in the background, once."""
    submitted = []
    monkeypatch.setattr(window.io_host, "submit", lambda job, *args, **kwargs: submitted.append(job))
    assert not window.adam_warmed
    window.session.update(iterations=window.session.settings().iterations + 1)
    assert submitted == []
    window.session.update(optimizer="adam")
    window.session.update(optimizer="lbfgs")
    window.session.update(optimizer="adam")
    assert [job.__name__ for job in submitted] == ["warm_up_job"] and window.adam_warmed
