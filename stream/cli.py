"""The ``dreamstream`` command line.

Exit status: 0 done, 2 bad input or usage (one line on stderr, no traceback
unless ``--debug``), 130 interrupted (the output holds every frame done).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from dreamstream.core.errors import InputError

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def _quiet_frameworks() -> None:
    """Keep TensorFlow's C++ start-up chatter off the user's terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


def _cmd_info(args: argparse.Namespace) -> int:
    from dreamstream.stream import info

    report = info.report()
    print(json.dumps(report, indent=2) if args.json else info.format_report(report))
    return 0


def _not_yet(name: str):
    def run(args: argparse.Namespace) -> int:
        raise InputError(f"'dreamstream {name}' is not available in this version yet")

    return run


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="dreamstream",
        description="Streaming video and webcam dreamer: DeepDream and fast neural style "
        "with optical-flow temporal coherence.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in (
        ("dream", "DeepDream a video, a frame folder, an image or a camera"),
        ("style", "fast neural style on a video, a frame folder, an image or a camera"),
        ("live", "run a camera through dream or style in real time"),
        ("bench", "measure speed, memory and temporal coherence"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.set_defaults(run=_not_yet(name))
    info = sub.add_parser(
        "info",
        help="versions, devices and embedded weights",
        description="Show versions, compute devices and where the weights are.",
    )
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(run=_cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    _quiet_frameworks()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except InputError as error:
        if args.debug:
            raise
        print(f"dreamstream: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("dreamstream: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
