"""Labels for File ▸ Open Recent: the file name, with its folder when two names clash."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def recent_labels(paths: list[str]) -> list[str]:
    """One label per path: "c.jpg", or "c.jpg — holiday" (the folder's name, or its whole path
    when that clashes too) where another entry has the same file name."""
    names = Counter(Path(path).name.casefold() for path in paths)
    short = [f"{Path(path).name} — {Path(path).parent.name}" for path in paths]
    short_counts = Counter(label.casefold() for label in short)
    labels = []
    for path, label in zip(paths, short):
        if names[Path(path).name.casefold()] == 1:
            labels.append(Path(path).name)
        elif short_counts[label.casefold()] == 1:
            labels.append(label)
        else:
            labels.append(f"{Path(path).name} — {Path(path).parent}")
    return labels
