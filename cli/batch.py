"""``main.py batch INPUT [INPUT ...] --style STYLE [--style STYLE ...] -o OUT_DIR``: many images.

Goes on past unreadable inputs (exit 2 at the end), resumes from the manifest in OUT_DIR when run
again, and stops within one iteration on Ctrl-C (exit 130) without writing the current image.
"""

from __future__ import annotations

import sys

from engine.timing import format_duration, time_left

from cli.common import (
    EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, ProgressPrinter, UsageError, add_settings_options, given_options,
    interrupt_flag, say, settings_from_args,
)


# The same as engine.batch's (a test checks); repeated so that --help does not import torch.
DEFAULT_TEMPLATE = "{stem}_{style}.{ext}"
REFINE_TEMPLATE = "{stem}.{ext}"
EXTENSIONS = ("png", "jpg", "tif", "webp", "same")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "batch", help="stylize many images or whole folders",
        description="Stylize images and folders of images. Running the same command again resumes: "
        "images already done with the same settings are skipped.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="images and/or folders of images")
    parser.add_argument("--style", action="append", dest="styles", metavar="STYLE",
                        help="style image; repeat for a blend of several (required, except with --refine-to)")
    parser.add_argument("--refine-to", type=int, metavar="PX",
                        help="refine earlier Impasto results (INPUT) to this long side, each from its own recipe; "
                        "the options given override every recipe (default template {stem}.{ext})")
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR",
                        help="output folder (created if needed; holds the manifest impasto-batch.json)")
    parser.add_argument("--template", metavar="NAME",
                        help="output file name with fields {stem} {style} {ext} {index} {date}; may name "
                        "subfolders of OUT_DIR (default %s; %s with --refine-to)" % (DEFAULT_TEMPLATE, REFINE_TEMPLATE))
    parser.add_argument("--format", dest="extension", choices=EXTENSIONS, default="png",
                        help="{ext}: png, jpg, tif, webp, or 'same' as the input where Impasto can write it "
                        "(else png) (default png)")
    parser.add_argument("-r", "--recursive", action="store_true",
                        help="include subfolders; their structure is mirrored under OUT_DIR")
    parser.add_argument("--dry-run", action="store_true", help="list each input, its output and state, then exit")
    add_settings_options(parser)
    parser.set_defaults(command=run)


def run(args) -> int:
    from engine import batch

    options = batch.BatchOptions(
        output_dir=args.output, template=args.template or (REFINE_TEMPLATE if args.refine_to else DEFAULT_TEMPLATE),
        extension=args.extension, recursive=args.recursive, quality=args.quality,
    )
    planner, runner = _refine(args) if args.refine_to else _stylize(args)
    if args.dry_run:
        return _dry_run(planner(args.inputs, options))
    report = _BatchReport()
    with interrupt_flag() as stop:
        try:
            summary = runner(
                args.inputs, options, on_plan=report.plan, on_item=report.item,
                on_progress=report.progress, should_stop=stop.is_set,
            )
        except batch.BatchStopped as exc:
            report.close()
            report.summary(exc.summary)
            say(f"impasto: {exc}")
            return EXIT_BAD_INPUT
        finally:
            report.close()
    report.summary(summary)
    if summary.interrupted:
        say("Interrupted: the current image was not written; run the same command again to resume.")
        return EXIT_INTERRUPTED
    return EXIT_BAD_INPUT if summary.failed else EXIT_OK


def _stylize(args):
    """(plan, run) of a batch that stylizes every input with the given styles."""
    from engine import batch

    if not args.styles:
        raise UsageError("batch: the following arguments are required: --style (or --refine-to PX) (see --help)")
    settings = settings_from_args(args, styles=args.styles)
    return (lambda inputs, options: batch.plan_batch(inputs, settings, options),
            lambda inputs, options, **hooks: batch.run_batch(inputs, settings, options, **hooks))


def _refine(args):
    """(plan, run) of a batch that refines earlier results to --refine-to, each from its recipe."""
    from engine import batch

    for given, option in ((args.styles, "--style"), (args.size, "--size"), (args.start_size, "--start-size"),
                          (args.preset, "--preset"), (args.settings, "--settings")):
        if given:
            raise UsageError(
                f"batch: {option} does not go with --refine-to: each result's recipe gives it (see --help)")
    overrides = given_options(args)
    size = args.refine_to
    return (lambda inputs, options: batch.plan_refine(inputs, size, overrides, options),
            lambda inputs, options, **hooks: batch.run_refine(inputs, size, overrides, options, **hooks))


def _dry_run(plan) -> int:
    for item in plan.items:
        detail = f" ({item.reason})" if item.reason else ""
        _out(f"{item.state:8} {item.source} -> {item.output or '-'}{detail}")
    _out(f"{len(plan.pending)} to do, {plan.count('skipped')} already done, {plan.count('failed')} failing")
    return EXIT_OK


def _out(line: str) -> None:
    if sys.stdout is not None:
        print(line, flush=True)


class _BatchReport:
    """Per-item lines and a progress bar for the item being worked on (stderr); summary on stdout."""

    def __init__(self):
        self.positions: dict[int, int] = {}
        self.count = 0
        self.printer: ProgressPrinter | None = None
        self.told: set[str] = set()  # notes are printed once per batch, not once per image

    def plan(self, plan) -> None:
        pending = plan.pending
        self.positions = {item.index: position for position, item in enumerate(pending, 1)}
        self.count = len(pending)
        say(
            f"Batch of {len(plan.items)} image(s) into {plan.output_dir}: {len(pending)} to do, "
            f"{plan.count('skipped')} already done, {plan.count('failed')} unreadable"
        )
        for item in plan.items:
            if item.state == "failed":
                say(f"failed  {item.source}: {item.reason}")

    def item(self, item) -> None:
        tag = f"[{self.positions.get(item.index, '?')}/{self.count}]"
        if item.state == "running":
            self.close()
            self.printer = ProgressPrinter(label=f"{tag} {item.name} ", told=self.told)
        elif item.state == "done":
            self.close()
            say(f"{tag} done    {item.source} -> {item.output} ({item.seconds:.1f} s)")
        elif item.state == "failed":
            self.close()
            say(f"{tag} failed  {item.source}: {item.reason}")

    def progress(self, progress) -> None:
        if self.printer is None:
            return
        left = time_left(progress.eta)
        tag = f"[{progress.position}/{progress.count}]"
        self.printer.label = f"{tag} {progress.name} (batch {progress.fraction:.0%}, {left}) "
        self.printer(progress.step)

    def close(self) -> None:
        if self.printer is not None:
            self.printer.close()
            self.printer = None

    def summary(self, summary) -> None:
        _out(f"Batch: {summary.line()} in {format_duration(summary.seconds)} -> {summary.output_dir}")
