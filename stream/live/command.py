"""Live mode: a camera (or a file played like one) dreamed or styled in real time.

Latency comes first: a :class:`~dreamstream.stream.io.camera.Grabber` keeps only
the newest camera frame, frames the model cannot keep up with are dropped
(and counted), and a :class:`Budget` lowers the per-frame work (dream steps,
then processing width) while the capture-to-display latency is over
``--max-latency-ms`` and raises it again when there is headroom. The previous
output is carried along the input's optical flow as in the file pipeline.

Output goes to a window, an HTTP preview (:mod:`.preview`) and/or a recording
written on its own thread. The loop never exits on a transient error: a lost
camera shows the last good frame with a notice while the grabber reconnects.
It stops on ``q``/Esc, SIGINT or SIGTERM, finalising the recording.

Images inside the loop are ``uint8`` ``HxWx3`` **RGB** (captures deliver RGB);
flow is current -> previous input, as in core.flow.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
from collections.abc import Callable
from fractions import Fraction

from dreamstream.core.errors import InputError
from dreamstream.core.params import NUM_STYLES
from dreamstream.stream import settings as settings_mod
from dreamstream.stream.io.camera import Grabber
from dreamstream.stream.io.display import display_problem
from dreamstream.stream.io.playback import capture_opener
from dreamstream.stream.io.specs import is_camera
from dreamstream.stream.live import remote
from dreamstream.stream.live.budget import Budget, make_levels
from dreamstream.stream.live.control import Control
from dreamstream.stream.live.looks import Looks
from dreamstream.stream.live.loop import LiveLoop
from dreamstream.stream.live.preview import PreviewServer, is_loopback, parse_address
from dreamstream.stream.live.recorder import Recorder

log = logging.getLogger("dreamstream.stream.live")

MODES = ("dream", "style")
DEFAULT_LATENCY_MS = {"dream": 1500.0, "style": 250.0}
# The frame rate a dream keeps by lowering its work (width, octaves, depth); style
# keeps to its latency budget alone.
DEFAULT_MIN_FPS = {"dream": 8.0, "style": None}
KEYS_HELP = (
    "keys: q/Esc quit, space pause, r reset the dream, o overlay, n/b next/previous "
    "look, 1-9 pick a look, c cycle on/off, f fullscreen"
)


def add_arguments(parser) -> None:
    """Add live mode's own options to ``parser`` (an ``argparse`` parser or group)."""
    add = parser.add_argument
    add("--mode", choices=MODES, default="dream", help="dream or style (default: dream)")
    add(
        "--loop",
        action="store_true",
        help="a video file SOURCE starts again at its end (default: stop at the end)",
    )
    add(
        "--max-latency-ms",
        type=float,
        metavar="MS",
        help="capture-to-display latency budget: fewer dream steps, then a smaller processing "
        "width while it is exceeded; 0 turns it off (default: 1500 dream, 250 style)",
    )
    add(
        "--min-fps",
        type=float,
        metavar="FPS",
        help="frame rate the budget keeps by lowering the work per frame (processing width, "
        "octaves, layer depth, steps) and raises the work while it has headroom; 0 turns it "
        "off (default: 8 dream, off for style)",
    )
    add("--fullscreen", action="store_true", help="open the window fullscreen")
    add("--no-window", action="store_true", help="no window (use --serve and/or -o)")
    add("--overlay", action="store_true", help="start with the fps/latency overlay shown (key o)")
    add(
        "--serve",
        metavar="HOST:PORT",
        help="serve an MJPEG preview and a page showing it, e.g. 127.0.0.1:8080 "
        "(default: off; non-loopback hosts need --serve-token)",
    )
    add(
        "--serve-token",
        metavar="TOKEN",
        help="secret every preview request must carry (?token= or Authorization: Bearer)",
    )
    add(
        "--cycle",
        metavar="PERIOD",
        help="move to the next look every PERIOD (60s, 2m, 90) with a crossfade (default: off)",
    )
    add(
        "--cycle-list",
        metavar="LIST",
        help="looks to move through, comma-separated: presets in dream mode (classic,deep), "
        "styles in style mode (3,7,3:0.5+12:0.5); default: every preset / style",
    )
    remote.add_arguments(parser)  # --osc, --midi, --midi-map (the control page: --serve)


def parse_period(text: str) -> float:
    """``"60s"``, ``"2m"``, ``"1h"`` or ``"90"`` as seconds (> 0)."""
    value = str(text).strip().lower()
    unit = {"s": 1, "m": 60, "h": 3600}.get(value[-1:], None)
    try:
        seconds = float(value[:-1] if unit else value) * (unit or 1)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise InputError(f"--cycle must be a period such as 60s, 2m or 90, got {text!r}")
    return seconds


def looks_for(args, mode: str, settings) -> list[tuple[str, object]]:
    """The (label, Settings) looks live mode moves through; the first one starts."""
    text = getattr(args, "cycle_list", None)
    if mode == "style":
        names = [t.strip().replace("+", ",") for t in text.split(",")] if text else None
        if names is None and getattr(args, "cycle", None) is None:
            return [(_style_label(settings), settings)]
        if names is None:
            first = settings.style if settings.style.isdigit() else "0"
            names = [str((int(first) + k) % NUM_STYLES) for k in range(NUM_STYLES)]
            if settings.style_image or not settings.style.isdigit():
                return [(_style_label(settings), settings)] + [
                    (f"style {n}", settings.replace(style=n, style_image=None)) for n in names
                ]
        return [(f"style {n}", settings.replace(style=n, style_image=None)) for n in names]
    names = [t.strip() for t in text.split(",") if t.strip()] if text else None
    if names is None:
        if getattr(args, "cycle", None) is None:
            return [(getattr(args, "preset", None) or "dream", settings)]
        names = settings_mod.dream_presets()
        start = [(getattr(args, "preset", None) or "dream", settings)]
        return start + [(n, _preset_settings(args, n)) for n in names]
    return [(n, _preset_settings(args, n)) for n in names]


def _style_label(settings) -> str:
    return "style image" if settings.style_image else f"style {settings.style}"


def _preset_settings(args, name: str):
    """A preset's settings with the command line's own flags still on top."""
    flags = settings_mod.flags_of(args)
    return settings_mod.resolve(preset=name, config=getattr(args, "config", None), **flags)


def _say(args, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(f"dreamstream live: {text}", file=sys.stderr, flush=True)


def _check(args) -> None:
    """Reject bad live options before anything is opened."""
    if args.mode not in MODES:
        raise InputError(f"--mode must be dream or style, got {args.mode!r}")
    if args.max_latency_ms is not None and not 0 <= args.max_latency_ms < float("inf"):
        raise InputError(f"--max-latency-ms must be >= 0, got {args.max_latency_ms}")
    min_fps = getattr(args, "min_fps", None)
    if min_fps is not None and not 0 <= min_fps < float("inf"):
        raise InputError(f"--min-fps must be >= 0, got {min_fps}")
    if args.serve_token is not None and not args.serve_token.strip():
        raise InputError("--serve-token must not be empty")
    if args.serve_token and not args.serve:
        raise InputError("--serve-token needs --serve HOST:PORT")
    remote.check(args)


def main(args, settings) -> int:
    """Run live mode until q, Ctrl-C or SIGTERM; returns 0, or 130 after a signal.

    Args:
        args: parsed options: ``source``, ``output``, ``overwrite``, ``quiet``, ``json``
            and those of :func:`add_arguments`.
        settings: the resolved :class:`~dreamstream.stream.settings.Settings`.

    Raises:
        InputError: bad options, a missing input, or nowhere to show the output.
    """
    from dreamstream.stream.effects import make_effects
    from dreamstream.stream.io import check_output
    from dreamstream.stream.pipeline import StopOnSignal

    _check(args)
    source = getattr(args, "source", None) or "camera:0"
    no_display = None if args.no_window else display_problem()
    window = not args.no_window and no_display is None
    if not window and not args.serve and not args.output:
        reason = f"no display ({no_display})" if no_display else "--no-window"
        raise InputError(f"{reason}: live mode needs --serve HOST:PORT and/or -o OUTPUT")
    if no_display:
        _say(args, f"no display ({no_display}): running headless (preview/recording only)")
    address = parse_address(args.serve) if args.serve else None
    if address and not is_loopback(address[0]) and not args.serve_token:
        raise InputError(f"--serve {args.serve} is not loopback: it needs --serve-token")
    cycle = parse_period(args.cycle) if args.cycle else None
    if args.output:
        check_output(args.output, None if is_camera(source) else source, args.overwrite)
    looks_list = looks_for(args, args.mode, settings)
    options = {"loop": args.loop, "max_pixels": settings.max_pixels}
    first_capture = capture_opener(source, **options)()  # a missing input fails now
    opener = _reuse_first(first_capture, capture_opener(source, **options))
    parts: list = []
    stop = threading.Event()
    grabber = Grabber(opener)
    try:
        parts.append(grabber)
        budget = _make_budget(args, settings)
        # The camera shows at once; each look's processor (and the framework) load
        # meanwhile, built from its typed setup, first with the objective the budget's
        # level asks for.
        looks = live_looks(looks_list, args.mode, budget)
        control = Control(args.mode) if remote.wanted(args) else None
        preview = (
            PreviewServer(*address, token=args.serve_token, control=control) if address else None
        )
        if preview:
            parts.append(preview.start())
            need = " (requests need the token: ?token= or Authorization: Bearer)"
            _say(args, f"preview at {preview.url}" + (need if preview.token else ""))
            _say(args, f"control page at {preview.url}control")
        parts.extend(remote.start(args, control, lambda text: _say(args, text)))
        recorder = _open_recorder(args, source, first_capture, settings)
        if recorder:
            parts.append(recorder)
        loop = LiveLoop(
            grabber,
            looks,
            settings,
            budget=budget,
            preview=preview,
            recorder=recorder,
            cycle_s=cycle,
            overlay=args.overlay,
            window=_open_window(args.fullscreen) if window else None,
            report=None if args.quiet or args.json else lambda t: _say(args, t),
            control=control,
            effects=make_effects(settings.effects_setup()),
        )
        if loop.window:
            parts.append(loop.window)
            _say(args, KEYS_HELP)
        grabber.start()
        with StopOnSignal(stop):
            loop.run(stop)
    finally:
        with StopOnSignal(stop) as signals:  # a second Ctrl-C must not undo the recording
            signals.finalising()
            _close_all(parts)
        if not grabber.started:
            first_capture.release()  # opened to check it, never handed over
    summary = loop.stats.summary()
    summary.update(source=source, mode=args.mode, output=args.output, interrupted=stop.is_set())
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _say(
            args,
            f"{summary['frames']} frames shown, {summary['dropped']} dropped, "
            f"{summary['fps'] or 0:.2f} fps",
        )
    return 130 if stop.is_set() else 0


def live_looks(looks_list: list, mode: str, budget: Budget, background: bool = True) -> Looks:
    """The looks as live mode builds them (the live benches build them so too).

    Each look's processor is built from its typed setup, first with the
    objective the budget's level asks for, on a background thread (the camera
    shows meanwhile). A dream that ``--runtime auto`` started on onnxruntime
    (no TensorFlow to wait for) moves to Keras once that is loaded, where
    Keras computes faster on this CPU (see
    :func:`~dreamstream.stream.onnxdream.keras_faster_here`); the looks built
    after that start on Keras.
    """
    from dreamstream.stream.onnxdream import keras_faster_here
    from dreamstream.stream.processors import make_processor

    keras = {"preferred": False}

    def build(settings):
        layers = budget.level.work(settings).get("layers")  # the light one at a light level
        first = {"layers": layers} if layers else {}
        setup = settings.setup(mode)
        if keras["preferred"] and getattr(setup, "runtime", None) == "auto":
            setup = dataclasses.replace(setup, runtime="keras")
        return make_processor(mode, setup, live=True, **first)

    def upgrade(settings, processor):
        if getattr(processor, "runtime", None) != "onnxruntime" or settings.runtime != "auto":
            return None
        if not keras_faster_here(settings.precision):
            return None
        keras["preferred"] = True
        return build(settings)

    return Looks(looks_list, build, background=background, upgrade=upgrade)


def _make_budget(args, settings) -> Budget:
    return make_budget(args.mode, settings, args.max_latency_ms, getattr(args, "min_fps", None))


def make_budget(
    mode: str, settings, max_latency_ms: float | None = None, min_fps: float | None = None
) -> Budget:
    """The budget: ``max_latency_ms`` and ``min_fps`` (None: the mode's defaults; 0: none).

    A dream starts at the least work (the first dream shows soonest) and climbs.
    """
    ms = DEFAULT_LATENCY_MS[mode] if max_latency_ms is None else max_latency_ms
    fps = DEFAULT_MIN_FPS[mode] if min_fps is None else min_fps
    levels = make_levels(mode, settings)
    return Budget(
        levels,
        ms / 1000 if ms else None,
        frame_s=1 / fps if fps else None,
        start=len(levels) - 1 if mode == "dream" and (ms or fps) else 0,
    )


def _open_recorder(args, source: str, capture, settings) -> Recorder | None:
    """The ``-o`` recording on its own thread, or ``None`` without ``-o``."""
    if not args.output:
        return None
    from dreamstream.stream.io import open_sink

    # Live output has no source timestamps (a camera has none; a file played live runs on
    # the wall clock): each frame's pts is its display time in ms since the loop started.
    sink = open_sink(
        args.output,
        input_spec=None if is_camera(source) else source,
        fps=_nominal_fps(capture),
        time_base=Fraction(1, 1000),
        crf=settings.crf,
        preset=settings.encoder_preset,
        overwrite=args.overwrite,
        metadata={"mode": args.mode, "settings": settings.as_dict()},
    )
    return Recorder(sink)


def _nominal_fps(capture) -> Fraction:
    """The capture's frame rate (a file's own, a camera's reported one), else 25."""
    period = getattr(capture, "period", 0)
    rate = 1 / period if period else getattr(capture, "fps", 0)
    return Fraction(rate if rate and rate > 0 else 25).limit_denominator(1001)


def _reuse_first(first, opener: Callable) -> Callable:
    """An opener that hands out ``first`` once (already opened to check it), then reopens."""
    pending = [first]

    def open_capture():
        return pending.pop() if pending else opener()

    return open_capture


def _open_window(fullscreen: bool):
    from dreamstream.stream.io.window import WindowSink

    return WindowSink("dreamstream live", fullscreen=fullscreen)


def _close_all(parts: list) -> None:
    """Stop the grabber and close the outputs, the recording finalised (newest first)."""
    for part in reversed(parts):
        try:
            part.stop() if isinstance(part, Grabber) else part.close()
        except Exception:  # noqa: BLE001 -- one failing output must not keep the others open
            log.exception("closing %s failed", type(part).__name__)
