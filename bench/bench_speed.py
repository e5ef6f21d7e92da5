"""Time to a finished picture: the old default schedule against the new one, at the same look.

For each content x style pair (../shared/images) at 512 px, each schedule runs in its own process
(its peak memory is its own) and reports wall time, peak RSS and the full Gatys objective of the
final image, evaluated after the run in float32 with fixed settings (bench/quality.py), so both
schedules are judged alike. Writes a side-by-side sheet (whole images and 100 % crops).

    .venv/bin/python bench/bench_speed.py [--pairs 3] [--first-pair 0] [--size 512] [--schedules old,new] [--out DIR]
    .venv/bin/python bench/bench_speed.py --curve   # objective against seconds for a few schedules
    python bench/bench_speed.py --device cuda      # the same on a GPU (peak memory: the GPU's)
    .venv/bin/python bench/bench_speed.py --schedules old-0.1,new   # against 0.1's exact loop (clamp)
    .venv/bin/python bench/bench_speed.py --photo-seeds 3   # each run on 3 copies of the photo: the spread

--photo-seeds K runs every schedule on K copies of each photo: the photo itself, and K - 1 copies
with each pixel moved by at most one level (seeded noise, invisible); each run is compared with
the old run on the same copy, and medians with medians. A result that depends on where rounding
happened to tip the optimisation shows up as a spread: on an H200, float32 runs of one schedule
spread by 1.1 % at most this way, but bf16 runs of The Scream on the previous default schedule ended
at 0.496, 0.527 and 0.533.

IMPASTO_CPU_BF16=0 measures the fp32 path on a CPU that has bf16. The objective is always judged
on the CPU, so figures from a GPU run compare with a CPU run's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
SHARED = ROOT.parent / "shared" / "images"
PAIRS = (("tubingen.jpg", "starry_night.jpg"), ("tubingen.jpg", "picasso_selfport1907.jpg"),
         ("hoovertowernight.jpg", "the_scream.jpg"), ("hoovertowernight.jpg", "shipwreck.jpg"))

# Schedules, each a change to the default settings (the look fields are never touched). "old" is
# Impasto 0.1's default run: 200 iterations at each of 256, 362 and 512 px, on Impasto 0.1's engine
# ("engine" below); "old-schedule" is the same schedule on today's engine.
# (the coarse-scale fields of 27 November, off as before them: engine.settings.LEGACY_SCHEDULE)
BEFORE_COARSE = {"start_share": 0.0, "coarse_content": False}
OLD_SCHEDULE = {"start_size": 256, "iterations": 200, "iteration_growth": 1.0, "iteration_side": 0, "plateau": 0.0,
                **BEFORE_COARSE}
SCHEDULES = {
    "old": {**OLD_SCHEDULE, "engine": "0.1"},
    # the same with 0.1's box too: a clamp after each L-BFGS step, where "old" minimises with today's
    # penalty (a stricter baseline: the clamp misleads L-BFGS's curvature pairs)
    "old-0.1": {**OLD_SCHEDULE, "engine": "0.1-clamp"},
    "old-schedule": OLD_SCHEDULE,
    "new": {},
    "new-system-heap": {"engine": "system-heap"},
    "p0002": {"plateau": 0.0002},
    "new-0.2": BEFORE_COARSE,  # the default before them: relu4_2 alone at every scale, 28 iterations at 128 px
    # candidates measured at 256 px while choosing the new default (old256: the old schedule's shape)
    "old256": {"start_size": 128, "iterations": 200, "iteration_growth": 1.0, "plateau": 0.0, **BEFORE_COARSE},
    "K": {"start_size": 64, "iterations": 25, "iteration_growth": 1.75, "plateau": 0.0, **BEFORE_COARSE},
    "N": {"start_size": 64, "iterations": 40, "iteration_growth": 1.5, "plateau": 0.0, **BEFORE_COARSE},
    "Np": {"start_size": 64, "iterations": 40, "iteration_growth": 1.5, "plateau": 0.001, **BEFORE_COARSE},
    "old256p1": {"start_size": 128, "iterations": 200, "iteration_growth": 1.0, "plateau": 0.001, **BEFORE_COARSE},
    "old256p05": {"start_size": 128, "iterations": 200, "iteration_growth": 1.0, "plateau": 0.0005, **BEFORE_COARSE},
    "old256p3": {"start_size": 128, "iterations": 200, "iteration_growth": 1.0, "plateau": 0.003, **BEFORE_COARSE},
}


# What an "engine" key in a schedule switches back, through the engine's benchmark switches: 0.1
# computed the Gram matrix's gradient with autograd (two float32 products, a sum and a cast) and
# stepped with torch.optim.LBFGS (a two-loop recursion: 4 vector operations per stored pair), and on
# CUDA launched every kernel from Python (no graphs).
# On the float32 CPU path 0.1 also kept the contiguous layout and convolved directly (no NNPACK),
# and it left glibc's heap as it was (engine/heap.py). "system-heap": today's engine on that heap.
ENGINES = {"0.1": {"IMPASTO_GRAM": "autograd", "IMPASTO_LBFGS": "torch", "IMPASTO_WINOGRAD": "0",
                  "IMPASTO_CUDA_GRAPHS": "0", "IMPASTO_HEAP": "system"}}
ENGINES["0.1-clamp"] = {**ENGINES["0.1"], "IMPASTO_BOX": "clamp"}
ENGINES["system-heap"] = {"IMPASTO_HEAP": "system"}
OLD_FP32_CPU = {"IMPASTO_CHANNELS_LAST": "0"}  # for 0.1's engines


def engine_env(engine: str, device: str) -> dict:
    import torch

    from engine import devices

    env = dict(ENGINES[engine])
    if engine.startswith("0.1") and device == "cpu" and devices.autocast_dtype(torch.device("cpu")) is None:
        env.update(OLD_FP32_CPU)
    return env


def schedule_spec(name: str) -> dict:
    return dict(SCHEDULES[name]) if name in SCHEDULES else json.loads(name)


def split_schedules(text: str) -> list[str]:
    """Names and JSON objects separated by commas outside braces."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [part.strip() for part in parts + [current] if part.strip()]


def schedule_settings(name: str, size: int, device: str = "cpu"):
    from engine.settings import TransferSettings

    spec = schedule_spec(name)
    spec.pop("engine", None)
    return TransferSettings(size=size, device=device, preview_interval_ms=10**9).replace(**spec)


def peak_mib(device: str) -> float:
    """The run's peak memory: the GPU's allocations on CUDA, else the process's resident set."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def perturbed(photo, seed: int):
    """``photo`` with every channel of every pixel moved by -1, 0 or +1 level (seed 0: as it is)."""
    if not seed:
        return photo
    import numpy as np
    from PIL import Image

    pixels = np.asarray(photo, dtype=np.int16)
    noise = np.random.default_rng(seed).integers(-1, 2, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def child(args) -> None:
    """One run in this process: prints a JSON line with time, memory, objective (and a curve)."""
    from PIL import Image

    from engine import transfer
    from quality import objective

    settings = schedule_settings(args.schedule, args.size, args.device)
    photo = perturbed(Image.open(SHARED / args.content).convert("RGB"), args.photo_seed)
    painting = Image.open(SHARED / args.style).convert("RGB")
    judge_settings = schedule_settings("new", args.size)
    curve, judging = [], [0.0]

    def on_step(progress):
        # the objective of the picture so far, every --curve-every iterations of the last scale;
        # the time spent judging is taken off the clock
        last = progress.scale == progress.scales - 1
        if args.curve_every and last and progress.phase == "optimising" and progress.preview is not None:
            seconds = progress.elapsed - judging[0]
            started = time.perf_counter()
            value = objective(progress.preview, photo, [painting], judge_settings)["objective"]
            judging[0] += time.perf_counter() - started
            curve.append((round(seconds, 2), progress.iteration, value))

    if args.curve_every:
        settings = settings.replace(preview_interval_ms=0)
    started = time.perf_counter()
    result = transfer.run(settings, on_step=on_step if args.curve_every else None, content=photo, styles=[painting])
    synchronize(args.device)
    seconds = time.perf_counter() - started - judging[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{Path(args.content).stem}__{Path(args.style).stem}__{args.label}"
    result.image.save(out / f"{tag}.png")
    figures = objective(result.image, photo, [painting], judge_settings)
    print(json.dumps({"seconds": seconds, "iterations": result.iterations, "peak_mib": peak_mib(args.device),
                      "size": list(result.image.size), "image": str(out / f"{tag}.png"), **figures,
                      "curve": curve}))


def spawn(args, content: str, style: str, schedule: str, label: str, curve_every: int = 0, photo_seed: int = 0) -> dict:
    command = [sys.executable, __file__, "--child", "--content", content, "--style", style, "--schedule", schedule,
               "--label", label, "--size", str(args.size), "--out", args.out, "--curve-every", str(curve_every),
               "--device", args.device, "--photo-seed", str(photo_seed)]
    engine = schedule_spec(schedule).get("engine")
    env = {**os.environ, **engine_env(engine, args.device)} if engine else None
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{label} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def crop_sheet(rows: list[tuple[str, list[tuple[str, str]]]], path: Path) -> None:
    """One row per pair: each schedule's whole image, then a 100 % crop of its centre."""
    from PIL import Image, ImageDraw

    crop, label_h = 256, 16
    tiles = []
    for pair, runs in rows:
        row = []
        for label, image_path in runs:
            image = Image.open(image_path).convert("RGB")
            whole = image.copy()
            whole.thumbnail((crop * 4 // 3, crop))
            cx, cy = image.width // 2, image.height // 3
            centre = image.crop((cx - crop // 2, cy - crop // 2, cx + crop // 2, cy + crop // 2))
            row += [(f"{pair} {label}", whole), (f"{label} 100%", centre)]
        tiles.append(row)
    width = max(sum(t.width + 8 for _, t in row) for row in tiles)
    sheet = Image.new("RGB", (width, len(tiles) * (crop + label_h + 8)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(tiles):
        x, y = 0, r * (crop + label_h + 8)
        for label, tile in row:
            draw.text((x + 2, y + 2), label, fill="black")
            sheet.paste(tile, (x, y + label_h))
            x += tile.width + 8
    sheet.save(path)


def machine_line(device: str) -> str:
    import torch

    from engine import devices

    resolved = devices.resolve_device(device)
    dtype = devices.autocast_dtype(resolved)
    line = f"{platform.machine()} {devices.cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
    if resolved.type == "cuda":
        return line + f"{torch.cuda.get_device_name(resolved)}, {'bf16' if dtype else 'fp32'} path, peak = GPU memory"
    return line + (f"CPU path {'bf16' if dtype else 'fp32'} "
                   f"(IMPASTO_CPU_BF16={os.environ.get('IMPASTO_CPU_BF16', 'unset')}), peak = RSS")


def compare(args) -> None:
    print(machine_line(args.device))
    seeds = range(max(1, args.photo_seeds))
    print(f"{'pair':>36} {'schedule':>8} {'seed':>4} {'seconds':>8} {'iters':>6} {'peak MiB':>9} {'objective':>10} {'vs old':>7}")
    rows = []
    for content, style in PAIRS[args.first_pair : args.first_pair + args.pairs]:
        pair = f"{Path(content).stem} x {Path(style).stem}"
        runs = {}  # schedule -> its runs, one per copy of the photo
        for schedule in split_schedules(args.schedules):
            runs[schedule] = []
            base = runs.get("old") or runs.get("old-0.1") or runs.get("old256")
            for seed in seeds:
                label = schedule if not seed else f"{schedule}-photo{seed}"
                row = spawn(args, content, style, schedule, label, photo_seed=seed)
                runs[schedule].append(row)
                ratio = row["objective"] / base[seed]["objective"] if base else float("nan")  # same copy
                print(f"{pair:>36} {schedule:>8} {seed:>4} {row['seconds']:>8.1f} {row['iterations']:>6} "
                      f"{row['peak_mib']:>9.0f} {row['objective']:>10.4f} {ratio:>7.3f}", flush=True)
        for old in ("old", "old-0.1"):
            if old in runs and "new" in runs:
                print(f"{pair:>36} speed-up over {old} {runs[old][0]['seconds'] / runs['new'][0]['seconds']:.2f}x",
                      flush=True)
        if len(seeds) > 1:
            base = runs.get("old") or runs.get("old-0.1") or runs.get("old256")
            for schedule, done in runs.items():
                values = [row["objective"] for row in done]
                median = statistics.median(values)
                versus = f", {median / statistics.median(row['objective'] for row in base):.3f} of old's median" if base else ""
                print(f"{pair:>36} {schedule:>8} over {len(values)} photos: median {median:.4f} "
                      f"(from {min(values):.4f} to {max(values):.4f}){versus}", flush=True)
        rows.append((pair, [(name, done[0]["image"]) for name, done in runs.items()]))
    crop_sheet(rows, Path(args.out) / "speed_sheet.png")
    print(f"sheet: {Path(args.out) / 'speed_sheet.png'}")


def curves(args) -> None:
    print(machine_line(args.device))
    content, style = PAIRS[0]
    for schedule in split_schedules(args.schedules):
        row = spawn(args, content, style, schedule, f"curve-{abs(hash(schedule)) % 10**6}", curve_every=args.curve_every)
        points = " ".join(f"{t:.0f}s:{v:.4f}" for t, _, v in row["curve"])
        print(f"{schedule}: total {row['seconds']:.0f} s, objective {row['objective']:.4f}; last scale: {points}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--first-pair", type=int, default=0, help="skip the pairs before this one (0-based)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--schedules", default="old,new", help="names or JSON objects of setting changes")
    parser.add_argument("--out", default=os.environ.get("BENCH_OUT", "/tmp/impasto-bench"))
    parser.add_argument("--curve", action="store_true")
    parser.add_argument("--curve-every", type=int, default=10)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    parser.add_argument("--photo-seeds", type=int, default=1,
                        help="run each schedule on this many copies of the photo (the first as it is, the others "
                             "with invisible noise) and compare medians")
    parser.add_argument("--photo-seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--content", help=argparse.SUPPRESS)
    parser.add_argument("--style", help=argparse.SUPPRESS)
    parser.add_argument("--schedule", help=argparse.SUPPRESS)
    parser.add_argument("--label", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    elif args.curve:
        curves(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
