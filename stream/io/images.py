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
temporary file in the same folder, renamed over the final name; see
:mod:`.files`); a frame that cannot be written (a full disk) ends the render
with a one-line error saying how many frames were finished and kept.
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
from dreamstream.core.params import MAX_PIXELS
from dreamstream.stream.io import files, picturehead
from dreamstream.stream.io.frame import Frame, Sink, Source, check_pixels, resize
from dreamstream.stream.io.pngcheck import png_problem
from dreamstream.stream.io.positions import Window
from dreamstream.stream.io.specs import existing_indices, list_images, output_kind, pattern_regex

DEFAULT_IMAGE_FPS = Fraction(25)


def read_image(
    path: str | os.PathLike, what: str = "image", max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Read an image file as ``uint8`` ``HxWx3`` RGB (see the module notes).

    The format is judged by the file's content, as OpenCV's decoders judge it,
    and the size by that format's header, before anything is decoded (see
    :mod:`.picturehead`): a picture over ``max_pixels`` is never allocated.

    Args:
        path: the file.
        what: what the picture is for ("style image", "guide image"), for messages.
        max_pixels: refuse a larger picture, judged from its header before decoding.

    Raises:
        InputError: the file is missing, empty, not a PNG, JPEG, TIFF, BMP or WebP
            picture, too large, cannot be decoded or has an unsupported sample type.
    """
    path = Path(path)
    if not path.is_file():
        problem = "is not a regular file" if path.exists() else "not found"
        raise InputError(f"{what} {problem}: {path}")
    data = _checked_bytes(path, what, max_pixels)
    fmt = picturehead.sniff(data[:32])
    if fmt == "PNG":
        problem = png_problem(data)
        if problem:
            raise InputError(f"cannot read {what}: {path} ({problem})")
    # The colour reader applies JPEG EXIF orientation; others need UNCHANGED for alpha/16 bit.
    flags = cv2.IMREAD_COLOR if fmt == "JPEG" else cv2.IMREAD_UNCHANGED
    decoded = _decode(data, flags)
    if decoded is None:
        raise InputError(f"cannot read {what}: {path}")
    check_pixels(decoded.shape[1::-1], max_pixels, f"{what} {path} is")  # header and data agree
    return to_rgb8(decoded, str(path))


def _decode(data: bytes, flags: int) -> np.ndarray | None:
    """OpenCV's decode, with its own log lines (a TIFF it cannot read) kept off stderr."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _checked_bytes(path: Path, what: str, max_pixels: int) -> bytes:
    """The file's bytes, once its content is a format read here and its header's size fits.

    Raises:
        InputError: unreadable, empty, another format, no size in its header, or too large.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(32)
            if not head:
                raise InputError(f"cannot read {what}: {path} (empty file)")
            fmt = picturehead.sniff(head)
            if fmt not in picturehead.READ:
                kind = f"a {fmt} picture" if fmt else "not a picture"
                raise InputError(
                    f"cannot read {what}: {path} ({kind}; pictures must be "
                    f"{picturehead.READ_NAMES})"
                )
            file.seek(0)
            size = picturehead.header_size(file, str(path), fmt)
            if size is None:
                raise InputError(f"cannot read {what}: {path} (damaged {fmt} header)")
            check_pixels(size, max_pixels, f"{what} {path} is")
            file.seek(0)
            return file.read()
    except OSError as exc:
        raise InputError(f"cannot read {what}: {path} ({exc.strerror or exc})") from None


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

    def __init__(
        self, spec: str, window: Window, width, fps=None, *, single=False, max_pixels=MAX_PIXELS
    ):
        super().__init__(window, width, max_pixels)
        self.kind, self.spec, self.path = ("image" if single else "images"), spec, Path(spec)
        self.fps = Fraction(fps) if fps is not None else DEFAULT_IMAGE_FPS
        if self.fps <= 0:
            raise InputError(f"fps must be positive, got: {fps!r}")
        self._files = [self.path] if single else list_images(spec)
        if not self._files:
            raise InputError(f"no images found in: {spec}")
        self._first = read_image(self._files[0], max_pixels=max_pixels)
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
            image = read_image(path, max_pixels=self.max_pixels)
        except InputError as exc:  # one bad file must not end a long render
            self._warn(f"skipped {exc}")
            return None
        if image.shape[1::-1] != self._raw_size:
            self._warn(f"{path} is {image.shape[1]}x{image.shape[0]}; resized to the first")
            image = resize(image, self._raw_size)
        return image


def _write_image(path: Path, image: np.ndarray, kept: str) -> None:
    """Encode ``image`` (RGB) by ``path``'s extension and write it atomically.

    Raises:
        InputError: the image cannot be encoded or written; ``kept`` ends the message.
    """
    ok, data = cv2.imencode(path.suffix.lower(), np.ascontiguousarray(image[:, :, ::-1]))
    if not ok:
        raise InputError(f"cannot encode image: {path}")
    try:
        files.write_atomic(path, data.tobytes())
    except OSError as error:
        raise files.output_error(error, path, kept) from None


def _frames_kept(count: int, folder: Path) -> str:
    return f"the {count} frame{'' if count == 1 else 's'} finished before it are kept in {folder}"


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
        kept = _frames_kept(self.frames_written, self._folder)
        _write_image(self.file_for(frame.index), frame.image, kept)
        first, last = self._range or (frame.index, frame.index)
        self._range = (min(first, frame.index), max(last, frame.index))
        super().write(frame)

    def _write_sidecar(self) -> None:
        if self._done or self.metadata is None or self._range is None:
            return
        first, last = self._range
        sidecar = self._folder / f"dreamstream-{first}-{last}.json"
        text = json.dumps(self.metadata, indent=1, sort_keys=True, default=str)
        try:
            files.write_atomic(sidecar, text.encode())
        except OSError as error:
            kept = f"the {self.frames_written} frames written are kept"
            raise files.output_error(error, sidecar, kept) from None

    def close(self) -> None:
        self._write_sidecar()
        super().close()

    def abort(self) -> None:
        """Keep the frames written (each is whole) and, if it can, say how they were made."""
        try:
            self._write_sidecar()
        except InputError:
            pass  # the disk that failed a frame may refuse this too; the frames stay
        super().abort()


class ImageSink(Sink):
    """One image file; each frame replaces it atomically (the last one stays)."""

    kind = "image"

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self._make_folder(path.parent)

    def write(self, frame: Frame) -> None:
        kept = "the previous image is kept" if self.frames_written else ""
        _write_image(self.path, frame.image, kept)
        super().write(frame)


# Settings that may differ between the parts of one image-sequence render (they do not
# change a frame).
_PER_PART = frozenset({"start", "end", "frames", "crf", "encoder_preset", "max_pixels"})


def check_resume(spec, mode: str, settings: dict) -> None:
    """Refuse to resume an image sequence made with other settings.

    Each render leaves a sidecar ``dreamstream-FIRST-LAST.json`` with its mode and
    settings; resuming must use the same ones (only the frame range and the video
    encoder settings may differ), or frames of different sizes and looks would mix.

    Args:
        spec: the output spec (nothing is checked unless it is an image sequence).
        mode: "dream" or "style".
        settings: this render's ``Settings.as_dict()``.

    Raises:
        InputError: a sidecar records another mode or setting, or cannot be read.
    """
    kind, pattern = output_kind(spec)
    folder = pattern.parent if kind == "images" else None
    if folder is None or not folder.is_dir():
        return
    now = json.loads(json.dumps(settings, default=str))  # compared as the sidecar stores them
    for sidecar in sorted(folder.glob("dreamstream-*-*.json")):
        try:
            recorded = json.loads(sidecar.read_text())
        except (OSError, ValueError) as error:
            raise InputError(f"cannot resume: {sidecar} cannot be read ({error})") from None
        if recorded.get("mode") != mode:
            raise InputError(
                f"cannot resume: {sidecar.name} records mode {recorded.get('mode')!r}, "
                f"this render is {mode!r}"
            )
        was = recorded.get("settings", {})
        for name in sorted(set(now) - _PER_PART):
            if name in was and was[name] != now[name]:
                what = "keyframes" if name == "keyframes" else "--" + name.replace("_", "-")
                raise InputError(
                    f"cannot resume: {sidecar.name} records {what} "
                    f"{was[name]!r}, this render has {now[name]!r}"
                )
