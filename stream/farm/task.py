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
from dreamstream.stream.framesink import Sink
from dreamstream.stream.settings import Settings

_cached: dict = {}  # (mode, settings) -> processor: one, the models are large


@dataclass(frozen=True)
class SegmentJob:
    """Everything a worker needs to render one segment (picklable, absolute paths).

    Attributes:
        mode: "dream" or "style".
        input: the input file, frame folder or pattern.
        output: the segment's video file, or the render's frame pattern (``%05d``).
        segment: which frames to warm up on and to deliver.
        settings: the render's settings.
        metadata: written into the segment's file (video) or sidecar (frames).
    """

    mode: str
    input: str
    output: str
    segment: Segment
    settings: Settings
    metadata: dict


class _Delivered(Sink):
    """Passes frames from ``first`` on to ``sink``; the warm-up frames before it are dropped."""

    def __init__(self, sink: Sink, first: int, tally=None):
        super().__init__()
        self.sink, self.first, self.tally = sink, first, tally
        self.first_frame = None

    def write(self, frame) -> None:
        if frame.index < self.first:
            return
        if self.first_frame is None:
            self.first_frame = frame
        self.sink.write(frame)
        super().write(frame)
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


def render_segment(job: SegmentJob, tally=None) -> dict:
    """Render one segment: its warm-up frames (discarded), then its own frames.

    Args:
        job: the segment and everything about the render.
        tally: a progress actor with ``add(frames)``, or ``None``.

    Returns:
        ``frames`` delivered, ``start_time`` (the first delivered frame's time on the
        input's clock, as "num/den" seconds), ``compute`` (dream precision), ``node``,
        ``pid`` and ``seconds``.
    """
    from dreamstream.stream.sinks import open_sink
    from dreamstream.stream.sources import open_source

    begin = time.perf_counter()
    s, seg = job.settings, job.segment
    processor = processor_for(job.mode, s)
    with open_source(job.input, start=seg.warm_first, end=seg.last, width=s.width) as source:
        sink = open_sink(
            job.output,
            source=source,
            crf=s.crf,
            preset=s.encoder_preset,
            metadata=job.metadata,
            overwrite=True,
            resume=True,
            audio=False,  # the join muxes the source's audio once
        )
        delivered = _Delivered(sink, seg.first, tally)
        pipeline.run(
            source,
            processor,
            delivered,
            flow=s.flow,
            flow_method=s.flow_method,
            flow_preset=s.flow_preset,
        )
        fps = source.fps or Fraction(25)
    first = delivered.first_frame
    start = first.pts * first.time_base if first.pts is not None else Fraction(first.index) / fps
    compute = getattr(getattr(processor, "dreamer", None), "params", None)
    return {
        "frames": delivered.frames_written,
        "start_time": str(Fraction(start)),
        "compute": {"precision": compute.precision, "xla": compute.xla} if compute else None,
        "node": socket.gethostname(),
        "pid": os.getpid(),
        "seconds": round(time.perf_counter() - begin, 3),
        "output": str(Path(job.output)),
    }
