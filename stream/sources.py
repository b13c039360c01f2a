"""Frame sources: video files, image sequences, single images, cameras and URLs.

Every source yields :class:`Frame` objects whose ``image`` is a NumPy ``uint8``
array, ``HxWx3``, **RGB**, in display orientation (a video's rotation metadata
is applied), already resized when ``width`` is given. ``pts``/``time_base`` are
the decoder's own timestamps for video files and URLs and ``None`` for image
sequences and cameras; nothing here re-times a frame.

Conventions chosen for image files (PNG, JPEG, TIFF, BMP, WebP):

* 16-bit samples are scaled to 8 bits (``round(v / 257)``), so 65535 -> 255.
* Grayscale becomes RGB by copying the channel.
* Alpha is composited over **black** (``rgb * alpha``): transparent pixels
  become black rather than showing whatever colour the file stored under them.
* JPEG EXIF orientation is honoured (OpenCV's colour reader applies it).

Options shared by all sources: ``start``/``end`` take a frame index (``10``)
or a time (``"2.5s"``, ``"00:00:02.5"``, ``"1:30"``; a Python float is seconds);
``end`` is exclusive. Times are measured from the source's first frame.
``frames`` caps how many frames are yielded; ``width`` resizes keeping the
aspect ratio to even dimensions (INTER_AREA when shrinking, INTER_CUBIC when
enlarging).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core.errors import InputError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
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


# ---------------------------------------------------------------- options


@dataclass(frozen=True)
class Position:
    """A point in a source: a frame index or a time in seconds."""

    index: int | None = None
    seconds: float | None = None

    def to_seconds(self, fps: Fraction | None) -> float | None:
        """This position in seconds (an index needs ``fps``)."""
        if self.seconds is not None:
            return self.seconds
        return float(self.index / fps) if fps else None


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


def parse_position(value: int | float | str | None, name: str = "start") -> Position | None:
    """Parse ``10`` (frame index), ``"2.5s"`` or ``"00:00:02.5"`` (time).

    Raises:
        InputError: the value is negative or not in one of those forms.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(f"{name} must be a frame index or a time, got: {value!r}")
    if isinstance(value, int):
        pos = Position(index=value)
    elif isinstance(value, float):
        pos = Position(seconds=value)
    else:
        pos = _parse_position_text(str(value).strip(), name)
    if (pos.index if pos.index is not None else pos.seconds) < 0:
        raise InputError(f"{name} must not be negative, got: {value!r}")
    return pos


def _parse_position_text(text: str, name: str) -> Position:
    if re.fullmatch(r"\d+", text):
        return Position(index=int(text))
    if re.fullmatch(r"\d+(\.\d*)?s", text):
        return Position(seconds=float(text[:-1]))
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = clock.groups()
        return Position(seconds=int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds))
    raise InputError(
        f"{name} must be a frame index (10) or a time (2.5s, 00:00:02.5), got: {text!r}"
    )


@dataclass(frozen=True)
class Window:
    """Which frames a source keeps: ``start <= frame < end``, at most ``frames``."""

    start: Position | None = None
    end: Position | None = None
    frames: int | None = None

    def before_start(self, index: int, seconds: float | None) -> bool:
        """True while the frame at ``index`` (``seconds`` from the first) is before start."""
        return self.start is not None and not _reached(self.start, index, seconds)

    def past_end(self, index: int, seconds: float | None) -> bool:
        """True once the frame at ``index`` is at or after the end."""
        return self.end is not None and _reached(self.end, index, seconds)


def _reached(pos: Position, index: int, seconds: float | None) -> bool:
    if pos.index is not None:
        return index >= pos.index
    # Half a microsecond of slack absorbs rounding in pts * time_base.
    return seconds is not None and seconds >= pos.seconds - 5e-7


def make_window(start, end, frames: int | None) -> Window:
    """Validate the shared trimming options into a :class:`Window`.

    Raises:
        InputError: a bad start/end, ``frames`` < 1, or an end not after start.
    """
    start_pos = parse_position(start, "start")
    end_pos = parse_position(end, "end")
    if frames is not None and (isinstance(frames, bool) or int(frames) != frames or frames < 1):
        raise InputError(f"frames must be a positive integer, got: {frames!r}")
    if start_pos and end_pos:
        same_unit = (start_pos.index is None) == (end_pos.index is None)
        first = start_pos.index if start_pos.index is not None else start_pos.seconds
        last = end_pos.index if end_pos.index is not None else end_pos.seconds
        if same_unit and last <= first:
            raise InputError(f"end must be after start, got start={start!r} end={end!r}")
    return Window(start_pos, end_pos, None if frames is None else int(frames))


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


# ---------------------------------------------------------------- base


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

    def __init__(self, window: Window, width: int | None):
        self.window = window
        self._width = width
        self.path: Path | None = None
        self.spec: str = ""
        self.fps: Fraction | None = None
        self.time_base: Fraction | None = None  # of Frame.pts, when frames have one
        self.size: tuple[int, int] = (0, 0)
        self.count: int | None = None
        self.has_audio = False
        self.frames_read = 0
        self.truncated = False
        self.warning: str | None = None
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
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def _finish_size(self, raw_size: tuple[int, int]) -> None:
        self.size = target_size(raw_size, self._width)

    def _emit(self, image: np.ndarray, index: int, pts=None, time_base=None) -> Frame:
        self.frames_read += 1
        return Frame(resize(image, self.size), index, pts, time_base)

    def _trimmed_count(self, total: int | None) -> int | None:
        """Frames left out of ``total`` after start/end/frames (needs fps for times)."""
        if total is None:
            return None
        first = _as_index(self.window.start, self.fps, 0)
        last = _as_index(self.window.end, self.fps, total)
        if first is None or last is None:
            return None
        count = max(0, min(last, total) - first)
        return min(count, self.window.frames) if self.window.frames else count

    def _warn(self, message: str) -> None:
        self.truncated = True
        if self.warning is None:
            self.warning = message
        log.warning("%s", message)

    def close(self) -> None:
        """Release files and devices; safe to call twice."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        w, h = self.size
        return f"<{type(self).__name__} {self.kind} {self.spec} {w}x{h} fps={self.fps}>"


def _as_index(pos: Position | None, fps: Fraction | None, default: int) -> int | None:
    if pos is None:
        return default
    if pos.index is not None:
        return pos.index
    if not fps:
        return None
    return int(np.ceil(pos.seconds * fps - 1e-6))


# ---------------------------------------------------------------- opening


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
    if text.startswith("camera:") or re.fullmatch(r"/dev/video\d+", text):
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


# ---------------------------------------------------------------- video files and URLs


class VideoSource(Source):
    """Frames decoded by PyAV from a file or a network URL."""

    def __init__(self, spec: str, window: Window, width, *, url: bool, timeout: float):
        super().__init__(window, width)
        self.kind, self.spec = ("url" if url else "video"), spec
        self.path = None if url else Path(spec)
        self._container = _open_container(spec, timeout if url else None)
        try:
            self._init_stream()
        except BaseException:
            self.close()
            raise

    def _init_stream(self) -> None:
        streams = self._container.streams
        if not streams.video:
            raise InputError(f"no video stream in: {self.spec}")
        self._stream = stream = streams.video[0]
        stream.thread_type = "AUTO"
        self.has_audio = bool(streams.audio)
        rate = stream.average_rate or stream.guessed_rate
        self.fps = Fraction(rate) if rate else None
        self.time_base = Fraction(stream.time_base)
        self._packets = self._container.demux(stream)
        self._pending = self._decode_until_frame()
        if not self._pending:
            raise InputError(f"no decodable video frame in: {self.spec}")
        first = self._pending[0]
        self._rotation = _rotation(first, stream)
        self._first_pts = first.pts or 0
        raw = (first.width, first.height)
        self._finish_size(raw[::-1] if self._rotation % 180 else raw)
        self.count = self._trimmed_count(self._declared_frames())

    def _declared_frames(self) -> int | None:
        if self._stream.frames:
            return int(self._stream.frames)
        duration = self._container.duration  # microseconds, container-wide
        return round(duration / 1e6 * self.fps) if duration and self.fps else None

    def _decode_until_frame(self) -> list:
        """Decode packets until one yields frames; damaged packets are skipped."""
        import av

        while self._packets is not None:
            try:
                packet = next(self._packets)
            except (StopIteration, av.FFmpegError) as exc:
                if not isinstance(exc, StopIteration):  # damaged container: keep what decoded
                    self._warn(f"{self.spec}: stopped reading after a damaged packet ({exc})")
                self._packets = None
                return self._decode(None)  # flush the frames the decoder still holds
            if packet.size == 0:
                continue  # the demuxer's own end marker; the flush above covers it
            frames = self._decode(packet)
            if frames:
                return frames
        return []

    def _decode(self, packet) -> list:
        import av

        try:
            return self._stream.decode(packet)
        except av.FFmpegError as exc:
            self._warn(f"{self.spec}: skipped damaged video data ({exc})")
            return []

    def _frames(self) -> Iterator[Frame]:
        index, tb = 0, self.time_base
        step = max(1, round(1 / (self.fps * tb))) if self.fps else 1
        pts = self._first_pts - step
        while self._pending:
            for av_frame in self._pending:
                # A frame without a timestamp (rare, broken streams) follows the previous one.
                pts = av_frame.pts if av_frame.pts is not None else pts + step
                seconds = float((pts - self._first_pts) * tb)
                if self.window.past_end(index, seconds) or self._enough():
                    return
                if not self.window.before_start(index, seconds):
                    image = _rotate(av_frame.to_ndarray(format="rgb24"), self._rotation)
                    yield self._emit(image, index, pts, tb)
                index += 1
            self._pending = self._decode_until_frame()
        self._check_complete(index)

    def _enough(self) -> bool:
        return self.window.frames is not None and self.frames_read >= self.window.frames

    def _check_complete(self, decoded: int) -> None:
        expected = self._declared_frames()
        exact = bool(self._stream.frames)  # else an estimate from the duration: allow 1 frame
        missing = (expected or 0) - decoded - (0 if exact else 1)
        if self.kind == "video" and missing > 0 and not self.truncated:
            self._warn(f"{self.spec}: decoded {decoded} of {expected} frames (file truncated?)")

    def close(self) -> None:
        container, self._container = getattr(self, "_container", None), None
        if container is not None:
            container.close()


def _open_container(spec: str, timeout: float | None):
    import av

    try:
        if timeout is None:
            return av.open(spec, "r")
        return av.open(spec, "r", timeout=(timeout, timeout))
    except av.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"cannot read video: {spec} ({reason})") from None


def _rotation(av_frame, stream) -> int:
    """Counter-clockwise display rotation in degrees (0/90/180/270)."""
    degrees = av_frame.rotation or 0
    if not degrees and "rotate" in stream.metadata:
        # The old tag counts clockwise; FFmpeg >= 6 turns it into a display matrix.
        degrees = -int(float(stream.metadata["rotate"]))
    return int(round(degrees / 90.0)) * 90 % 360


def _rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate counter-clockwise by a multiple of 90 degrees (contiguous result)."""
    if degrees == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=degrees // 90))


# ---------------------------------------------------------------- image files


def read_image(path: Path) -> np.ndarray:
    """Read an image file as ``uint8`` ``HxWx3`` RGB (see the module notes).

    Raises:
        InputError: the file cannot be decoded or has an unsupported sample type.
    """
    # The colour reader applies JPEG EXIF orientation; others need UNCHANGED for alpha/16 bit.
    flag = cv2.IMREAD_COLOR if path.suffix.lower() in (".jpg", ".jpeg") else cv2.IMREAD_UNCHANGED
    data = cv2.imread(str(path), flag)
    if data is None:
        raise InputError(f"cannot read image: {path}")
    return to_rgb8(data, str(path))


def to_rgb8(data: np.ndarray, name: str = "image") -> np.ndarray:
    """Convert an OpenCV image (BGR/BGRA/gray, 8 or 16 bit) to ``uint8`` RGB."""
    if data.dtype == np.uint16:
        values = data.astype(np.float32) / 65535.0
    elif data.dtype == np.uint8:
        values = data.astype(np.float32) / 255.0
    else:
        raise InputError(f"unsupported image sample type {data.dtype} in: {name}")
    if values.ndim == 2:
        values = values[:, :, None]
    channels = values.shape[2]
    if channels in (2, 4):  # gray+alpha or BGRA: composite over black
        values = values[:, :, :-1] * values[:, :, -1:]
    rgb = np.repeat(values, 3, axis=2) if values.shape[2] == 1 else values[:, :, ::-1]
    return np.ascontiguousarray(np.rint(rgb * 255.0).astype(np.uint8))


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def pattern_regex(pattern: str) -> tuple[Path, re.Pattern]:
    """Folder and file-name regex of ``dir/prefix%05dsuffix`` (the number is group 1).

    Raises:
        InputError: the pattern has no single ``%d``/``%0Nd`` field.
    """
    path = Path(pattern)
    fields = re.findall(r"%0?\d*d", path.name)
    if len(fields) != 1 or path.name.count("%") != 1:
        raise InputError(f"image pattern needs exactly one %d or %0Nd field, got: {pattern}")
    head, tail = path.name.split(fields[0])
    return path.parent, re.compile(re.escape(head) + r"(\d+)" + re.escape(tail) + "$")


def list_images(spec: str) -> list[Path]:
    """Image files of a folder (natural order) or a pattern (numeric order)."""
    path = Path(spec)
    if path.is_dir():
        files = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
        return sorted(files, key=lambda p: _natural_key(p.name))
    folder, regex = pattern_regex(spec)
    if not folder.is_dir():
        raise InputError(f"input folder not found: {folder}")
    numbered = [(int(m.group(1)), p) for p in folder.iterdir() if (m := regex.match(p.name))]
    return [p for _, p in sorted(numbered)]


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
        device = spec.removeprefix("camera:")
        if not (device.isdigit() or device.startswith("/dev/")):
            raise InputError(f"camera must be camera:N or /dev/videoN, got: {spec}")
        self._capture = _open_capture(int(device) if device.isdigit() else device, spec)
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


def _open_capture(device: int | str, spec: str) -> cv2.VideoCapture:
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
