"""``main.py --selftest``: prove an installed (or frozen) Impasto works, offscreen and offline.

Loads the bundled weights, runs a tiny transfer on images it draws itself, writes the result,
reads its recipe back and checks that Qt starts. Exit 0 when all of that works.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from cli.common import EXIT_INTERNAL, EXIT_OK, say


def _test_images():
    from PIL import Image, ImageDraw

    content = Image.new("RGB", (64, 48), (200, 210, 230))
    draw = ImageDraw.Draw(content)
    draw.rectangle((8, 20, 30, 44), fill=(150, 60, 40))
    draw.ellipse((36, 6, 58, 28), fill=(240, 200, 40))
    style = Image.new("RGB", (64, 64))
    draw = ImageDraw.Draw(style)
    for x in range(0, 64, 8):
        draw.line((x, 0, x + 32, 63), fill=(20, 40, 160), width=3)
        draw.line((0, x, 63, x + 16), fill=(250, 220, 60), width=2)
    return content, style


def run(output: str | None = None) -> int:
    started = time.perf_counter()
    from engine import images, transfer
    from engine.settings import TransferSettings
    from engine.weights import load_weights

    weights = load_weights("auto")
    say(f"weights: {weights.source} ({time.perf_counter() - started:.2f} s)")
    content, style = _test_images()
    settings = TransferSettings(size=64, start_size=64, iterations=12, device="cpu", precision="fp32")
    losses = []
    result = transfer.run(settings, on_step=lambda p: losses.append(p.style_loss) if p.phase == "optimising" else None,
                          content=content, styles=[style])
    if not losses or not losses[-1] < losses[0]:
        say(f"selftest FAILED: the style loss did not fall ({losses[:1]} -> {losses[-1:]})")
        return EXIT_INTERNAL
    folder = Path(output).parent if output else Path(tempfile.mkdtemp(prefix="impasto-selftest-"))
    target = Path(output) if output else folder / "selftest.png"
    images.save_image(result.image, target, recipe=settings.recipe())
    if images.read_recipe(target) is None:
        say("selftest FAILED: the recipe did not survive saving")
        return EXIT_INTERNAL
    say(f"transfer: style loss {losses[0]:.3f} -> {losses[-1]:.3f}, wrote {target}")
    say(f"qt: {_check_qt()}")
    import torchvision  # noqa: F401  (its native ops must load in a frozen build too)

    say(f"selftest ok in {time.perf_counter() - started:.1f} s")
    return EXIT_OK


def _check_qt() -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import __version__
    from PySide6.QtGui import QGuiApplication, QImage

    app = QGuiApplication.instance() or QGuiApplication([])
    image = QImage(8, 8, QImage.Format_RGB888)
    image.fill(0)
    return f"PySide6 {__version__} on {app.platformName()}"
