"""Style by optimisation on tiny images: Gram matrices, losses, the optimisation and carry."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from dreamstream.core import backend
from dreamstream.core.artstyle import (
    LAYERS,
    ArtParams,
    Painter,
    exclusive_masks,
    gram,
    level_sizes,
    long_term_loss,
    temporal_loss,
)
from dreamstream.core.errors import InputError
from dreamstream.core.models import ALL_BACKENDS, Backbone

QUICK = ArtParams(iterations=6, iterations_next=4, levels=1, learning_rate=6.0)


def tiny_art_backbone() -> Backbone:
    """Six small random convolutions named like VGG's style and content layers."""
    rng = np.random.default_rng(0)
    inp = keras.Input((None, None, 3))
    x, outs = inp, []
    for i, name in enumerate(LAYERS):
        if 0 < i < 5:  # a pool before each style layer but the first, like VGG's blocks
            x = keras.layers.MaxPooling2D(2, padding="same")(x)
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name=name)(x)
        outs.append(x)
    model = keras.Model(inp, [outs])
    model.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in model.get_weights()])
    return Backbone("tiny", LAYERS, model, 16, ALL_BACKENDS)


@pytest.fixture(scope="module")
def tiny():
    return tiny_art_backbone()


def picture(h, w, seed=0, freq=5.0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    phase = rng.uniform(0, 6, 3)
    img = np.stack([np.sin(freq * (x + y) + p) for p in phase], -1) * 90 + 128
    return np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", range(5))
def test_gram_is_invariant_to_spatial_permutation(seed):
    rng = np.random.default_rng(seed)
    h, w, c = rng.integers(2, 9, size=3)
    feats = rng.normal(size=(1, h, w, c)).astype("float32")
    order = rng.permutation(h * w)
    shuffled = feats.reshape(1, h * w, c)[:, order].reshape(1, h, w, c)
    g, g_shuffled = (backend.to_numpy(gram(f)) for f in (feats, shuffled))
    np.testing.assert_allclose(g, g_shuffled, rtol=1e-5, atol=1e-6)
    assert g.shape == (1, c, c)
    np.testing.assert_allclose(g, np.transpose(g, (0, 2, 1)), rtol=1e-6)
    # Changing one feature's values (not just their places) does change it.
    other = feats.copy()
    other[0, 0, 0, 0] += 3.0
    assert not np.allclose(backend.to_numpy(gram(other)), g)


def test_temporal_loss_is_zero_where_the_output_equals_the_warped_frame_inside_the_mask():
    rng = np.random.default_rng(1)
    warped = rng.uniform(0, 255, (1, 12, 10, 3)).astype("float32")
    mask = np.zeros((1, 12, 10), "float32")
    mask[:, 2:9, 3:8] = 1.0
    x = warped.copy()
    x[mask == 0] = rng.uniform(0, 255, (int((mask == 0).sum()), 3))  # differs outside only
    assert float(backend.to_numpy(temporal_loss(x, warped, mask))[0]) == pytest.approx(0.0)
    x[0, 4, 4] += 50.0  # differs inside the mask
    assert float(backend.to_numpy(temporal_loss(x, warped, mask))[0]) > 0


def _value(tensor) -> np.ndarray:
    return np.asarray(backend.to_numpy(tensor))


def test_exclusive_masks_give_older_frames_only_what_the_newer_ones_did_not_see():
    # Three pixels seen by: the previous frame; only frames 10 and 20 back; half by
    # the previous frame (a soft mask) and fully 10 back; and one pixel nobody saw.
    masks = np.array(
        [
            [1.0, 0.0, 0.5, 0.0],  # 1 back
            [1.0, 1.0, 1.0, 0.0],  # 10 back
            [1.0, 1.0, 1.0, 0.0],  # 20 back
        ],
        "float32",
    ).reshape(1, 3, 1, 4)
    weights = _value(exclusive_masks(masks))[0, :, 0]
    np.testing.assert_allclose(weights[:, 0], [1, 0, 0])  # visible 1 back: older ones get nothing
    np.testing.assert_allclose(weights[:, 1], [0, 1, 0])  # the most recent frame that saw it
    np.testing.assert_allclose(weights[:, 2], [0.5, 0.5, 0])  # what the soft mask left
    np.testing.assert_allclose(weights[:, 3], [0, 0, 0])
    assert (weights.sum(axis=0) <= masks[0, :, 0].max(axis=0) + 1e-6).all()


def test_long_term_loss_is_zero_where_the_image_equals_each_warped_frame_in_its_own_mask():
    rng = np.random.default_rng(2)
    h, w = 10, 12
    warped = rng.uniform(0, 255, (1, 3, h, w, 3)).astype("float32")
    masks = np.zeros((1, 3, h, w), "float32")
    masks[0, 0, :, :4] = 1.0  # the previous frame saw the left third
    masks[0, 1, :, :8] = 1.0  # 10 back: the left two thirds (the left third is not its)
    masks[0, 2, :, 4:] = 1.0  # 20 back: the right two thirds (the middle is not its)
    x = rng.uniform(0, 255, (1, h, w, 3)).astype("float32")
    x[0, :, :4] = warped[0, 0, :, :4]
    x[0, :, 4:8] = warped[0, 1, :, 4:8]
    x[0, :, 8:] = warped[0, 2, :, 8:]
    assert float(_value(long_term_loss(x, warped, masks))[0]) == pytest.approx(0.0, abs=1e-9)
    for column in (2, 6, 10):  # a change anywhere is seen by exactly one frame
        moved = x.copy()
        moved[0, 5, column] += 40.0
        assert float(_value(long_term_loss(moved, warped, masks))[0]) > 0
    # With one frame it is the short-term loss.
    one = long_term_loss(x, warped[:, :1], masks[:, :1])
    np.testing.assert_allclose(_value(one), _value(temporal_loss(x, warped[:, 0], masks[:, 0])))


def test_an_older_output_holds_what_the_previous_one_could_not(tiny):
    frame = picture(64, 64, seed=11)
    prev, older = (picture(64, 64, seed=s).astype("float32") for s in (12, 13))
    occluded = np.ones((64, 64), "float32")
    occluded[:, 32:] = 0.0  # the right half was hidden in the previous frame
    style = picture(48, 48, seed=7, freq=20.0)
    params = ArtParams(iterations_next=16, temporal_weight=1e4, learning_rate=8.0)
    painter = Painter(tiny, style, params)

    def gap(older_pairs):
        out = painter(frame, init=prev, mask=occluded, older=older_pairs).astype("float32")
        return np.abs(out - older)[:, 32:].mean()

    free = gap([None, None])  # empty slots: nothing holds the right half
    traces = painter.traces()
    held = gap([(older, np.ones((64, 64), "float32")), None])
    assert held < 0.5 * free
    assert painter.traces() == traces  # the same number of slots: no new trace
    with pytest.raises(InputError, match="older output must be"):
        painter(frame, init=prev, older=[(np.zeros((8, 8, 3)), None)])
    with pytest.raises(InputError, match="need init"):
        painter(frame, older=[(older, None)])


def test_loss_falls_over_a_few_iterations_on_a_64px_image(tiny):
    painter = Painter(tiny, picture(48, 56, seed=3, freq=20.0), QUICK)
    out = painter(picture(64, 64))
    losses = painter.losses
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert len(losses) == QUICK.iterations
    assert losses[-1] < 0.8 * losses[0]
    assert painter.style_distance(out) < painter.style_distance(picture(64, 64))


def test_coarse_to_fine_runs_every_level_and_a_second_frame_does_not_retrace(tiny):
    params = ArtParams(iterations=2, levels=2, learning_rate=6.0)
    painter = Painter(tiny, picture(40, 40, seed=4), params)
    assert level_sizes(128, 160, 2) == [(64, 80), (128, 160)]
    assert level_sizes(100, 100, 3) == [(100, 100)]  # half would be below 64 px
    painter(picture(128, 160))
    assert len(painter.losses) == 4  # two steps on each of two levels
    traces = painter.traces()
    painter(picture(128, 160, seed=1))
    assert painter.traces() == traces


def test_carried_frame_stays_close_to_the_warped_output_where_reliable(tiny):
    frame, prev = picture(64, 64, seed=5), picture(64, 64, seed=6).astype("float32")
    mask = np.zeros((64, 64), "float32")
    mask[:, :32] = 1.0
    style = picture(48, 48, seed=7, freq=20.0)

    def gap(temporal_weight):
        params = ArtParams(iterations_next=8, temporal_weight=temporal_weight, learning_rate=6.0)
        out = Painter(tiny, style, params)(frame, init=prev, mask=mask).astype("float32")
        return np.abs(out - prev)[:, :32].mean(), np.abs(out - prev)[:, 32:].mean()

    held_in, held_out = gap(1e4)
    free_in, _ = gap(0.0)
    assert held_in < 0.5 * free_in  # the temporal loss holds the reliable half
    assert held_in < 0.5 * held_out  # and only that half


def test_bad_inputs_are_input_errors(tiny):
    painter = Painter(tiny, picture(32, 32), QUICK)
    with pytest.raises(InputError, match="init must be"):
        painter(picture(64, 64), init=np.zeros((10, 10, 3)))
    with pytest.raises(InputError, match="mask must be"):
        painter(picture(64, 64), init=np.zeros((64, 64, 3)), mask=np.ones((3, 3)))
    with pytest.raises(InputError, match="frame must be uint8"):
        painter(np.zeros((64, 64), "float32"))
    short = Backbone("short", LAYERS[:2], tiny.model, 1, ALL_BACKENDS)
    with pytest.raises(InputError, match="lacks layer block3_conv1"):
        Painter(short, picture(32, 32), QUICK)
    with pytest.raises(InputError, match="--style-scale"):
        ArtParams(style_scale=0)
    with pytest.raises(InputError, match="--smoothness"):
        ArtParams(tv_weight=-1)


@pytest.mark.backends
def test_optimisation_lowers_the_loss_on_this_backend(tiny):
    painter = Painter(tiny, picture(40, 40, seed=8, freq=20.0), QUICK)
    painter(picture(64, 48, seed=9))
    assert painter.losses[-1] < painter.losses[0]
    assert ops.convert_to_numpy(ops.ones(1)).shape == (1,)  # the active backend works


def test_style_scale_resizes_the_style_picture_before_its_gram_matrices(tiny):
    style = picture(96, 96, seed=10, freq=30.0)
    grams = {}
    for scale in (0.5, 2.0):
        painter = Painter(tiny, style, ArtParams(style_scale=scale))
        grams[scale] = [backend.to_numpy(g) for g in painter.style_grams((64, 64))]
    # A finer or coarser brush: the first layer's statistics change with the scale.
    assert not np.allclose(grams[0.5][0], grams[2.0][0], rtol=0.05)
