"""The coherence measures: warping error (Lai et al. 2018) and dream strength."""

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.flow import FlowEstimator
from dreamstream.core.measures import dream_strength, warping_error
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
