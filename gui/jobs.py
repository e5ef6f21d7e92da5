"""Jobs the window hands to a WorkerHost: the engine's job layer (``engine.jobs``) run in the
worker thread, with its pictures converted to QImages there. Nothing touches pixels on the GUI
thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QImage

from engine import continuation, images, jobs
from engine.settings import TransferSettings
from engine.snapshots import Snapshot
from engine.transfer import TransferResult
from gui.worker import pil_to_qimage


@dataclass
class ContentFrame:
    """The content photo at the output size, emitted before the run starts (the "before")."""

    image: QImage


@dataclass
class RunOutcome:
    job: jobs.JobResult  # what ran, the content's alpha and EXIF for saving
    image: QImage  # the result as shown, converted in the worker

    @property
    def result(self) -> TransferResult:
        return self.job.result


@dataclass
class SnapshotFrame:
    """A snapshot of the running job, as shown, with what saving or continuing it needs."""

    snapshot: Snapshot
    image: QImage  # as a viewer shows it (transparency over white), converted in the worker
    thumbnail: QImage
    content: jobs.Content
    settings: TransferSettings  # what the run started with
    lineage: dict | None = None

    def job_result(self) -> jobs.JobResult:
        return jobs.snapshot_result(self.snapshot, self.content, self.settings, self.lineage)


THUMBNAIL_SIDE = 72


@dataclass
class SavedFile:
    path: Path


def warm_up_job(task) -> None:
    """Pay torch's one-off import of torch._dynamo before an Adam run, not during it: the first
    torch.optim optimiser built in a process pulls in ~900 modules, holding the GIL in slices of up
    to 160 ms. L-BFGS is the engine's own (engine/lbfgs.py) and needs none of it."""
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def stylize_job(settings: TransferSettings, lineage: dict | None = None):
    """Load the content, show it, then run the transfer with live steering; each snapshot is
    emitted as a SnapshotFrame."""

    def job(task) -> RunOutcome:
        loaded: list[jobs.Content] = []

        def show_content(content: jobs.Content) -> None:
            loaded.append(content)
            before = images.resize_long_side(content.image, settings.size)
            task.emit(ContentFrame(pil_to_qimage(content.shown(before))))

        def report(progress) -> None:
            task.report(progress)
            if progress.snapshot is not None:
                task.emit(_snapshot_frame(progress.snapshot, loaded[0], settings, lineage))

        outcome = jobs.Job(settings, lineage=lineage).run(
            on_step=report, should_stop=task.should_stop, steering=task.steering, on_content=show_content
        )
        return RunOutcome(outcome, pil_to_qimage(outcome.shown()))

    return job


def _snapshot_frame(snapshot: Snapshot, content: jobs.Content, settings, lineage) -> SnapshotFrame:
    shown = content.shown(snapshot.image)
    thumbnail = shown.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return SnapshotFrame(snapshot, pil_to_qimage(shown), pil_to_qimage(thumbnail), content, settings, lineage)


def continue_job(settings: TransferSettings, parent_path, size: int | None = None,
                 unsaved: jobs.JobResult | None = None):
    """A new run from the result at ``parent_path`` (written there first when ``unsaved`` is
    given: a snapshot or an unsaved result becomes a file, so the lineage names one), with its own
    content and styles and the rest of ``settings`` (the window's current ones), at ``size``
    (default: the parent's own)."""

    def job(task) -> RunOutcome:
        if unsaved is not None:
            jobs.save(unsaved, parent_path)
        parent = continuation.read_parent(parent_path)
        own = parent.settings
        mine = settings.replace(content=own.content, styles=own.styles, style_blend=own.style_blend)
        run_settings = continuation.continued(parent, mine, size)
        continuation.check_inputs(parent, run_settings)
        return stylize_job(run_settings, parent.lineage())(task)

    return job


def save_job(outcome: RunOutcome, path, quality: int):
    """Save a result atomically with its recipe (what ran, and how it was steered), never over
    one of its inputs."""

    def job(task) -> SavedFile:
        return SavedFile(jobs.save(outcome.job, path, quality))

    return job
