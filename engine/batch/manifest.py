"""The crash-safe record of one output folder (``impasto-batch.json``), rewritten atomically."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine import files
from engine.batch.items import BatchError, BatchItem, path_key
from engine.settings import TransferSettings

if TYPE_CHECKING:
    from engine.batch.names import BatchOptions

MANIFEST_NAME = "impasto-batch.json"
MANIFEST_KEY = "impasto_batch"  # the manifest is a settings file plus this key
MANIFEST_VERSION = 1

# Settings that do not change what a batch writes, so changing them does not redo items.
_UNHASHED = ("content", "device", "precision", "preview_interval_ms")


class Manifest:
    """The record of one output folder: the latest settings and one entry per (input, name)."""

    def __init__(self, folder: Path, created: str | None = None, entries: list | None = None):
        self.folder = folder
        self.path = folder / MANIFEST_NAME
        self.created = created
        self.entries: dict[tuple[str, str], dict] = {}
        for entry in entries or []:
            self.entries[(path_key(entry["source"]), entry["base"])] = entry

    @classmethod
    def load(cls, folder: Path) -> "Manifest":
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
        return self.entries.get((path_key(source), base))

    def record(self, item: BatchItem, **extra) -> None:
        entry = self.entries.setdefault((path_key(item.source), item.base), {})
        entry.update(
            source=item.source,
            base=item.base,
            output=Path(item.output).relative_to(self.folder).as_posix(),
            state=item.state,
            reason=item.reason,
            updated=now(),
            **extra,
        )

    def save(self, settings: TransferSettings, settings_hash: str, options: "BatchOptions") -> None:
        data = settings.to_dict()
        data[MANIFEST_KEY] = {
            "version": MANIFEST_VERSION,
            "created": self.created,
            "updated": now(),
            "settings_hash": settings_hash,
            "options": options.to_dict(),
            "items": sorted(self.entries.values(), key=lambda e: (e["output"].casefold(), e["source"])),
        }
        text = json.dumps(data, indent=1, ensure_ascii=False)
        try:
            files.write_text_atomic(self.path, text, prefix=files.TEMP_PREFIX + "batch-")
        except OSError as exc:
            if exc.errno == 28:  # ENOSPC
                raise BatchError(f"No space left on device while writing the batch manifest {self.path}.") from None
            raise BatchError(f"Cannot write the batch manifest {self.path}: {exc.strerror or exc}.") from None


def _valid_entry(entry) -> bool:
    return isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("source", "base", "output"))


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")



def settings_hash(settings: TransferSettings, quality: int = 95) -> str:
    """Fingerprint of everything in ``settings`` that changes the pixels a batch writes."""
    data = {k: v for k, v in settings.to_dict().items() if k not in _UNHASHED}
    data["styles"] = [path_key(style) for style in settings.styles]
    data["quality"] = quality
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def stamp(path: str) -> list:
    try:
        info = os.stat(path)
    except OSError:
        return []
    return [info.st_size, info.st_mtime_ns]


def read_manifest(output_dir) -> dict | None:
    """The manifest of ``output_dir`` as a dict (for tools and tests), or None when there is none."""
    path = Path(output_dir) / MANIFEST_NAME
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))

