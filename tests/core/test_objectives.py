"""Objectives: parsing, composition and the value of each term, on tiny arrays."""

import keras
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.objectives import (
    GuideTerm,
    LayerTerm,
    Objective,
    channel,
    guide,
    guide_features,
    layer,
    make_objective,
    parse_objective,
    total_variation,
)

VALID = ("block3_conv3", "block4_conv3", "block5_conv1")


def _acts(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "block4_conv3": rng.normal(size=(2, 3, 4, 16)).astype("float32"),
        "block5_conv1": rng.normal(size=(2, 2, 2, 16)).astype("float32"),
    }


def _value(obj, acts, image=None):
    image = np.zeros((2, 8, 8, 3), "float32") if image is None else image
    return keras.ops.convert_to_numpy(obj(acts, image))


def test_parse_weights_channels_and_square():
    obj = parse_objective("block4_conv3:1, block5_conv1[12]:0.5, block4_conv3[3+7]^2:-2")
    assert obj.layers == ("block4_conv3", "block5_conv1")
    (w0, t0), (w1, t1), (w2, t2) = obj.terms
    assert (w0, t0.layer, t0.channels, t0.square) == (1.0, "block4_conv3", None, False)
    assert (w1, t1.layer, t1.channels) == (0.5, "block5_conv1", (12,))
    assert (w2, t2.channels, t2.square) == (-2.0, (3, 7), True)


def test_parse_default_weight_is_one():
    assert parse_objective("block4_conv3").terms[0][0] == 1.0


def test_unknown_layer_lists_valid_layers():
    with pytest.raises(InputError, match="unknown layer 'block9'.*block3_conv3, block4_conv3"):
        parse_objective("block4_conv3:1,block9:2", VALID)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("block4_conv3:abc", "bad weight 'abc'"),
        ("block4_conv3[x]", r"bad channel list \[x\]"),
        ("block4_conv3:nan", "bad weight 'nan'"),
        ("4x!", "bad objective term '4x!'"),
        (" , ", "empty objective"),
    ],
)
def test_parse_errors_name_the_bad_value(spec, message):
    with pytest.raises(InputError, match=message):
        parse_objective(spec)


def test_dict_and_string_give_the_same_value():
    acts = _acts()
    a = make_objective({"block4_conv3": 1.0, "block5_conv1[12]": 0.5}, VALID)
    b = parse_objective("block4_conv3:1,block5_conv1[12]:0.5")
    np.testing.assert_allclose(_value(a, acts), _value(b, acts), rtol=1e-6)
    with pytest.raises(InputError, match="unknown layer 'nope'"):
        make_objective({"nope": 1.0}, VALID)


def test_layer_channel_and_square_values():
    acts = _acts()
    a4 = acts["block4_conv3"]
    np.testing.assert_allclose(_value(layer("block4_conv3"), acts), a4.mean((1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(
        _value(channel("block4_conv3", 3, 7), acts), a4[..., [3, 7]].mean((1, 2, 3)), rtol=1e-5
    )
    np.testing.assert_allclose(
        _value(layer("block4_conv3", square=True), acts), (a4**2).mean((1, 2, 3)), rtol=1e-5
    )


def test_terms_compose_arithmetically():
    acts = _acts(1)
    a, b = channel("block4_conv3", 2), layer("block5_conv1")
    combo = 0.2 * a + 0.8 * b - 0.5 * a
    expected = -0.3 * _value(a, acts) + 0.8 * _value(b, acts)
    np.testing.assert_allclose(_value(combo, acts), expected, rtol=1e-5, atol=1e-6)
    assert isinstance(combo, Objective) and combo.layers == ("block4_conv3", "block5_conv1")
    np.testing.assert_allclose(_value(-b, acts), -_value(b, acts), rtol=1e-6)
    total = sum(channel("block4_conv3", c) for c in (1, 2))
    expected = _value(channel("block4_conv3", 1), acts) + _value(a, acts)
    np.testing.assert_allclose(_value(total, acts), expected, rtol=1e-5)


def test_total_variation_of_flat_and_striped_images():
    flat = np.full((1, 6, 6, 3), 80.0, "float32")
    stripes = np.zeros((1, 6, 6, 3), "float32")
    stripes[:, :, ::2] = 10.0  # columns alternate 10, 0: |dx| = 10 everywhere, dy = 0
    assert _value(total_variation(), {}, flat)[0] == 0.0
    np.testing.assert_allclose(_value(total_variation(), {}, stripes), [10.0], rtol=1e-6)


def test_guide_term_is_mean_best_match():
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(5, 16)).astype("float32")
    acts = _acts(3)
    flat = acts["block4_conv3"].reshape(2, -1, 16)
    expected = (flat @ feats.T).max(-1).mean(-1)
    np.testing.assert_allclose(_value(guide("block4_conv3", feats), acts), expected, rtol=1e-5)
    with pytest.raises(InputError, match="guide features have 16 channels"):
        GuideTerm("block4_conv3", feats).check({"block4_conv3": 512})


def test_check_rejects_missing_layer_and_channel():
    obj = parse_objective("block4_conv3[600]")
    with pytest.raises(InputError, match="channel 600 out of range for block4_conv3"):
        obj.check({"block4_conv3": 512})
    with pytest.raises(InputError, match="unknown layer 'block4_conv3'.*valid layers: a, b"):
        obj.check({"x": 3}, valid=("a", "b"))
    with pytest.raises(InputError, match="no terms"):
        Objective().check({"x": 3})


def test_guide_features_reads_one_layer():
    inp = keras.Input((None, None, 3))
    c1 = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inp)
    c2 = keras.layers.Conv2D(6, 3, strides=2, padding="same", name="c2")(c1)
    model = keras.Model(inp, [c1, c2])
    picture = np.random.default_rng(0).integers(0, 255, (8, 10, 3), dtype=np.uint8)
    feats = guide_features(model, ("c1", "c2"), picture, "c2")
    assert feats.shape == (4 * 5, 6) and feats.dtype == np.float32
    with pytest.raises(InputError, match="guide layer 'c3'"):
        guide_features(model, ("c1", "c2"), picture, "c3")


def test_layer_term_repr_round_trips():
    term = LayerTerm("block4_conv3", [3, 7], square=True)
    again = parse_objective(repr(term)).terms[0][1]
    assert (again.layer, again.channels, again.square) == ("block4_conv3", (3, 7), True)
