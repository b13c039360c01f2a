"""Style networks and the Stylizer on random weights: shapes, rewrites, strength, errors.

The real weights (and the comparison with onnxruntime) are tested in
tests/stream/test_styles.py; here everything is in memory and tiny.
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from keras import ops

from dreamstream.core import backend, stylenets
from dreamstream.core.errors import InputError
from dreamstream.core.style import (
    Stylizer,
    contact_sheet,
    keep_colors,
    pad_to_stride,
    parse_style,
)
from dreamstream.core.stylenets import StyleNet

# Random 26-style weights, shared by this process and the JAX child below.
WEIGHTS_CODE = """
import numpy as np
def random_weights(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"contract.0": (9, 3, 32), "contract.1": (3, 32, 32), "contract.2": (3, 32, 32),
              "expand.0": (3, 32, 8), "expand.1": (3, 8, 4), "expand.2": (9, 4, 3)}
    shapes.update({f"res.{r}.{j}": (3, 32, 32) for r in range(6) for j in range(2)})
    w = {}
    for name, (k, cin, cout) in shapes.items():
        w[name + ".w"] = rng.normal(0, 1 / np.sqrt(k * k * cin), (k, k, cin, cout)).astype("f4")
        w[name + ".norm.gamma"] = (1 + 0.2 * rng.normal(size=(26, cout))).astype("f4")
        w[name + ".norm.beta"] = (0.2 * rng.normal(size=(26, cout))).astype("f4")
    return w
"""
scope: dict = {}
exec(WEIGHTS_CODE, scope)  # noqa: S102 - the test's own fixed code
random_weights = scope["random_weights"]


@pytest.fixture(scope="module")
def net() -> StyleNet:
    # No XLA: compiles in a fraction of the time, same sums.
    return StyleNet.compile(
        "multistyle26", stylenets.build_multistyle26(random_weights()), xla=False
    )


def _frame(h: int, w: int, seed: int = 1) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    rgb = np.stack([np.sin(7 * x + seed), np.cos(5 * y), np.sin(3 * (x + y))], -1)
    return (rgb * 100 + 128).astype(np.uint8)


def test_parse_style_normalises_blends():
    w = parse_style("3:2,12:6")
    assert w.dtype == np.float32 and w.shape == (26,)
    assert np.isclose(w.sum(), 1.0) and np.isclose(w[3], 0.25) and np.isclose(w[12], 0.75)
    assert parse_style("7")[7] == 1.0 and parse_style(7)[7] == 1.0
    assert np.isclose(parse_style("4:1, 4:1 ,5")[4], 2 / 3)  # repeats add up


@pytest.mark.parametrize(
    "text, words",
    [
        ("26", "0-25, got 26"),
        ("-1", "got -1"),
        ("3:x", "bad weight 'x'"),
        ("a", "bad style"),
        ("", "bad style"),
        ("3:0", "not all zero"),
        ("3:-1,4:2", "non-negative"),
    ],
)
def test_parse_style_rejects_bad_text_in_one_line(text, words):
    with pytest.raises(InputError, match=words) as err:
        parse_style(text)
    assert "\n" not in str(err.value)


def test_phase_kernel_equals_the_plain_convolution():
    rng = np.random.default_rng(3)
    x = rng.random((2, 20, 28, 4), dtype=np.float32)
    k = rng.normal(size=(9, 9, 4, 3)).astype(np.float32)
    plain = ops.conv(x, k, padding="valid")
    s2d = stylenets.SpaceToDepth()(x)
    blocked = stylenets.DepthToSpace()(ops.conv(s2d, stylenets.phase_kernel(k), padding="valid"))
    assert blocked.shape == plain.shape
    assert np.abs(backend.to_numpy(blocked) - backend.to_numpy(plain)).max() < 1e-4


def test_upsample_kernel_equals_upsample_then_convolve():
    rng = np.random.default_rng(4)
    x = rng.random((1, 6, 9, 5), dtype=np.float32)
    k = rng.normal(size=(3, 3, 5, 2)).astype(np.float32)
    up = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    up = np.pad(up, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    plain = backend.to_numpy(ops.conv(up, k, padding="valid"))
    edge = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    fast = stylenets.DepthToSpace()(ops.conv(edge, stylenets.upsample_kernel(k), padding="valid"))
    assert np.abs(backend.to_numpy(fast) - plain).max() < 1e-4


@pytest.mark.parametrize("h, w", [(37, 53), (5, 7), (16, 16), (1, 3)])
def test_odd_sizes_keep_their_shape(net, h, w):
    frame = _frame(h, w)
    out = Stylizer(net, parse_style(5))(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    if h > 8:
        assert np.abs(out.astype(int) - frame).mean() > 5  # it was restyled


def test_pad_to_stride_reflects_and_keeps_the_top_left():
    batch = np.arange(2 * 5 * 6 * 3, dtype=np.float32).reshape(2, 5, 6, 3)
    padded = pad_to_stride(batch)
    assert padded.shape == (2, 8, 8, 3)
    assert np.array_equal(padded[:, :5, :6], batch)
    assert np.array_equal(padded[:, 5, :6], batch[:, 3])  # mirror without repeating the edge


def test_strength_zero_returns_the_input_exactly(net):
    frame = _frame(24, 40)
    out = Stylizer(net, parse_style(2), strength=0.0, preserve_color=True)(frame)
    assert np.array_equal(out, frame) and out is not frame


def test_strength_blends_towards_the_input(net):
    frame = _frame(32, 32)
    full = Stylizer(net, parse_style(9))(frame).astype(float)
    half = Stylizer(net, parse_style(9), strength=0.5)(frame).astype(float)
    assert np.abs(half - (full + frame) / 2).max() <= 1.0


def test_batch_matches_single_frames(net):
    frames = [_frame(20, 28, seed) for seed in range(3)] + [_frame(13, 17)]
    stylizer = Stylizer(net, parse_style("1:0.3,20:0.7"))
    together = stylizer.batch(frames)
    assert [f.shape for f in together] == [f.shape for f in frames]
    for one, frame in zip(together, frames, strict=True):
        assert np.abs(one.astype(int) - stylizer(frame)).max() <= 1


def test_preserve_color_keeps_chroma_and_takes_luma():
    rng = np.random.default_rng(5)
    styl, orig = rng.random((2, 8, 8, 3), dtype=np.float32) * 0.5 + 0.25
    out = keep_colors(styl, orig)
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    assert np.allclose(out @ luma, styl @ luma, atol=1e-5)
    assert np.allclose(out - (out @ luma)[..., None], orig - (orig @ luma)[..., None], atol=1e-5)


def test_bad_stylizer_arguments_raise_input_error(net):
    with pytest.raises(InputError, match="between 0 and 1, got 1.5"):
        Stylizer(net, parse_style(0), strength=1.5)
    with pytest.raises(InputError, match="26 values, got 100"):
        Stylizer(net, np.zeros(100, np.float32))
    with pytest.raises(InputError, match="uint8 HxWx3"):
        Stylizer(net, parse_style(0))(np.zeros((8, 8, 3), np.float32))


def test_contact_sheet_shows_all_styles(net):
    sheet = contact_sheet(_frame(30, 40), net, tile=24, columns=7, batch=4, gap=2)
    label = max(14, 24 // 10)
    cell_h, cell_w = 18 + label, 24
    assert sheet.dtype == np.uint8
    assert sheet.shape == (4 * (cell_h + 2) + 2, 7 * (cell_w + 2) + 2, 3)  # 27 tiles, 4 rows
    tiles = [
        sheet[2 + label + r * (cell_h + 2) :][:18, 2 + c * 26 :][:, :24]
        for r, c in [(0, 1), (0, 2)]
    ]
    assert np.abs(tiles[0].astype(int) - tiles[1]).mean() > 3  # styles 0 and 1 differ


JAX_CODE = (
    WEIGHTS_CODE
    + """
from dreamstream.core import stylenets
from dreamstream.core.style import Stylizer, parse_style
net = stylenets.StyleNet.compile("multistyle26", stylenets.build_multistyle26(random_weights()))
y, x = np.mgrid[0:21, 0:30] / 30.0
frame = (np.stack([np.sin(7 * x), np.cos(5 * y), x * y], -1) * 100 + 128).astype(np.uint8)
OUT = Stylizer(net, parse_style("4:1,11:1"), preserve_color=True)(frame)
"""
)


@pytest.mark.skipif(backend.backend_name() != "tensorflow", reason="compares against TensorFlow")
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_tensorflow_and_jax_stylize_alike(tmp_path):
    here: dict = {}
    exec(JAX_CODE, here)  # noqa: S102 - the test's own fixed script
    out = tmp_path / "jax.npy"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    code = JAX_CODE + f"\nnp.save({str(out)!r}, OUT)\n"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    there = np.load(out)
    assert there.shape == here["OUT"].shape
    assert np.abs(there.astype(int) - here["OUT"]).max() <= 1
    assert np.abs(here["OUT"].astype(int) - here["frame"]).mean() > 5
