"""The ``dreamstream`` command line.

Exit status: 0 done (a truncated input gives a warning), 2 bad input or usage
(one line on stderr, no traceback unless ``--debug``), 130 interrupted (the
output holds every frame done and is playable).

Options of ``dream`` and ``style`` are generated from the fields of
:class:`~dreamstream.stream.settings.Settings`, so the CLI, the Python API and
the presets share one set of names and defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
import threading

from dreamstream.core.errors import InputError
from dreamstream.stream import settings as settings_mod

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130

DREAM_EXAMPLES = """examples:
  dreamstream dream samples/clip.mp4 -o out/dream.mp4
  dreamstream dream holiday.mov -o out/deep.mp4 --preset deep --width 960
  dreamstream dream frames/ -o out/frames/ --layers block4_conv3:1,block5_conv1[12]:0.5 --resume
  dreamstream dream film.mp4 -o out/film.mp4 --workers 4   (segments on Ray: 4 GPUs or cores)
"""
STYLE_EXAMPLES = """examples:
  dreamstream style samples/clip.mp4 -o out/style.mp4 --style 7
  dreamstream style clip.mp4 -o out/blend.mp4 --style 3:0.5,12:0.5 --preserve-color
  dreamstream style samples/coffee.jpg --sheet -o out/sheet.jpg
  dreamstream style clip.mp4 -o out/paint.mp4 --method optimize --style-image painting.jpg
  dreamstream style photo.jpg -o out/paint.jpg --preset painting --style-image painting.jpg \
      --weights imagenet-vgg-verydeep-19.mat
"""
LIVE_EXAMPLES = """examples:
  dreamstream live --mode style --style 7 --width 640
  dreamstream live camera:1 --preset subtle --serve 127.0.0.1:8080 -o out/installation.mp4
  dreamstream live loop.mp4 --loop --mode style --cycle 2m --cycle-list 7,3,12 --fullscreen
"""


def _quiet_frameworks() -> None:
    """Keep TensorFlow's C++ start-up chatter off the user's terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


class _StderrWarnings(logging.Handler):
    """Library warnings (a truncated input, a skipped frame file) as one prefixed line each."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"dreamstream: warning: {record.getMessage()}", file=sys.stderr)


def _add_setting(group, f: dataclasses.Field) -> None:
    """One option for a Settings field; unset options keep the lower layers' values."""
    meta, default = f.metadata, f.default
    kwargs = {"dest": f.name, "default": argparse.SUPPRESS}
    if f.type == "bool":
        flag = settings_mod.flag(("no_" if default else "") + f.name)
        action = "store_false" if default else "store_true"
        group.add_argument(flag, action=action, help=meta["help"], **kwargs)
        return
    text = meta["help"]
    if "choices" in meta:
        kwargs["choices"] = meta["choices"]
        text += f" ({' | '.join(meta['choices'])}; default: {default})"
    elif default is not None:
        text += f" (default: {default})"
    kind = {"int": int, "float": float}.get(f.type.split(" ")[0], str)
    if f.name in settings_mod.SCHEDULABLE:
        kind = str  # a number or keyframes; Settings parses and checks both
        text += "; or keyframes: 0:1, 120:3"
    metavar = meta.get("metavar", f.name.split("_")[-1].upper())
    group.add_argument(settings_mod.flag(f.name), type=kind, metavar=metavar, help=text, **kwargs)


_TITLES = {
    "common": "common settings",
    "dream": "dream settings",
    "style": "style settings",
    "effects": "masks, a dream that reacts to motion, attract mode",
    "farm": "segment rendering on Ray (pip install 'dreamstream[ray]')",
    "optimize": "style by optimisation (--method optimize)",
    "animate": "motion per frame (any of them keyframed)",
}


def _add_run_options(cmd, *, render: bool):
    """Options about the run itself (not settings); ``render`` adds those of file renders."""
    run = cmd.add_argument_group("run")
    run.add_argument(
        "--debug", dest="sub_debug", action="store_true", help="show tracebacks on errors"
    )
    run.add_argument("--preset", metavar="NAME", help="a shipped preset (see --list-presets)")
    run.add_argument("--config", metavar="FILE.toml", help="settings file; overrides the preset")
    run.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output")
    if render:
        run.add_argument(
            "--resume",
            action="store_true",
            help="image-sequence output: keep frames on disk, continue after them; "
            "with --workers/--ray: reuse the segments an earlier run finished",
        )
    run.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    run.add_argument("--quiet", action="store_true", help="no progress line")
    run.add_argument(
        "--device",
        choices=("auto", "cpu", "gpu"),
        default="auto",
        help="compute device (default: auto, the GPU when there is one)",
    )
    run.add_argument(
        "--backend",
        choices=("tensorflow", "jax", "torch"),
        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)",
    )
    return run


def _add_settings_groups(cmd, groups: tuple[str, ...]) -> None:
    for group_name in ("common", *groups):
        group = cmd.add_argument_group(_TITLES[group_name])
        for f in dataclasses.fields(settings_mod.Settings):
            if f.metadata["group"] == group_name:
                _add_setting(group, f)


def _add_command(sub, name: str, text: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand whose help ends with ``examples``, kept as written."""
    return sub.add_parser(
        name,
        help=text,
        description=text,
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_render_command(sub, name: str, text: str, examples: str, groups: tuple[str, ...]):
    cmd = _add_command(sub, name, text, examples)
    cmd.add_argument(
        "input",
        nargs="?",
        metavar="INPUT",
        help="video file, image, frame folder or pattern (frames/%%05d.png), "
        "camera:N, or an rtsp:// or http:// URL",
    )
    cmd.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT",
        help="video file (.mp4 .mkv .mov .webm), image, frame folder or pattern, "
        "'window' or 'null'",
    )
    run = _add_run_options(cmd, render=True)
    if name == "style":
        run.add_argument(
            "--sheet",
            action="store_true",
            help="write a contact sheet of all 26 styles on the INPUT picture",
        )
    _add_settings_groups(cmd, groups)
    cmd.set_defaults(run=_cmd_render, mode=name)
    return cmd


def _add_live_command(sub, *, live_options: bool = True) -> None:
    text = "run a camera through dream or style in real time"
    cmd = _add_command(sub, "live", text, LIVE_EXAMPLES)
    cmd.set_defaults(run=_cmd_live)
    if not live_options:  # live's options come from its modules, which import OpenCV and more
        return
    from dreamstream.stream.live import command as live

    cmd.add_argument(
        "source",
        nargs="?",
        default="camera:0",
        metavar="SOURCE",
        help="camera:N, /dev/videoN, a URL, or a video file played as a camera (default: camera:0)",
    )
    cmd.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT",
        help="also record to this video file, or stream to udp://, tcp://, srt:// (MPEG-TS) or "
        "rtmp:// (FLV), or send to a virtual camera: vcam or vcam:/dev/videoN",
    )
    _add_run_options(cmd, render=False)
    live.add_arguments(cmd)
    _add_settings_groups(cmd, ("dream", "style", "effects"))


def _settings_from(args: argparse.Namespace) -> settings_mod.Settings:
    flags = settings_mod.flags_of(args)
    return settings_mod.resolve(preset=args.preset, config=args.config, **flags)


def _select_device(args: argparse.Namespace) -> None:
    """Apply --backend and --device before any framework is imported."""
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    elif args.device == "gpu":
        from dreamstream.stream.machine import devices

        if not any(
            "GPU" in d.upper() or "CUDA" in d.upper() for names in devices().values() for d in names
        ):
            raise InputError("--device gpu: no GPU is visible to TensorFlow or JAX")


def _cmd_render(args: argparse.Namespace) -> int:
    if args.list_presets:
        return _print_presets()
    if not args.input:
        raise InputError("an INPUT is required")
    if not args.output:
        raise InputError("an output is required: -o OUTPUT")
    settings = _settings_from(args)
    _select_device(args)
    if getattr(args, "sheet", False):
        return _write_sheet(args.input, args.output, args.overwrite)
    from dreamstream.stream.jobs import render_file

    summary = render_file(
        args.mode,
        args.input,
        args.output,
        settings,
        overwrite=args.overwrite,
        resume=args.resume,
        progress=not (args.quiet or args.json),
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    elif not args.quiet:
        wrote = (
            f"wrote {summary['output']} ({summary['frames']} frames, {summary['fps'] or 0:.2f} fps)"
        )
        print(summary.get("message") or wrote)  # a message: a segmented render that stopped
    return EXIT_INTERRUPTED if summary["interrupted"] else 0


def _cmd_animate(args: argparse.Namespace) -> int:
    from dreamstream.stream import commands
    from dreamstream.stream.jobs import software

    if args.list_presets:
        return _print_presets()
    commands.pan_flags(args)
    settings = _settings_from(args)
    _select_device(args)
    from dreamstream.stream.machine import load_framework

    load_framework()
    from dreamstream.stream.jobs import render_animation_file

    return commands.run_animate(args, settings, software(), render_animation_file)


def _cmd_live(args: argparse.Namespace) -> int:
    if args.list_presets:
        return _print_presets()
    settings = _settings_from(args)
    _select_device(args)
    from dreamstream.stream.live import command as live

    return live.main(args, settings)


def _print_presets() -> int:
    for name, about in settings_mod.list_presets().items():
        print(f"{name:<10} {about}")
    return 0


def _write_sheet(input_spec: str, output: str, overwrite: bool) -> int:
    from pathlib import Path

    from dreamstream.stream.io import Frame, check_output, input_kind, open_sink, read_image

    if input_kind(input_spec) != "image" or not Path(input_spec).is_file():
        raise InputError(f"--sheet needs a picture as INPUT, got {input_spec}")
    picture = read_image(input_spec)  # refused here, before the network loads
    check_output(output, input_spec, overwrite, count=1)
    from dreamstream.core.style import contact_sheet
    from dreamstream.stream.weights.style import multistyle_net

    sheet = contact_sheet(picture, multistyle_net())
    with open_sink(output, overwrite=overwrite) as sink:
        sink.write(Frame(sheet, 0))
    print(f"wrote {output}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from dreamstream.stream import info

    report = info.report()
    print(json.dumps(report, indent=2) if args.json else info.format_report(report))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from dreamstream.stream.bench import main as bench_main

    return bench_main(args)


def _add_bench_command(sub) -> None:
    from dreamstream.stream.bench import SUBJECTS  # standard library only: --help stays fast

    cmd = sub.add_parser(
        "bench",
        help="measure speed, memory and temporal coherence",
        description="Run the benchmarks (ratios measured side by side).",
    )
    cmd.add_argument(
        "--warp-error",
        nargs=2,
        metavar=("INPUT", "OUTPUT"),
        help="warping error of OUTPUT against the flow of INPUT, and its floor",
    )
    cmd.add_argument("--all", action="store_true", help="run every benchmark")
    cmd.add_argument(
        "--only",
        metavar="NAMES",
        help="comma-separated: " + ",".join(SUBJECTS),
    )
    cmd.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    cmd.add_argument(
        "--out",
        metavar="DIR",
        default="bench-results",
        help="where results.json and the chart go (default: bench-results)",
    )
    cmd.set_defaults(run=_cmd_bench)


def _add_fetch_command(sub) -> None:
    cmd = sub.add_parser(
        "fetch",
        help="get an optional model into the cache (the only command that downloads)",
        description="Get an optional model into the cache: segmenter = MediaPipe's selfie "
        "segmenter for --mask (pip downloads the mediapipe wheel, nothing is installed; "
        "the model's sha256 is checked).",
    )
    cmd.add_argument("what", choices=("segmenter",), help="what to fetch")
    cmd.add_argument(
        "--wheel", metavar="PATH", help="take it from this downloaded mediapipe wheel instead"
    )
    cmd.set_defaults(run=_cmd_fetch)


def _cmd_fetch(args: argparse.Namespace) -> int:
    from dreamstream.stream.weights import segmenter

    for path in segmenter.fetch(args.wheel):
        print(f"dreamstream: {path}")
    return 0


def build_parser(*, live_options: bool = True) -> argparse.ArgumentParser:
    """The argument parser with every subcommand.

    Args:
        live_options: give ``live`` its options; without them the parser is
            quicker to build and serves every other command.
    """
    parser = argparse.ArgumentParser(
        prog="dreamstream",
        description="Streaming video and webcam dreamer: DeepDream and fast neural style "
        "with optical-flow temporal coherence.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.set_defaults(sub_debug=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_render_command(
        sub,
        "dream",
        "DeepDream a video, a frame folder, an image or a camera",
        DREAM_EXAMPLES,
        ("dream", "effects", "farm"),
    )
    _add_render_command(
        sub,
        "style",
        "neural style on a video, frames, an image or a camera",
        STYLE_EXAMPLES,
        ("style", "optimize", "effects", "farm"),
    )
    _add_live_command(sub, live_options=live_options)
    from dreamstream.stream import commands

    commands.add_saliency_command(sub, _add_command)
    helpers = {
        "add_command": _add_command,
        "add_run_options": _add_run_options,
        "add_settings_groups": _add_settings_groups,
        "run_animate": _cmd_animate,
    }
    commands.add_animate_command(sub, helpers)
    _add_bench_command(sub)
    _add_fetch_command(sub)
    info = sub.add_parser(
        "info",
        help="versions, devices and embedded weights",
        description="Show versions, compute devices and where the weights are.",
    )
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(run=_cmd_info)
    return parser


def options_markdown(command: str) -> str:
    """The options of a subcommand as a Markdown table (docs/options.md embeds it)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    rows = ["| option | what it does |", "|---|---|"]
    for action in sub.choices[command]._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        names = ", ".join(f"`{o}`" for o in action.option_strings)
        text = (action.help or "").replace("|", "\\|").replace("%%", "%")
        rows.append(f"| {names} | {text} |")
    return "\n".join(rows)


def _command_of(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    _quiet_frameworks()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(live_options=_command_of(argv) == "live")
    args = parser.parse_args(argv)
    args.debug = args.debug or args.sub_debug
    logger = logging.getLogger("dreamstream")
    if not any(isinstance(h, _StderrWarnings) for h in logger.handlers):
        logger.addHandler(_StderrWarnings(logging.WARNING))
    if args.command != "info":
        from dreamstream.stream import machine

        machine.QUIET = not args.debug
    try:
        with _TermAsInterrupt():
            return args.run(args)
    except InputError as error:
        if args.debug:
            raise
        print(f"dreamstream: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("dreamstream: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


class _TermAsInterrupt:
    """SIGTERM behaves like Ctrl-C while a command runs: exit 130, outputs finalised or removed.

    Without it a SIGTERM during start-up (reading the input, loading a model)
    would end the process with 143 and no clean-up. Renders install their own
    handlers while frames flow (see ``pipeline.StopOnSignal``).
    """

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
