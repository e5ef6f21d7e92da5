"""The mask painter (issue 14): paint, erase, fill, undo/redo, clear, import and export; the masks
belong to the photo (another photo asks first), survive blend edits and recipes, and steer a run."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QMessageBox

from engine import images, masks
from engine.settings import TransferSettings
from gui.main_window import MainWindow
from gui.mask_painter import overlay, to_qimage
from tests.qt_helpers import dialogs  # noqa: F401  (autouse fixture)
from tests.test_gui import RUN_TIMEOUT_MS, make_image, wait_optimising, window  # noqa: F401  (fixture)


@pytest.fixture
def painter(window, tmp_path, qtbot):
    """The window with a 96x64 photo and two styles, and its mask painter open."""
    window.apply_settings(TransferSettings(size=48, start_size=48, iterations=4, device="cpu", precision="fp32",
                                           preview_interval_ms=0), with_images=False)
    assert window.load_content(str(make_image(tmp_path / "photo.png", (96, 64))))
    window.style_pane.clear()
    assert window.add_styles([str(make_image(tmp_path / f"style{i}.png", (40, 40), seed=i)) for i in (1, 2)]) == 2
    painter = window.show_mask_painter()
    painter.resize(700, 560)
    qtbot.waitExposed(painter)
    return painter


def canvas_point(painter, x: float, y: float) -> QPoint:
    """The canvas position over mask pixel (x, y)."""
    rect = painter.canvas.image_rect()
    scale = rect.width() / painter.document.size.width()
    return QPoint(round(rect.x() + x * scale), round(rect.y() + y * scale))


def stroke(qtbot, painter, points) -> None:
    canvas = painter.canvas
    qtbot.mousePress(canvas, Qt.LeftButton, pos=canvas_point(painter, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, canvas_point(painter, *point))
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=canvas_point(painter, *points[-1]))


def session_mask(window, index: int) -> Image.Image | None:
    specs = window.session.settings().style_masks
    return masks.decode(specs[index]) if specs and specs[index] else None


def test_paint_undo_redo_and_export(window, painter, qtbot, tmp_path):
    assert painter.document.size.width() == 96 and window.session.settings().style_masks == []
    painter.size_box.setValue(10)
    stroke(qtbot, painter, [(10, 32), (30, 32), (50, 32)])
    mask = session_mask(window, 0)
    assert mask.size == (96, 64)
    assert mask.getpixel((30, 32)) == 255 and mask.getpixel((30, 5)) == 0 and mask.getpixel((80, 32)) == 0
    assert window.session.settings().style_masks[1] == ""  # the other style: nothing painted, everywhere

    painter.undo_action.trigger()
    assert window.session.settings().style_masks == []  # nothing painted anywhere: no masks at all
    painter.redo_action.trigger()
    assert session_mask(window, 0).getpixel((30, 32)) == 255

    out = tmp_path / "exported mask.png"
    assert painter.export_mask(str(out))
    exported = Image.open(out)
    assert exported.mode == "L" and exported.tobytes() == session_mask(window, 0).tobytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_eraser_fill_clear_and_a_second_style(window, painter, qtbot):
    painter.set_tool("fill")
    stroke(qtbot, painter, [(5, 5)])
    assert session_mask(window, 0).getextrema() == (255, 255)  # a blank mask fills everywhere
    painter.set_tool("eraser")
    painter.size_box.setValue(12)
    stroke(qtbot, painter, [(48, 0), (48, 63)])  # a black line splits the mask in two
    assert session_mask(window, 0).getpixel((48, 30)) == 0
    painter.set_tool("fill")
    stroke(qtbot, painter, [(48, 30)])  # fills the black line, and only it
    assert session_mask(window, 0).getpixel((48, 30)) == 255
    painter.undo_action.trigger()
    painter.clear_mask()
    painter.set_tool("fill")
    painter.style_box.setCurrentIndex(1)
    stroke(qtbot, painter, [(80, 30)])
    assert window.session.settings().style_masks[0] == ""
    assert session_mask(window, 1).getextrema() == (255, 255)
    painter.undo_action.trigger()  # the fill of style 2
    painter.undo_action.trigger()  # the clear of style 1
    left_only = session_mask(window, 0)
    assert left_only.getpixel((48, 30)) == 0 and left_only.getpixel((5, 5)) == 255
    assert window.session.settings().style_masks[1] == ""


def test_import_a_mask_of_any_size_and_the_overlay_follows_its_opacity(window, painter, tmp_path, dialogs):
    source = tmp_path / "sky.png"
    sky = Image.new("L", (300, 200), 0)
    sky.paste(255, (0, 0, 300, 100))
    sky.save(source)
    assert painter.import_mask(str(source))
    mask = session_mask(window, 0)
    assert mask.size == (96, 64) and mask.getpixel((40, 10)) == 255 and mask.getpixel((40, 55)) == 0
    (tmp_path / "bad.png").write_text("no")
    assert not painter.import_mask(str(tmp_path / "bad.png")) and "bad.png" in dialogs.warnings[-1]
    shown = overlay(to_qimage(mask), QColor(255, 0, 0), 0.4)
    assert shown.pixelColor(40, 10).alpha() == 102 and shown.pixelColor(40, 55).alpha() == 0


def test_masks_belong_to_the_photo(window, painter, qtbot, tmp_path, dialogs):
    painter.set_tool("fill")
    stroke(qtbot, painter, [(5, 5)])
    other = make_image(tmp_path / "other.png", (64, 64), seed=2)
    assert not window.load_content(str(other))  # the question answered No
    assert "photo.png" in dialogs.questions[-1] and session_mask(window, 0) is not None
    assert window.session.content.endswith("photo.png")
    dialogs.answer = QMessageBox.Yes
    (tmp_path / "broken.png").write_text("no")
    assert not window.load_content(str(tmp_path / "broken.png"))  # unreadable: the photo and masks stay
    assert session_mask(window, 0) is not None and window.session.content.endswith("photo.png")
    assert window.load_content(str(other))
    assert window.session.settings().style_masks == [] and painter.document.size.width() == 64
    assert all(mask is None for mask in painter.document.masks)


def test_blend_edits_keep_the_masks_and_a_recipe_brings_them_back(window, painter, qtbot, tmp_path):
    painter.set_tool("fill")
    stroke(qtbot, painter, [(5, 5)])
    painted = window.session.settings().style_masks
    window.style_pane.rows[1].blend.setValue(3.0)  # the pane re-sends its styles, which show no masks
    assert window.session.settings().style_blend == [1.0, 3.0]
    assert window.session.settings().style_masks == painted
    recipe = window.session.settings().replace(mask_uncovered="blend").recipe()
    window.session.update(style_masks=[])
    assert all(mask is None for mask in painter.document.masks)
    window.apply_settings(TransferSettings.from_dict(recipe, strict=False))
    assert window.session.settings().style_masks == painted
    assert painter.uncovered_box.currentData() == "blend"
    assert painter.document.masks[0] is not None and painter.document.masks[1] is None


def test_painting_during_a_run_steers_it_and_the_result_keeps_the_masks(window, painter, qtbot, tmp_path, dialogs):
    window.session.update(iterations=2000)
    assert window.start()
    wait_optimising(qtbot, window)
    painter.size_box.setValue(20)
    stroke(qtbot, painter, [(10, 10), (40, 40)])
    painted = window.session.settings().style_masks
    seen = []
    window.host.progress.connect(lambda p: seen.append(p) if p.phase == "optimising" else None)
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(window.run_finished, timeout=30_000) as finished:
        window.stop()
    result = finished.args[0].result
    assert result.settings.style_masks == painted
    assert any("style_masks" in entry["changes"] for entry in result.steering)
    with qtbot.waitSignal(window.saved, timeout=30_000):
        assert window.save_to(str(tmp_path / "painted.png"))
    recipe = images.read_recipe(tmp_path / "painted.png")
    assert recipe["style_masks"] == painted
    window.session.update(style_masks=[])
    dialogs.answer = QMessageBox.Yes
    assert window.offer_recipe(str(tmp_path / "painted.png"))  # what dropping the result does
    assert window.session.settings().style_masks == painted and painter.document.masks[0] is not None


def test_a_photo_qt_cannot_decode_is_shown_through_the_engine(window, painter, tmp_path, monkeypatch, dialogs):
    from PySide6.QtGui import QImage, QImageReader

    monkeypatch.setattr(QImageReader, "read", lambda self: QImage())  # as for a CMYK TIFF
    dialogs.answer = QMessageBox.Yes
    assert window.load_content(str(make_image(tmp_path / "cmyk.png", (80, 60))))
    assert painter.canvas.photo.size().width() == 80 and painter.document.size.height() == 60


def test_the_batch_tab_says_it_ignores_the_masks(window, painter, qtbot):
    batch = window.panels[0]
    window.show()
    window.tabs.setCurrentWidget(batch)
    assert "style1+style2" in batch.styles_label.text() and "masks ignored" not in batch.styles_label.text()
    painter.set_tool("fill")
    stroke(qtbot, painter, [(5, 5)])
    window.tabs.setCurrentWidget(window.stylize_tab)
    window.tabs.setCurrentWidget(batch)  # shown again: the style line is rebuilt
    assert "masks ignored" in batch.styles_label.text()
    assert batch.batch_settings().style_masks  # kept here; engine.batch drops them (test_masks.py)


def test_a_large_photo_is_shown_sharp_and_its_masks_are_kept_at_512_px(window, painter, qtbot, tmp_path, dialogs):
    assert window.load_content(str(make_image(tmp_path / "large.png", (1200, 800))))
    assert painter.canvas.photo.width() == 1024
    assert painter.document.size.width() == 512 and abs(painter.document.size.height() - 341) <= 1  # the photo's shape
    painter.size_box.setValue(20)
    stroke(qtbot, painter, [(400, 300), (420, 300)])
    mask = session_mask(window, 0)
    assert mask.width == 512 and mask.getpixel((410, 300)) == 255 and mask.getpixel((100, 100)) == 0


def test_the_masks_are_remembered_with_the_photo_across_a_restart(window, painter, qtbot):
    painter.set_tool("fill")
    stroke(qtbot, painter, [(5, 5)])
    painted = window.session.settings().style_masks
    window.close()
    assert not painter.isVisible()  # the painter goes with its window
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.session.settings().style_masks == painted
    assert second.show_mask_painter().document.masks[0] is not None
    second.close()
