"""Video through PyAV: decoding files and network streams, encoding files with audio kept.

Decoding: frames come out as ``uint8`` ``HxWx3`` RGB in display orientation
(rotation metadata applied), with the decoder's ``pts`` and the stream's
``time_base``. A damaged or truncated file yields the frames that decode and
sets ``truncated``/``warning``; one with no decodable frame raises ``InputError``.

Encoding: H.264 or VP9 from ``uint8`` ``HxWx3`` RGB frames whose
``pts``/``time_base`` are kept (shifted so the first written frame is at 0,
the audio by the same amount). The file is written to a unique temporary
file beside it (see :mod:`.files`) and renamed when complete; a write that
fails (a full disk) removes the temporary file and raises a one-line error.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.params import MAX_PIXELS
from dreamstream.stream.io import files
from dreamstream.stream.io.frame import Frame, Sink, Source, check_pixels
from dreamstream.stream.io.positions import Window
from dreamstream.stream.io.specs import VIDEO_CODECS, VIDEO_FORMATS

log = logging.getLogger("dreamstream.stream.io")


class VideoSource(Source):
    """Frames decoded by PyAV from a file or a network URL."""

    def __init__(
        self, spec: str, window: Window, width, *, url: bool, timeout: float, max_pixels=MAX_PIXELS
    ):
        super().__init__(window, width, max_pixels)
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
        codec = stream.codec_context
        if codec.width and codec.height:  # from the header: refuse before decoding a frame
            check_pixels((codec.width, codec.height), self.max_pixels, f"frames of {self.spec} are")
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
        elif self.kind == "video" and "matroska" in self._container.format.name:
            if self._container.duration:  # microseconds, to the end of the last frame
                self._check_start_time(self._container.duration / 1e6)
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
                    self._warn(f"{self.spec}: stopped reading after a damaged packet", str(exc))
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
            self._warn(f"{self.spec}: skipped damaged video data", str(exc))
            return []

    def _frames(self) -> Iterator[Frame]:
        index, tb = 0, self.time_base
        step = max(1, round(1 / (self.fps * tb))) if self.fps else 1
        pts, gap = self._first_pts - step, step
        while self._pending:
            for av_frame in self._pending:
                # A frame without a timestamp (rare, broken streams) follows the previous one.
                last, pts = pts, av_frame.pts if av_frame.pts is not None else pts + step
                gap = max(gap, pts - last) if index else gap
                seconds = float((pts - self._first_pts) * tb)
                if self.window.past_end(index, seconds) or self._enough():
                    return
                if not self.window.before_start(index, seconds) and self._fits(av_frame):
                    image = _rotate(av_frame.to_ndarray(format="rgb24"), self._rotation)
                    yield self._emit(image, index, pts, tb)
                index += 1
            self._pending = self._decode_until_frame()
        self._check_complete(index, pts, gap)

    def _fits(self, av_frame) -> bool:
        """Whether a decoded frame is within ``max_pixels`` (checked before it is converted).

        A stream may change size mid-way (a new sequence header); a frame over
        the limit is skipped with a warning, as damaged data is.
        """
        w, h = av_frame.width, av_frame.height
        if w * h <= self.max_pixels:
            return True
        self._warn(
            f"{self.spec}: skipped frames of {w}x{h}, over the limit of {self.max_pixels} pixels "
            "(raise it with --max-pixels)"
        )
        return False

    def _enough(self) -> bool:
        return self.window.frames is not None and self.frames_read >= self.window.frames

    def _check_complete(self, decoded: int, last_pts: int, gap: int) -> None:
        """Warn when the file ended before its container says it should.

        Args:
            decoded: frames decoded.
            last_pts: the last frame's ``pts``; gap: the longest step between two frames'
                ``pts`` (a frame rate alone misjudges variable-rate files).
        """
        if self.kind != "video" or self.truncated:
            return
        expected = self._declared_frames()
        if self._stream.frames:  # the container counts its frames: exact
            short = expected - decoded > 0
        else:  # only a duration: the last frame must start within about a frame of its end
            duration = self._container.duration  # microseconds, container-wide
            start = (self._container.start_time or 0) / 1e6
            end = start + duration / 1e6 if duration else None
            short = end is not None and end - float(last_pts * self.time_base) > 1.5 * float(
                gap * self.time_base
            )
        if short:
            self._warn(f"{self.spec}: decoded {decoded} of {expected} frames (file truncated?)")

    def close(self) -> None:
        container, self._container = getattr(self, "_container", None), None
        if container is not None:
            container.close()
        super().close()


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


# x264 preset names mapped to libvpx-vp9 cpu-used (higher is faster).
_VP9_SPEED = {"ultrafast": 8, "superfast": 7, "veryfast": 6, "faster": 5, "fast": 4, "medium": 3}


class VideoSink(Sink):
    """H.264/VP9 video through PyAV, with the source's audio packets copied.

    Video timestamps are the frames' own ``pts`` minus the first frame's (frames
    without ``pts`` are numbered ``index - first index`` at ``1/fps``). Audio
    packets are copied without decoding when they overlap the written frames'
    time range, shifted by the same amount. Odd frame sizes are padded by one
    edge row/column (4:2:0 needs even sizes).
    """

    kind = "video"

    def __init__(
        self, path: Path, *, fps, time_base=None, size=None, crf, preset, metadata, audio_from=None
    ):
        import av

        super().__init__()
        self.path, self.fps = path, Fraction(fps)
        self._options = encoder_options(VIDEO_CODECS[path.suffix.lower()], crf, preset)
        self._tb = time_base
        self._video = self._audio_in = self._audio_out = None
        self._offset = self._last_pts = self._end = self._out = self._file = self._tmp = None
        try:
            self._make_folder(path.parent)
            try:
                self._file, self._tmp = files.open_temporary(path)
            except OSError as error:
                raise files.output_error(error, path) from None
            self._out = av.open(self._file, "w", format=VIDEO_FORMATS[path.suffix.lower()])
            self._out.metadata["comment"] = json.dumps(metadata or {}, sort_keys=True, default=str)
            if size:
                self._add_video(size)
            if audio_from is not None:
                self._add_audio(Path(audio_from))
        except BaseException:
            self.abort()
            raise

    def _add_video(self, size: tuple[int, int]) -> None:
        codec, options = self._options
        self._video = stream = self._out.add_stream(codec, rate=self.fps, options=options)
        stream.width, stream.height = (size[0] + size[0] % 2), (size[1] + size[1] % 2)
        stream.pix_fmt = "yuv420p"
        stream.thread_type = "AUTO"
        tb = self._tb or 1 / self.fps
        stream.codec_context.time_base = stream.time_base = Fraction(tb)

    def _add_audio(self, source_path: Path) -> None:
        import av

        self._audio_in = av.open(str(source_path), "r")
        template = self._audio_in.streams.audio[0]
        self._audio_out = _add_audio_stream(self._out, template, self.path)
        self._audio_packets = self._audio_in.demux(template)
        self._next_audio = None

    def write(self, frame: Frame) -> None:
        if self._done:
            raise RuntimeError(f"write to closed sink {self.path}")
        try:
            self._encode(frame)
        except OSError as error:  # a full disk: the unfinished file cannot be saved
            self.abort()
            raise self._lost(error) from None
        super().write(frame)

    def _lost(self, error: OSError) -> InputError:
        n = self.frames_written
        return files.output_error(error, self.path, f"the video of {n} frames was not kept")

    def _encode(self, frame: Frame) -> None:
        import av

        if self._video is None:
            self._add_video(frame.image.shape[1::-1])
        pts = self._video_pts(frame)
        image = _pad_even(frame.image)
        if image.shape[1::-1] != (self._video.width, self._video.height):
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, the video is not")
        av_frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        av_frame.pts, av_frame.time_base = pts, self._video.codec_context.time_base
        self._mux(self._video.encode(av_frame))
        self._end = (pts + self._frame_ticks()) * self._video.codec_context.time_base
        self._copy_audio(until=float(pts * self._video.codec_context.time_base))

    def _frame_ticks(self) -> int:
        return max(1, round(1 / (self.fps * self._video.codec_context.time_base)))

    def _video_pts(self, frame: Frame) -> int:
        tb = self._video.codec_context.time_base
        if frame.pts is not None and frame.time_base:
            raw = round(frame.pts * frame.time_base / tb)
        else:  # no timestamps (images, camera): number frames at 1/fps
            raw = round(frame.index * self._frame_ticks())
        if self._offset is None:
            self._offset = raw
        pts = raw - self._offset
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
            log.warning("%s: pts not increasing; frame %d moved to %d", self.path, frame.index, pts)
        self._last_pts = pts
        return pts

    def _mux(self, packets) -> None:
        for packet in packets:
            self._out.mux(packet)

    def _copy_audio(self, until: float) -> None:
        """Copy audio packets that start before ``until`` (seconds, output time)."""
        if self._audio_out is None:
            return
        shift = float(self._offset * self._video.codec_context.time_base)
        while True:
            packet = self._next_audio or next(self._audio_packets, None)
            if packet is None:
                self._audio_out, self._next_audio = None, None  # input exhausted
                return
            if packet.pts is None or packet.size == 0:
                self._next_audio = None
                continue
            start = float(packet.pts * packet.time_base) - shift
            if start >= until:
                self._next_audio = packet  # keep it for the next frame
                return
            self._next_audio = None
            if start + float((packet.duration or 0) * packet.time_base) >= 0:
                self._mux_audio(packet, shift)

    def _mux_audio(self, packet, shift: float) -> None:
        ticks = round(shift / packet.time_base)
        packet.pts -= ticks
        packet.dts = packet.pts if packet.dts is None else packet.dts - ticks
        packet.stream = self._audio_out
        self._out.mux(packet)

    def close(self) -> None:
        if self._done:
            return
        if self.frames_written == 0:
            log.warning("%s: no frames were written; no file made", self.path)
            self.abort()
            return
        try:
            self._mux(self._video.encode(None))
            self._copy_audio(until=float(self._end))
            self._out.close()
            self._file.close()
            os.replace(self._tmp, self.path)
        except OSError as error:
            self.abort()
            raise self._lost(error) from None
        except BaseException:
            self.abort()
            raise
        finally:
            self._close_input()
        super().close()

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._close_input()
            if self._out is not None:
                self._out.close()
            if self._file is not None:
                self._file.close()
        except Exception:  # noqa: BLE001 -- an unfinished file is deleted anyway
            pass
        finally:
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)
            super().abort()  # last: the folders it made are empty only now

    def _close_input(self) -> None:
        audio_in, self._audio_in = self._audio_in, None
        if audio_in is not None:
            audio_in.close()


def _add_audio_stream(container, template, path: Path):
    """Add a copy of audio stream ``template`` to ``container``, which will become ``path``.

    Raises:
        InputError: the container cannot hold this codec without re-encoding.
    """
    try:
        return container.add_stream_from_template(template)
    except ValueError as exc:
        raise InputError(f"cannot copy the audio into {path.name}: {exc}") from None


def check_audio(path: Path, audio_from: Path) -> None:
    """Refuse, before anything is written, audio that a video ``path`` cannot hold.

    Tries the copy on a container of the same format in memory.

    Raises:
        InputError: e.g. AAC audio for a ``.webm`` output.
    """
    import io

    import av

    with av.open(str(audio_from), "r") as source:
        if not source.streams.audio:
            return
        trial = av.open(io.BytesIO(), "w", format=VIDEO_FORMATS[path.suffix.lower()])
        try:
            _add_audio_stream(trial, source.streams.audio[0], path)
        finally:
            trial.close()


def encoder_options(codec: str, crf: int, preset: str) -> tuple[str, dict]:
    """FFmpeg options for ``codec`` from a CRF and an x264 preset name.

    Raises:
        InputError: ``crf`` is not an integer 0-63, or VP9 has no match for ``preset``.
    """
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 63:
        raise InputError(f"crf must be an integer from 0 to 63, got: {crf!r}")
    if codec == "libx264":
        return codec, {"crf": str(crf), "preset": str(preset)}
    if preset not in _VP9_SPEED:
        raise InputError(f"preset for .webm must be one of {sorted(_VP9_SPEED)}, got: {preset}")
    speed = str(_VP9_SPEED[preset])
    return codec, {"crf": str(crf), "b": "0", "cpu-used": speed, "row-mt": "1"}


def _pad_even(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
