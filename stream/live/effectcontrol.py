"""Live changes to the masks, ``--react`` and ``--attract``, and what the page reads of them.

The control queue (:mod:`.control`) hands ``mask``, ``react``, ``rise``,
``fall`` and ``attract`` changes here, on the loop's thread, between frames.
Most are a changed :class:`~dreamstream.stream.params.EffectsSetup` that the
next frame reads. A person or background mask needs the segmenter, and
loading it takes seconds (TensorFlow's TF Lite runs it), so
:class:`MaskSwitch` loads it on a thread and turns the mask on at the first
frame after it is ready; the picture keeps moving meanwhile. A missing model
is refused at once with one line for the page (:attr:`MaskSwitch.note`);
nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.effects import Effects, load_segmenter
from dreamstream.stream.params import EffectsSetup

log = logging.getLogger("dreamstream.stream.live")

MISSING = (
    "mask {target} needs the selfie segmenter, which is not on this machine: "
    "run `dreamstream fetch segmenter` there once"
)


class MaskSwitch:
    """Turns a mask on without holding the loop: the segmenter loads on a thread.

    Attributes:
        note: one line for the page while the mask asked for is not showing
            (loading, or why it cannot), else None.
        wanted: the mask waiting for its segmenter, or None.
    """

    def __init__(self):
        self.note: str | None = None
        self.wanted: str | None = None
        self._thread: threading.Thread | None = None
        self._loaded = None  # the segmenter, or the exception that stopped it (the thread's)

    def ask(self, carry, target: str | None, landscape: bool = True) -> None:
        """Ask for mask ``target`` ("person", "background" or None); the loop's thread.

        Raises:
            InputError: the segmenter is missing; :attr:`note` says so too.
        """
        fx = effects_of(carry)
        if target is None or fx.segmenter is not None:
            self.wanted, self.note = None, None
            fx.setup = dataclasses.replace(fx.setup, mask=target)
            return
        from dreamstream.stream.weights.segmenter import find_model

        try:
            path = find_model(fx.setup.mask_model, landscape)
        except InputError as exc:
            self.wanted = None
            self.note = MISSING.format(target=target) if fx.setup.mask_model is None else str(exc)
            raise InputError(self.note) from None
        self.wanted, self.note = target, f"mask {target}: loading the segmenter..."
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._load, args=(path,), daemon=True, name="segmenter-loader"
            )
            self._thread.start()

    def _load(self, path) -> None:
        try:
            self._loaded = load_segmenter(path)
        except Exception as exc:  # noqa: BLE001 -- reported on the page; the show goes on
            log.warning("cannot load the segmenter %s: %s", path, exc)
            self._loaded = exc

    def poll(self, carry) -> None:
        """Turn the waiting mask on once its segmenter is loaded (the loop's thread)."""
        if self._thread is None or self._thread.is_alive():
            return
        loaded, self._thread, self._loaded = self._loaded, None, None
        if isinstance(loaded, BaseException):
            if self.wanted:
                self.note = f"mask {self.wanted}: cannot load the segmenter: {loaded}"
            self.wanted = None
            return
        fx = effects_of(carry)
        fx.segmenter = loaded
        if self.wanted:
            fx.setup = dataclasses.replace(fx.setup, mask=self.wanted)
        self.wanted, self.note = None, None


def effects_of(carry) -> Effects:
    """The carry's :class:`Effects`, made (all off) if it had none."""
    if carry.effects is None:
        carry.effects = Effects(EffectsSetup())
    return carry.effects


def retune(carry, name: str, value, switch: MaskSwitch, landscape: bool = True) -> None:
    """Apply one live change (``react``, ``rise``, ``fall``, ``attract``, ``mask``).

    Args:
        carry: the live loop's :class:`~dreamstream.stream.carry.Carry`.
        name: the control's name; ``value`` as checked by ``live.control.check_change``
            (``react``: True/False/None to toggle; ``attract``: 0 turns it off;
            ``mask``: "none", "person" or "background").
        switch: the loop's :class:`MaskSwitch`.
        landscape: the frames are wider than tall (which segmenter variant to load).

    Raises:
        InputError: ``mask`` asked for while the segmenter is missing.
    """
    if name == "mask":
        switch.ask(carry, None if value == "none" else value, landscape)
        return
    fx = effects_of(carry)
    s = fx.setup
    if name == "react":
        on = (not s.react) if value is None else value
        change = {"react": "motion" if on else None}
    elif name in ("rise", "fall"):
        change = {f"{name}_s": float(value)}
    elif name == "attract":
        change = {"attract_s": float(value) or None}
    else:
        raise InputError(f"unknown effect {name!r}")
    fx.setup = dataclasses.replace(s, **change)


def effects_state(effects: Effects | None, switch: MaskSwitch | None = None) -> dict:
    """The effects' settings as the page and OSC name them, and what they measure now.

    ``moving`` is the share of the last frame that moved, ``quiet_s`` the
    seconds with little motion, ``stillness`` the mean stillness of
    ``--react`` (None when off), ``attracting`` whether attract mode runs.
    """
    s = effects.setup if effects is not None else EffectsSetup()
    still = effects.stillness if effects is not None and s.react else None
    return {
        "mask": s.mask or "none",
        "mask_note": switch.note if switch is not None else None,
        "react": bool(s.react),
        "rise": s.rise_s,
        "fall": s.fall_s,
        "attract": s.attract_s or 0.0,
        "moving": round(effects.moving_share, 3) if effects is not None else 0.0,
        "quiet_s": round(effects.quiet_s, 1) if effects is not None else 0.0,
        "stillness": None if still is None else round(float(np.mean(still)), 3),
        "attracting": bool(effects is not None and effects.attracting),
    }
