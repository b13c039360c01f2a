"""Image files: reading them as RGB, numbered sequences, and resizing.

Conventions chosen for image files (PNG, JPEG, TIFF, BMP, WebP):

* 16-bit samples are scaled to 8 bits (``round(v / 257)``), so 65535 -> 255.
* Grayscale becomes RGB by copying the channel.
* Alpha is composited over **black** (``rgb * alpha``): transparent pixels
  become black rather than showing whatever colour the file stored under them.
* JPEG EXIF orientation is honoured (OpenCV's colour reader applies it).

Every image returned is ``uint8``, ``HxWx3``, **RGB**.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core.errors import InputError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``uint8`` ``HxWx3`` RGB (see the module notes).

    Raises:
        InputError: the file cannot be decoded or has an unsupported sample type.
    """
    path = Path(path)
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
