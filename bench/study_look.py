"""Why does the default look paste a painting's objects into the photo? One variable at a time.

Runs every content x style pair of ../shared/images at 512 px (or --size) under several look
variants, measures each output (bench/quality.py: relu4_2 content distance relative to the
painting's own, Gram style distance) and writes a JSON line per run plus one contact sheet per
variant. Meant for a GPU; --shard I/N splits the work across processes sharing one GPU.

    python bench/study_look.py --out DIR [--shard 0/1] [--variants a,b] [--size 512]
    python bench/study_look.py --out DIR --report
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CONTENTS = ("tubingen.jpg", "hoovertowernight.jpg")
STYLES = ("starry_night.jpg", "picasso_selfport1907.jpg", "seated-nude.jpg", "the_scream.jpg",
          "shipwreck.jpg", "starry_night_crop.png")
LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def falling(ratio: float, total: float = 5.0) -> dict:
    """Layer weights falling by ``ratio`` per layer (1 : 1/r : 1/r^2 ...), summing to ``total``."""
    raw = [ratio ** -i for i in range(len(LAYERS))]
    return {name: total * w / sum(raw) for name, w in zip(LAYERS, raw)}


# name -> changes to the settings. "default" is whatever the engine's defaults are now; the rest
# are named as measured on 2026-11-26 (README/closing note), when "gatys2015" was the default
# (equal layer weights, style weight 10) and "fall4_sw20" became it.
EQUAL = {n: 1.0 for n in LAYERS}
GATYS2015 = {"style_layers": EQUAL, "style_weight": 10.0}
VARIANTS = {
    "default": {},
    "gatys2015": GATYS2015,
    "fall4": {"style_layers": falling(4), "style_weight": 10.0},
    "fall2": {"style_layers": falling(2), "style_weight": 10.0},
    "no_relu5": {**GATYS2015, "style_layers": {**EQUAL, "relu5_1": 0.0}},
    "sw2": {**GATYS2015, "style_weight": 2.0},
    "gatys_norm": {**GATYS2015, "_gatys_norm": True},
    "fixed_style": {**GATYS2015, "_fixed_style": True},
    "fall4_fixed": {"style_layers": falling(4), "style_weight": 10.0, "_fixed_style": True},
    "fall4_sw20": {"style_layers": falling(4), "style_weight": 20.0},
    "fall4_sw30": {"style_layers": falling(4), "style_weight": 30.0},
    "fall3_sw20": {"style_layers": falling(3), "style_weight": 20.0, "plateau": 0.0005},
    "sw0.5": {**GATYS2015, "style_weight": 0.5},
    "single_scale": {**GATYS2015, "start_size": 512, "iterations": 400, "iteration_growth": 1.0, "start_share": 0.0},
}
# Every variant but "default" runs the schedule of those measurements (200 iterations at each of
# 256, 362, 512 px, relu4_2 at every scale), so that only the look differs.
OLD_SCHEDULE = {"start_size": 256, "iterations": 200, "iteration_growth": 1.0, "plateau": 0.0, "start_share": 0.0,
                "coarse_content": False}


def patch_engine(fixed_style: bool) -> None:
    """Never upscale a style image (as the engine will); optionally keep it at the output's size
    at every scale instead of shrinking it with the scale."""
    from engine import images, transfer

    def style_tensor(self, index, long_side, content):
        side = self.settings.size if fixed_style else long_side
        painting = self.style_images[index]
        size = min(max(16, round(side * self.settings.style_scale)), max(painting.size))
        return images.pil_to_tensor(images.resize_long_side(painting, size)).to(self.device)

    transfer.Stylizer._style_tensor = style_tensor


def gatys_layer_weights(painting, size: int, device: str) -> dict:
    """Layer weights that turn our relative style loss back into Gatys' absolute one
    (|g - a|^2 / 4N^2 with equal layer weights): w_l proportional to |a_l|^2 / N_l^2."""
    from quality import Judge

    judge = Judge(device, size)
    grams = judge.style_grams(painting)
    raw = {n: float(grams[n].pow(2).sum()) / grams[n].shape[-1] ** 2 for n in LAYERS}
    return {n: 5.0 * w / sum(raw.values()) for n, w in raw.items()}


PROBE_PAIRS = (("tubingen.jpg", "picasso_selfport1907.jpg"), ("hoovertowernight.jpg", "seated-nude.jpg"))


def work_items(variants, probe_variants=(), probe_pairs=PROBE_PAIRS):
    """Every pair for ``variants``, then the probe pairs (two portraits) for ``probe_variants``."""
    full = [(v, c, s) for v in variants for c in CONTENTS for s in STYLES]
    return full + [(v, c, s) for v in probe_variants for c, s in probe_pairs]


def run_shard(args) -> None:
    import engine  # noqa: F401  (first: it sets GOMP_SPINCOUNT before torch loads libgomp)
    import torch
    from PIL import Image

    from engine import transfer
    from engine.settings import TransferSettings
    from quality import Judge

    images_dir = Path(args.images)
    out = Path(args.out)
    (out / "img").mkdir(parents=True, exist_ok=True)
    index, count = map(int, args.shard.split("/"))
    pairs = [tuple(pair.split(":")) for pair in args.probe_pairs.split(",")] if args.probe_pairs else PROBE_PAIRS
    items = work_items(list(filter(None, args.variants.split(","))),
                       list(filter(None, args.probe_variants.split(","))), pairs)[index::count]
    judge = Judge(args.device)
    deadline = time.time() + args.budget
    log = open(out / f"runs_{index}.jsonl", "a")
    for variant, content_name, style_name in items:
        if time.time() > deadline:
            print(f"shard {index}: budget spent, skipping the rest", flush=True)
            break
        changes = dict(VARIANTS[variant])
        fixed = changes.pop("_fixed_style", False)
        gatys = changes.pop("_gatys_norm", False)
        patch_engine(fixed)
        photo = Image.open(images_dir / content_name).convert("RGB")
        painting = Image.open(images_dir / style_name).convert("RGB")
        if gatys:
            changes["style_layers"] = gatys_layer_weights(painting, args.size, args.device)
        settings = TransferSettings(size=args.size, device=args.device, preview_interval_ms=10**9)
        if variant != "default":
            settings = settings.replace(**OLD_SCHEDULE)
        settings = settings.replace(**changes)
        if args.iterations:
            settings = settings.replace(iterations=args.iterations)
        if args.start_size and "start_size" not in changes:
            settings = settings.replace(start_size=min(args.start_size, settings.start_size))
        started = time.perf_counter()
        result = transfer.run(settings, content=photo, styles=[painting])
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        name = f"{variant}__{Path(content_name).stem}__{Path(style_name).stem}.jpg"
        result.image.save(out / "img" / name, quality=90)
        record = {
            "variant": variant, "content": content_name, "style": style_name, "seconds": seconds,
            "content_distance": judge.content_distance(result.image, photo),
            "painting_distance": judge.content_distance(painting, photo),
            "style_distance": judge.style_distance(result.image, painting),
            "settings": {k: v for k, v in settings.look().items()},
        }
        record["content_ratio"] = record["content_distance"] / record["painting_distance"]
        log.write(json.dumps(record) + "\n")
        log.flush()
        print(f"{variant:>12} {Path(content_name).stem:>16} {Path(style_name).stem:>22} "
              f"content {record['content_ratio']:.3f} style {record['style_distance']:.3f} {seconds:5.1f} s", flush=True)


def report(args) -> None:
    from PIL import Image

    from quality import contact_sheet

    out = Path(args.out)
    records = [json.loads(line) for f in sorted(out.glob("runs_*.jsonl")) for line in f.read_text().splitlines()]
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in records)]
    print(f"{'variant':>12} | content ratio (mean / max) | style distance (mean) | per pair ratio")
    for v in variants:
        rows = [r for r in records if r["variant"] == v]
        ratios = [r["content_ratio"] for r in rows]
        styles = [r["style_distance"] for r in rows]
        per_pair = " ".join(f"{r['content_ratio']:.2f}/{r['style_distance']:.2f}" for r in
                            sorted(rows, key=lambda r: (r["content"], STYLES.index(r["style"]))))
        print(f"{v:>12} | {sum(ratios) / len(ratios):.3f} / {max(ratios):.3f} | {sum(styles) / len(styles):.3f} | {per_pair}")
        tiles = [(f"{Path(r['content']).stem[:4]}x{Path(r['style']).stem[:10]} c{r['content_ratio']:.2f} s{r['style_distance']:.2f}",
                  Image.open(out / "img" / f"{v}__{Path(r['content']).stem}__{Path(r['style']).stem}.jpg"))
                 for r in sorted(rows, key=lambda r: (r["content"], STYLES.index(r["style"])))]
        contact_sheet(tiles, columns=len(STYLES), tile=240).save(out / f"sheet_{v}.jpg", quality=85)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--images", default=str(ROOT.parent / "shared" / "images"))
    parser.add_argument("--shard", default="0/1")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--probe-variants", default="", help="variants run on two portrait pairs only")
    parser.add_argument("--probe-pairs", default="", help="CONTENT:STYLE,... instead of the two portraits")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--start-size", type=int, default=0, help="override (quick checks)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget", type=float, default=10**9, help="seconds before a shard stops taking work")
    parser.add_argument("--iterations", type=int, default=0, help="override (quick checks)")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    report(args) if args.report else run_shard(args)


if __name__ == "__main__":
    main()
