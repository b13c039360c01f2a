"""Parameters of the dream and style-optimisation engines, importable without a framework.

The CLI and the settings type read their defaults from here, so ``--help``
stays fast and the defaults live in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dreamstream.core.errors import InputError

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
MIN_SIDE = 8  # smaller pictures carry too little to dream on


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
        precision: "float32", or a Keras mixed policy ("mixed_float16",
            "mixed_bfloat16") for GPUs; it only pays off on a GPU, so it is off by default.
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
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")


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
    style_weight: float = 10.0
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
