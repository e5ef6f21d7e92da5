"""Batch: stylize whole folders with one Stylizer, a crash-safe manifest and resumable runs.

``plan_batch`` scans the inputs and names every output; ``run_batch`` locks the output folder,
plans, and works through the items. The manifest (``impasto-batch.json`` in the output folder,
rewritten atomically) holds the settings and each item's state, so running the same batch again
skips what is done with the same settings and redoes what changed. No Qt here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import re
import string
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable

from PIL import Image

from engine import images
from engine.errors import ImageError, ImpastoError, OutOfMemoryError, SettingsError
from engine.settings import TransferSettings
from engine.transfer import Progress, Stylizer

MANIFEST_NAME = "impasto-batch.json"
LOCK_NAME = "impasto-batch.lock"
MANIFEST_KEY = "impasto_batch"  # the manifest is a settings file plus this key
MANIFEST_VERSION = 1
TEMP_PREFIX = ".impasto-"  # what images.save_image names its temp files
DEFAULT_TEMPLATE = "{stem}_{style}.{ext}"
TEMPLATE_FIELDS = ("stem", "style", "ext", "index", "date")
EXTENSIONS = ("png", "jpg", "tif", "webp", "same")
DEFAULT_EXTENSION = "png"

WAITING, RUNNING, DONE, SKIPPED, FAILED = "waiting", "running", "done", "skipped", "failed"
STATES = (WAITING, RUNNING, DONE, SKIPPED, FAILED)

# Settings that do not change what a batch writes, so changing them does not redo items.
_UNHASHED = ("content", "device", "precision", "preview_interval_ms")
# Save errors that would hit every later item too: the batch stops instead of failing them all.
_BATCH_STOPPING_SAVE_ERRORS = ("No space left", "Cannot write to folder")
_DRIVE = re.compile(r"^[A-Za-z]:")


class BatchError(ImpastoError):
    """The batch as a whole cannot start or go on (bad template, output folder, full disk...)."""


class BatchStopped(BatchError):
    """The batch stopped part way; ``summary`` says what was done before."""

    def __init__(self, message: str, summary: "BatchSummary"):
        super().__init__(message)
        self.summary = summary


# ------------------------------------------------------------------------ data


@dataclass
class BatchOptions:
    output_dir: str
    template: str = DEFAULT_TEMPLATE
    extension: str = DEFAULT_EXTENSION  # png jpg tif webp, or "same" as the input where possible
    recursive: bool = False  # include subfolders, mirrored under output_dir
    quality: int = 95  # JPEG/WebP

    def validate(self) -> "BatchOptions":
        if not str(self.output_dir).strip():
            raise BatchError("Choose an output folder for the batch.")
        if self.extension not in EXTENSIONS:
            raise BatchError(f"Output format must be one of {', '.join(EXTENSIONS)} (got {self.extension!r}).")
        if not 1 <= int(self.quality) <= 100:
            raise BatchError(f"Quality must be 1..100 (got {self.quality}).")
        check_template(self.template, self.extension)
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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

    @property
    def name(self) -> str:
        return Path(self.source).name


@dataclass
class BatchPlan:
    settings: TransferSettings
    options: BatchOptions
    items: list[BatchItem]
    settings_hash: str
    created: str  # when this output folder's batch was first planned (ISO, local time)
    manifest: "_Manifest" = field(repr=False)

    @property
    def output_dir(self) -> Path:
        return self.manifest.folder

    @property
    def pending(self) -> list[BatchItem]:
        return [item for item in self.items if item.state == WAITING]

    def count(self, state: str) -> int:
        return sum(item.state == state for item in self.items)


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
    """One engine step inside a batch; ``preview`` as in Progress (engine.worker forwards it)."""

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


class PauseGate:
    """Pause blocks the running batch at its next iteration; resume lets it go on; Stop still works."""

    def __init__(self):
        self._open = threading.Event()
        self._open.set()

    @property
    def paused(self) -> bool:
        return not self._open.is_set()

    def pause(self) -> None:
        self._open.clear()

    def resume(self) -> None:
        self._open.set()

    def wait(self, should_stop: Callable[[], bool] = lambda: False, poll: float = 0.05) -> float:
        """Block while paused (until resumed or ``should_stop()``); the seconds spent waiting."""
        if self._open.is_set():
            return 0.0
        started = time.perf_counter()
        while not self._open.wait(poll) and not should_stop():
            pass
        return time.perf_counter() - started


# ------------------------------------------------------------------------ names


def check_template(template: str, extension: str = DEFAULT_EXTENSION) -> None:
    """Raise BatchError unless ``template`` names an image file inside the output folder."""
    sample_ext = DEFAULT_EXTENSION if extension == "same" else extension
    render_name(template, stem="photo", style="style", ext=sample_ext, index=1, date="2000-01-01")


def render_name(template: str, **fields) -> str:
    """The output path (relative, "/"-separated) ``template`` gives for these fields."""
    for _, name, _, _ in _parse_template(template):
        if name is not None and name not in TEMPLATE_FIELDS:
            allowed = " ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
            raise BatchError(f"Name template {template!r}: unknown field {{{name}}} (use {allowed}).")
    try:
        name = template.format(**fields)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise BatchError(f"Name template {template!r} cannot be used: {exc}.") from None
    return _inside_output(name, template)


def _parse_template(template: str) -> list:
    try:
        return list(string.Formatter().parse(template))
    except ValueError as exc:
        raise BatchError(f"Name template {template!r} is not valid: {exc} (write braces as {{{{ }}}}).") from None


def _inside_output(name: str, template: str) -> str:
    """``name`` as a clean relative path, refusing anything that could leave the output folder."""
    text = name.strip()
    parts = [part for part in re.split(r"[\\/]", text) if part not in ("", ".")]
    if text.startswith(("/", "\\")) or _DRIVE.match(text) or ".." in parts or "\0" in text:
        raise BatchError(
            f"Name template {template!r} would write outside the output folder "
            f"(no '..', absolute paths or drive letters; e.g. {DEFAULT_TEMPLATE})."
        )
    if not parts:
        raise BatchError(f"Name template {template!r} gives an empty file name.")
    if PurePosixPath(parts[-1]).suffix.lower() not in images.SUPPORTED_SUFFIXES:
        raise BatchError(
            f"Name template {template!r} gives {parts[-1]!r}, not an image file name: "
            f"end it with .{{ext}} or one of {' '.join(images.SUPPORTED_SUFFIXES)}."
        )
    return "/".join(parts)


def output_extension(source, extension: str) -> str:
    """The {ext} of ``source``'s output: ``extension``, or for "same" the input's own suffix when
    Impasto can write that format (else png)."""
    if extension != "same":
        return extension
    suffix = Path(source).suffix.lower()
    return suffix[1:] if suffix in images.SUPPORTED_SUFFIXES else DEFAULT_EXTENSION


def style_label(settings: TransferSettings) -> str:
    """{style}: the style image's stem, or the stems joined with '+' for a blend."""
    return "+".join(Path(style).stem for style in settings.styles) or "nostyle"


def _numbered(base: str, number: int) -> str:
    path = PurePosixPath(base)
    return str(path.with_name(f"{path.stem}-{number}{path.suffix}"))


# ------------------------------------------------------------------------ scanning


def _key(path) -> str:
    """Identity of a path for comparisons (symlinks resolved, case folded where the OS does)."""
    return os.path.normcase(str(Path(path).expanduser().resolve()))


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def scan_inputs(inputs: Iterable, output_dir, recursive: bool = False):
    """([(image path, folder relative to its input folder)], [(path, reason)] for what could not
    be listed). Hidden files are left out, and so are the output folder and any other folder
    holding a batch manifest (earlier outputs), so outputs never come back in as inputs."""
    out_key = _key(output_dir)
    found, problems, seen = [], [], set()
    for raw in inputs:
        path = Path(raw).expanduser().absolute()
        if _is_dir(path):
            if _key(path) == out_key:
                continue  # refused by plan_batch; scanning it would take outputs for inputs
            entries = _scan_folder(path, out_key, recursive, problems)
        elif os.path.lexists(path):
            entries = [(path, PurePosixPath())]
        else:
            problems.append((str(path), f"Not found: {path}"))
            continue
        for source, folder in entries:
            key = _key(source)
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
    return _key(path) == out_key or (path / MANIFEST_NAME).is_file()


# ------------------------------------------------------------------------ manifest


class _Manifest:
    """The record of one output folder: the latest settings and one entry per (input, name)."""

    def __init__(self, folder: Path, created: str | None = None, entries: list | None = None):
        self.folder = folder
        self.path = folder / MANIFEST_NAME
        self.created = created
        self.entries: dict[tuple[str, str], dict] = {}
        for entry in entries or []:
            self.entries[(_key(entry["source"]), entry["base"])] = entry

    @classmethod
    def load(cls, folder: Path) -> "_Manifest":
        path = folder / MANIFEST_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(folder)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise BatchError(f"Cannot read the batch manifest {path}: {reason}.") from None
        damaged = BatchError(
            f"The batch manifest {path} is damaged; rename or delete it to start this folder afresh."
        )
        try:
            batch = json.loads(text)[MANIFEST_KEY]
            entries = [e for e in batch["items"] if _valid_entry(e)]
            version = int(batch.get("version", 1))
        except (ValueError, KeyError, TypeError):
            raise damaged from None
        if version > MANIFEST_VERSION:
            raise BatchError(f"The batch manifest {path} comes from a newer Impasto; use another output folder.")
        return cls(folder, str(batch.get("created") or "") or None, entries)

    def find(self, source: str, base: str) -> dict | None:
        return self.entries.get((_key(source), base))

    def record(self, item: BatchItem, **extra) -> None:
        entry = self.entries.setdefault((_key(item.source), item.base), {})
        entry.update(
            source=item.source,
            base=item.base,
            output=Path(item.output).relative_to(self.folder).as_posix(),
            state=item.state,
            reason=item.reason,
            updated=_now(),
            **extra,
        )

    def save(self, settings: TransferSettings, settings_hash: str, options: BatchOptions) -> None:
        data = settings.to_dict()
        data[MANIFEST_KEY] = {
            "version": MANIFEST_VERSION,
            "created": self.created,
            "updated": _now(),
            "settings_hash": settings_hash,
            "options": options.to_dict(),
            "items": sorted(self.entries.values(), key=lambda e: (e["output"].casefold(), e["source"])),
        }
        _write_atomic(self.path, json.dumps(data, indent=1, ensure_ascii=False))


def _valid_entry(entry) -> bool:
    return isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("source", "base", "output"))


def _now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def _write_atomic(path: Path, text: str) -> None:
    temp = None
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX + "batch-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
        temp = None
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            raise BatchError(f"No space left on device while writing the batch manifest {path}.") from None
        raise BatchError(f"Cannot write the batch manifest {path}: {exc.strerror or exc}.") from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def settings_hash(settings: TransferSettings, quality: int = 95) -> str:
    """Fingerprint of everything in ``settings`` that changes the pixels a batch writes."""
    data = {k: v for k, v in settings.to_dict().items() if k not in _UNHASHED}
    data["styles"] = [_key(style) for style in settings.styles]
    data["quality"] = quality
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _stamp(path: str) -> list:
    try:
        info = os.stat(path)
    except OSError:
        return []
    return [info.st_size, info.st_mtime_ns]


# ------------------------------------------------------------------------ planning


def plan_batch(inputs: Iterable, settings: TransferSettings, options: BatchOptions) -> BatchPlan:
    """Scan ``inputs`` (files and folders), name every output and decide what is left to do.

    Reads the output folder's manifest but writes nothing. Items whose input cannot be read get
    state "failed" with the reason; items done before with the same settings "skipped".
    """
    settings, out = _checked(inputs, settings, options)
    found, problems = scan_inputs(inputs, out, options.recursive)
    manifest = _Manifest.load(out)
    created = manifest.created or _now()
    digest = settings_hash(settings, options.quality)
    items = _named_items(found, settings, options, created[:10])
    input_keys = {_key(path) for path in [*(source for source, _ in found), *settings.input_paths()]}
    _assign_outputs(items, manifest, out, input_keys)
    for item in items:
        _initial_state(item, manifest, digest, settings)
    for path, reason in problems:
        items.append(BatchItem(index=len(items) + 1, source=path, state=FAILED, reason=reason))
    return BatchPlan(settings, options, items, digest, created, manifest)


def _checked(inputs, settings: TransferSettings, options: BatchOptions) -> tuple[TransferSettings, Path]:
    """(the batch's settings with absolute paths, the output folder), or the error that stops it."""
    options.validate()
    settings = settings.replace(
        content="",
        styles=[str(Path(style).expanduser().absolute()) for style in settings.styles],
        init_image=str(Path(settings.init_image).expanduser().absolute()) if settings.init_image else "",
    )
    settings.validate(need_images=False)
    if settings.active_style_layers() and not settings.styles:
        raise SettingsError("No style image given.")
    out = Path(options.output_dir).expanduser().absolute()
    if os.path.lexists(out) and not _is_dir(out):
        raise BatchError(f"The output folder {out} is a file, not a folder.")
    out_key = _key(out)
    for raw in inputs:
        if _key(raw) == out_key and _is_dir(Path(raw).expanduser()):
            raise BatchError(
                f"The output folder {out} is also an input folder; choose another (a new subfolder is fine)."
            )
    return settings, out


def _named_items(found, settings, options, date) -> list[BatchItem]:
    style = style_label(settings)
    items = []
    for index, (source, folder) in enumerate(found, 1):
        item = BatchItem(index=index, source=str(source), stamp=_stamp(str(source)))
        try:
            name = render_name(
                options.template, stem=source.stem, style=style,
                ext=output_extension(source, options.extension), index=index, date=date,
            )
            item.base = str(folder / name)
        except BatchError as exc:
            item.state, item.reason = FAILED, str(exc)
        items.append(item)
    return items


def _assign_outputs(items: list[BatchItem], manifest: _Manifest, out: Path, input_keys: set) -> None:
    """Give every named item a distinct output: its earlier one if the manifest has it, else the
    template's name, or that name with -2, -3... when another input, an earlier batch or an
    existing file already has it. Never an input's path (``input_keys``: the photos and every file
    the settings read, e.g. an earlier output used as the init image)."""
    taken: set[str] = set()
    reused = set()
    for item in items:
        entry = manifest.find(item.source, item.base) if item.base else None
        if entry and entry["output"].casefold() not in taken and _key(out / entry["output"]) not in input_keys:
            item.output = str(out / entry["output"])
            taken.add(entry["output"].casefold())
            reused.add(id(entry))
    taken.update(e["output"].casefold() for e in manifest.entries.values() if id(e) not in reused)
    for item in items:
        if not item.base or item.output:
            continue
        name, number = item.base, 2
        while name.casefold() in taken or os.path.lexists(out / name):
            name, number = _numbered(item.base, number), number + 1
        taken.add(name.casefold())
        item.output = str(out / name)


def _initial_state(item: BatchItem, manifest: _Manifest, digest: str, settings: TransferSettings) -> None:
    if item.state == FAILED:
        return
    entry = manifest.find(item.source, item.base)
    if (
        entry is not None
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
        item.state, item.reason = FAILED, str(exc)
        return
    pixels = sum(w * h for w, h in (images.fit_size(width, height, side) for side in settings.scale_sizes()))
    item.work = pixels * settings.iterations


# ------------------------------------------------------------------------ running


def run_batch(
    inputs: Iterable,
    settings: TransferSettings,
    options: BatchOptions,
    on_plan: Callable[[BatchPlan], None] | None = None,
    on_item: Callable[[BatchItem], None] | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    pause: PauseGate | None = None,
    stylizer: Stylizer | None = None,
) -> BatchSummary:
    """Plan and run a batch with the output folder locked against a second batch.

    ``on_plan(plan)`` once, then ``on_item(item)`` (a copy) on every state change and
    ``on_progress`` after every iteration. ``should_stop()`` ends the run within one iteration:
    the current item is not written and stays to do. Raises BatchStopped when the batch cannot
    go on (full disk, output folder not writable), BatchError/SettingsError before it starts.
    """
    _, out = _checked(inputs, settings, options)  # before anything is written
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"Cannot create the output folder {out}: {exc.strerror or exc}.") from None
    with _folder_lock(out):
        plan = plan_batch(inputs, settings, options)
        _remove_stale_temp_files(plan)
        if on_plan:
            on_plan(plan)
        return _Runner(plan, on_item, on_progress, should_stop, pause, stylizer).run()


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """An OS lock on OUT_DIR/impasto-batch.lock: released by the OS even if the process dies."""
    try:
        handle = open(folder / LOCK_NAME, "a+b")
    except OSError as exc:
        raise BatchError(f"Cannot write to the output folder {folder}: {exc.strerror or exc}.") from None
    with handle:
        try:
            _lock(handle)
        except OSError:
            raise BatchError(
                f"Another Impasto batch is writing to {folder}; wait for it to finish or choose another folder."
            ) from None
        yield


def _lock(handle) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_stale_temp_files(plan: BatchPlan) -> None:
    """Temp files a killed run left behind (the folder is locked, so no save of ours is live)."""
    folders = {plan.output_dir} | {Path(item.output).parent for item in plan.items if item.output}
    for folder in folders:
        try:
            with os.scandir(folder) as listing:
                stale = [entry.path for entry in listing if entry.name.startswith(TEMP_PREFIX) and entry.is_file()]
        except OSError:
            continue
        for path in stale:
            with contextlib.suppress(OSError):
                os.unlink(path)


class _Clock:
    """Progress and ETA of a run, from seconds per unit of work (pixels x iterations) done so far,
    time spent paused left out. The first item's cost includes warming up, so early ETAs run long."""

    def __init__(self, items: list[BatchItem], iterations: int):
        self.total = sum(item.work for item in items)
        self.iterations = iterations
        self.done = 0
        self.seconds = 0.0
        self.current: int | None = None  # index of the item being timed
        self.pixels: list[int] = []
        self.work = 0
        self.started = time.perf_counter()
        self.paused = 0.0

    def start(self, item: BatchItem, size: tuple[int, int], sides: list[int]) -> None:
        self.pixels = [w * h for w, h in (images.fit_size(*size, side) for side in sides)]
        self.work = sum(self.pixels) * self.iterations
        self.total += self.work - item.work  # the real size replaces the estimate from the header
        self.current = item.index
        self.started = time.perf_counter()
        self.paused = 0.0

    def pause(self, seconds: float) -> None:
        self.paused += seconds

    def step(self, progress: Progress) -> tuple[float, float | None, float, float | None]:
        """(item fraction, item ETA, run fraction, run ETA)."""
        scale = min(progress.scale, len(self.pixels) - 1)
        in_scale = progress.iteration - scale * self.iterations
        item_done = sum(self.pixels[:scale]) * self.iterations + max(0, in_scale) * self.pixels[scale]
        item_done = min(item_done, self.work)
        work_done = self.done + item_done
        seconds = self.seconds + self._active()
        rate = seconds / work_done if work_done else None
        item_eta = rate * (self.work - item_done) if rate else None
        eta = rate * max(0, self.total - work_done) if rate else None
        fraction = work_done / self.total if self.total else 0.0
        return (item_done / self.work if self.work else 0.0), item_eta, min(1.0, fraction), eta

    def finish(self) -> None:
        self.done += self.work
        self.seconds += self._active()
        self.current = None

    def drop(self, item: BatchItem) -> None:
        """``item`` will not be done: its work leaves the total."""
        self.total -= self.work if self.current == item.index else item.work
        self.current = None

    def _active(self) -> float:
        return time.perf_counter() - self.started - self.paused


class _Runner:
    def __init__(self, plan, on_item, on_progress, should_stop, pause, stylizer):
        self.plan = plan
        self.settings = plan.settings
        self.on_item = on_item or (lambda item: None)
        self.on_progress = on_progress or (lambda progress: None)
        self.should_stop = should_stop or (lambda: False)
        self.pause = pause
        self.stylizer = stylizer
        self.pending = plan.pending
        self.clock = _Clock(self.pending, self.settings.iterations)
        self.started = time.perf_counter()

    def run(self) -> BatchSummary:
        manifest = self.plan.manifest
        manifest.created = self.plan.created
        for item in self.plan.items:
            if item.output and (item.state == FAILED or manifest.find(item.source, item.base) is None):
                manifest.record(item)
        try:
            self._save()
            if self.pending and self.stylizer is None:
                self.stylizer = Stylizer(self.settings)  # once per batch: weights and style images
            for position, item in enumerate(self.pending, 1):
                if self._stopping() or not self._run_item(item, position):
                    return self._summary(interrupted=True)
        except BatchError as exc:
            raise BatchStopped(str(exc), self._summary(interrupted=True)) from None
        return self._summary(interrupted=False)

    def _stopping(self) -> bool:
        if self.pause is not None:
            self.clock.pause(self.pause.wait(self.should_stop))
        return self.should_stop()

    def _run_item(self, item: BatchItem, position: int) -> bool:
        """Stylize and save one item; False when the run was stopped during it."""
        self._set(item, RUNNING)
        try:
            content, alpha = images.load_image_with_alpha(item.source)
            exif, _ = images.read_metadata(item.source)
        except ImageError as exc:
            self.clock.drop(item)
            return self._fail(item, str(exc))
        self.clock.start(item, content.size, self.settings.scale_sizes())
        try:
            result = self.stylizer.stylize(
                content, on_step=lambda step: self._step(item, position, step), should_stop=self.should_stop
            )
        except OutOfMemoryError as exc:
            self.clock.drop(item)
            return self._fail(item, f"Out of memory: {exc}")
        if result.stopped:
            self._set(item, WAITING, "stopped before it was finished; nothing written")
            return False
        self._save_output(item, result.image, alpha, exif)
        if item.state == DONE:
            item.seconds = result.seconds
            self.clock.finish()
            self.plan.manifest.record(
                item, settings_hash=self.plan.settings_hash, input_stamp=item.stamp, seconds=round(item.seconds, 2)
            )
            self._save()
            self._emit(item)
        return True

    def _save_output(self, item: BatchItem, image, alpha, exif) -> None:
        item_settings = self.settings.replace(content=item.source)
        try:
            images.save_image(
                image, item.output, recipe=item_settings.recipe(), quality=self.plan.options.quality,
                inputs=item_settings.input_paths(), alpha=alpha, exif=exif,
            )
        except ImageError as exc:
            if str(exc).startswith(_BATCH_STOPPING_SAVE_ERRORS):
                self._set(item, WAITING, "not written")
                raise BatchError(
                    f"Batch stopped: {exc}. Nothing partial was written; fix that and run the batch again to resume."
                ) from None
            self.clock.drop(item)
            self._fail(item, str(exc))
            return
        item.state, item.reason = DONE, ""

    def _step(self, item: BatchItem, position: int, step: Progress) -> None:
        item_fraction, item_eta, fraction, eta = self.clock.step(step)
        self.on_progress(
            BatchProgress(
                index=item.index, position=position, count=len(self.pending), name=item.name,
                step=dataclasses.replace(step, preview=None), item_fraction=item_fraction,
                fraction=fraction, item_eta=item_eta, eta=eta, preview=step.preview,
            )
        )
        if self.pause is not None:  # blocks the engine loop right here, at the end of an iteration
            self.clock.pause(self.pause.wait(self.should_stop))

    def _fail(self, item: BatchItem, reason: str) -> bool:
        self._set(item, FAILED, reason)
        self.plan.manifest.record(item, input_stamp=item.stamp)
        self._save()
        return True

    def _set(self, item: BatchItem, state: str, reason: str = "") -> None:
        item.state, item.reason = state, reason
        self._emit(item)

    def _emit(self, item: BatchItem) -> None:
        self.on_item(dataclasses.replace(item))

    def _save(self) -> None:
        self.plan.manifest.save(self.settings, self.plan.settings_hash, self.plan.options)

    def _summary(self, interrupted: bool) -> BatchSummary:
        return BatchSummary(
            items=[dataclasses.replace(item) for item in self.plan.items],
            interrupted=interrupted,
            seconds=time.perf_counter() - self.started,
            output_dir=str(self.plan.output_dir),
        )


def format_duration(seconds: float | None) -> str:
    """"12 s", "3 min 05 s", "1 h 20 min"; "estimating" while unknown."""
    if seconds is None:
        return "estimating"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def read_manifest(output_dir) -> dict | None:
    """The manifest of ``output_dir`` as a dict (for tools and tests), or None when there is none."""
    path = Path(output_dir) / MANIFEST_NAME
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


__all__ = [
    "BatchError", "BatchItem", "BatchOptions", "BatchPlan", "BatchProgress", "BatchStopped", "BatchSummary",
    "DEFAULT_TEMPLATE", "EXTENSIONS", "MANIFEST_NAME", "PauseGate", "STATES", "TEMPLATE_FIELDS",
    "check_template", "format_duration", "plan_batch", "read_manifest", "render_name", "run_batch", "scan_inputs",
    "settings_hash",
]
