"""Finding the input images of a batch: files and folders, never the batch's own outputs."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Iterable

from engine import images
from engine.batch.items import is_dir, path_key
from engine.batch.manifest import MANIFEST_NAME


def scan_inputs(inputs: Iterable, output_dir, recursive: bool = False):
    """([(image path, folder relative to its input folder)], [(path, reason)] for what could not
    be listed). Hidden files are left out, and so are the output folder and any other folder
    holding a batch manifest (earlier outputs), so outputs never come back in as inputs."""
    out_key = path_key(output_dir)
    found, problems, seen = [], [], set()
    for raw in inputs:
        path = Path(raw).expanduser().absolute()
        if is_dir(path):
            if path_key(path) == out_key:
                continue  # refused by plan_batch; scanning it would take outputs for inputs
            entries = _scan_folder(path, out_key, recursive, problems)
        elif os.path.lexists(path):
            entries = [(path, PurePosixPath())]
        else:
            problems.append((str(path), f"Not found: {path}"))
            continue
        for source, folder in entries:
            key = path_key(source)
            if key not in seen:
                seen.add(key)
                found.append((source, folder))
    return found, problems


def _scan_folder(root: Path, out_key: str, recursive: bool, problems: list) -> list:
    found = []
    pending = [(root, PurePosixPath())]
    while pending:
        folder, relative = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            problems.append((str(folder), f"Cannot read folder {folder}: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive and not _is_output_folder(path, out_key):
                        pending.append((path, relative / entry.name))
                elif entry.is_file() and path.suffix.lower() in images.IMAGE_SUFFIXES:
                    found.append((path, relative))
            except OSError:
                problems.append((str(path), f"Cannot read {path}"))
    found.sort(key=lambda pair: ([part.casefold() for part in pair[1].parts], pair[0].name.casefold()))
    return found


def _is_output_folder(path: Path, out_key: str) -> bool:
    return path_key(path) == out_key or (path / MANIFEST_NAME).is_file()

