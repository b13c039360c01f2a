"""The MatConvNet VGG19 reader on tiny hand-made .mat files (never the real 500 MB one)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy.io import savemat

from dreamstream.core.errors import InputError
from dreamstream.core.vgg19 import build_vgg19
from dreamstream.stream.weights.vgg19_mat import read_vgg19_mat

MEAN = (120.0, 110.0, 100.0)


def _block1(rng) -> dict:
    """MatConvNet-layout weights of conv1_1 and conv1_2: kernels width x height x in x out."""
    return {
        "conv1_1": (rng.normal(size=(3, 3, 3, 64)).astype("float32"), rng.normal(size=(64, 1))),
        "conv1_2": (rng.normal(size=(3, 3, 64, 64)).astype("float32"), rng.normal(size=(1, 64))),
    }


def _write_v5(path, convs: dict, mean=MEAN) -> None:
    layers = []
    for name, (kernel, bias) in convs.items():
        weights = np.empty(2, dtype=object)
        weights[0], weights[1] = kernel, bias
        layers.append({"name": name, "type": "conv", "weights": weights})
        layers.append({"name": name.replace("conv", "relu"), "type": "relu"})
    cell = np.empty(len(layers), dtype=object)
    cell[:] = layers
    savemat(path, {"layers": cell, "meta": {"normalization": {"averageImage": np.array(mean)}}})


def _write_v73(path, convs: dict, mean=MEAN) -> None:
    """The v7.3 layout: cells and structs by object reference, arrays with axes reversed."""
    with h5py.File(path, "w") as f:
        refs = f.create_group("#refs#")
        layer_refs = []
        for i, (name, (kernel, bias)) in enumerate(convs.items()):
            g = refs.create_group(f"layer{i}")
            g["name"] = np.array([ord(c) for c in name], "uint16")[:, None]
            g["type"] = np.array([ord(c) for c in "conv"], "uint16")[:, None]
            k = refs.create_dataset(f"k{i}", data=np.transpose(kernel, (3, 2, 1, 0)))
            b = refs.create_dataset(f"b{i}", data=np.asarray(bias).T)
            g.create_dataset("weights", data=np.array([[k.ref], [b.ref]]), dtype=h5py.ref_dtype)
            layer_refs.append(g.ref)
        f.create_dataset("layers", data=np.array([layer_refs]), dtype=h5py.ref_dtype)
        f["meta/normalization/averageImage"] = np.array(mean)[:, None]


@pytest.mark.parametrize("writer", [_write_v5, _write_v73], ids=["v5", "v7.3"])
def test_reader_swaps_width_and_height_and_reads_the_mean(tmp_path, writer):
    convs = _block1(np.random.default_rng(0))
    path = tmp_path / "vgg.mat"
    writer(path, convs)
    weights, mean = read_vgg19_mat(path, ("block1_conv2",))
    assert mean == pytest.approx(MEAN)
    assert sorted(weights) == ["block1_conv1", "block1_conv2"]
    kernel, bias = weights["block1_conv1"]
    assert kernel.shape == (3, 3, 3, 64) and bias.shape == (64,)
    # MatConvNet's width x height becomes height x width.
    np.testing.assert_allclose(kernel[0, 2], convs["conv1_1"][0][2, 0], rtol=1e-6)
    np.testing.assert_allclose(bias, convs["conv1_1"][1].reshape(-1), rtol=1e-6)


def test_network_built_from_the_file_runs_and_subtracts_the_mean(tmp_path):
    path = tmp_path / "vgg.mat"
    convs = _block1(np.random.default_rng(1))
    _write_v5(path, convs)
    weights, mean = read_vgg19_mat(path, ("block1_conv1",))
    net = build_vgg19(weights, ("block1_conv1",), mean)
    (out,) = net.model(np.full((1, 16, 16, 3), MEAN, "float32"))
    # The input equals the mean, so the centre pixel sees zeros: ReLU(bias) remains.
    np.testing.assert_allclose(
        np.asarray(out)[0, 8, 8], np.maximum(weights["block1_conv1"][1], 0), atol=1e-5
    )


def test_a_mat_file_without_vgg19_layers_is_refused_in_one_line(tmp_path):
    path = tmp_path / "other.mat"
    savemat(path, {"weights": np.eye(3)})
    with pytest.raises(InputError, match="not MatConvNet's imagenet-vgg-verydeep-19.mat") as err:
        read_vgg19_mat(path, ("block4_conv2",))
    assert "\n" not in str(err.value)


def test_misshapen_or_missing_layers_are_refused(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "small.mat"
    _write_v5(path, {"conv1_1": (rng.normal(size=(3, 3, 3, 32)), rng.normal(size=32))})
    with pytest.raises(InputError, match="conv1_1 has kernel"):
        read_vgg19_mat(path, ("block1_conv1",))
    _write_v5(path, _block1(rng))
    with pytest.raises(InputError, match="no layer conv2_1"):
        read_vgg19_mat(path, ("block2_conv1",))


def test_files_that_are_not_mat_files_are_refused(tmp_path):
    text = tmp_path / "weights.mat"
    text.write_text("not a matlab file")
    with pytest.raises(InputError, match="is not a MATLAB .mat file"):
        read_vgg19_mat(text, ("block1_conv1",))
    with pytest.raises(InputError, match="does not exist"):
        read_vgg19_mat(tmp_path / "missing.mat", ("block1_conv1",))
