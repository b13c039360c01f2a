"""Feed-forward style networks in Keras 3, built from in-memory weight arrays.

Three networks, each described as a table of layers that reads like its paper:

- :func:`build_multistyle26`: the 26-style network of Dumoulin, Shlens and Kudlur
  (2017), whose instance norms take gamma/beta as the style weights times
  per-style tables (conditional instance normalisation).
- :func:`build_style_predictor`: Magenta's MobileNetV2 style predictor (Ghiasi
  et al. 2017) mapping a 256x256 style picture to a 100-value style vector.
- :func:`build_arbitrary_transformer`: Magenta's transformer whose instance
  norms take gamma/beta as 1x1 projections of that 100-value vector.

Conventions for every network here: images are ``float32`` NHWC, **RGB, range
0-1**, in and out. Weights come as a ``dict[str, np.ndarray]`` whose kernels are
already in Keras layout (``kh, kw, in, out``; depthwise ``kh, kw, channels, 1``);
reading and converting weight files is ``dreamstream.stream.weights.style``'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from dreamstream.core.backend import compile_forward, to_numpy
from dreamstream.core.params import NUM_STYLES

# Re-exported: the sizes and kernel rewrites belong to these networks.
from dreamstream.core.stylekernels import (  # noqa: F401
    NORM_EPS,
    PREDICTOR_SIZE,
    STRIDE,
    STYLE_DIM,
    phase_kernel,
    upsample_kernel,
)

Weights = Mapping[str, np.ndarray]


class ReflectPad(layers.Layer):
    """Pads height and width by ``pad`` pixels on each side (NHWC).

    ``mode="reflect"`` mirrors without repeating the edge; ``"symmetric"``
    repeats it (with ``pad=1``: the edge pixel copied once).
    """

    def __init__(self, pad: int, mode: str = "reflect", **kwargs):
        super().__init__(**kwargs)
        self.pad, self.mode = int(pad), mode

    def call(self, x):
        p = self.pad
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode=self.mode)

    def compute_output_shape(self, shape):
        h, w = (None if n is None else n + 2 * self.pad for n in shape[1:3])
        return (shape[0], h, w, shape[3])

    def get_config(self):
        return {**super().get_config(), "pad": self.pad, "mode": self.mode}


class ConditionalInstanceNorm(layers.Layer):
    """Instance norm whose scale and shift are affine functions of a style vector.

    ``gamma = style @ gamma_w + gamma_b`` and likewise ``beta``, one row per
    sample, so a batch may mix styles. With one-hot (or blend) ``style`` and zero
    biases this is Dumoulin's conditional instance norm; with Magenta's 100-value
    vector it is the projected norm of Ghiasi et al. Input and output are NHWC.
    """

    def __init__(self, channels: int, style_dim: int, eps: float = NORM_EPS, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.style_dim, self.eps = int(channels), int(style_dim), float(eps)
        shape_w, shape_b = (self.style_dim, self.channels), (self.channels,)
        self.gamma_w = self.add_weight(shape=shape_w, name="gamma_w", trainable=False)
        self.gamma_b = self.add_weight(shape=shape_b, name="gamma_b", trainable=False)
        self.beta_w = self.add_weight(shape=shape_w, name="beta_w", trainable=False)
        self.beta_b = self.add_weight(shape=shape_b, name="beta_b", trainable=False)

    def call(self, x, style):
        gamma = ops.matmul(style, self.gamma_w) + self.gamma_b
        beta = ops.matmul(style, self.beta_w) + self.beta_b
        gamma = ops.reshape(gamma, (-1, 1, 1, self.channels))
        beta = ops.reshape(beta, (-1, 1, 1, self.channels))
        # Two passes (mean, then mean of squared deviations) as the graphs do:
        # E[x^2] - E[x]^2 loses digits on the large first-layer activations.
        centred = x - ops.mean(x, axis=(1, 2), keepdims=True)
        var = ops.mean(centred * centred, axis=(1, 2), keepdims=True)
        return centred * (ops.rsqrt(var + self.eps) * gamma) + beta

    def compute_output_shape(self, x_shape, style_shape):
        return x_shape

    def get_config(self):
        extra = {"channels": self.channels, "style_dim": self.style_dim, "eps": self.eps}
        return {**super().get_config(), **extra}


class SpaceToDepth(layers.Layer):
    """Folds each 2x2 pixel block into channels, (p, q, c) order; H and W must be even."""

    def call(self, x):
        b, h, w, c = ops.shape(x)
        x = ops.reshape(x, (b, h // 2, 2, w // 2, 2, c))
        return ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (b, h // 2, w // 2, 4 * c))

    def compute_output_shape(self, shape):
        h, w = (None if n is None else n // 2 for n in shape[1:3])
        return (shape[0], h, w, 4 * shape[3])


class DepthToSpace(layers.Layer):
    """The inverse of :class:`SpaceToDepth`: channels (a, b, c) unfold into 2x2 blocks."""

    def call(self, x):
        b, h, w, c4 = ops.shape(x)
        x = ops.reshape(x, (b, h, w, 2, 2, c4 // 4))
        return ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (b, 2 * h, 2 * w, c4 // 4))

    def compute_output_shape(self, shape):
        h, w = (None if n is None else n * 2 for n in shape[1:3])
        return (shape[0], h, w, shape[3] // 4)


def _get(weights: Weights, key: str, shape: tuple) -> np.ndarray:
    """``weights[key]`` as float32, checked against the shape the layer needs."""
    if key not in weights:
        raise KeyError(f"style network weights lack {key!r}")
    value = np.asarray(weights[key], dtype=np.float32)
    if value.shape != tuple(shape):
        raise ValueError(f"style weight {key!r} has shape {value.shape}, expected {shape}")
    return value


def _conv(x, weights: Weights, name: str, kernel: int, stride=1, bias=False, upsample=False):
    """Reflect pad (half the kernel) then a valid convolution, as both graphs do.

    With ``upsample`` a nearest x2 upsample comes first. Two rewrites keep the
    sums and speed up the CPU: 9x9 convolutions over more than 3 channels run as
    :func:`phase_kernel` convolutions on 2x2 blocks (on the RGB input it measured
    no faster), upsample-then-3x3 runs as :func:`upsample_kernel`.
    """
    cin = x.shape[-1]
    w = _get(weights, f"{name}.w", (kernel, kernel, cin, weights[f"{name}.w"].shape[-1]))
    values = [w] + ([_get(weights, f"{name}.b", (w.shape[-1],))] if bias else [])
    blocked = upsample or (kernel == 9 and stride == 1 and cin > 3)
    if upsample:
        # After a x2 upsample, reflecting by one pixel reads the edge pixel again.
        values[0], x = upsample_kernel(w), ReflectPad(1, "symmetric", name=f"{name}.pad")(x)
    else:
        x = ReflectPad(kernel // 2, name=f"{name}.pad")(x)
        if blocked:
            values[0], x = phase_kernel(w), SpaceToDepth(name=f"{name}.s2d")(x)
    if blocked:  # one bias per output phase
        values[1:] = [np.tile(b, 4) for b in values[1:]]
    conv = layers.Conv2D(
        values[0].shape[-1], values[0].shape[0], strides=stride, use_bias=bias, name=name
    )
    y = conv(x)
    conv.set_weights(values)
    return DepthToSpace(name=f"{name}.d2s")(y) if blocked else y


def _norm(x, style, weights: Weights, name: str, style_dim: int, projected: bool):
    """A :class:`ConditionalInstanceNorm` loaded from ``{name}.norm.*`` arrays."""
    channels = x.shape[-1]
    norm = ConditionalInstanceNorm(channels, style_dim, name=f"{name}.norm")
    y = norm(x, style)
    w_shape, b_shape = (style_dim, channels), (channels,)
    g = _get(weights, f"{name}.norm.gamma", w_shape)
    b = _get(weights, f"{name}.norm.beta", w_shape)
    zeros = np.zeros(b_shape, np.float32)
    gb = _get(weights, f"{name}.norm.gamma_b", b_shape) if projected else zeros
    bb = _get(weights, f"{name}.norm.beta_b", b_shape) if projected else zeros
    norm.set_weights([g, gb, b, bb])
    return y


def _transformer(image, style, weights: Weights, *, projected: bool, n_res: int):
    """The shared body: contract (9x9, two stride-2 3x3), residuals, expand, sigmoid.

    ``projected`` selects Magenta's variant: biased convolutions, no norm in the
    contracting path, 100-value projections in the norms (Dumoulin's network has
    norms everywhere and no biases).
    """
    dim = style.shape[-1]

    def conv_norm(x, name, kernel, stride=1, act="relu", norm=True, upsample=False):
        x = _conv(x, weights, name, kernel, stride, bias=projected, upsample=upsample)
        if norm:
            x = _norm(x, style, weights, name, dim, projected)
        return layers.Activation(act, name=f"{name}.act")(x) if act else x

    x = conv_norm(image, "contract.0", 9, norm=not projected)
    x = conv_norm(x, "contract.1", 3, 2, norm=not projected)
    x = conv_norm(x, "contract.2", 3, 2, norm=not projected)
    for r in range(n_res):
        y = conv_norm(x, f"res.{r}.0", 3)
        y = conv_norm(y, f"res.{r}.1", 3, act=None)
        x = layers.Add(name=f"res.{r}.add")([x, y])
    x = conv_norm(x, "expand.0", 3, upsample=True)
    x = conv_norm(x, "expand.1", 3, upsample=True)
    return conv_norm(x, "expand.2", 9, act="sigmoid")


def _frozen(model: keras.Model) -> keras.Model:
    """Marks every weight as non-trainable: these networks only ever run forward."""
    model.trainable = False
    return model


def build_multistyle26(weights: Weights) -> keras.Model:
    """The 26-style network: ``[image (B,H,W,3) 0-1, style (B,26)] -> (B,H,W,3) 0-1``.

    Args:
        weights: ``contract.{0,1,2}``, ``res.{0..5}.{0,1}``, ``expand.{0,1,2}``,
            each with ``.w`` (kernel, Keras layout), ``.norm.gamma`` and
            ``.norm.beta`` (26 x channels tables).

    Returns:
        A Keras model; H and W must be multiples of :data:`STRIDE`, at least 8.
    """
    image = keras.Input((None, None, 3), name="image")
    style = keras.Input((NUM_STYLES,), name="style")
    out = _transformer(image, style, weights, projected=False, n_res=6)
    return _frozen(keras.Model([image, style], out, name="multistyle26"))


def build_arbitrary_transformer(weights: Weights) -> keras.Model:
    """Magenta's transformer: ``[image (B,H,W,3) 0-1, style (B,100)] -> (B,H,W,3) 0-1``.

    Args:
        weights: as for :func:`build_multistyle26` plus ``.b`` biases on every
            convolution, five residual blocks, no norms on ``contract.*``, and
            ``.norm.gamma``/``.norm.beta`` as 100 x channels projections with
            ``.norm.gamma_b``/``.norm.beta_b`` biases.

    Returns:
        A Keras model; H and W must be multiples of :data:`STRIDE`, at least 8.
    """
    image = keras.Input((None, None, 3), name="image")
    style = keras.Input((STYLE_DIM,), name="style")
    out = _transformer(image, style, weights, projected=True, n_res=5)
    return _frozen(keras.Model([image, style], out, name="arbitrary_transformer"))


# MobileNetV2 inverted residual blocks: (expansion, output channels, repeats, first stride).
_MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
_MOBILENET_V2 += ((6, 160, 3, 2), (6, 320, 1, 1))


def _loaded(layer, x, weights: Weights, name: str):
    """Calls ``layer`` on ``x`` (building it), then loads ``{name}.w``/``.b`` into it."""
    y = layer(x)
    shapes = [tuple(v.shape) for v in layer.weights]
    layer.set_weights([_get(weights, f"{name}.{k}", s) for k, s in zip("wb", shapes, strict=True)])
    return y


def _relu6_conv(x, weights: Weights, name: str, kernel: int = 1, stride: int = 1, relu=True):
    """A "same"-padded convolution (depthwise when the kernel says so) and ReLU6."""
    if name.endswith("depthwise"):
        layer = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", name=name)
    else:
        filters = weights[f"{name}.w"].shape[-1]
        layer = layers.Conv2D(filters, kernel, strides=stride, padding="same", name=name)
    x = _loaded(layer, x, weights, name)
    return layers.ReLU(6.0, name=f"{name}.relu6")(x) if relu else x


def _inverted_residual(x, weights: Weights, name: str, expansion: int, stride: int):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, linear 1x1 project, skip if shapes match."""
    y = _relu6_conv(x, weights, f"{name}.expand") if expansion != 1 else x
    y = _relu6_conv(y, weights, f"{name}.depthwise", 3, stride)
    y = _relu6_conv(y, weights, f"{name}.project", relu=False)
    if stride == 1 and x.shape[-1] == y.shape[-1]:
        y = layers.Add(name=f"{name}.add")([x, y])
    return y


def build_style_predictor(weights: Weights) -> keras.Model:
    """Magenta's style predictor: ``image (B,256,256,3) 0-1 -> style (B,100)``.

    Args:
        weights: ``conv.{w,b}``, ``block{n}.{expand,depthwise,project}.{w,b}``
            for n = 0..16 (block 0 has no expand), ``conv_1.{w,b}`` and
            ``bottleneck.{w,b}`` (1280 x 100 dense).
    """
    image = keras.Input((None, None, 3), name="style_image")
    x = _relu6_conv(image, weights, "conv", 3, 2)
    n = 0
    for expansion, _channels, repeats, stride in _MOBILENET_V2:
        for i in range(repeats):
            x = _inverted_residual(x, weights, f"block{n}", expansion, stride if i == 0 else 1)
            n += 1
    x = _relu6_conv(x, weights, "conv_1")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = _loaded(layers.Dense(STYLE_DIM, name="bottleneck"), x, weights, "bottleneck")
    return _frozen(keras.Model(image, out, name="style_predictor"))


@dataclass(frozen=True)
class StyleNet:
    """A built network and its compiled forward function (one trace per input shape).

    ``kind`` is ``"multistyle26"``, ``"transformer"`` or ``"predictor"``; call it
    with NumPy float32 arrays as the model's docstring says; it returns NumPy.
    """

    kind: str
    model: keras.Model
    forward: Callable

    @classmethod
    def compile(cls, kind: str, model: keras.Model, *, xla: bool = True) -> StyleNet:
        """Wraps ``model`` with :func:`dreamstream.core.backend.compile_forward`."""
        return cls(kind, model, compile_forward(model, xla=xla))

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        return to_numpy(self.forward(*inputs))

    @property
    def style_dim(self) -> int:
        """Length of the style vector the network takes (26 or 100)."""
        return STYLE_DIM if self.kind != "multistyle26" else NUM_STYLES
