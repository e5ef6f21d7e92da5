"""Start the desktop application: ``python main.py`` with no arguments calls ``run_gui()``."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

ICON = Path(__file__).resolve().parent.parent / "resources" / "icons" / "impasto.png"


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, named for QSettings; Qt 6 scales for high-DPI screens by itself and
    its default style follows the system's light or dark colour scheme."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Impasto")
    app.setOrganizationName("Impasto")
    app.setApplicationDisplayName("Impasto")
    if ICON.is_file():
        app.setWindowIcon(QIcon(str(ICON)))
    return app


class FileOpenHandler(QObject):
    """macOS hands files opened from the Finder (or dropped on the Dock icon) to a running app as
    QFileOpenEvents, not as arguments: treat each like an image dropped on the window."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.FileOpen and event.file():
            self.window._on_content_dropped([event.file()])
            return True
        return False


def run_gui(argv: list[str] | None = None) -> int:
    app = make_application(argv)
    from gui.main_window import MainWindow  # after QApplication: widgets need it

    window = MainWindow()
    app.installEventFilter(FileOpenHandler(window))
    window.show()
    return app.exec()
