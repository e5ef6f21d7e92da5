"""The job layer: one path from "these inputs" to "this saved picture".

The command line (``main.py stylize``), the window (Start, then Save / Save As) and the batch
queue (one job per input image) all go through here, so a rule about inputs or outputs is written
once and holds for all three:

* ``TransferSettings.input_paths()``: the files a job must never overwrite (content, styles, init
  image, a weights file), the one list behind ``guard_output``, ``Job.check`` and ``save``;
* ``Job.check()`` / ``guard_output()``: settings and output checked before any work is spent;
* ``Job.load()``: the content as RGB plus what saving puts back (alpha, EXIF);
* ``Job.run()``: the optimisation (``engine.transfer``), previews composited as a viewer shows them;
* ``save()``: atomic, the recipe of what ran (and how it was steered) embedded, alpha/EXIF/ICC kept
  as ``engine.images`` does.

Failures are raised as the typed errors of ``engine.errors`` (an ``OutOfMemoryError`` keeps its
``suggested_size``); front ends decide how to show them. No Qt here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image

from engine import images, masks, transfer
from engine.settings import PARENT_KEY, TransferSettings
from engine.snapshots import Snapshot
from engine.transfer import Progress, Steering, Stylizer, TransferResult


# ------------------------------------------------------------------------ styles


@dataclass(frozen=True)
class Style:
    """One style image of a job, its weight in the blend and where it applies (``mask``: a file
    or PNG data URI, engine.masks; "" = everywhere).

    A per-style scale belongs here as a new field with a default (``scale: float | None = None``),
    carried into TransferSettings by ``with_styles``.
    """

    path: str
    blend: float = 1.0
    mask: str = ""


def styles_of(settings: TransferSettings) -> list[Style]:
    """The styles of ``settings``; a blend list that does not match the styles counts as equal."""
    blends = settings.style_blend if len(settings.style_blend) == len(settings.styles) else []
    specs = settings.style_masks if len(settings.style_masks) == len(settings.styles) else []
    return [Style(path, float(blends[i]) if blends else 1.0, specs[i] if specs else "")
            for i, path in enumerate(settings.styles)]


def with_styles(settings: TransferSettings, styles: list[Style]) -> TransferSettings:
    """``settings`` with these styles; no style with a mask leaves ``style_masks`` empty."""
    style_masks = [s.mask for s in styles] if any(s.mask for s in styles) else []
    return settings.replace(styles=[s.path for s in styles], style_blend=[s.blend for s in styles],
                            style_masks=style_masks)


# ------------------------------------------------------------------------ inputs and outputs


def guard_output(settings: TransferSettings, output, quality: int = 95) -> Path:
    """``output`` as a path to write, or ImageError: unknown type, a folder, or one of the files
    the job reads (``settings.input_paths()``)."""
    return images.check_output_path(output, settings.input_paths(), quality)


@dataclass
class Content:
    """The content photo as a job uses it: sRGB pixels, plus what saving puts back."""

    image: Image.Image  # RGB; the colours under transparent parts are kept
    alpha: Image.Image | None = None  # transparency, put back on save
    exif: bytes | None = None  # carried into the saved file

    def shown(self, picture: Image.Image) -> Image.Image:
        """``picture`` as a viewer (and a saved JPEG) shows it: composited over white."""
        return images.over_white(picture, self.alpha)


def load_content(path) -> Content:
    """Load the content photo (ImageError when it cannot be used)."""
    image, alpha = images.load_image_with_alpha(path)
    exif, _ = images.read_metadata(path)
    return Content(image, alpha, exif)


@dataclass
class JobResult:
    """A finished (or stopped) job: the transfer's result, the content it ran on, and where it
    was saved (None until saved)."""

    result: TransferResult
    content: Content
    settings: TransferSettings  # what ran: the weights in force at the end, the job's own content path
    saved: Path | None = None
    lineage: dict | None = None  # the parent a continued run started from (engine.continuation)

    @property
    def stopped(self) -> bool:
        return self.result.stopped

    @property
    def image(self) -> Image.Image:
        return self.result.image

    def shown(self) -> Image.Image:
        return self.content.shown(self.result.image)


def save(outcome: JobResult, output, quality: int = 95) -> Path:
    """Write ``outcome`` to ``output`` atomically, with the recipe of what ran and how it was
    steered, the content's alpha and EXIF, never over one of its inputs."""
    settings = outcome.settings
    # a mask file may move: the recipe keeps the mask itself (engine.masks), within a JPEG's room
    room = masks.JPEG_ROOM if Path(output).suffix.lower() in (".jpg", ".jpeg") else None
    kept = settings.replace(style_masks=masks.embedded(settings.style_masks, room))
    recipe = kept.recipe(outcome.result.steering, outcome.result.run_record())
    if outcome.lineage is not None:
        recipe[PARENT_KEY] = outcome.lineage
    outcome.saved = images.save_image(
        outcome.result.image, output, recipe=recipe, quality=quality,
        inputs=settings.input_paths(), alpha=outcome.content.alpha, exif=outcome.content.exif,
    )
    return outcome.saved


def snapshot_result(snapshot: Snapshot, content: Content, settings: TransferSettings,
                    lineage: dict | None = None) -> JobResult:
    """A snapshot of a run as a result of its own, to save (with the recipe of the run) or
    continue from."""
    result = TransferResult(snapshot.image, stopped=True, iterations=snapshot.iteration, seconds=0.0, settings=settings)
    return JobResult(result, content, settings, lineage=lineage)


# ------------------------------------------------------------------------ the job


@dataclass
class Job:
    """Stylize ``settings.content`` with ``settings.styles``; save to ``output`` when given
    (the window saves later, to a path the user picks: ``save``)."""

    settings: TransferSettings
    output: str | Path | None = None
    quality: int = 95
    lineage: dict | None = None  # a continued run's parent, recorded in its recipe

    def check(self) -> "Job":
        """Everything that can be refused before the run: settings, masks, output name, output folder."""
        self.settings.validate()
        masks.check(self.settings.style_masks, len(self.settings.styles))
        if self.output is not None:
            self.output = guard_output(self.settings, self.output, self.quality)
            images.check_writable(self.output)
        return self

    def load(self) -> Content:
        return load_content(self.settings.content)

    def run(
        self,
        content: Content | None = None,
        on_step: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        steering: Steering | None = None,
        stylizer: Stylizer | None = None,
        on_content: Callable[[Content], None] | None = None,
    ) -> JobResult:
        """Load the content (unless given), then run the transfer: with ``stylizer`` (a batch's,
        prepared once) or a new one. ``on_content(content)`` is called once it is loaded."""
        content = content if content is not None else self.load()
        if on_content is not None:
            on_content(content)
        report = on_step or (lambda progress: None)

        def step(progress: Progress) -> None:
            # the run keeps the colours under transparency (saving puts the alpha back); shown
            # frames are composited over white, as a viewer (and a saved JPEG) shows the result
            if progress.preview is not None and content.alpha is not None:
                progress = dataclasses.replace(progress, preview=content.shown(progress.preview))
            report(progress)

        if stylizer is None:
            result = transfer.run(self.settings, step, should_stop, steering, content=content.image)
        else:
            result = stylizer.stylize(content.image, step, should_stop, steering)
        ran = result.settings.replace(content=self.settings.content)
        return JobResult(result, content, ran, lineage=self.lineage)

    def save(self, outcome: JobResult, output=None, quality: int | None = None) -> Path:
        return save(outcome, output if output is not None else self.output, self.quality if quality is None else quality)

    def __call__(self, on_step=None, should_stop=None, steering=None) -> JobResult:
        """The whole path: check, load, run, and save unless stopped."""
        self.check()
        outcome = self.run(on_step=on_step, should_stop=should_stop, steering=steering)
        if not outcome.stopped and self.output is not None:
            self.save(outcome)
        return outcome


__all__ = [
    "Content", "Job", "JobResult", "Style", "guard_output", "load_content", "save", "snapshot_result", "styles_of",
    "with_styles",
]
