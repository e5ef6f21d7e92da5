"""The window's session: one observable object holding what the Stylize tab is about.

The content photo, the styles (``engine.jobs.Style``: path and blend weight), the look and run
settings, the device and the save quality. Widgets write their edits into it and show what it
holds; none of them reads another widget. ``settings()`` is the one TransferSettings a run, a
batch or the explorer starts from (napari's model / Qt view split; krita-ai-diffusion's bound
properties).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from PySide6.QtCore import Property, QObject, Signal

from engine.jobs import Style, styles_of, with_styles
from engine.settings import STEERABLE_FIELDS, TransferSettings

_IMAGE_FIELDS = ("content", "styles", "style_blend", "style_masks")
_FIELDS = tuple(f.name for f in dataclasses.fields(TransferSettings))


class Session(QObject):
    content_changed = Signal(str)  # the content photo's path ("" when none)
    styles_changed = Signal()  # the list of styles or a blend weight
    settings_changed = Signal(object, object)  # (names of the changed fields, the object that changed them)
    steerable_changed = Signal()  # a change a running optimisation can take (weights, blend)
    device_changed = Signal(str)
    quality_changed = Signal(int)

    def __init__(self, settings: TransferSettings | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._settings = settings if settings is not None else TransferSettings()
        self._quality = 95

    # --- the whole -----------------------------------------------------------------------
    def settings(self) -> TransferSettings:
        """Everything the session holds, as one TransferSettings (not validated)."""
        return self._settings

    def load(self, settings: TransferSettings, with_images: bool = False, origin: object = None) -> None:
        """Take every field of ``settings``; its content and styles only ``with_images``."""
        if not with_images:
            settings = settings.replace(**{name: getattr(self._settings, name) for name in _IMAGE_FIELDS})
        self._set(settings, origin)

    def edit(self, change: Callable[[TransferSettings], TransferSettings], origin: object = None) -> None:
        """Apply a widget's edit: ``change(current settings) -> new settings``."""
        self._set(change(self._settings), origin)

    def update(self, origin: object = None, **fields) -> None:
        self._set(self._settings.replace(**fields), origin)

    # --- properties ----------------------------------------------------------------------
    def _get_content(self) -> str:
        return self._settings.content

    def set_content(self, path: str) -> None:
        self.update(content=path or "")

    content = Property(str, _get_content, set_content, notify=content_changed)

    @property
    def styles(self) -> list[Style]:
        return styles_of(self._settings)

    def set_styles(self, styles: list[Style], origin: object = None) -> None:
        self._set(with_styles(self._settings, list(styles)), origin)

    def _get_device(self) -> str:
        return self._settings.device

    def set_device(self, device: str) -> None:
        self.update(device=device)

    device = Property(str, _get_device, set_device, notify=device_changed)

    def _get_quality(self) -> int:
        return self._quality

    def set_quality(self, quality: int) -> None:
        if int(quality) != self._quality:
            self._quality = int(quality)
            self.quality_changed.emit(self._quality)

    quality = Property(int, _get_quality, set_quality, notify=quality_changed)

    def limit_size(self, size: int) -> None:
        """Output size at most ``size`` (the size an out-of-memory error suggests)."""
        self.update(size=size, start_size=min(self._settings.start_size, size))

    # --- notification --------------------------------------------------------------------
    def _set(self, settings: TransferSettings, origin: object) -> None:
        old, self._settings = self._settings, settings
        changed = frozenset(name for name in _FIELDS if getattr(old, name) != getattr(settings, name))
        if not changed:
            return
        if "content" in changed:
            self.content_changed.emit(settings.content)
        if changed & {"styles", "style_blend", "style_masks"}:
            self.styles_changed.emit()
        if "device" in changed:
            self.device_changed.emit(settings.device)
        self.settings_changed.emit(changed, origin)
        if changed & set(STEERABLE_FIELDS):  # what a running optimisation picks up (Steering)
            self.steerable_changed.emit()


__all__ = ["Session"]
