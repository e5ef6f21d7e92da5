"""Running a batch: the output folder locked, then one job after another, with pause, stop and
a clock for the ETA; every state change goes to the manifest."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from engine import timing
from engine.jobs import Job
from engine.batch.items import (
    DONE, FAILED, RUNNING, WAITING, BatchError, BatchItem, BatchProgress, BatchStopped, BatchSummary,
)
from engine.batch.names import BatchOptions
from engine.batch.plan import BatchPlan, checked, plan_batch
from engine.errors import DestinationError, ImageError, ImpastoError, OutOfMemoryError
from engine.files import TEMP_PREFIX
from engine.settings import TransferSettings
from engine.transfer import Progress, Stylizer, scale_work

LOCK_NAME = "impasto-batch.lock"


class PauseGate:
    """Pause blocks the running batch at its next iteration; resume lets it go on; Stop still works."""

    def __init__(self):
        self._open = threading.Event()
        self._open.set()

    @property
    def paused(self) -> bool:
        return not self._open.is_set()

    def pause(self) -> None:
        self._open.clear()

    def resume(self) -> None:
        self._open.set()

    def wait(self, should_stop: Callable[[], bool] = lambda: False, poll: float = 0.05) -> float:
        """Block while paused (until resumed or ``should_stop()``); the seconds spent waiting."""
        if self._open.is_set():
            return 0.0
        started = time.perf_counter()
        while not self._open.wait(poll) and not should_stop():
            pass
        return time.perf_counter() - started



def run_batch(
    inputs: Iterable,
    settings: TransferSettings,
    options: BatchOptions,
    on_plan: Callable[[BatchPlan], None] | None = None,
    on_item: Callable[[BatchItem], None] | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    pause: PauseGate | None = None,
    stylizer: Stylizer | None = None,
    redo: Iterable = (),
) -> BatchSummary:
    """Plan and run a batch with the output folder locked against a second batch.

    ``on_plan(plan)`` once, then ``on_item(item)`` (a copy) on every state change and
    ``on_progress`` after every iteration. ``should_stop()`` ends the run within one iteration:
    the current item is not written and stays to do. Raises BatchStopped when the batch cannot
    go on (full disk, output folder not writable), BatchError/SettingsError before it starts.
    ``redo`` names input files to do again even when done with these settings (their earlier
    output is replaced, atomically).
    """
    _, out = checked(inputs, settings, options)  # before anything is written
    return run_in_folder(
        out, lambda: plan_batch(inputs, settings, options, redo), on_plan,
        lambda plan: _Runner(plan, on_item, on_progress, should_stop, pause, stylizer).run(),
    )


def run_in_folder(out: Path, make_plan: Callable, on_plan: Callable | None, run: Callable):
    """Make the output folder, hold its lock, plan (``make_plan()``), clear temp files a killed
    run left, tell ``on_plan`` and ``run(plan)``: what every kind of batch does around its items."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"Cannot create the output folder {out}: {exc.strerror or exc}.") from None
    with _folder_lock(out):
        plan = make_plan()
        _remove_stale_temp_files(plan)
        if on_plan:
            on_plan(plan)
        return run(plan)


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """An OS lock on OUT_DIR/impasto-batch.lock: released by the OS even if the process dies."""
    try:
        handle = open(folder / LOCK_NAME, "a+b")
    except OSError as exc:
        raise BatchError(f"Cannot write to the output folder {folder}: {exc.strerror or exc}.") from None
    with handle:
        try:
            _lock(handle)
        except OSError:
            raise BatchError(
                f"Another Impasto batch is writing to {folder}; wait for it to finish or choose another folder."
            ) from None
        yield


def _lock(handle) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_stale_temp_files(plan: BatchPlan) -> None:
    """Temp files a killed run left behind (the folder is locked, so no save of ours is live)."""
    folders = {plan.output_dir} | {Path(item.output).parent for item in plan.items if item.output}
    for folder in folders:
        try:
            with os.scandir(folder) as listing:
                stale = [entry.path for entry in listing if entry.name.startswith(TEMP_PREFIX) and entry.is_file()]
        except OSError:
            continue
        for path in stale:
            with contextlib.suppress(OSError):
                os.unlink(path)


class _Clock:
    """Progress and ETA of a run, from seconds per unit of work (pixels x iterations) done so far,
    time spent paused left out. The first item's cost includes warming up, so early ETAs run long."""

    def __init__(self, items: list[BatchItem], settings: TransferSettings):
        self.total = sum(item.work for item in items)
        self.settings = settings
        self.done = 0
        self.seconds = 0.0
        self.current: int | None = None  # index of the item being timed
        self.work = 0
        self.started = time.perf_counter()
        self.paused = 0.0

    def start(self, item: BatchItem, size: tuple[int, int], settings: TransferSettings | None = None) -> None:
        self.work = sum(scale_work(settings or self.settings, size))  # the engine's own estimate of the run
        self.total += self.work - item.work  # the real size replaces the estimate from the header
        self.current = item.index
        self.started = time.perf_counter()
        self.paused = 0.0

    def pause(self, seconds: float) -> None:
        self.paused += seconds

    def step(self, progress: Progress) -> tuple[float, float | None, float, float | None]:
        """(item fraction, item ETA, run fraction, run ETA)."""
        item_done = min(progress.fraction, 1.0) * self.work
        work_done = self.done + item_done
        seconds = self.seconds + self._active()
        item_eta = timing.eta(seconds, work_done, self.work - item_done)
        eta = timing.eta(seconds, work_done, self.total - work_done)
        fraction = work_done / self.total if self.total else 0.0
        return (item_done / self.work if self.work else 0.0), item_eta, min(1.0, fraction), eta

    def finish(self) -> None:
        self.done += self.work
        self.seconds += self._active()
        self.current = None

    def drop(self, item: BatchItem) -> None:
        """``item`` will not be done: its work leaves the total."""
        self.total -= self.work if self.current == item.index else item.work
        self.current = None

    def _active(self) -> float:
        return time.perf_counter() - self.started - self.paused


class _Runner:
    shares_stylizer = True  # every item runs with the batch's settings and styles

    def __init__(self, plan, on_item, on_progress, should_stop, pause, stylizer):
        self.plan = plan
        self.settings = plan.settings
        self.on_item = on_item or (lambda item: None)
        self.on_progress = on_progress or (lambda progress: None)
        self.should_stop = should_stop or (lambda: False)
        self.pause = pause
        self.stylizer = stylizer
        self.pending = plan.pending
        self.clock = _Clock(self.pending, self.settings)
        self.started = time.perf_counter()

    def run(self) -> BatchSummary:
        manifest = self.plan.manifest
        manifest.created = self.plan.created
        for item in self.plan.items:
            if item.output and (item.state == FAILED or manifest.find(item.source, item.base) is None):
                manifest.record(item)
        try:
            self._save()
            if self.pending and self.stylizer is None and self.shares_stylizer:
                self.stylizer = Stylizer(self.settings)  # once per batch: weights and style images
            for position, item in enumerate(self.pending, 1):
                if self._stopping() or not self._run_item(item, position):
                    return self._summary(interrupted=True)
        except BatchError as exc:
            raise BatchStopped(str(exc), self._summary(interrupted=True)) from None
        return self._summary(interrupted=False)

    def _stopping(self) -> bool:
        if self.pause is not None:
            self.clock.pause(self.pause.wait(self.should_stop))
        return self.should_stop()

    def _run_item(self, item: BatchItem, position: int) -> bool:
        """One job: stylize and save one item; False when the run was stopped during it."""
        self._set(item, RUNNING)
        try:
            job = self._job(item)
            content = job.load()
        except ImpastoError as exc:
            self.clock.drop(item)
            return self._fail(item, exc)
        self.clock.start(item, content.image.size, job.settings)
        try:
            outcome = job.run(
                content, on_step=lambda step: self._step(item, position, step), should_stop=self.should_stop,
                stylizer=self.stylizer,
            )
        except OutOfMemoryError as exc:
            self.clock.drop(item)
            return self._fail(item, exc, f"Out of memory: {exc}")
        if outcome.stopped:
            self._set(item, WAITING, "stopped before it was finished; nothing written")
            return False
        self._save_output(job, item, outcome)
        if item.state == DONE:
            item.seconds = outcome.result.seconds
            self.clock.finish()
            self.plan.manifest.record(
                item, settings_hash=self.plan.settings_hash, input_stamp=item.stamp, seconds=round(item.seconds, 2)
            )
            self._save()
            self._emit(item)
        return True

    def _job(self, item: BatchItem) -> Job:
        return Job(self.settings.replace(content=item.source), item.output, self.plan.options.quality)

    def _save_output(self, job: Job, item: BatchItem, outcome) -> None:
        try:
            job.save(outcome)
        except DestinationError as exc:  # would hit every later item too: stop instead of failing them all
            self._set(item, WAITING, "not written")
            raise BatchError(
                f"Batch stopped: {exc}. Nothing partial was written; fix that and run the batch again to resume."
            ) from None
        except ImageError as exc:
            self.clock.drop(item)
            self._fail(item, exc)
            return
        item.state, item.reason, item.error = DONE, "", None

    def _step(self, item: BatchItem, position: int, step: Progress) -> None:
        item_fraction, item_eta, fraction, eta = self.clock.step(step)
        self.on_progress(
            BatchProgress(
                index=item.index, position=position, count=len(self.pending), name=item.name,
                step=dataclasses.replace(step, preview=None), item_fraction=item_fraction,
                fraction=fraction, item_eta=item_eta, eta=eta, preview=step.preview,
            )
        )
        if self.pause is not None:  # blocks the engine loop right here, at the end of an iteration
            self.clock.pause(self.pause.wait(self.should_stop))

    def _fail(self, item: BatchItem, error: ImpastoError, reason: str = "") -> bool:
        item.error = error
        self._set(item, FAILED, reason or str(error))
        self.plan.manifest.record(item, input_stamp=item.stamp)
        self._save()
        return True

    def _set(self, item: BatchItem, state: str, reason: str = "") -> None:
        item.state, item.reason = state, reason
        self._emit(item)

    def _emit(self, item: BatchItem) -> None:
        self.on_item(dataclasses.replace(item))

    def _save(self) -> None:
        self.plan.manifest.save(self.settings, self.plan.settings_hash, self.plan.options)

    def _summary(self, interrupted: bool) -> BatchSummary:
        return BatchSummary(
            items=[dataclasses.replace(item) for item in self.plan.items],
            interrupted=interrupted,
            seconds=time.perf_counter() - self.started,
            output_dir=str(self.plan.output_dir),
        )

