"""Which frames of an input a render covers, found without decoding a picture.

A segmented render needs exact frame numbers before any worker starts: each
task opens the input at its own segment, and the joined video must hold
exactly the frames an uninterrupted render would. Video frames are counted
from the demuxed packets' timestamps, the same clock
:class:`~dreamstream.stream.sources.VideoSource` measures ``--start``/``--end``
times on; image sequences are counted from their files.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from dreamstream.core.errors import InputError
from dreamstream.stream.io.positions import Window


@dataclass(frozen=True)
class FrameRange:
    """The frames a render covers: ``first <= index < last``, with their start time.

    Attributes:
        first, last: frame indices into the whole input.
        origin: time of frame ``first`` in seconds on the input's clock (a video's
            pts times its time base; ``index / fps`` for image sequences).
        fps: the input's nominal frame rate.
        times: the same for every frame of the range, in order.
    """

    first: int
    last: int
    origin: Fraction
    fps: Fraction
    times: tuple[Fraction, ...] = ()  # of frames first..last-1, on the input's clock

    @property
    def frames(self) -> int:
        return self.last - self.first

    def time_of(self, index: int) -> Fraction:
        """Time of frame ``index`` (``first <= index < last``) in seconds on the input's clock."""
        return self.times[index - self.first]


def frame_range(source) -> FrameRange:
    """The exact frames ``source`` (an opened Source, not yet iterated) will yield.

    Raises:
        InputError: the input is not a video file or image sequence, or the window
            keeps no frame.
    """
    if source.kind == "video":
        pts, tb = _video_pts(source.path)
        times = [p * tb for p in pts]  # seconds on the file's clock
    elif source.kind == "images":
        from dreamstream.stream.io import list_images

        times = [Fraction(i) / source.fps for i in range(len(list_images(source.spec)))]
    else:
        raise InputError(
            f"segment rendering needs a video file or a frame folder as input, got: {source.spec}"
        )
    kept = _kept([t - times[0] for t in times], source.window)
    if not kept:
        raise InputError(f"no frame to render in {source.spec} between --start and --end")
    fps = Fraction(source.fps or 25)
    return FrameRange(
        kept[0], kept[-1] + 1, times[kept[0]], fps, tuple(times[kept[0] : kept[-1] + 1])
    )


def _kept(times: list[Fraction], window: Window) -> list[int]:
    """Indices of the frames at ``times`` (seconds from the first) that ``window`` keeps."""
    kept = []
    for index, time in enumerate(times):
        seconds = float(time)
        if window.past_end(index, seconds) or len(kept) == window.frames:
            break
        if not window.before_start(index, seconds):
            kept.append(index)
    return kept


def _video_pts(path) -> tuple[list[int], Fraction]:
    """The timestamps of a video's frames in display order, and their time base."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = Fraction(stream.time_base)
        pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None and p.size)
    if not pts:
        raise InputError(f"no video frame in: {path}")
    return pts, tb
