"""Measures of a rendered sequence: temporal warping error and dream strength.

Frames are NumPy ``uint8`` ``HxWx3`` **RGB**; flows and masks follow
:mod:`dreamstream.core.flow` (flow current -> previous, in pixels; masks ``HxW``
float32 in [0, 1], 1 = reliable). Both measures are defined in the project's
design notes and used by the benchmarks and ``dreamstream bench --warp-error``.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def dream_strength(outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray]) -> float:
    """Mean absolute difference between outputs and inputs, as a fraction of 255.

    Args:
        outputs, inputs: equally long sequences of uint8 HxWx3 RGB frames.
    """
    if len(outputs) != len(inputs) or not outputs:
        raise InputError(
            f"dream strength needs as many outputs as inputs (at least one), "
            f"got {len(outputs)} and {len(inputs)}"
        )
    total = 0.0
    for out, inp in zip(outputs, inputs, strict=True):
        out, inp = np.asarray(out, np.float32), np.asarray(inp, np.float32)
        if out.shape[:2] != inp.shape[:2]:
            raise InputError(
                f"output and input frames differ in size: {out.shape[:2]} vs {inp.shape[:2]}"
            )
        total += float(np.abs(out - inp).mean())
    return total / (255.0 * len(outputs))
