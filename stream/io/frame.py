"""The vocabulary of I/O: :class:`Frame`, and the :class:`Source` and :class:`Sink` bases.

A frame's ``image`` is a NumPy ``uint8`` array, ``HxWx3``, **RGB**, in display
orientation; ``pts``/``time_base`` are the decoder's own timestamps (``None``
for image sequences and cameras); nothing here re-times a frame. Sources
yield frames; sinks take the *output* frames, in the same convention.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.params import MAX_PIXELS
from dreamstream.stream.io.files import drop_empty, make_folders
from dreamstream.stream.io.positions import Window, index_of

log = logging.getLogger("dreamstream.stream.io")


@dataclass(frozen=True)
class Frame:
    """One frame on its way through the pipeline.

    Attributes:
        image: ``uint8`` ``HxWx3`` RGB array in display orientation.
        index: 0-based position of the frame in the whole source (frames skipped by
            ``start`` still count), which is also its output frame number.
        pts: presentation timestamp in ``time_base`` units, as decoded; ``None`` for
            image sequences and cameras.
        time_base: seconds per ``pts`` unit, or ``None`` with ``pts``.
    """

    image: np.ndarray
    index: int
    pts: int | None = None
    time_base: Fraction | None = None

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, or ``None`` without a timestamp."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)


class Source:
    """An iterator of :class:`Frame` and a context manager; iterates once.

    Attributes:
        kind: ``"video"``, ``"images"``, ``"image"``, ``"camera"`` or ``"url"``.
        path: the file or folder read (``None`` for cameras and URLs).
        fps: nominal frame rate, or ``None`` when unknown.
        size: ``(width, height)`` of the frames it yields, after resizing.
        count: how many frames it will yield, if known (an estimate for some videos).
        has_audio: the file has an audio stream (a sink may copy it).
        start_time: seconds from the first frame to the first kept frame.
        end_time: seconds from the first frame to the end of the kept range, or ``None``.
        time_base: unit of the frames' ``pts`` (``None`` without timestamps).
        frames_read: frames yielded so far.
        truncated: decoding stopped early or skipped damaged data (see ``warning``).
        warning: a one-line description of what went wrong, or ``None``.
    """

    kind: str = ""

    def __init__(self, window: Window, width: int | None, max_pixels: int = MAX_PIXELS):
        self.window = window
        self._width = width
        self.max_pixels = max_pixels
        self.path: Path | None = None
        self.spec: str = ""
        self.fps: Fraction | None = None
        self.time_base: Fraction | None = None  # of Frame.pts, when frames have one
        self.size: tuple[int, int] = (0, 0)
        self.count: int | None = None
        self.has_audio = False
        self.frames_read = 0
        self.truncated = False
        self._warnings: dict[str, list] = {}  # what went wrong -> [first detail, count, said]
        self._started = False

    @property
    def start_time(self) -> float:
        """Start of the kept range in seconds from the source's first frame."""
        if self.window.start is None:
            return 0.0
        return self.window.start.to_seconds(self.fps) or 0.0

    @property
    def end_time(self) -> float | None:
        """End of the kept range in seconds, or ``None`` when it runs to the end."""
        ends = []
        if self.window.end is not None:
            ends.append(self.window.end.to_seconds(self.fps))
        if self.window.frames is not None and self.fps:
            ends.append(self.start_time + float(self.window.frames / self.fps))
        ends = [e for e in ends if e is not None]
        return min(ends) if ends else None

    def __iter__(self) -> Iterator[Frame]:
        if self._started:
            raise RuntimeError(f"{self.kind} source {self.spec} can only be iterated once")
        self._started = True
        return self._said_at_end(self._frames())

    def _said_at_end(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        try:
            yield from frames
        finally:
            self._say_warnings()

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def _finish_size(self, raw_size: tuple[int, int]) -> None:
        """Set ``size`` from the frames' own size, refusing either above ``max_pixels``."""
        check_pixels(raw_size, self.max_pixels, f"frames of {self.spec} are")
        self.size = target_size(raw_size, self._width)
        check_pixels(self.size, self.max_pixels, f"--width {self._width} makes frames of")

    def _emit(self, image: np.ndarray, index: int, pts=None, time_base=None) -> Frame:
        self.frames_read += 1
        return Frame(resize(image, self.size), index, pts, time_base)

    def _trimmed_count(self, total: int | None) -> int | None:
        """Frames left out of ``total`` after start/end/frames (needs fps for times)."""
        if total is None:
            return None
        first = index_of(self.window.start, self.fps, 0)
        last = index_of(self.window.end, self.fps, total)
        if first is None or last is None:
            return None
        count = max(0, min(last, total) - first)
        return min(count, self.window.frames) if self.window.frames else count

    def _check_start(self, total: int) -> None:
        """Refuse a start at or past the end of a source of exactly ``total`` frames.

        Raises:
            InputError: nothing would be left to read (the message names start and total).
        """
        first = index_of(self.window.start, self.fps, 0)
        if first is not None and first >= total:
            self._refuse_start(f"{total} frames")

    def _check_start_time(self, duration: float) -> None:
        """Refuse a start at or past the end of a source ``duration`` seconds long.

        For containers that count no frames but whose duration ends with the
        last frame's end (Matroska, WebM). Half a frame of slack keeps the last
        frame reachable when the duration is rounded.

        Raises:
            InputError: nothing would be left to read.
        """
        start = self.window.start
        seconds = start.to_seconds(self.fps) if start is not None else None
        slack = 0.5 / float(self.fps) if self.fps else 1e-6
        if seconds is not None and seconds > duration - slack:
            self._refuse_start(f"{duration:g} s")

    def _refuse_start(self, length: str) -> None:
        pos = self.window.start
        said = pos.index if pos.index is not None else f"{pos.seconds:g}s"
        raise InputError(f"start {said} is past the end of {self.spec} ({length})")

    def _warn(self, what: str, detail: str | None = None) -> None:
        """Note that the input is damaged or incomplete (said at the end, once per ``what``).

        Args:
            what: the problem, naming the input; repeats of it are counted, not repeated.
            detail: the first occurrence's particulars (a decoder's message).
        """
        self.truncated = True
        seen = self._warnings.setdefault(what, [detail, 0, False])
        seen[1] += 1

    @property
    def warning(self) -> str | None:
        """The first problem as one line (with how often it happened), or ``None``."""
        return _warning_line(next(iter(self._warnings.items()))) if self._warnings else None

    def _say_warnings(self) -> None:
        """Log each problem not yet said as one line (a damaged file: once, with a count)."""
        for item in self._warnings.items():
            if not item[1][2]:
                item[1][2] = True
                log.warning("%s", _warning_line(item))

    def close(self) -> None:
        """Release files and devices; safe to call twice. Subclasses call it last."""
        self._say_warnings()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        w, h = self.size
        return f"<{type(self).__name__} {self.kind} {self.spec} {w}x{h} fps={self.fps}>"


class Sink:
    """Where output frames go; a context manager.

    Attributes:
        kind: ``"video"``, ``"images"``, ``"image"``, ``"window"`` or ``"null"``.
        path: the final file, the image pattern, or ``None``.
        frames_written: frames accepted so far.
    """

    kind = ""
    path: Path | None = None

    def __init__(self) -> None:
        self.frames_written = 0
        self._done = False
        self._created: list[Path] = []  # folders this sink made, deepest first

    def _make_folder(self, folder: Path) -> None:
        """Create ``folder`` and its missing parents, remembering which were new.

        A sink that ends with nothing in them removes them again, so a failed
        run leaves no empty folders behind.

        Raises:
            InputError: the folder cannot be made (it names the folder and why).
        """
        self._created = make_folders(folder) + self._created

    def _drop_empty_folders(self) -> None:
        drop_empty(self._created)
        self._created = []

    def write(self, frame: Frame) -> None:
        """Write one output frame (``frame.image``: ``uint8`` ``HxWx3`` RGB)."""
        self.frames_written += 1

    def close(self) -> None:
        """Finalise the output; calling it again does nothing."""
        self._done = True
        self._drop_empty_folders()

    def abort(self) -> None:
        """Drop unfinished output; the final name is left as it was."""
        self._done = True
        self._drop_empty_folders()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or issubclass(exc_type, KeyboardInterrupt):
            self.close()
        else:
            self.abort()


class NullSink(Sink):
    """Discards frames (benchmarks); counts them in ``frames_written``."""

    kind = "null"


def _warning_line(item: tuple[str, list]) -> str:
    what, (detail, count, _) = item
    if count == 1:
        return f"{what} ({detail})" if detail else what
    return f"{what} {count} times" + (f" (first: {detail})" if detail else "")


def check_pixels(size: tuple[int, int], limit: int, subject: str) -> None:
    """Refuse a frame of ``size`` = (width, height) over ``limit`` pixels, before it exists.

    Raises:
        InputError: ``"{subject} WxH (N pixels), over the limit of ..."``.
    """
    w, h = size
    if w * h > limit:
        raise InputError(
            f"{subject} {w}x{h} ({w * h} pixels), over the limit of {limit} pixels "
            "(8K is 7680x4320; raise it with --max-pixels)"
        )


def target_size(size: tuple[int, int], width: int | None) -> tuple[int, int]:
    """Output ``(width, height)`` for a frame of ``size`` resized to ``width``.

    The height keeps the aspect ratio, rounded to an even number (at least 2).

    Raises:
        InputError: ``width`` is not a positive even integer.
    """
    if width is None:
        return size
    if isinstance(width, bool) or int(width) != width or width < 2 or width % 2:
        raise InputError(f"width must be a positive even integer, got: {width!r}")
    src_w, src_h = size
    height = max(2, 2 * round(src_h * width / src_w / 2))
    return int(width), int(height)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``HxWx3`` image to ``size`` = (width, height) if it differs."""
    h, w = image.shape[:2]
    if (w, h) == size:
        return image
    shrinking = size[0] * size[1] < w * h
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
