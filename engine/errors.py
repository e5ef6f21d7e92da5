"""Errors meant for a user: ``str(error)`` is one clear line, no traceback needed."""


class ImpastoError(Exception):
    """Base of every error whose message is shown to the user as is."""


class ImageError(ImpastoError):
    """An input image cannot be read, or an output image cannot be written."""


class DestinationError(ImageError):
    """The output folder or its disk takes no file now (full, read-only): every later save there
    would fail too, so a batch stops instead of failing each item."""


class SettingsError(ImpastoError):
    """A setting has a value the engine cannot use."""


class WeightsError(ImpastoError):
    """No usable VGG19 weights, or a weights file that is not what it claims."""


class DeviceError(ImpastoError):
    """The requested compute device does not exist or cannot be used."""


class OutOfMemoryError(ImpastoError):
    """The device ran out of memory; ``suggested_size`` is a long side that should fit."""

    def __init__(self, message: str, suggested_size: int | None = None):
        super().__init__(message)
        self.suggested_size = suggested_size
