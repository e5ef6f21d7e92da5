"""Engine benchmark: ms per iteration and peak memory at 256 and 512 px, fp32 against the fast
path (what precision="auto" picks on this device), and the wall time of a default 512 px run.

    .venv/bin/python bench/bench_engine.py [--quick] [--device auto|cpu|cuda|mps]

Each measurement runs in its own process so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "images"


def images_or_drawn():
    from PIL import Image

    if (SHARED / "tubingen.jpg").is_file():
        return Image.open(SHARED / "tubingen.jpg").convert("RGB"), Image.open(SHARED / "starry_night.jpg").convert("RGB")
    from tests.helpers import content_image, style_image

    return content_image(640, 480), style_image(512)


def peak_bytes(device) -> int:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def measure(size: int, precision: str, iterations: int, device: str) -> dict:
    """Iterations at one size (a single scale); ms per iteration after a warm-up."""
    from engine import transfer
    from engine.settings import TransferSettings

    content, style = images_or_drawn()
    # one scale, no plateau stop: two warm-up iterations, then ``iterations`` timed ones
    settings = TransferSettings(size=size, start_size=size, iterations=iterations + 3, plateau=0.0,
                                precision=precision, device=device, preview_interval_ms=10**9)
    stamps = []
    result = transfer.run(settings, on_step=lambda p: stamps.append(time.perf_counter())
                          if p.phase == "optimising" else None, content=content, styles=[style])
    stylizer_device = transfer.devices.resolve_device(device)
    timed = stamps[2:]  # the first two iterations warm up kernels and caches
    ms = (timed[-1] - timed[0]) / (len(timed) - 1) * 1000
    return {"ms_per_iteration": ms, "timed": len(timed) - 1, "seconds": timed[-1] - timed[0],
            "peak_mib": peak_bytes(stylizer_device) / 2**20, "final_loss": result.losses["loss"]}


def default_run(device: str) -> dict:
    from engine import transfer
    from engine.settings import TransferSettings

    content, style = images_or_drawn()
    settings = TransferSettings(device=device, preview_interval_ms=10**9)
    started = time.perf_counter()
    result = transfer.run(settings, content=content, styles=[style])
    seconds = time.perf_counter() - started
    result.image.save(Path(os.environ.get("BENCH_OUT", "/tmp")) / "bench_default_512.png")
    return {"seconds": seconds, "iterations": result.iterations, "scales": len(settings.scale_sizes()),
            "size": list(result.image.size), "peak_mib": peak_bytes(transfer.devices.resolve_device(device)) / 2**20}


def child(args) -> None:
    if args.child == "default":
        print(json.dumps(default_run(args.device)))
    else:
        size, precision = args.child.split(":")
        print(json.dumps(measure(int(size), precision, args.iterations, args.device)))


def spawn(job: str, args) -> dict:
    command = [sys.executable, __file__, "--child", job, "--device", args.device, "--iterations", str(args.iterations)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--iterations", type=int, default=10, help="timed iterations per measurement")
    parser.add_argument("--quick", action="store_true", help="skip the default 512 px stylization")
    parser.add_argument("--sizes", default="256,512", help="sides measured, comma-separated")
    parser.add_argument("--precisions", default="fp32,auto", help="precisions measured, comma-separated")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    import engine  # noqa: F401  (first: it sets GOMP_SPINCOUNT before torch loads libgomp)
    import torch

    from engine import devices

    device = devices.resolve_device(args.device)
    fast = devices.autocast_dtype(device, "auto")
    print(f"machine: {platform.machine()} {devices.cpu_name()}, {os.cpu_count()} cores; "
          f"torch {torch.__version__}; device {device} ({[d.name for d in devices.available_devices()][0]})")
    print(f"fast path on {device.type}: autocast {fast}, channels_last {devices.use_channels_last(device)}")
    print(f"{'size':>5} {'precision':>9} {'ms/iter':>9} {'peak MiB':>9}  timed iterations")
    for size in map(int, args.sizes.split(",")):
        for precision in args.precisions.split(","):
            row = spawn(f"{size}:{precision}", args)
            print(f"{size:>5} {precision:>9} {row['ms_per_iteration']:>9.1f} {row['peak_mib']:>9.0f}  "
                  f"{row['timed']} in {row['seconds']:.2f} s", flush=True)
    if not args.quick:
        row = spawn("default", args)
        print(f"default stylization (512 px, {row['iterations']} iterations over {row['scales']} scales, auto precision): "
              f"{row['seconds']:.1f} s wall, peak {row['peak_mib']:.0f} MiB, output {row['size']}")


if __name__ == "__main__":
    main()
