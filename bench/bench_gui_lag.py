"""How long the window's GUI thread stalls while a stylization runs.

Opens the real main window (offscreen unless DISPLAY is set and --visible is given), loads a photo
and a painting, presses Start and, until the run ends, fires a 5 ms timer on the GUI thread: its
lateness is the event loop's stall. Prints the longest stall, the 99th percentile and how many
exceeded 50 ms; the target is a longest stall under 50 ms on 2 cores. Start is pressed once the
window has been open 2 s and its background work is done (``--cold``: at once).

    .venv/bin/python bench/bench_gui_lag.py [--size 384] [--iterations 20]
"""

from __future__ import annotations

LAUNCH_MS = 2000  # how long after the window opens the launch is watched before Start is pressed

import argparse
import faulthandler
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def report(what: str, seconds: float, lateness: list[float]) -> None:
    stalls = sorted(lateness)
    p99 = stalls[int(len(stalls) * 0.99)] if stalls else 0.0
    over = sum(1 for s in stalls if s > 50)
    print(f"{what}: {seconds:.1f} s, {len(stalls)} probes: longest GUI stall {stalls[-1] if stalls else 0:.0f} ms, "
          f"p99 {p99:.0f} ms, {over} over 50 ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--visible", action="store_true", help="use the real display (DISPLAY)")
    parser.add_argument("--trace", action="store_true", help="list the run's reports and the stalls in time")
    parser.add_argument("--cold", action="store_true",
                        help="press Start as the window opens, while it still loads the photo and painting; "
                             "by default the run starts once the window is ready")
    parser.add_argument("--dump", action="store_true",
                        help="print every thread's stack whenever the GUI thread misses 50 ms (faulthandler's "
                             "watchdog needs no GIL, so it shows what the worker holds the GUI up with)")
    args = parser.parse_args()
    if not args.visible:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("IMPASTO_CONFIG_DIR", "/tmp/impasto-bench-config")

    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.settings import TransferSettings
    from gui.main_window import MainWindow
    from pictures import striped_style

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    shared = ROOT.parent / "shared" / "images"
    content, style = shared / "tubingen.jpg", shared / "starry_night.jpg"
    if not content.is_file():
        from PIL import Image

        content = Path("/tmp/impasto-bench-photo.png")
        Image.effect_mandelbrot((800, 600), (-2, -1.2, 1, 1.2), 60).convert("RGB").save(content)
        style = striped_style(Path("/tmp/impasto-bench-style.png"), 512, 24, 40, 6)
    settings = TransferSettings(size=args.size, iterations=args.iterations, preview_interval_ms=250)

    clock, lateness, expected = QElapsedTimer(), [], [0.0]
    interval_ms = 5
    events = []  # (ms, what) of the run's reports, to place the stalls

    def tick() -> None:
        if args.dump:
            faulthandler.dump_traceback_later(0.05, repeat=False)
        now = clock.elapsed()
        lateness.append(max(0.0, now - expected[0]))
        if lateness[-1] > 50:
            events.append((now, f"STALL {lateness[-1]:.0f} ms"))
        expected[0] = now + interval_ms

    probe = QTimer(interval=interval_ms, timerType=Qt.PreciseTimer)
    probe.timeout.connect(tick)
    clock.start()
    expected[0] = interval_ms
    probe.start()
    window.apply_settings(settings, with_images=False)
    window.load_content(str(content))
    window.add_styles([str(style)])
    if not args.cold:  # what a user meets: the window has finished launching before they press Start
        while window.io_host.busy or clock.elapsed() < LAUNCH_MS:
            app.processEvents(QEventLoop.AllEvents, 50)
        report("launch (the window's first 2 s, and any background work it started)", clock.elapsed() / 1000, lateness)
        lateness.clear()
        events.append((clock.elapsed(), "Start"))

    done = []
    window.run_finished.connect(lambda *_: done.append(True))
    window.host.progress.connect(lambda p: events.append((clock.elapsed(), f"{p.phase} {p.scale}/{p.iteration}")))
    window.host.preview.connect(lambda *_: events.append((clock.elapsed(), "preview")))
    started, start_ms = time.perf_counter(), clock.elapsed()
    window.start()
    if not done:
        loop = QEventLoop()
        window.run_finished.connect(loop.quit)
        loop.exec()
    probe.stop()
    faulthandler.cancel_dump_traceback_later()
    report(f"run at {args.size} px ({args.iterations} iterations at full size)", time.perf_counter() - started,
           lateness)
    first = next((ms for ms, what in events if what == "preview" and ms >= start_ms), None)
    if first is not None:
        print(f"first preview {(first - start_ms) / 1000:.2f} s after Start")
    if args.trace:
        for ms, what in events:
            print(f"{ms:8.0f} {what}")
    window.unsaved = False  # a throwaway result: closing must not stop to ask about it
    window.close()


if __name__ == "__main__":
    main()
