"""The ``saliency`` and ``animate`` subcommands (their options and runners).

Kept apart from :mod:`dreamstream.stream.cli` so that the render commands'
generated options stay in one place; ``cli.build_parser`` adds these.
"""

from __future__ import annotations

import argparse
import json

from dreamstream.core.errors import InputError

SALIENCY_EXAMPLES = """examples:
  dreamstream saliency dog.jpg -o out/dog-heat.jpg \
      --weights inception_v3_weights_tf_dim_ordering_tf_kernels.h5
  dreamstream saliency clip.mp4 -o out/where.mp4 --model googlenet \
      --weights inception5h/tensorflow_inception_graph.pb
  dreamstream saliency dog.jpg -o out/cat.jpg --class "tabby cat" --weights ... \
      --labels imagenet_class_index.json
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
        default="inception_v3",
        choices=tuple(CLASSIFIER_INPUT),
        help="classifier (default: inception_v3, whose weights with the top are a download)",
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
