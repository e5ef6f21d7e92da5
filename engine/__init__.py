"""Impasto's style-transfer engine: plain PyTorch and Pillow, no Qt.

Nothing here imports Qt (tests/test_architecture.py enforces it): the QThread worker lives in
``gui.worker``.
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
