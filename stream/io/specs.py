"""What a spec names: the kinds of inputs and outputs, and the checks made before any I/O.

An input spec is a video file, a single image, a folder of numbered images or
a ``frames/%05d.png`` pattern, ``camera:N`` or ``/dev/videoN``, or a network
URL. An output spec is a video file, an image, a frame folder or pattern,
``window``, ``null``, ``vcam`` (a virtual camera) or a stream URL (``udp://``,
``rtmp://``, ...). This module classifies both (one place for each) and
:func:`check_output` refuses a bad output before a model loads or a file is
made, so a bad output costs nothing and an existing file is never touched.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.stream.io.files import check_name, output_error

URL_SCHEMES = (
    "rtsp://",
    "rtsps://",
    "rtmp://",
    "http://",
    "https://",
    "udp://",
    "tcp://",
    "srt://",
)
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
VIDEO_CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9"}
# FFmpeg's muxer names, given when a video is written through a file object.
VIDEO_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
IMAGE_OUTPUTS = IMAGE_EXTENSIONS
DEFAULT_PATTERN = "%05d.png"


def is_camera(spec: str) -> bool:
    """Whether ``spec`` names a camera (``camera:N`` or ``/dev/videoN``)."""
    return spec.startswith("camera:") or re.fullmatch(r"/dev/video\d+", spec) is not None


def is_url(spec: str) -> bool:
    """Whether ``spec`` is a network stream address (rtsp://, http://, ...)."""
    return spec.lower().startswith(URL_SCHEMES)


def camera_device(spec: str) -> int | str:
    """What OpenCV opens for ``camera:N`` (the index) or ``/dev/videoN`` (the path).

    Raises:
        InputError: ``spec`` names no camera.
    """
    device = spec.removeprefix("camera:")
    if not (device.isdigit() or device.startswith("/dev/")):
        raise InputError(f"camera must be camera:N or /dev/videoN, got: {spec}")
    return int(device) if device.isdigit() else device


def input_kind(spec: str | os.PathLike) -> str:
    """What an input spec names: "camera", "url", "images", "image" or "video".

    Only the spec's form and the file system decide; nothing is opened. A path
    that does not exist is called "video" (opening it says it is missing).
    """
    text = os.fspath(spec)
    if is_camera(text):
        return "camera"
    if is_url(text):
        return "url"
    path = Path(text)
    if "%" in path.name or path.is_dir():
        return "images"
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return "image"
    return "video"


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
    if text.lower() == "vcam" or text.lower().startswith("vcam:"):
        return "vcam", None
    if "://" in text:
        return "stream", None  # check_output says which schemes stream
    path = Path(text)
    check_name(path, text)  # before the file system is asked about it
    suffix = path.suffix.lower()
    if "%" in path.name:
        pattern_regex(text)  # validates the field
        if suffix not in IMAGE_OUTPUTS:
            raise InputError(f"unknown image extension in output pattern: {text}")
        return "images", path
    if text.endswith(("/", os.sep)) or not suffix:
        return "images", path / DEFAULT_PATTERN
    if path.is_dir():
        if suffix in VIDEO_CODECS or suffix in IMAGE_OUTPUTS:  # a file was meant: never fill it
            raise InputError(f"output {text} is a folder; for frames in it, end it with /")
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
    kind, path = input_kind(input_spec), Path(os.fspath(input_spec))
    if kind in ("camera", "url"):
        return None, None
    if kind == "images":
        return None, (path.parent if "%" in path.name else path).resolve()
    return path.resolve(), None


def check_output(
    spec, input_spec, overwrite: bool, *, resume: bool = False, count: int | None = None
) -> None:
    """Reject a bad output before anything is loaded, created or touched.

    Args:
        spec: the output spec (see :func:`open_sink`).
        input_spec: the input spec or path, or ``None``.
        overwrite: an existing output file may be replaced; an image folder may
            already hold frames (their numbers are rewritten).
        resume: an image folder may already hold frames (the pipeline skips them).
        count: frames the input will give, if known: a one-image output takes one.

    Raises:
        InputError: unknown extension, output equal to the input or inside its
            frame folder, output exists, the output folder is not writable, a
            window is asked for where none can open (no usable display), a
            stream URL that cannot work (see ``netstream.check_stream``), or a
            virtual camera without pyvirtualcam or a backend.
    """
    kind, path = output_kind(spec)
    if kind == "window":
        _check_display(spec)
    if kind == "stream":
        from dreamstream.stream.io.netstream import check_stream

        check_stream(os.fspath(spec))
    if kind == "vcam":
        from dreamstream.stream.io.vcam import check_vcam

        check_vcam(os.fspath(spec))
    if kind == "image" and count is not None and count > 1:
        raise InputError(f"output {spec} is one image but the input has {count} frames")
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
    check_name(path.with_name(path.name % 0) if kind == "images" else path, spec)
    _check_writable(target.parent if kind != "images" else target, spec)


def _check_display(spec) -> None:
    from dreamstream.stream.io.display import display_problem

    reason = display_problem()
    if reason:
        raise InputError(f"output {spec}: cannot open a window: {reason}")


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
    try:  # what the sink will do there, tried once (root passes access(); /proc refuses)
        os.rmdir(tempfile.mkdtemp(prefix=".dreamstream-", dir=probe))
    except OSError as error:
        raise output_error(error, spec) from None


def existing_indices(pattern: Path) -> set[int]:
    """Frame numbers already on disk for an image pattern like ``out/%05d.png``."""
    folder, regex = pattern_regex(str(pattern))
    if not folder.is_dir():
        return set()
    return {int(m.group(1)) for p in folder.iterdir() if (m := regex.match(p.name))}


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
