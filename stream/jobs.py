"""One render from an input spec to an output spec: what the CLI and API run.

Order matters for "nothing is lost": the input is opened and the output
checked before any model loads, and the output is opened (under a temporary
name) only when everything else is ready.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
import threading
import time

from dreamstream.stream import pipeline
from dreamstream.stream.effects import make_effects
from dreamstream.stream.io import (
    check_resume,
    check_sink,
    open_sink,
    open_source,
    read_image,
    sink_options,
)
from dreamstream.stream.io.locks import EVERYTHING, lock_output
from dreamstream.stream.io.positions import index_of
from dreamstream.stream.processors import check_dream_size, check_pictures, make_processor
from dreamstream.stream.settings import Settings


def render_file(
    mode: str,
    input_spec: str,
    output_spec: str,
    settings: Settings,
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = False,
    stop: threading.Event | None = None,
) -> dict:
    """Render ``input_spec`` to ``output_spec`` in ``mode`` ("dream" or "style").

    Args:
        mode: "dream" or "style".
        input_spec: video file, image, frame folder or pattern, ``camera:N``, URL.
        output_spec: video file, image, frame folder or pattern, ``window``, ``null``.
        settings: everything else.
        overwrite: replace an existing output.
        resume: (image sequences) keep frames already on disk and continue after them.
        progress: draw a progress line on stderr.
        stop: set it to stop early; SIGINT/SIGTERM set it too.

    Returns:
        The run's summary (see :meth:`pipeline.Stats.summary`), with ``output``,
        ``warning`` (a truncated input) and the settings used.

    Raises:
        InputError: bad input, output or settings (nothing is created).
    """
    s = settings
    if s.workers or s.ray:  # segments on Ray: Ray is imported only here
        from dreamstream.stream.farm.job import render_segmented

        return render_segmented(
            mode,
            input_spec,
            output_spec,
            s,
            software=f"dreamstream {_version()}",
            overwrite=overwrite,
            resume=resume,
            progress=progress,
            stop=stop,
            use_gpu=os.environ.get("CUDA_VISIBLE_DEVICES") != "-1",  # --device cpu
        )
    # The typed parameters of each part are made here, once; none sees the whole settings.
    flow = s.flow_params()
    with (
        open_source(input_spec, **s.source_options().kwargs()) as source,
        contextlib.ExitStack() as held,
    ):
        # Everything that can be refused is refused here, before any model loads.
        options = sink_options(source)
        encoder = s.encoder_options().kwargs()
        check_sink(output_spec, options, overwrite=overwrite, resume=resume, **encoder)
        lock = lock_output(output_spec, _frames_of(source))  # one render per output
        if lock is not None:
            held.callback(lock.release)
            # Again under the lock: a render that just ended may have made the output.
            check_sink(output_spec, options, overwrite=overwrite, resume=resume, **encoder)
        if resume:
            check_resume(output_spec, mode, s.as_dict())
        if mode == "dream":
            check_dream_size(source.size)
        setup = s.setup(mode, source.fps)
        check_pictures(mode, setup)
        effects = make_effects(s.effects_setup(), source.size)
        processor = make_processor(mode, setup)
        metadata = {"software": f"dreamstream {_version()}", "mode": mode, "settings": s.as_dict()}
        if mode == "dream":  # what --precision auto chose on this machine
            used = processor.dreamer.params
            metadata["compute"] = {
                "precision": used.precision,
                "xla": used.xla,
                "runtime": processor.runtime,
            }
        elif hasattr(processor, "runtime"):  # what --runtime auto chose for the style network
            metadata["compute"] = processor.runtime.as_dict()
        sink = open_sink(
            output_spec,
            **options,
            **encoder,
            metadata=metadata,
            overwrite=overwrite,
            resume=resume,
        )
        try:
            state = (
                _resume_state(sink, index_of(source.window.start, source.fps, 0), source.size)
                if resume
                else None
            )
        except BaseException:
            sink.abort()
            raise
        bar = _Progress(source.count) if progress and sys.stderr.isatty() else None
        stats = pipeline.run(
            source,
            processor,
            sink,
            progress=bar,
            stop=stop,
            flow=flow.enabled,
            flow_method=flow.method,
            flow_preset=flow.preset,
            resume=state,
            effects=effects,
        )
        if bar:
            bar.done()
        summary = stats.summary()
        summary.update(
            output=str(sink.path or output_spec),
            warning=source.warning,
            frames_read=source.frames_read,
            **metadata,  # software, mode, settings and (dream) compute
        )
    return summary


def render_animation_file(
    input_spec: str,
    output_spec: str,
    settings,
    *,
    progress: bool = False,
    stop: threading.Event | None = None,
    **options,
) -> dict:
    """An animation (``dreamstream animate``): in one process, or in segments on Ray.

    Args:
        input_spec, output_spec, settings: as
            :func:`~dreamstream.stream.animate.render_animation`; with ``workers``
            or ``ray`` set the animation is cut into segments
            (:func:`~dreamstream.stream.farm.animation.render_animation_segmented`).
        progress, stop: segments only: one progress line on stderr, and an event
            that stops the render (finished segments are kept for ``resume``).
        **options: ``fps``, ``audio``, ``overwrite``, ``resume``, ``software``.
    """
    if settings.workers or settings.ray:  # segments on Ray: Ray is imported only here
        from dreamstream.stream.farm.animation import render_animation_segmented

        return render_animation_segmented(
            input_spec,
            output_spec,
            settings,
            progress=progress,
            stop=stop,
            use_gpu=os.environ.get("CUDA_VISIBLE_DEVICES") != "-1",  # --device cpu
            **options,
        )
    from dreamstream.stream.animate import render_animation

    return render_animation(input_spec, output_spec, settings, **options)


def _frames_of(source) -> tuple[int, int | None]:
    """The frame range ``[first, last)`` a render of ``source`` covers (``last`` None: open)."""
    window = source.window
    first = index_of(window.start, source.fps, 0)
    if first is None:  # a time without a frame rate: claim the whole folder
        return EVERYTHING
    last = index_of(window.end, source.fps, None) if window.end is not None else None
    if window.frames is not None:
        last = first + window.frames if last is None else min(last, first + window.frames)
    return first, last


def _resume_state(sink, start: int | None, size) -> pipeline.ResumeState | None:
    """Where to pick up an image-sequence render of frames ``start`` on, from the disk.

    Only frames from this render's own start count: the frames done in a row
    from ``start`` are kept, and rendering resumes at the first one missing
    (frames on disk after a gap are rendered again, with the carry restored).
    Frames before ``start`` or after this range (another part of a split
    render) are neither skipped nor used. A frame counts as done only when its
    file is whole and of ``size`` (see :func:`~dreamstream.stream.io.probe.image_file_problem`:
    an empty, cut or foreign file ends the row); the last one, which seeds the
    carry, must decode in full, or it is rendered again too.
    """
    from dreamstream.stream.io.probe import image_file_problem, image_problem

    done = sink.existing() if hasattr(sink, "existing") else set()
    first = index = start or 0
    while index in done and image_file_problem(sink.file_for(index), size) is None:
        index += 1
    while index > first:
        path = sink.file_for(index - 1)
        if image_problem(path, size) is None:
            return pipeline.ResumeState(next_index=index, last_output=read_image(path))
        index -= 1
    return None


def software() -> str:
    """What wrote an output: ``dreamstream VERSION``, for its metadata."""
    return f"dreamstream {_version()}"


def _version() -> str:
    try:
        return importlib.metadata.version("dreamstream")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class _Progress:
    """A one-line progress display on stderr: frames, frames/s, time left."""

    def __init__(self, total: int | None):
        self.total, self.begin = total, time.perf_counter()

    def __call__(self, stats: pipeline.Stats) -> None:
        elapsed = time.perf_counter() - self.begin
        fps = stats.frames / elapsed if elapsed > 0 else 0.0
        text = f"frame {stats.frames}" + (f"/{self.total}" if self.total else "")
        text += f"  {fps:.2f} fps"
        if self.total and fps > 0:
            left = max(self.total - stats.frames - stats.skipped, 0) / fps
            text += f"  ETA {int(left // 60)}:{int(left % 60):02d}"
        sys.stderr.write("\r" + text.ljust(48))
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")
