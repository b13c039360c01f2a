"""The temporal bench's measures on tiny inputs (the goals themselves run in `make bench`)."""

import itertools

import numpy as np
import pytest

from dreamstream.stream.bench import temporal
from dreamstream.stream.bench.warp_error import SAMPLES, iter_frames


def test_drift_reports_the_largest_change_of_mean_colour_in_levels():
    frame = np.full((8, 8, 3), 100, np.uint8)
    tinted = frame.copy()
    tinted[..., 2] += 3  # blue up 3 levels: luminance up 0.114 * 3
    result = temporal.drift([frame, frame, tinted, frame])
    assert result["colour"] == pytest.approx(3.0)
    assert result["luminance"] == pytest.approx(0.342)


def test_quality_of_an_unchanged_clip_and_of_a_flickering_one():
    inputs = list(itertools.islice(iter_frames(SAMPLES / "street.mp4"), 6))
    motion = temporal.Motion(inputs)
    same = temporal.quality(inputs, inputs, motion, window=2)
    assert same["excess"] == 0.0 and same["strength"] == 0.0
    assert same["fidelity"] == pytest.approx(1.0)
    gains = [0, 30, 0, 30, 0, 30]
    flicker = [
        np.clip(f.astype(int) + g, 0, 255).astype(np.uint8)
        for f, g in zip(inputs, gains, strict=True)
    ]
    shaky = temporal.quality(inputs, flicker, motion, window=2)
    assert shaky["excess"] > 0.005
    assert shaky["strength_first"] > 0.0 and shaky["fidelity"] > 0.99


def test_noisy_still_varies_only_by_noise():
    frames = temporal.noisy_still(3)
    assert not np.array_equal(frames[0], frames[1])
    diff = np.abs(frames[0].astype(int) - frames[1].astype(int))
    assert 1.0 < diff.mean() < 5.0
