"""Jobs the window hands to a WorkerHost: the engine's job layer (``engine.jobs``) run in the
worker thread, with its pictures converted to QImages there. Nothing touches pixels on the GUI
thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QImage

from engine import images, jobs
from engine.settings import TransferSettings
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
class SavedFile:
    path: Path


def warm_up_job(task) -> None:
    """Pay torch's one-off import of torch._dynamo (the first optimiser built in a process pulls
    in ~900 modules, holding the GIL in long slices) before the user's first run, not during it."""
    import torch

    torch.optim.LBFGS([torch.zeros(1, requires_grad=True)])


def stylize_job(settings: TransferSettings):
    """Load the content, show it, then run the transfer with live steering."""

    def job(task) -> RunOutcome:
        def show_content(content: jobs.Content) -> None:
            before = images.resize_long_side(content.image, settings.size)
            task.emit(ContentFrame(pil_to_qimage(content.shown(before))))

        outcome = jobs.Job(settings).run(
            on_step=task.report, should_stop=task.should_stop, steering=task.steering, on_content=show_content
        )
        return RunOutcome(outcome, pil_to_qimage(outcome.shown()))

    return job


def save_job(outcome: RunOutcome, path, quality: int):
    """Save a result atomically with its recipe (what ran, and how it was steered), never over
    one of its inputs."""

    def job(task) -> SavedFile:
        return SavedFile(jobs.save(outcome.job, path, quality))

    return job
