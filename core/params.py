"""Parameters of the dream engine, importable without loading a framework.

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
