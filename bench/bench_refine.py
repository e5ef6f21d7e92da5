"""Refine to print size: a result refined from --from px to --to px (``stylize --continue RESULT
--size TO``) against a fresh run at --to px, both at the default settings.

Runs, in one process and in this order: the parent (a fresh run at --from px, saved with its
recipe), the refine of that parent to --to px (the schedule's steps above --from px, starting from
the parent's pixels), and a fresh run at --to px. Prints each one's wall time (weights loaded once,
before the clock starts) and the full Gatys objective of both --to px pictures, evaluated after the
runs in float32 with the default settings (bench/quality.py), so that both are judged alike.

    .venv/bin/python bench/bench_refine.py [--from 512] [--to 1024] [--content tubingen.jpg]
        [--style starry_night.jpg] [--device auto] [--out /tmp/bench_refine]
        [--start-size PX] [--iterations N]   # smaller than the defaults only to try the script out
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
SHARED = ROOT.parent / "shared" / "images"


def timed_job(job) -> tuple[float, object]:
    started = time.perf_counter()
    outcome = job()
    seconds = time.perf_counter() - started
    print(f"{Path(job.output).name}: {seconds:.1f} s, {outcome.result.iterations} iterations", file=sys.stderr)
    return seconds, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="small", type=int, default=512)
    parser.add_argument("--to", dest="large", type=int, default=1024)
    parser.add_argument("--content", default="tubingen.jpg")
    parser.add_argument("--style", default="starry_night.jpg")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--start-size", type=int, help="the fresh runs' first scale (default: the default's)")
    parser.add_argument("--iterations", type=int, help="at the output size (default: the default's)")
    parser.add_argument("--out", default="/tmp/bench_refine")
    args = parser.parse_args()

    import engine  # noqa: F401  (first: it sets GOMP_SPINCOUNT before torch loads libgomp)
    import torch
    from PIL import Image

    from engine import continuation
    from engine.jobs import Job
    from engine.settings import TransferSettings
    from engine.weights import load_weights
    from quality import objective

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    content, style = SHARED / args.content, SHARED / args.style
    defaults = TransferSettings(content=str(content), styles=[str(style)], device=args.device,
                                preview_interval_ms=10**9)
    changes = {"start_size": args.start_size, "iterations": args.iterations}
    defaults = defaults.replace(**{name: value for name, value in changes.items() if value is not None})
    load_weights(defaults.weights)  # loaded once, off the clock

    def fresh(size: int, name: str):
        settings = defaults.replace(size=size, start_size=min(defaults.start_size, size))
        return timed_job(Job(settings, out / name))

    parent_seconds, parent_outcome = fresh(args.small, f"parent_{args.small}.png")
    parent = continuation.read_parent(out / f"parent_{args.small}.png")
    refined_settings = continuation.continued(parent, parent.settings, args.large)
    refine_seconds, refined = timed_job(Job(refined_settings, out / f"refined_{args.large}.png",
                                            lineage=parent.lineage()))
    fresh_seconds, fresh_outcome = fresh(args.large, f"fresh_{args.large}.png")

    photo, painting = Image.open(content).convert("RGB"), Image.open(style).convert("RGB")
    judge = defaults.replace(size=args.large)
    figures = {name: objective(outcome.image, photo, [painting], judge)["objective"]
               for name, outcome in (("refined", refined), ("fresh", fresh_outcome))}
    report = {
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} threads, device {args.device}",
        "pair": f"{content.stem} x {style.stem}",
        "parent_seconds": round(parent_seconds, 1), "parent_iterations": parent_outcome.result.iterations,
        "refine_seconds": round(refine_seconds, 1), "refine_iterations": refined.result.iterations,
        "refine_scales": refined_settings.scale_sizes(),
        "fresh_seconds": round(fresh_seconds, 1), "fresh_iterations": fresh_outcome.result.iterations,
        "fresh_scales": judge.replace(start_size=defaults.start_size).scale_sizes(),
        "objective_refined": round(figures["refined"], 4), "objective_fresh": round(figures["fresh"], 4),
    }
    print(json.dumps(report, indent=1))
    print(f"\n| {args.small} → {args.large} px refine | {refine_seconds:.0f} s (after a {parent_seconds:.0f} s "
          f"{args.small} px run) | objective {figures['refined']:.4g} |")
    print(f"| fresh {args.large} px run | {fresh_seconds:.0f} s | objective {figures['fresh']:.4g} |")


if __name__ == "__main__":
    main()
