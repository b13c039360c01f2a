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
from pathlib import Path

from dreamstream.core.params import FlowParams
from dreamstream.stream import pipeline
from dreamstream.stream.farm.parts import first_time, open_part
from dreamstream.stream.farm.plan import Segment
from dreamstream.stream.farm.seams import HEAD, LEAD_OUT, raw_file, save_raw
from dreamstream.stream.io.frame import Sink
from dreamstream.stream.params import (
    ArtSetup,
    DreamSetup,
    EffectsSetup,
    EncoderOptions,
    SourceOptions,
    StyleSetup,
)

__all__ = ["SegmentJob", "first_time", "open_part", "processor_for", "render_segment"]

_cached: dict = {}  # (mode, setup) -> processor: one, the models are large
_segmenters: dict = {}  # (effects setup, landscape) -> segmenter: loaded once per worker


@dataclass(frozen=True)
class SegmentJob:
    """Everything a worker needs to render one segment (picklable, absolute paths).

    Attributes:
        mode: "dream" or "style".
        input: the input file, frame folder or pattern.
        output: the segment's video file, or the render's frame pattern (``%05d``).
        segment: which frames to warm up on, deliver and keep for the seams.
        setup: what the processor is built from (``Settings.setup(mode)``, made by
            the driver; ``precision="auto"`` is resolved on the worker's machine).
        source: the render's source options (the frame range is replaced per segment).
        encoder: the render's encoder options.
        flow: the carry's flow.
        metadata: written into the segment's file (video) or sidecar (frames);
            it records the whole ``Settings.as_dict()``.
        seams: the folder where head and lead-out frames wait for their seams.
        effects: masks and ``--react`` (their state warms up with the carry), or None.
        animation: an animation's plan (:class:`~dreamstream.stream.animate.AnimationPlan`)
            for ``mode="animate"``, else None.
    """

    mode: str
    input: str
    output: str
    segment: Segment
    setup: DreamSetup | StyleSetup | ArtSetup
    source: SourceOptions
    encoder: EncoderOptions
    flow: FlowParams
    metadata: dict
    seams: str = ""
    effects: EffectsSetup | None = None
    animation: object = None


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


def processor_for(mode: str, setup):
    """The processor for this setup, built once per worker process."""
    key = (mode, setup)
    if key not in _cached:
        from dreamstream.stream.processors import make_processor

        _cached.clear()  # free the previous models before loading others
        _cached[key] = make_processor(mode, setup)
    return _cached[key]


def effects_for(setup: EffectsSetup | None, size: tuple[int, int]):
    """Fresh :class:`~dreamstream.stream.effects.Effects` for one segment (None: none on).

    The state starts empty, like an uninterrupted render's at its first frame;
    the segment's warm-up frames grow it. The segmenter is loaded once per worker.
    """
    from dreamstream.stream.effects import Effects, make_effects

    if setup is None or not setup.active:
        return None
    key = (setup, size[0] >= size[1])
    if key not in _segmenters:
        _segmenters.clear()
        _segmenters[key] = make_effects(setup, size).segmenter
    return Effects(setup, _segmenters[key])


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
    g, flow = job.segment, job.flow
    processor = processor_for(job.mode, job.setup)
    window = job.source.window(g.warm_first, g.last + g.lead_out)
    with open_source(job.input, **window.kwargs()) as source:
        sink = open_part(job, source)
        router = _Router(sink, g, Path(job.seams), tally)
        options = {"flow_method": flow.method, "flow_preset": flow.preset}
        options["effects"] = effects_for(job.effects, source.size)
        pipeline.run(source, processor, router, flow=flow.enabled, **options)
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
