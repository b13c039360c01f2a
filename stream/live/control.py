"""Live mode's remote controls: a thread-safe queue of changes the loop applies once per frame.

The control page (:mod:`.controlpage`), OSC (:mod:`.osc`) and MIDI (:mod:`.midi`)
only ever call :meth:`Control.submit`, which checks a change and queues it
under a lock held for a list append: they never wait on the loop, and the loop
never waits on them. Each turn of the loop calls :meth:`Control.step`, which
applies what was queued (at the next frame, without a restart) and, at most
every ``PUBLISH_S``, publishes a snapshot of the loop's state that
:meth:`Control.state` hands to readers as plain JSON-able data.

Changes are named as on the page and in the OSC address space:

======================  =========================================================
``look`` (int)          pick look N (0-based) of the list
``next`` / ``previous`` the next / previous look
``cycle`` (bool)        move through the looks every ``period`` seconds
``period`` (s > 0)      the cycle's period
``pause`` (bool)        hold the picture (no value: toggle)
``reset``               drop the carried dream / styled history
``fullscreen``          toggle the window's fullscreen (no window: no effect)
``overlay`` (bool)      the fps/latency overlay (no value: toggle)
``blend`` (0-1)         dream: share of the carried dream in each frame's start
``steps`` (int 0-50)    dream: ascent steps per octave of a carried frame
``layers`` (preset)     dream: the layers of that preset (built in the background)
``style`` (text)        style: a built-in style 0-25 or a blend ``3:0.5,12:0.5``
``strength`` (0-1)      style: strength of the style
``temporal`` (0-1)      style: weight of the warped previous output
``mask`` (text)         none, person, background (see docs/masks.md) or saliency (dreams)
``react`` (bool)        the dream reacts to motion (no value: toggle)
``rise`` / ``fall`` (s) --react's rise and fall times, 0.05-60 seconds
``attract`` (s)         attract mode after this many quiet seconds; 0 turns it off
======================  =========================================================
"""

from __future__ import annotations

import collections
import logging
import threading
import time

from dreamstream.core.errors import InputError
from dreamstream.stream.live.effectcontrol import MaskSwitch, effects_state, retune

log = logging.getLogger("dreamstream.stream.live")

PUBLISH_S = 0.25  # the snapshot readers get is at most this old
MAX_PENDING = 256  # changes queued between two frames; older ones are dropped
MAX_STEPS = 50
DEFAULT_PERIOD_S = 60.0
TRIGGERS = ("next", "previous", "reset", "fullscreen")
TOGGLES = ("pause", "overlay", "cycle")
UNIT = ("blend", "strength", "temporal")  # numbers 0-1
DREAM = ("blend", "steps", "layers")
STYLE = ("style", "strength", "temporal")
EFFECTS = ("mask", "react", "rise", "fall", "attract")  # stream/effects.py, both modes
NAMES = TRIGGERS + TOGGLES + ("look", "period") + DREAM + STYLE[:1] + UNIT[1:] + EFFECTS


def _flag(name: str, value) -> bool | None:
    """A toggle's value: True/False, or None (toggle) for no value."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text in ("1", "true", "on", "yes", "1.0"):
        return True
    if text in ("0", "false", "off", "no", "0.0"):
        return False
    raise InputError(f"{name} must be 1/0, on/off or true/false, got {value!r}")


def _number(name: str, value, low: float, high: float | None, kind=float):
    try:
        number = kind(float(value)) if kind is int else float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number != number or number < low or (high is not None and number > high):
        top = "" if high is None else f" and {high:g}"
        raise InputError(f"{name} must be a number between {low:g}{top}, got {value!r}")
    return number


def check_change(name: str, value=None):
    """The checked value of one change (see the module's table).

    Raises:
        InputError: an unknown name or a value out of range, naming both.
    """
    if name in TRIGGERS:
        return True
    if name in TOGGLES:
        return _flag(name, value)
    if name == "look":
        return _number(name, value, 0, None, int)
    if name == "period":
        if _number(name, value, 0, None) <= 0:
            raise InputError(f"period must be more than 0 seconds, got {value!r}")
        return float(value)
    if name in UNIT:  # OSC sends float32: 0.3 arrives as 0.30000001192...
        return round(_number(name, value, 0, 1), 4)
    if name == "steps":
        return _number(name, value, 0, MAX_STEPS, int)
    if name == "react":
        return _flag(name, value)
    if name in ("rise", "fall"):
        return _number(name, value, 0.05, 60)
    if name == "attract":
        return _number(name, value, 0, 3600)
    if name == "mask":
        text = str(value if value is not None else "").strip().lower()
        if text not in ("none", "person", "background", "saliency"):
            raise InputError(f"mask must be none, person, background or saliency, got {value!r}")
        return text
    if name in ("layers", "style"):
        text = str(value if value is not None else "").strip()
        if name == "style":
            from dreamstream.stream.settings import check_style_text

            text = text.removesuffix(".0")  # OSC and sliders may send 7 as 7.0
            try:
                check_style_text(text)
            except InputError:
                raise InputError(
                    f"style must be 0-25 or a blend such as 3:0.5,12:0.5, got {value!r}"
                ) from None
            return text
        if not text:
            raise InputError("layers must name a preset (see --list-presets)")
        return text
    raise InputError(f"unknown control {name!r}; known: {', '.join(NAMES)}")


class Control:
    """Changes queued by the page, OSC and MIDI; the loop's state as they last saw it.

    Args:
        mode: ``"dream"`` or ``"style"``: which sliders apply.
    """

    def __init__(self, mode: str = "dream"):
        self.mode = mode
        self._lock = threading.Lock()
        self._pending: collections.deque = collections.deque(maxlen=MAX_PENDING)
        self._state: dict = {"mode": mode, "ready": False}
        self._next_publish = 0.0
        self.received = 0  # requests (batches of changes) accepted
        self.error: str | None = None  # why the last change could not be applied
        self.masks = MaskSwitch()  # a mask's segmenter loads off the loop's thread

    # ------------------------------------------------------ any thread

    def submit(self, changes: dict) -> dict:
        """Check ``changes`` (name -> value) and queue them for the next frame.

        Returns:
            The checked changes.

        Raises:
            InputError: an unknown name or a bad value; nothing is queued then.
        """
        if not isinstance(changes, dict) or not changes:
            raise InputError("a change is a non-empty mapping of control names to values")
        if len(changes) > len(NAMES):
            raise InputError("too many changes at once")
        checked = {str(name): check_change(str(name), value) for name, value in changes.items()}
        with self._lock:
            self._pending.append(checked)
            self.received += 1
        return checked

    def state(self) -> dict:
        """The loop's last published state (a fresh dict; JSON-able)."""
        with self._lock:
            return dict(self._state, received=self.received, error=self.error)

    # ------------------------------------------------------ loop thread

    def step(self, loop, now: float) -> None:
        """Apply the queued changes to ``loop`` and publish its state (the loop's thread)."""
        with self._lock:
            batches = list(self._pending)
            self._pending.clear()
        for changes in batches:
            for name, value in changes.items():
                try:
                    apply_change(loop, name, value, now)
                    self.error = None  # the last change decides what the page says
                except InputError as exc:
                    self.error = str(exc)
                except Exception as exc:  # noqa: BLE001 -- a bad change must not stop the show
                    log.exception("applying %s=%r failed", name, value)
                    self.error = f"{name}: {exc}"
        self.masks.poll(loop.carry)
        if batches or now >= self._next_publish:
            self._next_publish = now + PUBLISH_S
            state = snapshot(loop, self.mode)
            with self._lock:
                self._state = state


def apply_change(loop, name: str, value, now: float) -> None:
    """Apply one checked change to a :class:`~.loop.LiveLoop` (on the loop's thread)."""
    if name in ("next", "previous"):
        loop.press(ord("n") if name == "next" else ord("b"))
    elif name == "look":
        if value >= len(loop.looks.looks):
            raise InputError(f"look must be 0-{len(loop.looks.looks) - 1}, got {value}")
        loop._choose(value)
    elif name == "reset":
        loop.press(ord("r"))
    elif name == "fullscreen":
        loop.press(ord("f"))
    elif name == "pause":
        loop.paused = (not loop.paused) if value is None else value
    elif name == "overlay":
        loop.overlay = (not loop.overlay) if value is None else value
    elif name == "cycle":
        on = (not loop.cycling) if value is None else value
        loop.cycle_s = loop.cycle_s or DEFAULT_PERIOD_S
        if on and not loop.cycling:
            loop._next_cycle = now + loop.cycle_s
        loop.cycling = on
    elif name in EFFECTS:
        if name == "mask":  # a dream's classifier mask is part of its network
            from dreamstream.stream.live.tuning import saliency

            saliency(loop, value == "saliency")
            value = "none" if value == "saliency" else value
        full = getattr(loop, "full", None)  # (w, h) once a frame was seen
        retune(loop.carry, name, value, loop.control.masks, full is None or full[0] >= full[1])
    elif name == "period":
        loop.cycle_s = value
        loop._next_cycle = min(loop._next_cycle, now + value) if loop.cycling else loop._next_cycle
    else:
        from dreamstream.stream.live.tuning import tune

        tune(loop, name, value)


def snapshot(loop, mode: str) -> dict:
    """What the page shows: looks, toggles, the current look's sliders and the readouts."""
    from dreamstream.stream.live.tuning import sliders

    stats, looks = loop.stats.summary(), loop.looks
    effects = effects_state(loop.carry.effects, loop.control.masks if loop.control else None)
    if looks.looks[looks.index][1].mask == "saliency":  # a dream's own mask, in its network
        effects["mask"] = "saliency"
    fps = loop.stats.fps()
    return {
        "mode": mode,
        "ready": True,
        "looks": [label for label, _ in looks.looks],
        "look": looks.index,
        "label": looks.label,
        "loading": looks._wanted != looks.index,
        "cycling": loop.cycling,
        "period": loop.cycle_s or DEFAULT_PERIOD_S,
        "paused": loop.paused,
        "overlay": loop.overlay,
        "window": loop.window is not None,
        "settings": sliders(loop, mode),
        "effects": effects,
        "fps": round(fps, 2) if fps else None,
        "latency_ms_p50": stats["latency_ms_p50"],
        "latency_ms_p95": stats["latency_ms_p95"],
        "frames": stats["frames"],
        "dropped": stats["dropped"],
        "errors": stats["errors"],
        "uptime_s": round(time.monotonic() - loop.stats.started, 1),
        "look_error": looks.error,
    }
