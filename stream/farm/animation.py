"""``dreamstream animate`` in segments: each segment grows its own dream from the still.

An animation is recursive: frame n is frame n-1 moved (zoom, rotate, pan)
and dreamt a few steps more, so no segment can wait for its predecessor's
last frame. A later segment instead starts from the still carried through
every move up to its warm-up's first frame W (the motion schedules read at
each absolute frame 1..W), composed into one affine and resampled once
(:func:`~dreamstream.core.animate.move_many`: one Lanczos pass, so the start
is no blurrier than after a single move); it dreams that in full as frame W,
grows it ``--warmup`` frames (discarded) and renders its own frames. The
first segment is exactly the single-process animation (same frames, seeds
and moves). Where segments meet, the previous one renders on past its end
and the frames are cross-faded as for videos (:mod:`.seams`).

Output, manifest, resume and the join are the video farm's (:mod:`.job`):
a video (segments joined by stream copy, the ``--audio`` file's audio muxed
once) or a frame folder written by the workers.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from dreamstream.core.animate import move_many
from dreamstream.core.errors import InputError
from dreamstream.stream.farm import plan as planning
from dreamstream.stream.farm.frames import FrameRange
from dreamstream.stream.farm.task import SegmentJob, _Router, processor_for


def warm_start(still: np.ndarray, plan, first: int) -> np.ndarray:
    """The picture frame ``first`` is dreamt from: ``still`` moved by frames 1..first's moves.

    Args:
        still: uint8 HxWx3 RGB.
        plan: the :class:`~dreamstream.stream.animate.AnimationPlan`.
        first: the frame a segment starts at (0: the still itself).

    Returns:
        uint8 HxWx3 RGB.
    """
    if first == 0:
        return still
    moved = move_many(still, [plan.motion(i) for i in range(1, first + 1)], plan.interpolation)
    return np.clip(np.rint(moved), 0, 255).astype(np.uint8)


def _open(job: SegmentJob, size: tuple[int, int]):
    """The sink of one part (a segment or a seam): no audio, the render's encoder."""
    from dreamstream.stream.io import open_sink

    plan = job.animation
    return open_sink(
        job.output,
        input_spec=job.input,
        fps=plan.fps,
        size=size,
        count=plan.frames,
        audio_from=None,
        **job.encoder.kwargs(),
        metadata=job.metadata,
        overwrite=True,
        resume=True,
    )


def _still(job: SegmentJob) -> np.ndarray:
    from dreamstream.stream.animate import last_frame

    return last_frame(job.input, job.source.width, job.source.max_pixels)


def render_animation_segment(job: SegmentJob, tally=None) -> dict:
    """Render one segment of an animation: warm-up (discarded), head, own frames, lead-out.

    Returns:
        As :func:`~dreamstream.stream.farm.task.render_segment`.
    """
    from dreamstream.stream.animate import animate

    begin = time.perf_counter()
    g, plan = job.segment, job.animation
    processor = processor_for("dream", job.setup)
    still = _still(job)
    sink = _open(job, (still.shape[1], still.shape[0]))
    router = _Router(sink, g, Path(job.seams), tally)
    try:
        animate(
            warm_start(still, plan, g.warm_first),
            plan,
            lambda img, i: processor.first(img, i),
            lambda img8, moved, i: processor.grow(img8, moved, i),
            router.write,
            begin=g.warm_first,
            end=g.last + g.lead_out,
        )
    except BaseException:
        router.abort()
        raise
    router.close()
    compute = processor.dreamer.params
    return {
        "frames": router.frames_written,
        "head": router.head,
        "lead_out": router.lead_out,
        "start_time": str(Fraction(g.own_first) / plan.fps),
        "compute": {"precision": compute.precision, "xla": compute.xla},
        "node": socket.gethostname(),
        "pid": os.getpid(),
        "seconds": round(time.perf_counter() - begin, 3),
        "output": str(Path(job.output)),
    }


def make_animation_seam(job: SegmentJob, folder: Path) -> dict:
    """Cross-fade the seam before ``job.segment`` and write it to ``job.output``.

    Returns:
        ``frames`` written and ``start_time`` of the first (seconds, "num/den").
    """
    from dreamstream.stream.farm.seams import faded_frames

    g, plan = job.segment, job.animation
    faded = faded_frames(g, folder)
    h, w = next(iter(faded.values())).shape[:2]
    with _open(job, (w, h)) as sink:
        for index in sorted(faded):
            sink.write(plan.frame(faded[index], index))
    if sink.frames_written != g.fade:
        raise InputError(f"the seam before frame {g.first} could not be written")
    return {"frames": sink.frames_written, "start_time": str(Fraction(g.first) / plan.fps)}


def render_animation_segmented(
    input_spec: str,
    output_spec: str,
    settings,
    *,
    fps: float = 25.0,
    audio: str | None = None,
    software: str = "dreamstream",
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = False,
    stop=None,
    use_gpu: bool = True,
) -> dict:
    """Animate ``input_spec`` into ``output_spec`` in segments on a Ray cluster.

    Args: as :func:`~dreamstream.stream.animate.render_animation`, and ``progress``,
        ``stop`` and ``use_gpu`` as :func:`~dreamstream.stream.farm.job.render_segmented`.

    Returns:
        The farm's summary (frames, seconds, segments rendered and reused, ...).

    Raises:
        InputError: bad input, output or settings, a missing Ray, or storage the
            cluster's nodes do not share.
    """
    from dreamstream.stream.farm import cluster as clusters
    from dreamstream.stream.farm.job import _metadata, prepare_and_render

    clusters.require_ray()
    metadata = _metadata(software, "animate", settings)
    args = (input_spec, output_spec, settings, fps, audio, metadata, overwrite, resume, use_gpu)
    return prepare_and_render(
        lambda: _prepare(*args), settings, output_spec, overwrite, resume, progress, stop
    )


def _prepare(input_spec, output_spec, s, fps, audio, metadata, overwrite, resume, use_gpu):
    """Check the still, the audio and the output, and describe the render (no model loads)."""
    from dreamstream.stream.animate import last_frame, plan_from
    from dreamstream.stream.farm.job import _Render
    from dreamstream.stream.io import check_resume, check_sink, output_kind
    from dreamstream.stream.processors import check_dream_size

    plan = plan_from(s, fps)
    if s.segments:  # refused before any cluster starts
        planning.plan_segments(0, plan.frames, s.segments, s.warmup)
    still = last_frame(input_spec, s.width, s.max_pixels)
    size = (still.shape[1], still.shape[0])
    if audio and not Path(audio).is_file():
        raise InputError(f"audio file not found: {audio}")
    encoder = s.encoder_options()
    options = {"input_spec": input_spec, "fps": plan.fps, "size": size, "count": plan.frames}
    options["audio_from"] = Path(audio) if audio else None
    check_sink(output_spec, options, overwrite=overwrite, resume=resume, **encoder.kwargs())
    if resume:
        check_resume(output_spec, "animate", metadata["settings"])
    kind, out_path = output_kind(output_spec)
    if kind not in ("video", "images"):
        raise InputError(
            f"segment rendering writes a video file or a frame folder, got: {output_spec}"
        )
    check_dream_size(size)
    setup = dataclasses.replace(s.setup("dream", float(plan.fps)), flow=False)
    input_path = Path(input_spec).resolve()
    # The rate decides which frame each keyframe in seconds lands on: part of the key.
    identity = {**planning.input_identity(input_path), "fps": str(plan.fps)}
    key = planning.render_key("animate", identity, s)
    times = tuple(Fraction(i) / plan.fps for i in range(plan.frames))
    span = FrameRange(0, plan.frames, Fraction(0), plan.fps, times)
    parts = (setup, s.source_options(), encoder, s.flow_params(), metadata, key, size, span)
    return _Render(
        "animate",
        input_path,
        kind,
        out_path,
        *parts,
        use_gpu,
        audio_from=Path(audio).resolve() if audio else None,
        animation=plan,
        task=render_animation_segment,
        seam=make_animation_seam,
    )
