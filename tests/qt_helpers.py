"""Qt test helpers shared by the GUI test modules."""

import pytest
from PySide6.QtWidgets import QMessageBox


class Dialogs:
    """Records QMessageBox calls instead of showing them; ``answer`` is what question() returns."""

    def __init__(self):
        self.warnings: list[str] = []
        self.questions: list[str] = []
        self.answer = QMessageBox.No

    def warning(self, parent, title, text, *args, **kwargs):
        self.warnings.append(text)
        return QMessageBox.Ok

    def question(self, parent, title, text, *args, **kwargs):
        self.questions.append(text)
        return self.answer


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> Dialogs:
    recorder = Dialogs()
    monkeypatch.setattr(QMessageBox, "warning", recorder.warning)
    monkeypatch.setattr(QMessageBox, "critical", recorder.warning)
    monkeypatch.setattr(QMessageBox, "question", recorder.question)
    return recorder


@pytest.fixture
def window(qtbot):
    """The main window, closed after the test."""
    from gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    yield win
    win.close()


@pytest.fixture
def pictures(tmp_path):
    """A content photo and a style picture, as files."""
    from tests.test_gui import make_image

    return make_image(tmp_path / "content.png"), make_image(tmp_path / "style.png", (40, 40), seed=1)
