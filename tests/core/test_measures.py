"""The measures: warping error (Lai et al. 2018), strength and fidelity."""

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.flow import FlowEstimator
from dreamstream.core.measures import (
    dream_strength,
    fidelity,
    fidelity_per_frame,
    moving_fidelity,
    moving_fidelity_mean,
    moving_pixels,
    static_flicker,
    static_pixels,
    strength_per_frame,
    warping_error,
)
from tests.core.test_flow import shifted_pair, texture


def test_warping_error_zero_for_identical_and_larger_with_flicker():
    frames = [shifted_pair((2.0 * t, 1.0 * t), seed=9)[1] for t in range(4)]
    estimator = FlowEstimator()
    pairs = [estimator.flow_and_mask(frames[t], frames[t - 1], soft=False) for t in range(1, 4)]
    flows, masks = [p[0] for p in pairs], [p[1] for p in pairs]
    still = [frames[0]] * 3
    zero = [np.zeros((96, 96, 2), np.float32)] * 2
    assert warping_error(still, zero, [np.ones((96, 96), np.float32)] * 2) == 0.0
    floor = warping_error(frames, flows, masks)
    gains = [0, 25, -25, 25]
    flicker = [
        np.clip(f.astype(np.int16) + g, 0, 255).astype(np.uint8)
        for f, g in zip(frames, gains, strict=True)
    ]
    assert floor < 2e-3
    assert warping_error(flicker, flows, masks) > floor + 0.02
    assert np.isnan(warping_error(still, zero, [np.zeros((96, 96), np.float32)] * 2))


def test_dream_strength():
    frames = [texture(16, s) for s in range(3)]
    assert dream_strength(frames, frames) == 0.0

    def full(value: int) -> np.ndarray:
        return np.full((4, 6, 3), value, np.uint8)

    half = full(0)
    half[:, :3] = 255  # half the pixels 255 away from black: 0.5 on average
    # 51/255 = 0.2 for the first pair, 0.5 for the second: their mean is 0.35.
    assert dream_strength([full(151), half], [full(100), full(0)]) == pytest.approx(0.35)
    assert dream_strength([full(49)], [full(100)]) == pytest.approx(0.2)  # no uint8 wrap-around


def test_bad_input_raises_input_error():
    with pytest.raises(InputError, match="1 outputs"):
        warping_error([np.zeros((4, 4, 3))], [], [])
    with pytest.raises(InputError, match="at least one"):
        dream_strength([], [])
    with pytest.raises(InputError, match="differ in size"):
        dream_strength([np.zeros((4, 4, 3), np.uint8)], [np.zeros((4, 5, 3), np.uint8)])


def test_strength_per_frame_follows_each_frame():
    frames = [texture(16, s) for s in range(3)]
    grey = np.full_like(frames[0], 128)
    outs = [frames[0], np.clip(frames[1].astype(np.int16) + 51, 0, 255).astype(np.uint8), grey]
    per_frame = strength_per_frame(outs, frames)
    assert per_frame[0] == 0.0
    assert per_frame[1] == pytest.approx(np.abs(outs[1].astype(float) - frames[1]).mean() / 255)
    assert per_frame[2] == pytest.approx(np.abs(128.0 - frames[2]).mean() / 255)
    assert dream_strength(outs, frames) == pytest.approx(per_frame.mean())


def scene(width=160, height=90, seed=3):
    """A frame with large light and dark regions (structure) and fine texture on top."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width] / width
    base = 128 + 80 * np.sin(9 * xs + 2) * np.cos(7 * ys)
    image = base[..., None] + rng.normal(0, 20, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def test_fidelity_keeps_structure_and_ignores_texture_and_brightness():
    frame = scene()
    assert fidelity(frame, frame) == pytest.approx(1.0)
    # New fine texture (what a dream adds) and a global brightness change keep the scene.
    noise = np.random.default_rng(0).normal(0, 30, frame.shape)
    textured = np.clip(frame * 0.8 + 40 + noise, 0, 255).astype(np.uint8)
    assert fidelity(textured, frame) > 0.97


def test_fidelity_falls_when_the_scene_is_erased_or_ghosted():
    frame = scene()
    other = scene(seed=4)[:, ::-1]  # a different layout of light and dark
    assert fidelity(other, frame) < 0.5
    ghost = (0.5 * frame + 0.5 * np.roll(frame, 40, axis=1)).astype(np.uint8)
    faded = (0.3 * frame + 0.7 * 128).astype(np.uint8)  # less contrast alone keeps 1
    assert fidelity(ghost, frame) < 0.9
    assert fidelity(faded, frame) == pytest.approx(1.0, abs=1e-3)
    flat = np.full_like(frame, 90)
    assert np.isnan(fidelity(flat, frame))
    per_frame = fidelity_per_frame([frame, ghost], [frame, frame])
    assert per_frame[0] == pytest.approx(1.0) and per_frame[1] < 0.9


def test_new_measures_refuse_mismatched_input():
    with pytest.raises(InputError, match="at least one"):
        fidelity_per_frame([], [])
    with pytest.raises(InputError, match="2 and 1"):
        strength_per_frame([scene()] * 2, [scene()])
    with pytest.raises(InputError, match="differ in size"):
        fidelity(scene(width=80), scene())


_PATCH = texture(16, seed=5, sigma=1.0)


def _scene(t: int, size: int = 64) -> np.ndarray:
    """A still textured background with a textured square gliding 4 px a frame."""
    frame = texture(size, seed=3).copy()
    x = 8 + 4 * t
    frame[20:36, x : x + 16] = _PATCH
    return frame


def test_static_flicker_counts_change_on_still_background_only():
    inputs = [_scene(t) for t in range(5)]
    # A copy of the input has no excess even though the square moves.
    same = static_flicker(inputs, inputs)
    assert same.excess == 0.0 and same.pairs == 4
    assert 0.5 < same.static_share < 0.95  # the square's path is not static
    # Texture that changes on every frame over the still background is flicker.
    rng = np.random.default_rng(0)
    noisy = [
        np.clip(f.astype(np.int16) + rng.integers(-6, 7, f.shape), 0, 255).astype(np.uint8)
        for f in inputs
    ]
    flicker = static_flicker(noisy, inputs).excess
    assert flicker > 2.0
    # Changing only the moving square barely counts: it is not static (but
    # for the odd texel of it that happened to stay within 1.5 levels).
    still = static_pixels(inputs[0], inputs[1])
    recoloured = [f.copy() for f in inputs]
    for t, f in enumerate(recoloured):
        f[20:36, 8 + 4 * t : 24 + 4 * t] = 255 - _PATCH if t % 2 else _PATCH // 2
    assert static_flicker(recoloured, inputs).excess < 0.2 * flicker
    assert not still[24, 18] and still[50, 50]


def test_static_flicker_leaves_out_pairs_not_asked_for():
    inputs = [_scene(0)] * 4
    outputs = [inputs[0], inputs[0], np.full_like(inputs[0], 255), np.full_like(inputs[0], 255)]
    assert static_flicker(outputs, inputs).excess > 10.0
    calm = static_flicker(outputs, inputs, pairs=[1, 3])  # skip the "cut" at 2
    assert calm.excess == 0.0 and calm.pairs == 2
    with pytest.raises(InputError, match="pair index 0"):
        static_flicker(outputs, inputs, pairs=[0])


def test_moving_fidelity_falls_for_a_ghost_and_not_for_a_faithful_copy():
    inputs = [_scene(t) for t in range(6)]
    region = moving_pixels(inputs[2], inputs[3])
    assert region[24, 8 + 4 * 3 + 17] and not region[55, 5]
    assert moving_fidelity(inputs[3], inputs[3], region) == pytest.approx(1.0)
    # A moving average in time leaves the square where it was: a ghost.
    ghost = [inputs[0]]
    for f in inputs[1:]:
        ghost.append((0.6 * ghost[-1] + 0.4 * f).astype(np.uint8))
    faithful = moving_fidelity_mean(inputs, inputs)
    ghosted = moving_fidelity_mean(ghost, inputs)
    assert faithful == pytest.approx(1.0) and ghosted < 0.9
    # The whole-frame fidelity, dominated by the still background, barely sees it.
    assert fidelity(ghost[4], inputs[4]) > ghosted


def test_moving_fidelity_needs_enough_moving_pixels():
    frame = _scene(0)
    assert np.isnan(moving_fidelity(frame, frame, np.zeros((64, 64), bool)))
    with pytest.raises(InputError, match="region"):
        moving_fidelity(frame, frame, np.ones((8, 8), bool))
    assert np.isnan(moving_fidelity_mean([frame] * 3, [frame] * 3))
