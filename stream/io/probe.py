"""Checks of files an earlier run left, before a resumed run trusts them.

A file written by this project is whole or absent (temporary file, then
rename), but a work folder can still hold a file that something else put or
cut there: an empty frame from a full disk of another tool, a segment copied
from another render, a picture truncated by a crash of the file system. A
resumed run asks these functions and renders again whatever they reject,
instead of failing later (or, worse, keeping the broken file).

Each function returns what is wrong as a short phrase, or ``None``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.stream.io.pngcheck import SIGNATURE, png_problem

# What PyAV calls the streams our encoders make.
DECODED_CODEC = {"libx264": "h264", "libvpx-vp9": "vp9"}


def image_header_problem(path: Path, size: tuple[int, int] | None = None) -> str | None:
    """Cheap: the file is there, not empty, and (a PNG) its header is intact and of ``size``.

    Reads the first 33 bytes only, so checking thousands of frames costs little;
    use :func:`image_problem` where the whole picture matters.

    Args:
        path: the image file.
        size: the expected (width, height), or ``None``.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SIGNATURE) + 25)
    except OSError as error:
        return error.strerror or str(error)
    if not head:
        return "empty file"
    if not head.startswith(SIGNATURE):
        return None  # another format: only a full decode can judge it
    if len(head) < len(SIGNATURE) + 25 or head[12:16] != b"IHDR":
        return "file cut short"
    problem = png_problem(head)  # checks the IHDR chunk's CRC
    if problem not in (None, "file cut short"):
        return problem
    width, height = struct.unpack(">II", head[16:24])
    if size is not None and (width, height) != tuple(size):
        return f"{width}x{height}, not {size[0]}x{size[1]}"
    return None


def image_problem(path: Path, size: tuple[int, int] | None = None) -> str | None:
    """Thorough: the whole picture decodes, and is ``size`` (width, height) if given."""
    from dreamstream.stream.io.images import read_image

    problem = image_header_problem(path, size)
    if problem is not None:
        return problem
    try:
        image = read_image(path)
    except InputError as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 -- a decoder's own failure is a bad file too
        return f"cannot be decoded ({type(error).__name__})"
    if size is not None and image.shape[1::-1] != tuple(size):
        return f"{image.shape[1]}x{image.shape[0]}, not {size[0]}x{size[1]}"
    return None


def video_problem(
    path: Path,
    *,
    frames: int,
    size: tuple[int, int],
    codec: str,
    comment: dict | None = None,
) -> str | None:
    """Whether ``path`` is a whole video of ours: decodes to ``frames`` frames of ``size``.

    Args:
        path: the video file.
        frames: how many frames it must hold.
        size: their (width, height), as encoded (odd sides padded to even).
        codec: the encoder that made it ("libx264" or "libvpx-vp9").
        comment: the metadata its container's ``comment`` tag must hold, if given.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if len(container.streams.video) != 1:
                return "not one video stream"
            stream = container.streams.video[0]
            if stream.codec_context.name != DECODED_CODEC.get(codec, codec):
                return f"codec {stream.codec_context.name}, not {codec}"
            if comment is not None and _comment(container) != _as_stored(comment):
                return "made with other settings"
            return _frames_problem(container, stream, frames, size)
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as error:
        return f"cannot be decoded ({error})"


def _frames_problem(container, stream, frames: int, size: tuple[int, int]) -> str | None:
    count, first = 0, True
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        if first and not packet.is_keyframe:
            return "does not start with a key frame"
        first = False
        for frame in packet.decode():
            if (frame.width, frame.height) != tuple(size):
                return f"{frame.width}x{frame.height}, not {size[0]}x{size[1]}"
            count += 1
    for _ in stream.codec_context.decode(None):  # frames the decoder still held
        count += 1
    return None if count == frames else f"{count} frames, not {frames}"


def _comment(container) -> object:
    try:
        return json.loads(container.metadata.get("comment", ""))
    except ValueError:
        return None


def _as_stored(value: dict) -> object:
    """``value`` as a container's comment tag holds it (JSON, unknown types as text)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))
