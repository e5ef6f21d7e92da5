"""gui.worker: a host that is never shut down must not abort the process at exit."""

import subprocess
import sys

from tests.conftest import ROOT

LEAKED_HOST = """
import os, sys, time
sys.path.insert(0, {root!r})
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication, QWidget
from gui.worker import WorkerHost

app = QApplication([])
parent = QWidget()
host = WorkerHost(parent)

def job(task):
    while not task.should_stop():
        time.sleep(0.01)
    print("job stopped", flush=True)

host.submit(job)
time.sleep(0.2)
"""


def test_a_running_host_left_behind_is_stopped_cleanly_at_exit():
    run = subprocess.run([sys.executable, "-c", LEAKED_HOST.format(root=str(ROOT))],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Destroyed while thread" not in run.stderr
    assert "job stopped" in run.stdout
