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


def image_file_problem(path: Path, size: tuple[int, int] | None = None) -> str | None:
    """Without decoding: the file is there, not empty, and whole as far as its format tells.

    A PNG's chunks are all checked (lengths and CRCs, to the end chunk: a file
    cut short or damaged fails) and its header must say ``size``; a JPEG must
    start and end with its markers. Costs a read of the file and a CRC, far less
    than decoding, so thousands of frames can be checked; use
    :func:`image_problem` where the picture itself is needed.

    Args:
        path: the image file.
        size: the expected (width, height), or ``None``.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        return error.strerror or str(error)
    if not data:
        return "empty file"
    if data.startswith(SIGNATURE):
        problem = png_problem(data)
        if problem is not None:
            return problem
        if data[12:16] != b"IHDR":
            return "no PNG header"
        width, height = struct.unpack(">II", data[16:24])
        if size is not None and (width, height) != tuple(size):
            return f"{width}x{height}, not {size[0]}x{size[1]}"
    elif data.startswith(b"\xff\xd8") and not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        return "file cut short"
    return None


def image_problem(path: Path, size: tuple[int, int] | None = None) -> str | None:
    """Thorough: the whole picture decodes, and is ``size`` (width, height) if given."""
    from dreamstream.stream.io.images import read_image

    problem = image_file_problem(path, size)
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
