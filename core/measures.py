"""Measures of a rendered sequence: temporal warping error, strength and fidelity.

Frames are NumPy ``uint8`` ``HxWx3`` **RGB**; flows and masks follow
:mod:`dreamstream.core.flow` (flow current -> previous, in pixels; masks ``HxW``
float32 in [0, 1], 1 = reliable). Both measures are defined in the project's
design notes and used by the benchmarks and ``dreamstream bench --warp-error``.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    a = _blurred_luma(input, sigma).ravel().astype(np.float64)
    b = _blurred_luma(output, sigma).ravel().astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b)) / denom if denom > 1e-6 else float("nan")


def fidelity_per_frame(outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`fidelity` of each frame, a float64 array of length N."""
    _check_sequences(outputs, inputs, "fidelity")
    return np.array([fidelity(o, i) for o, i in zip(outputs, inputs, strict=True)])
