"""Screenshots for the README and docs/gui.md, light and dark, from the real window.

    python tools/screenshots.py [--out docs] [--size 1440x900]

Opens the window (offscreen unless a display is set: no X server needed; under Xvfb or a desktop
it uses that), stylizes ../shared/images/tubingen.jpg with starry_night.jpg for real (a short
CPU run, one to two minutes on two busy cores), runs a two-image batch, and writes:

    screenshot.png / screenshot-dark.png   the Stylize tab, result compared with the photo
    batch.png / batch-dark.png             the Batch tab, a finished row compared with its result

Settings and remembered state go to a temporary folder: your own are neither read nor changed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT.parent / "shared" / "images"
RUN_TIMEOUT_S = 600


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNG files (default: docs/)")
    parser.add_argument("--size", default="1440x900", help="window size in logical pixels (default 1440x900)")
    parser.add_argument("--images", default=str(IMAGES), help="folder holding tubingen.jpg, starry_night.jpg …")
    return parser.parse_args(argv)


def wait_for(app, condition, what: str, timeout_s: float = RUN_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def settle(app, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def grab(app, window, path: Path) -> None:
    settle(app)
    if not window.grab().save(str(path)):
        raise SystemExit(f"screenshots: could not write {path}")
    print(f"wrote {path}")


def dark_palette():
    """Fusion's colours on a dark desktop (offscreen and bare X servers have no desktop to ask)."""
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    colours = {
        QPalette.Window: (50, 50, 50), QPalette.WindowText: (230, 230, 230), QPalette.Base: (36, 36, 36),
        QPalette.AlternateBase: (46, 46, 46), QPalette.Text: (230, 230, 230), QPalette.Button: (56, 56, 56),
        QPalette.ButtonText: (230, 230, 230), QPalette.BrightText: (255, 80, 80), QPalette.Highlight: (48, 140, 198),
        QPalette.HighlightedText: (255, 255, 255), QPalette.Link: (110, 170, 240), QPalette.ToolTipBase: (60, 60, 60),
        QPalette.ToolTipText: (230, 230, 230), QPalette.PlaceholderText: (150, 150, 150),
        QPalette.Light: (80, 80, 80), QPalette.Midlight: (66, 66, 66), QPalette.Mid: (44, 44, 44),
        QPalette.Dark: (30, 30, 30), QPalette.Shadow: (10, 10, 10),
    }
    for role, rgb in colours.items():
        palette.setColor(role, QColor(*rgb))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        palette.setColor(QPalette.Disabled, role, QColor(120, 120, 120))
    return palette


def set_scheme(app, dark: bool) -> None:
    """The desktop's dark or light colour scheme, as Fusion shows it."""
    from PySide6.QtCore import Qt

    app.styleHints().setColorScheme(Qt.ColorScheme.Dark if dark else Qt.ColorScheme.Light)
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    settle(app, 0.5)


def stylize(app, window, images: Path) -> None:
    from engine.settings import TransferSettings

    window.apply_settings(TransferSettings(size=256, start_size=128, iterations=20, device="cpu", seed=1),
                          with_images=False)
    window.load_content(str(images / "tubingen.jpg"))
    window.style_pane.clear()
    window.add_styles([str(images / "starry_night.jpg")])
    finished = []
    window.run_finished.connect(finished.append)
    window.start()
    wait_for(app, lambda: finished, "the Stylize run")
    window.preview.split_slider.setValue(35)


def batch(app, window, images: Path, out: Path) -> None:
    from engine.settings import TransferSettings

    window.apply_settings(TransferSettings(size=192, start_size=96, iterations=20, device="cpu", seed=1),
                          with_images=False)
    panel = window.panels[0]
    window.tabs.setCurrentWidget(panel)
    panel.output_edit.setText(str(out))
    planned, finished = [], []
    panel.planned.connect(lambda: planned.append(True))
    panel.run_finished.connect(finished.append)
    panel.add_paths([str(images / "tubingen.jpg"), str(images / "hoovertowernight.jpg")])
    wait_for(app, lambda: planned, "the batch plan")
    panel.start()
    wait_for(app, lambda: finished, "the batch")
    panel.queue_view.selectRow(0)
    view = panel.preview.view
    wait_for(app, lambda: view.before_image is not None and view.after_image is not None, "the comparison")
    panel.preview.split_slider.setValue(40)


def main(argv=None) -> int:
    args = parse_args(argv)
    images, out = Path(args.images), Path(args.out)
    missing = [name for name in ("tubingen.jpg", "hoovertowernight.jpg", "starry_night.jpg")
               if not (images / name).is_file()]
    if missing:
        print(f"screenshots: {', '.join(missing)} not found in {images}", file=sys.stderr)
        return 2
    width, _, height = args.size.partition("x")
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="impasto-screenshots-"))
    os.environ["IMPASTO_CONFIG_DIR"] = str(scratch / "config")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        # a screen a little larger than the window: the window fits itself to the screen it is on
        screen = scratch / "screen.json"
        screen.write_text(json.dumps({"screens": [
            {"name": "shots", "x": 0, "y": 0, "width": int(width) + 40, "height": int(height) + 40}
        ]}))
        os.environ.setdefault("QT_QPA_PLATFORM", f"offscreen:configfile={screen}")
    sys.path.insert(0, str(ROOT))
    from gui.app import make_application

    app = make_application([sys.argv[0]])
    app.setStyle("Fusion")  # the same look on every machine the screenshots are made on
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(int(width), int(height))
    window.show()
    set_scheme(app, dark=False)
    stylize(app, window, images)
    window.tabs.setCurrentWidget(window.stylize_tab)
    grab(app, window, out / "screenshot.png")
    set_scheme(app, dark=True)
    grab(app, window, out / "screenshot-dark.png")
    set_scheme(app, dark=False)
    batch(app, window, images, scratch / "batch-out")
    grab(app, window, out / "batch.png")
    set_scheme(app, dark=True)
    grab(app, window, out / "batch-dark.png")
    window.unsaved = False  # a throwaway result: closing must not stop to ask about it
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
