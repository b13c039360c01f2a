"""VGG19 (configuration E of Simonyan & Zisserman 2015) from weights in memory.

The network of Gatys et al.'s neural style. Its input, like every backbone's:
``float32`` NHWC **RGB 0-255**; the model itself subtracts the RGB mean the
weights were trained with (MatConvNet's ``normalization.averageImage``):
MatConvNet's VGG models take RGB, not Caffe's BGR. Output: a list of NHWC
activations, one per requested layer. ``dreamstream.stream.vgg19_mat`` reads
the MatConvNet file.
"""

from __future__ import annotations

from collections.abc import Iterable

import keras
import numpy as np
from keras import ops

from dreamstream.core.errors import InputError
from dreamstream.core.models import ALL_BACKENDS, Backbone, check_conv_weights, dream_model

# (block, number of 3x3 convolutions, filters); a 2x2 pool closes each block.
VGG19_TABLE: tuple[tuple[int, int, int], ...] = (
    (1, 2, 64),
    (2, 2, 128),
    (3, 4, 256),
    (4, 4, 512),
    (5, 4, 512),
)
IMAGENET_RGB_MEAN = (123.68, 116.779, 103.939)


def conv_names() -> tuple[str, ...]:
    """The 16 convolutions in network order: ``block1_conv1`` ... ``block5_conv4``."""
    return tuple(f"block{b}_conv{i}" for b, convs, _ in VGG19_TABLE for i in range(1, convs + 1))


def conv_shapes() -> dict[str, tuple[int, int, int, int]]:
    """Kernel shape (3, 3, in, out) of each convolution."""
    shapes, cin = {}, 3
    for b, convs, filters in VGG19_TABLE:
        for i in range(1, convs + 1):
            shapes[f"block{b}_conv{i}"] = (3, 3, cin, filters)
            cin = filters
    return shapes


def needed_convs(layers: Iterable[str]) -> tuple[str, ...]:
    """The convolutions a network cut at ``layers`` needs, in order.

    Raises:
        InputError: a name that is not a VGG19 convolution, or no layer.
    """
    names = conv_names()
    chosen = tuple(layers)
    if not chosen:
        raise InputError("vgg19: no layer requested")
    for layer in chosen:
        if layer not in names:
            raise InputError(f"vgg19 has no layer {layer!r}; valid layers: {', '.join(names)}")
    return names[: max(names.index(n) for n in chosen) + 1]


class MeanRGBInput(keras.layers.Layer):
    """RGB 0-255 in, RGB minus the training mean out."""

    def __init__(self, mean=IMAGENET_RGB_MEAN, **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)

    def call(self, rgb):
        return rgb - ops.convert_to_tensor(self.mean, dtype=rgb.dtype)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean}


def build_vgg19(
    weights: dict[str, tuple[np.ndarray, np.ndarray]],
    layers: Iterable[str],
    mean_rgb=IMAGENET_RGB_MEAN,
) -> Backbone:
    """VGG19 convolutions (max pooling) cut after the deepest of ``layers``.

    Args:
        weights: ``{"block1_conv1": (kernel 3x3xInxOut, bias Out), ...}`` for every
            convolution up to the deepest requested layer.
        layers: convolution names, e.g. ``block4_conv2``, in output order.
        mean_rgb: the RGB mean subtracted from the input.

    Raises:
        InputError: an unknown layer, missing or misshapen weights.
    """
    chosen = tuple(layers)
    needed = needed_convs(chosen)
    shapes = conv_shapes()
    rgb = keras.Input(shape=(None, None, 3), name="rgb_0_255")
    x = MeanRGBInput(mean_rgb, name="rgb_minus_mean")(rgb)
    outputs = {}
    for name in needed:
        if name not in weights:
            raise InputError(f"vgg19 weights lack {name}")
        kernel, bias = check_conv_weights(name, weights[name], shapes[name], "vgg19")
        if name.endswith("_conv1") and name != "block1_conv1":
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"before_{name}")(x)
        conv = keras.layers.Conv2D(
            shapes[name][-1], 3, padding="same", activation="relu", name=name
        )
        x = outputs[name] = conv(x)
        conv.set_weights([kernel, bias])
    model = dream_model(rgb, [outputs[n] for n in chosen], "vgg19")
    stride = 2 ** (int(needed[-1][5]) - 1)
    return Backbone("vgg19", chosen, model, stride, ALL_BACKENDS)
