"""Image files: reading them as RGB, numbered sequences, and resizing.

Conventions chosen for image files (PNG, JPEG, TIFF, BMP, WebP):

* 16-bit samples are scaled to 8 bits (``round(v / 257)``), so 65535 -> 255.
* Grayscale becomes RGB by copying the channel.
* Alpha is composited over **black** (``rgb * alpha``): transparent pixels
  become black rather than showing whatever colour the file stored under them.
* JPEG EXIF orientation is honoured (OpenCV's colour reader applies it).

Every image returned is ``uint8``, ``HxWx3``, **RGB**. This module is the
only image reader of the product: frames, style pictures, guide images and
the benchmarks all read through :func:`read_image`.

It also holds the image sources and sinks: numbered sequences (a folder or a
``%05d`` pattern) and single images. Files are written atomically (a unique
temporary file in the same folder, renamed over the final name).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.io.frame import Frame, Sink, Source, resize
from dreamstream.stream.io.positions import Window
from dreamstream.stream.io.specs import existing_indices, list_images, pattern_regex

DEFAULT_IMAGE_FPS = Fraction(25)


def read_image(path: str | os.PathLike, what: str = "image") -> np.ndarray:
    """Read an image file as ``uint8`` ``HxWx3`` RGB (see the module notes).

    Args:
        path: the file.
        what: what the picture is for ("style image", "guide image"), for messages.

    Raises:
        InputError: the file cannot be decoded or has an unsupported sample type.
    """
    path = Path(path)
    # The colour reader applies JPEG EXIF orientation; others need UNCHANGED for alpha/16 bit.
    flag = cv2.IMREAD_COLOR if path.suffix.lower() in (".jpg", ".jpeg") else cv2.IMREAD_UNCHANGED
    data = cv2.imread(str(path), flag)
    if data is None:
        raise InputError(f"cannot read {what}: {path}")
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
        self._check_start(len(self._files))
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
    """Writes ``frame.index`` to ``out/%05d.png`` (each file atomically).

    On close, the settings go beside the frames as ``dreamstream-FIRST-LAST.json``
    (the frame range this render wrote), so a render split across machines
    documents each part.
    """

    kind = "images"

    def __init__(self, pattern: Path, metadata: dict | None = None):
        super().__init__()
        self.path = pattern
        self.metadata = metadata
        self._folder, _ = pattern_regex(str(pattern))
        self._make_folder(self._folder)
        self._range: tuple[int, int] | None = None

    def existing(self) -> set[int]:
        """Frame indices already on disk (for resuming)."""
        return existing_indices(self.path)

    def file_for(self, index: int) -> Path:
        """The file that frame ``index`` goes to."""
        return self._folder / (self.path.name % index)

    def write(self, frame: Frame) -> None:
        _atomic_image_write(self.file_for(frame.index), frame.image)
        first, last = self._range or (frame.index, frame.index)
        self._range = (min(first, frame.index), max(last, frame.index))
        super().write(frame)

    def close(self) -> None:
        if not self._done and self.metadata is not None and self._range is not None:
            first, last = self._range
            sidecar = self._folder / f"dreamstream-{first}-{last}.json"
            tmp = sidecar.with_name(f".{sidecar.name}.partial")
            tmp.write_text(json.dumps(self.metadata, indent=1, sort_keys=True, default=str))
            os.replace(tmp, sidecar)
        super().close()


class ImageSink(Sink):
    """One image file; each frame replaces it atomically (the last one stays)."""

    kind = "image"

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self._make_folder(path.parent)

    def write(self, frame: Frame) -> None:
        _atomic_image_write(self.path, frame.image)
        super().write(frame)
