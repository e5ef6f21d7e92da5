"""The Batch tab for painters (issue 16, part 4): the inherited settings in words with a link to
edit them, thumbnails in the queue, a clicked row compared with its result, Redo selected."""

from __future__ import annotations

import os

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QMessageBox

from gui.batch_views import settings_summary
from gui.main_window import MainWindow
from tests.qt_helpers import Dialogs, dialogs  # noqa: F401  (autouse fixture)
from tests.test_gui_batch import WAIT_MS, drop, folder, make_panel, settings, states  # noqa: F401  (fixtures)


def select_row(panel, row: int) -> None:
    panel.queue_view.selectionModel().select(
        panel.model.index(row, 0), QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows
    )


def test_summary_says_what_the_batch_inherits_and_links_to_the_stylize_tab(qtbot, make_panel, settings, tmp_path):
    current = {"settings": settings}
    panel = make_panel(settings, tmp_path / "out")
    panel._settings_source = lambda: current["settings"]
    panel._show_styles()
    text = panel.summary_label.text()
    assert "32 px" in text and "2 iterations" in text and "style strength 50 %" in text and "Edit…" in text
    current["settings"] = settings.replace(size=64, tv_weight=2.0, style_scale=1.4, preserve_colors="luminance")
    panel.show()  # showing the tab reads the Stylize tab's settings again
    qtbot.waitUntil(lambda: "64 px" in panel.summary_label.text())
    text = panel.summary_label.text()
    assert "smoothness 2.00" in text and "stroke size 140 %" in text and "content colours" in text
    with qtbot.waitSignal(panel.edit_settings_requested):
        panel.summary_label.linkActivated.emit("edit")


def test_summary_names_own_layer_weights_and_a_random_seed(settings):
    plain = settings_summary(settings)
    assert "own layer weights" not in plain and "seed 0" in plain
    custom = settings_summary(settings.replace(style_layers={"relu1_1": 1.0}, seed=None))
    assert "own layer weights" in custom and "random seed" in custom


def test_edit_link_shows_the_stylize_tab(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    batch = window.panels[0]
    window.tabs.setCurrentWidget(batch)
    batch.summary_label.linkActivated.emit("edit")
    assert window.tabs.currentWidget() is window.stylize_tab
    window.close()


def test_queue_thumbnails_clicked_row_compares_and_redo_selected(qtbot, make_panel, folder, settings, tmp_path,
                                                                  dialogs):
    out = tmp_path / "out"
    panel = make_panel(settings, out)
    panel.resize(900, 600)
    panel.show()
    with qtbot.waitSignal(panel.planned, timeout=WAIT_MS):
        assert drop(panel, folder)
    decoration = lambda row: panel.model.index(row, 0).data(Qt.DecorationRole)  # noqa: E731
    decoration(0), decoration(1)  # painting the rows asks for them
    qtbot.waitUntil(lambda: isinstance(decoration(0), QImage) and isinstance(decoration(1), QImage))
    assert max(decoration(0).size().toTuple()) <= 40 * panel.devicePixelRatioF()
    assert decoration(2) is None  # broken.png: no picture, its row says why
    assert not panel.redo_button.isEnabled()  # nothing selected

    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS):
        panel.start()
    assert states(panel)["a.png"] == "done"

    select_row(panel, 0)
    view = panel.preview.view
    qtbot.waitUntil(lambda: view.before_image is not None and view.after_image is not None)
    assert view.before_image.size().toTuple() == (40, 32)  # the photo...
    assert view.after_image.size().toTuple() == QImage(str(out / "a_waves.png")).size().toTuple()  # ...its result
    assert view.before_image.pixelColor(1, 1) == QColor(200, 80, 40)
    panel.preview.split_slider.setValue(50)
    assert view.divider.isVisible()

    assert panel.redo_button.isEnabled()
    os.utime(out / "a_waves.png", (0, 0))
    dialogs.answer = QMessageBox.No
    assert not panel.redo_selected()
    assert (out / "a_waves.png").stat().st_mtime == 0  # No: nothing redone
    dialogs.answer = QMessageBox.Yes
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as finished:
        assert panel.redo_selected()
    assert "replaced" in dialogs.questions[-1] and "a.png" in dialogs.questions[-1]
    assert (finished.args[0].done, finished.args[0].skipped) == (1, 1)
    assert states(panel) == {"a.png": "done", "b.jpg": "skipped", "broken.png": "failed"}
    assert (out / "a_waves.png").stat().st_mtime > 0
    assert not (out / "a_waves-2.png").exists()


def test_redo_needs_a_row_with_an_output(qtbot, make_panel, folder, settings, tmp_path):
    panel = make_panel(settings, tmp_path / "out")
    with qtbot.waitSignal(panel.planned, timeout=WAIT_MS):
        assert drop(panel, folder)
    select_row(panel, 2)  # broken.png: it has no output name
    assert states(panel)["broken.png"] == "failed"
    assert not panel.redo_selected()
