"""``main.py stylize CONTENT STYLE [STYLE ...] -o OUT``: one image, with a progress bar.

``stylize --continue RESULT [-o OUT] [--size PX] [options]`` continues a saved result from the
recipe inside it (engine.continuation); ``--save-every N`` writes snapshots beside the output.
"""

from __future__ import annotations

from pathlib import Path

from cli.common import (
    EXIT_INTERRUPTED, EXIT_OK, ProgressPrinter, UsageError, add_settings_options, run_interruptible, say,
    settings_from_args,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("stylize", help="stylize one image", description="Stylize one image.")
    parser.add_argument("content", nargs="?", help="the photo")
    parser.add_argument("styles", nargs="*", metavar="style", help="one or more paintings")
    parser.add_argument("-o", "--output", help="output file (.png .jpg .tif .webp)")
    parser.add_argument("--continue", dest="continue_from", metavar="RESULT",
                        help="continue an image Impasto saved, from the recipe inside it (no CONTENT or STYLE); "
                             "with a larger --size, refine it to that size")
    parser.add_argument("--save-every", type=int, default=0, metavar="N",
                        help="also write a snapshot every N iterations and at the end of each scale, "
                             "as <stem>_<iteration>.<ext> beside the output")
    parser.add_argument("--masks", nargs="+", metavar="MASK",
                        help="where each style applies: one greyscale image per style, in the same order "
                             "(white = the style applies, black = not; resized to the content)")
    parser.add_argument("--unmasked", choices=("photo", "blend"),
                        help="what no mask covers: keep the photo (default) or take every style blended")
    add_settings_options(parser)
    parser.set_defaults(command=run)


def run(args) -> int:
    job = (_continue_job(args) if args.continue_from else _new_job(args)).check()  # before any work
    content = job.load()
    write_snapshot = SnapshotWriter(job, content)

    def work(on_step, should_stop):
        return job.run(content, lambda progress: (on_step(progress), write_snapshot(progress)), should_stop)

    outcome = run_interruptible(work, ProgressPrinter())
    if outcome.stopped:
        say(f"Interrupted: {write_snapshot.count} snapshots were kept; the output was not written."
            if write_snapshot.count else "Interrupted: nothing was written.")
        return EXIT_INTERRUPTED
    output = job.save(outcome)
    say(f"Wrote {output} ({outcome.image.width}x{outcome.image.height}, {outcome.result.seconds:.1f} s)"
        + (f" and {write_snapshot.count} snapshots" if write_snapshot.count else ""))
    return EXIT_OK


def _new_job(args):
    from engine.jobs import Job

    if not args.content or not args.styles or not args.output:
        raise UsageError("stylize: CONTENT, at least one STYLE and -o OUTPUT are required "
                         "(or --continue RESULT) (see --help)")
    settings = _with_masks(settings_from_args(args, args.content, args.styles), args)
    return Job(settings.replace(snapshot_every=args.save_every), args.output, args.quality)


def _with_masks(settings, args):
    """``--masks`` and ``--unmasked`` on top of ``settings`` (a continued recipe keeps its own)."""
    if args.masks:
        settings = settings.replace(style_masks=list(args.masks))
    if args.unmasked:
        settings = settings.replace(mask_uncovered=args.unmasked)
    return settings


def _continue_job(args):
    """The job that continues RESULT: its recipe's inputs and settings, the options given on top,
    starting from its pixels; written to -o or to a new name beside it."""
    from engine import continuation
    from engine.jobs import Job

    if args.content or args.styles:
        raise UsageError("stylize: --continue takes the content and styles from the recipe in RESULT; "
                         "give no CONTENT or STYLE (see --help)")
    parent = continuation.read_parent(args.continue_from)
    settings = _with_masks(settings_from_args(args, base=parent.settings), args)
    settings = continuation.continued(parent, settings.replace(snapshot_every=args.save_every), args.size)
    continuation.check_inputs(parent, settings)
    output = args.output or continuation.default_output(parent.path, settings.size)
    return Job(settings, output, args.quality, lineage=parent.lineage())


class SnapshotWriter:
    """Writes each snapshot of the run as ``<stem>_<iteration><ext>`` beside the output, atomically
    and with the run's recipe; the run's last one is the output itself, written as always."""

    def __init__(self, job, content):
        self.job = job
        self.content = content
        self.count = 0

    def __call__(self, progress) -> None:
        from engine import jobs

        snapshot = progress.snapshot
        if snapshot is None or (snapshot.end_of_scale and progress.scale == progress.scales - 1):
            return
        output = Path(self.job.output)
        path = output.with_name(f"{output.stem}_{snapshot.iteration}{output.suffix}")
        jobs.save(jobs.snapshot_result(snapshot, self.content, self.job.settings, self.job.lineage), path,
                  self.job.quality)
        self.count += 1
