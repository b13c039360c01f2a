"""The zoom-into-the-dream animation: each frame is the last dream, moved, dreamt again.

One frame of motion is an affine map about the picture's centre: a zoom
(``zoom`` > 1 moves in), a rotation (degrees, counter-clockwise on screen) and
a pan (pixels, ``(x, y)``: the content moves by that much, ``+y`` down).

Hundreds of sub-pixel resamplings blur a picture away: every interpolator is a
low-pass filter, and its loss compounds frame after frame (bilinear halves the
finest detail at a half-pixel shift). The move resamples once per frame with
Lanczos (8x8), whose pass band is far flatter, and clips to 0-255, which keeps
the loop stable (bicubic's and Lanczos's overshoot grows without bound when a
picture is moved hundreds of times unclipped); the few dream steps after each
move regrow the finest detail. An unsharp mask after each move was tried and
dropped: fed back frame after frame it turns detail into ringing.

Images are ``float32`` ``HxWx3`` RGB 0-255 in and out (uint8 is accepted).
No clocks, no files: the caller keeps the frame counter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from dreamstream.core.errors import InputError

# How a move resamples; lanczos keeps a long animation sharp (see docs/animation.md).
INTERPOLATIONS = {
    "lanczos": cv2.INTER_LANCZOS4,
    "cubic": cv2.INTER_CUBIC,
    "bilinear": cv2.INTER_LINEAR,
}


@dataclass(frozen=True)
class Motion:
    """One frame's move about the centre.

    Attributes:
        zoom: scale per frame; 1.02 moves 2 % closer, 1 does not zoom.
        rotate: degrees per frame, counter-clockwise on screen.
        pan: ``(x, y)`` pixels per frame the content moves (``+y`` down).
    """

    zoom: float = 1.0
    rotate: float = 0.0
    pan: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self):
        if not (math.isfinite(self.zoom) and self.zoom > 0):
            raise InputError(f"zoom must be a number > 0, got {self.zoom!r}")
        if not math.isfinite(self.rotate):
            raise InputError(f"rotate must be a finite number of degrees, got {self.rotate!r}")
        pan = tuple(float(p) for p in self.pan)
        if len(pan) != 2 or not all(math.isfinite(p) for p in pan):
            raise InputError(f"pan must be two finite numbers x,y, got {self.pan!r}")
        object.__setattr__(self, "pan", pan)

    @property
    def still(self) -> bool:
        """True when the move changes nothing."""
        return self.zoom == 1.0 and self.rotate == 0.0 and self.pan == (0.0, 0.0)


def parse_pan(text) -> tuple[float, float]:
    """``"0,1"`` or ``(0, 1)`` as ``(x, y)`` pixels per frame.

    Raises:
        InputError: not two numbers separated by a comma.
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        pan = tuple(float(p) for p in parts)
    except (TypeError, ValueError):
        raise InputError(f"pan must be two numbers x,y such as 0,1; got {text!r}") from None
    if len(pan) != 2 or not all(math.isfinite(p) for p in pan):
        raise InputError(f"pan must be two numbers x,y such as 0,1; got {text!r}")
    return pan


def motion_matrix(motion: Motion, size: tuple[int, int]) -> np.ndarray:
    """The 2x3 affine that maps a source pixel to where it lands, for ``size = (h, w)``."""
    h, w = size
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    m = cv2.getRotationMatrix2D(centre, motion.rotate, motion.zoom)
    m[:, 2] += motion.pan
    return m


def _checked(image, interpolation: str) -> np.ndarray:
    """``image`` as float32 HxWx3, or an InputError for a bad shape or interpolation."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"image must be HxWx3 RGB, got shape {arr.shape}")
    if interpolation not in INTERPOLATIONS:
        raise InputError(
            f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}"
        )
    return arr


def move(image: np.ndarray, motion: Motion, interpolation: str = "lanczos") -> np.ndarray:
    """``image`` moved by one frame of ``motion``, resampled once and clipped to 0-255.

    Where the move uncovers the border (zooming out, rotating, panning), the
    picture is mirrored in, which the dream then grows over.

    Args:
        image: ``HxWx3`` RGB 0-255, uint8 or float32.
        motion: the move.
        interpolation: one of :data:`INTERPOLATIONS`.

    Returns:
        float32 ``HxWx3`` RGB 0-255.
    """
    arr = _checked(image, interpolation)
    if motion.still:
        return arr.copy()
    h, w = arr.shape[:2]
    moved = cv2.warpAffine(
        arr,
        motion_matrix(motion, (h, w)),
        (w, h),
        flags=INTERPOLATIONS[interpolation],
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return np.clip(moved, 0.0, 255.0)


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the luminance (0-255 units): high when detail is fine.

    The usual focus measure; a loop that blurs shows it falling frame after frame.
    """
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"image must be HxWx3 RGB, got shape {arr.shape}")
    luma = arr @ np.asarray([0.299, 0.587, 0.114], np.float32)
    return float(cv2.Laplacian(luma, cv2.CV_32F, ksize=1).var())


def slope_per_100(values) -> float:
    """Least-squares slope of ``values`` per 100 frames, relative to their mean (0.01 = 1 %)."""
    y = np.asarray(values, dtype=np.float64)
    if y.size < 2:
        return 0.0
    x = np.arange(y.size, dtype=np.float64)
    slope = np.polyfit(x, y, 1)[0]
    return float(100.0 * slope / max(abs(y.mean()), 1e-12))


def move_many(image: np.ndarray, motions, interpolation: str = "lanczos") -> np.ndarray:
    """``image`` moved by each of ``motions`` in turn, resampled once and clipped to 0-255.

    The moves are composed into one affine first, so the picture is filtered
    once however many moves there are; applying them one by one would blur
    it a little more at each (see the module notes). Used where an animation
    starts part-way through (a farm segment) from the still.

    Args:
        image: ``HxWx3`` RGB 0-255, uint8 or float32.
        motions: :class:`Motion` values, first applied first.
        interpolation: one of :data:`INTERPOLATIONS`.

    Returns:
        float32 ``HxWx3`` RGB 0-255.
    """
    arr = _checked(image, interpolation)
    h, w = arr.shape[:2]
    total = np.eye(3)
    for motion in motions:
        if not motion.still:
            total = np.vstack([motion_matrix(motion, (h, w)), [0.0, 0.0, 1.0]]) @ total
    if np.allclose(total, np.eye(3), rtol=0.0, atol=1e-12):
        return arr.copy()
    moved = cv2.warpAffine(
        arr,
        total[:2],
        (w, h),
        flags=INTERPOLATIONS[interpolation],
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return np.clip(moved, 0.0, 255.0)
