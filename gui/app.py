"""Start the desktop application: ``python main.py`` with no arguments calls ``run_gui()``."""

from __future__ import annotations

import sys
from pathlib import Path

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


def run_gui(argv: list[str] | None = None) -> int:
    app = make_application(argv)
    from gui.main_window import MainWindow  # after QApplication: widgets need it

    window = MainWindow()
    window.show()
    return app.exec()
