"""Soft masks carried along the flow, and a dream that reacts to motion.

Everything here is stateless and clock-free: the caller
(:mod:`dreamstream.stream.effects`) owns the previous mask and stillness
and passes the time between frames in seconds, taken from the frames' pts.

Conventions are those of :mod:`dreamstream.core.flow`: images ``uint8``
``HxWx3`` **RGB** 0-255 (float images ``float32`` RGB 0-255), flow ``HxWx2``
float32 (x, y) pixels **current -> previous**, reliability masks ``HxW``
float32 in [0, 1] with 1 = reliable. A *weight* map is ``HxW`` float32 in
[0, 1]: 1 = show the processed picture, 0 = show the live one. *Stillness*
is ``HxW`` float32 in [0, 1]: 0 = a region that just moved, 1 = one that has
been still for the rise time.
"""

from __future__ import annotations

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.flow import warp

MASK_TARGETS = ("person", "background")
# Share of the previous (warped) mask kept where the flow is reliable: the
# segmenter's own edge jitters by a pixel or two from frame to frame, and
# carrying the mask along the flow averages that away while a moving edge,
# which the flow follows, stays put on the person (measured in docs/masks.md).
DEFAULT_MASK_KEEP = 0.7
# A pixel counts as moving when its flow is faster than this share of the
# frame's width per second (fully moving at twice that): 0.02 is 13 px/s at
# 640 wide, half a pixel a frame at 25 fps, above DIS's noise on a still camera.
MOTION_THRESHOLD = 0.02
# Blur of the motion map (a share of the width): a visitor moves as a region,
# not as the few pixels whose texture gave the flow a hold.
MOTION_SIGMA_FRACTION = 1.0 / 100.0
# The longest step in time a frame may take (s): a stalled camera must not
# make a dream jump from live to full depth in one frame.
MAX_STEP_S = 0.5


def _check_map(values: np.ndarray, shape: tuple, name: str) -> np.ndarray:
    if values.shape != tuple(shape):
        raise InputError(f"{name} {values.shape} must be HxW matching the frame {tuple(shape)}")
    return np.asarray(values, dtype=np.float32)


def target_weight(person: np.ndarray, target: str) -> np.ndarray:
    """The weight map of a mask target from a person probability map.

    Args:
        person: HxW float32 in [0, 1], 1 = a person.
        target: "person" (process the visitor) or "background" (the room).
    """
    if target not in MASK_TARGETS:
        raise InputError(f"mask must be one of {', '.join(MASK_TARGETS)}, got {target!r}")
    return person if target == "person" else 1.0 - person


def carry_mask(
    fresh: np.ndarray,
    previous: np.ndarray | None,
    flow: np.ndarray | None,
    reliable: np.ndarray | None,
    keep: float = DEFAULT_MASK_KEEP,
) -> np.ndarray:
    """Today's mask: the fresh one mixed with the previous one carried along the flow.

    ``out = fresh + keep * reliable * (warp(previous) - fresh)``: where the
    flow is reliable a share ``keep`` of the previous mask, moved with the
    scene, holds the edge still; elsewhere (occlusions, a scene cut, no
    previous mask) the fresh mask is taken as is.

    Args:
        fresh: HxW float32 in [0, 1], the segmenter's mask of this frame.
        previous: HxW float32 in [0, 1], the mask given for the previous frame, or None.
        flow: HxWx2 float32, current -> previous input, or None (nothing is carried).
        reliable: HxW float32 in [0, 1], the flow's consistency mask (None: all reliable).
        keep: in [0, 1], the share of the carried mask where the flow is reliable.

    Returns:
        HxW float32 in [0, 1].
    """
    fresh = np.asarray(fresh, dtype=np.float32)
    if not 0.0 <= keep <= 1.0:
        raise InputError(f"mask keep must be in [0, 1], got {keep}")
    if previous is None or flow is None or previous.shape != fresh.shape or keep == 0.0:
        return fresh
    carried = warp(np.asarray(previous, dtype=np.float32), flow)
    share = np.float32(keep) * (
        1.0 if reliable is None else _check_map(reliable, fresh.shape, "reliable")
    )
    return np.clip(fresh + share * (carried - fresh), 0.0, 1.0)


def composite(processed: np.ndarray, frame: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``frame + weight * (processed - frame)``: processed where the weight is 1, live where 0.

    Args:
        processed: the dreamt or styled frame, HxWx3 RGB 0-255 (uint8 or float).
        frame: the live input frame, HxWx3 RGB 0-255.
        weight: HxW float32 in [0, 1].

    Returns:
        HxWx3 uint8 RGB.
    """
    if processed.shape != frame.shape:
        raise InputError(f"processed {processed.shape} and frame {frame.shape} differ in size")
    w = _check_map(weight, frame.shape[:2], "weight")[..., None]
    live = frame.astype(np.float32)
    out = live + w * (processed.astype(np.float32) - live)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def moving(
    flow: np.ndarray, reliable: np.ndarray, dt: float, threshold: float = MOTION_THRESHOLD
) -> np.ndarray:
    """How much each pixel moves, 0 (still) to 1 (moving), from the input's flow.

    A pixel moves when its speed relative to the frame's median flow (a
    camera's own shake or pan does not count) passes ``threshold`` widths per
    second (fully at twice that) or where the flow is unreliable (what was hidden appears,
    so something moved there). Blurred at width / 100, so a visitor moves as a
    region.

    Args:
        flow: HxWx2 float32, current -> previous input (a still camera: the scene's motion).
        reliable: HxW float32 in [0, 1], the flow's consistency mask.
        dt: seconds between the two frames (> 0).
        threshold: the speed, in frame widths per second, that starts to count.

    Returns:
        HxW float32 in [0, 1].
    """
    if not dt > 0:
        raise InputError(f"time between frames must be > 0 s, got {dt}")
    width = flow.shape[1]
    # Motion is measured against the frame's dominant motion (the median flow):
    # a hand-held or slowly panning camera moves everything, which is not a visitor.
    own = flow - np.median(flow[::4, ::4].reshape(-1, 2), axis=0)
    speed = np.sqrt(own[..., 0] ** 2 + own[..., 1] ** 2) / (dt * threshold * width)
    amount = np.clip(speed - 1.0, 0.0, 1.0)
    amount = np.maximum(amount, 1.0 - _check_map(reliable, flow.shape[:2], "reliable"))
    sigma = width * MOTION_SIGMA_FRACTION
    return np.clip(cv2.GaussianBlur(amount, (0, 0), sigmaX=sigma, sigmaY=sigma), 0.0, 1.0)


def update_stillness(
    stillness: np.ndarray, motion: np.ndarray, dt: float, rise_s: float, fall_s: float
) -> np.ndarray:
    """Stillness after ``dt`` seconds: it rises where nothing moves and falls where things do.

    Linear in time: a pixel that stays still goes from 0 to 1 in ``rise_s``
    seconds, one that keeps moving from 1 to 0 in ``fall_s``;
    ``ds = dt * ((1 - motion) / rise_s - motion / fall_s)``. ``dt`` is capped
    at :data:`MAX_STEP_S`.

    Args:
        stillness: HxW float32 in [0, 1], the previous stillness (already
            carried to this frame along the flow, if it should follow the scene).
        motion: HxW float32 in [0, 1] (see :func:`moving`).
        dt: seconds since the previous frame (>= 0).
        rise_s, fall_s: the rise and fall times in seconds (> 0).

    Returns:
        HxW float32 in [0, 1].
    """
    if not (rise_s > 0 and fall_s > 0):
        raise InputError(f"rise and fall times must be > 0 s, got {rise_s} and {fall_s}")
    if not dt >= 0:
        raise InputError(f"time between frames must be >= 0 s, got {dt}")
    step = min(float(dt), MAX_STEP_S)
    motion = _check_map(motion, stillness.shape, "motion")
    change = step * ((1.0 - motion) / rise_s - motion / fall_s)
    return np.clip(stillness + change, 0.0, 1.0).astype(np.float32)


def toward(carried: np.ndarray, live: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The carried image pulled toward the live one where ``weight`` is low.

    ``live + weight * (carried - live)`` as float32: a dream's start made from
    it keeps the carried dream where the scene is still (weight 1) and starts
    from the live picture where it moved (weight 0).

    Args:
        carried, live: HxWx3 RGB 0-255 (uint8 or float).
        weight: HxW float32 in [0, 1].

    Returns:
        HxWx3 float32 RGB 0-255.
    """
    w = _check_map(weight, live.shape[:2], "weight")[..., None]
    base = live.astype(np.float32)
    return base + w * (carried.astype(np.float32) - base)


def drift(image: np.ndarray, dt: float, zoom_per_s: float, turn_per_s: float) -> np.ndarray:
    """Zoom into (and turn) ``image`` about its centre by ``dt`` seconds' worth.

    The attract mode's slow move of the carried dream: the scene stays (the
    next frame's dream is anchored to the live picture) while the dream's
    patterns flow out of the centre, so an empty room's picture never freezes.

    Args:
        image: HxWx3 RGB (any dtype cv2 can warp), the carried dream.
        dt: seconds (>= 0), capped at :data:`MAX_STEP_S`.
        zoom_per_s: relative growth per second (0.03 = 3 % a second).
        turn_per_s: degrees per second, counter-clockwise.

    Returns:
        The moved image, same shape and dtype (the border replicated).
    """
    step = min(max(float(dt), 0.0), MAX_STEP_S)
    scale = (1.0 + zoom_per_s) ** step
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), turn_per_s * step, scale)
    return cv2.warpAffine(
        image, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
