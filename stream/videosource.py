"""Video files and network streams decoded by PyAV (see :mod:`.sources`).

Frames come out as ``uint8`` ``HxWx3`` RGB in display orientation (rotation
metadata applied), with the decoder's ``pts`` and the stream's ``time_base``.
A damaged or truncated file yields the frames that decode and sets
``truncated``/``warning``; one with no decodable frame raises ``InputError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.framesource import Frame, Source
from dreamstream.stream.positions import Window


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
        if self._stream.frames:  # exact only when the container counts its frames
            self._check_start(int(self._stream.frames))
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
