"""Frame sources: video files, image sequences, single images, cameras and URLs.

Every source yields :class:`Frame` objects whose ``image`` is a NumPy ``uint8``
array, ``HxWx3``, **RGB**, in display orientation (a video's rotation metadata
is applied), already resized when ``width`` is given. ``pts``/``time_base`` are
the decoder's own timestamps for video files and URLs and ``None`` for image
sequences and cameras; nothing here re-times a frame.

Image files follow the conventions of :mod:`.imagefiles` (16 bit scaled,
gray copied, alpha over black, EXIF orientation honoured).

Options shared by all sources: ``start``/``end`` take a frame index (``10``)
or a time (``"2.5s"``, ``"00:00:02.5"``, ``"1:30"``; a Python float is seconds);
``end`` is exclusive. Times are measured from the source's first frame; a
start at or past the end is refused when the frame count is exact (image
sequences, most MP4/MOV files). ``frames`` caps how many frames are yielded;
``width`` resizes keeping the aspect ratio to even dimensions (INTER_AREA when
shrinking, INTER_CUBIC when enlarging).

This module opens sources (:func:`open_source`) and re-exports the names of
:mod:`.framesource`, :mod:`.positions`, :mod:`.imagefiles` and
:mod:`.videosource`, so callers import from here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.framesource import Frame, Source
from dreamstream.stream.imagefiles import (
    IMAGE_EXTENSIONS,
    list_images,
    pattern_regex,
    read_image,
    resize,
    target_size,
    to_rgb8,
)
from dreamstream.stream.positions import Position, Window, make_window, parse_position
from dreamstream.stream.videosource import VideoSource

__all__ = [
    "DEFAULT_IMAGE_FPS",
    "IMAGE_EXTENSIONS",
    "URL_SCHEMES",
    "CameraSource",
    "Frame",
    "ImageSequenceSource",
    "Position",
    "Source",
    "VideoSource",
    "Window",
    "list_images",
    "make_window",
    "open_source",
    "parse_position",
    "pattern_regex",
    "read_image",
    "resize",
    "target_size",
    "to_rgb8",
]

URL_SCHEMES = (
    "rtsp://",
    "rtsps://",
    "rtmp://",
    "http://",
    "https://",
    "udp://",
    "tcp://",
    "srt://",
)
DEFAULT_IMAGE_FPS = Fraction(25)


def open_source(
    spec: str | os.PathLike,
    *,
    start=None,
    end=None,
    frames: int | None = None,
    width: int | None = None,
    fps=None,
    timeout: float = 10.0,
) -> Source:
    """Open a video file, image folder/pattern, image, camera or URL.

    Args:
        spec: a path (video, image, folder of numbered images, ``frames/%05d.png``),
            ``camera:0`` or ``/dev/video0``, or an ``rtsp://``/``http://`` URL.
        start: first frame kept: an index (``10``) or a time (``"2.5s"``).
        end: first frame no longer kept (exclusive), same forms as ``start``.
        frames: yield at most this many frames.
        width: resize to this even width, keeping the aspect ratio.
        fps: frame rate of image sequences (default 25); ignored by other kinds.
        timeout: seconds to wait for a URL to connect or send data.

    Returns:
        A :class:`Source`; use it in a ``with`` block and iterate it once.

    Raises:
        InputError: the input is missing, empty, unreadable or has no video.
    """
    window = make_window(start, end, frames)
    target_size((2, 2), width)  # validates width before anything is opened
    text = os.fspath(spec)
    if is_camera(text):
        return CameraSource(text, window, width)
    if text.lower().startswith(URL_SCHEMES):
        return VideoSource(text, window, width, url=True, timeout=timeout)
    if "%" in Path(text).name:
        return ImageSequenceSource(text, window, width, fps)
    path = Path(text)
    if not path.exists():
        raise InputError(f"input not found: {text}")
    if path.is_dir():
        return ImageSequenceSource(text, window, width, fps)
    if path.stat().st_size == 0:
        raise InputError(f"input is an empty file: {text}")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageSequenceSource(text, window, width, fps, single=True)
    return VideoSource(text, window, width, url=False, timeout=timeout)


# ---------------------------------------------------------------- image files


class ImageSequenceSource(Source):
    """Numbered images from a folder or a ``%05d`` pattern, or one image file."""

    def __init__(self, spec: str, window: Window, width, fps=None, *, single=False):
        super().__init__(window, width)
        self.kind, self.spec, self.path = ("image" if single else "images"), spec, Path(spec)
        self.fps = Fraction(fps) if fps is not None else DEFAULT_IMAGE_FPS
        if self.fps <= 0:
            raise InputError(f"fps must be positive, got: {fps!r}")
        self._files = [self.path] if single else list_images(spec)
        if not self._files:
            raise InputError(f"no images found in: {spec}")
        self._first = read_image(self._files[0])
        self._raw_size = self._first.shape[1::-1]
        self._finish_size(self._raw_size)
        self._check_start(len(self._files))
        self.count = self._trimmed_count(len(self._files))

    def _frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self._files):
            seconds = float(index / self.fps)
            if self.window.past_end(index, seconds) or self.frames_read == self.window.frames:
                return
            if self.window.before_start(index, seconds):
                continue
            image = self._first if index == 0 else self._read(path)
            if image is not None:
                yield self._emit(image, index)
        self._first = None

    def _read(self, path: Path) -> np.ndarray | None:
        try:
            image = read_image(path)
        except InputError as exc:  # one bad file must not end a long render
            self._warn(f"skipped {exc}")
            return None
        if image.shape[1::-1] != self._raw_size:
            self._warn(f"{path} is {image.shape[1]}x{image.shape[0]}; resized to the first")
            image = resize(image, self._raw_size)
        return image


# ---------------------------------------------------------------- cameras


class CameraSource(Source):
    """Frames from a camera through OpenCV (``camera:0`` or ``/dev/video0``)."""

    def __init__(self, spec: str, window: Window, width):
        super().__init__(window, width)
        self.kind, self.spec = "camera", spec
        self._capture = open_capture(spec)
        ok, bgr = self._capture.read()
        if not ok:
            self.close()
            raise InputError(f"camera gave no frame: {spec}")
        self._first = bgr
        rate = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = Fraction(rate).limit_denominator(1001) if rate and rate > 0 else None
        self._finish_size((bgr.shape[1], bgr.shape[0]))

    def _frames(self) -> Iterator[Frame]:
        index, bgr = 0, self._first
        while bgr is not None and not self.window.past_end(index, None):
            if self.frames_read == self.window.frames:
                return
            if not self.window.before_start(index, None):
                yield self._emit(to_rgb8(bgr), index)
            index += 1
            ok, bgr = self._capture.read() if self._capture else (False, None)
            if not ok:
                self._warn(f"camera {self.spec} stopped after {index} frames")
                return

    def close(self) -> None:
        capture, self._capture = getattr(self, "_capture", None), None
        if capture is not None:
            capture.release()


def is_camera(spec: str) -> bool:
    """Whether ``spec`` names a camera (``camera:N`` or ``/dev/videoN``)."""
    return spec.startswith("camera:") or re.fullmatch(r"/dev/video\d+", spec) is not None


def camera_device(spec: str) -> int | str:
    """What OpenCV opens for ``camera:N`` (the index) or ``/dev/videoN`` (the path).

    Raises:
        InputError: ``spec`` names no camera.
    """
    device = spec.removeprefix("camera:")
    if not (device.isdigit() or device.startswith("/dev/")):
        raise InputError(f"camera must be camera:N or /dev/videoN, got: {spec}")
    return int(device) if device.isdigit() else device


def open_capture(spec: str) -> cv2.VideoCapture:
    """An opened OpenCV capture of the camera ``spec``, or InputError naming it."""
    device = camera_device(spec)
    # OpenCV logs several lines when a camera is missing; the InputError says it once.
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        capture = cv2.VideoCapture(device)
    finally:
        cv2.utils.logging.setLogLevel(previous)
    if not capture.isOpened():
        capture.release()
        raise InputError(f"camera not available: {spec}")
    return capture
