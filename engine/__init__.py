"""Impasto's style-transfer engine: plain PyTorch and Pillow, no Qt.

Only ``engine.worker`` imports Qt, and nothing here imports it.
"""

from engine.errors import (  # noqa: F401
    DeviceError,
    ImageError,
    ImpastoError,
    OutOfMemoryError,
    SettingsError,
    WeightsError,
)

__version__ = "0.1.0"
