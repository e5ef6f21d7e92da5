"""Pictures the benchmarks draw for themselves, so they run without files from outside."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def striped_style(path: Path, side: int, step: int, slant: int, width: int) -> Path:
    """A stand-in painting: a blue square crossed by slanted yellow strokes, saved to ``path``."""
    image = Image.new("RGB", (side, side), (20, 40, 120))
    draw = ImageDraw.Draw(image)
    for x in range(0, side, step):
        draw.line((x, 0, x + slant, side - 1), fill=(240, 210, 60), width=width)
    image.save(path)
    return path
