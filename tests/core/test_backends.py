"""The per-backend code: input gradients, and the same dream on TensorFlow, JAX and torch."""

import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from dreamstream.core import backend

# One script, run in this process (TensorFlow) and in a child under another
# backend: it dreams with a random tiny network and, when the embedded weights
# are installed, with the real vgg16, and leaves the results in RESULTS.
SCRIPT = """
import numpy as np, keras
from dreamstream.core.dream import DreamParams, Dreamer
from dreamstream.core.models import ALL_BACKENDS, Backbone

def tiny():
    rng = np.random.default_rng(0)
    inp = keras.Input((None, None, 3))
    c1 = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    c2 = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(
        keras.layers.MaxPooling2D(2, padding="same")(c1))
    model = keras.Model(inp, [c1, c2])
    model.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") for w in model.get_weights()])
    return Backbone("tiny", ("c1", "c2"), model, 2, ALL_BACKENDS)

y, x = np.mgrid[0:36, 0:44] / 44.0
image = np.stack([np.sin(6 * x), np.cos(5 * y), np.sin(4 * (x + y))], -1) * 80 + 128
image = image.astype(np.uint8)
params = DreamParams(octaves=2, steps=3, step_size=3.0, tile=32, jitter=6, seed=5)
RESULTS = {"tiny": Dreamer(tiny(), "c1:0.5,c2[1+3]:1", params)(image)}
from dreamstream.core.errors import WeightsNotFoundError
from dreamstream.stream.weights.dream import load_backbone
try:  # any other failure of the real network must fail the test, not shrink it
    vgg = load_backbone("vgg16", layers=("block3_conv1",))
except WeightsNotFoundError as err:  # weights not installed: compare the tiny network only
    print("no vgg16:", err)
else:
    RESULTS["vgg16"] = Dreamer(vgg, "block3_conv1", params)(image)
"""


def _dream_here() -> dict:
    scope: dict = {}
    exec(SCRIPT, scope)  # noqa: S102 - the test's own fixed script
    for name, out in scope["RESULTS"].items():  # equal results must not be undreamt ones
        assert np.abs(out.astype(int) - scope["image"]).mean() > 2.0, name
    return scope["RESULTS"]


def _dream_in_child(backend_name: str, tmp_path) -> dict:
    out = tmp_path / f"{backend_name}.npz"
    code = SCRIPT + f"\nnp.savez({str(out)!r}, **RESULTS)\n"
    env = {**os.environ, "KERAS_BACKEND": backend_name, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(np.load(out))


def _close(a: np.ndarray, b: np.ndarray) -> None:
    """Same dream within float tolerance: the kernels differ, the algorithm must not."""
    diff = np.abs(a.astype(int) - b.astype(int))
    assert a.shape == b.shape and diff.mean() < 1.0 and np.percentile(diff, 99) <= 6, (
        diff.mean(),
        diff.max(),
    )


@pytest.mark.skipif(backend.backend_name() != "tensorflow", reason="compares against TensorFlow")
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_tensorflow_and_jax_dream_alike(tmp_path):
    here, there = _dream_here(), _dream_in_child("jax", tmp_path)
    assert set(here) == set(there)
    for name in here:
        _close(here[name], there[name])


@pytest.mark.skipif(backend.backend_name() != "tensorflow", reason="compares against TensorFlow")
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_tensorflow_and_torch_dream_alike(tmp_path):
    here, there = _dream_here(), _dream_in_child("torch", tmp_path)
    assert set(here) == set(there)
    for name in here:
        _close(here[name], there[name])


def _linear_model(weights: np.ndarray) -> keras.Model:
    inp = keras.Input((None, None, 3))
    conv = keras.layers.Conv2D(1, 1, use_bias=False)
    model = keras.Model(inp, [conv(inp)])
    conv.set_weights([weights.reshape(1, 1, 3, 1)])
    return model


@pytest.mark.backends
@pytest.mark.parametrize("xla", [True, False])
def test_input_gradient_of_a_linear_model_is_exact(xla):
    w = np.array([0.5, -2.0, 3.0], "float32")
    grad_fn = backend.compile_input_gradient(
        _linear_model(w), lambda outs, x: keras.ops.mean(outs[0], axis=(1, 2, 3)), xla=xla
    )
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 5, 3)).astype("float32")
    loss, grad = grad_fn(x, 0.5)
    # loss = 0.5 * sum over the batch of the mean of x.w, so d/dx = 0.5 * w / (4 * 5)
    np.testing.assert_allclose(
        float(backend.to_numpy(loss)), 0.5 * (x @ w).mean((1, 2)).sum(), 1e-4
    )
    np.testing.assert_allclose(backend.to_numpy(grad), np.broadcast_to(0.5 * w / 20, x.shape), 1e-5)


@pytest.mark.backends
def test_input_gradient_sees_the_input_itself():
    # A loss of the pixels alone (as total variation is) must differentiate through x.
    grad_fn = backend.compile_input_gradient(
        _linear_model(np.zeros(3, "float32")),
        lambda outs, x: keras.ops.sum(keras.ops.square(x), axis=(1, 2, 3)),
    )
    x = np.arange(12, dtype="float32").reshape(1, 2, 2, 3)
    _, grad = grad_fn(x, 1.0)
    np.testing.assert_allclose(backend.to_numpy(grad), 2 * x, rtol=1e-6)
