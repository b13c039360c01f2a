"""Where a source starts and ends: frame indices or times, and the window they make.

``start``/``end`` take a frame index (``10``) or a time (``"2.5s"``,
``"00:00:02.5"``, ``"1:30"``; a Python float is seconds); ``end`` is exclusive.
Times are measured from the source's first frame. ``frames`` caps how many
frames are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from dreamstream.core.errors import InputError


@dataclass(frozen=True)
class Position:
    """A point in a source: a frame index or a time in seconds."""

    index: int | None = None
    seconds: float | None = None

    def to_seconds(self, fps: Fraction | None) -> float | None:
        """This position in seconds (an index needs ``fps``)."""
        if self.seconds is not None:
            return self.seconds
        return float(self.index / fps) if fps else None


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


def parse_position(value: int | float | str | None, name: str = "start") -> Position | None:
    """Parse ``10`` (frame index), ``"2.5s"`` or ``"00:00:02.5"`` (time).

    Raises:
        InputError: the value is negative or not in one of those forms.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(f"{name} must be a frame index or a time, got: {value!r}")
    if isinstance(value, int):
        pos = Position(index=value)
    elif isinstance(value, float):
        pos = Position(seconds=value)
    else:
        pos = _parse_position_text(str(value).strip(), name)
    if (pos.index if pos.index is not None else pos.seconds) < 0:
        raise InputError(f"{name} must not be negative, got: {value!r}")
    return pos


def _parse_position_text(text: str, name: str) -> Position:
    if re.fullmatch(r"\d+", text):
        return Position(index=int(text))
    if re.fullmatch(r"\d+(\.\d*)?s", text):
        return Position(seconds=float(text[:-1]))
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = clock.groups()
        return Position(seconds=int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds))
    raise InputError(
        f"{name} must be a frame index (10) or a time (2.5s, 00:00:02.5), got: {text!r}"
    )


@dataclass(frozen=True)
class Window:
    """Which frames a source keeps: ``start <= frame < end``, at most ``frames``."""

    start: Position | None = None
    end: Position | None = None
    frames: int | None = None

    def before_start(self, index: int, seconds: float | None) -> bool:
        """True while the frame at ``index`` (``seconds`` from the first) is before start."""
        return self.start is not None and not _reached(self.start, index, seconds)

    def past_end(self, index: int, seconds: float | None) -> bool:
        """True once the frame at ``index`` is at or after the end."""
        return self.end is not None and _reached(self.end, index, seconds)


def _reached(pos: Position, index: int, seconds: float | None) -> bool:
    if pos.index is not None:
        return index >= pos.index
    # Half a microsecond of slack absorbs rounding in pts * time_base.
    return seconds is not None and seconds >= pos.seconds - 5e-7


def make_window(start, end, frames: int | None) -> Window:
    """Validate the shared trimming options into a :class:`Window`.

    Raises:
        InputError: a bad start/end, ``frames`` < 1, or an end not after start.
    """
    start_pos = parse_position(start, "start")
    end_pos = parse_position(end, "end")
    if end_pos is not None and (end_pos.index == 0 or end_pos.seconds == 0):
        raise InputError(f"end must be after the first frame, got end={end!r}")
    if frames is not None and (isinstance(frames, bool) or int(frames) != frames or frames < 1):
        raise InputError(f"frames must be a positive integer, got: {frames!r}")
    if start_pos and end_pos:
        same_unit = (start_pos.index is None) == (end_pos.index is None)
        first = start_pos.index if start_pos.index is not None else start_pos.seconds
        last = end_pos.index if end_pos.index is not None else end_pos.seconds
        if same_unit and last <= first:
            raise InputError(f"end must be after start, got start={start!r} end={end!r}")
    return Window(start_pos, end_pos, None if frames is None else int(frames))


def index_of(pos: Position | None, fps: Fraction | None, default: int) -> int | None:
    """Frame index of ``pos`` (``default`` when ``None``; ``None`` if a time lacks fps)."""
    if pos is None:
        return default
    if pos.index is not None:
        return pos.index
    if not fps:
        return None
    return int(np.ceil(pos.seconds * fps - 1e-6))
