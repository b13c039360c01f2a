"""The Python API of the README: dream, stylize and render on NumPy RGB images."""

from __future__ import annotations

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream import dream, render, stylize
from dreamstream.stream.io import open_source

FAST = {"steps": 2, "octaves": 1, "tile": 64}


@pytest.fixture(scope="module")
def frames(samples) -> list[np.ndarray]:
    """The first 3 frames of the sample clip at 48 px wide, RGB uint8."""
    with open_source(samples / "clip.mp4", frames=3, width=48) as source:
        return [frame.image for frame in source]


def test_dream_is_a_seeded_dream_of_the_same_size(frames):
    image = frames[0]
    out = dream(image, **FAST)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.abs(out.astype(int) - image).mean() > 2  # it dreamt
    assert np.array_equal(dream(image, **FAST), out)  # same seed, same dream
    assert not np.array_equal(dream(image, seed=7, **FAST), out)


def test_stylize_uses_the_style_and_strength_zero_is_the_picture(frames):
    image = frames[0]
    seven, three = stylize(image, style=7), stylize(image, 3)
    assert seven.shape == three.shape == image.shape and seven.dtype == np.uint8
    assert np.abs(seven.astype(int) - three).mean() > 5  # the style chosen is used
    assert np.array_equal(stylize(image, 7, strength=0.0), image)


def test_render_a_path_applies_the_window_and_carries_the_output(samples, frames):
    alone = [stylize(f, 7) for f in frames]
    per_frame = list(render(samples / "clip.mp4", "style", style=7, frames=3, width=48, flow=False))
    assert all(np.array_equal(a, b) for a, b in zip(per_frame, alone, strict=True))
    carried = list(render(str(samples / "clip.mp4"), "style", style=7, frames=3, width=48))
    assert np.array_equal(carried[0], alone[0])  # nothing to carry into the first frame
    assert all(
        np.abs(c.astype(int) - a).mean() > 0.5 for c, a in zip(carried[1:], alone[1:], strict=True)
    )


def test_render_takes_arrays_and_a_plain_function(frames):
    invert = list(render(iter(frames), lambda f: 255 - f, flow=False))
    assert all(np.array_equal(out, 255 - f) for out, f in zip(invert, frames, strict=True))


def test_bad_settings_fail_before_any_model_loads(frames):
    with pytest.raises(InputError, match="--octaves must be a whole number, got 2.5"):
        dream(frames[0], octaves=2.5)
    with pytest.raises(InputError, match="unknown preset"):
        stylize(frames[0], preset="nope")
    with pytest.raises(InputError, match="bad setting"):
        list(render(frames, "style", colour=3))
