"""The cost of a run, said before Start: its time on the device it will use.

A run's work is ``engine.transfer.scale_work`` (pixels x iterations of every scale, the most a
run can take); its time is that work, in megapixel-iterations, times the device's speed in
seconds per megapixel-iteration. The speed is measured on this machine: every run long enough to
say something (``MIN_SECONDS``) refines the stored figure for its device (QSettings, key
``speed/<device>``); before the first, a guess per kind of device (``FIRST_GUESS``). Only
arithmetic and an image header read happen here: nothing runs the model on the GUI thread.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from PySide6.QtCore import QSettings

from engine import devices, images
from engine.errors import ImpastoError
from engine.settings import TransferSettings
from engine.timing import format_duration
from engine.transfer import scale_work

# Seconds per megapixel-iteration before any run was measured here, from the README's benchmarks
# (tubingen x starry_night, L-BFGS, bf16): CPU, 2 idle cores of an AMD EPYC, the default 512 px
# run, 119 s for 25.8 Mpx-iterations (200 at every scale: 299 s for 68.8); CUDA, one H200, 9.6 ms
# per iteration at 512 x 384. MPS: a guess. The first measured run replaces them.
FIRST_GUESS = {"cpu": 4.5, "cuda": 0.05, "mps": 0.5}
MIN_SECONDS = 2.0  # shorter runs are mostly start-up, not speed
NEW_WEIGHT = 0.5  # how much the newest run counts against the stored speed
ASSUMED_ASPECT = (4, 3)  # the content's shape before one is chosen
DRAFT_SIZE = 256
DRAFT_ITERATIONS = 60


def draft_settings(settings: TransferSettings) -> TransferSettings:
    """A small, fast run of the same look: at most DRAFT_SIZE px (its first scale at most half
    that) and DRAFT_ITERATIONS. An output already that small keeps its scales: a coarser first
    scale would add one, and the draft would cost more than the final run."""
    if settings.size <= DRAFT_SIZE:
        return settings.replace(iterations=min(settings.iterations, DRAFT_ITERATIONS))
    size = DRAFT_SIZE
    return settings.replace(
        size=size, start_size=min(settings.start_size, max(size // 2, 16)),
        iterations=min(settings.iterations, DRAFT_ITERATIONS),
    )


@dataclass(frozen=True)
class Device:
    id: str  # "cpu", "cuda:0", "mps": the key of its measured speed
    name: str  # what the window names


@functools.lru_cache(maxsize=16)  # the devices do not change while the window runs; a slider tick asks
def resolve(request: str) -> Device | None:
    """The device a run of ``request`` ("auto" included) would use, or None when unavailable."""
    try:
        chosen = str(devices.resolve_device(request))
    except ImpastoError:
        return None
    chosen = "cuda:0" if chosen == "cuda" else chosen
    names = {info.id: info.name for info in devices.available_devices()}
    return Device(chosen, names.get(chosen, chosen))


def megapixel_iterations(settings: TransferSettings, content_size: tuple[int, int] | None) -> float:
    size = content_size or ASSUMED_ASPECT
    return sum(scale_work(settings, size)) / 1e6


class Speeds:
    """Seconds per megapixel-iteration per device, measured here and kept in QSettings."""

    def __init__(self, store: QSettings):
        self.store = store

    def measured(self, device_id: str) -> float | None:
        try:
            value = float(self.store.value(f"speed/{device_id}"))
        except (TypeError, ValueError):
            return None
        return value if 0 < value < 1e6 else None

    def rate(self, device_id: str) -> float:
        return self.measured(device_id) or FIRST_GUESS.get(device_id.split(":")[0], FIRST_GUESS["cpu"])

    def record(self, device_id: str, seconds: float, work: float) -> bool:
        """Refine the speed of ``device_id`` with a run of ``work`` megapixel-iterations that
        took ``seconds``; False (nothing learnt) for a run too short to say."""
        if seconds < MIN_SECONDS or work <= 0:
            return False
        rate = seconds / work
        old = self.measured(device_id)
        self.store.setValue(f"speed/{device_id}", rate if old is None else (1 - NEW_WEIGHT) * old + NEW_WEIGHT * rate)
        return True


class Estimator:
    """The line beside Start: "≈ 1 min 20 s (draft ≈ 6 s) on CPU — AMD EPYC …"."""

    def __init__(self, speeds: Speeds):
        self.speeds = speeds
        self._sizes: dict[str, tuple[int, int] | None] = {}

    def content_size(self, path: str) -> tuple[int, int] | None:
        if path not in self._sizes:
            try:
                self._sizes[path] = images.image_size(path) if path else None
            except (ImpastoError, OSError):
                self._sizes[path] = None
        return self._sizes[path]

    def seconds(self, settings: TransferSettings, device: Device) -> float:
        return megapixel_iterations(settings, self.content_size(settings.content)) * self.speeds.rate(device.id)

    def text(self, settings: TransferSettings) -> tuple[str, str]:
        """(the line, its tooltip) for ``settings``."""
        device = resolve(settings.device)
        if device is None:
            return f"{settings.device} is not available here", "Choose another device in Settings"
        try:
            settings.replace(content="", styles=[], style_blend=[]).validate(need_images=False)
        except ImpastoError as exc:
            return "", str(exc)
        full = format_duration(self.seconds(settings, device))
        draft = format_duration(self.seconds(draft_settings(settings), device))
        measured = self.speeds.measured(device.id) is not None
        basis = "measured on this machine" if measured else "a first guess until a run here is measured"
        tooltip = (f"Estimated time at most (a scale whose picture stops changing ends sooner), {basis}. "
                   f"Draft: {DRAFT_SIZE} px, {DRAFT_ITERATIONS} iterations at most. Device: {device.name}"
                   + (" (Automatic)" if settings.device == "auto" else ""))
        return f"≈ {full} · draft ≈ {draft} · on {device.name}", tooltip


__all__ = ["Device", "Estimator", "Speeds", "draft_settings", "megapixel_iterations", "resolve"]
