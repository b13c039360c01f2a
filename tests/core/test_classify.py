"""Class-guided dreams and saliency on tiny hand-built classifiers with known answers."""

import keras
import numpy as np
import pytest

from dreamstream.core.classify import (
    Regularizer,
    class_index,
    class_term,
    gaussian_blur,
    heat_overlay,
    parse_classes,
    saliency,
    saliency_gain,
)
from dreamstream.core.dream import Dreamer, DreamParams
from dreamstream.core.errors import InputError
from dreamstream.core.models import ALL_BACKENDS, Backbone, dream_model
from dreamstream.core.objectives import layer

LABELS = ["tench, Tinca tinca", "golden retriever", "tabby, tabby cat"]


def conv_classifier() -> Backbone:
    """conv -> global average -> 3 logits, random but fixed: works at any size."""
    rng = np.random.default_rng(1)
    inp = keras.Input((None, None, 3))
    feat = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="feat")(inp / 255.0)
    pooled = keras.layers.GlobalAveragePooling2D()(feat)
    logits = keras.layers.Dense(3, name="logits")(pooled)
    model = dream_model(inp, [logits, feat], "tiny_classifier")
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return Backbone("tiny", ("logits", "feat"), model, 1, ALL_BACKENDS)


PATCH_A = (slice(4, 8), slice(4, 8), 0)  # rows, columns, channel (red)
PATCH_B = (slice(10, 14), slice(2, 6), 1)  # green


def patch_classifier() -> Backbone:
    """16x16 in, two scores: class 0 sums the red of PATCH_A, class 1 the green of PATCH_B."""
    inp = keras.Input((16, 16, 3))
    logits = keras.layers.Dense(2, use_bias=False, name="logits")(keras.layers.Flatten()(inp))
    model = dream_model(inp, [logits], "patches")
    kernel = np.zeros((16, 16, 3, 2), "float32")
    kernel[PATCH_A + (0,)] = 1.0
    kernel[PATCH_B + (1,)] = 2.0
    model.set_weights([kernel.reshape(-1, 2)])
    return Backbone("patches", ("logits",), model, 16, ALL_BACKENDS)


def _scores(backbone, img):
    out = backbone.model(np.asarray(img, "float32")[None], training=False)
    return keras.ops.convert_to_numpy(out[0])[0]


def test_a_class_dream_raises_that_class_score():
    bb = conv_classifier()
    start = np.random.default_rng(0).integers(60, 190, (32, 32, 3), dtype=np.uint8)
    before = _scores(bb, start)
    params = DreamParams(octaves=1, steps=6, step_size=4.0, tile=64, jitter=2)
    out = Dreamer(bb, class_term("logits", [(2, 1.0)]), params)(start)
    after = _scores(bb, out)
    assert after[2] > before[2] + 0.1
    # and by more than the classes it was not asked for
    assert after[2] - before[2] > max(after[0] - before[0], after[1] - before[1])


def test_class_terms_mix_with_layer_terms_and_regularisers():
    bb = conv_classifier()
    start = np.full((32, 32, 3), 128, np.uint8)
    obj = class_term("logits", [(1, 1.0)]) + 0.1 * layer("feat")
    reg = Regularizer(decay=0.05, blur_every=2, blur_sigma=0.6)
    params = DreamParams(octaves=1, steps=4, step_size=4.0, tile=64, jitter=2)
    out = Dreamer(bb, obj, params, regularizer=reg)(start)
    assert _scores(bb, out)[1] > _scores(bb, start)[1]


def test_out_of_range_class_is_an_input_error():
    with pytest.raises(InputError, match=r"class 7 out of range for logits \(0..2\)"):
        Dreamer(conv_classifier(), class_term("logits", [(7, 1.0)]), DreamParams(octaves=1))


def test_regulariser_decays_towards_grey_and_blurs_on_schedule():
    img = keras.ops.convert_to_tensor(np.full((8, 8, 3), 255.0, "float32"))
    out = keras.ops.convert_to_numpy(Regularizer(decay=0.1)(img, 1))
    assert np.allclose(out, 127.5 + 127.5 * 0.9)
    spike = np.zeros((9, 9, 3), "float32")
    spike[4, 4] = 90.0
    reg = Regularizer(blur_every=2, blur_sigma=1.0)
    assert np.array_equal(keras.ops.convert_to_numpy(reg(spike, 1)), spike)  # not this step
    blurred = keras.ops.convert_to_numpy(reg(spike, 2))
    assert blurred[4, 4, 0] < 90.0 and blurred[4, 5, 0] > 0
    assert blurred.sum() == pytest.approx(spike.sum(), rel=1e-4)  # a blur keeps the mean
    assert keras.ops.convert_to_numpy(gaussian_blur(spike, 1.0)).shape == spike.shape


def test_saliency_lights_exactly_the_pixels_a_class_depends_on():
    bb = patch_classifier()
    img = np.full((16, 16, 3), 100, np.uint8)
    sal = saliency(bb, img)  # class 1: 2 * 16 green pixels * 100 beats class 0
    assert sal.cls == 1 and sal.score == pytest.approx(2 * 16 * 100)
    want = np.zeros((16, 16), bool)
    want[PATCH_B[:2]] = True
    assert np.array_equal(sal.map > 0.5, want)
    assert sal.map.max() == 1.0
    named = saliency(bb, img, cls=0)
    want_a = np.zeros((16, 16), bool)
    want_a[PATCH_A[:2]] = True
    assert named.cls == 0 and np.array_equal(named.map > 0.5, want_a)


def test_saliency_at_a_fixed_input_size_comes_back_at_the_pictures_size():
    bb = patch_classifier()
    big = np.full((64, 48, 3), 100, np.uint8)
    sal = saliency(bb, big, cls=0, size=(16, 16))
    assert sal.map.shape == (64, 48)
    ys, xs = np.nonzero(sal.map > 0.5)
    assert (
        21 <= ys.mean() <= 26 and 14 <= xs.mean() <= 19
    )  # patch A (rows 4-7, cols 4-7), 4x and 3x up


def test_saliency_rejects_a_class_the_model_lacks():
    with pytest.raises(InputError, match=r"class 5 out of range \(0..1\)"):
        saliency(patch_classifier(), np.zeros((16, 16, 3), np.uint8), cls=5)


def test_heat_overlay_and_gain():
    img = np.zeros((8, 8, 3), np.uint8)
    sal = np.zeros((8, 8), "float32")
    sal[2, 2] = 1.0
    heat = heat_overlay(img, sal, alpha=1.0)
    assert heat.dtype == np.uint8 and heat[2, 2, 0] > heat[2, 2, 2]  # hot is red
    assert heat[0, 0, 2] > heat[0, 0, 0]  # cold is blue
    gain = saliency_gain(sal, sigma=1.0, floor=0.2)
    assert gain.max() == pytest.approx(1.0) and gain.min() == pytest.approx(0.2, abs=1e-3)
    assert gain[2, 2] == gain.max()


def test_class_names_and_indices():
    assert class_index("golden retriever", LABELS) == 1
    assert class_index("Tabby Cat", LABELS) == 2
    assert class_index("0", None, 3) == 0
    assert parse_classes("golden retriever:2, 0:0.5", LABELS) == ((1, 2.0), (0, 0.5))
    assert parse_classes("tabby, tabby cat; tench", LABELS) == ((2, 1.0), (0, 1.0))


@pytest.mark.parametrize(
    ("spec", "labels", "message"),
    [
        ("golden retreiver", LABELS, "unknown class 'golden retreiver'; did you mean 'golden"),
        ("retriever", None, "no class names are known for this model"),
        ("9", LABELS, r"class 9 out of range \(0..2\)"),
        ("tench:much", LABELS, "bad weight 'much' for class 'tench'"),
        ("", LABELS, "empty class list"),
    ],
)
def test_bad_classes_name_the_bad_part(spec, labels, message):
    with pytest.raises(InputError, match=message):
        parse_classes(spec, labels)
