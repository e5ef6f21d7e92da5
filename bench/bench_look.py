"""The default look on every photo x painting pair of ../shared/images, at 512 px.

Prints, for each pair, the relu4_2 content distance of the result relative to the painting's own
(0 = the photo, 1 = as far from it as the painting is; target <= 0.70 on every pair) and the Gram
style distance to the painting (both from bench/quality.py at 384 px), and writes one contact
sheet of all results. --compare also runs the 2015 look (equal layer weights) for a side by side.

    .venv/bin/python bench/bench_look.py [--device cpu|cuda] [--out DIR] [--compare]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import study_look  # noqa: E402

TARGET = 0.70


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--out", default=os.environ.get("BENCH_OUT", "/tmp/impasto-bench") + "/look")
    parser.add_argument("--compare", action="store_true", help="also the 2015 look (equal layer weights)")
    args = parser.parse_args()
    variants = "default,gatys2015" if args.compare else "default"
    common = ["--out", args.out, "--device", args.device, "--size", str(args.size)]
    sys.argv = ["study_look.py", *common, "--variants", variants]
    study_look.main()
    sys.argv = ["study_look.py", *common, "--report"]
    study_look.main()
    runs = [json.loads(line) for f in Path(args.out).glob("runs_*.jsonl") for line in f.read_text().splitlines()]
    worst = max(r["content_ratio"] for r in runs if r["variant"] == "default")
    verdict = "meets" if worst <= TARGET else "misses"
    print(f"default look: worst content ratio {worst:.3f} ({verdict} the target {TARGET}); "
          f"sheet {Path(args.out) / 'sheet_default.jpg'}")


if __name__ == "__main__":
    main()
