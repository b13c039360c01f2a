"""Masks, a dream that reacts to motion, and an attract mode: the state they keep over time.

An :class:`Effects` rides on the temporal carry
(:class:`~dreamstream.stream.carry.Carry`), so the file pipeline and live
mode share it. Per frame the carry calls:

- :meth:`Effects.observe` with the input frame, the input's :class:`Motion`
  (None: nothing carried, a fresh start) and the frame's time in seconds
  (its pts; live: its capture time). It runs the segmenter, carries the
  person mask and the stillness along the flow and counts quiet seconds.
- :meth:`Effects.carried` with the previous output warped to this frame: for
  a dream (a processor whose ``grows`` is True) it is pulled toward the live
  picture where the scene moved (``--react motion``) and drifts slowly while
  the room is empty (``--attract``).
- :meth:`Effects.present` with the processor's output: what is shown and
  written, the output mixed with the live frame by the mask and the
  stillness. The carry keeps the unmixed output, so the dream under a mask
  stays alive and a mask's edge moving over it shows no seam.

Images ``uint8`` ``HxWx3`` RGB; maps ``HxW`` float32 in [0, 1]; flow current
-> previous. Time comes only from the frames (never the wall clock), so a
file and a live run of the same clip agree.
"""

from __future__ import annotations

import cv2
import numpy as np

from dreamstream.core import masks
from dreamstream.core.flow import warp
from dreamstream.core.temporal import Motion
from dreamstream.stream.params import EffectsSetup

# Without timestamps (image sequences) frames are taken as 25 per second.
DEFAULT_FRAME_S = 1.0 / 25.0
# --react: the carried dream is kept whole from this stillness up (pulled toward
# the live picture below it): carried with the stillness itself, a half-still
# region kept only half of its dream each frame and never deepened.
CARRY_FULL_AT = 0.25
# The room is "empty" while less than this share of the frame moves.
QUIET_SHARE = 0.02
# Attract mode's drift of the carried dream: 3 % zoom and 1 degree a second.
ATTRACT_ZOOM_PER_S = 0.03
ATTRACT_TURN_PER_S = 1.0
# Attract mode for styles: the view a style paints swings slowly closer (up to 12 %)
# and turns (3 degrees either way) over a 40 s cycle. A style has no carried dream
# to drift (its temporal blend would smear one), and the same camera frame styled
# the same way is a frozen picture. The swing fades in over 3 s and, when someone
# moves, back out over 1 s, so neither the start nor a visitor's arrival jumps.
STYLE_SWING_S = 40.0
STYLE_ZOOM = 0.12
STYLE_TURN = 3.0
STYLE_EASE_IN_S = 3.0
STYLE_EASE_OUT_S = 1.0


def _fit(values: np.ndarray | None, shape: tuple) -> np.ndarray | None:
    """A map resized to ``shape`` (live mode's budget changes the processing size)."""
    if values is None or values.shape == shape:
        return values
    return cv2.resize(values, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


class Effects:
    """The state of the masks, the reactive dream and the attract mode between frames.

    Args:
        setup: what is on (:class:`~dreamstream.stream.params.EffectsSetup`).
        segmenter: ``frame -> HxW person probability``; needed when ``setup.mask`` is set.
    """

    def __init__(self, setup: EffectsSetup, segmenter=None):
        if setup.mask and segmenter is None:
            raise ValueError("a mask needs a segmenter")
        self.setup, self.segmenter = setup, segmenter
        self.person: np.ndarray | None = None  # the carried person mask
        self.stillness: np.ndarray | None = None
        self.moving_share = 0.0  # share of the last frame that moved
        self.quiet_s = 0.0  # seconds in a row with little motion
        self._time: float | None = None
        self._dt = DEFAULT_FRAME_S
        self._cycles = 0  # looks moved on during this quiet spell
        self.swing = 0.0  # how much of the style's attract swing shows, 0-1
        self._swing_s = 0.0  # seconds into the swing's cycle
        self._views = (None, None)  # the previous and this frame's view (2x3 affine, or None)
        self._size: tuple | None = None  # the size of the frame the last view was for

    def reset(self) -> None:
        """Forget everything (a new clip, or the live loop's reset key)."""
        self.person = self.stillness = self._time = None
        self.quiet_s, self._cycles = 0.0, 0
        self.swing, self._swing_s = 0.0, 0.0
        self._views = (None, None)

    @property
    def attracting(self) -> bool:
        """Whether the room has been quiet for the attract time."""
        return bool(self.setup.attract_s) and self.quiet_s >= self.setup.attract_s

    def observe(self, image: np.ndarray, motion: Motion | None, time_s: float | None) -> None:
        """Update the maps for the frame ``image`` at ``time_s`` seconds (None: no timestamp).

        Args:
            image: the input frame, uint8 HxWx3 RGB.
            motion: the input's motion from the previous frame (a cut starts the
                maps afresh), or None where none was measured (first frame, no
                flow, live mode's reset or new processing size: the maps stay).
            time_s: the frame's presentation time in seconds, or None.
        """
        self._dt = self._step_seconds(time_s)
        shape = image.shape[:2]
        self.person, self.stillness = _fit(self.person, shape), _fit(self.stillness, shape)
        cut = motion is not None and motion.cut
        carried = motion is not None and not cut
        if self.setup.mask:
            fresh = self.segmenter(image)
            previous = self.person if carried else None
            flow, reliable = (motion.flow, motion.mask) if carried else (None, None)
            self.person = masks.carry_mask(fresh, previous, flow, reliable)
        if cut:  # a new scene starts from the live picture
            self.stillness, self.quiet_s, self._cycles = None, 0.0, 0
            self.swing, self._swing_s = 0.0, 0.0
            self._views = (None, None)
        if self.setup.react and self.stillness is None:
            self.stillness = np.zeros(shape, np.float32)
        if carried:  # no motion (live mode's new size, a reset): the maps stay as they were
            self._react(motion)
            self._ease_swing()

    def _step_seconds(self, time_s: float | None) -> float:
        """Seconds since the previous frame (the default frame time without timestamps)."""
        previous, self._time = self._time, time_s
        if time_s is None or previous is None or not time_s > previous:
            return DEFAULT_FRAME_S
        return time_s - previous

    def _react(self, motion: Motion) -> None:
        if not (self.setup.react or self.setup.attract_s):
            return
        amount = masks.moving(motion.flow, motion.mask, self._dt)
        self.moving_share = float(np.mean(amount > 0.5))
        quiet = self.moving_share < QUIET_SHARE
        self.quiet_s = self.quiet_s + self._dt if quiet else 0.0
        self._cycles = self._cycles if quiet else 0
        if self.setup.react:
            before = warp(self.stillness, motion.flow) if self.stillness is not None else None
            before = np.zeros(amount.shape, np.float32) if before is None else before
            self.stillness = masks.update_stillness(
                before, amount, self._dt, self.setup.rise_s, self.setup.fall_s
            )

    def _ease_swing(self) -> None:
        """Fade the style's attract swing in while the room is empty, out when it is not."""
        if not self.setup.attract_s:
            self.swing, self._swing_s = 0.0, 0.0
            return
        if self.attracting:
            self.swing = min(1.0, self.swing + self._dt / STYLE_EASE_IN_S)
            self._swing_s += self._dt
        else:  # the swing's phase holds while it fades, so it shrinks back on its own path
            self.swing = max(0.0, self.swing - self._dt / STYLE_EASE_OUT_S)
            self._swing_s = self._swing_s if self.swing > 0 else 0.0

    def framed(self, image: np.ndarray, grows: bool) -> np.ndarray:
        """The frame a processor paints: for a style in attract mode, the drifting view.

        Args:
            image: the input frame, uint8 HxWx3 RGB.
            grows: the processor dreams on its carried output (a dream drifts that
                instead, in :meth:`carried`).

        Returns:
            ``image`` itself, or a zoomed and turned copy (uint8 HxWx3 RGB, same size).
        """
        view = None if grows else self._view(image.shape[1], image.shape[0])
        size, self._size = self._size, image.shape[:2]
        # A new size (live mode's budget) has no previous view to follow from.
        self._views = (self._views[1] if size == self._size else view, view)
        if view is None:
            return image
        return cv2.warpAffine(
            image, view, image.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

    def _view(self, w: int, h: int) -> np.ndarray | None:
        """The swing's view now: a 2x3 affine from the frame to the view, or None (no swing)."""
        if self.swing <= 0:
            return None
        phase = 2.0 * np.pi * self._swing_s / STYLE_SWING_S
        scale = 1.0 + STYLE_ZOOM * self.swing * (1.0 - np.cos(phase)) / 2.0
        degrees = STYLE_TURN * self.swing * np.sin(phase)
        turn = abs(np.radians(degrees))  # closer by what keeps a turned view's corners filled
        scale *= np.cos(turn) + max(w / h, h / w) * np.sin(turn)
        return cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(degrees), float(scale))

    def _follow_view(self, warped_out: np.ndarray) -> np.ndarray:
        """The previous output moved from the previous frame's view to this one's.

        A style blends its output with the previous one: painted in another view,
        that one would trail behind the swing (and linger when a visitor ends it).
        """
        before, now = self._views
        if before is None and now is None:
            return warped_out
        identity = np.eye(3)[:2]
        full = [np.vstack([identity if m is None else m, [0.0, 0.0, 1.0]]) for m in (before, now)]
        move = (full[1] @ np.linalg.inv(full[0]))[:2]
        return cv2.warpAffine(
            warped_out, move, warped_out.shape[1::-1], flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip

    def carried(self, warped_out: np.ndarray, live: np.ndarray, grows: bool) -> np.ndarray:
        """The warped previous output a processor starts from this frame.

        Args:
            warped_out: the previous output warped to this frame, uint8 HxWx3 RGB.
            live: the live picture it gives way to (the warped previous input, or
                the frame), uint8 HxWx3 RGB.
            grows: the processor dreams on what it is given (a dream); a style's
                blend is left alone.

        Returns:
            uint8 HxWx3 RGB.
        """
        if not grows:
            return self._follow_view(warped_out)
        out = warped_out
        if self.setup.react and self.stillness is not None:
            # The dream is carried in full once a quarter of the rise is past, so it
            # deepens during the rest of it; below that it gives way to the live picture.
            share = np.minimum(self.stillness * (1.0 / CARRY_FULL_AT), 1.0)
            pulled = masks.toward(out, live, share)
            out = np.clip(np.rint(pulled), 0, 255).astype(np.uint8)
        if self.attracting:
            out = masks.drift(out, self._dt, ATTRACT_ZOOM_PER_S, ATTRACT_TURN_PER_S)
        return out

    def weight(self) -> np.ndarray | None:
        """Where the processed picture shows (1) and where the live one does (0), or None."""
        weight = None
        if self.setup.mask and self.person is not None:
            weight = masks.target_weight(self.person, self.setup.mask)
        if self.setup.react and self.stillness is not None:
            weight = self.stillness if weight is None else weight * self.stillness
        return weight

    def present(self, out: np.ndarray, image: np.ndarray) -> np.ndarray:
        """What is shown: ``out`` (uint8 RGB) mixed with the live ``image`` by :meth:`weight`."""
        weight = self.weight()
        return out if weight is None else masks.composite(out, image, weight)

    def unmix(self, shown: np.ndarray, image: np.ndarray) -> np.ndarray:
        """The processor's output recovered from what :meth:`present` showed (a resume).

        Where the weight w > 0, ``image + (shown - image) / w``: its rounding
        error is at most 0.5 / w levels, and ``--react`` carries only
        ``min(4 w, 1)`` of it into the next start, so at most 2 levels there.
        Where w = 0 nothing of the output was shown, and the live picture
        stands in (``--react``: the next start is the live picture there anyway;
        under a mask the hidden dream regrows from the frame).

        Args:
            shown: the frame written, uint8 HxWx3 RGB.
            image: the input frame it was mixed with, uint8 HxWx3 RGB.

        Returns:
            uint8 HxWx3 RGB.
        """
        weight = self.weight()
        if weight is None or weight.shape != shown.shape[:2]:
            return shown
        w = weight[..., None].astype(np.float32)
        live = image.astype(np.float32)
        safe = np.where(w > 0, w, 1.0)
        out = np.where(w > 0, live + (shown.astype(np.float32) - live) / safe, live)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    def take_cycle(self) -> bool:
        """True once per attract period of quiet: live mode moves to the next look then."""
        if not self.attracting:
            return False
        due = int(self.quiet_s // self.setup.attract_s)
        if due > self._cycles:
            self._cycles = due
            return True
        return False


def make_effects(setup: EffectsSetup, size: tuple[int, int] | None = None) -> Effects | None:
    """The effects of ``setup`` (None when none is on), its segmenter loaded.

    Args:
        setup: :meth:`Settings.effects_setup`.
        size: the frames' (width, height), to pick the segmenter's variant;
            None: landscape (cameras).

    Raises:
        InputError: the segmenter is missing (the message says what to run) or unreadable.
    """
    if not setup.active:
        return None
    segmenter = None
    if setup.mask:
        from dreamstream.stream.weights.segmenter import find_model

        path = find_model(setup.mask_model, landscape=size is None or size[0] >= size[1])
        segmenter = load_segmenter(path)
    return Effects(setup, segmenter)


def load_segmenter(path):
    """The segmenter in the ``.tflite`` file ``path``, run once (seconds: TensorFlow loads).

    Raises:
        InputError: the file is not a model the segmenter can run.
    """
    from dreamstream.stream.machine import load_framework, native_quiet
    from dreamstream.stream.weights.segmenter import Segmenter

    load_framework()  # TensorFlow without its start-up chatter; TF Lite runs the model
    with native_quiet():  # TF Lite announces its CPU delegate on the first run
        segmenter = Segmenter(path)
        segmenter(np.zeros((64, 64, 3), np.uint8))
    return segmenter
