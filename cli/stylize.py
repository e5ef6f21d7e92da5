"""``main.py stylize CONTENT STYLE [STYLE ...] -o OUT``: one image, with a progress bar."""

from __future__ import annotations

from cli.common import (
    EXIT_INTERRUPTED, EXIT_OK, ProgressPrinter, add_settings_options, interrupt_flag, say,
    settings_from_args,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("stylize", help="stylize one image", description="Stylize one image.")
    parser.add_argument("content", help="the photo")
    parser.add_argument("styles", nargs="+", metavar="style", help="one or more paintings")
    parser.add_argument("-o", "--output", required=True, help="output file (.png .jpg .tif .webp)")
    add_settings_options(parser)
    parser.set_defaults(command=run)


def run(args) -> int:
    from engine import images, transfer

    settings = settings_from_args(args, args.content, args.styles)
    settings.validate()
    output = images.check_output_path(args.output, settings.input_paths())
    images.check_writable(output)
    content, alpha = images.load_image_with_alpha(settings.content)
    exif, _ = images.read_metadata(settings.content)
    printer = ProgressPrinter()
    with interrupt_flag() as stop:
        try:
            result = transfer.run(settings, printer, stop.is_set, content=content)
        finally:
            printer.close()
    if result.stopped:
        say("Interrupted: nothing was written.")
        return EXIT_INTERRUPTED
    images.save_image(
        result.image, output, recipe=result.recipe(), quality=args.quality,
        inputs=result.settings.input_paths(), alpha=alpha, exif=exif,
    )
    say(f"Wrote {output} ({result.image.width}x{result.image.height}, {result.seconds:.1f} s)")
    return EXIT_OK
