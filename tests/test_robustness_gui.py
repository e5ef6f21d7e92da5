"""The hardening matrix through the GUI: the Stylize window's content and style drop panes and the
Batch tab's queue, with every bad or unusual input (tests/test_robustness_cases.py) and every
broken destination.

The panes read only headers (the pixels load in the worker), so a file whose header is fine but
whose pixels are damaged is accepted at drop and reported when Start reads it; all other bad
files are refused at the drop. Either way: one line in a dialog, the app stays usable, nothing
is written and the inputs stay byte-identical.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QWidget

from engine.batch import read_manifest
from engine.settings import TransferSettings
from gui.batch_panel import BatchPanel
from gui.main_window import MainWindow
from gui.worker import describe
from tests.helpers import style_image
from tests.qt_helpers import Dialogs, dialogs  # noqa: F401  (autouse fixture)
from tests.test_robustness_cases import (
    BAD, CASES, DESTINATION_FAULTS, SMALL_GOOD, break_destination, check_engine_input, check_output_image,
    check_saved_output, make_case, new_files, one_line, record_engine_inputs, snapshot, temp_files, two_tone,
)

WAIT_MS = 120_000  # a busy shared CPU; each run here takes well under a second when idle
# Bad files whose header reads fine: the panes take them, Start reports them.
FOUND_AT_START = {"corrupt", "truncated"}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PySide's QDropEvent constructor


def drop_on(widget: QWidget, *paths: Path) -> bool:
    """Drag files onto ``widget`` and drop them, as a file manager does; True if accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, drop)
    return enter.isAccepted() and drop.isAccepted()


# Precision pinned to fp32 and one L-BFGS step (its first step is bounded), so the outputs checked
# below still show the content's colours on any CPU, bf16 or not.
TINY = TransferSettings(size=32, start_size=32, iterations=1, device="cpu", precision="fp32", preview_interval_ms=0)


@pytest.fixture
def folders(tmp_path):
    """(inputs folder holding plain.png, the style image, the whole tmp folder)."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    two_tone(40, 30).save(inputs / "plain.png")
    style_image().save(tmp_path / "style.png")
    return inputs, tmp_path / "style.png", tmp_path


@pytest.fixture
def window(qtbot, folders):
    """A window ready to run: tiny settings, plain.png as content, style.png as style."""
    inputs, style, _ = folders
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    win.apply_settings(TINY, with_images=False)
    assert win.load_content(str(inputs / "plain.png"))
    win.style_pane.clear()
    assert win.add_styles([str(style)]) == 1
    yield win
    win.close()
    assert win.shutdown_clean


def qimage_to_pil(frame: QImage) -> Image.Image:
    frame = frame.convertToFormat(QImage.Format_RGB888)
    row = frame.bytesPerLine()
    data = bytes(frame.constBits())[: row * frame.height()]
    return Image.frombytes("RGB", (frame.width(), frame.height()), data, "raw", "RGB", row)


def pane_frame(win: MainWindow, pane: str) -> QWidget:
    return (win.content_pane if pane == "content" else win.style_pane).frame


def run_to_the_end(qtbot, win: MainWindow):
    """Start and wait for the outcome: ("finished", RunOutcome) or ("failed", message)."""
    outcome = []
    win.host.finished.connect(lambda result: outcome.append(("finished", result)))
    win.host.failed.connect(lambda error: outcome.append(("failed", describe(error))))
    assert win.start()
    qtbot.waitUntil(lambda: bool(outcome) and not win.busy, timeout=WAIT_MS)
    return outcome[0]


# ---------------------------------------------------------------- the Stylize window's panes


@pytest.mark.parametrize("pane", ["content", "style"])
@pytest.mark.parametrize("name", BAD)
def test_pane_reports_a_bad_file_in_one_line(name, pane, qtbot, window, folders, dialogs):
    inputs, style, root = folders
    bad = make_case(name, inputs)
    before = snapshot(root)
    drop_on(pane_frame(window, pane), bad)
    if name in FOUND_AT_START:
        assert not dialogs.warnings, "the header is fine: the pane takes it"
        kind, message = run_to_the_end(qtbot, window)
        assert kind == "failed"
    else:
        assert len(dialogs.warnings) == 1, dialogs.warnings
        assert window.content_pane.path == str(inputs / "plain.png")  # the previous image stays
        assert window.style_pane.paths() == [str(style)]
    message = one_line(dialogs.warnings[-1])
    assert CASES[name].error in message and bad.name in message
    assert not window.busy and window.start_action.isEnabled()  # the app stays usable
    assert new_files(before, snapshot(root)) == set()


@pytest.mark.parametrize("name", SMALL_GOOD)
def test_content_pane_takes_unusual_images_and_runs_and_saves(name, qtbot, window, folders, tmp_path):
    inputs, _, root = folders
    content = make_case(name, inputs)
    case = CASES[name]
    assert drop_on(pane_frame(window, "content"), content)
    assert window.content_pane.path == str(content)
    before = snapshot(root)
    shown = []
    window.host.preview.connect(lambda frame, progress: shown.append(frame))
    window.host.partial.connect(lambda payload: shown.append(payload.image))  # the "before" picture
    kind, outcome = run_to_the_end(qtbot, window)
    assert kind == "finished" and not outcome.result.stopped
    assert outcome.result.image.size == case.size
    for frame in [*shown, outcome.image]:  # what the window shows: transparency as white, as saved
        check_output_image(case, qimage_to_pil(frame))
    assert new_files(before, snapshot(root)) == set()  # a run writes nothing by itself

    target = tmp_path / "saved" / "result.png"
    with qtbot.waitSignal(window.saved, timeout=WAIT_MS):
        assert window.save_to(str(target))
    check_saved_output(case, target)  # alpha, where the input had it, is kept
    assert new_files(before, snapshot(root)) == {"saved/result.png"}


@pytest.mark.parametrize("name", SMALL_GOOD)
def test_style_pane_takes_unusual_images_and_runs(name, qtbot, window, folders, monkeypatch):
    inputs, _, root = folders
    style = make_case(name, inputs)
    assert drop_on(pane_frame(window, "style"), style)
    assert window.style_pane.paths()[-1] == str(style)
    engine = record_engine_inputs(monkeypatch)
    before = snapshot(root)
    kind, outcome = run_to_the_end(qtbot, window)
    assert kind == "finished" and len(outcome.result.settings.styles) == 2
    check_engine_input(CASES[name], engine.styles[0][1])  # the dropped style reached the engine right
    check_output_image(CASES["unicode and spaces in path"], outcome.result.image)  # plain.png, one fp32 step
    assert new_files(before, snapshot(root)) == set()


@pytest.mark.parametrize("fault", DESTINATION_FAULTS)
def test_save_to_a_broken_destination_says_why_and_the_app_stays_up(fault, qtbot, window, folders, tmp_path, dialogs):
    _, _, root = folders
    kind, _ = run_to_the_end(qtbot, window)
    assert kind == "finished"
    target = tmp_path / "saved" / "result.png"
    target.parent.mkdir()
    before = snapshot(root)
    with pytest.MonkeyPatch.context() as patch:
        expected = break_destination(patch, fault)
        with qtbot.waitSignal(window.io_host.failed, timeout=WAIT_MS):
            assert window.save_to(str(target))
    message = one_line(dialogs.warnings[-1])
    assert expected in message and "result.png" in message
    assert new_files(before, snapshot(root)) == set() and temp_files(root) == []
    assert window.isVisible() and window.save_as_action.isEnabled()

    with qtbot.waitSignal(window.saved, timeout=WAIT_MS):  # fixed: the same result saves now
        assert window.save_to(str(target))
    assert target.is_file()


# ---------------------------------------------------------------- the Batch tab's queue


@pytest.fixture
def make_panel(qtbot, folders):
    _, style, root = folders
    panels = []

    def make() -> BatchPanel:
        panel = BatchPanel(lambda: TINY.replace(styles=[str(style)]))
        qtbot.addWidget(panel)
        panels.append(panel)
        panel.output_edit.setText(str(root / "out"))
        return panel

    yield make
    for panel in panels:
        assert panel.shutdown()


def queue(panel: BatchPanel) -> dict[str, tuple[str, str]]:
    """Input name -> (state, details) as the queue shows them."""
    model = panel.model
    return {
        model.index(row, 0).data(): (model.index(row, 2).data(), model.index(row, 3).data())
        for row in range(model.rowCount())
    }


def run_queue(qtbot, panel: BatchPanel, *paths: Path):
    """Drop ``paths`` on the Batch tab, start, and return what run_finished carried."""
    with qtbot.waitSignal(panel.planned, timeout=WAIT_MS):
        assert drop_on(panel, *paths)
    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as finished:
        assert panel.start()
    return finished.args[0]


@pytest.mark.parametrize("name", BAD)
def test_batch_queue_marks_a_bad_file_failed_and_goes_on(name, qtbot, make_panel, folders):
    inputs, _, root = folders
    bad = make_case(name, inputs)
    before = snapshot(root)
    panel = make_panel()
    summary = run_queue(qtbot, panel, bad, inputs / "plain.png")
    assert (summary.done, summary.failed) == (1, 1)
    rows = queue(panel)
    state, details = rows[bad.name]
    assert state == "failed" and CASES[name].error in one_line(details)
    assert rows["plain.png"][0] == "done"
    assert "1 done, 0 skipped, 1 failed" in panel.status_label.text()
    written = new_files(before, snapshot(root))
    assert {name for name in written if not name.startswith("out/impasto-batch")} == {"out/plain_style.png"}


@pytest.mark.parametrize("name", SMALL_GOOD)
def test_batch_queue_takes_unusual_images(name, qtbot, make_panel, folders):
    inputs, _, root = folders
    source = make_case(name, inputs)
    before = snapshot(root)
    panel = make_panel()
    summary = run_queue(qtbot, panel, source)
    assert (summary.done, summary.failed) == (1, 0), queue(panel)
    output = root / "out" / f"{source.stem}_style.png"
    check_saved_output(CASES[name], output)
    assert queue(panel)[source.name][0] == "done"
    new_files(before, snapshot(root))


@pytest.mark.parametrize("fault", DESTINATION_FAULTS)
def test_batch_queue_to_a_broken_destination_stops_in_one_line_and_resumes(fault, qtbot, make_panel, folders):
    inputs, _, root = folders
    two_tone(30, 40).save(inputs / "second.png")
    panel = make_panel()
    with pytest.MonkeyPatch.context() as patch:
        expected = break_destination(patch, fault)
        message = run_queue(qtbot, panel, inputs)
    assert isinstance(message, str) and "Batch stopped" in one_line(message) and expected in message
    assert one_line(panel.status_label.text()) == message
    assert not panel.busy and panel.start_button.isEnabled()
    assert not list((root / "out").glob("*.png")) and temp_files(root) == []
    entries = read_manifest(root / "out")["impasto_batch"]["items"]
    assert {entry["state"] for entry in entries} == {"waiting"}

    with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as finished:  # fixed: Start resumes
        assert panel.start()
    assert finished.args[0].done == 2
