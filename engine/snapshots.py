"""Snapshots of a run: the picture every ``snapshot_every`` iterations and at the end of every
scale, kept under a memory cap so that a painter can scrub back and pick up an earlier moment.

The loop (``engine.transfer._Run``) takes them and reports each one on its Progress; a
``SnapshotKeeper`` holds them. When the kept pictures pass the cap, the oldest intermediate
snapshots go first; the ends of scales (a size's finished picture) go only when nothing else is
left to drop, and the newest snapshot is always kept. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

BYTES_PER_MB = 1024 * 1024


@dataclass(eq=False)
class Snapshot:
    image: Image.Image  # RGB, the run's own pixels (no alpha composited)
    iteration: int  # done so far, counted across all scales
    scale: int  # index of the scale it was taken at
    end_of_scale: bool = False  # the scale's finished picture (the last one of a run included)

    @property
    def nbytes(self) -> int:
        return self.image.width * self.image.height * len(self.image.getbands())


def is_due(every: int, iteration: int, end_of_scale: bool) -> bool:
    """Whether the loop takes a snapshot after ``iteration``: never when ``every`` is 0."""
    return every > 0 and (end_of_scale or iteration % every == 0)


@dataclass
class SnapshotKeeper:
    """The snapshots of one run, oldest first, at most ``limit_mb`` megabytes of pixels."""

    limit_mb: float
    snapshots: list[Snapshot] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(snapshot.nbytes for snapshot in self.snapshots)

    def add(self, snapshot: Snapshot) -> list[Snapshot]:
        """Keep ``snapshot``; return those dropped to stay under the cap (oldest first)."""
        self.snapshots.append(snapshot)
        dropped = []
        while self.nbytes > self.limit_mb * BYTES_PER_MB and len(self.snapshots) > 1:
            victim = self._oldest_droppable()
            self.snapshots.remove(victim)
            dropped.append(victim)
        return dropped

    def _oldest_droppable(self) -> Snapshot:
        older = self.snapshots[:-1]  # the newest one stays
        intermediate = [snapshot for snapshot in older if not snapshot.end_of_scale]
        return (intermediate or older)[0]

    def clear(self) -> None:
        self.snapshots.clear()


__all__ = ["Snapshot", "SnapshotKeeper", "is_due"]
