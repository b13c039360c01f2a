"""What a worker runs for one segment: warm up, render, write, report.

This module does not import Ray; :mod:`.cluster` runs :func:`render_segment`
as a Ray task. A worker process keeps the last processor it built, so the
segments it renders after its first one skip loading the models.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from dreamstream.stream import pipeline
from dreamstream.stream.farm.plan import Segment
from dreamstream.stream.farm.seams import HEAD, LEAD_OUT, raw_file, save_raw
from dreamstream.stream.io.frame import Sink
from dreamstream.stream.settings import Settings

_cached: dict = {}  # (mode, settings) -> processor: one, the models are large


@dataclass(frozen=True)
class SegmentJob:
    """Everything a worker needs to render one segment (picklable, absolute paths).

    Attributes:
        mode: "dream" or "style".
        input: the input file, frame folder or pattern.
        output: the segment's video file, or the render's frame pattern (``%05d``).
        segment: which frames to warm up on, deliver and keep for the seams.
        settings: the render's settings.
        metadata: written into the segment's file (video) or sidecar (frames).
        seams: the folder where head and lead-out frames wait for their seams.
    """

    mode: str
    input: str
    output: str
    segment: Segment
    settings: Settings
    metadata: dict
    seams: str = ""


class _Router(Sink):
    """Sends each rendered frame where its index says (see :class:`.plan.Segment`).

    Warm-up frames are dropped, head and lead-out frames saved for the seams,
    the segment's own frames passed to ``sink``.
    """

    def __init__(self, sink: Sink, segment: Segment, seams: Path, tally=None):
        super().__init__()
        self.sink, self.segment, self.seams, self.tally = sink, segment, seams, tally
        self.first_own = None
        self.head = self.lead_out = 0

    def write(self, frame) -> None:
        g, index = self.segment, frame.index
        if index < g.first:
            return
        if index < g.own_first:
            save_raw(raw_file(self.seams, g.number, HEAD, index), frame.image)
            self.head += 1
        elif index < g.last:
            self.first_own = frame if self.first_own is None else self.first_own
            self.sink.write(frame)
            super().write(frame)
        else:
            save_raw(raw_file(self.seams, g.number + 1, LEAD_OUT, index), frame.image)
            self.lead_out += 1
            return
        if self.tally is not None:
            self.tally.add.remote(1)

    def close(self) -> None:
        self.sink.close()
        super().close()

    def abort(self) -> None:
        self.sink.abort()
        super().abort()


def processor_for(mode: str, settings: Settings):
    """The processor for these settings, built once per worker process."""
    key = (mode, settings)
    if key not in _cached:
        from dreamstream.stream.processors import make_processor

        _cached.clear()  # free the previous models before loading others
        _cached[key] = make_processor(mode, settings)
    return _cached[key]


def first_time(frame, fps) -> str:
    """A frame's time on the input's clock, as exact "num/den" seconds."""
    if frame.pts is not None:
        return str(Fraction(frame.pts) * frame.time_base)
    return str(Fraction(frame.index) / Fraction(fps or 25))


def open_part(job, source) -> Sink:
    """The sink of one part of a segmented render (a segment or a seam): no audio, which
    the join adds once, and the encoder settings of the whole render."""
    from dreamstream.stream.io import open_sink, sink_options

    s = job.settings
    return open_sink(
        job.output,
        **{**sink_options(source), "audio_from": None},
        crf=s.crf,
        preset=s.encoder_preset,
        metadata=job.metadata,
        overwrite=True,
        resume=True,
    )


def render_segment(job: SegmentJob, tally=None) -> dict:
    """Render one segment: warm-up (discarded), head, own frames and lead-out.

    Args:
        job: the segment and everything about the render.
        tally: a progress actor with ``add(frames)``, or ``None``.

    Returns:
        ``frames`` written, ``head`` and ``lead_out`` frames kept for the seams,
        ``start_time`` (the first written frame's time on the input's clock),
        ``compute`` (dream precision), ``node``, ``pid`` and ``seconds``.
    """
    from dreamstream.stream.io import open_source

    begin = time.perf_counter()
    s, g = job.settings, job.segment
    processor = processor_for(job.mode, s)
    end = g.last + g.lead_out
    window = {**s.source_options(), "start": g.warm_first, "end": end, "frames": None}
    with open_source(job.input, **window) as source:
        sink = open_part(job, source)
        router = _Router(sink, g, Path(job.seams), tally)
        options = {"flow_method": s.flow_method, "flow_preset": s.flow_preset}
        pipeline.run(source, processor, router, flow=s.flow, **options)
        fps = source.fps
    if router.first_own is None:
        raise RuntimeError(f"segment {g.number}: no frame of {g.own_first}-{g.last - 1} rendered")
    compute = getattr(getattr(processor, "dreamer", None), "params", None)
    return {
        "frames": router.frames_written,
        "head": router.head,
        "lead_out": router.lead_out,
        "start_time": first_time(router.first_own, fps),
        "compute": {"precision": compute.precision, "xla": compute.xla} if compute else None,
        "node": socket.gethostname(),
        "pid": os.getpid(),
        "seconds": round(time.perf_counter() - begin, 3),
        "output": str(Path(job.output)),
    }
