"""Dream animations from a still: the endless zoom into a dream.

Frame 0 is the picture dreamt in full. Every later frame is the previous
frame moved (zoom about the centre, rotation, pan: :mod:`dreamstream.core.animate`)
and dreamt a few more steps, so the dream grows into what the move uncovers.
Every motion value is a :class:`~dreamstream.core.schedule.Schedule`, read at
the frame's index, so a zoom can ease in and a rotation reverse.

The loop owns the state (the previous frame, ``uint8`` RGB); the dream
callables are stateless. Written to an image folder as PNG, a render resumes
exactly: the last frame on disk is the state the next frame starts from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from dreamstream.core.animate import INTERPOLATIONS, Motion, move
from dreamstream.core.errors import InputError
from dreamstream.core.schedule import Schedule, parse_schedule
from dreamstream.stream.io.frame import Frame

# What --zoom 1.02 --rotate 0.2 --pan 0,1 mean when not given: no motion at all.
_STILL = {"zoom": "1", "rotate": "0", "pan_x": "0", "pan_y": "0"}


def _schedule(name: str) -> Schedule:
    return parse_schedule(_STILL[name], name)


@dataclass(frozen=True)
class AnimationPlan:
    """How many frames, at what rate, moving how.

    Attributes:
        frames: frames to render, frame 0 included (>= 1).
        fps: frames per second of the output; keys in seconds use it.
        zoom, rotate, pan_x, pan_y: per-frame motion (see :class:`Motion`).
        interpolation: how each move resamples, one of :data:`INTERPOLATIONS`.
    """

    frames: int
    fps: Fraction = Fraction(25)
    zoom: Schedule = field(default_factory=lambda: _schedule("zoom"))
    rotate: Schedule = field(default_factory=lambda: _schedule("rotate"))
    pan_x: Schedule = field(default_factory=lambda: _schedule("pan_x"))
    pan_y: Schedule = field(default_factory=lambda: _schedule("pan_y"))
    interpolation: str = "lanczos"

    def __post_init__(self):
        if self.frames < 1:
            raise InputError(f"--frames must be >= 1 for an animation, got {self.frames}")
        if not self.fps > 0:
            raise InputError(f"fps must be > 0, got {self.fps}")
        if self.interpolation not in INTERPOLATIONS:
            raise InputError(
                f"interpolation must be one of {', '.join(INTERPOLATIONS)}, "
                f"got {self.interpolation!r}"
            )
        if min(self.zoom.values) <= 0:
            raise InputError(f"zoom: every value must be > 0, got {self.zoom.text()}")
        for s in (self.zoom, self.rotate, self.pan_x, self.pan_y):
            s.frames(float(self.fps))  # keys in seconds and repeated keys checked now

    def motion(self, index: int) -> Motion:
        """The move that makes frame ``index`` from frame ``index - 1``."""
        fps = float(self.fps)
        return Motion(
            self.zoom.at(index, fps),
            self.rotate.at(index, fps),
            (self.pan_x.at(index, fps), self.pan_y.at(index, fps)),
        )

    def frame(self, image: np.ndarray, index: int) -> Frame:
        """An output frame with its timestamp (``index`` in units of ``1 / fps``)."""
        return Frame(image, index, pts=index, time_base=1 / self.fps)


DreamFirst = Callable[[np.ndarray, int], np.ndarray]
DreamNext = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def animate(
    start: np.ndarray,
    plan: AnimationPlan,
    dream_first: DreamFirst,
    dream_next: DreamNext,
    write: Callable[[Frame], None],
    resume: tuple[int, np.ndarray] | None = None,
    on_frame: Callable[[int, np.ndarray], None] | None = None,
) -> int:
    """Render the animation, frame by frame, into ``write``.

    Args:
        start: the still, ``uint8`` ``HxWx3`` RGB.
        plan: frames, rate and motion.
        dream_first: ``(picture, index) -> dream``: frame 0, dreamt in full.
        dream_next: ``(moved uint8, moved float32 0-255, index) -> dream``: a
            later frame, from the previous one moved (both ``HxWx3`` RGB).
        write: takes each output frame, in order.
        resume: ``(index, frame)``: frame ``index - 1`` is already written and is
            ``frame``; rendering continues at ``index``.
        on_frame: called with each frame's index and image after it is written.

    Returns:
        How many frames were written by this call.
    """
    if resume is None:
        index, image = 0, None
    else:
        index, image = resume
        if not 0 < index <= plan.frames:
            raise InputError(f"cannot resume at frame {index} of {plan.frames}")
    written = 0
    while index < plan.frames:
        if image is None:
            image = dream_first(start, index)
        else:
            moved = move(image, plan.motion(index), plan.interpolation)
            as_uint8 = np.clip(np.rint(moved), 0, 255).astype(np.uint8)
            image = dream_next(as_uint8, moved, index)
        write(plan.frame(image, index))
        if on_frame is not None:
            on_frame(index, image)
        written += 1
        index += 1
    return written
