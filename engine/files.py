"""Files and folders every part of Impasto shares: the one atomic write and the config folder."""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import IO, Callable

TEMP_PREFIX = ".impasto-"  # temp files of an atomic write; a batch removes stale ones


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def write_atomic(target: Path, write: Callable[[IO], None], text: bool = False, prefix: str = TEMP_PREFIX) -> Path:
    """Run ``write(file)`` on a temp file next to ``target`` (its folder is created if needed),
    flush it to disk, then rename it over ``target``: a reader sees the old file or the whole new
    one, never half. The temp file is removed on any failure. Raises what went wrong (OSError,
    or the error ``write`` raised); callers turn it into their own message."""
    target = Path(target)
    folder = target.parent
    temp_name = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        options = {"mode": "w", "encoding": "utf-8", "newline": ""} if text else {"mode": "wb"}
        with tempfile.NamedTemporaryFile(
            delete=False, dir=folder, prefix=prefix, suffix=target.suffix, **options
        ) as file:
            temp_name = file.name
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp_name, _new_file_mode(target))  # temp files are private (0600)
        os.replace(temp_name, target)
        temp_name = None
    finally:
        if temp_name is not None:
            with suppress(OSError):
                os.unlink(temp_name)
    return target


def write_text_atomic(target: Path, content: str, prefix: str = TEMP_PREFIX) -> Path:
    return write_atomic(target, lambda file: file.write(content), text=True, prefix=prefix)


def _new_file_mode(target: Path) -> int:
    """An existing file keeps its permissions; a new one gets what the umask allows."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_UMASK


def custom_config_dir() -> Path | None:
    """The folder ``$IMPASTO_CONFIG_DIR`` names (tests, portable installs), or None."""
    folder = os.environ.get("IMPASTO_CONFIG_DIR")
    return Path(folder) if folder else None


def config_dir() -> Path:
    """Where Impasto keeps what the user made (presets, the window's settings file when
    ``$IMPASTO_CONFIG_DIR`` is set): that folder, else the platform's place for app settings."""
    custom = custom_config_dir()
    if custom is not None:
        return custom
    if os.name == "nt":
        return Path(os.environ.get("APPDATA", Path.home())) / "Impasto"
    if os.uname().sysname == "Darwin":
        return Path.home() / "Library" / "Application Support" / "Impasto"
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "impasto"


__all__ = ["TEMP_PREFIX", "config_dir", "custom_config_dir", "write_atomic", "write_text_atomic"]
