"""The parts of a segmented render on disk: their sinks and their clocks.

Segments (:mod:`.task`) and seams (:mod:`.seams`) are both written as parts:
a sink without audio, which the join adds once, with the encoder settings of
the whole render; each reports when its first frame falls on the input's
clock. Both import this module, so neither imports the other.
"""

from __future__ import annotations

from fractions import Fraction

from dreamstream.stream.io import open_sink, sink_options
from dreamstream.stream.io.frame import Sink


def first_time(frame, fps) -> str:
    """A frame's time on the input's clock, as exact "num/den" seconds."""
    if frame.pts is not None:
        return str(Fraction(frame.pts) * frame.time_base)
    return str(Fraction(frame.index) / Fraction(fps or 25))


def open_part(job, source) -> Sink:
    """The sink of one part of a segmented render (a segment or a seam): no audio, which
    the join adds once, and the encoder options of the whole render (``job.encoder``)."""
    return open_sink(
        job.output,
        **{**sink_options(source), "audio_from": None},
        **job.encoder.kwargs(),
        metadata=job.metadata,
        overwrite=True,
        resume=True,
    )
