"""Backbone architectures and the layer registry, on random in-memory weights."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from dreamstream.core import models
from dreamstream.core.errors import InputError


def random_vgg16_weights(upto: str = "block5_conv3", seed: int = 0) -> dict:
    """He-scaled random kernels for every VGG16 convolution up to ``upto``."""
    rng = np.random.default_rng(seed)
    weights, in_channels = {}, 3
    for block, convs, filters in models.VGG16_TABLE:
        for i in range(1, convs + 1):
            name = f"block{block}_conv{i}"
            scale = np.sqrt(2.0 / (9 * in_channels))
            kernel = rng.normal(0, scale, (3, 3, in_channels, filters)).astype("float32")
            weights[name] = (kernel, rng.normal(0, 0.1, filters).astype("float32"))
            in_channels = filters
            if name == upto:
                return weights
    return weights


def input_gradient(model, x: np.ndarray) -> np.ndarray:
    """d(sum of mean activations)/d(input) under TensorFlow."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = sum(tf.reduce_mean(a) for a in model(x))
    return tape.gradient(loss, x).numpy()


@pytest.fixture(scope="module")
def small_vgg_weights():
    return random_vgg16_weights("block3_conv3")


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(1).uniform(0, 255, (1, 32, 40, 3)).astype("float32")


# ---------------------------------------------------------------- registry


def test_every_backbone_lists_its_layers_and_defaults_are_valid():
    assert models.BACKBONES == (
        "vgg16",
        "vgg16-hed",
        "inception_v3",
        "googlenet",
        "efficientnet_lite0",
    )
    vgg = models.available_layers("vgg16")
    assert models.available_layers("vgg16-hed") == vgg
    assert vgg[:3] == ("block1_conv1", "block1_conv2", "block1_pool")
    assert "block5_conv3" in vgg and len([n for n in vgg if "_conv" in n]) == 13
    assert models.available_layers("inception_v3") == (
        *(f"mixed{i}" for i in range(11)),
        "predictions",
    )
    google = models.available_layers("googlenet")
    assert {"mixed4c", "mixed4d_3x3_bottleneck_pre_relu", "maxpool10", "conv2d0"} <= set(google)
    assert google.index("mixed3a") < google.index("maxpool4") < google.index("mixed4a")
    assert google[-1] == "softmax2_pre_activation"  # the class scores, last
    lite = models.available_layers("efficientnet_lite0")
    assert lite == (*(f"stage{i}" for i in range(1, 8)), "head", "logits")
    for name in models.BACKBONES:
        assert models.check_layers(name, None) == tuple(models.DEFAULT_LAYERS[name])


def test_unknown_backbone_and_layer_errors_name_the_value_and_the_choices():
    with pytest.raises(InputError, match=r"unknown backbone 'alexnet'.*vgg16, vgg16-hed, incep"):
        models.available_layers("alexnet")
    with pytest.raises(InputError, match=r"no layer 'block6_conv1'.*block1_conv1, block1_conv2"):
        models.check_layers("vgg16", ["block1_conv1", "block6_conv1"])
    with pytest.raises(InputError, match="'mixed4' requested twice"):
        models.check_layers("inception_v3", ["mixed4", "mixed5", "mixed4"])
    with pytest.raises(InputError, match="no layer requested"):
        models.check_layers("googlenet", [])
    with pytest.raises(InputError, match="pooling must be one of max, avg; got 'min'"):
        models.check_pooling("min")


def test_layer_requests_keep_their_order_and_accept_a_dict_or_a_name():
    assert models.check_layers("vgg16", {"block4_conv3": 1.0, "block3_conv1": 0.5}) == (
        "block4_conv3",
        "block3_conv1",
    )
    assert models.check_layers("googlenet", "mixed4c") == ("mixed4c",)


# ------------------------------------------------------------------- VGG16


def test_vgg16_outputs_requested_layers_in_order_and_stops_at_the_deepest(small_vgg_weights, image):
    backbone = models.build_vgg16(small_vgg_weights, ["block3_conv1", "block1_conv2"])
    outputs = backbone.model(image)
    assert [tuple(o.shape) for o in outputs] == [(1, 8, 10, 256), (1, 32, 40, 64)]
    names = [layer.name for layer in backbone.model.layers]
    assert names[-1] == "block3_conv1" and "block3_conv2" not in names
    assert backbone.layers == ("block3_conv1", "block1_conv2")
    assert backbone.min_size == 4 and "jax" in backbone.backends


def test_vgg16_needs_weights_only_up_to_the_deepest_layer():
    assert models.vgg16_weight_names("block2_pool") == (
        "block1_conv1",
        "block1_conv2",
        "block2_conv1",
        "block2_conv2",
    )
    backbone = models.build_vgg16(random_vgg16_weights("block1_conv2"), ["block1_pool"])
    assert backbone.min_size == 2
    assert backbone.model(np.zeros((1, 8, 8, 3), "float32"))[0].shape == (1, 4, 4, 64)


def test_vgg16_converts_rgb_to_caffe_bgr_inside(image):
    # A kernel that copies input channel c to output channel c, centre tap only:
    # block1_conv1 then shows exactly what the network sees.
    weights = random_vgg16_weights("block1_conv1")
    kernel = np.zeros((3, 3, 3, 64), "float32")
    for c in range(3):
        kernel[1, 1, c, c] = 1.0
    weights["block1_conv1"] = (kernel, np.zeros(64, "float32"))
    seen = models.build_vgg16(weights, ["block1_conv1"]).model(image)[0].numpy()
    expected = np.maximum(image[..., ::-1] - np.array(models.IMAGENET_BGR_MEAN), 0)
    np.testing.assert_allclose(seen[..., :3], expected, atol=1e-4)


def test_vgg16_pooling_choice_changes_the_features(small_vgg_weights, image):
    by_max = models.build_vgg16(small_vgg_weights, ["block2_conv1"], "max").model(image)[0]
    by_avg = models.build_vgg16(small_vgg_weights, ["block2_conv1"], "avg").model(image)[0]
    assert by_max.shape == by_avg.shape
    assert not np.allclose(by_max, by_avg)


def test_vgg16_rejects_missing_and_misshapen_weights(small_vgg_weights):
    with pytest.raises(InputError, match="lack block4_conv1 .needed up to block4_conv3"):
        models.build_vgg16(small_vgg_weights, ["block4_conv3"])
    bad = dict(small_vgg_weights)
    bad["block2_conv1"] = (np.zeros((3, 3, 32, 128)), np.zeros(128))
    with pytest.raises(InputError, match=r"block2_conv1 have kernel \(3, 3, 32, 128\)"):
        models.build_vgg16(bad, ["block2_conv2"])
    with pytest.raises(InputError, match="pooling"):
        models.build_vgg16(small_vgg_weights, ["block2_conv2"], pooling="median")


def test_vgg16_gradient_wrt_input_is_finite_and_nonzero(small_vgg_weights, image):
    backbone = models.build_vgg16(small_vgg_weights, ["block3_conv3"])
    grad = input_gradient(backbone.model, image)
    assert grad.shape == image.shape
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


def test_odd_sizes_keep_gradient_at_the_border(small_vgg_weights):
    odd = np.random.default_rng(2).uniform(0, 255, (1, 17, 23, 3)).astype("float32")
    backbone = models.build_vgg16(small_vgg_weights, ["block3_conv1"])
    grad = input_gradient(backbone.model, odd)
    assert np.abs(grad[0, -1]).max() > 0 and np.abs(grad[0, :, -1]).max() > 0


# -------------------------------------------------------------- InceptionV3


@pytest.fixture(scope="module")
def inception():
    return models.build_inception_v3(["mixed2", "mixed0"])


def test_inception_v3_outputs_mixed_layers_at_its_minimum_size(inception):
    assert inception.min_size == 75
    x = np.random.default_rng(3).uniform(0, 255, (1, 75, 75, 3)).astype("float32")
    outputs = inception.model(x)
    assert [tuple(o.shape) for o in outputs] == [(1, 7, 7, 288), (1, 7, 7, 256)]
    names = {layer.name for layer in inception.model.layers}
    assert "rgb_to_unit_range" in names and "mixed3" not in names


def test_inception_v3_scales_rgb_to_unit_range_inside(inception):
    scale = inception.model.get_layer("rgb_to_unit_range")
    np.testing.assert_allclose(
        scale(np.array([[0.0, 127.5, 255.0]], "float32")), [[-1.0, 0.0, 1.0]], atol=1e-6
    )


def test_inception_v3_gradient_wrt_input_is_finite_and_nonzero(inception):
    x = np.random.default_rng(4).uniform(0, 255, (1, 80, 96, 3)).astype("float32")
    grad = input_gradient(inception.model, x)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


# ------------------------------------------------------------------ backends

_JAX_SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    from dreamstream.core import models
    from dreamstream.core.errors import InputError
    from tests_weights import weights
    backbone = models.build_vgg16(weights, ["block2_conv1"], pooling="avg")
    model = backbone.model
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    def loss(x):
        out, _ = model.stateless_call(tv, ntv, x)
        return sum(o.mean() for o in out)
    x = np.random.default_rng(0).uniform(0, 255, (1, 20, 24, 3)).astype("float32")
    grad = np.asarray(jax.grad(loss)(x))
    assert grad.shape == x.shape and np.isfinite(grad).all() and np.abs(grad).max() > 0
    try:
        models.check_backend("googlenet")
    except InputError as err:
        print("ERR", err)
    print("OK")
    """
)


def test_jax_backend_gradient_and_googlenet_refusal(tmp_path):
    pytest.importorskip("jax")
    # The child process gets the same random weights through an .npz file.
    weights = random_vgg16_weights("block2_conv1")
    arrays = {f"{k}_k": v[0] for k, v in weights.items()}
    arrays.update({f"{k}_b": v[1] for k, v in weights.items()})
    np.savez(tmp_path / "w.npz", **arrays)
    module = (
        "import numpy as np\n"
        f"_d = np.load({str(tmp_path / 'w.npz')!r})\n"
        "weights = {k[:-2]: (_d[k[:-2] + '_k'], _d[k[:-2] + '_b']) for k in _d.files}\n"
    )
    (tmp_path / "tests_weights.py").write_text(module)
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(tmp_path))
    run = subprocess.run(
        [sys.executable, "-c", _JAX_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "OK" in run.stdout
    assert "ERR googlenet needs the tensorflow backend (the Keras backend is 'jax')" in run.stdout


def test_one_layer_models_still_return_a_list_and_clone_in_mixed_precision(small_vgg_weights):
    import keras

    backbone = models.build_vgg16(small_vgg_weights, "block2_conv2")
    x = np.full((1, 16, 16, 3), 100.0, "float32")
    out = backbone.model(x)
    assert isinstance(out, list) and len(out) == 1 and out[0].shape == (1, 8, 8, 128)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        clone = keras.models.clone_model(backbone.model)
    finally:
        keras.config.set_dtype_policy(previous)
    clone.set_weights(backbone.model.get_weights())
    low = clone(x)
    assert isinstance(low, list)
    np.testing.assert_allclose(np.asarray(low[0], "float32"), out[0], rtol=0.1, atol=0.5)


def test_vgg16_built_in_a_mixed_policy_equals_the_cast_copy_and_is_used_as_it_is(
    small_vgg_weights, image
):
    from dreamstream.core.dream import _with_precision

    full = models.build_vgg16(small_vgg_weights, ["block1_conv2", "block2_conv2"])
    half = models.build_vgg16(
        small_vgg_weights, ["block1_conv2", "block2_conv2"], dtype="mixed_bfloat16"
    )
    cast = _with_precision(full.model, "mixed_bfloat16")
    assert cast is not full.model  # a float32 model is copied into the policy
    assert _with_precision(half.model, "mixed_bfloat16") is half.model  # this one is not
    assert _with_precision(full.model, "float32") is full.model
    # The same network in the same arithmetic: bit for bit the copy's outputs and gradient.
    for mine, theirs in zip(half.model(image), cast(image), strict=True):
        assert mine.dtype == theirs.dtype == "bfloat16"
        np.testing.assert_array_equal(np.asarray(mine, "float32"), np.asarray(theirs, "float32"))
    np.testing.assert_array_equal(input_gradient(half.model, image), input_gradient(cast, image))
    with pytest.raises(InputError, match="dtype must be one of float32, .*; got 'float8'"):
        models.build_vgg16(small_vgg_weights, "block1_conv1", dtype="float8")
