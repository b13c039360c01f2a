"""Which settings take keyframed schedules, and their values at a frame.

A schedulable setting holds either a number or a schedule's text
(``"0:1.0, 120:3.0, 240:0.5"``; see :mod:`dreamstream.core.schedule`), from
the CLI, a config file, a preset or the API alike. :func:`extract` splits a
mapping of settings into plain numbers (each schedule's value at frame 0,
which every check of the setting's range sees) and the schedules; the render
then asks :func:`values_at` for each frame's numbers.

Keys count *source* frames: frame 120 is the source's 121st frame, whatever
``--start`` skips, so every segment of a farm render sees the values of its
own frames. Times (``2.5s``) are source times at the source's frame rate.

The dream objective's term weights are keyframed inside ``--layers``:
``"block3_conv3:(0:1, 240:0), block5_conv1:(0:0, 240:1)"`` cross-fades from
one layer to the other over 240 frames (see :func:`split_objective`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dreamstream.core.errors import InputError
from dreamstream.core.schedule import Schedule, check_values, parse_schedule


@dataclass(frozen=True)
class Rule:
    """What values a schedulable setting allows (interpolation stays within its keys)."""

    low: float | None
    high: float | None
    text: str
    integer: bool = False


# Setting name -> rule. Counts (steps, octaves) take whole numbers at their keys
# and round in between; use "hold" to step them instead.
SCHEDULABLE: dict[str, Rule] = {
    "step_size": Rule(1e-12, None, "> 0"),
    "steps": Rule(0, None, ">= 0", integer=True),
    "steps_next": Rule(0, None, ">= 0", integer=True),
    "octaves": Rule(1, None, ">= 1", integer=True),
    "octaves_next": Rule(1, None, ">= 1", integer=True),
    "blend": Rule(0, 1, "in 0-1"),
    "anchor": Rule(0, 1, "in 0-1"),
    "regrow": Rule(0, None, ">= 0"),
    "tv_weight": Rule(0, None, ">= 0"),
    "guide_weight": Rule(None, None, "a number"),
    "class_weight": Rule(None, None, "a number"),
    "strength": Rule(0, 1, "in 0-1"),
    "temporal": Rule(0, 1, "in 0-1"),
    "zoom": Rule(1e-12, None, "> 0"),
    "rotate": Rule(None, None, "a number"),
    "pan_x": Rule(None, None, "a number"),
    "pan_y": Rule(None, None, "a number"),
}


def is_schedule_text(value) -> bool:
    """True for text that is a schedule rather than one number."""
    return isinstance(value, str) and ":" in value


def schedule_of(name: str, value) -> Schedule:
    """``value`` (a number or schedule text) as the schedule of setting ``name``, range-checked.

    Raises:
        InputError: a bad schedule, or a key whose value the setting does not allow.
    """
    if name not in SCHEDULABLE:
        raise InputError(f"--{name.replace('_', '-')} takes one value, not a schedule")
    rule = SCHEDULABLE[name]
    schedule = parse_schedule(value, name)
    check_values(schedule, rule.low, rule.high, rule.text)
    if rule.integer:
        for k in schedule.keys:
            if k.value != int(k.value):
                raise InputError(f"{name}: value {k.value:g} at key {k.text()} must be whole")
    return schedule


def extract(values: dict) -> tuple[dict, dict[str, Schedule]]:
    """Split settings into plain values and schedules.

    Returns:
        ``(plain, schedules)``: ``plain`` is ``values`` with each schedule text
        replaced by its value at frame 0 (typed like the setting: whole numbers
        for counts); ``schedules`` maps those names to their schedules.
    """
    plain, schedules = dict(values), {}
    for name, value in values.items():
        if name not in SCHEDULABLE or not isinstance(value, str):
            continue  # other text settings (--layers, --style) have colons of their own
        if not is_schedule_text(value):
            plain[name] = _number(name, value)  # one number: the setting's own checks apply
            continue
        schedule = schedule_of(name, value)
        if not schedule.constant:
            schedules[name] = schedule
        # Frame 0's value when it is known without the frame rate; any key's value
        # serves the setting's own checks, since every key was range-checked.
        first = schedule.keys[0].value if schedule.needs_fps else schedule.at(0)
        plain[name] = _typed(name, first)
    return plain, schedules


def _number(name: str, text: str):
    """A plain number given as text, typed like the setting (whole numbers for counts)."""
    label = "--" + name.replace("_", "-")
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{label} must be a number or keyframes, got {text!r}") from None
    if not math.isfinite(value):
        raise InputError(f"{label} must be a finite number, got {text!r}")
    if SCHEDULABLE[name].integer:
        if value != int(value):
            raise InputError(f"{label} must be a whole number, got {text!r}")
        return int(value)
    return value


def _typed(name: str, value: float):
    return int(round(value)) if SCHEDULABLE[name].integer else float(value)


def values_at(schedules: dict[str, Schedule], index: int, fps: float | None) -> dict:
    """Each scheduled setting's value at source frame ``index`` (counts rounded)."""
    return {name: _typed(name, s.at(index, fps)) for name, s in schedules.items()}


def join_keyframes(schedules: dict[str, Schedule]) -> str:
    """Schedules as ``Settings.keyframes`` text: ``"name=text; name=text"``, sorted by name."""
    return "; ".join(f"{name}={s.text()}" for name, s in sorted(schedules.items()))


def split_keyframes(text: str) -> dict[str, Schedule]:
    """``Settings.keyframes`` text back to schedules (see :func:`join_keyframes`).

    Raises:
        InputError: an unknown setting or a bad schedule, named.
    """
    out = {}
    for item in (t.strip() for t in (text or "").split(";")):
        if not item:
            continue
        name, eq, value = item.partition("=")
        if not eq:
            raise InputError(f"keyframes: expected name=schedule, got {item!r}")
        out[name.strip()] = schedule_of(name.strip(), value)
    return out


def texts(schedules: dict[str, Schedule]) -> dict[str, str]:
    """Canonical texts of the schedules, for metadata and resume keys."""
    return {name: s.text() for name, s in sorted(schedules.items())}


# ------------------------------------------------------------- objective weights


def _split_top(text: str) -> list[str]:
    """``text`` split at commas outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise InputError(f"unbalanced ')' in objective {text!r}")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise InputError(f"unbalanced '(' in objective {text!r}")
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def split_objective(spec: str) -> tuple[str, list[Schedule] | None]:
    """An objective whose weights may be schedules, as plain text and per-term schedules.

    ``"block3_conv3:(0:1, 240:0), block5_conv1[12]:(0:0, 240:1), block4_conv3:0.5"``
    gives ``("block3_conv3:1,block5_conv1[12]:1,block4_conv3:1", [s1, s2, 0.5])``:
    the terms with weight 1 and each term's weight as a schedule (a constant
    for a plain weight). Without any ``(...)``, ``(spec, None)``: nothing keyed.

    Raises:
        InputError: unbalanced parentheses or a bad weight schedule (named).
    """
    if "(" not in spec and ")" not in spec:
        return spec, None
    terms, weights = [], []
    for item in _split_top(spec):
        name, colon, weight = item.partition(":") if "(" not in item else item.partition(":(")
        if "(" in item:
            if not weight.endswith(")"):
                raise InputError(f"bad weight schedule in objective term {item!r}")
            weight = weight[:-1]
        name = name.strip()
        schedule = parse_schedule(weight if colon else "1", f"weight of {name}")
        terms.append(f"{name}:1")
        weights.append(schedule)
    return ",".join(terms), weights
