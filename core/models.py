"""Dream backbones: pretrained CNNs cut at the layers a dream maximises.

Every backbone takes the same input, whatever its network was trained on:
``float32`` NHWC, **RGB**, range **0-255**, any height and width of at least
:attr:`Backbone.min_size`. Each network's own convention (channel order, mean,
scale) is applied inside its Keras model, in one place per backbone:

- ``vgg16`` (ImageNet weights) and ``vgg16-hed`` (the same network with
  edge-tuned weights): BGR minus the ImageNet mean (103.939, 116.779, 123.68), 0-255.
- ``inception_v3``: RGB scaled to [-1, 1].
- ``googlenet``: RGB 0-255 minus 117 (the inception5h TensorFlow graph).

The model outputs a list of NHWC ``float32`` activations, one per requested
layer, in the order asked for. Builders take weights already in memory
(arrays, a Keras network, GraphDef bytes); ``dreamstream.stream.weights.dream`` reads files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from dreamstream.core import efficientnet
from dreamstream.core.errors import InputError
from dreamstream.core.params import (
    BACKBONES,
    CLASSIFIER_LAYERS,
    DEFAULT_LAYERS,
    IMAGENET_BGR_MEAN,
    POLICIES,
    POOLINGS,
    VGG16_TABLE,
)

# Backbones built by build_vgg16; they differ only in their weights.
VGG16_BACKBONES: tuple[str, ...] = ("vgg16", "vgg16-hed")

ALL_BACKENDS: tuple[str, ...] = ("tensorflow", "jax", "torch")


@dataclass(frozen=True)
class Backbone:
    """A network cut at the requested layers, ready for gradient ascent.

    Attributes:
        name: backbone name, one of :data:`BACKBONES`.
        layers: the requested layers, in output order.
        model: Keras model; input float32 NHWC RGB 0-255 with shape
            ``(None, None, None, 3)``; output a list (always a list) of NHWC
            float32 activations, one per entry of ``layers``.
        min_size: smallest height or width the model accepts (for padded
            networks: the total stride at the deepest requested layer, so that
            it keeps at least one pixel).
        backends: Keras backends the model runs on.
    """

    name: str
    layers: tuple[str, ...]
    model: keras.Model
    min_size: int
    backends: tuple[str, ...]


def dream_model(inputs, outputs: list, name: str) -> keras.Model:
    """A functional model whose call returns ``outputs`` as a list, even a list of one.

    Keras unwraps a one-element output list into a bare tensor; nesting the
    list once more leaves exactly the list after that unwrapping.
    """
    model = keras.Model(inputs, [list(outputs)], name=name)
    model.trainable = False
    return model


# ---------------------------------------------------------------- layer registry


INCEPTION_V3_MIN_SIZE = 75

GOOGLENET_MEAN = 117.0
# The inception5h trunk (no auxiliary heads) in network order; each maxpool
# between the stages halves the resolution.
_GOOGLENET_TRUNK = (
    "conv2d0 maxpool0 localresponsenorm0 conv2d1 conv2d2 localresponsenorm1 maxpool1 mixed3a "
    "mixed3b maxpool4 mixed4a mixed4b mixed4c mixed4d mixed4e maxpool10 mixed5a mixed5b"
).split()
_GOOGLENET_BRANCHES = ("1x1", "3x3_bottleneck", "3x3", "5x5_bottleneck", "5x5", "pool_reduce")


def _vgg16_strides() -> dict[str, int]:
    """VGG16 layer names in network order, each with its total stride."""
    strides = {}
    for block, convs, _ in VGG16_TABLE:
        for i in range(1, convs + 1):
            strides[f"block{block}_conv{i}"] = 2 ** (block - 1)
        strides[f"block{block}_pool"] = 2**block
    return strides


def _googlenet_strides() -> dict[str, int]:
    """inception5h tensor names in network order, each with its total stride."""
    strides, stride = {}, 2  # conv2d0 has stride 2
    for unit in _GOOGLENET_TRUNK:
        if unit.startswith("maxpool"):
            stride *= 2
        if unit.startswith("conv"):
            names = [f"{unit}_pre_relu", unit]
        elif unit.startswith("mixed"):
            branches = [f"{unit}_{b}{s}" for b in _GOOGLENET_BRANCHES for s in ("_pre_relu", "")]
            names = [*branches, f"{unit}_pool", unit]
        else:
            names = [unit]
        strides.update(dict.fromkeys(names, stride))
    return strides


# inception5h's head pools 7x7 over mixed5b, so its input must be at least 224 px a side.
GOOGLENET_HEAD_SIZE = 224

_VGG16_STRIDES = _vgg16_strides()
_GOOGLENET_STRIDES = {**_googlenet_strides(), CLASSIFIER_LAYERS["googlenet"]: GOOGLENET_HEAD_SIZE}
_BACKENDS = {
    "vgg16": ALL_BACKENDS,
    "vgg16-hed": ALL_BACKENDS,
    "inception_v3": ALL_BACKENDS,
    "googlenet": ("tensorflow",),
    "efficientnet_lite0": ALL_BACKENDS,
}
_LAYERS = {
    "vgg16": tuple(_VGG16_STRIDES),
    "vgg16-hed": tuple(_VGG16_STRIDES),
    "inception_v3": (*(f"mixed{i}" for i in range(11)), CLASSIFIER_LAYERS["inception_v3"]),
    "googlenet": tuple(_GOOGLENET_STRIDES),
    "efficientnet_lite0": efficientnet.LAYERS,
}


def available_layers(name: str) -> tuple[str, ...]:
    """Layer names a dream can use on backbone ``name``, in network order (no weights needed).

    Raises:
        InputError: ``name`` is not one of :data:`BACKBONES`.
    """
    if name not in _LAYERS:
        raise InputError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return _LAYERS[name]


def check_layers(name: str, layers: Iterable[str] | str | None) -> tuple[str, ...]:
    """The requested layers as a tuple, checked against :func:`available_layers`.

    Args:
        name: backbone name.
        layers: layer names (a dict of layer weights works too), one name, or
            None for the keys of :data:`DEFAULT_LAYERS`.

    Returns:
        The layer names in the order given.

    Raises:
        InputError: unknown backbone or layer, a repeated layer, or no layer.
    """
    valid = available_layers(name)
    if layers is None:
        return tuple(DEFAULT_LAYERS[name])
    chosen = (layers,) if isinstance(layers, str) else tuple(layers)
    if not chosen:
        raise InputError(f"{name}: no layer requested; valid layers: {', '.join(valid)}")
    for layer in chosen:
        if layer not in valid:
            raise InputError(f"{name} has no layer {layer!r}; valid layers: {', '.join(valid)}")
    repeated = sorted({layer for layer in chosen if chosen.count(layer) > 1})
    if repeated:
        raise InputError(f"{name}: layer {repeated[0]!r} requested twice")
    return chosen


def check_pooling(pooling: str) -> str:
    """``pooling`` itself if it is one of :data:`POOLINGS`, else InputError."""
    if pooling not in POOLINGS:
        raise InputError(f"pooling must be one of {', '.join(POOLINGS)}; got {pooling!r}")
    return pooling


def check_dtype(dtype: str) -> str:
    """``dtype`` itself if it is a Keras dtype policy of :data:`POLICIES`, else InputError."""
    if dtype not in POLICIES:
        raise InputError(f"dtype must be one of {', '.join(POLICIES)}; got {dtype!r}")
    return dtype


def check_backend(name: str) -> None:
    """Raise InputError when backbone ``name`` cannot run on the active Keras backend."""
    backend = keras.backend.backend()
    if backend not in _BACKENDS[name]:
        raise InputError(
            f"{name} needs the {' or '.join(_BACKENDS[name])} backend (the Keras backend "
            f"is {backend!r}); use --backend {_BACKENDS[name][0]}"
        )


def _deepest(name: str, layers: tuple[str, ...]) -> str:
    return max(layers, key=_LAYERS[name].index)


# ------------------------------------------------------------------------ VGG16


class CaffeBGRInput(keras.layers.Layer):
    """RGB 0-255 in, BGR minus the ImageNet mean out: what VGG16 was trained on."""

    def call(self, rgb):
        mean = ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype=rgb.dtype)
        return ops.flip(rgb, axis=-1) - mean


_POOL_LAYERS = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}


def check_conv_weights(
    layer: str, pair, shape: tuple[int, ...], net: str = "vgg16"
) -> tuple[np.ndarray, ...]:
    """Kernel and bias of ``layer`` of network ``net`` as float32 arrays, shapes checked."""
    try:
        kernel, bias = (np.asarray(a, dtype="float32") for a in pair)
    except (TypeError, ValueError):
        raise InputError(f"{net} weights for {layer} must be a (kernel, bias) pair") from None
    if kernel.shape != shape or bias.shape != shape[-1:]:
        raise InputError(
            f"{net} weights for {layer} have kernel {kernel.shape} and bias {bias.shape}; "
            f"expected {shape} and {shape[-1:]}"
        )
    return kernel, bias


def vgg16_weight_names(layers: Iterable[str] | str | None = None) -> tuple[str, ...]:
    """The convolutions whose weights a VGG16 backbone cut at ``layers`` needs, in order."""
    chosen = check_layers("vgg16", layers)
    needed = _LAYERS["vgg16"][: _LAYERS["vgg16"].index(_deepest("vgg16", chosen)) + 1]
    return tuple(n for n in needed if "_conv" in n)


def build_vgg16(
    weights: dict[str, tuple[np.ndarray, np.ndarray]],
    layers: Iterable[str] | str | None = None,
    pooling: str = "max",
    name: str = "vgg16",
    dtype: str = "float32",
) -> Backbone:
    """VGG16 convolutions cut after the deepest requested layer.

    Args:
        weights: ``{"block1_conv1": (kernel HxWxInxOut, bias Out), ...}`` for at
            least every convolution up to the deepest requested layer.
        layers: layer names (see :func:`available_layers`); None for the default.
        pooling: "max" (as trained) or "avg" (often smoother dreams).
        name: the backbone's name, one of :data:`VGG16_BACKBONES` (which
            weights these are; the network is the same).
        dtype: the Keras dtype policy every layer computes in ("float32", or a
            mixed policy such as "mixed_bfloat16": float32 weights, input and
            outputs cast). Building in the dream's policy saves cloning the
            model into it, which costs as much as building it again.

    Returns:
        The backbone; its model takes RGB 0-255 and converts to BGR minus mean itself.

    Raises:
        InputError: unknown layer or pooling, missing or misshapen weights.
    """
    if name not in VGG16_BACKBONES:
        raise InputError(f"build_vgg16 builds {', '.join(VGG16_BACKBONES)}, not {name!r}")
    chosen = check_layers("vgg16", layers)
    pool_layer = _POOL_LAYERS[check_pooling(pooling)]
    check_dtype(dtype)
    deepest = _deepest("vgg16", chosen)
    rgb = keras.Input(shape=(None, None, 3), name="rgb_0_255")
    x = CaffeBGRInput(name="rgb_to_caffe_bgr", dtype=dtype)(rgb)
    outputs, in_channels = {}, 3
    for block, convs, filters in VGG16_TABLE:
        for i in range(1, convs + 1):
            layer = f"block{block}_conv{i}"
            if layer not in weights:
                raise InputError(f"vgg16 weights lack {layer} (needed up to {deepest})")
            kernel, bias = check_conv_weights(layer, weights[layer], (3, 3, in_channels, filters))
            # Zeros, not the default random draw: set_weights replaces them at once.
            conv = keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                activation="relu",
                kernel_initializer="zeros",
                name=layer,
                dtype=dtype,
            )
            x = outputs[layer] = conv(x)
            conv.set_weights([kernel, bias])
            in_channels = filters
            if layer == deepest:
                return _vgg16_backbone(rgb, outputs, chosen, name)
        # "same" padding keeps odd-sized borders in the picture (and in the gradient).
        layer = f"block{block}_pool"
        pool = pool_layer(2, strides=2, padding="same", name=layer, dtype=dtype)
        x = outputs[layer] = pool(x)
        if layer == deepest:
            return _vgg16_backbone(rgb, outputs, chosen, name)
    raise AssertionError("unreachable: the deepest layer is in the table")


def _vgg16_backbone(rgb, outputs: dict, chosen: tuple[str, ...], name: str) -> Backbone:
    model = dream_model(rgb, [outputs[n] for n in chosen], "vgg16_dream")
    stride = _VGG16_STRIDES[_deepest("vgg16", chosen)]
    return Backbone(name, chosen, model, stride, ALL_BACKENDS)


# ----------------------------------------------------------------- InceptionV3


def inception_v3_network(top: bool = False) -> keras.Model:
    """Keras InceptionV3, randomly initialised, input RGB 0-255 of any size.

    The [-1, 1] scaling InceptionV3 was trained on is a layer of the network,
    so weights files for ``keras.applications.InceptionV3(include_top=top)``
    (legacy ``.h5`` or Keras 3 ``.weights.h5``) load into it unchanged.

    Args:
        top: keep the classifier: global average pooling and the 1000-class
            ``predictions`` layer, here without its softmax (class scores).
    """
    rgb = keras.Input(shape=(None, None, 3), name="rgb_0_255")
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rgb_to_unit_range")(rgb)
    return keras.applications.InceptionV3(
        include_top=top, weights=None, input_tensor=scaled, classifier_activation=None
    )


def build_inception_v3(
    layers: Iterable[str] | str | None = None, network: keras.Model | None = None
) -> Backbone:
    """InceptionV3 cut at the requested ``mixedN`` layers.

    Args:
        layers: names among ``mixed0`` ... ``mixed10``; None for the default.
        network: a model from :func:`inception_v3_network` with weights loaded
            (with ``top=True`` for ``predictions``); None builds one with random
            weights (for tests).

    Returns:
        The backbone; the model computes only up to the deepest requested layer.
    """
    chosen = check_layers("inception_v3", layers)
    top = CLASSIFIER_LAYERS["inception_v3"] in chosen
    net = inception_v3_network(top) if network is None else network
    if top and CLASSIFIER_LAYERS["inception_v3"] not in [la.name for la in net.layers]:
        raise InputError("inception_v3 predictions need the weights with the classifier (top)")
    outputs = [net.get_layer(name).output for name in chosen]
    model = dream_model(net.inputs[0], outputs, "inception_v3_dream")
    return Backbone("inception_v3", chosen, model, INCEPTION_V3_MIN_SIZE, ALL_BACKENDS)


# ------------------------------------------------------------------- GoogLeNet


class GraphDefLayer(keras.layers.Layer):
    """Runs a frozen TensorFlow graph (as a TF2 concrete function) inside a Keras model.

    Input RGB 0-255; the graph is fed RGB minus :data:`GOOGLENET_MEAN`.
    TensorFlow backend only; always float32, since the frozen graph is; it
    cannot be serialised or cloned (the graph is not part of its config).
    """

    def __init__(self, function, **kwargs):
        super().__init__(trainable=False, dtype="float32", **kwargs)
        self._function = function

    def call(self, rgb):
        return list(self._function(rgb - GOOGLENET_MEAN))


def _parse_graph_def(graph_bytes: bytes):
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(graph_bytes)
    except (DecodeError, RuntimeWarning, TypeError):
        raise InputError("googlenet weights are not a TensorFlow GraphDef (.pb)") from None
    return graph_def


def _graph_function(graph_def, chosen: tuple[str, ...]):
    """A concrete function ``f(NHWC float32 input) -> [tensors]`` pruned to ``chosen``."""
    import tensorflow as tf

    names = {node.name for node in graph_def.node}
    if "input" not in names:
        raise InputError("googlenet graph has no node named 'input'")
    missing = [layer for layer in chosen if layer not in names]
    if missing:
        raise InputError(f"googlenet graph has no node {missing[0]!r}")

    def imported(x):
        return tf.graph_util.import_graph_def(
            graph_def,
            input_map={"input:0": x},
            return_elements=[f"{layer}:0" for layer in chosen],
            name="inception5h",
        )

    spec = tf.TensorSpec((None, None, None, 3), tf.float32)
    wrapped = tf.compat.v1.wrap_function(imported, [spec])
    # Pruning keeps only the ops between the input and the requested layers.
    return wrapped.prune(wrapped.inputs[0], wrapped.outputs)


def build_googlenet(graph_bytes: bytes, layers: Iterable[str] | str | None = None) -> Backbone:
    """GoogLeNet (inception5h ``tensorflow_inception_graph.pb``) cut at the requested tensors.

    Args:
        graph_bytes: the serialised GraphDef; its placeholder is ``input``.
        layers: tensor names such as ``mixed4c`` or ``mixed4d_3x3_bottleneck_pre_relu``.

    Returns:
        The backbone (TensorFlow backend only).

    Raises:
        InputError: not on the TensorFlow backend, unknown layer, or a bad graph.
    """
    check_backend("googlenet")
    chosen = check_layers("googlenet", layers)
    function = _graph_function(_parse_graph_def(graph_bytes), chosen)
    rgb = keras.Input(shape=(None, None, 3), name="rgb_0_255")
    outputs = GraphDefLayer(function, name="inception5h")(rgb)
    model = dream_model(rgb, outputs, "googlenet_dream")
    stride = _GOOGLENET_STRIDES[_deepest("googlenet", chosen)]
    return Backbone("googlenet", chosen, model, stride, _BACKENDS["googlenet"])


# ----------------------------------------------------------- EfficientNet-Lite0


def build_efficientnet_lite0(state, layers: Iterable[str] | str | None = None) -> Backbone:
    """EfficientNet-Lite0 (an ImageNet classifier, ``logits`` its class scores) cut at ``layers``.

    Args:
        state: its PyTorch state dict as arrays (see :mod:`dreamstream.core.efficientnet`).
        layers: names among ``stage1`` ... ``stage7``, ``head``, ``logits``; None: the default.
    """
    chosen = check_layers("efficientnet_lite0", layers)
    model, chosen = efficientnet.build_efficientnet_lite0(state, chosen)
    stride = efficientnet.STRIDES[_deepest("efficientnet_lite0", chosen)]
    return Backbone("efficientnet_lite0", chosen, model, stride, ALL_BACKENDS)
