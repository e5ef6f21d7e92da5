"""The plan of a batch: every input found, its output named, and what is left to do."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from engine import images
from engine.batch.items import DONE, FAILED, SKIPPED, WAITING, BatchError, BatchItem, is_dir, path_key
from engine.batch.manifest import Manifest, now, settings_hash, stamp
from engine.batch.names import BatchOptions, numbered, output_extension, render_name, style_label
from engine.batch.scan import scan_inputs
from engine.errors import ImageError, SettingsError
from engine.settings import TransferSettings
from engine.transfer import scale_work


@dataclass
class BatchPlan:
    settings: TransferSettings
    options: BatchOptions
    items: list[BatchItem]
    settings_hash: str
    created: str  # when this output folder's batch was first planned (ISO, local time)
    manifest: "Manifest" = field(repr=False)

    @property
    def output_dir(self) -> Path:
        return self.manifest.folder

    @property
    def pending(self) -> list[BatchItem]:
        return [item for item in self.items if item.state == WAITING]

    def count(self, state: str) -> int:
        return sum(item.state == state for item in self.items)



def plan_batch(
    inputs: Iterable, settings: TransferSettings, options: BatchOptions, redo: Iterable = ()
) -> BatchPlan:
    """Scan ``inputs`` (files and folders), name every output and decide what is left to do.

    Reads the output folder's manifest but writes nothing. Items whose input cannot be read get
    state "failed" with the reason; items done before with the same settings "skipped", except
    the input files named in ``redo``: those are done again, over their earlier output.
    """
    settings, out = checked(inputs, settings, options)
    found, problems = scan_inputs(inputs, out, options.recursive)
    manifest = Manifest.load(out)
    created = manifest.created or now()
    digest = settings_hash(settings, options.quality)
    items = _named_items(found, settings, options, created[:10])
    # no output may replace an input: the photos found and every file the jobs read (styles, an
    # init image, a weights file), e.g. an earlier output now used as a style or init image
    input_keys = {path_key(path) for path in [*(source for source, _ in found), *settings.input_paths()]}
    _assign_outputs(items, manifest, out, input_keys)
    redo_keys = {path_key(path) for path in redo}
    for item in items:
        _initial_state(item, manifest, digest, settings, redo=path_key(item.source) in redo_keys)
    for path, reason in problems:
        items.append(BatchItem(index=len(items) + 1, source=path, state=FAILED, reason=reason))
    return BatchPlan(settings, options, items, digest, created, manifest)


def checked(inputs, settings: TransferSettings, options: BatchOptions) -> tuple[TransferSettings, Path]:
    """(the batch's settings with absolute paths, the output folder), or the error that stops it."""
    options.validate()
    settings = settings.replace(
        content="",
        styles=[str(Path(style).expanduser().absolute()) for style in settings.styles],
        init_image=str(Path(settings.init_image).expanduser().absolute()) if settings.init_image else "",
        style_masks=[],  # a mask is painted for one photo: a batch runs every style everywhere
    )
    settings.validate(need_images=False)
    if settings.active_style_layers() and not settings.styles:
        raise SettingsError("No style image given.")
    return settings, output_folder(inputs, options)


def output_folder(inputs, options: BatchOptions) -> Path:
    """The batch's output folder, absolute, or the BatchError that stops it."""
    out = Path(options.output_dir).expanduser().absolute()
    if os.path.lexists(out) and not is_dir(out):
        raise BatchError(f"The output folder {out} is a file, not a folder.")
    out_key = path_key(out)
    for raw in inputs:
        if path_key(raw) == out_key and is_dir(Path(raw).expanduser()):
            raise BatchError(
                f"The output folder {out} is also an input folder; choose another (a new subfolder is fine)."
            )
    return out


def _named_items(found, settings, options, date) -> list[BatchItem]:
    style = style_label(settings)
    items = []
    for index, (source, folder) in enumerate(found, 1):
        item = BatchItem(index=index, source=str(source), stamp=stamp(str(source)))
        try:
            name = render_name(
                options.template, stem=source.stem, style=style,
                ext=output_extension(source, options.extension), index=index, date=date,
            )
            item.base = str(folder / name)
        except BatchError as exc:
            item.state, item.reason, item.error = FAILED, str(exc), exc
        items.append(item)
    return items


def _assign_outputs(items: list[BatchItem], manifest: Manifest, out: Path, input_keys: set) -> None:
    """Give every named item a distinct output: its earlier one if the manifest has it, else the
    template's name, or that name with -2, -3... when another input, an earlier batch or an
    existing file already has it. Never an input's path."""
    taken: set[str] = set()
    reused = set()
    for item in items:
        entry = manifest.find(item.source, item.base) if item.base else None
        if entry and entry["output"].casefold() not in taken and path_key(out / entry["output"]) not in input_keys:
            item.output = str(out / entry["output"])
            taken.add(entry["output"].casefold())
            reused.add(id(entry))
    taken.update(e["output"].casefold() for e in manifest.entries.values() if id(e) not in reused)
    for item in items:
        if not item.base or item.output:
            continue
        name, number = item.base, 2
        while name.casefold() in taken or os.path.lexists(out / name):
            name, number = numbered(item.base, number), number + 1
        taken.add(name.casefold())
        item.output = str(out / name)


def _initial_state(item: BatchItem, manifest: Manifest, digest: str, settings: TransferSettings,
                   redo: bool = False) -> None:
    if item.state == FAILED:
        return
    entry = manifest.find(item.source, item.base)
    if (
        not redo
        and entry is not None
        and entry.get("state") == DONE
        and entry.get("settings_hash") == digest
        and entry.get("input_stamp") == item.stamp
        and os.path.isfile(item.output)
    ):
        item.state, item.reason = SKIPPED, "already done with these settings"
        return
    try:
        width, height = images.image_size(item.source)
    except ImageError as exc:
        item.state, item.reason, item.error = FAILED, str(exc), exc
        return
    item.work = sum(scale_work(settings, (width, height)))

