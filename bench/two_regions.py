"""The README's region-mask picture (docs/two_regions.png): Tübingen with the sky in the manner of
The Starry Night and the town in The Scream's, split by a mask drawn from the photo's blue sky.

    python bench/two_regions.py [--size 256] [--start-size 128] [--iterations 40] [--device cpu]

Needs ../shared/images. On the shared 2-core development machine: 256 px, 3 scales, 120
iterations in 210 s. The masks go to a temp folder (the run reads them as files, as the CLI does).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import images, transfer  # noqa: E402
from engine.settings import TransferSettings  # noqa: E402

SHARED = ROOT.parent / "shared" / "images"
SKY, TOWN = (232, 65, 60), (47, 125, 246)  # the mask painter's first two overlay colours


def sky_mask(photo: Image.Image) -> Image.Image:
    """White where the photo's blue sky is: blue pixels in the upper part, connected to the top."""
    rgb = np.asarray(photo, dtype=np.int16)
    rows = np.arange(photo.height)[:, None]
    blue = ((rgb[..., 2] - rgb[..., 0] > 40) & (rows < photo.height * 0.6)).astype(np.uint8) * 255
    candidate = Image.fromarray(blue).copy()  # a copy: floodfill ignores a borrowed buffer
    ImageDraw.floodfill(candidate, (photo.width // 2, 3), 128)
    sky = (np.asarray(candidate) == 128).astype(np.uint8) * 255
    return Image.fromarray(sky).filter(ImageFilter.GaussianBlur(1.5))  # a soft edge


def sheet(photo: Image.Image, mask: Image.Image, result: Image.Image, gap: int = 6) -> Image.Image:
    """Photo | masks as the painter shows them | result."""
    size = result.size
    photo = photo.resize(size, Image.LANCZOS)
    sky = np.asarray(mask.resize(size, Image.BILINEAR), dtype=np.float32)[..., None] / 255
    tint = sky * np.array(SKY, np.float32) + (1 - sky) * np.array(TOWN, np.float32)
    overlay = Image.fromarray((np.asarray(photo, dtype=np.float32) * 0.45 + tint * 0.55).clip(0, 255).astype(np.uint8))
    out = Image.new("RGB", (size[0] * 3 + gap * 2, size[1]), (255, 255, 255))
    for index, panel in enumerate((photo, overlay, result)):
        out.paste(panel, (index * (size[0] + gap), 0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--start-size", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=str(ROOT / "docs" / "two_regions.png"))
    args = parser.parse_args()
    photo = images.load_image(SHARED / "tubingen.jpg")
    mask = sky_mask(images.resize_long_side(photo, 512))
    folder = Path(tempfile.mkdtemp())
    mask.save(folder / "sky.png")
    Image.eval(mask, lambda v: 255 - v).save(folder / "town.png")
    settings = TransferSettings(
        content=str(SHARED / "tubingen.jpg"), styles=[str(SHARED / "starry_night.jpg"), str(SHARED / "the_scream.jpg")],
        style_masks=[str(folder / "sky.png"), str(folder / "town.png")], size=args.size, start_size=args.start_size,
        iterations=args.iterations, device=args.device, preview_interval_ms=10**6,
    )
    started = time.perf_counter()
    result = transfer.run(settings)
    print(f"{args.size} px, {result.iterations} iterations in {time.perf_counter() - started:.1f} s; losses {result.losses}")
    sheet(photo, mask, result.image).save(args.output, optimize=True)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
