"""Load: a long batch of small images must run in flat memory.

Runs a batch of ``--count`` small images (default 200, 32 px, 1 iteration) in this process and
records the resident memory (VmRSS, from /proc/self/status) after every image, plus its peak
(sampled every 50 ms). Prints RSS at image 1, 50, 100, 150, 200 and the slope of a straight line
fitted through the images after the warm-up; a slope near 0 KiB per image means no leak.

    python bench/bench_load.py [--count 200] [--size 32] [--iterations 1] [--gui]

``--gui`` runs the same batch through the Batch tab (gui.batch_panel.BatchPanel, offscreen), so
that the worker thread, its signals and the queue model are measured too.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from pictures import striped_style  # noqa: E402  (bench/pictures.py: scripts run with bench/ on sys.path)

WARM_UP = 20  # images before the slope is measured: caches and allocator pools fill up first
REPORT_AT = (1, 50, 100, 150, 200)


def rss_kib() -> int:
    """Resident memory of this process in KiB (Linux); 0 where /proc is not there."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakSampler(threading.Thread):
    def __init__(self, interval: float = 0.05):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.peak = max(self.peak, rss_kib())


def make_inputs(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for index in range(count):
        width, height = (48, 36) if index % 3 else (36, 48)
        image = Image.new("RGB", (width, height), (index * 37 % 256, 120, 200 - index % 150))
        draw = ImageDraw.Draw(image)
        draw.ellipse((4 + index % 10, 6, 30, 30), fill=(230, 190, 60))
        draw.rectangle((20, 18 + index % 8, 46, 34), fill=(90, 40 + index % 100, 30))
        image.save(folder / f"photo{index:03d}.png")


def make_style(path: Path) -> Path:
    return striped_style(path, side=64, step=6, slant=24, width=2)


def slope(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of (item, KiB) points, in KiB per item."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var_x = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var_x if var_x else 0.0


def run_engine(inputs: Path, out: Path, settings, after_item) -> object:
    from engine.batch import BatchOptions, run_batch

    return run_batch([inputs], settings, BatchOptions(str(out)),
                     on_item=lambda item: after_item() if item.state in ("done", "failed") else None)


def run_gui(inputs: Path, out: Path, settings, after_item) -> object:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("IMPASTO_CONFIG_DIR", tempfile.mkdtemp(prefix="impasto-bench-config-"))
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from gui.batch_panel import BatchPanel

    app = QApplication.instance() or QApplication([])
    panel = BatchPanel(lambda: settings)
    panel.output_edit.setText(str(out))
    panel.model.dataChanged.connect(lambda *args: _count_finished(panel, after_item))
    outcome = []
    loop = QEventLoop()
    panel.run_finished.connect(lambda result: (outcome.append(result), loop.quit()))
    panel.add_paths([str(inputs)])
    QTimer.singleShot(0, panel.start)
    loop.exec()
    panel.shutdown()
    app.processEvents()
    return outcome[0]


_seen_finished: set = set()


def _count_finished(panel, after_item) -> None:
    for row in range(panel.model.rowCount()):
        item = panel.model.item(row)
        if item.state in ("done", "failed") and item.index not in _seen_finished:
            _seen_finished.add(item.index)
            after_item()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--gui", action="store_true", help="run through the Batch tab (offscreen)")
    args = parser.parse_args()

    import engine  # noqa: F401  (first: it sets GOMP_SPINCOUNT before torch loads libgomp)
    import torch

    from engine.settings import TransferSettings

    work = Path(tempfile.mkdtemp(prefix="impasto-bench-load-"))
    make_inputs(work / "in", args.count)
    settings = TransferSettings(
        styles=[str(make_style(work / "style.png"))], size=args.size, start_size=args.size,
        iterations=args.iterations, device=args.device, preview_interval_ms=0,
    )
    samples: list[tuple[int, int]] = []  # (images finished, RSS KiB)
    started = time.perf_counter()

    def after_item() -> None:
        samples.append((len(samples) + 1, rss_kib()))

    sampler = PeakSampler()
    sampler.start()
    before = rss_kib()
    summary = (run_gui if args.gui else run_engine)(work / "in", work / "out", settings, after_item)
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()

    mode = "Batch tab (offscreen Qt)" if args.gui else "engine.batch.run_batch (what main.py batch runs)"
    print(f"{args.count} images, {args.size} px, {args.iterations} iteration(s), {args.device}, torch threads "
          f"{torch.get_num_threads()}, via {mode}")
    print(f"result: {summary.line() if hasattr(summary, 'line') else summary} in {seconds:.1f} s "
          f"({seconds / max(1, len(samples)) * 1000:.0f} ms per image)")
    print(f"RSS before the batch: {before / 1024:.1f} MiB; peak during it: {sampler.peak / 1024:.1f} MiB")
    rss = dict(samples)
    for item in REPORT_AT:
        if item in rss:
            print(f"RSS after image {item:>3}: {rss[item] / 1024:7.1f} MiB")
    steady = [point for point in samples if point[0] > WARM_UP]
    if steady:
        growth = steady[-1][1] - steady[0][1]
        print(f"slope after image {WARM_UP}: {slope(steady):+.2f} KiB per image "
              f"({growth / 1024:+.1f} MiB from image {steady[0][0]} to {steady[-1][0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
