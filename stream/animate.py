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

import dataclasses
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
    begin: int = 0,
    end: int | None = None,
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
        begin: without ``resume``, the frame ``start`` is dreamt in full as
            (a farm segment starts part-way, from the still already moved there).
        end: the frame to stop before (default: ``plan.frames``).

    Returns:
        How many frames were written by this call.
    """
    end = plan.frames if end is None else end
    if resume is None:
        index, image = begin, None
    else:
        index, image = resume
        if not 0 < index <= plan.frames:
            raise InputError(f"cannot resume at frame {index} of {plan.frames}")
    written = 0
    while index < end:
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


# ------------------------------------------------------------------ the render

DEFAULT_FRAMES = 120


def plan_from(settings, fps) -> AnimationPlan:
    """The plan of ``settings``: its frame count, motion fields and their keyframes."""
    from dreamstream.stream.schedules import split_keyframes

    keyed = split_keyframes(settings.keyframes)

    def schedule(name):
        return keyed.get(name) or parse_schedule(float(getattr(settings, name)), name)

    return AnimationPlan(
        frames=settings.frames or DEFAULT_FRAMES,
        fps=Fraction(fps).limit_denominator(1001),
        zoom=schedule("zoom"),
        rotate=schedule("rotate"),
        pan_x=schedule("pan_x"),
        pan_y=schedule("pan_y"),
    )


def last_frame(input_spec: str, width: int | None, max_pixels: int) -> np.ndarray:
    """The still to start from: an image, or the last frame of a video (a tail)."""
    from dreamstream.stream.io import open_source

    last = None
    with open_source(input_spec, width=width, max_pixels=max_pixels) as source:
        for frame in source:
            last = frame.image
    if last is None:
        raise InputError(f"no frame could be read from {input_spec}")
    return last


def render_animation(
    input_spec: str,
    output_spec: str,
    settings,
    *,
    fps: float = 25.0,
    audio: str | None = None,
    overwrite: bool = False,
    resume: bool = False,
    software: str = "dreamstream",
    on_frame: Callable[[int, np.ndarray], None] | None = None,
) -> dict:
    """Animate a still (or a video's last frame) into ``output_spec``.

    Args:
        input_spec: an image, or a video whose last frame starts the animation.
        output_spec: a video file or an image folder (PNG folders resume exactly).
        settings: the dream's settings; ``frames`` is the animation's length,
            ``zoom``/``rotate``/``pan_x``/``pan_y`` its motion (all keyframeable).
        fps: frames per second of the output.
        audio: a file whose audio track goes into a video output.
        overwrite, resume: as for a render.

    Returns:
        A summary: output, frames written, seconds, fps, settings.
    """
    import time
    from pathlib import Path

    from dreamstream.stream.io import check_resume, check_sink, open_sink, read_image
    from dreamstream.stream.processors import DreamProcessor

    if settings.workers or settings.ray:  # the front sends those to the farm
        raise InputError(
            "render_animation renders in one process; --workers/--ray animations go through "
            "dreamstream.stream.jobs.render_animation_file"
        )
    plan = plan_from(settings, fps)
    start = last_frame(input_spec, settings.width, settings.max_pixels)
    h, w = start.shape[:2]
    options = {"input_spec": input_spec, "fps": plan.fps, "size": (w, h), "count": plan.frames}
    options["audio_from"] = Path(audio) if audio else None
    if audio and not Path(audio).is_file():
        raise InputError(f"audio file not found: {audio}")
    encoder = settings.encoder_options().kwargs()
    check_sink(output_spec, options, overwrite=overwrite, resume=resume, **encoder)
    if resume:
        check_resume(output_spec, "animate", settings.as_dict())
    setup = dataclasses.replace(settings.setup("dream", float(plan.fps)), flow=False)
    processor = DreamProcessor(setup)
    metadata = {"software": software, "mode": "animate", "settings": settings.as_dict()}
    sink = open_sink(
        output_spec, **options, **encoder, metadata=metadata, overwrite=overwrite, resume=resume
    )
    begin = time.perf_counter()
    with sink:
        state = _resume_state(sink, read_image) if resume else None
        written = animate(
            start,
            plan,
            lambda img, i: processor.first(img, i),
            lambda img8, moved, i: processor.grow(img8, moved, i),
            sink.write,
            resume=state,
            on_frame=on_frame,
        )
    seconds = time.perf_counter() - begin
    return {
        "output": str(getattr(sink, "path", None) or output_spec),
        "frames": written,
        "resumed_at": state[0] if state else None,
        "seconds": round(seconds, 3),
        "fps": round(written / seconds, 3) if seconds > 0 else None,
        **metadata,
    }


def _resume_state(sink, read_image) -> tuple[int, np.ndarray] | None:
    """``(next index, last frame)`` of the frames already in an image folder, if any."""
    done = sink.existing() if hasattr(sink, "existing") else set()
    index = 0
    while index in done:
        index += 1
    return (index, read_image(sink.file_for(index - 1))) if index else None
