"""The Qt binding itself: a PySide6 release that miscounts references crashes the window later.

PySide6 6.12.0 on Python 3.10/3.11 drops a reference to None on every call of a method that
returns nothing; a long run (a progress bar updated every iteration) then aborts the process
with "deallocating None". None is immortal from Python 3.12 on, where refcounts say nothing.
"""

import sys

import pytest

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")


def test_void_methods_keep_none_and_bools_alive(qapp):
    from PySide6.QtWidgets import QLabel, QProgressBar

    label, bar = QLabel(), QProgressBar()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for value in range(500):
        label.setText("step")
        bar.setValue(value % 100)
        label.setVisible(True)
        qapp.processEvents()
    assert sys.getrefcount(None) - none_before > -50
    assert sys.getrefcount(True) - true_before > -50
