"""Batch throughput: ``main.py batch`` on ten 256 px images against ten ``main.py stylize`` runs.

Both are timed as whole processes with the same settings (CPU, single scale), so the batch's
gain is what it saves by loading Python, torch, the weights and the style targets once.

    python bench/bench_batch.py [--count 10] [--size 256] [--iterations 20] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from pictures import striped_style  # bench/pictures.py: scripts run with bench/ on sys.path

ROOT = Path(__file__).resolve().parent.parent
SHARED_IMAGES = ROOT.parent / "shared" / "images"


def content_images(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` photos of long side ``size``: crops of the shared samples, else drawn shapes."""
    sources = sorted(p for p in SHARED_IMAGES.glob("*.jpg") if "starry" not in p.name) if SHARED_IMAGES.is_dir() else []
    folder.mkdir(parents=True)
    paths = []
    for index in range(count):
        if sources:
            photo = Image.open(sources[index % len(sources)]).convert("RGB")
            image = _crop(photo, index)
        else:
            image = _drawn(index)
        image = image.resize(_fit(image.size, size), Image.LANCZOS)
        path = folder / f"photo{index:02d}.jpg"
        image.save(path, quality=92)
        paths.append(path)
    return paths


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    scale = long_side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _crop(photo: Image.Image, index: int) -> Image.Image:
    width, height = photo.size
    side = int(min(width, height) * (0.6 + 0.1 * (index % 4)))
    aspect = (4 / 3, 3 / 4, 1.0)[index % 3]
    w, h = (side, int(side / aspect)) if aspect >= 1 else (int(side * aspect), side)
    w, h = min(w, width), min(h, height)
    left = (width - w) * (index % 5) // 4
    top = (height - h) * (index % 3) // 2
    return photo.crop((left, top, left + w, top + h))


def _drawn(index: int) -> Image.Image:
    image = Image.new("RGB", (320, 240), (40 * index % 255, 120, 200))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40 + 8 * index, 30, 200, 190), fill=(230, 190, 60))
    draw.rectangle((150, 100 + 4 * index, 300, 220), fill=(90, 40, 30))
    return image


def style_image(folder: Path) -> Path:
    starry = SHARED_IMAGES / "starry_night.jpg"
    if starry.is_file():
        return starry
    return striped_style(folder / "style.png", side=256, step=12, slant=80, width=4)


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    common = ["--size", str(args.size), "--start-size", str(args.size), "--iterations", str(args.iterations),
              "--device", args.device, "--seed", "0"]
    main_py = [sys.executable, str(ROOT / "main.py")]
    with tempfile.TemporaryDirectory(prefix="impasto-bench-") as temp:
        temp = Path(temp)
        photos = content_images(temp / "in", args.count, args.size)
        style = style_image(temp)
        print(f"{args.count} images, long side {args.size} px, {args.iterations} iterations, device {args.device}, "
              f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")

        batch_command = ["batch", str(temp / "in"), "--style", str(style), "-o", str(temp / "batch")]
        batch_seconds = timed(main_py + batch_command + common)
        written = sorted((temp / "batch").glob("*.png"))
        if len(written) != args.count:
            sys.exit(f"the batch wrote {len(written)} of {args.count} images")
        print(f"main.py batch took {batch_seconds:.1f} s; now {args.count} separate runs…", flush=True)

        single_seconds = 0.0
        for photo in photos:
            output = temp / "single" / f"{photo.stem}.png"
            output.parent.mkdir(exist_ok=True)
            single_seconds += timed(main_py + ["stylize", str(photo), str(style), "-o", str(output)] + common)

    batch_rate = args.count / batch_seconds * 60
    single_rate = args.count / single_seconds * 60
    rows = (
        ("main.py batch", f"{batch_seconds:7.1f} s  {batch_rate:6.2f} images/min"),
        (f"{args.count} x main.py stylize", f"{single_seconds:7.1f} s  {single_rate:6.2f} images/min"),
        ("batch / separate runs", f"{batch_rate / single_rate:6.2f}x"),
    )
    for label, value in rows:
        print(f"{label:<24}: {value}")


if __name__ == "__main__":
    main()
