"""VGG16's dream gradient as an ONNX graph, against Keras's own gradient, and its ascent.

Random weights of VGG16's real shapes stand in for ImageNet's (no file is
read): the graph must compute the same loss and gradient as the Keras
backbone for any weights. Odd frame sides exercise the pools' "same" padding.
"""

import dataclasses

import numpy as np
import pytest

from dreamstream.core import backend
from dreamstream.core.ascent import NumpyAscent
from dreamstream.core.dream import Dreamer, DreamParams
from dreamstream.core.dreamgraph import build_vgg16_gradient_graph, unsupported
from dreamstream.core.errors import InputError
from dreamstream.core.models import build_vgg16
from dreamstream.core.objectives import parse_objective
from dreamstream.core.objspec import parse_terms
from dreamstream.core.params import VGG16_TABLE

ort = pytest.importorskip("onnxruntime")


def random_weights(blocks: int = 3, seed: int = 0) -> dict:
    """He-initialised kernels and small biases for VGG16's first ``blocks`` blocks."""
    rng = np.random.default_rng(seed)
    weights, cin = {}, 3
    for block, convs, filters in VGG16_TABLE[:blocks]:
        for i in range(1, convs + 1):
            kernel = rng.normal(0, np.sqrt(2 / (9 * cin)), (3, 3, cin, filters))
            bias = rng.normal(0, 0.1, filters)
            weights[f"block{block}_conv{i}"] = (kernel.astype("float32"), bias.astype("float32"))
            cin = filters
    return weights


def onnx_gradient(weights, spec: str, pooling: str):
    terms = parse_terms(spec)
    graph = build_vgg16_gradient_graph(weights, terms, pooling)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])

    def run(x, scale, term_weights):
        feed = {
            "x": np.asarray(x, "float32"),
            "scale": np.asarray(scale, "float32"),
            "weights": np.asarray(term_weights, "float32"),
        }
        loss, grad = session.run(["loss", "grad"], feed)
        return float(loss), grad

    return run, np.array([t.weight for t in terms], "float32")


def keras_dreamer(weights, spec: str, pooling: str, params: DreamParams) -> Dreamer:
    objective = parse_objective(spec)
    return Dreamer(build_vgg16(weights, tuple(objective.layers), pooling), objective, params)


@pytest.mark.parametrize(
    ("spec", "pooling"),
    [
        ("block3_conv3", "max"),
        ("block2_pool^2:0.5,block3_conv3:1", "max"),
        ("block1_conv2:0.2,block2_pool^2:0.5,block3_conv3:1", "avg"),
    ],
)
def test_the_graphs_gradient_is_keras_gradient(spec, pooling):
    weights = random_weights()
    run, term_weights = onnx_gradient(weights, spec, pooling)
    dreamer = keras_dreamer(weights, spec, pooling, DreamParams(xla=False))
    x = np.random.default_rng(1).uniform(0, 255, (2, 37, 29, 3)).astype("float32")
    loss, grad = run(x, 0.7, term_weights)
    want_loss, want_grad = (backend.to_numpy(v) for v in dreamer._grad(x, 0.7, term_weights))
    assert loss == pytest.approx(float(want_loss), rel=1e-5)
    # Float32 sums in another order; a unit whose input rounds to the other side
    # of ReLU's kink changes a few pixels' gradient, so the norm of the difference.
    assert np.linalg.norm(grad - want_grad) <= 1e-2 * np.linalg.norm(want_grad)
    # The weights are an input: new term weights need no new graph.
    double, _ = run(x, 0.7, 2 * term_weights)
    assert double == pytest.approx(2 * loss, rel=1e-5)


def test_the_numpy_ascent_dreams_what_the_keras_dreamer_dreams():
    weights = random_weights(blocks=2)
    spec, params = "block2_conv2", DreamParams(octaves=1, steps=3, step_size=3.0, jitter=4, tile=32)
    run, term_weights = onnx_gradient(weights, spec, "max")
    ascent = NumpyAscent(run, params, term_weights, min_side=2)
    dreamer = keras_dreamer(weights, spec, "max", dataclasses.replace(params, xla=False))
    frame = np.random.default_rng(2).integers(0, 256, (40, 52, 3), dtype=np.uint8)
    ours, theirs = ascent(frame, seed=5), dreamer(frame, seed=5)
    # Same rolls, tiles and steps: equal up to float rounding (a level here and there).
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    assert np.abs(ours.astype(int) - frame.astype(int)).mean() > 2  # it did dream
    before = ascent.gradient(frame.astype("float32"))[0]
    assert ascent.gradient(ours.astype("float32"))[0] > before  # the objective rose
    # Several octaves resample differently (OpenCV's area average where Keras
    # antialiases), so only close; still the same dream.
    ours, theirs = ascent(frame, octaves=2, seed=5), dreamer(frame, octaves=2, seed=5)
    assert np.abs(ours.astype(int) - theirs.astype(int)).mean() < 2.0


def test_objectives_the_graph_cannot_compute_are_named():
    assert unsupported(parse_terms("block4_conv3:1,block5_pool^2")) is None
    assert "channel" in unsupported(parse_terms("block4_conv3[3+7]"))
    assert "mixed3" in unsupported(parse_terms("mixed3"))
    assert "pooling" in unsupported(parse_terms("block1_conv1"), "median")
    with pytest.raises(InputError, match="channel terms"):
        build_vgg16_gradient_graph(random_weights(1), parse_terms("block1_conv2[1]"))
    with pytest.raises(InputError, match="lack block2_conv1"):
        build_vgg16_gradient_graph(random_weights(1), parse_terms("block2_conv1"))
