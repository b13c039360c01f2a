"""Segments of a render, the key of its settings, and the manifest of finished segments.

Frame numbers here are indices into the whole input (frames skipped by
``--start`` still count), as in :class:`~dreamstream.stream.sources.Frame`;
ranges are half-open, ``first <= index < last``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.stream.io import files

# Settings that decide where and how fast a render runs, not what it makes.
RUN_ONLY_SETTINGS = ("workers", "ray", "segments")
SEGMENTS_PER_WORKER = 3
MIN_SEGMENT_PER_WARMUP = 4  # a segment is at least 4x its warm-up: <= 25% extra work


@dataclass(frozen=True)
class Segment:
    """One contiguous piece of a render, and how it meets its neighbours.

    A segment renders ``warm_first <= index < last + lead_out``:

    - ``warm_first <= index < first``: warm-up frames, rendered to settle the
      temporal carry and discarded;
    - ``first <= index < first + fade``: its head, kept aside and cross-faded with
      the previous segment's lead-out into the seam (see :mod:`.seams`);
    - ``first + fade <= index < last``: its own frames, written as they come;
    - ``last <= index < last + lead_out``: its lead-out, the previous segment's
      carry continued into the next segment's head, kept aside for that seam.

    Attributes:
        number: 0-based position of the segment in the render.
        first, last: the frames it is responsible for, ``first <= index < last``.
        warm_first: the first frame it renders.
        fade: frames of its head that the seam before it cross-fades (0 for the first).
        lead_out: frames it renders past ``last`` for the seam after it (0 for the last).
    """

    number: int
    first: int
    last: int
    warm_first: int
    fade: int = 0
    lead_out: int = 0

    @property
    def frames(self) -> int:
        return self.last - self.first

    @property
    def warmup(self) -> int:
        return self.first - self.warm_first

    @property
    def own_first(self) -> int:
        """The first frame written straight from this segment's render."""
        return self.first + self.fade


def default_segment_count(frames: int, slots: int, warmup: int) -> int:
    """How many segments a render of ``frames`` gets on ``slots`` parallel workers.

    Three per worker, so a slow segment does not leave the others idle at the
    end, but no segment shorter than four times its warm-up (the warm-up is
    extra work each segment pays).
    """
    longest_allowed = max(1, frames // max(1, MIN_SEGMENT_PER_WARMUP * warmup))
    return max(1, min(SEGMENTS_PER_WORKER * max(1, slots), longest_allowed, frames))


def plan_segments(first: int, last: int, count: int, warmup: int) -> list[Segment]:
    """Cut ``first <= index < last`` into ``count`` contiguous segments of near-equal size.

    The first segment starts cold at ``first``, exactly like an uninterrupted
    render; every later one starts its warm-up ``warmup`` frames earlier (never
    before ``first``) and fades in over its first ``warmup`` frames (at most all
    but one of its frames) from the previous segment's lead-out.

    Raises:
        InputError: an empty range, ``count`` < 1 or more segments than frames.
    """
    total = last - first
    if total < 1:
        raise InputError(f"nothing to render: the frame range {first}-{last} is empty")
    if count < 1 or count > total:
        raise InputError(f"--segments must be from 1 to the {total} frames to render, got {count}")
    bounds = [first + (total * k) // count for k in range(count + 1)]
    spans = list(zip(bounds, bounds[1:], strict=False))
    fades = [0] + [min(warmup, b - a - 1) for a, b in spans[1:]]
    return [
        Segment(
            k,
            a,
            b,
            a if k == 0 else max(first, a - warmup),
            fade=fades[k],
            lead_out=fades[k + 1] if k + 1 < count else 0,
        )
        for k, (a, b) in enumerate(spans)
    ]


def render_key(mode: str, input_identity: dict, settings) -> str:
    """A hash of everything that decides a segment's pixels (not where it ran).

    Args:
        mode: "dream" or "style".
        input_identity: what identifies the input (path, size, modification time).
        settings: the render's :class:`~dreamstream.stream.settings.Settings`.
    """
    values = {k: v for k, v in dataclasses.asdict(settings).items() if k not in RUN_ONLY_SETTINGS}
    text = json.dumps(
        {"mode": mode, "input": input_identity, "settings": values}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def input_identity(path: Path) -> dict:
    """Path, size and modification time of an input file or frame folder."""
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class Manifest:
    """The finished segments of a render, in a small JSON file beside its output.

    Each entry records the segment's frame range and the key of the settings it
    was rendered with; :meth:`finished` reuses an entry only when both match.
    Only the driver writes it, atomically, after each segment ends.
    """

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = {}
        if path.is_file():
            try:
                entries = json.loads(path.read_text()).get("segments", {})
            except (OSError, ValueError, AttributeError):
                entries = {}  # a damaged manifest only costs re-rendering
            if isinstance(entries, dict):  # an edited one keeps only entries of the right shape
                self.entries = {k: v for k, v in entries.items() if isinstance(v, dict)}

    def finished(self, segment: Segment, key: str) -> dict | None:
        """The entry of ``segment`` if it was finished with the settings ``key``."""
        entry = self.entries.get(str(segment.number))
        if not entry or entry.get("key") != key:
            return None
        if (entry.get("first"), entry.get("last")) != (segment.first, segment.last):
            return None
        return entry

    def record(self, segment: Segment, key: str, **details) -> None:
        """Note ``segment`` as finished under ``key`` and save the file."""
        self.entries[str(segment.number)] = {
            "key": key,
            "first": segment.first,
            "last": segment.last,
            **details,
        }
        self.save()

    def save(self) -> None:
        """Write the file whole or not at all, through an exclusively created temporary file.

        Raises:
            OSError: it cannot be written (a full disk, a read-only folder).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"segments": self.entries}, indent=1, sort_keys=True)
        files.write_atomic(self.path, text.encode())
