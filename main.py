"""Impasto: no arguments opens the window; ``stylize``, ``batch``, ``explore`` and ``--selftest``
run headless. See ``python main.py --help``."""

from __future__ import annotations

import multiprocessing
import sys


def build_parser():
    from cli import batch, explore, stylize
    from cli.common import Parser

    parser = Parser(prog="impasto", description="Neural style transfer (Gatys et al.), offline.")
    parser.add_argument("--selftest", action="store_true", help="run a tiny transfer and exit 0 if all works")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(metavar="command", parser_class=Parser)
    for command in (stylize, batch, explore):
        command.add_parser(subparsers)
    return parser


def cli(argv: list[str]) -> int:
    from cli.common import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, UsageError, say

    try:
        args = build_parser().parse_args(argv)
        if args.version:
            from engine import __version__

            print(f"Impasto {__version__}")
            return 0
        if args.selftest:
            from cli import selftest

            return selftest.run()
        return args.command(args)
    except UsageError as exc:
        say(str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        say("Interrupted.")
        return EXIT_INTERRUPTED
    except Exception as exc:
        from engine.errors import ImpastoError

        if isinstance(exc, ImpastoError):
            say(f"impasto: {exc}")
            return EXIT_BAD_INPUT
        import traceback

        if sys.stderr is not None:
            traceback.print_exc()
        say(f"impasto: internal error: {type(exc).__name__}: {exc}".splitlines()[0])
        return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        return cli(argv)
    from gui.app import run_gui

    return run_gui()


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
