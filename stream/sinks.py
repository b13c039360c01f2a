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
"""

from __future__ import annotations

import json
import logging
import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.sources import URL_SCHEMES, Frame, Source, pattern_regex

log = logging.getLogger(__name__)

VIDEO_CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9"}
IMAGE_OUTPUTS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
DEFAULT_PATTERN = "%05d.png"
# x264 preset names mapped to libvpx-vp9 cpu-used (higher is faster).
_VP9_SPEED = {"ultrafast": 8, "superfast": 7, "veryfast": 6, "faster": 5, "fast": 4, "medium": 3}


# ---------------------------------------------------------------- what a spec names


def output_kind(spec: str | os.PathLike) -> tuple[str, Path | None]:
    """Kind of sink a spec names and its path (a ``%05d`` pattern for ``"images"``).

    Raises:
        InputError: the extension is neither a video nor an image format.
    """
    text = os.fspath(spec)
    if text.lower() in ("null", "none"):
        return "null", None
    if text.lower() in ("window", "window:fullscreen"):
        return "window", None
    path = Path(text)
    suffix = path.suffix.lower()
    if "%" in path.name:
        pattern_regex(text)  # validates the field
        if suffix not in IMAGE_OUTPUTS:
            raise InputError(f"unknown image extension in output pattern: {text}")
        return "images", path
    if text.endswith(("/", os.sep)) or path.is_dir() or not suffix:
        return "images", path / DEFAULT_PATTERN
    if suffix in VIDEO_CODECS:
        return "video", path
    if suffix in IMAGE_OUTPUTS:
        return "image", path
    known = ", ".join(sorted({*VIDEO_CODECS, *IMAGE_OUTPUTS}))
    raise InputError(f"unknown output extension {suffix!r} in: {text} (known: {known})")


def _input_paths(input_spec) -> tuple[Path | None, Path | None]:
    """(input file, input frame folder) of a source spec; ``None`` where not a path."""
    if input_spec is None:
        return None, None
    text = os.fspath(input_spec)
    if text.startswith("camera:") or text.lower().startswith(URL_SCHEMES):
        return None, None
    path = Path(text)
    if "%" in path.name:
        return None, path.parent.resolve()
    if path.is_dir():
        return None, path.resolve()
    return path.resolve(), None


def check_output(spec, input_spec, overwrite: bool, *, resume: bool = False) -> None:
    """Reject a bad output before anything is loaded, created or touched.

    Args:
        spec: the output spec (see :func:`open_sink`).
        input_spec: the input spec or path, or ``None``.
        overwrite: an existing output file may be replaced; an image folder may
            already hold frames (their numbers are rewritten).
        resume: an image folder may already hold frames (the pipeline skips them).

    Raises:
        InputError: unknown extension, output equal to the input or inside its
            frame folder, output exists, or the output folder is not writable.
    """
    kind, path = output_kind(spec)
    if path is None:
        return
    if kind == "video":
        _check_codec(path)
    in_file, in_folder = _input_paths(input_spec)
    target = path.parent if kind == "images" else path
    resolved = target.resolve()
    if in_file is not None and resolved == in_file:
        raise InputError(f"output is the input file: {spec}")
    if in_folder is not None and resolved.is_relative_to(in_folder):
        raise InputError(f"output {spec} is inside the input frame folder {input_spec}")
    if kind == "images":
        if existing_indices(path) and not (overwrite or resume):
            raise InputError(f"output folder already holds frames (overwrite or resume): {spec}")
    elif path.exists() and not overwrite:
        raise InputError(f"output exists (use overwrite to replace it): {spec}")
    _check_writable(target.parent if kind != "images" else target, spec)


def _check_codec(path: Path) -> None:
    import av

    codec = VIDEO_CODECS[path.suffix.lower()]
    if codec not in av.codecs_available:
        raise InputError(f"{path.suffix} output needs the {codec} encoder, missing in this PyAV")


def _check_writable(folder: Path, spec) -> None:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # the folder will be created below its nearest existing parent
    if not probe.is_dir():
        raise InputError(f"output folder {probe} is not a folder: {spec}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"output folder is not writable: {probe}")


def existing_indices(pattern: Path) -> set[int]:
    """Frame numbers already on disk for an image pattern like ``out/%05d.png``."""
    folder, regex = pattern_regex(str(pattern))
    if not folder.is_dir():
        return set()
    return {int(m.group(1)) for p in folder.iterdir() if (m := regex.match(p.name))}


# ---------------------------------------------------------------- sinks


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

    def write(self, frame: Frame) -> None:
        """Write one output frame (``frame.image``: ``uint8`` ``HxWx3`` RGB)."""
        self.frames_written += 1

    def close(self) -> None:
        """Finalise the output; calling it again does nothing."""
        self._done = True

    def abort(self) -> None:
        """Drop unfinished output; the final name is left as it was."""
        self._done = True

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
    """Writes ``frame.index`` to ``out/%05d.png`` (each file atomically)."""

    kind = "images"

    def __init__(self, pattern: Path):
        super().__init__()
        self.path = pattern
        self._folder, _ = pattern_regex(str(pattern))
        self._folder.mkdir(parents=True, exist_ok=True)

    def existing(self) -> set[int]:
        """Frame indices already on disk (for resuming)."""
        return existing_indices(self.path)

    def file_for(self, index: int) -> Path:
        """The file that frame ``index`` goes to."""
        return self._folder / (self.path.name % index)

    def write(self, frame: Frame) -> None:
        _atomic_image_write(self.file_for(frame.index), frame.image)
        super().write(frame)


class ImageSink(Sink):
    """One image file; each frame replaces it atomically (the last one stays)."""

    kind = "image"

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

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


class VideoSink(Sink):
    """H.264/VP9 video through PyAV, with the source's audio packets copied.

    Video timestamps are the frames' own ``pts`` minus the first frame's (frames
    without ``pts`` are numbered ``index - first index`` at ``1/fps``). Audio
    packets are copied without decoding when they overlap the written frames'
    time range, shifted by the same amount. Odd frame sizes are padded by one
    edge row/column (4:2:0 needs even sizes).
    """

    kind = "video"

    def __init__(self, path: Path, *, source, fps, size, crf, preset, metadata, audio):
        import av

        super().__init__()
        self.path, self.fps = path, Fraction(fps)
        self._tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
        self._options = _encoder_options(VIDEO_CODECS[path.suffix.lower()], crf, preset)
        self._tb = getattr(source, "time_base", None)
        self._video = self._audio_in = self._audio_out = None
        self._offset = self._last_pts = self._end = None
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out = av.open(str(self._tmp), "w")
        try:
            self._out.metadata["comment"] = json.dumps(metadata or {}, sort_keys=True, default=str)
            size = size or (source.size if source is not None else None)
            if size:
                self._add_video(size)
            if audio and source is not None and source.kind == "video" and source.has_audio:
                self._add_audio(source.path)
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
        try:
            self._audio_out = self._out.add_stream_from_template(template)
        except ValueError as exc:  # the container cannot hold this codec without re-encoding
            raise InputError(f"cannot copy the audio into {self.path.name}: {exc}") from None
        self._audio_packets = self._audio_in.demux(template)
        self._next_audio = None

    def write(self, frame: Frame) -> None:
        import av

        if self._done:
            raise RuntimeError(f"write to closed sink {self.path}")
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
        super().write(frame)

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
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        finally:
            self._close_input()
        super().close()

    def abort(self) -> None:
        if self._done:
            return
        super().abort()
        self._close_input()
        try:
            self._out.close()
        except Exception:  # noqa: BLE001 -- an unfinished file is deleted anyway
            pass
        self._tmp.unlink(missing_ok=True)

    def _close_input(self) -> None:
        audio_in, self._audio_in = self._audio_in, None
        if audio_in is not None:
            audio_in.close()


def _encoder_options(codec: str, crf: int, preset: str) -> tuple[str, dict]:
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
        return ImageSequenceSink(path)
    if kind == "image":
        if source is not None and source.count is not None and source.count > 1:
            raise InputError(f"output {spec} is one image but the input has {source.count} frames")
        return ImageSink(path)
    rate = Fraction(fps) if fps is not None else (source.fps if source else None)
    settings = {"crf": crf, "preset": preset, "metadata": metadata, "audio": audio}
    return VideoSink(path, source=source, fps=rate or Fraction(25), size=size, **settings)
