"""The core's vocabulary, importable without loading a framework.

Every choice list the product offers is defined here once (core modules and
``dreamstream.stream.settings`` import it), with the typed parameters of the
core's parts (the dream engine, its carry, optical flow, style optimisation;
the front builds them from ``Settings``) and the parser of built-in style
text, so ``--help`` and the checks of a bad option stay fast and the
defaults live in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dreamstream.core.errors import InputError

# Dream backbones (dreamstream.core.models) and VGG16 pooling.
BACKBONES = ("vgg16", "vgg16-hed", "inception_v3", "googlenet", "efficientnet_lite0")
# Layer weights that give recognisable dreams with each network's own weights
# (here, not in core.models, so live mode can weigh a look before Keras loads).
DEFAULT_LAYERS: dict[str, dict[str, float]] = {
    "vgg16": {"block4_conv3": 1.0},
    "vgg16-hed": {"block4_conv3": 1.0},
    "inception_v3": {"mixed3": 1.0, "mixed5": 1.5},
    "googlenet": {"mixed4c": 1.0},
    "efficientnet_lite0": {"stage5": 1.0},
}
POOLINGS = ("max", "avg")
# VGG16, configuration D of Simonyan & Zisserman (2015), Table 1, without the
# classifier: (block, number of 3x3 convolutions, filters). A 2x2 pool closes
# every block. Here, not in core.models, so the ONNX dream graph and the weight
# readers know the network without Keras.
VGG16_TABLE: tuple[tuple[int, int, int], ...] = (
    (1, 2, 64),
    (2, 2, 128),
    (3, 3, 256),
    (4, 3, 512),
    (5, 3, 512),
)
# What VGG16 was trained on: BGR minus these means, 0-255.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)
# VGG16's layers in network order (each convolution is followed by its ReLU).
VGG16_LAYERS: tuple[str, ...] = tuple(
    name
    for block, convs, _ in VGG16_TABLE
    for name in [f"block{block}_conv{i}" for i in range(1, convs + 1)] + [f"block{block}_pool"]
)
# The layer of each backbone that outputs ImageNet class scores (before the
# softmax), for class dreams and saliency; vgg16's ONNX source has no ImageNet head.
CLASSIFIER_LAYERS = {
    "efficientnet_lite0": "logits",
    "inception_v3": "predictions",
    "googlenet": "softmax2_pre_activation",
}
# Optical flow (dreamstream.core.flow): algorithm and speed/quality preset.
FLOW_METHODS = ("dis", "farneback")
FLOW_PRESETS = ("ultrafast", "fast", "medium")
# What a carried dream keeps of the previous output (dreamstream.core.temporal).
CARRY_MODES = ("blend", "residual")
# What a user asks for (``--precision``) and the Keras dtype policies a network runs in.
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
# How a style is made: a feed-forward network, or optimisation (dreamstream.core.artstyle).
STYLE_METHODS = ("fast", "optimize")
# Built-in styles of the 26-style network (dreamstream.core.stylenets).
NUM_STYLES = 26
MIN_SIDE = 8  # smaller pictures carry too little to dream on
# Largest frame accepted by default: 8K UHD, 7680x4320 (33.2 Mpx). Larger frames are
# refused before anything is allocated (raise it with --max-pixels).
MAX_PIXELS = 7680 * 4320


@dataclass(frozen=True)
class DreamParams:
    """Settings of the ascent. Sizes in pixels, ``step_size`` in 0-255 units.

    Attributes:
        octaves: pyramid levels (fewer are used when a level would be smaller
            than the backbone's ``min_size``).
        octave_scale: side ratio between neighbouring levels, > 1.
        steps: ascent steps per octave.
        step_size: mean absolute change of a pixel per step, 0-255 units.
        tile: largest tile side; memory grows with ``tile_batch * tile**2``.
        jitter: largest random roll per step and axis, >= 0.
        tv_weight: weight of the total-variation penalty subtracted from the objective.
        seed: seed of the random rolls; the same seed gives the same dream.
        tile_batch: how many same-size tiles go through the network at once.
        xla: compile the gradient with XLA on TensorFlow.
        precision: one of :data:`POLICIES`: "float32", or a Keras mixed policy
            ("mixed_float16", "mixed_bfloat16") for the network's layers.
    """

    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10
    step_size: float = 2.0
    tile: int = 512
    jitter: int = 32
    tv_weight: float = 0.0
    seed: int = 0
    tile_batch: int = 1
    xla: bool = True
    precision: str = "float32"

    def __post_init__(self):
        checks = [
            ("octaves", self.octaves >= 1, ">= 1"),
            ("octave_scale", self.octave_scale > 1, "> 1"),
            ("steps", self.steps >= 0, ">= 0"),
            ("step_size", self.step_size > 0, "> 0"),
            ("tile", self.tile >= 32, ">= 32"),
            ("jitter", self.jitter >= 0, ">= 0"),
            ("tv_weight", self.tv_weight >= 0, ">= 0"),
            ("tile_batch", self.tile_batch >= 1, ">= 1"),
        ]
        for name, ok, rule in checks:
            value = getattr(self, name)
            if not ok or not math.isfinite(value):
                raise InputError(f"{name} must be {rule}, got {value!r}")
        if self.precision not in POLICIES:
            raise InputError(f"precision must be one of {POLICIES}, got {self.precision!r}")


def _index(text: str, spec: str) -> int:
    """A style index from text, checked to be 0-25."""
    try:
        idx = int(text)
    except ValueError:
        raise InputError(
            f"bad style {spec!r}: use an index 0-25 or a blend like 3:0.5,12:0.5"
        ) from None
    if not 0 <= idx < NUM_STYLES:
        raise InputError(f"style index must be 0-{NUM_STYLES - 1}, got {idx}")
    return idx


def _parse_text(spec: str) -> np.ndarray:
    """Raw (unnormalised) weights from ``"7"`` or ``"3:0.5,12:0.5"``."""
    w = np.zeros(NUM_STYLES, np.float64)
    parts = [p.strip() for p in spec.split(",")]
    if not any(parts):
        raise InputError(f"bad style {spec!r}: use an index 0-25 or a blend like 3:0.5,12:0.5")
    for part in parts:
        idx_text, colon, weight_text = part.partition(":")
        idx = _index(idx_text.strip(), spec)
        try:
            weight = float(weight_text) if colon else 1.0
        except ValueError:
            raise InputError(f"bad weight {weight_text.strip()!r} in style {spec!r}") from None
        w[idx] += weight
    return w


def parse_style(spec) -> np.ndarray:
    """A built-in style, or a blend, as 26 float32 weights summing to 1.

    Args:
        spec: an index (``7`` or ``"7"``), blend text ``"3:0.5,12:0.5"`` (weights
            may be any non-negative numbers; they are normalised), or 26 weights.

    Raises:
        InputError: an index outside 0-25, unparseable text, negative weights or
            weights that sum to zero.
    """
    if isinstance(spec, int | np.integer):
        w = np.zeros(NUM_STYLES, np.float64)
        w[_index(str(int(spec)), str(spec))] = 1.0
    elif isinstance(spec, str):
        w = _parse_text(spec)
    else:
        w = np.asarray(spec, np.float64)
        if w.shape != (NUM_STYLES,):
            raise InputError(f"a style weight vector needs {NUM_STYLES} values, got {w.shape}")
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise InputError(f"style weights must be non-negative and not all zero, got {spec!r}")
    return (w / w.sum()).astype(np.float32)


def is_builtin_style(text: str) -> bool:
    """Whether style text means built-in styles (``"7"``, ``"3:0.5,12:0.5"``), not a file.

    Text made only of digits, spaces and ``.:,+-``, or starting with a style
    index and a colon (``3:x``: a blend with a bad weight, which gets its own
    error), is built-in style text; anything else is a picture's path (write
    ``./3:x.png`` for a picture whose name starts that way).
    """
    text = str(text).strip()
    head, colon, _ = text.partition(":")
    if colon and head.strip().isdigit():
        return True
    return bool(text) and all(c.isdigit() or c in " .:,+-" for c in text)


@dataclass(frozen=True)
class ArtParams:
    """Settings of the optimisation; weights are relative to the content weight.

    Attributes:
        iterations: Adam steps per level for a frame started afresh.
        iterations_next: Adam steps (full size only) for a frame started from
            the warped previous output.
        content_weight, style_weight, tv_weight, temporal_weight: loss weights.
        learning_rate: Adam step in 0-255 pixel units.
        levels: coarse-to-fine levels (1 = full size only).
        style_scale: the style picture's size relative to the output's.
        preserve_color: keep the content frame's colours (YUV chroma).
    """

    iterations: int = 100
    iterations_next: int = 40
    content_weight: float = 1.0
    style_weight: float = 5.0
    tv_weight: float = 20.0
    temporal_weight: float = 200.0
    learning_rate: float = 4.0
    levels: int = 2
    style_scale: float = 1.0
    preserve_color: bool = False

    def __post_init__(self):
        for name in ("iterations", "iterations_next"):
            if getattr(self, name) < 0:
                raise InputError(
                    f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}"
                )
        for name in ("content_weight", "style_weight", "tv_weight", "temporal_weight"):
            flag = "smoothness" if name == "tv_weight" else name.replace("_", "-")
            if not getattr(self, name) >= 0:
                raise InputError(f"--{flag} must be >= 0, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise InputError(f"--learning-rate must be > 0, got {self.learning_rate}")
        if not 1 <= self.levels <= 6:
            raise InputError(f"--levels must be between 1 and 6, got {self.levels}")
        if not 0.1 <= self.style_scale <= 4:
            raise InputError(f"--style-scale must be between 0.1 and 4, got {self.style_scale}")


@dataclass(frozen=True)
class FlowParams:
    """How motion is measured between input frames (:class:`dreamstream.core.flow.FlowEstimator`).

    Attributes:
        enabled: ``False`` (``--no-flow``): nothing is carried, every frame starts afresh.
        method: one of :data:`FLOW_METHODS`.
        preset: one of :data:`FLOW_PRESETS` (DIS's speed/quality).
    """

    enabled: bool = True
    method: str = "dis"
    preset: str = "medium"

    def __post_init__(self):
        if self.method not in FLOW_METHODS:
            raise InputError(f"flow method must be one of {FLOW_METHODS}, got {self.method!r}")
        if self.preset not in FLOW_PRESETS:
            raise InputError(f"flow preset must be one of {FLOW_PRESETS}, got {self.preset!r}")


@dataclass(frozen=True)
class CarryParams:
    """How a dream is carried to the next frame (:func:`dreamstream.core.temporal.dream_start`).

    Attributes:
        blend: share of the warped previous dream in the next start image, 0-1.
        anchor: share of the frame's own low frequencies put back into that start, 0-1.
        regrow: where the flow is unreliable the step grows by ``1 + regrow`` (>= 0).
        mode: one of :data:`CARRY_MODES`: the warped dream itself or its residual.
        steps_next: ascent steps per octave of a carried frame (>= 0).
        octaves_next: pyramid levels of a carried frame (the finest ones), >= 1.
    """

    blend: float = 0.95
    anchor: float = 0.25
    regrow: float = 2.0
    mode: str = "blend"
    steps_next: int = 2
    octaves_next: int = 3

    def __post_init__(self):
        checks = [
            ("blend", 0 <= self.blend <= 1, "between 0 and 1"),
            ("anchor", 0 <= self.anchor <= 1, "between 0 and 1"),
            ("regrow", self.regrow >= 0, ">= 0"),
            ("steps_next", self.steps_next >= 0, ">= 0"),
            ("octaves_next", self.octaves_next >= 1, ">= 1"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise InputError(f"{name} must be {rule}, got {getattr(self, name)!r}")
        if self.mode not in CARRY_MODES:
            raise InputError(f"carry mode must be one of {CARRY_MODES}, got {self.mode!r}")
