"""The Batch tab end to end on tiny images: drop, queue, run, pause/resume, cancel and resume."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent

from engine.batch import read_manifest
from engine.settings import TransferSettings
from gui.batch_panel import BatchPanel

WAIT_MS = 120_000


def picture(path: Path, colour=(200, 80, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (40, 32), colour)
    image.paste((20, 40, 220), (10, 8, 20, 16))
    image.save(path)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    picture(tmp_path / "photos" / "a.png")
    picture(tmp_path / "photos" / "b.jpg", (30, 160, 90))
    (tmp_path / "photos" / "broken.png").write_text("not a png")
    return tmp_path / "photos"


@pytest.fixture
def settings(tmp_path) -> TransferSettings:
    style = tmp_path / "waves.png"
    image = Image.new("RGB", (32, 32), (240, 220, 40))
    for x in range(0, 32, 6):
        image.paste((20, 40, 160), (x, 0, x + 2, 32))
    image.save(style)
    return TransferSettings(styles=[str(style)], size=32, start_size=32, iterations=2, device="cpu",
                            preview_interval_ms=0)


@pytest.fixture
def make_panel(qtbot):
    panels = []

    def make(settings: TransferSettings, output: Path) -> BatchPanel:
        panel = BatchPanel(lambda: settings)
        qtbot.addWidget(panel)
        panels.append(panel)
        panel.output_edit.setText(str(output))
        return panel

    yield make
    for panel in panels:
        assert panel.shutdown()


def drop(panel: BatchPanel, *paths: Path) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    enter = QDragEnterEvent(QPoint(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    panel.dragEnterEvent(enter)
    panel.dropEvent(QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    return enter.isAccepted()


def states(panel: BatchPanel) -> dict[str, str]:
    model = panel.model
    return {model.index(row, 0).data(): model.index(row, 2).data() for row in range(model.rowCount())}


# PySide marks QDragEnterEvent's constructor deprecated; Qt itself builds them the same way
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_dropped_folder_runs_to_done(qtbot, make_panel, folder, settings, tmp_path, monkeypatch):
    out = tmp_path / "out"
    panel = make_panel(settings, out)
    with qtbot.waitSignal(panel.planned, timeout=WAIT_MS):
        assert drop(panel, folder)
    assert states(panel) == {"a.png": "waiting", "b.jpg": "waiting", "broken.png": "failed"}
    assert "not an image file" in panel.model.index(2, 3).data()
    assert panel.start_button.isEnabled()

    previews = []
    panel.host.preview.connect(lambda frame, progress: previews.append(frame))
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS):
        qtbot.mouseClick(panel.start_button, Qt.LeftButton)
        assert panel.busy and not panel.start_button.isEnabled()
    assert not panel.busy
    assert states(panel) == {"a.png": "done", "b.jpg": "done", "broken.png": "failed"}
    assert panel.model.index(0, 1).data() == "a_waves.png"
    assert (out / "a_waves.png").is_file() and (out / "b_waves.png").is_file()
    assert previews and panel.preview.view.after_image is not None
    assert panel.overall_bar.value() == panel.overall_bar.maximum()
    assert "2 done, 0 skipped, 1 failed" in panel.status_label.text()

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    qtbot.mouseClick(panel.open_output_button, Qt.LeftButton)
    assert opened == [QUrl.fromLocalFile(str(out))]

    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS):  # again: nothing left to do
        panel.start()
    assert states(panel) == {"a.png": "skipped", "b.jpg": "skipped", "broken.png": "failed"}


def test_pause_holds_and_resume_finishes(qtbot, make_panel, folder, settings, tmp_path):
    panel = make_panel(settings.replace(iterations=6), tmp_path / "out")
    with qtbot.waitSignal(panel.planned, timeout=WAIT_MS):
        panel.add_paths([folder / "a.png"])
    steps = []
    panel.host.progress.connect(lambda progress: steps.append(progress.step.iteration))
    panel.start()
    qtbot.waitUntil(lambda: any(steps), timeout=WAIT_MS)
    qtbot.mouseClick(panel.pause_button, Qt.LeftButton)
    at_pause = len(steps)
    assert panel.paused and panel.pause_button.text() == "Resume"
    qtbot.wait(1000)
    # the iteration under way when Pause was pressed may still report, however late (a loaded
    # machine starves the nice-10 worker); none after it
    assert len(steps) <= at_pause + 1 and panel.busy and max(steps) < 6
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS):
        qtbot.mouseClick(panel.pause_button, Qt.LeftButton)
    assert states(panel) == {"a.png": "done"}
    assert steps[-1] == 6  # the paused image carried on, not restarted


def test_cancel_keeps_the_unfinished_image_to_do(qtbot, make_panel, folder, settings, tmp_path):
    out = tmp_path / "out"
    panel = make_panel(settings.replace(iterations=30), out)
    with qtbot.waitSignal(panel.planned, timeout=WAIT_MS):
        panel.add_paths([folder / "a.png", folder / "b.jpg"])
    panel.start()
    qtbot.waitUntil(lambda: panel.item_bar.value() > 0, timeout=WAIT_MS)
    panel.toggle_pause()  # cancelling a paused batch must work too
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)
    assert finished.args[0].interrupted
    assert states(panel) == {"a.png": "waiting", "b.jpg": "waiting"}
    assert not list(out.glob("*.png"))
    assert "not written" in panel.status_label.text()
    entries = read_manifest(out)["impasto_batch"]["items"]
    assert {e["state"] for e in entries} == {"waiting"}


def test_bad_template_and_missing_output_are_explained(qtbot, make_panel, folder, settings, tmp_path):
    panel = make_panel(settings, tmp_path / "out")
    panel.template_edit.setText("../{stem}.{ext}")
    panel.add_paths([folder])
    assert not panel.start()
    assert "outside the output folder" in panel.status_label.text()
    panel.template_edit.setText("{style}/{index:02d}_{stem}.{ext}")
    panel.output_edit.setText("")
    assert not panel.start()
    assert "output folder" in panel.status_label.text()
    panel.output_edit.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(panel.planned, timeout=WAIT_MS):
        panel._plan()
    assert panel.model.index(0, 1).data() == "waves/01_a.png"


def test_choices_are_remembered(qtbot, make_panel, settings, tmp_path):
    panel = make_panel(settings, tmp_path / "somewhere")
    panel.template_edit.setText("{index}-{stem}.{ext}")
    panel.format_combo.setCurrentIndex(panel.format_combo.findData("jpg"))
    panel.recursive_check.setChecked(True)
    assert panel.shutdown()
    again = BatchPanel(lambda: settings)
    qtbot.addWidget(again)
    try:
        assert again.output_edit.text() == str(tmp_path / "somewhere")
        assert again.template_edit.text() == "{index}-{stem}.{ext}"
        assert again.format_combo.currentData() == "jpg" and again.recursive_check.isChecked()
    finally:
        assert again.shutdown()


def test_panel_styles_override_the_stylize_tab(qtbot, make_panel, folder, settings, tmp_path):
    other = picture(tmp_path / "scream.png", (200, 40, 40))
    panel = make_panel(settings, tmp_path / "out")
    panel._show_styles()
    assert "waves" in panel.styles_label.text() and "Stylize tab" in panel.styles_label.text()
    panel.set_styles([str(other)])
    assert panel.batch_settings().styles == [str(other)]
    assert "scream" in panel.styles_label.text()
    panel.set_styles(None)
    assert panel.batch_settings().styles == settings.styles
