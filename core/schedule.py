"""Keyframed settings: a number that changes along a render.

A schedule is written as keyframes, ``key:value`` separated by commas, with an
optional interpolation word among them::

    "0:1.0, 120:3.0, 240:0.5"          frames 0, 120 and 240, linear in between
    "0s:1.0, 2.5s:3.0, smooth"         seconds (need the frame rate), eased
    "0:4, 300:2, hold"                 steps: 4 until frame 300, then 2
    "2.0"                              a constant (what a plain number means)

A key is a frame index of the source (frames skipped by ``--start`` still
count, as in a frame's ``index``, so a farm segment sees its own frames'
values), or a time in seconds with an ``s`` suffix (``2.5s``), converted with
the frame rate. Before the first key
the first value holds; after the last, the last value holds.

Interpolations between two keys ``a`` and ``b``, ``u`` the share of the way:

- ``linear``: ``va + u (vb - va)``.
- ``smooth``: ``va + s(u) (vb - va)`` with ``s(u) = 3u^2 - 2u^3`` (smoothstep:
  no jump of speed at a key, as in Deforum's eased curves).
- ``hold``: ``va`` until ``b``, then ``vb`` (a step; for counts such as steps).

A schedule's canonical text (:meth:`Schedule.text`) parses back to the same
schedule, so it is what metadata and resume records keep. No clocks, no files:
the caller says which frame and what frame rate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dreamstream.core.errors import InputError

INTERPOLATIONS = ("linear", "smooth", "hold")

_KEY = re.compile(r"^(?P<num>[+]?(?:\d+(?:\.\d*)?|\.\d+))(?P<unit>s?)$")


@dataclass(frozen=True)
class Key:
    """One keyframe: at ``at`` frames (or seconds, when ``seconds``), the value ``value``."""

    at: float
    seconds: bool
    value: float

    def frame(self, fps: float | None, name: str) -> float:
        """The key's position in frames (seconds times ``fps``)."""
        if not self.seconds:
            return self.at
        if fps is None or not fps > 0:
            raise InputError(f"{name}: key {self.at:g}s needs the source's frame rate, not known")
        return self.at * fps

    def text(self) -> str:
        at = f"{self.at:g}s" if self.seconds else f"{int(self.at)}"
        return f"{at}:{self.value:g}"


@dataclass(frozen=True)
class Schedule:
    """A number keyed by frame index or time, interpolated in between.

    Attributes:
        keys: the keyframes, by position (all frames or all seconds may be mixed;
            they are ordered once the frame rate is known).
        interpolation: one of :data:`INTERPOLATIONS`.
        name: the setting's name, for messages.
    """

    keys: tuple[Key, ...]
    interpolation: str = "linear"
    name: str = "value"

    def __post_init__(self):
        if not self.keys:
            raise InputError(f"{self.name}: a schedule needs at least one key")
        if self.interpolation not in INTERPOLATIONS:
            raise InputError(
                f"{self.name}: interpolation must be one of {', '.join(INTERPOLATIONS)}, "
                f"got {self.interpolation!r}"
            )

    @property
    def constant(self) -> bool:
        """True when every key has the same value (the schedule is a plain number)."""
        return len({k.value for k in self.keys}) == 1

    @property
    def needs_fps(self) -> bool:
        """True when a key is given in seconds."""
        return any(k.seconds for k in self.keys)

    @property
    def values(self) -> tuple[float, ...]:
        """The keys' values, for range checks: interpolation never leaves their span."""
        return tuple(k.value for k in self.keys)

    def frames(self, fps: float | None = None) -> list[tuple[float, float]]:
        """``(frame, value)`` of each key, ordered by frame.

        Raises:
            InputError: a key in seconds without a frame rate, or two keys on one frame.
        """
        pairs = sorted((k.frame(fps, self.name), k.value) for k in self.keys)
        for (a, _), (b, _) in zip(pairs, pairs[1:], strict=False):
            if a == b:
                raise InputError(f"{self.name}: two keys fall on frame {a:g}")
        return pairs

    def at(self, frame: float, fps: float | None = None) -> float:
        """The value at source frame index ``frame``.

        Args:
            frame: the frame's index in the source.
            fps: frames per second of the source; needed only for keys in seconds.
        """
        if self.constant:
            return self.keys[0].value
        pairs = self.frames(fps)
        if frame <= pairs[0][0]:
            return pairs[0][1]
        for (fa, va), (fb, vb) in zip(pairs, pairs[1:], strict=False):
            if frame < fb:
                return _between(va, vb, (frame - fa) / (fb - fa), self.interpolation)
        return pairs[-1][1]

    def text(self) -> str:
        """Canonical text that :func:`parse_schedule` reads back to this schedule."""
        keys = ", ".join(k.text() for k in self.keys)
        return keys if self.interpolation == "linear" else f"{keys}, {self.interpolation}"

    def __str__(self) -> str:
        return self.text()


def eased(u: float, how: str) -> float:
    """The share ``u`` (0-1 between two keys) as interpolation ``how`` uses it."""
    if how == "hold":
        return 0.0
    if how == "smooth":
        return u * u * (3.0 - 2.0 * u)
    return u


def _between(va: float, vb: float, u: float, how: str) -> float:
    if how == "hold":
        return va
    return va + eased(u, how) * (vb - va)


def parse_key(text: str, item: str, name: str) -> tuple[float, bool]:
    """A key's position and whether it is in seconds; InputError naming ``item`` if bad."""
    m = _KEY.match(text.strip())
    if not m:
        raise InputError(
            f"{name}: bad key {text.strip()!r} in {item!r}; a key is a frame index (120) "
            f"or a time in seconds (2.5s)"
        )
    seconds = m["unit"] == "s"
    at = float(m["num"])
    if not seconds and at != int(at):
        raise InputError(f"{name}: frame key {text.strip()!r} must be a whole number (or use s)")
    return at, seconds


def _parse_value(text: str, item: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"{name}: bad value {text.strip()!r} in {item!r}; expected a number"
        ) from None
    if not math.isfinite(value):
        raise InputError(f"{name}: bad value {text.strip()!r} in {item!r}; must be finite")
    return value


def parse_schedule(text, name: str = "value") -> Schedule:
    """A :class:`Schedule` from text (see the module's doc), a number, or a Schedule.

    Args:
        text: ``"0:1.0, 120:3.0, 240:0.5"``, ``"2.5s:1, smooth"``, ``"2.0"``, ``2.0``.
        name: the setting's name, for messages (``step_size``).

    Raises:
        InputError: one line naming the bad key, value or interpolation.
    """
    if isinstance(text, Schedule):
        return text
    if isinstance(text, bool):
        raise InputError(f"{name}: expected a number or a schedule, got {text!r}")
    if isinstance(text, int | float):
        return Schedule((Key(0.0, False, _parse_value(str(text), str(text), name)),), name=name)
    if not isinstance(text, str):
        raise InputError(f"{name}: expected a number or a schedule, got {text!r}")
    items = [s.strip() for s in text.split(",")]
    if not any(items):
        raise InputError(f"{name}: empty schedule")
    if len(items) == 1 and ":" not in items[0]:
        return Schedule((Key(0.0, False, _parse_value(items[0], items[0], name)),), name=name)
    keys, how = [], "linear"
    for item in items:
        if item in INTERPOLATIONS:
            how = item
            continue
        key, colon, value = item.partition(":")
        if not colon:
            raise InputError(
                f"{name}: bad keyframe {item!r}; expected key:value (120:3.0, 2.5s:3.0) "
                f"or one of {', '.join(INTERPOLATIONS)}"
            )
        at, seconds = parse_key(key, item, name)
        keys.append(Key(at, seconds, _parse_value(value, item, name)))
    schedule = Schedule(tuple(keys), how, name)
    if not schedule.needs_fps:
        schedule.frames()  # repeated frame keys fail now, not at the first frame
    return schedule


def check_values(schedule: Schedule, low: float | None, high: float | None, rule: str) -> None:
    """Raise InputError naming the first key whose value is outside ``[low, high]``.

    Interpolation never leaves the span of the keys' values, so checking the
    keys checks every frame.
    """
    for k in schedule.keys:
        if (low is not None and k.value < low) or (high is not None and k.value > high):
            raise InputError(f"{schedule.name}: value {k.value:g} at key {k.text()} must be {rule}")
