"""The style's still-scene hold (core.temporal: stillness, held_blend): issue 20.

A stand-in for the style network paints each frame as the input plus a fixed
texture plus fresh "repaint" noise, the part of per-frame style that
flickers. The carry runs as the pipeline runs it: flow measured by the
renderer's estimator (DIS, full resolution, as the style's), the previous
output and input warped along it.
"""

import cv2
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.flow import FlowEstimator, warp
from dreamstream.core.temporal import (
    held_blend,
    held_weight,
    light_change,
    measure_motion,
    stillness,
    temporal_blend,
)

H, W = 72, 96


def scene(seed: int = 1) -> np.ndarray:
    """A smooth textured RGB background, float32 0-255."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((H, W, 3)).astype(np.float32), (0, 0), 3.0)
    base = (base - base.min()) / (base.max() - base.min())
    return 40.0 + 170.0 * base


def camera(image: np.ndarray, rng, noise: float = 1.5) -> np.ndarray:
    """The image as a camera gives it: sensor noise, uint8."""
    return np.clip(np.rint(image + noise * rng.standard_normal(image.shape)), 0, 255).astype(
        np.uint8
    )


PAINT = np.random.default_rng(7).normal(0.0, 30.0, (H, W, 3)).astype(np.float32)


def stylise(frame: np.ndarray, rng) -> np.ndarray:
    """Stand-in style: the frame, a fixed painted texture, and repaint noise of 8 levels."""
    painted = frame.astype(np.float32) + PAINT + 8.0 * rng.standard_normal(frame.shape)
    return np.clip(np.rint(painted), 0, 255).astype(np.uint8)


def carry(frames: list[np.ndarray], held: bool, weight: float = 0.8) -> list[np.ndarray]:
    """Style with flow over ``frames``, plain blend or held, as the carry runs it."""
    estimator, rng = FlowEstimator("dis", "medium", 1.0), np.random.default_rng(3)
    outs = [stylise(frames[0], rng)]
    for prev_in, frame in zip(frames, frames[1:], strict=False):
        motion = measure_motion(estimator, frame, prev_in)
        styled = stylise(frame, rng)
        warped_out = warp(outs[-1], motion.flow)
        if held:
            warped_in = warp(prev_in, motion.flow)
            still = stillness(frame, prev_in, warped_in)
            light = light_change(frame, prev_in, still)
            out = held_blend(styled, warped_out, outs[-1], motion.mask, weight, still, light)
        else:
            out = temporal_blend(styled, warped_out, motion.mask, weight)
        outs.append(out)
    return outs


def flicker(outs: list[np.ndarray]) -> float:
    """Mean absolute frame-to-frame change, levels."""
    pairs = zip(outs, outs[1:], strict=False)
    return float(np.mean([np.abs(b.astype(float) - a).mean() for a, b in pairs]))


def test_noisy_still_scene_flickers_less_than_the_plain_blend():
    rng = np.random.default_rng(0)
    frames = [camera(scene(), rng) for _ in range(14)]
    plain, held = flicker(carry(frames, False)[4:]), flicker(carry(frames, True)[4:])
    assert held < 0.5 * plain, (held, plain)


def test_a_moving_object_leaves_no_ghost():
    rng, back = np.random.default_rng(0), scene()
    frames, boxes = [], []
    for t in range(12):
        image = back.copy()
        x = 8 + 4 * t  # a bright square crossing the still background, 4 px a frame
        image[24:48, x : x + 20] = 235.0
        frames.append(camera(image, rng))
        boxes.append(x)
    outs = carry(frames, True)
    # Where the square was three frames ago and is no more, the background shows again.
    x_now, x_then = boxes[-1], boxes[-4]
    vacated = (slice(24, 48), slice(x_then, x_now))
    ghost = np.abs(outs[-1][vacated].astype(float) - back[vacated] - PAINT[vacated]).mean()
    plain = carry(frames, False)
    ghost_plain = np.abs(plain[-1][vacated].astype(float) - back[vacated] - PAINT[vacated]).mean()
    assert ghost < 15.0 and ghost <= ghost_plain + 3.0, (ghost, ghost_plain)
    # ... and the square itself is where it is now, bright.
    assert outs[-1][24:48, x_now + 2 : x_now + 18].mean() > 200.0


def test_a_slow_light_change_is_followed():
    rng, back = np.random.default_rng(0), scene() - 30.0
    frames = [camera(back + 1.0 * t, rng) for t in range(40)]  # brightens 1 level a frame
    outs = carry(frames, True)
    rise_in = frames[-1].astype(float).mean() - frames[5].astype(float).mean()
    rise_out = outs[-1].astype(float).mean() - outs[5].astype(float).mean()
    assert rise_in > 30.0 and abs(rise_out - rise_in) < 0.15 * rise_in, (rise_out, rise_in)


def test_stillness_is_high_on_a_still_pair_and_low_where_things_move():
    rng, back = np.random.default_rng(2), scene()
    prev, cur = camera(back, rng), camera(back, rng)
    ones = np.zeros((H, W, 2), np.float32)
    assert stillness(cur, prev, warp(prev, ones)).mean() > 0.95
    moved = back.copy()
    moved[20:50, 30:60] = 240.0
    cur = camera(moved, rng)
    still = stillness(cur, prev, warp(prev, ones))
    assert still[26:44, 36:54].max() == 0.0 and still[:, :20].mean() > 0.9


def test_held_weight_keeps_zero_off_and_holds_harder_than_the_blend():
    assert held_weight(0.0) == 0.0 and held_weight(1.0) == 1.0
    assert held_weight(0.8) == pytest.approx(0.95, abs=0.002)
    assert 0.7 < held_weight(0.5) < held_weight(0.8)


def test_held_blend_copies_where_still_and_blends_elsewhere():
    new = np.full((8, 8, 3), 40, np.uint8)
    warped = np.full((8, 8, 3), 240, np.uint8)
    prev = np.full((8, 8, 3), 140, np.uint8)
    still, mask = np.zeros((8, 8), np.float32), np.ones((8, 8), np.float32)
    still[:4] = 1.0
    out = held_blend(new, warped, prev, mask, 0.5, still)
    assert (out[4:] == 140).all()  # plain blend of 40 and the warped 240
    assert (out[:4] == round(40 + held_weight(0.5) * 100)).all()  # the unwarped 140, held
    assert (held_blend(new, warped, prev, mask, 0.0, still) == new).all()
    with pytest.raises(InputError, match="previous output"):
        held_blend(new, warped, prev[:4], mask, 0.5, still)
