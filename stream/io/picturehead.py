"""What a picture file holds, from its first bytes, and its size, from its header alone.

OpenCV picks its decoder by the file's content, never by its name, and
allocates the whole picture before anything can look at its size: a
Radiance HDR named ``.jpg`` that declares 10000x10000 becomes 3.9 GB. So the
reader (:func:`dreamstream.stream.io.images.read_image`) asks this module
first: :func:`sniff` names the format by the same signatures OpenCV's
decoders check, and :func:`header_size` reads the width and height from that
format's header through Pillow's parser for exactly that format (which reads
headers lazily and decodes nothing). Only the five formats the product reads
(PNG, JPEG, TIFF, BMP, WebP) get that far; the others OpenCV would decode
(HDR, EXR, PFM, PAM, PNM, JPEG 2000, Sun raster, GIF, AVIF) are refused by
name, as their samples are float or their use here is none.
"""

from __future__ import annotations

import struct
import warnings
from typing import BinaryIO

# The formats read, by the Pillow plugin that parses their headers.
READ = {"PNG": "PNG", "JPEG": "JPEG", "TIFF": "TIFF", "BMP": "BMP", "WebP": "WEBP"}
READ_NAMES = "PNG, JPEG, TIFF, BMP or WebP"

# (signature, offset, format), as OpenCV's decoders recognise them.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"II+\x00", 0, "TIFF"),  # BigTIFF
    (b"MM\x00+", 0, "TIFF"),
    (b"BM", 0, "BMP"),
    (b"WEBP", 8, "WebP"),  # after b"RIFF" and a length
    (b"#?RADIANCE", 0, "Radiance HDR"),
    (b"#?RGBE", 0, "Radiance HDR"),
    (b"v/1\x01", 0, "OpenEXR"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", 0, "JPEG 2000"),
    (b"\xffO\xffQ", 0, "JPEG 2000"),
    (b"\x59\xa6\x6a\x95", 0, "Sun raster"),
    (b"GIF8", 0, "GIF"),
    (b"ftypavif", 4, "AVIF"),
    (b"P7", 0, "PAM"),
    (b"PF", 0, "PFM"),
    (b"Pf", 0, "PFM"),
)


def sniff(head: bytes) -> str | None:
    """The format of a file beginning with ``head`` (its first 32 bytes suffice), or ``None``.

    Returns:
        ``"PNG"``, ``"JPEG"``, ``"TIFF"``, ``"BMP"``, ``"WebP"`` (the formats read), the
        name of another format OpenCV would decode (``"Radiance HDR"``, ``"PFM"``, ...),
        or ``None`` for anything else.
    """
    for signature, at, name in _SIGNATURES:
        if head[at : at + len(signature)] == signature:
            if name == "WebP" and not head.startswith(b"RIFF"):
                continue
            return name
    if len(head) > 2 and head[:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "PNM"
    return None


def header_size(file: BinaryIO, name: str, fmt: str) -> tuple[int, int] | None:
    """``(width, height)`` declared by the header of ``file``, a picture in format ``fmt``.

    Pillow's parser for that one format reads the header and decodes nothing.
    It is called directly rather than through ``Image.open``, which would try
    every other parser too and apply Pillow's own pixel guard (a limit the
    caller sets itself, with a message that says the size).

    Args:
        file: the open file, at its start.
        name: its name, for Pillow.
        fmt: one of :data:`READ`'s keys, as :func:`sniff` named it.

    Returns:
        The size, or ``None`` when the header cannot be parsed.
    """
    from PIL import Image

    Image.init()
    factory, _ = Image.OPEN[READ[fmt]]
    try:
        with warnings.catch_warnings():  # odd metadata: the decoder judges the picture
            warnings.simplefilter("ignore")
            width, height = factory(file, name).size
    except Exception:  # noqa: BLE001 -- every parser has its own errors: a damaged header
        if fmt != "TIFF":
            return None
        # Pillow knows fewer TIFF sample layouts than OpenCV (int16 or float RGB): read the
        # first directory's size directly; the reader refuses such samples with its own line.
        file.seek(0)
        width, height = _tiff_size(file.read(1 << 16)) or (0, 0)
    return (int(width), int(height)) if width > 0 and height > 0 else None


def _tiff_size(head: bytes) -> tuple[int, int] | None:
    """Width and height (tags 256 and 257) of a classic TIFF's first directory, if in ``head``."""
    order = "<" if head[:2] == b"II" else ">"
    if len(head) < 8 or head[2:4] != struct.pack(f"{order}H", 42):
        return None  # BigTIFF is left to Pillow
    (at,) = struct.unpack_from(f"{order}I", head, 4)
    if at + 2 > len(head):
        return None
    (count,) = struct.unpack_from(f"{order}H", head, at)
    found = {}
    for k in range(count):
        entry = at + 2 + 12 * k
        if entry + 12 > len(head):
            return None
        tag, kind = struct.unpack_from(f"{order}HH", head, entry)
        if tag in (256, 257):  # SHORT (3) or LONG (4), one value, held in the entry
            code = "H" if kind == 3 else "I"
            (found[tag],) = struct.unpack_from(f"{order}{code}", head, entry + 8)
    return (found[256], found[257]) if len(found) == 2 else None
