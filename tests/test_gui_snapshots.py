"""The film strip, "Continue from here", Continue and Refine to… px in the window (pytest-qt,
real weights, tiny images)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine import images
from engine.settings import PARENT_KEY
from gui.jobs import RunOutcome
from tests.qt_helpers import dialogs  # noqa: F401  (autouse fixture)
from tests.test_gui import RUN_TIMEOUT_MS, pictures, tiny_run, window  # noqa: F401


def qimage_pixels(image) -> np.ndarray:
    image = image.convertToFormat(image.Format.Format_RGB888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * height)
    return data.reshape(height, image.bytesPerLine())[:, : width * 3].reshape(height, width, 3).astype(np.float32)


def difference(pixels: np.ndarray, picture: Image.Image) -> float:
    height, width = pixels.shape[:2]
    resized = np.asarray(picture.convert("RGB").resize((width, height), Image.LANCZOS), np.float32)
    return float(np.abs(pixels - resized).mean())


def run_and_wait(qtbot, window, start) -> RunOutcome:
    with qtbot.waitSignal(window.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        assert start()
    return finished.args[0]


def test_the_strip_fills_during_a_run_and_continue_from_here_starts_from_the_snapshot_shown(
        window, pictures, qtbot, tmp_path):
    # from noise, so that a snapshot looks nothing like the photo
    tiny_run(window, pictures, size=48, start_size=34, iterations=3, iteration_growth=1.0, start_share=0, plateau=0.0,
             init="noise")
    window.film_strip.every.setValue(2)
    arrived = []
    window.host.partial.connect(lambda payload: arrived.append((type(payload).__name__, window.busy)))
    outcome = run_and_wait(qtbot, window, window.start)
    strip = window.film_strip
    taken = [(frame.snapshot.iteration, max(frame.snapshot.image.size)) for frame in strip.frames()]
    assert taken == [(2, 34), (3, 34), (4, 48), (6, 48)]
    assert [busy for name, busy in arrived if name == "SnapshotFrame"] == [True] * 4  # as they arrive
    assert outcome.result.snapshots[-1].image.tobytes() == outcome.result.image.tobytes()

    strip.choose(0)  # a click: the preview shows it; before/after and 1:1 still work
    view = window.preview.view
    assert view.after_image.size().toTuple() == strip.frames()[0].snapshot.image.size
    assert "iteration 2" in window.preview.info.text()
    window.preview.split_slider.setValue(50)
    assert view.before.fraction == pytest.approx(0.5)
    view.zoom_actual()
    assert view.zoom() * view.devicePixelRatioF() == pytest.approx(1.0)
    with qtbot.waitSignal(window.saved, timeout=30_000):
        assert window.save_to(str(tmp_path / "moment.png"))  # Save As writes the one shown
    assert max(images.image_size(tmp_path / "moment.png")) == 34
    assert images.read_recipe(tmp_path / "moment.png")["content"] == str(pictures[0])

    chosen = strip.frames()[0].snapshot.image
    window.film_strip.every.setValue(1)
    Image.new("RGB", (30, 20), (9, 9, 9)).save(tmp_path / "another.png")
    assert window.load_content(str(tmp_path / "another.png"))  # the picture goes on with its own photo
    firsts = []
    window.host.partial.connect(lambda p: type(p).__name__ == "SnapshotFrame" and firsts.append(p))
    continued = run_and_wait(qtbot, window, lambda: strip.continue_button.click() or window.busy)
    first = qimage_pixels(firsts[0].image)  # after the new run's first iteration, at 48 px
    assert first.shape[:2] == (40, 48)
    assert difference(first, chosen) < 0.5 * difference(first, Image.open(pictures[0]))
    lineage = continued.job.lineage
    assert lineage and images.read_recipe(lineage["path"])["init"] == "noise"  # the snapshot, as a file
    assert not continued.result.stopped and continued.image.size().toTuple() == (48, 40)
    assert continued.job.settings.content == str(pictures[0])


def test_refine_after_a_run_and_continue_a_dropped_result(window, pictures, qtbot, tmp_path, dialogs):
    tiny_run(window, pictures, size=32, start_size=32, iterations=2, plateau=0.0)
    run_and_wait(qtbot, window, window.start)
    refined = run_and_wait(qtbot, window, lambda: window.refine(48))
    assert refined.result.image.size == (48, 40)
    with qtbot.waitSignal(window.saved, timeout=30_000):
        assert window.save_to(str(tmp_path / "refined.png"))
    assert images.read_recipe(tmp_path / "refined.png")[PARENT_KEY]["recipe"]["size"] == 32

    dialogs.answer = QMessageBox.Yes  # dropped and restored: Continue goes on from that file
    # what a drop on the window calls (tests/test_gui.py's drop_on fails on this PySide6: QPointF)
    assert window.offer_recipe(str(tmp_path / "refined.png"))
    assert window.restored_result == str(tmp_path / "refined.png")
    more = run_and_wait(qtbot, window, window.continue_run)
    assert more.result.image.size == (48, 40)
    assert more.job.lineage["path"] == str((tmp_path / "refined.png").resolve())


def test_nothing_to_continue_says_so(window):
    assert not window.continue_run()
    assert "Nothing to continue" in window.statusBar().currentMessage()


def test_a_restored_snapshot_interval_goes_to_the_film_strip_not_to_the_batch_tab(window):
    from engine.settings import TransferSettings

    window.apply_settings(TransferSettings(snapshot_every=7), with_images=False)
    assert window.film_strip.snapshot_every() == 7
    assert window.session.settings().snapshot_every == 0  # what the Batch and Explorer tabs start from


def test_the_batch_tab_refines_a_folder_of_results_each_from_its_recipe(qtbot, pictures, tmp_path):
    import main
    from gui.batch_panel import BatchPanel
    from engine.settings import TransferSettings

    content, style = pictures
    results = tmp_path / "results"
    for name in ("a.png", "b.png"):
        assert main.cli(["stylize", str(content), str(style), "-o", str(results / name), "--size", "32",
                         "--start-size", "32", "--iterations", "2", "--device", "cpu"]) == 0
    panel = BatchPanel(lambda: TransferSettings(device="cpu"))  # the Stylize tab has no styles: not needed
    qtbot.addWidget(panel)
    panel.output_edit.setText(str(tmp_path / "prints"))
    panel.template_edit.setText("{stem}.{ext}")
    panel.refine_check.setChecked(True)
    panel.refine_size.setValue(48)
    assert not panel.styles_button.isEnabled()
    with qtbot.waitSignal(panel.planned, timeout=RUN_TIMEOUT_MS):
        assert panel.add_paths([str(results)]) == 1
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS):
        assert panel.start()
    for name in ("a.png", "b.png"):
        assert max(images.image_size(tmp_path / "prints" / name)) == 48
        assert images.read_recipe(tmp_path / "prints" / name)[PARENT_KEY]["recipe"]["size"] == 32
    assert "2 done" in panel.status_label.text()
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS):  # again: both skipped
        assert panel.start()
    assert "0 done, 2 skipped" in panel.status_label.text()
    assert panel.shutdown()


def test_live_goes_back_from_a_snapshot_to_the_result(window, pictures, qtbot):
    tiny_run(window, pictures, size=32, start_size=32, iterations=2, plateau=0.0)
    window.film_strip.every.setValue(1)
    run_and_wait(qtbot, window, window.start)
    window.film_strip.choose(0)
    assert "Snapshot" in window.preview.info.text() and window.film_strip.current() is not None
    window.film_strip.live_button.click()
    assert window.preview.info.text().startswith("Result") and window.film_strip.current() is None
    window.film_strip.list.setFocus()
    qtbot.keyClick(window.film_strip.list, Qt.Key_Right)
    assert window.film_strip.current() is not None and "Snapshot" in window.preview.info.text()  # the arrow keys
