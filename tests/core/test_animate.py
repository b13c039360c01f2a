"""The animation's move: geometry, sharpness over many frames, errors."""

import cv2
import numpy as np
import pytest

from dreamstream.core.animate import Motion, move, parse_pan, sharpness, slope_per_100
from dreamstream.core.errors import InputError


def _dot(h=65, w=65, y=32, x=32):
    img = np.zeros((h, w, 3), np.float32)
    img[y, x] = 255.0
    return img


def _where(img):
    y, x = np.unravel_index(np.argmax(img[..., 0]), img.shape[:2])
    return int(y), int(x)


def test_zoom_and_rotation_keep_the_centre_still():
    out = move(_dot(), Motion(zoom=1.5, rotate=30.0), "bilinear")
    assert _where(out) == (32, 32)


def test_pan_moves_content_by_x_and_y():
    assert _where(move(_dot(), Motion(pan=(3.0, -2.0)))) == (30, 35)


def test_zoom_in_moves_off_centre_content_outwards():
    assert _where(move(_dot(y=32, x=42), Motion(zoom=1.5), "bilinear")) == (32, 47)


def test_rotation_is_counter_clockwise_on_screen():
    y, x = _where(move(_dot(y=32, x=52), Motion(rotate=90.0), "bilinear"))
    assert (y, x) == (12, 32)  # from the right of the centre to above it


def _texture(size=96, seed=0):
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (size, size, 3)).astype(np.float32), (0, 0), 1.0)
    return np.clip((tex - tex.mean()) * 3 + 128, 0, 255)


def _sharpness_after(interp, n=150):
    img, motion = _texture(), Motion(rotate=0.2, pan=(0.3, 0.7))
    for _ in range(n):
        img = move(img, motion, interp)
    return sharpness(img) / sharpness(_texture())


def test_lanczos_keeps_far_more_detail_than_bilinear_over_many_moves():
    lanczos, bilinear = _sharpness_after("lanczos"), _sharpness_after("bilinear")
    assert bilinear < 0.05  # bilinear: the texture is all but gone
    assert lanczos > 0.25
    assert lanczos > 10 * bilinear


def test_a_still_motion_changes_nothing():
    img = _texture(32)
    assert np.array_equal(move(img, Motion()), img)


def test_sharpness_falls_with_blur_and_slope_reads_a_trend():
    img = _texture(64)
    assert sharpness(cv2.GaussianBlur(img, (0, 0), 1.5)) < 0.3 * sharpness(img)
    assert slope_per_100([10.0] * 50) == pytest.approx(0.0, abs=1e-12)
    assert slope_per_100(np.linspace(100, 50, 101)) == pytest.approx(-50 / 75, rel=1e-6)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Motion(zoom=0.0), "zoom must be a number > 0"),
        (lambda: Motion(rotate=float("nan")), "rotate must be a finite number"),
        (lambda: parse_pan("1"), "pan must be two numbers x,y"),
        (lambda: parse_pan("a,b"), "pan must be two numbers x,y"),
        (lambda: move(_texture(16), Motion(zoom=1.1), "nearest"), "interpolation must be one of"),
    ],
)
def test_bad_motions_say_what_is_wrong(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_pan_text():
    assert parse_pan("0,1") == (0.0, 1.0)
    assert parse_pan(" -2.5 , 3") == (-2.5, 3.0)
