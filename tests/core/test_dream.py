"""The dream engine on tiny images: shapes, pyramid, tiling, seams, seeds, real weights."""

import keras
import numpy as np
import pytest

from dreamstream.core import backend
from dreamstream.core.dream import (
    Dreamer,
    DreamParams,
    as_rgb,
    laplacian_pyramid,
    octave_sizes,
    tile_bounds,
)
from dreamstream.core.errors import InputError, WeightsNotFoundError
from dreamstream.core.models import ALL_BACKENDS, Backbone

FAST = DreamParams(octaves=2, steps=2, step_size=3.0, tile=64, jitter=4)


def tiny_backbone(pool: bool = True) -> Backbone:
    """Two random 3x3 convolutions (an optional pool between): a stand-in for a real network."""
    rng = np.random.default_rng(0)
    inp = keras.Input((None, None, 3))
    c1 = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    x = keras.layers.MaxPooling2D(2, padding="same")(c1) if pool else c1
    c2 = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    model = keras.Model(inp, [c1, c2])
    model.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") for w in model.get_weights()])
    return Backbone("tiny", ("c1", "c2"), model, 2 if pool else 1, ALL_BACKENDS)


@pytest.fixture(scope="module")
def tiny():
    return tiny_backbone()


def picture(h, w, seed=0):
    """A smooth colour picture with some texture, uint8 RGB."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    rng = np.random.default_rng(seed)
    base = np.stack([np.sin(6 * x + 1), np.cos(5 * y), np.sin(4 * (x + y))], -1) * 80 + 128
    return np.clip(base + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("octaves", 0, "octaves must be >= 1, got 0"),
        ("octave_scale", 1.0, "octave_scale must be > 1, got 1.0"),
        ("steps", -1, "steps must be >= 0, got -1"),
        ("tile", 16, "tile must be >= 32, got 16"),
        ("step_size", float("nan"), "step_size must be > 0"),
        ("precision", "fp8", "precision must be one of"),
    ],
)
def test_params_reject_bad_values(field, value, message):
    with pytest.raises(InputError, match=message):
        DreamParams(**{field: value})


def test_as_rgb_converts_grey_and_rgba_and_rejects_the_rest():
    grey = np.arange(100, dtype=np.uint8).reshape(10, 10)
    assert np.array_equal(as_rgb(grey), np.repeat(grey[:, :, None], 3, 2))
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 3] = 255
    assert as_rgb(rgba).shape == (10, 12, 3) and as_rgb(rgba).max() == 0
    with pytest.raises(InputError, match="image 1x1 is too small to dream"):
        as_rgb(np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(InputError, match="must be uint8 RGB, got dtype float32"):
        as_rgb(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(InputError, match=r"got shape \(10, 10, 2\)"):
        as_rgb(np.zeros((10, 10, 2), np.uint8))


def test_octave_sizes_shrink_and_stop_at_min_side():
    assert octave_sizes(100, 140, 3, 1.4, 8) == [(100, 140), (71, 100), (51, 71)]
    assert octave_sizes(20, 40, 4, 2.0, 8) == [(20, 40), (10, 20)]


def test_laplacian_pyramid_reconstructs_the_image():
    img = keras.ops.convert_to_tensor(picture(40, 56).astype("float32"))
    sizes = octave_sizes(40, 56, 3, 1.4, 8)
    small, details = laplacian_pyramid(img, sizes)
    assert tuple(small.shape) == (*sizes[-1], 3) and len(details) == 2
    for k in (1, 0):  # upsample and add the detail back, as the dream does without ascent
        small = keras.ops.image.resize(small[None], sizes[k])[0] + details[k]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(small), picture(40, 56), atol=1e-3)


def test_tile_bounds_cover_evenly():
    spans = tile_bounds(100, 32)
    assert spans[0][0] == 0 and spans[-1][1] == 100 and len(spans) == 4
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert {b - a for a, b in spans} == {25}
    assert tile_bounds(20, 32) == [(0, 20)]


@pytest.mark.backends
@pytest.mark.parametrize("shape", [(17, 33, 3), (17, 33), (21, 19, 4)])
def test_output_is_uint8_rgb_of_the_input_size(tiny, shape):
    dreamer = Dreamer(tiny, "c2", FAST)
    image = picture(*shape[:2])
    image = image if len(shape) == 3 and shape[2] == 3 else as_any(image, shape)
    out = dreamer(image)
    assert out.shape == (*shape[:2], 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - as_rgb(image)).mean() > 1.0  # it dreamed


def as_any(rgb, shape):
    if len(shape) == 2:
        return rgb[..., 0]
    return np.concatenate([rgb, np.full((*shape[:2], 1), 255, np.uint8)], -1)


def test_same_seed_same_dream_other_seed_other_dream(tiny):
    dreamer, image = Dreamer(tiny, "c1:1,c2:0.5", FAST), picture(40, 48)
    first, again = dreamer(image, seed=3), dreamer(image, seed=3)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, dreamer(image, seed=4))


@pytest.mark.backends
@pytest.mark.skipif(backend.backend_name() == "torch", reason="torch runs eagerly: no traces")
def test_later_frames_of_one_size_do_not_retrace(tiny):
    dreamer = Dreamer(tiny, "c2", DreamParams(octaves=3, steps=2, tile=32, jitter=8))
    first = dreamer(picture(40, 72, seed=1))
    traced = dreamer.traces()
    assert traced >= 1
    second = dreamer(picture(40, 72, seed=2), init=first.astype(np.float32), steps=1)
    assert second.shape == (40, 72, 3) and dreamer.traces() == traced


def test_octaves_per_call_keep_the_finest_levels(tiny):
    image = picture(40, 48)
    three = Dreamer(tiny, "c2", DreamParams(octaves=3, steps=2, tile=64, jitter=4))
    one = Dreamer(tiny, "c2", DreamParams(octaves=1, steps=2, tile=64, jitter=4))
    assert np.array_equal(three(image, octaves=1), one(image))  # only the full-size level
    assert not np.array_equal(three(image), one(image))
    with pytest.raises(InputError, match="octaves must be >= 1, got 0"):
        three(image, octaves=0)


def test_init_is_the_start_image(tiny):
    dreamer, image = Dreamer(tiny, "c2", FAST), picture(32, 40)
    init = np.full((32, 40, 3), 100.4, np.float32)
    assert np.array_equal(dreamer(image, init=init, steps=0), np.full((32, 40, 3), 100, np.uint8))
    assert not np.array_equal(dreamer(image, init=init), dreamer(image))
    with pytest.raises(
        InputError, match=r"init must be float32 32x40x3 like the frame, got \(8, 8, 3\)"
    ):
        dreamer(image, init=np.zeros((8, 8, 3), np.float32))


def test_gain_scales_each_pixels_step(tiny):
    dreamer = Dreamer(tiny, "c2", DreamParams(octaves=1, steps=2, tile=64, jitter=0))
    image = picture(32, 48)
    gain = np.ones((32, 48), np.float32)
    gain[:, :16], gain[:, 32:] = 0.0, 3.0
    plain = np.abs(dreamer(image).astype(float) - image)
    boosted = np.abs(dreamer(image, gain=gain).astype(float) - image)
    assert boosted[:, :14].max() <= 1.0  # gain 0: that part does not move (up to the seam)
    assert boosted[:, 34:].mean() > 2.0 * plain[:, 34:].mean()  # gain 3 moves it further
    assert np.array_equal(dreamer(image, gain=np.ones((32, 48), np.float32)), dreamer(image))
    with pytest.raises(InputError, match=r"gain must be 32x48 like the frame, got \(8, 8\)"):
        dreamer(image, gain=np.ones((8, 8), np.float32))
    with pytest.raises(InputError, match="gain must be finite and >= 0"):
        dreamer(image, gain=-gain)


def test_mixed_precision_dreams_alike_in_lower_precision(tiny):
    image = picture(32, 40)
    full = Dreamer(tiny, "c2", FAST)(image)
    half = Dreamer(tiny, "c2", DreamParams(**{**FAST.__dict__, "precision": "mixed_bfloat16"}))
    diff = np.abs(half(image).astype(int) - full)
    assert 0 < diff.mean() < 2.0  # computed in bfloat16 (not identical), same dream


def test_unknown_layer_and_channel_are_input_errors(tiny):
    with pytest.raises(InputError, match="unknown layer 'c9' in objective; valid layers: c1, c2"):
        Dreamer(tiny, "c9", FAST)
    with pytest.raises(InputError, match="channel 8 out of range for c2"):
        Dreamer(tiny, "c2[8]", FAST)


def test_tiled_gradient_matches_untiled_away_from_borders():
    dreamer = Dreamer(tiny_backbone(pool=False), "c2", FAST)
    img = picture(64, 64).astype("float32")
    whole_value, whole = dreamer.gradient(img, tile=64)
    tiled_value, tiled = dreamer.gradient(img, tile=32)
    inner = np.ones((64, 64), bool)
    inner[28:36, :] = inner[:, 28:36] = False  # 2 convolutions see 2 px past a tile border
    np.testing.assert_allclose(tiled[inner], whole[inner], rtol=1e-4, atol=1e-6)
    assert not np.allclose(tiled[~inner], whole[~inner], rtol=1e-4, atol=1e-6)
    assert abs(tiled_value - whole_value) < 0.05 * abs(whole_value)


def _seam_ratio(dreamer_tiled, dreamer_whole, image):
    """How much |tiled - untiled| peaks on the tile border (row and column 32) over nearby lines.

    A seam is a line: a ratio near 1 means the difference has no line at the border.
    """
    diff = np.abs(dreamer_tiled(image).astype(float) - dreamer_whole(image)).mean(-1)
    profile = diff.mean(0) + diff.mean(1)
    return profile[30:34].mean() / np.r_[profile[20:26], profile[38:44]].mean()


def test_rolled_tiles_leave_no_seam(tiny):
    image = picture(64, 64)
    params = DreamParams(octaves=1, steps=8, step_size=2.0, tile=64, jitter=16)
    whole = Dreamer(tiny, "c2", params)
    rolled = Dreamer(tiny, "c2", DreamParams(**{**params.__dict__, "tile": 32}))
    fixed = Dreamer(tiny, "c2", DreamParams(**{**params.__dict__, "tile": 32, "jitter": 0}))
    still = Dreamer(tiny, "c2", DreamParams(**{**params.__dict__, "jitter": 0}))
    assert _seam_ratio(fixed, still, image) > 3.0  # without the roll the tile grid shows
    assert _seam_ratio(rolled, whole, image) < 1.3


@pytest.fixture(scope="module", params=["vgg16", "vgg16-hed"])
def vgg16(request):
    from dreamstream.stream.weights.dream import load_backbone

    try:
        return load_backbone(request.param, layers=("block3_conv3",))
    except WeightsNotFoundError as err:
        pytest.skip(str(err))


def test_objective_rises_with_real_vgg16(vgg16):
    dreamer = Dreamer(vgg16, "block3_conv3", DreamParams(octaves=1, steps=3, step_size=4.0))
    image = picture(48, 48)
    before, _ = dreamer.gradient(image.astype("float32"))
    after, _ = dreamer.gradient(dreamer(image).astype("float32"))
    assert after > before * 1.1
