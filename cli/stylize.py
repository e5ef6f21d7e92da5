"""``main.py stylize CONTENT STYLE [STYLE ...] -o OUT``: one image, with a progress bar."""

from __future__ import annotations

from cli.common import (
    EXIT_INTERRUPTED, EXIT_OK, ProgressPrinter, add_settings_options, run_interruptible, say, settings_from_args,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("stylize", help="stylize one image", description="Stylize one image.")
    parser.add_argument("content", help="the photo")
    parser.add_argument("styles", nargs="+", metavar="style", help="one or more paintings")
    parser.add_argument("-o", "--output", required=True, help="output file (.png .jpg .tif .webp)")
    parser.add_argument("--masks", nargs="+", metavar="MASK",
                        help="where each style applies: one greyscale image per style, in the same order "
                             "(white = the style applies, black = not; resized to the content)")
    parser.add_argument("--unmasked", choices=("photo", "blend"),
                        help="what no mask covers: keep the photo (default) or take every style blended")
    add_settings_options(parser)
    parser.set_defaults(command=run)


def run(args) -> int:
    from engine.jobs import Job

    settings = settings_from_args(args, args.content, args.styles)
    if args.masks:
        settings = settings.replace(style_masks=list(args.masks))
    if args.unmasked:
        settings = settings.replace(mask_uncovered=args.unmasked)
    job = Job(settings, args.output, args.quality).check()  # before any work: nothing to lose yet
    content = job.load()
    outcome = run_interruptible(lambda on_step, should_stop: job.run(content, on_step, should_stop), ProgressPrinter())
    if outcome.stopped:
        say("Interrupted: nothing was written.")
        return EXIT_INTERRUPTED
    output = job.save(outcome)
    say(f"Wrote {output} ({outcome.image.width}x{outcome.image.height}, {outcome.result.seconds:.1f} s)")
    return EXIT_OK
