"""What an output spec names, and the checks made before any output is created.

:func:`check_output` runs before a model loads or a file is made, so a bad
output costs nothing and an existing file is never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.stream.imagefiles import pattern_regex
from dreamstream.stream.sources import URL_SCHEMES

VIDEO_CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9"}
IMAGE_OUTPUTS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
DEFAULT_PATTERN = "%05d.png"


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
