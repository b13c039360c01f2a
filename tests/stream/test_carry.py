"""The dream's carry trusts a warp that explains the input, and regrows only what is new."""

from __future__ import annotations

import numpy as np

from dreamstream.core.flow import warp
from dreamstream.core.temporal import Motion
from dreamstream.stream.carry import Carry
from dreamstream.stream.io import read_image
from dreamstream.stream.settings import Settings

H, W, SHIFT, N = 48, 64, 2, 5
LIGHT = {"octaves": 1, "steps": 2, "steps_next": 2, "precision": "float32"}
BAND = np.s_[4:44, 20:44]  # where the flow's consistency check is wrongly distrustful
NEW = np.s_[30:42, 4:16]  # where something new shows every frame: a real occlusion


def pan(samples) -> list[np.ndarray]:
    """A SHIFT px/frame pan over a photograph, a fresh patch pasted in at NEW on every frame."""
    big = read_image(samples / "chelsea.jpg")[::3, ::3]
    frames = []
    for i in range(N):
        frame = np.ascontiguousarray(big[30 : 30 + H, 60 + SHIFT * i : 60 + SHIFT * i + W])
        frame[NEW] = big[10 + 7 * i : 22 + 7 * i, 10:22][::-1]
        frames.append(frame)
    return frames


def carried_run(samples, trusts: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The dream over the pan with the exact flow and a mask that distrusts BAND and NEW."""
    from dreamstream.stream.processors import DreamProcessor

    dream = DreamProcessor(Settings(**LIGHT).dream_setup())
    dream.trusts_matching_warp = trusts
    given = []
    real_next = dream.next

    def recording_next(frame, index, warped_out, mask, warped_in, **work):
        given.append(mask.copy())
        return real_next(frame, index, warped_out, mask, warped_in, **work)

    dream.next = recording_next
    flow = np.broadcast_to(np.float32([SHIFT, 0]), (H, W, 2)).copy()  # current -> previous
    mask = np.ones((H, W), np.float32)
    mask[BAND] = mask[NEW] = 0.0
    carry, outs = Carry(), []
    for i, frame in enumerate(pan(samples)):
        motion = Motion(flow, mask, cut=False) if i else None
        outs.append(carry.step(dream, frame, i, motion))
    return outs, given[-(N - 1) :]  # the carried frames' masks (after the first's settling)


def flicker(outs: list[np.ndarray], region) -> float:
    """Mean squared change of the output along the exact flow in ``region``."""
    flow = np.broadcast_to(np.float32([SHIFT, 0]), (H, W, 2)).copy()
    changes = [
        np.square(b.astype(np.float32) - warp(a, flow, cubic=True).astype(np.float32))[region]
        for a, b in zip(outs, outs[1:], strict=False)
    ]
    return float(np.mean(changes))


def test_the_dream_carry_trusts_a_warp_that_explains_the_input(samples):
    trusted, masks = carried_run(samples, trusts=True)
    plain, plain_masks = carried_run(samples, trusts=False)
    # The wrongly distrusted band is carried; the new patch still is not.
    assert all(m[BAND].mean() > 0.9 and m[NEW][2:-2, 2:-2].max() == 0.0 for m in masks)
    assert all(m[BAND].max() == 0.0 for m in plain_masks)
    # Carried rather than regrown afresh, the band changes less from frame to frame...
    assert flicker(trusted, BAND) < 0.5 * flicker(plain, BAND)
    # ...and is still dreamt: as far from the input as the regrown band, within a third.
    frame = pan(samples)[-1].astype(np.float32)
    moved = [np.abs(run[-1].astype(np.float32) - frame)[BAND].mean() for run in (trusted, plain)]
    assert moved[0] > 0.67 * moved[1]
