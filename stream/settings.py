"""One settings type for the CLI, the Python API, presets and metadata.

:class:`Settings` is a frozen dataclass: its field defaults are the only
defaults in the product (the dream engine's come from
:class:`dreamstream.core.params.DreamParams`). The CLI builds its options from
the fields' metadata, presets and ``--config`` files are TOML tables of the
same field names, and a render's metadata records ``Settings.as_dict()``.
Precedence: defaults < preset < config file < command-line flags.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import numbers
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.core.params import (
    BACKBONES,
    CARRY_MODES,
    FLOW_METHODS,
    FLOW_PRESETS,
    MAX_PIXELS,
    NUM_STYLES,
    POOLINGS,
    PRECISIONS,
    STYLE_METHODS,
    ArtParams,
    CarryParams,
    DreamParams,
    FlowParams,
    is_builtin_style,
    parse_style,
)
from dreamstream.core.stylekeys import is_style_schedule, parse_style_keys
from dreamstream.stream.params import (
    MASK_CHOICES,
    REACT_CHOICES,
    ArtSetup,
    DreamSetup,
    EffectsSetup,
    EncoderOptions,
    SourceOptions,
    StyleSetup,
)
from dreamstream.stream.runtimes import RUNTIMES
from dreamstream.stream.saliency import MASKS
from dreamstream.stream.schedules import SCHEDULABLE, join_keyframes, split_keyframes

_DP = DreamParams()
_AP = ArtParams()
ENCODER_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


def _opt(help: str, group: str = "common", **extra) -> dict:
    """Field metadata read by the CLI: help text, option group, argparse extras."""
    return {"help": help, "group": group, **extra}


@dataclass(frozen=True)
class Settings:
    """Everything a render can be told. Unset optional values mean "the sensible default"."""

    # -- common to dream and style
    width: int | None = field(
        default=None,
        metadata=_opt("process at this width (keeps aspect, even sides); default: the input's"),
    )
    start: str | None = field(
        default=None, metadata=_opt("first frame: an index (10) or a time (2.5s, 00:01:02.5)")
    )
    end: str | None = field(default=None, metadata=_opt("stop before this frame index or time"))
    frames: int | None = field(default=None, metadata=_opt("process at most N frames"))
    max_pixels: int = field(
        default=MAX_PIXELS,
        metadata=_opt(
            "refuse frames (after --width) and pictures larger than this many pixels "
            "(8K: 7680x4320)"
        ),
    )
    flow: bool = field(
        default=True,
        metadata=_opt(
            "process each frame on its own, without carrying the previous output along the "
            "input's optical flow"
        ),
    )
    flow_method: str = field(
        default="dis", metadata=_opt("optical flow algorithm", choices=FLOW_METHODS)
    )
    flow_preset: str = field(
        default="medium", metadata=_opt("DIS flow quality/speed preset", choices=FLOW_PRESETS)
    )
    crf: int = field(default=18, metadata=_opt("video quality, lower is better (x264 CRF 0-51)"))
    encoder_preset: str = field(
        default="medium",
        metadata=_opt("x264 speed preset (FFmpeg's -preset)", choices=ENCODER_PRESETS),
    )
    seed: int = field(default=_DP.seed, metadata=_opt("random seed; same seed, same output"))
    # -- dream
    model: str = field(
        default="vgg16",
        metadata=_opt(
            "dream backbone: vgg16 = ImageNet VGG16, vgg16-hed = VGG16 tuned for edges",
            "dream",
            choices=BACKBONES,
        ),
    )
    weights: str | None = field(
        default=None,
        metadata=_opt(
            "local weights file: vgg16 (Keras ImageNet .h5), inception_v3 (.h5), googlenet (.pb) "
            "for dreams; MatConvNet imagenet-vgg-verydeep-19.mat for style --method optimize"
        ),
    )
    layers: str | None = field(
        default=None,
        metadata=_opt(
            "objective: layer:weight list, channels as layer[ch]; default: the model's", "dream"
        ),
    )
    pooling: str = field(default="max", metadata=_opt("VGG16 pooling", "dream", choices=POOLINGS))
    octaves: int = field(default=_DP.octaves, metadata=_opt("pyramid levels", "dream"))
    octave_scale: float = field(
        default=_DP.octave_scale, metadata=_opt("size ratio between octaves", "dream")
    )
    steps: int = field(
        default=_DP.steps, metadata=_opt("ascent steps per octave (first frame)", "dream")
    )
    steps_next: int = field(
        default=2,
        metadata=_opt(
            "ascent steps per octave for frames that start from the carried dream: more "
            "dreams each frame harder (and costs time per frame); the carry then settles "
            "stronger than a fresh dream of the same --step-size",
            "dream",
        ),
    )
    octaves_next: int | None = field(
        default=None,
        metadata=_opt(
            "pyramid levels for frames that start from the carried dream (the finest are "
            "kept: the carried dream already holds the coarse pattern); default: one fewer "
            "than --octaves",
            "dream",
        ),
    )
    step_size: float = field(
        default=_DP.step_size, metadata=_opt("mean pixel change per step (0-255 units)", "dream")
    )
    tile: int = field(default=_DP.tile, metadata=_opt("largest tile side in pixels", "dream"))
    jitter: int = field(default=_DP.jitter, metadata=_opt("largest random shift per step", "dream"))
    tv_weight: float = field(
        default=_DP.tv_weight,
        metadata=_opt("total-variation penalty weight (smoother dreams)", "dream"),
    )
    precision: str = field(
        default="auto",
        metadata=_opt(
            "network precision: auto = bfloat16 on CPUs with AMX/AVX512-BF16 "
            "(TensorFlow), else float32",
            "dream",
            choices=PRECISIONS,
        ),
    )
    guide: str | None = field(
        default=None, metadata=_opt("guide image: dream towards its features", "dream")
    )
    guide_weight: float = field(
        default=1.0, metadata=_opt("weight of the guide's term in the objective", "dream")
    )
    classes: str | None = field(
        default=None,
        metadata=_opt(
            "dream towards ImageNet classes: a name or index, several with weights "
            "('golden retriever:1, 281:0.5'); needs --model inception_v3 or googlenet with "
            "their classifier weights; alone or with --layers",
            "dream",
            metavar="CLASS",
        ),
    )
    class_weight: float = field(
        default=1.0, metadata=_opt("weight of the class scores in the objective", "dream")
    )
    labels: str | None = field(
        default=None,
        metadata=_opt(
            "class names for --class: a text file (one a line) or Keras's JSON index; "
            "default: the one beside the weights",
            "dream",
        ),
    )
    decay: float = field(
        default=0.0,
        metadata=_opt(
            "L2 decay: share of each pixel's distance to grey removed per step (0-1; "
            "class dreams: about 0.01)",
            "dream",
        ),
    )
    blur_every: int = field(
        default=0,
        metadata=_opt("blur the dream slightly every N steps (0: never; class dreams: 4)", "dream"),
    )
    mask: str | None = field(
        default=None,
        metadata=_opt(
            "saliency: dream only where an ImageNet classifier looks (--class picks the "
            "class, else the predicted one); person / background: process only the visitor "
            "or only the room, with a soft edge carried along the flow (needs `dreamstream "
            "fetch segmenter` once); none: no mask",
            "effects",
            choices=("none", *MASKS, *MASK_CHOICES[1:]),
        ),
    )
    blend: float = field(
        default=0.95,
        metadata=_opt(
            "share of the carried dream in the next frame's start image (0-1): higher is "
            "steadier, lower follows each frame more closely and flickers more",
            "dream",
        ),
    )
    anchor: float = field(
        default=0.25,
        metadata=_opt(
            "share of each frame's own low frequencies (light, shade, colour) put back "
            "into the carried dream's start, so the scene cannot erode (0-1; 1 where the "
            "flow is unreliable): higher keeps the scene and its colours, at a weaker dream",
            "dream",
        ),
    )
    regrow: float = field(
        default=2.0,
        metadata=_opt(
            "extra step where the flow is unreliable (occlusions, blur): the dream grows "
            "1 + this times as fast there, since it starts afresh (>= 0): lower leaves "
            "a weaker dream where things appear, higher fills them in sooner and more abruptly",
            "dream",
        ),
    )
    carry: str = field(
        default="blend",
        metadata=_opt(
            "what is carried to the next frame: the warped dream or its residual",
            "dream",
            choices=CARRY_MODES,
        ),
    )
    # -- style
    style: str = field(
        default="0",
        metadata=_opt(
            "built-in style 0-25 or a blend such as 3:0.5,12:0.5; or styles that cross-fade "
            "along time: 0:(3), 120:(7), 10s:(picture.jpg)",
            "style",
        ),
    )
    style_image: str | None = field(
        default=None, metadata=_opt("any picture as the style (arbitrary style network)", "style")
    )
    strength: float = field(default=1.0, metadata=_opt("style strength 0-1", "style"))
    preserve_color: bool = field(
        default=False,
        metadata=_opt("keep the input's colours, take luminance from the style", "style"),
    )
    # 0.8 (with the style's flow at full resolution, still parts held at 0.95): on
    # samples/bikes.mp4, judged by an independent referee flow, 0.46x the excess
    # warping error of a 0.5 moving average and at most 0.66x on each shot, flow-free
    # static flicker 0.27x (0.77x before the hold), as sharp and 0.97x per-frame
    # style's strength; 0.7 with a plain blend gave 0.55x (docs/coherence.md).
    temporal: float = field(
        default=0.8,
        metadata=_opt(
            "weight of the warped previous output in each styled frame (0-1; where the "
            "scene stands still the texture is held at 1-(1-t)^1.86, 0.95 for 0.8): higher "
            "is steadier but holds texture longer where the flow is wrong. At 0.8 on a real "
            "clip, under an independent referee flow: 0.46x the warping error and 0.27x "
            "the static flicker of a 0.5 moving average",
            "style",
        ),
    )
    runtime: str = field(
        default="auto",
        metadata=_opt(
            "what runs the network: auto = onnxruntime on a CPU for fast styles and live "
            "dreams of VGG16 layers (no TensorFlow to wait for; a live dream moves to Keras "
            "where bfloat16 is native), Keras on a GPU, for --style-image and other dreams; "
            "onnxruntime for a dream file too (about 2x TensorFlow held to AVX2)",
            "common",
            choices=RUNTIMES,
        ),
    )
    # -- masks and a dream that reacts to motion (stream/effects.py), dream and style
    mask_model: str | None = field(
        default=None,
        metadata=_opt(
            "a local .tflite portrait segmenter for --mask instead of the cached MediaPipe one",
            "effects",
            metavar="PATH",
        ),
    )
    react: str = field(
        default="none",
        metadata=_opt(
            "motion: where the scene is still the dream deepens, where it moves the dream "
            "gives way to the live picture (needs the flow)",
            "effects",
            choices=REACT_CHOICES,
        ),
    )
    rise: float = field(
        default=3.0,
        metadata=_opt(
            "--react: seconds a still region takes from the live picture to the full dream",
            "effects",
            metavar="SECONDS",
        ),
    )
    fall: float = field(
        default=0.5,
        metadata=_opt(
            "--react: seconds a moving region takes from the full dream to the live picture",
            "effects",
            metavar="SECONDS",
        ),
    )
    attract: float | None = field(
        default=None,
        metadata=_opt(
            "attract mode: after this many seconds with little motion, drift the dream slowly "
            "(live: and move to the next look every as many seconds); default: off",
            "effects",
            metavar="SECONDS",
        ),
    )
    # -- segment rendering on Ray (stream/farm): where a render runs, and how it is cut
    workers: int | None = field(
        default=None,
        metadata=_opt(
            "render in segments on a local Ray cluster of N workers (a GPU each when there are)",
            "farm",
        ),
    )
    ray: str | None = field(
        default=None,
        metadata=_opt(
            "render in segments on the running Ray cluster at ADDRESS, or auto",
            "farm",
            metavar="ADDRESS",
        ),
    )
    segments: int | None = field(
        default=None,
        metadata=_opt("segments to cut the render into; default: 3 per worker", "farm"),
    )
    warmup: int = field(
        default=8,
        metadata=_opt(
            "frames rendered and discarded before each segment, to settle the carry", "farm"
        ),
    )

    # -- style by optimisation (Gatys et al. 2015; Ruder et al. 2016 for video)
    method: str = field(
        default="fast",
        metadata=_opt(
            "fast: a feed-forward style network; optimize: optimise each frame towards "
            "--style-image (Gatys et al.), slow but faithful",
            "optimize",
            choices=STYLE_METHODS,
        ),
    )
    iterations: int = field(
        default=_AP.iterations,
        metadata=_opt("Adam steps per coarse-to-fine level for a frame started afresh", "optimize"),
    )
    iterations_next: int = field(
        default=_AP.iterations_next,
        metadata=_opt("Adam steps for frames started from the warped previous result", "optimize"),
    )
    style_weight: float = field(
        default=_AP.style_weight, metadata=_opt("weight of the Gram (style) loss", "optimize")
    )
    content_weight: float = field(
        default=_AP.content_weight,
        metadata=_opt("weight of the content loss (block4_conv2 features)", "optimize"),
    )
    smoothness: float = field(
        default=_AP.tv_weight, metadata=_opt("total-variation weight: smoother output", "optimize")
    )
    temporal_weight: float = field(
        default=_AP.temporal_weight,
        metadata=_opt(
            "weight of the temporal loss (stay close to the warped previous output where the "
            "flow is reliable)",
            "optimize",
        ),
    )
    temporal_frames: str = field(
        default="1",
        metadata=_opt(
            "earlier frames the temporal loss holds each frame to, as distances back: 1 = the "
            "previous one only; e.g. 1,10,20,40 adds Ruder et al.'s long-term loss, each pixel "
            "held to the most recent of them where it was visible (slower: a flow per frame)",
            "optimize",
        ),
    )
    learning_rate: float = field(
        default=_AP.learning_rate, metadata=_opt("Adam step in 0-255 pixel units", "optimize")
    )
    levels: int = field(
        default=_AP.levels,
        metadata=_opt("coarse-to-fine levels, each half the size of the next", "optimize"),
    )
    style_scale: float = field(
        default=_AP.style_scale,
        metadata=_opt("size of the style picture relative to the output (brush size)", "optimize"),
    )

    # -- animate: the move from one frame to the next (dreamstream animate)
    zoom: float = field(
        default=1.0, metadata=_opt("zoom per frame about the centre (1.02: 2 %% closer)", "animate")
    )
    rotate: float = field(
        default=0.0, metadata=_opt("rotation per frame in degrees, counter-clockwise", "animate")
    )
    pan_x: float = field(
        default=0.0, metadata=_opt("pan per frame in pixels, + moves the picture right", "animate")
    )
    pan_y: float = field(
        default=0.0, metadata=_opt("pan per frame in pixels, + moves the picture down", "animate")
    )

    # Schedules of the keyframed settings, "name=text; name=text" (set from the
    # schedulable fields themselves: --step-size "0:1, 120:3" puts 1.0 in step_size
    # and "step_size=0:1, 120:3" here). Recorded in metadata, so a resume sees them.
    keyframes: str = field(default="", metadata=_opt("keyframed settings", "keyframes"))

    def __post_init__(self):
        self._take_schedules()
        for name in FIELDS:
            value = getattr(self, name)
            typed = typed_value(name, value, flag(name))
            if typed is not value:
                object.__setattr__(self, name, typed)  # e.g. 2 -> 2.0 for a float setting
        self.dream_params()  # validates the engine's settings early, before any file is made
        _check_range("blend", self.blend, 0, 1)
        _check_range("anchor", self.anchor, 0, 1)
        _check_range("regrow", self.regrow, 0, None)
        _check_range("temporal", self.temporal, 0, 1)
        _check_range("strength", self.strength, 0, 1)
        self._check_dream_extras()
        _check_range("crf", self.crf, 0, 51)
        _check_range("steps_next", self.steps_next, 0, None)
        if self.octaves_next is not None and self.octaves_next < 1:
            raise InputError(f"--octaves-next must be >= 1, got {self.octaves_next}")
        _check_range("warmup", self.warmup, 0, None)
        self._check_effects()
        for name in ("workers", "segments"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise InputError(f"--{name} must be >= 1, got {getattr(self, name)}")
        _check_range("max_pixels", self.max_pixels, 1, None)
        for name, least in (("width", 2), ("frames", 1)):
            value = getattr(self, name)
            if value is not None and value < least:
                raise InputError(f"{flag(name)} must be >= {least}, got {value}")
        for name, allowed in (
            ("flow_method", FLOW_METHODS),
            ("flow_preset", FLOW_PRESETS),
            ("carry", CARRY_MODES),
            ("model", BACKBONES),
            ("encoder_preset", ENCODER_PRESETS),
            ("precision", PRECISIONS),
            ("runtime", RUNTIMES),
            ("method", STYLE_METHODS),
            ("react", REACT_CHOICES),
        ):
            if getattr(self, name) not in allowed:
                raise InputError(
                    f"{flag(name)} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        self._check_style()
        temporal_frames(self.temporal_frames)
        self.art_params()  # validates the optimisation's settings early

    def _check_style(self) -> None:
        """The style, a schedule's text made canonical; a schedule beside a picture refused."""
        object.__setattr__(self, "style", style_text(self.style))
        if not is_style_schedule(self.style):
            return
        if self.method == "optimize":
            raise InputError("style --method optimize takes no keyframed --style")
        if self.style_image is not None:
            raise InputError(
                "--style keyframes and --style-image: put the pictures among the keyframes, "
                "--style '0:(a.jpg), 120:(b.jpg)'"
            )

    def _check_effects(self) -> None:
        for name in ("rise", "fall", "attract"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError(f"{flag(name)} must be > 0 seconds, got {value}")
        if self.react != "none" and not self.flow:
            raise InputError("--react motion needs the flow: drop --no-flow")
        if self.mask_model is not None and self.mask not in MASK_CHOICES[1:]:
            raise InputError("--mask-model needs --mask person or --mask background")
        if (self.workers or self.ray) and self.attract is not None:
            # Its trigger is the quiet time since the last motion, which may lie anywhere
            # before a segment; its drift then builds on itself: no warm-up can know either.
            raise InputError(
                "--attract does not run in segments (--workers, --ray): it counts quiet "
                "seconds over the whole clip"
            )

    def _check_dream_extras(self) -> None:
        """Class dreams, regularisers and masks: values and what they need."""
        from dreamstream.core.params import CLASSIFIER_LAYERS

        if not 0 <= self.decay < 1:
            raise InputError(f"--decay must be at least 0 and below 1, got {self.decay}")
        _check_range("blur_every", self.blur_every, 0, None)
        if self.classes is not None and self.model not in CLASSIFIER_LAYERS:
            raise InputError(
                f"--class needs a model with an ImageNet classifier "
                f"({', '.join(CLASSIFIER_LAYERS)}), not {self.model}"
            )
        masks = ("none", *MASKS, *MASK_CHOICES[1:])
        if self.mask is not None and self.mask not in masks:
            raise InputError(f"--mask must be one of {', '.join(masks)}, got {self.mask!r}")

    def _take_schedules(self) -> None:
        """Move schedule text out of the schedulable fields into ``keyframes``.

        Each field keeps its value at frame 0, which every range check below sees;
        interpolation never leaves the keys' span, and each key is checked too.
        """
        from dreamstream.stream.schedules import extract

        given = {n: getattr(self, n) for n in SCHEDULABLE if n in FIELDS}
        plain, schedules = extract(given)
        kept = split_keyframes(self.keyframes)
        for name, value in given.items():
            if isinstance(value, str):
                kept.pop(name, None)
                if name in schedules:
                    kept[name] = schedules[name]
                object.__setattr__(self, name, plain[name])
        object.__setattr__(self, "keyframes", join_keyframes(kept))

    # -- The typed parameters of each part, made here and only here: a new setting
    # goes into its part's type and into the one method below that fills it.

    def art_params(self) -> ArtParams:
        """The style optimisation's parameters taken from these settings."""
        return ArtParams(
            iterations=self.iterations,
            iterations_next=self.iterations_next,
            content_weight=self.content_weight,
            style_weight=self.style_weight,
            tv_weight=self.smoothness,
            temporal_weight=self.temporal_weight,
            learning_rate=self.learning_rate,
            levels=self.levels,
            style_scale=self.style_scale,
            preserve_color=self.preserve_color,
        )

    def dream_params(self) -> DreamParams:
        """The dream engine's parameters taken from these settings."""
        return DreamParams(
            octaves=self.octaves,
            octave_scale=self.octave_scale,
            steps=self.steps,
            step_size=self.step_size,
            tile=self.tile,
            jitter=self.jitter,
            tv_weight=self.tv_weight,
            seed=self.seed,
        )

    def carried_octaves(self) -> int:
        """Pyramid levels of a frame that starts from the carried dream."""
        return self.octaves_next if self.octaves_next is not None else max(1, self.octaves - 1)

    def carry_params(self) -> CarryParams:
        """How a dream is carried to the next frame."""
        return CarryParams(
            blend=self.blend,
            anchor=self.anchor,
            regrow=self.regrow,
            mode=self.carry,
            steps_next=self.steps_next,
            octaves_next=self.carried_octaves(),
        )

    def flow_params(self) -> FlowParams:
        """How motion is measured between input frames (``flow`` off: nothing is carried)."""
        return FlowParams(enabled=self.flow, method=self.flow_method, preset=self.flow_preset)

    def dream_setup(self) -> DreamSetup:
        """What the dream processor is built from."""
        return DreamSetup(
            model=self.model,
            weights=self.weights,
            layers=self.layers,
            pooling=self.pooling,
            guide=self.guide,
            precision=self.precision,
            max_pixels=self.max_pixels,
            flow=self.flow,
            dream=self.dream_params(),
            carry=self.carry_params(),
            guide_weight=self.guide_weight,
            classes=self.classes,
            class_weight=self.class_weight,
            labels=self.labels,
            decay=self.decay,
            blur_every=self.blur_every,
            mask=self.mask if self.mask in MASKS else None,  # person/background: effects
            keyframes=self.keyframes,
            runtime=self.runtime,
        )

    def style_setup(self) -> StyleSetup:
        """What the fast style processor is built from.

        Raises:
            InputError: ``weights`` is set: it applies to dreams and to ``--method optimize``.
        """
        if self.weights is not None:
            raise InputError("--weights applies to dreams and to style --method optimize")
        return StyleSetup(
            style=self.style,
            style_image=self.style_image,
            strength=self.strength,
            preserve_color=self.preserve_color,
            temporal=self.temporal,
            runtime=self.runtime,
            max_pixels=self.max_pixels,
            keyframes=self.keyframes,
        )

    def art_setup(self) -> ArtSetup:
        """What the style-by-optimisation processor is built from."""
        return ArtSetup(
            style_image=self.style_image,
            weights=self.weights,
            precision=self.precision,
            max_pixels=self.max_pixels,
            art=self.art_params(),
            temporal_frames=temporal_frames(self.temporal_frames),
            flow=self.flow_params(),
        )

    def setup(self, mode: str, fps=None) -> DreamSetup | StyleSetup | ArtSetup:
        """What the processor of ``mode`` ("dream" or "style", by ``method``) is built from.

        Args:
            mode: "dream" or "style".
            fps: the source's frame rate, for keyframes given in seconds.

        Raises:
            InputError: settings the chosen style method cannot use (see :meth:`style_setup`),
                or keyframes the method cannot follow.
        """
        rate = float(fps) if fps else None
        if mode == "dream":
            return dataclasses.replace(self.dream_setup(), fps=rate)
        if self.method == "optimize":
            if self.keyframes:
                raise InputError(
                    "style --method optimize takes no keyframed settings, got " + self.keyframes
                )
            return self.art_setup()
        return dataclasses.replace(self.style_setup(), fps=rate)

    def effects_setup(self) -> EffectsSetup:
        """What the masks, the reactive dream and the attract mode are built from."""
        return EffectsSetup(
            mask=self.mask if self.mask in MASK_CHOICES[1:] else None,
            mask_model=self.mask_model,
            react=None if self.react == "none" else self.react,
            rise_s=self.rise,
            fall_s=self.fall,
            attract_s=self.attract,
        )

    def source_options(self) -> SourceOptions:
        """What ``open_source`` takes from these settings: the frame range, width and limit."""
        return SourceOptions(
            start=self.start,
            end=self.end,
            frames=self.frames,
            width=self.width,
            max_pixels=self.max_pixels,
        )

    def encoder_options(self) -> EncoderOptions:
        """How a video output is encoded."""
        return EncoderOptions(crf=self.crf, preset=self.encoder_preset)

    def replace(self, **changes) -> Settings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """The settings as a plain dict (for --json and the output's metadata)."""
        return dataclasses.asdict(self)


# Besides its own type, what a setting accepts: positions take an index or seconds,
# and a built-in style or one temporal frame may be written as a bare number
# (style = 7 in TOML).
_ALSO_ACCEPTED = {
    "start": (int, float),
    "end": (int, float),
    "style": (int,),
    "temporal_frames": (int,),
}
_KINDS = {
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "int": ("a whole number", lambda v: isinstance(v, numbers.Integral)),
    "float": ("a number", lambda v: isinstance(v, numbers.Real)),
    "str": ("text", lambda v: isinstance(v, str)),
}


def typed_value(name: str, value, label: str):
    """``value`` checked against the type of setting ``name`` (ints widen to float).

    Args:
        name: a :class:`Settings` field.
        value: what a flag, a TOML file or an API call gave.
        label: how the message names the setting (``--octaves``, ``config file x: octaves``).

    Raises:
        InputError: the value has the wrong type; a bool is never taken for a number.
    """
    declared = FIELDS[name].type
    if value is None and declared.endswith("| None"):
        return value
    if name in SCHEDULABLE and isinstance(value, str):
        return _schedule_text(name, value, label)
    kind = declared.split(" ")[0]
    also = _ALSO_ACCEPTED.get(name, ())
    what, fits = _KINDS[kind]
    if isinstance(value, bool) and kind != "bool" or not (fits(value) or isinstance(value, also)):
        raise InputError(f"{label} must be {what}, got {value!r}")
    if kind == "float":
        if not math.isfinite(value):  # nan passes every range check: refuse it here
            raise InputError(f"{label} must be a finite number, got {value!r}")
        return float(value)
    return str(value) if name in ("style", "temporal_frames") else value


def _schedule_text(name: str, value: str, label: str) -> str:
    """A schedulable setting's text, checked: a number, or keyframes (kept as text)."""
    from dreamstream.stream.schedules import is_schedule_text, schedule_of

    if not is_schedule_text(value):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise InputError(f"{label} must be a number or keyframes, got {value!r}")
        return value
    try:
        schedule_of(name, value)
    except InputError as error:
        where = label.rpartition(": ")[0]  # "config file x.toml" before the key, if any
        raise InputError(f"{where}: {error}" if where else str(error)) from None
    return value


# Settings whose option is not their name with dashes.
_FLAGS = {"classes": "--class"}


def flag(name: str) -> str:
    """The command-line option of a setting: ``steps_next`` -> ``--steps-next``."""
    return _FLAGS.get(name) or "--" + name.replace("_", "-")


def _check_range(name: str, value: float, low: float, high: float | None) -> None:
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InputError(f"{flag(name)} must be {span}, got {value}")


def check_style_text(text: str) -> None:
    """Reject a style that is not an index 0-25 or an ``index:weight`` blend."""
    if not is_builtin_style(text):
        raise InputError(
            f"--style must be an index 0-{NUM_STYLES - 1}, a blend such as "
            f"3:0.5,12:0.5 or keyframes such as 0:(3), 120:(7), got {str(text)!r}"
        )
    try:
        parse_style(str(text))
    except InputError as error:
        if ":" not in str(text):
            raise
        # "0:3, 120:7" reads as a blend: say how a schedule is written
        raise InputError(f"{error}; keyframed styles go in parentheses: 0:(3), 120:(7)") from None


def style_text(text: str) -> str:
    """The ``--style`` of a render, checked: one style, a blend, or keyframed styles.

    Returns:
        The text, a schedule's in its canonical form (what metadata and resume compare).
    """
    if is_style_schedule(text):
        return parse_style_keys(text).text()
    check_style_text(text)
    return str(text)


# The history the long-term loss keeps is this many frames (inputs and outputs):
# 100 frames of 1080p take about 1.2 GB; Ruder et al. reach back 40.
MAX_TEMPORAL_FRAME = 100


def temporal_frames(text: str) -> tuple[int, ...]:
    """``--temporal-frames`` as distances back, sorted: ``"1,10,20,40"`` -> ``(1, 10, 20, 40)``.

    Raises:
        InputError: not distinct whole numbers 1-100 including 1.
    """
    parts = [part.strip() for part in str(text).split(",")]
    if all(part.isascii() and part.isdigit() for part in parts):
        gaps = sorted(int(part) for part in parts)
        if gaps[0] == 1 and gaps[-1] <= MAX_TEMPORAL_FRAME and len(set(gaps)) == len(gaps):
            return tuple(gaps)
    raise InputError(
        f"--temporal-frames must be distinct frame distances 1-{MAX_TEMPORAL_FRAME} including 1, "
        f"such as 1,10,20,40, got {str(text)!r}"
    )


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def from_mapping(values: dict, origin: str) -> dict:
    """Validate a preset/config table's keys and types; returns field -> value.

    Args:
        values: TOML table (dashes or underscores in keys).
        origin: where it came from, for error messages.
    """
    out = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in FIELDS:
            raise InputError(f"{origin}: unknown setting {key!r}")
        out[name] = typed_value(name, value, f"{origin}: {key}")
    return out


def flags_of(args) -> dict:
    """The settings given on a command line: the fields an ``argparse`` namespace holds.

    Options left unset are absent from the namespace (``argparse.SUPPRESS``),
    so presets and config files keep their values under them.
    """
    return {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}


def presets_dir() -> Path:
    """The folder of shipped presets (samples/presets, installed as dreamstream.presets)."""
    spec = importlib.util.find_spec("dreamstream.presets")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    return Path(__file__).resolve().parents[1] / "samples" / "presets"


def dream_presets() -> list[str]:
    """Names of the shipped presets that are dream looks (not style-by-optimisation ones)."""
    return [
        path.stem
        for path in sorted(presets_dir().glob("*.toml"))
        if "method" not in tomllib.loads(path.read_text())
    ]


def list_presets() -> dict[str, str]:
    """Shipped preset names and their one-line descriptions."""
    found = {}
    for path in sorted(presets_dir().glob("*.toml")):
        data = tomllib.loads(path.read_text())
        found[path.stem] = data.get("description", "")
    return found


def load_toml(path: Path, origin: str) -> dict:
    """Read a preset or config file into field -> value (``description`` is ignored).

    Only a regular file is opened: a FIFO or a device would block or never end.
    """
    try:
        if not stat.S_ISREG(Path(path).stat().st_mode):
            raise InputError(f"{origin} {path} is not a regular file")
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{origin} not found: {path}") from None
    except OSError as error:  # a folder, no permission, an I/O error
        raise InputError(f"{origin} {path} cannot be read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{origin} {path} is not valid TOML: {error}") from None
    data.pop("description", None)
    return from_mapping(data, f"{origin} {path}")


def load_preset(name: str) -> dict:
    """The settings of a shipped preset, by name (a file goes through ``config``).

    Raises:
        InputError: ``name`` is empty, a path, or no shipped preset.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        hint = "; a settings file goes through --config" if "/" in name or "." in name else ""
        raise InputError(f"preset must be a preset name (see --list-presets), got {name!r}{hint}")
    path = presets_dir() / f"{name}.toml"
    if not path.is_file():
        names = ", ".join(list_presets()) or "none installed"
        raise InputError(f"unknown preset {name!r}; presets: {names}")
    return load_toml(path, "preset")


def resolve(preset: str | None = None, config: str | None = None, **flags) -> Settings:
    """Settings from defaults < preset < config file < flags."""
    values: dict = {}
    if preset is not None:
        values.update(load_preset(preset))
    if config is not None:
        values.update(load_toml(Path(config), "config file"))
    values.update(flags)
    try:
        return Settings(**values)
    except TypeError as error:  # a value of the wrong type in a TOML file
        raise InputError(f"bad setting: {error}") from None
