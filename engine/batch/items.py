"""What a batch is made of: its items and their states, its progress and summary, its errors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from engine.errors import ImpastoError
from engine.transfer import Progress


WAITING, RUNNING, DONE, SKIPPED, FAILED = "waiting", "running", "done", "skipped", "failed"
STATES = (WAITING, RUNNING, DONE, SKIPPED, FAILED)


class BatchError(ImpastoError):
    """The batch as a whole cannot start or go on (bad template, output folder, full disk...)."""


class BatchStopped(BatchError):
    """The batch stopped part way; ``summary`` says what was done before."""

    def __init__(self, message: str, summary: "BatchSummary"):
        super().__init__(message)
        self.summary = summary



@dataclass
class BatchItem:
    index: int  # 1-based position in the batch
    source: str  # the input image, absolute
    output: str = ""  # the output file, absolute ("" when none could be named)
    state: str = WAITING
    reason: str = ""  # why it failed or was skipped
    seconds: float = 0.0
    work: int = 0  # estimated cost: pixels x iterations over all scales
    base: str = ""  # output name before any "-2" suffix, relative to the output folder
    stamp: list = field(default_factory=list)  # [size, mtime_ns] of the input when planned
    error: ImpastoError | None = field(default=None, compare=False, repr=False)  # why it failed, typed

    @property
    def name(self) -> str:
        return Path(self.source).name



@dataclass
class BatchSummary:
    items: list[BatchItem]
    interrupted: bool
    seconds: float
    output_dir: str

    def count(self, state: str) -> int:
        return sum(item.state == state for item in self.items)

    @property
    def done(self) -> int:
        return self.count(DONE)

    @property
    def skipped(self) -> int:
        return self.count(SKIPPED)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def not_started(self) -> int:
        return self.count(WAITING) + self.count(RUNNING)

    def line(self) -> str:
        text = f"{self.done} done, {self.skipped} skipped, {self.failed} failed"
        return text + (f", {self.not_started} not done yet" if self.not_started else "")


@dataclass
class BatchProgress:
    """One engine step inside a batch; ``preview`` as in Progress (gui.worker forwards it)."""

    index: int  # BatchItem.index
    position: int  # 1-based among the items this run works on
    count: int  # items this run works on
    name: str  # file name of the input
    step: Progress  # the engine's progress for this item (its preview moved out)
    item_fraction: float
    fraction: float  # of the whole run
    item_eta: float | None
    eta: float | None  # seconds left for the whole run
    preview: Image.Image | None = None



def path_key(path) -> str:
    """Identity of a path for comparisons (symlinks resolved, case folded where the OS does)."""
    return os.path.normcase(str(Path(path).expanduser().resolve()))


def is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False

