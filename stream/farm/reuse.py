"""Whether a segment an earlier run finished can be reused: its files probed, not trusted.

The manifest says which segments an earlier run finished and with which
settings; this module checks that what they made is still there and whole
before ``--resume`` reuses it. A segment with anything missing, empty, cut
short, foreign or edited is rendered again; only that segment.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from dreamstream.stream.farm.plan import Segment
from dreamstream.stream.farm.seams import HEAD, LEAD_OUT, raw_file
from dreamstream.stream.io.probe import image_file_problem, image_problem, video_problem
from dreamstream.stream.io.specs import VIDEO_CODECS


def reusable(r, entry: dict | None, g: Segment) -> bool:
    """Whether segment ``g`` of the render ``r`` can be reused.

    Args:
        r: the render (a ``job._Render``: its paths, frame size, times and metadata).
        entry: the manifest's entry of ``g`` for these settings, or ``None``.
        g: the segment.

    Returns:
        True only when ``entry`` exists, every seam picture ``g`` made decodes at
        the frame size, and its own frames are whole: the segment video decodes
        to exactly its frames (see :func:`segment_whole`), or in a frame folder
        every frame file is whole and of the frame size.
    """
    if entry is None:
        return False
    waiting = [(g.number, HEAD, i) for i in range(g.first, g.first + g.fade)]
    waiting += [(g.number + 1, LEAD_OUT, i) for i in range(g.last, g.last + g.lead_out)]
    if any(image_problem(raw_file(r.seams, *w), r.size) for w in waiting):
        return False
    if r.kind == "video":
        return segment_whole(r, entry, g)
    folder, name = r.out_path.parent, r.out_path.name
    frames = (folder / (name % i) for i in range(g.own_first, g.last))
    return not any(image_file_problem(f, r.size) for f in frames)


def segment_whole(r, entry: dict, g: Segment) -> bool:
    """Whether ``entry`` names this render's file for ``g`` and its time, and the file is a
    whole video of ``g``'s frames, of this codec and size, made with these settings."""
    output = r.job(g).output
    try:
        start = Fraction(entry["start_time"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return False
    half_frame = 1 / (2 * r.span.fps)
    if entry.get("output") != output or abs(start - r.span.time_of(g.own_first)) > half_frame:
        return False
    w, h = r.size
    problem = video_problem(
        Path(output),
        frames=g.last - g.own_first,
        size=(w + w % 2, h + h % 2),  # the video sink pads odd sides
        codec=VIDEO_CODECS[r.out_path.suffix.lower()],
        comment=r.metadata,
    )
    return problem is None
