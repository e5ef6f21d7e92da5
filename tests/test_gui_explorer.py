"""The Explorer tab on tiny images: rows fill tile by tile, Stop acts at once, tiles are reused,
feature maps pick a channel when clicked, the sheet exports, bad input reaches the status line."""

from __future__ import annotations

import time

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from engine import explore, images
from engine.settings import TransferSettings
from engine.layers import layer_name
from gui.explorer_panel import ExplorerPanel
from tests.helpers import content_image, style_image

WAIT_MS = 60_000


@pytest.fixture
def settings(tmp_path) -> TransferSettings:
    content, style = tmp_path / "photo.png", tmp_path / "painting.png"
    content_image(40, 32).save(content)
    style_image(32).save(style)
    return TransferSettings(content=str(content), styles=[str(style)], device="cpu", seed=None,
                            preview_interval_ms=0)


@pytest.fixture
def make_panel(qtbot):
    panels = []

    def make(settings: TransferSettings, size: int = 32, iterations: int = 2) -> ExplorerPanel:
        panel = ExplorerPanel(lambda: settings)
        qtbot.addWidget(panel)
        panel.resize(900, 700)
        panel.show()
        panel.size_spin.setValue(size)
        panel.iterations_spin.setValue(iterations)
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        assert panel.shutdown()


def run_to_end(qtbot, panel: ExplorerPanel):
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    return finished.args[0]


def labels(panel: ExplorerPanel, heading: str) -> list[str]:
    strip = panel.strips[heading]
    return [strip.item(i).text() for i in range(strip.count())]


def test_content_row_fills_tile_by_tile(qtbot, make_panel, settings):
    panel = make_panel(settings)
    shown, values, busy = [], [], []
    panel.tile_shown.connect(shown.append)
    panel.progress_bar.valueChanged.connect(values.append)
    panel.busy_changed.connect(busy.append)
    result = run_to_end(qtbot, panel)
    assert not result.stopped and not panel.busy and busy == [True, False]
    assert [t.label for t in shown] == ["original", *map(layer_name, explore.ROW_LAYERS)]
    heading = explore.row_heading("content")
    assert labels(panel, heading) == ["original", *map(layer_name, explore.ROW_LAYERS)]
    strip = panel.strips[heading]
    assert all(not strip.item(i).icon().isNull() for i in range(strip.count()))
    assert values == sorted(values) and values[-1] == panel.progress_bar.maximum()
    assert "Done" in panel.status_label.text()
    assert panel.export_button.isEnabled() and panel.run_button.isEnabled()


def test_stop_ends_the_row_within_an_iteration(qtbot, make_panel, settings):
    panel = make_panel(settings, iterations=5000)
    with qtbot.waitSignal(panel.host.progress, timeout=WAIT_MS,
                          check_params_cb=lambda p: p.phase == "optimising" and p.iteration >= 2):
        assert panel.run()
    assert panel.busy and panel.stop_button.isEnabled() and not panel.run_button.isEnabled()
    stopped_at = time.perf_counter()
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
    assert time.perf_counter() - stopped_at < 5  # one 32 px iteration is milliseconds
    result = finished.args[0]
    assert result.stopped and [t.kind for t in result.tiles] == ["original"]
    assert not panel.busy and "Stopped" in panel.status_label.text()


def test_a_second_run_reuses_the_tiles_already_computed(qtbot, make_panel, settings):
    panel = make_panel(settings)
    panel.set_layer("conv2_1")
    first = run_to_end(qtbot, panel)
    second = run_to_end(qtbot, panel)
    assert [t.cached for t in first.tiles] == [False, False]
    assert [t.cached for t in second.tiles] == [False, True]
    assert second.tiles[1].image.tobytes() == first.tiles[1].image.tobytes()
    assert "from earlier runs" in panel.status_label.text()


def test_style_row_uses_the_first_style_image(qtbot, make_panel, settings):
    panel = make_panel(settings)
    panel.set_mode("style")
    panel.set_layer("conv2_1")
    assert not panel.channel_spin.isEnabled()
    result = run_to_end(qtbot, panel)
    assert result.request.style == settings.styles[0]
    assert labels(panel, explore.row_heading("style")) == ["style image", "+ depth 2.1"]


def test_clicking_a_feature_map_shows_that_channels_patches(qtbot, make_panel, settings):
    panel = make_panel(settings)
    panel.set_mode("features")
    assert panel.layer_combo.currentData() == explore.DEFAULT_FEATURE_LAYER and panel.channel_spin.isEnabled()
    panel.set_layer("conv1_2")
    first = run_to_end(qtbot, panel)
    maps = [t for t in first.tiles if t.kind == "feature"]
    assert len(maps) == 16
    strip = panel.strips["The 16 strongest channels of depth 1.2 over the content image (each scaled to its own peak)"]
    assert strip.count() == 16
    picked = maps[5].channel
    item = strip.items[6]  # tile index 6 = the sixth map
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as finished:
        rect = strip.visualItemRect(item)
        qtbot.mouseClick(strip.viewport(), Qt.LeftButton, pos=rect.center())
    assert panel.channel_spin.value() == picked
    patches = [t for t in finished.args[0].tiles if t.kind == "patch"]
    assert patches and {t.channel for t in patches} == {picked}
    assert f"Where depth 1.2 channel {picked} fires most in the style image" in panel.strips


def test_export_writes_the_sheet_in_the_worker(qtbot, make_panel, settings, tmp_path):
    panel = make_panel(settings)
    panel.set_layer("conv1_1")
    assert not panel.export_button.isEnabled()
    result = run_to_end(qtbot, panel)
    target = tmp_path / "out" / "sheet.png"
    target.parent.mkdir()
    with qtbot.waitSignal(panel.sheet_saved, timeout=WAIT_MS) as saved:
        assert panel.export_sheet(str(target))
    assert saved.args[0] == target and not panel.busy
    with Image.open(target) as sheet:
        assert sheet.size == result.sheet().size
    assert images.read_recipe(target)["impasto_explorer"]["layer"] == "conv1_1"
    before = (tmp_path / "photo.png").read_bytes()
    with qtbot.waitSignal(panel.host.failed, timeout=WAIT_MS):
        panel.export_sheet(settings.content)
    assert "Refusing to overwrite" in panel.status_label.text()
    assert (tmp_path / "photo.png").read_bytes() == before


def test_missing_images_are_reported_not_run(qtbot, make_panel, settings, tmp_path):
    panel = make_panel(settings.replace(content="", styles=[]))
    assert not panel.run()
    assert panel.status_label.text() == "Cannot explore: No content image given."
    panel.set_mode("style")
    assert not panel.run() and "No style image" in panel.status_label.text()
    gone = make_panel(settings.replace(content=str(tmp_path / "gone.png")))
    with qtbot.waitSignal(gone.host.failed, timeout=WAIT_MS):
        assert gone.run()
    assert "Could not explore" in gone.status_label.text() and "gone.png" in gone.status_label.text()
    assert not gone.busy and gone.run_button.isEnabled()


def test_shutdown_while_running_stops_cleanly(qtbot, settings):
    panel = ExplorerPanel(lambda: settings)
    qtbot.addWidget(panel)
    panel.iterations_spin.setValue(5000)
    panel.size_spin.setValue(32)
    with qtbot.waitSignal(panel.host.progress, timeout=WAIT_MS, check_params_cb=lambda p: p.iteration >= 1):
        panel.run()
    started = time.perf_counter()
    assert panel.shutdown()
    assert time.perf_counter() - started < 5
