"""A PNG's chunk layout and checksums, checked before OpenCV decodes it.

libpng reports a damaged file by printing ``libpng error: ...`` on the
process's stderr before OpenCV returns nothing, so a user would see that line
above the one-line error. Damage on disk or in transit breaks a chunk's CRC,
so checking every chunk's CRC first (``zlib.crc32``, a few milliseconds even
for a 4K frame) turns it into a clean message. A file whose CRCs are right
but whose compressed data is wrong (written broken) is left to libpng.
"""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_problem(data: bytes) -> str | None:
    """What is wrong with the PNG file ``data``, or ``None`` when its chunks are intact.

    Data without the PNG signature is not judged (``None``): a JPEG named
    ``.png`` is still read by OpenCV, which looks at the content.

    Returns:
        ``"damaged IDAT chunk"`` (the chunk's type), ``"file cut short"``, or ``None``.
    """
    if not data.startswith(SIGNATURE):
        return None
    view, at = memoryview(data), len(SIGNATURE)
    while at + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, at)
        end = at + 12 + length
        if end > len(data):
            return "file cut short"
        kind = bytes(view[at + 4 : at + 8])
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(view[at + 4 : end - 4]) != crc:
            return f"damaged {kind.decode('latin-1')} chunk"
        if kind == b"IEND":
            return None
        at = end
    return "file cut short"
