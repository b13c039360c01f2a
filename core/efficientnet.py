"""EfficientNet-Lite0 (Tan & Le 2019, the mobile "Lite" variant): an ImageNet classifier.

The Lite variant drops squeeze-and-excitation and uses ReLU6, so its forward
pass reads like its table: a 3x3 stem of stride 2, seven stages of inverted
residual blocks (expand 1x1, depthwise kxk, project 1x1; a skip where the shape
holds), a 1x1 head to 1280 channels, global average pooling and a 1000-class
fully connected layer. Batch-norm epsilon 1e-3, TensorFlow's "same" padding.

Input as every backbone: float32 NHWC **RGB 0-255**; the network's own
convention, ``(x - 127) / 128``, is its first layer. The layers a dream can use
are the ends of the seven stages (``stage1`` ... ``stage7``), ``head`` and
``logits`` (the class scores before the softmax, for class dreams and
saliency). Weights come in as arrays, named as in the PyTorch state dict of
``efficientnet_pytorch`` (``_blocks.3._expand_conv.weight``, ...), with PyTorch's
layouts (OIHW kernels); :mod:`dreamstream.stream.weights.torch_pth` reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import keras
import numpy as np

from dreamstream.core.errors import InputError

# (repeats, kernel, first stride, expansion, in channels, out channels) per stage.
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
CLASSES = 1000
BN_EPSILON = 1e-3


def _strides() -> dict[str, int]:
    """Layer names in network order, each with its total stride."""
    out, stride = {}, 2  # the stem
    for n, (_, _, s, _, _, _) in enumerate(LITE0_STAGES, start=1):
        stride *= s
        out[f"stage{n}"] = stride
    out["head"] = stride
    out["logits"] = stride
    return out


STRIDES = _strides()
LAYERS = tuple(STRIDES)


def weight_shapes() -> dict[str, tuple[int, ...]]:
    """Every array the network reads, by state-dict name, with its PyTorch shape."""
    shapes = {"_conv_stem.weight": (32, 3, 3, 3), **_bn_shapes("_bn0", 32)}
    i = 0
    for repeats, k, _, e, cin, cout in LITE0_STAGES:
        for r in range(repeats):
            c_in = cin if r == 0 else cout
            key, mid = f"_blocks.{i}", c_in * e
            if e != 1:
                shapes[f"{key}._expand_conv.weight"] = (mid, c_in, 1, 1)
                shapes.update(_bn_shapes(f"{key}._bn0", mid))
            shapes[f"{key}._depthwise_conv.weight"] = (mid, 1, k, k)
            shapes.update(_bn_shapes(f"{key}._bn1", mid))
            shapes[f"{key}._project_conv.weight"] = (cout, mid, 1, 1)
            shapes.update(_bn_shapes(f"{key}._bn2", cout))
            i += 1
    shapes["_conv_head.weight"] = (1280, 320, 1, 1)
    shapes.update(_bn_shapes("_bn1", 1280))
    shapes.update({"_fc.weight": (CLASSES, 1280), "_fc.bias": (CLASSES,)})
    return shapes


def _bn_shapes(key: str, c: int) -> dict:
    return {f"{key}.{n}": (c,) for n in ("weight", "bias", "running_mean", "running_var")}


class _Array:
    """Reads state-dict arrays by name, checking shapes, naming what is wrong."""

    def __init__(self, state: Mapping[str, np.ndarray]):
        self.state = state

    def __call__(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in self.state:
            raise InputError(f"efficientnet_lite0 weights lack {name}")
        arr = np.asarray(self.state[name], dtype="float32")
        if arr.shape != shape:
            raise InputError(f"efficientnet_lite0 weights: {name} is {arr.shape}, expected {shape}")
        return arr


def _relu6(x):
    # A layer, not keras.ops.relu6: the dream clones the model into its precision,
    # and only layers can be cloned.
    return keras.layers.ReLU(max_value=6.0)(x)


def _conv(x, get, key, cin, cout, k, stride=1, depthwise=False):
    """A bias-free convolution whose OIHW PyTorch kernel becomes Keras's HWIO (HWC1 depthwise)."""
    if depthwise:
        w = get(f"{key}.weight", (cin, 1, k, k)).transpose(2, 3, 0, 1)
        layer = keras.layers.DepthwiseConv2D(k, stride, padding="same", use_bias=False)
    else:
        w = get(f"{key}.weight", (cout, cin, k, k)).transpose(2, 3, 1, 0)
        layer = keras.layers.Conv2D(cout, k, stride, padding="same", use_bias=False)
    x = layer(x)
    layer.set_weights([w])
    return x


def _bn(x, get, key, c):
    layer = keras.layers.BatchNormalization(epsilon=BN_EPSILON)
    x = layer(x)
    layer.set_weights(
        [get(f"{key}.{n}", (c,)) for n in ("weight", "bias", "running_mean", "running_var")]
    )
    return x


def _block(x, get, i, k, stride, expand, cin, cout):
    """Inverted residual block ``i``: expand, depthwise, project; a skip when shapes hold."""
    key, mid = f"_blocks.{i}", cin * expand
    h = x
    if expand != 1:
        h = _relu6(_bn(_conv(h, get, f"{key}._expand_conv", cin, mid, 1), get, f"{key}._bn0", mid))
    h = _conv(h, get, f"{key}._depthwise_conv", mid, mid, k, stride, depthwise=True)
    h = _relu6(_bn(h, get, f"{key}._bn1", mid))
    h = _bn(_conv(h, get, f"{key}._project_conv", mid, cout, 1), get, f"{key}._bn2", cout)
    return keras.layers.Add()([h, x]) if stride == 1 and cin == cout else h


def build_efficientnet_lite0(state: Mapping[str, np.ndarray], layers: Iterable[str] | None = None):
    """EfficientNet-Lite0 cut after the deepest requested layer.

    Args:
        state: the PyTorch state dict's arrays (see the module's doc).
        layers: names among :data:`LAYERS`; None: ``("logits",)``.

    Returns:
        ``(model, layers)``: a Keras model (RGB 0-255 in, a list of the requested
        layers' outputs) and the layer names in output order.

    Raises:
        InputError: an unknown layer, a missing or misshapen weight.
    """
    chosen = tuple(layers) if layers is not None else ("logits",)
    for name in chosen:
        if name not in STRIDES:
            raise InputError(
                f"efficientnet_lite0 has no layer {name!r}; valid: {', '.join(LAYERS)}"
            )
    deepest = max(chosen, key=LAYERS.index)
    get = _Array(state)
    rgb = keras.Input((None, None, 3), name="rgb_0_255")
    x = keras.layers.Rescaling(1 / 128.0, offset=-127.0 / 128.0, name="rgb_to_lite_range")(rgb)
    x = _relu6(_bn(_conv(x, get, "_conv_stem", 3, 32, 3, 2), get, "_bn0", 32))
    outs, i = {}, 0
    for n, (repeats, k, s, e, cin, cout) in enumerate(LITE0_STAGES, start=1):
        for r in range(repeats):
            x = _block(x, get, i, k, s if r == 0 else 1, e, cin if r == 0 else cout, cout)
            i += 1
        outs[f"stage{n}"] = x
        if deepest == f"stage{n}":
            return _model(rgb, outs, chosen), chosen
    x = outs["head"] = _relu6(_bn(_conv(x, get, "_conv_head", 320, 1280, 1), get, "_bn1", 1280))
    if deepest != "head":
        fc = keras.layers.Dense(CLASSES, name="logits")
        outs["logits"] = fc(keras.layers.GlobalAveragePooling2D()(x))
        fc.set_weights([get("_fc.weight", (CLASSES, 1280)).T, get("_fc.bias", (CLASSES,))])
    return _model(rgb, outs, chosen), chosen


def _model(rgb, outs: dict, chosen: tuple[str, ...]) -> keras.Model:
    """A model whose call returns the chosen outputs as a list (see ``models.dream_model``)."""
    model = keras.Model(rgb, [[outs[n] for n in chosen]], name="efficientnet_lite0_dream")
    model.trainable = False
    return model
