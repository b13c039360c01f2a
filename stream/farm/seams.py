"""Seams between segments: the previous segment's carry cross-faded into the next one.

A segment starts with a carry of its own: warm-up frames settle it, but a
dream's carried pattern keeps its whole history (two renders that differ
before frame t keep differing after it; style's carry, a blend with weight
< 1, forgets). So the seam is a cross-fade: the previous segment renders on
past its end (its lead-out, its own carry continued), the next segment's
first frames (its head) are kept aside too, and the seam's frames are

    out_j = (1 - l_j) * lead_out_j + l_j * head_j,   l_j = (j + 1) / (n + 1)

for j = 0 .. n-1: each step between consecutive frames moves 1/(n+1) of the
way from one carry to the other, instead of all of it at once.

Lead-out and head frames wait in a folder beside the output as lossless PNG
(``uint8`` RGB); the driver makes the seams once both neighbours are done.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.io import files

LEAD_OUT, HEAD = "a", "b"


def crossfade(lead_out: list[np.ndarray], head: list[np.ndarray]) -> list[np.ndarray]:
    """Fade from ``lead_out`` to ``head`` (equal-length lists of uint8 HxWx3 RGB frames)."""
    n = len(head)
    if len(lead_out) != n:
        raise ValueError(f"a seam needs as many lead-out as head frames, got {len(lead_out)}, {n}")
    faded = []
    for j, (a, b) in enumerate(zip(lead_out, head, strict=True)):
        weight = (j + 1) / (n + 1)
        mixed = (1.0 - weight) * a.astype(np.float32) + weight * b.astype(np.float32)
        faded.append(np.clip(np.rint(mixed), 0, 255).astype(np.uint8))
    return faded


def raw_file(folder: Path, seam: int, side: str, index: int) -> Path:
    """Where frame ``index`` of seam ``seam`` waits: ``side`` is LEAD_OUT or HEAD."""
    return folder / f"{seam:04d}" / f"{side}-{index:08d}.png"


def save_raw(path: Path, image: np.ndarray) -> None:
    """Write a uint8 RGB frame as PNG, whole or not at all.

    Raises:
        InputError: it cannot be written (a full disk, a read-only folder), in one line.
    """
    import cv2

    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]))
    if not ok:
        raise RuntimeError(f"cannot encode a seam frame for {path}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomic(path, data.tobytes())
    except OSError as error:
        raise files.output_error(error, path) from None


def faded_frames(g, folder: Path) -> dict[int, np.ndarray]:
    """Frame index -> the cross-faded frame of the seam before segment ``g``."""
    from dreamstream.stream.io import read_image

    indices = range(g.first, g.first + g.fade)
    lead_out = [read_image(raw_file(folder, g.number, LEAD_OUT, i)) for i in indices]
    head = [read_image(raw_file(folder, g.number, HEAD, i)) for i in indices]
    return dict(zip(indices, crossfade(lead_out, head), strict=True))


def make_seam(job, folder: Path) -> dict:
    """Cross-fade the seam before ``job.segment`` and write it to ``job.output``.

    Args:
        job: a :class:`~dreamstream.stream.farm.task.SegmentJob` whose output is the
            seam's video file or the render's frame pattern.
        folder: where the lead-out and head frames wait.

    Returns:
        ``frames`` written and ``start_time`` of the first (see ``render_segment``).
    """
    from dreamstream.stream.farm.parts import first_time, open_part
    from dreamstream.stream.io import open_source

    g = job.segment
    faded = faded_frames(g, folder)
    # The input is read again for the frames' own timestamps and the same encoder set-up.
    window = job.source.window(g.first, g.first + g.fade)
    with open_source(job.input, **window.kwargs()) as source:
        with open_part(job, source) as sink:
            first = None
            for frame in source:
                first = frame if first is None else first
                sink.write(dataclasses.replace(frame, image=faded[frame.index]))
        fps = source.fps
    if first is None or sink.frames_written != g.fade:
        raise InputError(f"{job.input}: frames {g.first}-{g.first + g.fade - 1} could not be read")
    return {"frames": sink.frames_written, "start_time": first_time(first, fps)}
