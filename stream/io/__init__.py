"""The I/O wing: where frames come from and where they go.

Every source yields :class:`Frame` objects whose ``image`` is a NumPy
``uint8`` array, ``HxWx3``, **RGB**, in display orientation (a video's
rotation metadata is applied), already resized when ``width`` is given.
``pts``/``time_base`` are the decoder's own timestamps for video files and
URLs and ``None`` for image sequences and cameras; nothing here re-times a
frame. Sinks take output frames in the same convention; video files keep the
frames' timestamps and copy the source's audio.

Modules, lowest floor first: :mod:`.files` (output files written through
unique temporary files), :mod:`.positions` (start/end/frames),
:mod:`.specs` (what a spec names; output checks), :mod:`.frame` (``Frame``,
the ``Source`` and ``Sink`` bases, resizing), then one module per medium:
:mod:`.images`, :mod:`.video`, :mod:`.camera`, :mod:`.window`. This package
opens them: :func:`open_source`, :func:`open_sink`, :func:`check_output`.

Image files follow the conventions of :mod:`.images` (16 bit scaled, gray
copied, alpha over black, EXIF orientation honoured). ``start``/``end`` take
a frame index (``10``) or a time (``"2.5s"``, ``"00:00:02.5"``, ``"1:30"``; a
Python float is seconds); ``end`` is exclusive; ``frames`` caps how many
frames are yielded; ``width`` resizes keeping the aspect ratio to even sides.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.core.params import MAX_PIXELS
from dreamstream.stream.io.frame import Frame, NullSink, Sink, Source, resize, target_size
from dreamstream.stream.io.images import (
    DEFAULT_IMAGE_FPS,
    ImageSequenceSink,
    ImageSequenceSource,
    ImageSink,
    check_resume,
    read_image,
    to_rgb8,
)
from dreamstream.stream.io.positions import Position, Window, make_window, parse_position
from dreamstream.stream.io.specs import (
    DEFAULT_PATTERN,
    IMAGE_EXTENSIONS,
    URL_SCHEMES,
    VIDEO_CODECS,
    check_output,
    existing_indices,
    input_kind,
    is_camera,
    list_images,
    output_kind,
    pattern_regex,
)

__all__ = [
    "DEFAULT_IMAGE_FPS",
    "DEFAULT_PATTERN",
    "IMAGE_EXTENSIONS",
    "URL_SCHEMES",
    "VIDEO_CODECS",
    "Frame",
    "ImageSequenceSink",
    "ImageSequenceSource",
    "ImageSink",
    "NullSink",
    "Position",
    "Sink",
    "Source",
    "Window",
    "check_output",
    "check_resume",
    "check_sink",
    "existing_indices",
    "input_kind",
    "is_camera",
    "list_images",
    "make_window",
    "open_sink",
    "open_source",
    "output_kind",
    "parse_position",
    "pattern_regex",
    "read_image",
    "resize",
    "sink_options",
    "target_size",
    "to_rgb8",
]


def open_source(
    spec: str | os.PathLike,
    *,
    start=None,
    end=None,
    frames: int | None = None,
    width: int | None = None,
    fps=None,
    timeout: float = 10.0,
    max_pixels: int = MAX_PIXELS,
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
        max_pixels: refuse frames larger than this, before any is decoded (files and
            URLs; images judged from their headers; cameras from the size they
            report), and a ``width`` that would make them.

    Returns:
        A :class:`Source`; use it in a ``with`` block and iterate it once.

    Raises:
        InputError: the input is missing, empty, unreadable or has no video.
    """
    window = make_window(start, end, frames)
    target_size((2, 2), width)  # validates width before anything is opened
    text = os.fspath(spec)
    kind = input_kind(text)
    if kind == "camera":
        from dreamstream.stream.io.camera import CameraSource

        return CameraSource(text, window, width, max_pixels)
    if kind == "url":
        from dreamstream.stream.io.video import VideoSource

        return VideoSource(text, window, width, url=True, timeout=timeout, max_pixels=max_pixels)
    path = Path(text)
    if "%" not in path.name and not path.exists():
        raise InputError(f"input not found: {text}")
    if kind == "images":
        return ImageSequenceSource(text, window, width, fps, max_pixels=max_pixels)
    if path.stat().st_size == 0:
        raise InputError(f"input is an empty file: {text}")
    if kind == "image":
        return ImageSequenceSource(text, window, width, fps, single=True, max_pixels=max_pixels)
    from dreamstream.stream.io.video import VideoSource

    return VideoSource(text, window, width, url=False, timeout=timeout, max_pixels=max_pixels)


def sink_options(source: Source) -> dict:
    """What :func:`open_sink` needs to know of a source: its spec, timing, size and audio."""
    audio = source.path if source.kind == "video" and source.has_audio else None
    return {
        "input_spec": source.path or source.spec,
        "fps": source.fps,
        "time_base": source.time_base,
        "size": source.size,
        "count": source.count,
        "audio_from": audio,
    }


def check_sink(
    spec,
    options: dict,
    *,
    overwrite: bool = False,
    resume: bool = False,
    crf: int = 18,
    preset: str = "medium",
) -> None:
    """Everything :func:`open_sink` would refuse, checked without creating anything.

    Args:
        spec: the output spec.
        options: what :func:`sink_options` says of the source.
        overwrite, resume, crf, preset: as for :func:`open_sink`.

    Raises:
        InputError: see :func:`check_output`; also encoder settings a video cannot
            use (``crf = true``, a preset VP9 lacks) and audio it cannot hold.
    """
    count = options.get("count")
    check_output(spec, options.get("input_spec"), overwrite, resume=resume, count=count)
    kind, path = output_kind(spec)
    if kind != "video":
        return
    from dreamstream.stream.io.video import check_audio, encoder_options

    encoder_options(VIDEO_CODECS[path.suffix.lower()], crf, preset)
    if options.get("audio_from") is not None:
        check_audio(path, Path(options["audio_from"]))


def open_sink(
    spec: str | os.PathLike,
    *,
    input_spec=None,
    fps=None,
    time_base: Fraction | None = None,
    size: tuple[int, int] | None = None,
    count: int | None = None,
    audio_from: Path | None = None,
    crf: int = 18,
    preset: str = "medium",
    metadata: dict | None = None,
    overwrite: bool = False,
    resume: bool = False,
) -> Sink:
    """Open an output after checking it (see :func:`check_output`).

    Args:
        spec: ``out.mp4``/``.mov``/``.mkv`` (H.264) or ``.webm`` (VP9); ``out/`` or
            ``out/%05d.png`` (image sequence); ``still.png`` (one image, replaced per
            frame); ``window`` or ``window:fullscreen``; ``null``; ``vcam`` or
            ``vcam:DEVICE`` (a virtual camera, :mod:`.vcam`); a stream URL,
            ``udp://``, ``tcp://``, ``srt://`` (MPEG-TS) or ``rtmp://`` (FLV),
            H.264 tuned for latency (:mod:`.netstream`; the crf/preset options
            are the file's: a stream uses x264's veryfast at its own crf).
        input_spec: the input being processed (an output may not overwrite it).
        fps: frame rate of the output (default 25).
        time_base: unit of the frames' ``pts`` (default ``1 / fps``).
        size: ``(width, height)`` of the frames (default: the first frame's).
        count: how many frames the input holds, if known (a one-image output
            refuses more than one).
        audio_from: a video file whose audio stream is copied into a video output.
        crf: quality for H.264/VP9 (lower is better; 18 is visually lossless H.264).
        preset: x264 speed preset (also mapped to VP9 ``cpu-used``).
        metadata: settings written as JSON into the container's ``comment`` tag
            (video) or beside the frames (image sequences).
        overwrite: replace an existing output.
        resume: allow an image folder that already holds frames.

    Returns:
        A :class:`Sink`.

    Raises:
        InputError: a bad output (checked before anything is created).
    """
    check_output(spec, input_spec, overwrite, resume=resume, count=count)
    kind, path = output_kind(spec)
    if kind == "null":
        return NullSink()
    if kind == "window":
        from dreamstream.stream.io.window import WindowSink

        return WindowSink(fullscreen=os.fspath(spec).lower().endswith("fullscreen"))
    rate = Fraction(fps) if fps else Fraction(25)
    if kind == "stream":
        from dreamstream.stream.io.netstream import StreamSink

        return StreamSink(os.fspath(spec), fps=rate, time_base=time_base, preset="veryfast")
    if kind == "vcam":
        from dreamstream.stream.io.vcam import VirtualCameraSink

        return VirtualCameraSink(os.fspath(spec), fps=rate)
    if kind == "images":
        return ImageSequenceSink(path, metadata)
    if kind == "image":
        return ImageSink(path)
    from dreamstream.stream.io.video import VideoSink

    return VideoSink(
        path,
        fps=rate,
        time_base=time_base,
        size=size,
        crf=crf,
        preset=preset,
        metadata=metadata,
        audio_from=audio_from,
    )
