"""Draw Impasto's icon (a painter's palette with thick blobs of paint and a brush stroke) and
write it in every format the build needs: resources/icons/impasto.png (window icon and Linux),
impasto.ico (Windows) and impasto.icns (macOS).

Everything is drawn with Pillow from numbers in this file, so the icon can be remade anywhere:
    .venv/bin/python tools/make_icons.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

SIZE = 1024  # the master image; every other size is reduced from it
SUPERSAMPLE = 2  # drawn at twice the size, then reduced, for smooth edges
PNG_SIZE = 512
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
ICONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"

WOOD = (196, 142, 86, 255)
WOOD_EDGE = (132, 86, 46, 255)
PAINTS = [  # (centre x, centre y, radius) in master pixels, colour
    ((300, 330, 92), (214, 48, 49)),  # cadmium red
    ((500, 250, 88), (241, 196, 15)),  # yellow ochre
    ((700, 300, 86), (39, 174, 96)),  # viridian
    ((800, 500, 80), (41, 98, 190)),  # ultramarine
    ((250, 560, 78), (245, 245, 240)),  # titanium white
]


def _scaled(values, factor):
    return [round(v * factor) for v in values]


def _palette_mask(size: int, inset: float = 0) -> Image.Image:
    """The wooden palette: a wide oval with a thumb hole and a notch for the fingers.
    ``inset`` shrinks it (master pixels), for the lighter face inside the rim."""
    k = size / SIZE
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    draw.ellipse(_scaled((70 + inset, 150 + inset, 960 - inset, 880 - inset), k), fill=255)
    draw.ellipse(_scaled((300 - inset, 620 - inset, 440 + inset, 760 + inset), k), fill=0)  # thumb hole
    draw.ellipse(_scaled((-60 - inset, 640 - inset, 230 + inset, 930 + inset), k), fill=0)  # finger notch
    return mask


def _blob(draw: ImageDraw.ImageDraw, cx, cy, r, colour, k) -> None:
    """A thick dab of paint: base colour, a darker rim below, a light highlight above."""
    dark = tuple(int(c * 0.62) for c in colour)
    light = tuple(min(255, int(c + (255 - c) * 0.7)) for c in colour)
    draw.ellipse(_scaled((cx - r, cy - r * 0.8 + 10, cx + r, cy + r * 0.8 + 10), k), fill=dark)
    draw.ellipse(_scaled((cx - r, cy - r * 0.8, cx + r, cy + r * 0.75), k), fill=colour)
    draw.ellipse(_scaled((cx - r * 0.55, cy - r * 0.6, cx - r * 0.05, cy - r * 0.25), k), fill=light)


def _brush_stroke(size: int) -> Image.Image:
    """A sweeping blue-to-orange stroke of paint across the lower right of the palette."""
    k = size / SIZE
    stroke = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(stroke)
    steps = 60
    for i in range(steps):
        t = i / (steps - 1)
        x = 470 + 420 * t
        y = 760 - 170 * t - 120 * t * (1 - t)
        width = 70 * (1 - 0.55 * t)
        colour = (int(41 + 200 * t), int(98 + 60 * t), int(190 - 150 * t), 255)
        draw.ellipse(_scaled((x - width / 2, y - width / 2, x + width / 2, y + width / 2), k), fill=colour)
    return stroke


def draw_icon(size: int = SIZE) -> Image.Image:
    """The master icon as an RGBA image of size x size."""
    big = size * SUPERSAMPLE
    k = big / SIZE
    mask = _palette_mask(big)
    shadow = mask.filter(ImageFilter.GaussianBlur(12 * k)).point(lambda v: v * 90 // 255)
    icon = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    icon.paste((0, 0, 0, 255), (round(10 * k), round(18 * k)), shadow)
    icon.paste(WOOD_EDGE, (0, 0), mask)
    inner = _palette_mask(big, inset=11)
    icon.paste(WOOD, (0, 0), inner)
    paint = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(paint)
    for (cx, cy, r), colour in PAINTS:
        _blob(draw, cx, cy, r, colour, k)
    paint.alpha_composite(_brush_stroke(big))
    paint.putalpha(ImageChops.multiply(paint.getchannel("A"), inner))  # paint stays on the wood
    icon.alpha_composite(paint)
    return icon.resize((size, size), Image.LANCZOS)


def write_icons(folder: Path = ICONS_DIR) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    master = draw_icon(SIZE)
    paths = {"png": folder / "impasto.png", "ico": folder / "impasto.ico", "icns": folder / "impasto.icns"}
    master.resize((PNG_SIZE, PNG_SIZE), Image.LANCZOS).save(paths["png"], optimize=True)
    master.save(paths["ico"], sizes=ICO_SIZES)
    master.save(paths["icns"])  # Pillow writes 16..1024 px (with @2x) from the 1024 px master
    return paths


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ICONS_DIR
    for kind, path in write_icons(out).items():
        print(f"{kind}: {path} ({path.stat().st_size // 1024} KiB)")
