"""Frame sinks: video files (audio kept), image sequences, a window, a null sink.

A sink takes :class:`~dreamstream.stream.sources.Frame` objects whose ``image``
is the *output* picture: ``uint8`` ``HxWx3`` **RGB**. Video files keep the
frames' ``pts``/``time_base`` (shifted so the first written frame is at 0, the
audio by the same amount); nothing is re-timed.

Files are written under a temporary name in the destination folder and renamed
when complete, so the final name only ever holds a whole file: ``close()``
finalises (flush, trailer, rename), ``abort()`` removes the temporary file. Used
as a context manager, a sink closes on success or ``KeyboardInterrupt`` (a
playable file of every frame written) and aborts on any other exception.

This module opens sinks (:func:`open_sink`) and re-exports the names of
:mod:`.outputs`, :mod:`.framesink` and :mod:`.videosink`, so callers import
from here.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.framesink import Sink
from dreamstream.stream.framesource import Frame, Source
from dreamstream.stream.imagefiles import pattern_regex
from dreamstream.stream.outputs import (
    DEFAULT_PATTERN,
    IMAGE_OUTPUTS,
    VIDEO_CODECS,
    check_output,
    existing_indices,
    output_kind,
)
from dreamstream.stream.videosink import VideoSink

__all__ = [
    "DEFAULT_PATTERN",
    "IMAGE_OUTPUTS",
    "VIDEO_CODECS",
    "ImageSequenceSink",
    "ImageSink",
    "NullSink",
    "Sink",
    "VideoSink",
    "WindowSink",
    "check_output",
    "existing_indices",
    "open_sink",
    "output_kind",
]


class NullSink(Sink):
    """Discards frames (benchmarks); counts them in ``frames_written``."""

    kind = "null"


def _atomic_image_write(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(path.suffix.lower(), np.ascontiguousarray(image[:, :, ::-1]))
    if not ok:
        raise InputError(f"cannot encode image: {path}")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ImageSequenceSink(Sink):
    """Writes ``frame.index`` to ``out/%05d.png`` (each file atomically).

    On close, the settings go beside the frames as ``dreamstream-FIRST-LAST.json``
    (the frame range this render wrote), so a render split across machines
    documents each part.
    """

    kind = "images"

    def __init__(self, pattern: Path, metadata: dict | None = None):
        super().__init__()
        self.path = pattern
        self.metadata = metadata
        self._folder, _ = pattern_regex(str(pattern))
        self._make_folder(self._folder)
        self._range: tuple[int, int] | None = None

    def existing(self) -> set[int]:
        """Frame indices already on disk (for resuming)."""
        return existing_indices(self.path)

    def file_for(self, index: int) -> Path:
        """The file that frame ``index`` goes to."""
        return self._folder / (self.path.name % index)

    def write(self, frame: Frame) -> None:
        _atomic_image_write(self.file_for(frame.index), frame.image)
        first, last = self._range or (frame.index, frame.index)
        self._range = (min(first, frame.index), max(last, frame.index))
        super().write(frame)

    def close(self) -> None:
        if not self._done and self.metadata is not None and self._range is not None:
            first, last = self._range
            sidecar = self._folder / f"dreamstream-{first}-{last}.json"
            tmp = sidecar.with_name(f".{sidecar.name}.partial")
            tmp.write_text(json.dumps(self.metadata, indent=1, sort_keys=True, default=str))
            os.replace(tmp, sidecar)
        super().close()


class ImageSink(Sink):
    """One image file; each frame replaces it atomically (the last one stays)."""

    kind = "image"

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self._make_folder(path.parent)

    def write(self, frame: Frame) -> None:
        _atomic_image_write(self.path, frame.image)
        super().write(frame)


class WindowSink(Sink):
    """A resizable OpenCV window; ``write`` returns the key pressed (or ``None``).

    Attributes:
        last_key: the last key code pressed, or ``None``.
        closed_by_user: the window was closed with its close button.
    """

    kind = "window"

    def __init__(self, title: str = "dreamstream", fullscreen: bool = False):
        super().__init__()
        self.title, self.last_key, self.closed_by_user = title, None, False
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
            if fullscreen:
                cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
        except cv2.error as exc:
            raise InputError(f"cannot open a window (no display?): {exc.msg.strip()}") from None

    def write(self, frame: Frame) -> int | None:  # type: ignore[override]
        cv2.imshow(self.title, np.ascontiguousarray(frame.image[:, :, ::-1]))
        key = cv2.waitKey(1)
        self.last_key = key & 0xFF if key >= 0 else None
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.closed_by_user = True
        super().write(frame)
        return self.last_key

    def close(self) -> None:
        if not self._done:
            try:
                cv2.destroyWindow(self.title)
            except cv2.error:
                pass  # already closed by the user
        super().close()

    abort = close


def open_sink(
    spec: str | os.PathLike,
    *,
    source: Source | None,
    fps=None,
    size: tuple[int, int] | None = None,
    crf: int = 18,
    preset: str = "medium",
    metadata: dict | None = None,
    overwrite: bool = False,
    audio: bool = True,
    resume: bool = False,
) -> Sink:
    """Open an output after checking it (see :func:`check_output`).

    Args:
        spec: ``out.mp4``/``.mov``/``.mkv`` (H.264) or ``.webm`` (VP9); ``out/`` or
            ``out/%05d.png`` (image sequence); ``still.png`` (one image, replaced per
            frame); ``window`` or ``window:fullscreen``; ``null``.
        source: the source being processed: its path is checked against the output,
            its fps, size and time base are used, and a video file's audio is copied.
        fps: frame rate of the output (default: the source's, else 25).
        size: ``(width, height)`` of the frames (default: the source's).
        crf: quality for H.264/VP9 (lower is better; 18 is visually lossless H.264).
        preset: x264 speed preset (also mapped to VP9 ``cpu-used``).
        metadata: settings written as JSON into the container's ``comment`` tag.
        overwrite: replace an existing output.
        audio: copy the source's audio stream (video outputs only).
        resume: allow an image folder that already holds frames.

    Returns:
        A :class:`Sink`.

    Raises:
        InputError: a bad output (checked before anything is created).
    """
    input_spec = None if source is None else (source.path or getattr(source, "spec", None))
    check_output(spec, input_spec, overwrite, resume=resume)
    kind, path = output_kind(spec)
    if kind == "null":
        return NullSink()
    if kind == "window":
        return WindowSink(fullscreen=os.fspath(spec).lower().endswith("fullscreen"))
    if kind == "images":
        return ImageSequenceSink(path, metadata)
    if kind == "image":
        if source is not None and source.count is not None and source.count > 1:
            raise InputError(f"output {spec} is one image but the input has {source.count} frames")
        return ImageSink(path)
    rate = Fraction(fps) if fps is not None else (source.fps if source else None)
    settings = {"crf": crf, "preset": preset, "metadata": metadata, "audio": audio}
    return VideoSink(path, source=source, fps=rate or Fraction(25), size=size, **settings)
