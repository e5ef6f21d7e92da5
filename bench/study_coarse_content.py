"""Study: the coarse scales take their content term from a shallower layer (the study behind
coarse_content and start_share, now the default; this runs with both off and its own map instead).

relu4_2 at the output size sees the picture on a grid 8 output pixels apart; at a scale a quarter
that size it sees the photo's layout 32 output pixels apart, so the coarse scales let the painting
rebuild the mid-sized shapes the judged content term measures. This runs the previous default
schedule (28 iterations at 128 px, relu4_2 everywhere) with the content layers replaced at the
scales below the output size, and optionally other per-scale iteration counts, and prints the full
objective (bench/quality.py) as bench_speed.py does. Today's default is
``--layers 0.75:relu3_2+relu4_2 --counts 60,38,51,67,90``.

    .venv/bin/python bench/study_coarse_content.py PAIR [--layers 0.3:relu2_2,0.75:relu3_2]
        [--counts 60,38,51,67,90] [--photo-seed N] [--size 512]

PAIR is starry, picasso, scream or shipwreck. --layers maps a scale's side as a fraction of the
output's to a layer (or layers joined by +, each weighted 1): each scale takes the first entry
whose fraction is at least its own (the last scale always keeps the look's layers).
IMPASTO_CPU_BF16=0 measures the float32 path. README ("How the default got here" and "What else
was tried") has the figures of 27 November.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import engine  # noqa: E402,F401  (first: it sets the heap and OpenMP up before torch loads)
from PIL import Image  # noqa: E402

import bench_speed  # noqa: E402
from bench_speed import SHARED, perturbed  # noqa: E402
from engine import transfer  # noqa: E402
from engine.settings import TransferSettings  # noqa: E402
from quality import objective  # noqa: E402

PAIRS = dict(zip(("starry", "picasso", "scream", "shipwreck"), bench_speed.PAIRS))  # photo, painting


def patch(steps: list[tuple[float, str]], counts: list[int] | None) -> None:
    """Per-scale content layers (and counts) through the engine's own scale loop."""
    if counts:
        TransferSettings.scale_iterations = lambda self: list(counts)
    original = transfer._Run._scale

    def scale(run, index, side, w, h, previous):
        fraction = side / run.sizes[-1]
        layer = next((name for limit, name in steps if fraction <= limit), None)
        if layer and index < len(run.sizes) - 1:
            run.steered_settings = run.settings.replace(content_layers=dict.fromkeys(layer.split("+"), 1.0))
        print(f"scale {side} px: content from {sorted(run.steered_settings.content_layers)}", flush=True)
        try:
            return original(run, index, side, w, h, previous)
        finally:
            run.steered_settings = run.settings

    transfer._Run._scale = scale


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pair", choices=sorted(PAIRS))
    parser.add_argument("--layers", default="0.3:relu2_2,0.75:relu3_2")
    parser.add_argument("--counts", default="", help="iterations per scale, e.g. 60,38,51,67,90")
    parser.add_argument("--photo-seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--save", metavar="PNG", help="also save the result here")
    args = parser.parse_args()
    steps = sorted((float(limit), name) for limit, name in (item.split(":") for item in args.layers.split(",")))
    counts = [int(c) for c in args.counts.split(",")] if args.counts else None
    patch(steps, counts)
    photo_name, painting_name = PAIRS[args.pair]
    photo = perturbed(Image.open(SHARED / photo_name).convert("RGB"), args.photo_seed)
    painting = Image.open(SHARED / painting_name).convert("RGB")
    settings = TransferSettings(size=args.size, preview_interval_ms=10**9, coarse_content=False, start_share=0.0)
    started = time.perf_counter()
    result = transfer.run(settings, content=photo, styles=[painting])
    seconds = time.perf_counter() - started
    figures = objective(result.image, photo, [painting], settings)
    if args.save:
        result.image.save(args.save)
    print(f"{args.pair} layers {args.layers} counts {args.counts or 'default'} photo-seed {args.photo_seed}: "
          f"{result.iterations} iterations, {seconds:.1f} s, objective {figures['objective']:.4f} "
          f"(content {figures['content']:.4f}, style {figures['style']:.5f})")


if __name__ == "__main__":
    main()
