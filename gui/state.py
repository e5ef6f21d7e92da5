"""What the window remembers between sessions, in QSettings.

Every read survives a corrupt store: a value of the wrong type, garbage text or settings JSON
the engine rejects falls back to the default (and ``problems`` says what was ignored).
"""

from __future__ import annotations

import json
import os

from PySide6.QtCore import QByteArray, QSettings

from engine.errors import ImpastoError
from engine.files import custom_config_dir
from engine.settings import TransferSettings

MAX_RECENT = 10
ROLES = ("content", "style")


def open_store() -> QSettings:
    """``$IMPASTO_CONFIG_DIR/impasto.ini`` when that variable is set, else the native store."""
    folder = custom_config_dir()
    if folder is not None:
        return QSettings(str(folder / "impasto.ini"), QSettings.IniFormat)
    return QSettings("Impasto", "Impasto")


class AppState:
    def __init__(self, store: QSettings | None = None):
        self.store = store if store is not None else open_store()
        self.problems: list[str] = []

    # --- typed access ------------------------------------------------------------------
    def _text(self, key: str) -> str:
        value = self.store.value(key)
        return value if isinstance(value, str) else ""

    def _int(self, key: str, default: int, low: int, high: int) -> int:
        value = self.store.value(key)
        try:
            number = int(value)
        except (TypeError, ValueError):
            return default
        return number if low <= number <= high else default

    def _bytes(self, key: str) -> QByteArray | None:
        value = self.store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    # --- window ------------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    def window_state(self) -> QByteArray | None:
        return self._bytes("window/state")

    def splitter_state(self) -> QByteArray | None:
        return self._bytes("window/splitter")

    def save_window(self, geometry: QByteArray, state: QByteArray, splitter: QByteArray) -> None:
        self.store.setValue("window/geometry", geometry)
        self.store.setValue("window/state", state)
        self.store.setValue("window/splitter", splitter)

    # --- folders and files -------------------------------------------------------------
    def last_folder(self, kind: str) -> str:
        folder = self._text(f"folders/{kind}")
        return folder if folder and os.path.isdir(folder) else ""

    def set_last_folder(self, kind: str, path: str) -> None:
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        self.store.setValue(f"folders/{kind}", folder)

    def recent_files(self) -> list[tuple[str, str]]:
        """(role, path) pairs, newest first; role is "content" or "style"."""
        try:
            entries = json.loads(self._text("recent/files") or "[]")
        except ValueError:
            return []
        if not isinstance(entries, list):
            return []
        recent = []
        for entry in entries:
            if (
                isinstance(entry, list) and len(entry) == 2 and entry[0] in ROLES
                and isinstance(entry[1], str) and entry[1]
            ):
                recent.append((entry[0], entry[1]))
        return recent[:MAX_RECENT]

    def add_recent(self, role: str, path: str) -> None:
        entries = [(role, path)] + [e for e in self.recent_files() if e != (role, path)]
        self.store.setValue("recent/files", json.dumps([list(e) for e in entries[:MAX_RECENT]]))

    def clear_recent(self) -> None:
        self.store.setValue("recent/files", "[]")

    # --- output ------------------------------------------------------------------------
    def quality(self) -> int:
        return self._int("output/quality", 95, 1, 100)

    def set_quality(self, quality: int) -> None:
        self.store.setValue("output/quality", int(quality))

    def save_suffix(self) -> str:
        suffix = self._text("output/suffix")
        return suffix if suffix in (".png", ".jpg", ".tif", ".webp") else ".png"

    def set_save_suffix(self, suffix: str) -> None:
        self.store.setValue("output/suffix", suffix)

    # --- settings ----------------------------------------------------------------------
    def settings(self) -> TransferSettings:
        """The last run's settings, or defaults when the stored JSON is missing or unusable."""
        text = self._text("settings/last")
        if not text:
            return TransferSettings()
        try:
            settings = TransferSettings.from_json(text, strict=False).validate(need_images=False)
            _check_paths(settings)
        except (ImpastoError, TypeError, ValueError, AttributeError) as exc:
            self.problems.append(f"Stored settings ignored ({exc}); using defaults.")
            return TransferSettings()
        return settings

    def save_settings(self, settings: TransferSettings) -> None:
        self.store.setValue("settings/last", settings.to_json())

    def sync(self) -> None:
        self.store.sync()


def _check_paths(settings: TransferSettings) -> None:
    if not isinstance(settings.content, str) or not isinstance(settings.init_image, str):
        raise TypeError("image paths must be text")
    if not isinstance(settings.weights, str) or not isinstance(settings.device, str):
        raise TypeError("weights and device must be text")
