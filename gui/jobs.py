"""Jobs the window hands to a WorkerHost: everything that touches pixels runs in them, never on
the GUI thread."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image
from PySide6.QtGui import QImage

from engine import images, transfer
from engine.settings import TransferSettings
from engine.transfer import TransferResult
from engine.worker import pil_to_qimage


@dataclass
class ContentFrame:
    """The content photo at the output size, emitted before the run starts (the "before")."""

    image: QImage


@dataclass
class RunOutcome:
    result: TransferResult
    image: QImage  # the result, converted in the worker
    alpha: Image.Image | None  # the content's transparency, put back on save
    exif: bytes | None  # the content's EXIF, carried into the saved file


@dataclass
class SavedFile:
    path: Path


def warm_up_job(task) -> None:
    """Pay torch's one-off import of torch._dynamo (the first optimiser built in a process pulls
    in ~900 modules, holding the GIL in long slices) before the user's first run, not during it."""
    import torch

    torch.optim.LBFGS([torch.zeros(1, requires_grad=True)])


def stylize_job(settings: TransferSettings):
    """Load the content (alpha and EXIF kept aside for saving), show it, then run the transfer."""

    def job(task) -> RunOutcome:
        content, alpha = images.load_image_with_alpha(settings.content)
        exif, _ = images.read_metadata(settings.content)
        before = images.resize_long_side(content, settings.size)
        task.emit(ContentFrame(pil_to_qimage(images.over_white(before, alpha))))

        def report(progress):
            # the run keeps the colours under transparency (saving puts the alpha back); shown
            # frames are composited over white, as a viewer (and a saved JPEG) shows the result
            if progress.preview is not None and alpha is not None:
                progress = replace(progress, preview=images.over_white(progress.preview, alpha))
            task.report(progress)

        result = transfer.run(settings, report, task.should_stop, task.steering, content=content)
        return RunOutcome(result, pil_to_qimage(images.over_white(result.image, alpha)), alpha, exif)

    return job


def save_job(outcome: RunOutcome, path, quality: int):
    """Save a result atomically with its recipe (what ran, and how it was steered), never over
    one of its inputs."""
    settings = outcome.result.settings

    def job(task) -> SavedFile:
        saved = images.save_image(
            outcome.result.image, path, recipe=outcome.result.recipe(), quality=quality,
            inputs=settings.input_paths(),
            alpha=outcome.alpha, exif=outcome.exif,
        )
        return SavedFile(saved)

    return job
