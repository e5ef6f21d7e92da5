"""gui.worker: failures cross the thread as error objects; a host that is never shut down must
not abort the process at exit."""

import subprocess
import sys

import pytest

from engine.errors import OutOfMemoryError
from gui.worker import InternalError, WorkerHost, describe
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


@pytest.fixture
def host(qtbot):
    host = WorkerHost()
    yield host
    assert host.shutdown()


def test_a_failure_arrives_as_the_error_object_with_its_fields(qtbot, host):
    def job(task):
        raise OutOfMemoryError("Ran out of CPU memory at 1024 px; try 724 px or another device.", 724)

    with qtbot.waitSignal(host.failed, timeout=30_000) as failed:
        host.submit(job)
    error = failed.args[0]
    assert isinstance(error, OutOfMemoryError) and error.suggested_size == 724
    assert describe(error) == "Out of memory: Ran out of CPU memory at 1024 px; try 724 px or another device."


def test_a_bug_in_a_job_arrives_as_an_internal_error(qtbot, host):
    def job(task):
        raise KeyError("oops")

    with qtbot.waitSignal(host.failed, timeout=30_000) as failed:
        host.submit(job)
    error = failed.args[0]
    assert isinstance(error, InternalError) and isinstance(error.error, KeyError)
    assert describe(error) == "Internal error: KeyError: 'oops'"
