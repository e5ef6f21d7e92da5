"""Runs engine jobs in a QThread and reports through signals.

A job is a plain callable ``job(task) -> result``; ``task`` gives it ``report(progress)``,
``should_stop()`` and ``steering``. Everything the GUI shows arrives through queued signals, and
results of a job that has been superseded are dropped (Orange's TaskState, napari's workers).
A failure crosses the thread as the error object itself (an ``OutOfMemoryError`` keeps its
``suggested_size``); ``describe(error)`` gives the one line to show.
"""

from __future__ import annotations

import atexit
import itertools
import os
import sys
import threading
import traceback
from dataclasses import replace
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from engine.errors import ImpastoError, OutOfMemoryError
from engine.transfer import Progress, Steering


class InternalError(Exception):
    """A bug in a job (not the user's doing): ``error`` is what was raised."""

    def __init__(self, error: BaseException):
        super().__init__(f"{type(error).__name__}: {error}".splitlines()[0])
        self.error = error


def describe(error: BaseException) -> str:
    """The one line a user is shown for a failed job."""
    if isinstance(error, OutOfMemoryError):
        return f"Out of memory: {error}"
    if isinstance(error, ImpastoError):
        return str(error)
    if isinstance(error, InternalError):
        return f"Internal error: {error}"
    return f"Internal error: {type(error).__name__}: {error}".splitlines()[0]


def pil_to_qimage(image) -> QImage:
    """A deep-copied QImage (safe to hand across threads) of a PIL RGB image."""
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format_RGB888).copy()


# How much lower the worker threads run than the GUI thread (a Linux nice value): on a 2-core
# machine the computation's threads would otherwise take the CPU the event loop needs to repaint
# (bench/bench_gui_lag.py). When nothing else wants the CPU, a niced thread runs at full speed.
WORKER_NICENESS = 10


def lower_thread_priority() -> None:
    """Run the calling thread below the GUI thread. On Linux its nice value is raised; the OpenMP
    threads torch starts from it inherit that. Elsewhere Qt's thread priority does the same."""
    if sys.platform.startswith("linux"):
        thread_id = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread_id, max(os.getpriority(os.PRIO_PROCESS, thread_id), WORKER_NICENESS))
    else:
        QThread.currentThread().setPriority(QThread.LowPriority)


class Task:
    """What a running job sees: report progress, check for Stop, read live steering."""

    def __init__(self, worker: "Worker", job_id: int):
        self._worker = worker
        self.job_id = job_id
        self.stop_event = threading.Event()
        self.steering = Steering()

    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    def report(self, progress: Progress) -> None:
        self._worker._emit_progress(self.job_id, progress)

    def emit(self, payload: object) -> None:
        """Any extra partial result (a batch item finished, an explorer tile...)."""
        self._worker.partial.emit(self.job_id, payload)


class Worker(QObject):
    progress = Signal(int, object)  # job id, Progress (its preview removed)
    preview = Signal(int, QImage, object)  # job id, frame, Progress
    partial = Signal(int, object)  # job id, anything a job emits
    finished = Signal(int, object)  # job id, the job's return value
    failed = Signal(int, object)  # job id, the error (ImpastoError, or InternalError for a bug)
    _run = Signal(int, object)

    def __init__(self):
        super().__init__()
        self._run.connect(self._execute)  # queued: executes in the worker's thread
        self._lowered = False

    @Slot(int, object)
    def _execute(self, job_id: int, payload) -> None:
        job, task = payload
        if not self._lowered:  # before the job's first torch call starts its threads from this one
            lower_thread_priority()
            self._lowered = True
        try:
            result = job(task)
        except ImpastoError as exc:
            self.failed.emit(job_id, exc)
        except Exception as exc:  # a bug: report it instead of killing the thread
            traceback.print_exc()
            self.failed.emit(job_id, InternalError(exc))
        else:
            self.finished.emit(job_id, result)

    def _emit_progress(self, job_id: int, progress: Progress) -> None:
        if progress.preview is not None:
            frame = pil_to_qimage(progress.preview)
            progress = replace(progress, preview=None)
            self.preview.emit(job_id, frame, progress)
        self.progress.emit(job_id, progress)


_LIVE_HOSTS: set["WorkerHost"] = set()


@atexit.register
def _shut_down_live_hosts() -> None:
    """A host never shut down (a window that was never closed, say) would otherwise have its
    running QThread destroyed at interpreter exit, which Qt answers with an abort."""
    for host in list(_LIVE_HOSTS):
        host.shutdown(timeout_ms=10000)


class WorkerHost(QObject):
    """Owns one worker thread. ``submit`` starts a job (stopping any running one); signals of
    stale jobs are filtered out, so the GUI only ever hears from the current job."""

    progress = Signal(object)
    preview = Signal(QImage, object)
    partial = Signal(object)
    finished = Signal(object)
    failed = Signal(object)  # the error object; describe(error) is its line for the user

    _ids = itertools.count(1)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("impasto-worker")
        self._worker = Worker()
        self._worker.moveToThread(self._thread)
        self._worker.progress.connect(self._on_progress)
        self._worker.preview.connect(self._on_preview)
        self._worker.partial.connect(self._on_partial)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._thread.start()
        self._task: Task | None = None
        _LIVE_HOSTS.add(self)  # held until shutdown, so its thread never dies while running

    @property
    def busy(self) -> bool:
        return self._task is not None

    @property
    def task(self) -> Task | None:
        return self._task

    def submit(self, job: Callable[[Task], object]) -> Task:
        self.stop()
        task = Task(self._worker, next(self._ids))
        self._task = task
        self._worker._run.emit(task.job_id, (job, task))
        return task

    def stop(self) -> None:
        """Ask the running job to stop; it does within one iteration and reports ``finished``."""
        if self._task is not None:
            self._task.stop_event.set()

    def steer(self, settings) -> None:
        if self._task is not None:
            self._task.steering.update(settings)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Stop the job and the thread; True when the thread ended in time."""
        self.stop()
        self._task = None
        self._thread.quit()
        ended = self._thread.wait(timeout_ms)
        if ended:
            _LIVE_HOSTS.discard(self)
        return ended

    def _current(self, job_id: int) -> bool:
        return self._task is not None and self._task.job_id == job_id

    def _on_progress(self, job_id, progress):
        if self._current(job_id):
            self.progress.emit(progress)

    def _on_preview(self, job_id, frame, progress):
        if self._current(job_id):
            self.preview.emit(frame, progress)

    def _on_partial(self, job_id, payload):
        if self._current(job_id):
            self.partial.emit(payload)

    def _on_finished(self, job_id, result):
        if self._current(job_id):
            self._task = None
            self.finished.emit(result)

    def _on_failed(self, job_id, error):
        if self._current(job_id):
            self._task = None
            self.failed.emit(error)


__all__ = ["InternalError", "Task", "Worker", "WorkerHost", "describe", "pil_to_qimage"]
