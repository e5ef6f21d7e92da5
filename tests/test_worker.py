"""gui.worker: failures cross the thread as error objects; a host that is never shut down must
not abort the process at exit."""

import os
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_jobs_and_the_threads_torch_starts_for_them_run_below_the_gui_thread(qtbot, host):
    import glob
    import os
    import threading

    import torch

    from gui.worker import WORKER_NICENESS

    def nice_of(tid) -> int:
        with open(f"/proc/self/task/{tid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[16])

    def job(task):
        square = torch.rand(512, 512)
        square @ square  # starts torch's intra-op threads from this one
        return threading.get_native_id(), {int(path.split("/")[-2]): nice_of(path.split("/")[-2])
                                           for path in glob.glob("/proc/self/task/*/stat")}

    with qtbot.waitSignal(host.finished, timeout=30_000) as finished:
        host.submit(job)
    worker_tid, nices = finished.args[0]
    assert nices[worker_tid] >= WORKER_NICENESS
    assert nice_of(threading.get_native_id()) == os.getpriority(os.PRIO_PROCESS, 0)  # the GUI thread is not lowered
    if torch.get_num_threads() > 1:
        assert sum(1 for nice in nices.values() if nice >= WORKER_NICENESS) >= 2  # the job's and an intra-op thread


NNPACK_THREADS_CODE = """
import glob, os, threading
import engine, torch
from gui.worker import WORKER_NICENESS, lower_thread_priority

def nice_of(tid):
    with open(f"/proc/self/task/{tid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[16])

def tasks():
    return {int(path.split("/")[-1]) for path in glob.glob("/proc/self/task/*")}

torch.backends.nnpack.is_available()
x, w = torch.rand(1, 64, 64, 64), torch.rand(64, 64, 3, 3)
found = {}

def job():
    lower_thread_priority()
    before = tasks()
    torch._nnpack_spatial_convolution(x, w, None, [1, 1])  # NNPACK starts its threads from this one
    found["new"] = {tid: nice_of(tid) for tid in tasks() - before}

thread = threading.Thread(target=job)
thread.start()
thread.join()
print(len(found["new"]), all(nice >= WORKER_NICENESS for nice in found["new"].values()))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread nice values are Linux's")
def test_nnpacks_threads_run_below_the_gui_thread_too():
    """The float32 path's convolutions run on NNPACK's own thread pool, which it starts at its
    first call: from the worker, so its threads inherit the worker's lower priority."""
    import torch

    if not torch.backends.nnpack.is_available():
        pytest.skip("this torch has no NNPACK")
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", NNPACK_THREADS_CODE], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)
    started, all_lowered = out.stdout.split()
    assert int(started) >= 1 and all_lowered == "True"
