"""Measures of a rendered sequence: warping error, static flicker, strength and fidelity.

Frames are NumPy ``uint8`` ``HxWx3`` **RGB**; flows and masks follow
:mod:`dreamstream.core.flow` (flow current -> previous, in pixels; masks ``HxW``
float32 in [0, 1], 1 = reliable). Both measures are defined in the project's
design notes and used by the benchmarks and ``dreamstream bench --warp-error``.
Static flicker and moving-region fidelity need no flow at all, so no flow
estimator can flatter a method that warps along its own flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.flow import warp


def _unit_rgb(frame: np.ndarray) -> np.ndarray:
    return np.asarray(frame, dtype=np.float32) / 255.0


def warping_error(
    outputs: Sequence[np.ndarray], flows: Sequence[np.ndarray], masks: Sequence[np.ndarray]
) -> float:
    """Temporal warping error (Lai et al. 2018) of a frame sequence.

    For each pair (t-1, t): ``sum(M * (O_t - W(O_{t-1}))^2) / (3 * sum(M))`` with
    O in [0, 1] RGB and W the backward warp along ``flows[t-1]``; the result is
    the mean over pairs whose mask is not empty.

    Args:
        outputs: N uint8 HxWx3 RGB frames.
        flows: N-1 flows, ``flows[i]`` from frame i+1 to frame i (measured on
            the *input* frames), HxWx2 float32.
        masks: N-1 consistency masks, HxW; use the binary ones
            (``consistency_mask(..., soft=False)``) for the standard measure.

    Returns:
        The mean error, or NaN if every mask is empty.
    """
    if len(outputs) < 2 or len(flows) != len(outputs) - 1 or len(masks) != len(flows):
        raise InputError(
            f"warping error needs N >= 2 outputs and N-1 flows and masks, got "
            f"{len(outputs)} outputs, {len(flows)} flows, {len(masks)} masks"
        )
    errors = []
    for t in range(1, len(outputs)):
        cur, prev = _unit_rgb(outputs[t]), _unit_rgb(outputs[t - 1])
        m = np.asarray(masks[t - 1], dtype=np.float32)
        total = float(m.sum())
        if total <= 0.0:
            continue
        diff = np.square(cur - warp(prev, flows[t - 1])).sum(-1)
        errors.append(float((m * diff).sum()) / (3.0 * total))
    return float(np.mean(errors)) if errors else float("nan")


def _check_sequences(outputs, inputs, what: str) -> None:
    if len(outputs) != len(inputs) or not outputs:
        raise InputError(
            f"{what} needs as many outputs as inputs (at least one), "
            f"got {len(outputs)} and {len(inputs)}"
        )


def _check_sizes(out: np.ndarray, inp: np.ndarray) -> None:
    if out.shape[:2] != inp.shape[:2]:
        raise InputError(
            f"output and input frames differ in size: {out.shape[:2]} vs {inp.shape[:2]}"
        )


def frame_strength(output: np.ndarray, input: np.ndarray) -> float:
    """How much one frame was changed: mean |output - input| / 255, in [0, 1].

    Args:
        output, input: uint8 HxWx3 RGB frames of the same size.
    """
    out, inp = np.asarray(output, np.float32), np.asarray(input, np.float32)
    _check_sizes(out, inp)
    return float(np.abs(out - inp).mean()) / 255.0


def strength_per_frame(outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`frame_strength` of each frame: does a carried effect grow over time?

    Args:
        outputs, inputs: equally long sequences of uint8 HxWx3 RGB frames.

    Returns:
        float64 array of length N.
    """
    _check_sequences(outputs, inputs, "strength")
    return np.array([frame_strength(o, i) for o, i in zip(outputs, inputs, strict=True)])


def dream_strength(outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray]) -> float:
    """Mean absolute difference between outputs and inputs, as a fraction of 255.

    Args:
        outputs, inputs: equally long sequences of uint8 HxWx3 RGB frames.
    """
    _check_sequences(outputs, inputs, "dream strength")
    return float(strength_per_frame(outputs, inputs).mean())


def _blurred_luma(frame: np.ndarray, sigma: float) -> np.ndarray:
    # BT.601 luma, the weights of cv2's RGB -> grey conversion.
    luma = np.asarray(frame, np.float32) @ np.float32([0.299, 0.587, 0.114])
    return cv2.GaussianBlur(luma, (0, 0), sigmaX=sigma, sigmaY=sigma)


def fidelity(output: np.ndarray, input: np.ndarray) -> float:
    """Whether the large structure of the scene survives in one output frame.

    The Pearson correlation between the luminance of ``input`` and ``output``,
    each blurred with a Gaussian of sigma = width / 80 so that texture (which
    a dream or a style is meant to change) does not count, but the layout of
    light and dark does. 1 = the scene's structure is intact; it falls when a
    carried dream erases the scene and when smoothing leaves ghosts of where
    things were. A uniform change of brightness or contrast leaves it at 1.

    Args:
        output, input: uint8 HxWx3 RGB frames of the same size.

    Returns:
        The correlation in [-1, 1]; NaN if either blurred luminance is flat.
    """
    _check_sizes(np.asarray(output), np.asarray(input))
    sigma = input.shape[1] / 80.0
    return _correlation(_blurred_luma(input, sigma).ravel(), _blurred_luma(output, sigma).ravel())


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally long vectors; NaN if either is flat."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b)) / denom if denom > 1e-6 else float("nan")


def fidelity_per_frame(outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`fidelity` of each frame, a float64 array of length N."""
    _check_sequences(outputs, inputs, "fidelity")
    return np.array([fidelity(o, i) for o, i in zip(outputs, inputs, strict=True)])


# Static flicker (DESIGN.md, "Measures"): a pixel is static between two frames
# when its blurred input luminance moves less than this many levels (0-255).
STATIC_LEVELS = 1.5
# The small blur that keeps sensor and coding noise from deciding what is static.
STATIC_SIGMA = 1.0
# A pixel is moving when its blurred input luminance changes by at least this.
MOVING_LEVELS = 8.0
# Fewer moving pixels than this share of the frame: moving fidelity is not measured.
MIN_MOVING_SHARE = 0.01


def _luma(frame: np.ndarray) -> np.ndarray:
    return np.asarray(frame, np.float32) @ np.float32([0.299, 0.587, 0.114])


def static_pixels(prev_input: np.ndarray, input: np.ndarray) -> np.ndarray:
    """Where the input barely changes between two frames (static background).

    Args:
        prev_input, input: consecutive uint8 HxWx3 RGB input frames.

    Returns:
        HxW bool, True where the input's luminance, blurred with a Gaussian of
        sigma ``STATIC_SIGMA`` px, moved less than ``STATIC_LEVELS`` levels.
    """
    _check_sizes(np.asarray(prev_input), np.asarray(input))
    change = _blurred_luma(input, STATIC_SIGMA) - _blurred_luma(prev_input, STATIC_SIGMA)
    return np.abs(change) < STATIC_LEVELS


@dataclass(frozen=True)
class StaticFlicker:
    """Flow-free flicker of a sequence, in luminance levels (0-255).

    Attributes:
        output: mean |change| of the output's luminance on static pixels.
        input: the same for the input itself (its noise, its coding): the floor.
        excess: ``output - input``, what the processing added.
        static_share: mean share of the pixels that counted as static.
        pairs: frame pairs measured (pairs with no static pixel are left out).
    """

    output: float
    input: float
    excess: float
    static_share: float
    pairs: int


def static_flicker(
    outputs: Sequence[np.ndarray],
    inputs: Sequence[np.ndarray],
    pairs: Sequence[int] | None = None,
) -> StaticFlicker:
    """How much the output changes where the input does not: flicker measured without flow.

    For each pair (t-1, t), on the pixels :func:`static_pixels` finds static,
    the mean absolute change of the output's luminance (unblurred, so fine
    texture that crawls counts), and the same for the input; each is averaged
    over pairs. Motion never enters, so no flow can flatter a method; but only
    still parts of the picture are judged (see :func:`moving_fidelity` for
    the moving ones).

    Args:
        outputs, inputs: equally long sequences of uint8 HxWx3 RGB frames.
        pairs: the indices t of the pairs (t-1, t) to measure (leave scene
            cuts out here); default: every pair.

    Returns:
        A :class:`StaticFlicker`; its figures are NaN if no pair had a static pixel.
    """
    _check_sequences(outputs, inputs, "static flicker")
    ts = range(1, len(inputs)) if pairs is None else pairs
    out_change, in_change, shares = [], [], []
    for t in ts:
        if not 1 <= t < len(inputs):
            raise InputError(f"static flicker: pair index {t} outside 1..{len(inputs) - 1}")
        _check_sizes(np.asarray(outputs[t]), np.asarray(inputs[t]))
        still = static_pixels(inputs[t - 1], inputs[t])
        shares.append(float(still.mean()))
        if not still.any():
            continue
        out_change.append(float(np.abs(_luma(outputs[t]) - _luma(outputs[t - 1]))[still].mean()))
        in_change.append(float(np.abs(_luma(inputs[t]) - _luma(inputs[t - 1]))[still].mean()))
    out = float(np.mean(out_change)) if out_change else float("nan")
    floor = float(np.mean(in_change)) if in_change else float("nan")
    share = float(np.mean(shares)) if shares else float("nan")
    return StaticFlicker(out, floor, out - floor, share, len(out_change))


def moving_pixels(prev_input: np.ndarray, input: np.ndarray) -> np.ndarray:
    """Where the input changes clearly between two frames: things that move.

    HxW bool, True where the blurred luminance (as in :func:`static_pixels`)
    changed by at least ``MOVING_LEVELS`` levels, grown by a few pixels so that
    the edges of a moving thing, where ghosts show, are included.
    """
    _check_sizes(np.asarray(prev_input), np.asarray(input))
    change = _blurred_luma(input, STATIC_SIGMA) - _blurred_luma(prev_input, STATIC_SIGMA)
    moving = (np.abs(change) >= MOVING_LEVELS).astype(np.uint8)
    return cv2.dilate(moving, np.ones((5, 5), np.uint8)).astype(bool)


def moving_fidelity(output: np.ndarray, input: np.ndarray, region: np.ndarray) -> float:
    """:func:`fidelity` on a region only: does a moving thing leave a ghost behind?

    The Pearson correlation of the blurred luminances (sigma = width / 80) of
    ``input`` and ``output`` over the pixels of ``region``. Smoothing in time
    without (or along wrong) flow leaves an image of where a moving thing was:
    there the output stops following the input, and this falls, while the
    whole-frame fidelity, dominated by the still background, barely moves.

    Args:
        output, input: uint8 HxWx3 RGB frames of the same size.
        region: HxW bool, e.g. :func:`moving_pixels` of the input pair.

    Returns:
        The correlation in [-1, 1]; NaN when the region covers less than
        ``MIN_MOVING_SHARE`` of the frame or either luminance is flat on it.
    """
    _check_sizes(np.asarray(output), np.asarray(input))
    region = np.asarray(region, bool)
    if region.shape != np.asarray(input).shape[:2]:
        raise InputError(f"region {region.shape} must be HxW matching the frame")
    if region.mean() < MIN_MOVING_SHARE:
        return float("nan")
    sigma = input.shape[1] / 80.0
    return _correlation(_blurred_luma(input, sigma)[region], _blurred_luma(output, sigma)[region])


def moving_fidelity_mean(
    outputs: Sequence[np.ndarray],
    inputs: Sequence[np.ndarray],
    pairs: Sequence[int] | None = None,
) -> float:
    """Mean :func:`moving_fidelity` of frames t over the pairs (t-1, t) (default: all).

    NaN if no frame had enough moving pixels.
    """
    _check_sequences(outputs, inputs, "moving fidelity")
    ts = range(1, len(inputs)) if pairs is None else pairs
    values = [
        moving_fidelity(outputs[t], inputs[t], moving_pixels(inputs[t - 1], inputs[t])) for t in ts
    ]
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")
