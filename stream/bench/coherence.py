"""Coherence of several renderings of one clip, judged side by side.

The warping error of each rendering is measured per pair of frames under a
flow source (the referee, and the renderer's own flow as a labelled second
column), together with the input's own error (the floor), so that the excess
can be averaged over any span: the whole clip, a window, a shot. The
flow-free measures (static flicker, moving-region fidelity) and strength and
fidelity come from :mod:`dreamstream.core.measures`.

Frames are uint8 HxWx3 **RGB**, held in memory; flows (current -> previous)
live only while their pair is measured, so a long clip's flows never pile up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dreamstream.core import measures
from dreamstream.core.temporal import is_scene_cut
from dreamstream.stream.bench import referee as R

BATCH = 16  # pairs whose flows are computed at once


@dataclass
class PairErrors:
    """Warping errors per pair (t-1, t) under one flow.

    Attributes:
        flow: the flow source's name.
        ts: the pair indices t measured (cuts left out).
        floor: the input's own error per pair.
        errors: each rendering's error per pair.
        cuts: the pair indices found to be scene cuts (none when ``ts`` was given).
    """

    flow: str
    ts: np.ndarray
    floor: np.ndarray
    errors: dict[str, np.ndarray]
    cuts: list[int]

    def excess(self, name: str, first: int = 1, end: int | None = None) -> float:
        """Mean excess (error minus floor) of ``name`` over pairs with first <= t < end."""
        keep = (self.ts >= first) & (self.ts < (np.inf if end is None else end))
        diff = self.errors[name][keep] - self.floor[keep]
        diff = diff[~np.isnan(diff)]
        return float(diff.mean()) if diff.size else float("nan")

    def mean_floor(self) -> float:
        return float(np.nanmean(self.floor)) if self.floor.size else float("nan")


def pair_errors(
    inputs: Sequence[np.ndarray],
    runs: dict[str, Sequence[np.ndarray]],
    source,
    ts: Sequence[int] | None = None,
) -> PairErrors:
    """Warping error of the inputs and of every rendering under ``source``'s flow.

    Args:
        inputs: the clip, uint8 HxWx3 RGB.
        runs: name -> outputs, each as long as ``inputs``.
        source: has ``name`` and ``flows(pairs)`` (see :mod:`.referee`).
        ts: the pairs to measure; default: every pair that is not a scene cut
            under this flow (``is_scene_cut`` with its binary mask).
    """
    todo = list(range(1, len(inputs))) if ts is None else list(ts)
    kept, floor, cuts = [], [], []
    errors: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(0, len(todo), BATCH):
        batch = todo[i : i + BATCH]
        flows = source.flows([(inputs[t], inputs[t - 1]) for t in batch])
        for t, (fwd, _), mask in zip(batch, flows, R.masks(flows), strict=True):
            if ts is None and is_scene_cut(inputs[t - 1], inputs[t], mask):
                cuts.append(t)
                continue
            kept.append(t)
            floor.append(measures.warping_error([inputs[t - 1], inputs[t]], [fwd], [mask]))
            for name, outs in runs.items():
                errors[name].append(measures.warping_error([outs[t - 1], outs[t]], [fwd], [mask]))
    return PairErrors(
        source.name,
        np.array(kept, int),
        np.array(floor, float),
        {name: np.array(v, float) for name, v in errors.items()},
        cuts,
    )


def shots(length: int, cuts: Sequence[int]) -> list[tuple[int, int]]:
    """The shots of a clip of ``length`` frames cut before each frame in ``cuts``: (start, end)."""
    edges = [0, *sorted(cuts), length]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def quality(
    inputs: Sequence[np.ndarray],
    outputs: Sequence[np.ndarray],
    name: str,
    judged: Sequence[PairErrors],
    window: int,
) -> dict:
    """Every measure of one rendering: excess per flow, flicker, strength, fidelity, windows.

    Args:
        inputs, outputs: the clip and the rendering, uint8 HxWx3 RGB.
        name: the rendering's key in each ``PairErrors.errors``.
        judged: the referee's :class:`PairErrors` first, then the renderer's own.
        window: frames in the first and last windows.
    """
    ref = judged[0]
    ts = [int(t) for t in ref.ts]
    strength = measures.strength_per_frame(outputs, inputs)
    fidelity = measures.fidelity_per_frame(outputs, inputs)
    flicker = measures.static_flicker(outputs, inputs, pairs=ts)
    n = len(inputs)
    row = {
        "excess": ref.excess(name),
        "excess_own_flow": judged[1].excess(name) if len(judged) > 1 else float("nan"),
        "static_flicker": flicker.excess,
        "moving_fidelity": measures.moving_fidelity_mean(outputs, inputs, ts),
        "strength": float(strength.mean()),
        "fidelity": float(np.nanmean(fidelity)),
        "strength_first": float(strength[:window].mean()),
        "strength_last": float(strength[-window:].mean()),
        "fidelity_first": float(np.nanmean(fidelity[:window])),
        "fidelity_last": float(np.nanmean(fidelity[-window:])),
        "excess_last": ref.excess(name, n - window + 1),
    }
    row["shots"] = [ref.excess(name, a + 1, b) for a, b in shots(n, ref.cuts)]
    return row
