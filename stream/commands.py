"""The ``saliency`` and ``animate`` subcommands (their options and runners).

Kept apart from :mod:`dreamstream.stream.cli` so that the render commands'
generated options stay in one place; ``cli.build_parser`` adds these.
"""

from __future__ import annotations

import argparse
import json

from dreamstream.core.errors import InputError

EXIT_INTERRUPTED = 130  # the CLI's status for a render that was stopped (cli.EXIT_INTERRUPTED)

SALIENCY_EXAMPLES = """examples:
  dreamstream saliency samples/chelsea.jpg -o out/cat-heat.jpg
  dreamstream saliency dog.jpg -o out/dog-heat.jpg --model inception_v3 \
      --weights inception_v3_weights_tf_dim_ordering_tf_kernels.h5
  dreamstream saliency clip.mp4 -o out/where.mp4 --model googlenet \
      --weights inception5h/tensorflow_inception_graph.pb
  dreamstream saliency samples/chelsea.jpg -o out/tabby.jpg --class tabby
"""


def add_saliency_command(sub, add_command) -> None:
    """``dreamstream saliency INPUT -o OUT``: heat maps of where a classifier looks."""
    from dreamstream.stream.saliency import CLASSIFIER_INPUT

    text = "saliency maps: where an ImageNet classifier looks, as a heat map over the input"
    cmd = add_command(sub, "saliency", text, SALIENCY_EXAMPLES)
    cmd.add_argument("input", metavar="INPUT", help="image, frame folder or video")
    cmd.add_argument(
        "-o", "--output", metavar="OUTPUT", required=True, help="image, folder or video"
    )
    cmd.add_argument(
        "--model",
        default="efficientnet_lite0",
        choices=tuple(CLASSIFIER_INPUT),
        help="classifier (default: efficientnet_lite0, embedded; the others' weights are "
        "downloads)",
    )
    cmd.add_argument("--weights", metavar="PATH", help="the classifier's weights file")
    cmd.add_argument(
        "--labels", metavar="PATH", help="class names: text (one a line) or Keras JSON index"
    )
    cmd.add_argument(
        "--class",
        dest="cls",
        metavar="CLASS",
        help="ImageNet class name or index (default: the predicted class)",
    )
    cmd.add_argument("--alpha", type=float, default=0.6, help="heat map's share 0-1 (default 0.6)")
    cmd.add_argument("--width", type=int, metavar="WIDTH", help="resize to this width first")
    cmd.add_argument("--frames", type=int, metavar="N", help="at most N frames")
    cmd.add_argument("--overwrite", action="store_true", help="replace an existing output")
    cmd.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    cmd.add_argument("--debug", dest="sub_debug", action="store_true", help="show tracebacks")
    cmd.set_defaults(run=run_saliency)


def run_saliency(args: argparse.Namespace) -> int:
    from dreamstream.stream.machine import load_framework
    from dreamstream.stream.saliency import ClassifierSpec, render_saliency

    if args.cls is not None and not str(args.cls).strip():
        raise InputError("--class is empty")
    load_framework()
    summary = render_saliency(
        args.input,
        args.output,
        ClassifierSpec(args.model, args.weights, args.labels, args.cls),
        alpha=args.alpha,
        width=args.width,
        frames=args.frames,
        overwrite=args.overwrite,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        c = summary["class"] or {}
        name = f" ({c['name']})" if c.get("name") else ""
        print(f"wrote {args.output} ({summary['frames']} frames; class {c.get('index')}{name})")
    return 0


ANIMATE_EXAMPLES = """examples:
  dreamstream animate picture.jpg -o zoom.mp4 --frames 600 --zoom 1.02 --rotate 0.2 --pan 0,1
  dreamstream animate samples/coffee.jpg -o out/zoom/ --frames 600 --width 512 \\
      --zoom "0:1.0, 50:1.02, smooth" --step-size "0:2, 300:3" --resume
  dreamstream animate clip.mp4 -o tail.mp4 --frames 250 --zoom 1.01 --audio music.m4a
      (from the video's last frame: a tail)
"""


def add_animate_command(sub, helpers: dict) -> None:
    """``dreamstream animate PICTURE -o OUT``: the endless zoom into a dream.

    Args:
        sub: the subparsers.
        helpers: the CLI's ``add_command``, ``add_run_options`` and
            ``add_settings_groups`` (shared with the render commands).
    """
    text = (
        "dream animation from a still (or a video's last frame): each frame is the last "
        "one moved (zoom, rotate, pan) and dreamt a few steps more"
    )
    cmd = helpers["add_command"](sub, "animate", text, ANIMATE_EXAMPLES)
    cmd.add_argument(
        "input", nargs="?", metavar="PICTURE", help="image, or a video (its last frame)"
    )
    cmd.add_argument("-o", "--output", metavar="OUTPUT", help="video file or frame folder")
    run = helpers["add_run_options"](cmd, render=True)
    run.add_argument("--fps", type=float, default=25.0, help="output frame rate (default: 25)")
    run.add_argument("--audio", metavar="FILE", help="a file whose audio track the video gets")
    run.add_argument(
        "--pan", metavar="X,Y", help="pan per frame in pixels, both at once (--pan-x, --pan-y)"
    )
    helpers["add_settings_groups"](cmd, ("dream", "animate", "farm"))
    cmd.set_defaults(run=helpers["run_animate"])


def pan_flags(args: argparse.Namespace) -> None:
    """``--pan X,Y`` as ``--pan-x X --pan-y Y`` (before the settings are made)."""
    if getattr(args, "pan", None) is None:
        return
    from dreamstream.core.animate import parse_pan

    args.pan_x, args.pan_y = parse_pan(args.pan)


def run_animate(args: argparse.Namespace, settings, software: str, render) -> int:
    """Render an animation from parsed arguments and their settings.

    ``render`` is :func:`dreamstream.stream.jobs.render_animation_file`: in one
    process, or in segments (``--workers``, ``--ray``), which the front decides.
    """
    if not args.input:
        raise InputError("a PICTURE is required")
    if not args.output:
        raise InputError("an output is required: -o OUTPUT")
    if not args.fps > 0:
        raise InputError(f"--fps must be > 0, got {args.fps}")
    summary = render(
        args.input,
        args.output,
        settings,
        fps=args.fps,
        audio=args.audio,
        overwrite=args.overwrite,
        resume=args.resume,
        software=software,
        progress=not args.quiet and not args.json,
    )
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    elif not args.quiet:  # a message: a segmented animation that stopped
        wrote = f"wrote {summary['output']} ({summary['frames']} frames, {summary['fps']} fps)"
        print(summary.get("message") or wrote)
    return EXIT_INTERRUPTED if summary.get("interrupted") else 0
