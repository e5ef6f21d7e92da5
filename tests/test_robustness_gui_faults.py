"""Faults in the GUI: out of memory (the window offers a smaller size and runs again; the batch
queue fails that image and goes on), Stop pressed in every phase of a run, and the window closed
while the weights load or while a save is being written."""

from __future__ import annotations

import threading
import time

import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from engine import devices, images
from engine.settings import TransferSettings
from gui.batch_panel import BatchPanel
from gui.main_window import MainWindow
from tests.helpers import content_image, style_image
from tests.test_robustness_cases import new_files, one_line, snapshot, temp_files
from tests.test_robustness_faults import PHASES, StopAt, oom_after, photos_where_b_runs_out_of_memory
from tests.qt_helpers import dialogs  # noqa: F401  (autouse fixture)
from tests.test_robustness_gui import WAIT_MS, drop_on, run_to_the_end

PHASE_WAIT_S = 60  # how long a paused phase waits for Stop before giving up (a broken test, not a hang)


@pytest.fixture
def files(tmp_path):
    content, style = tmp_path / "photo.png", tmp_path / "style.png"
    content_image(48, 36).save(content)
    style_image().save(style)
    return content, style, tmp_path


def ready_window(qtbot, files, **changes) -> MainWindow:
    content, style, _ = files
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    settings = TransferSettings(size=48, start_size=34, iterations=2, iteration_growth=1.0, start_share=0, device="cpu",
                                precision="fp32", preview_interval_ms=0).replace(**changes)
    win.apply_settings(settings, with_images=False)
    assert win.load_content(str(content))
    win.style_pane.clear()
    assert win.add_styles([str(style)]) == 1
    return win


@pytest.fixture
def window(qtbot, files):
    win = ready_window(qtbot, files)
    yield win
    win.close()
    assert win.shutdown_clean


# ---------------------------------------------------------------- out of memory


def test_out_of_memory_offers_the_size_that_fitted_and_the_next_run_works(qtbot, window, monkeypatch, dialogs):
    dialogs.answer = QMessageBox.Yes
    with pytest.MonkeyPatch.context() as patch:
        oom_after(patch, 2)  # the 34 px scale fits, the 48 px one does not
        kind, message = run_to_the_end(qtbot, window)
    assert kind == "failed" and "Ran out of CPU memory at 48 px; try 34 px" in one_line(message)
    assert len(dialogs.questions) == 1 and "Set the output size to 34 px?" in dialogs.questions[0]
    assert window.settings_panel.size_box.value() == 34 and window.isVisible()
    assert window.start_action.isEnabled() and not dialogs.warnings

    kind, outcome = run_to_the_end(qtbot, window)  # the offered size runs
    assert kind == "finished" and max(outcome.result.image.size) == 34


def test_size_that_cannot_fit_is_refused_before_the_run_and_the_offer_fits(qtbot, window, monkeypatch, dialogs):
    monkeypatch.setattr(devices, "free_memory", lambda device: 80 * 2**20)
    window.settings_panel.size_box.setValue(1024)
    window.settings_panel.start_size.setValue(1024)
    window.settings_panel.iterations.setValue(1)
    dialogs.answer = QMessageBox.Yes
    kind, message = run_to_the_end(qtbot, window)
    assert kind == "failed" and "1024 px needs about" in one_line(message)
    assert "Set the output size to 128 px?" in dialogs.questions[-1]
    kind, outcome = run_to_the_end(qtbot, window)  # still 80 MiB free: the offered size fits
    assert kind == "finished" and max(outcome.result.image.size) == 128


def test_batch_queue_item_out_of_memory_fails_that_item_and_goes_on(qtbot, files, monkeypatch):
    _, style, root = files
    folder = photos_where_b_runs_out_of_memory(root, monkeypatch)
    settings = TransferSettings(styles=[str(style)], size=48, start_size=48, iterations=1, device="cpu")
    panel = BatchPanel(lambda: settings)
    qtbot.addWidget(panel)
    panel.output_edit.setText(str(root / "out"))
    try:
        with qtbot.waitSignal(panel.planned, timeout=WAIT_MS):
            assert drop_on(panel, folder)
        with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as finished:
            assert panel.start()
        summary = finished.args[0]
        assert (summary.done, summary.failed) == (2, 1)
        model = panel.model
        rows = {model.index(r, 0).data(): (model.index(r, 2).data(), model.index(r, 3).data())
                for r in range(model.rowCount())}
        assert rows["b.png"][0] == "failed" and "Out of memory" in one_line(rows["b.png"][1])
        assert "try 24 px" in rows["b.png"][1]
        assert rows["a.png"][0] == rows["c.png"][0] == "done"
    finally:
        assert panel.shutdown()


# ---------------------------------------------------------------- Stop and close in every phase


class Pause:
    """Blocks the worker at a phase until its job is told to stop (Stop pressed, window closed)."""

    def __init__(self, window: MainWindow):
        self.window = window
        self.reached = threading.Event()
        self.waited = 0.0

    def __call__(self) -> None:
        task = self.window.host.task  # read in the worker, before anyone can clear it
        self.reached.set()
        started = time.perf_counter()
        task.stop_event.wait(PHASE_WAIT_S)
        self.waited = time.perf_counter() - started


@pytest.mark.parametrize("phase", PHASES)
def test_stop_button_in_each_phase_ends_the_run_at_once(phase, qtbot, window, files, monkeypatch):
    pause = Pause(window)
    stopper = StopAt(monkeypatch, phase, pause)
    before = snapshot(files[2])
    with qtbot.waitSignal(window.run_finished, timeout=WAIT_MS) as finished:
        assert window.start()
        qtbot.waitUntil(pause.reached.is_set, timeout=WAIT_MS)
        pressed = time.perf_counter()
        window.stop_button.click()
    assert time.perf_counter() - pressed < 10 and pause.waited < PHASE_WAIT_S
    result = finished.args[0].result
    assert result.stopped and stopper.after_stop == 0
    assert result.iterations == (2 if phase == "scale boundary" else 0)
    assert "Stopped after" in window.statusBar().currentMessage()
    assert window.start_action.isEnabled() and not window.stop_action.isEnabled()
    assert new_files(before, snapshot(files[2])) == set()  # Stop writes nothing


def test_closing_the_window_while_the_weights_load_ends_cleanly(qtbot, files, monkeypatch):
    win = ready_window(qtbot, files)
    pause = Pause(win)
    stopper = StopAt(monkeypatch, "weights", pause)
    assert win.start()
    qtbot.waitUntil(pause.reached.is_set, timeout=WAIT_MS)
    closed = time.perf_counter()
    win.close()
    assert win.shutdown_clean is True and time.perf_counter() - closed < 10
    assert win.host._thread.isFinished() and win.io_host._thread.isFinished()
    assert stopper.evaluations == 0
    assert new_files({}, snapshot(files[2])) == {"photo.png", "style.png"}


def test_closing_the_window_during_a_save_finishes_the_file_first(qtbot, files, monkeypatch):
    _, _, root = files
    win = ready_window(qtbot, files)
    kind, _ = run_to_the_end(qtbot, win)
    assert kind == "finished"
    writing = threading.Event()
    real_save = Image.Image.save

    def slow_save(image, target, *args, **kwargs):  # a slow disk: the save takes a while
        writing.set()
        time.sleep(0.5)
        return real_save(image, target, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", slow_save)
    target = root / "saved" / "result.png"
    assert win.save_to(str(target))
    qtbot.waitUntil(writing.is_set, timeout=WAIT_MS)
    win.close()
    assert win.shutdown_clean is True
    assert images.read_recipe(target)["size"] == 48  # complete, recipe and all
    assert temp_files(root) == []
