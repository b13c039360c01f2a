"""Neural style by optimisation (Gatys et al. 2015) with Ruder et al.'s temporal loss (2016).

The output image itself is optimised, with Adam, so that

- its features at one deeper layer match the content frame's (content loss),
- the Gram matrices of its features at five layers match those of the style
  picture (style loss),
- neighbouring pixels differ little (total variation), and
- for a video frame, it stays close to the previous output warped along the
  optical flow wherever that flow is reliable (temporal loss, Ruder et al.);
  optionally also to outputs several frames back, each pixel to the most
  recent one where it was visible (Ruder et al.'s long-term loss).

Losses are *relative*: each squared error is divided by the squared size of
its target, so the same weights suit networks whose activations differ in
scale (the edge-tuned and ImageNet VGG16, the MatConvNet VGG19). The style
term is the mean relative Gram distance over the style layers, the measure
the benchmarks report too (:func:`gram_distance`).

A frame is optimised coarse to fine: ``levels`` sizes, each half the next,
the smallest first; each level starts from the upsampled result of the one
below. Frames carried along the flow start at full size from the warped
previous output and take ``iterations_next`` steps.

Images: ``uint8`` ``HxWx3`` RGB in and out; inside, ``float32`` RGB 0-255.
Flow masks: ``HxW`` float32 in [0, 1], 1 = reliable. No files, no clocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from keras import ops

from dreamstream.core import backend
from dreamstream.core.errors import InputError
from dreamstream.core.params import ArtParams

__all__ = [
    "ArtParams",
    "Painter",
    "exclusive_masks",
    "gram",
    "gram_distance",
    "long_term_loss",
    "style_loss",
    "temporal_loss",
]

STYLE_LAYERS: tuple[str, ...] = (
    "block1_conv1",
    "block2_conv1",
    "block3_conv1",
    "block4_conv1",
    "block5_conv1",
)
CONTENT_LAYER = "block4_conv2"
LAYERS: tuple[str, ...] = (*STYLE_LAYERS, CONTENT_LAYER)
# Smallest side optimised at a coarse level: below it the deepest style layer
# (stride 16) has too few positions for a meaningful Gram matrix.
MIN_LEVEL_SIDE = 64
_EPS = 1e-8


# ---------------------------------------------------------------------- losses


def gram(features):
    """Gram matrices of NHWC features, normalised by the number of positions.

    Args:
        features: ``(B, H, W, C)`` activations.

    Returns:
        ``(B, C, C)`` float32: ``G[c, d] = mean over positions of F[c] * F[d]``.
        Permuting the positions leaves it unchanged: it keeps which features
        occur together, not where (Gatys et al. 2015).
    """
    f = ops.cast(features, "float32")
    b, h, w, c = ops.shape(f)
    flat = ops.reshape(f, (b, h * w, c))
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / ops.cast(h * w, "float32")


def relative_error(value, target):
    """``sum((value - target)^2) / sum(target^2)`` per batch item: 0 = equal, 1 = as far as zero."""
    axes = tuple(range(1, len(ops.shape(target))))
    diff = ops.sum(ops.square(ops.cast(value, "float32") - target), axis=axes)
    return diff / (ops.sum(ops.square(target), axis=axes) + _EPS)


def style_loss(features: list, grams: list):
    """Mean relative Gram distance over the style layers, per batch item."""
    terms = [relative_error(gram(f), g) for f, g in zip(features, grams, strict=True)]
    return ops.mean(ops.stack(terms, axis=0), axis=0)


def total_variation(x):
    """Mean squared difference of neighbouring pixels of NHWC ``x``, in (0-1 units)^2."""
    dy = ops.mean(ops.square(x[:, 1:, :, :] - x[:, :-1, :, :]), axis=(1, 2, 3))
    dx = ops.mean(ops.square(x[:, :, 1:, :] - x[:, :, :-1, :]), axis=(1, 2, 3))
    return (dx + dy) / (255.0 * 255.0)


def temporal_loss(x, warped, mask):
    """Ruder et al.'s short-term temporal loss: mean of mask * (x - warped)^2, 0-1 units.

    Args:
        x: ``(B, H, W, 3)`` the image being optimised, 0-255.
        warped: ``(B, H, W, 3)`` the previous output warped along the flow, 0-255.
        mask: ``(B, H, W)`` in [0, 1]; 1 where the flow is reliable, 0 where it is
            not (disocclusions, motion boundaries) or where nothing is carried.

    Returns:
        ``(B,)``: zero when ``x`` equals ``warped`` wherever ``mask`` is non-zero.
        Extra axes before H and W broadcast (:func:`long_term_loss` passes K
        earlier frames at once) and stay in the result.
    """
    sq = ops.sum(ops.square(x - warped), axis=-1) / 3.0
    return ops.mean(mask * sq, axis=(-2, -1)) / (255.0 * 255.0)


def exclusive_masks(masks):
    """Ruder et al.'s long-term weights: each pixel goes to the most recent frame that saw it.

    ``c_long[j] = max(c[j] - sum of c[k] over the more recent k, 0)``
    (Ruder, Dosovitskiy and Brox 2016, long-term consistency).

    Args:
        masks: ``(B, K, H, W)`` consistency masks in [0, 1] of the current frame
            with K earlier ones, the most recent first.

    Returns:
        ``(B, K, H, W)``: where the most recent frame is reliable, the older
        ones get no weight; an occluded pixel falls to the newest frame in
        which it was visible.
    """
    masks = ops.cast(masks, "float32")
    before = ops.cumsum(masks, axis=1) - masks  # the weight of the more recent frames
    return ops.maximum(masks - before, 0.0)


def long_term_loss(x, warped, masks):
    """Ruder et al.'s long-term temporal loss: the sum over K earlier outputs, 0-1 units.

    Args:
        x: ``(B, H, W, 3)`` the image being optimised, 0-255.
        warped: ``(B, K, H, W, 3)`` K earlier outputs, each warped to the current
            frame along the flow between the two, the most recent first, 0-255.
        masks: ``(B, K, H, W)`` their consistency masks in [0, 1] (as measured,
            not yet exclusive: :func:`exclusive_masks` is applied here).

    Returns:
        ``(B,)``: the sum of :func:`temporal_loss` of each earlier output under
        its exclusive mask; zero when ``x`` equals each warped output inside
        that output's exclusive mask. With K = 1 it is the short-term loss.
    """
    per_frame = temporal_loss(ops.expand_dims(x, 1), warped, exclusive_masks(masks))
    return ops.sum(per_frame, axis=1)


def gram_distance(features: list, grams: list) -> float:
    """The style measure: mean relative Gram distance of one image's features to ``grams``."""
    return float(backend.to_numpy(ops.mean(style_loss(features, grams))))


# ------------------------------------------------------------------ the painter


@dataclass
class _Targets:
    """What one level's loss compares against (backend tensors, batch of one)."""

    grams: list
    content: object


class Painter:
    """Paints frames in the style of one picture by optimisation.

    Args:
        backbone: has ``.model`` (float32 NHWC RGB 0-255 in; a list of
            activations out, one per name in ``.layers``) and ``.layers``,
            which must include :data:`STYLE_LAYERS` and :data:`CONTENT_LAYER`.
        style: the style picture, uint8 ``HxWx3`` RGB.
        params: optimisation settings.
        model: the network to differentiate (e.g. a lower-precision copy of
            ``backbone.model``); default ``backbone.model``.
        xla: compile the gradient with XLA on TensorFlow.

    Raises:
        InputError: the backbone lacks a needed layer, or a bad style picture.
    """

    def __init__(
        self,
        backbone,
        style: np.ndarray,
        params: ArtParams | None = None,
        *,
        model=None,
        xla: bool = False,
    ):
        self.params = params or ArtParams()
        missing = [n for n in LAYERS if n not in backbone.layers]
        if missing:
            raise InputError(
                f"backbone {backbone.name} lacks layer {missing[0]} for style by optimisation"
            )
        self._index = [list(backbone.layers).index(n) for n in LAYERS]
        self.style = _check_rgb(style, "style picture")
        self._forward = backend.compile_forward(backbone.model, xla=xla)
        self._grad = backend.compile_input_gradient(model or backbone.model, self._loss, xla=xla)
        self._grams: dict[tuple[int, int], list] = {}
        self._losses: list = []

    @property
    def losses(self) -> list[float]:
        """The total loss before each step of the last call, level after level."""
        return [float(backend.to_numpy(v)) for v in self._losses]

    def traces(self) -> int:
        """How often the gradient was traced (TF) or compiled (JAX) so far."""
        return int(self._grad.trace_count())

    # -- features and targets

    def features(self, image) -> list:
        """Features at :data:`LAYERS` (style layers, then the content layer) of one float image."""
        outs = self._forward(ops.expand_dims(ops.convert_to_tensor(image, "float32"), 0))
        outs = outs if isinstance(outs, list | tuple) else [outs]
        return [outs[i] for i in self._index]

    def style_grams(self, size: tuple[int, int]) -> list:
        """Gram matrices of the style picture scaled to an output of ``size`` (h, w)."""
        if size not in self._grams:
            style = _scaled_style(self.style, size, self.params.style_scale)
            self._grams[size] = [gram(f) for f in self.features(style)[: len(STYLE_LAYERS)]]
        return self._grams[size]

    def style_distance(self, image: np.ndarray) -> float:
        """Mean relative Gram distance of ``image`` (uint8 RGB) to the style at its size."""
        img = _check_rgb(image, "image").astype("float32")
        feats = self.features(img)[: len(STYLE_LAYERS)]
        return gram_distance(feats, self.style_grams(img.shape[:2]))

    # -- the loss, in keras.ops

    def _loss(self, outputs, x, grams, content, warped, masks):
        p = self.params
        picked = [outputs[i] for i in self._index]
        loss = p.style_weight * style_loss(picked[: len(STYLE_LAYERS)], grams)
        loss = loss + p.content_weight * relative_error(picked[-1], content)
        loss = loss + p.tv_weight * total_variation(x)
        return loss + p.temporal_weight * long_term_loss(x, warped, masks)

    # -- optimisation

    def __call__(
        self,
        frame: np.ndarray,
        init: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        iterations: int | None = None,
        older: list | tuple = (),
    ) -> np.ndarray:
        """Paint one frame.

        Args:
            frame: the content, uint8 ``HxWx3`` RGB.
            init: the previous output warped along the flow (float32 or uint8
                ``HxWx3`` RGB 0-255), or None for a frame started afresh.
            mask: ``HxW`` float32 [0, 1] reliability of ``init``; needs ``init``.
            iterations: steps instead of the params' (``iterations`` or
                ``iterations_next``).
            older: for the long-term loss, earlier outputs than ``init``'s, the
                most recent first: each a pair (output warped to this frame
                along the flow between the two, ``HxW`` consistency mask) like
                ``init`` and ``mask``, or None for an empty slot (weight zero;
                a constant number of slots keeps one compiled gradient).
                Needs ``init``.

        Returns:
            uint8 ``HxWx3`` RGB, the size of ``frame``.
        """
        content = _check_rgb(frame, "frame").astype("float32")
        h, w = content.shape[:2]
        p = self.params
        self._losses = []
        if init is None:
            if older:
                raise InputError("older outputs for the long-term loss need init, the previous one")
            steps = p.iterations if iterations is None else int(iterations)
            x = self._coarse_to_fine(content, steps)
        else:
            start = _check_init(init, (h, w))
            pairs = [(start, _check_mask(mask, (h, w))), *_check_older(older, (h, w))]
            warped = np.stack([pair[0] for pair in pairs])
            masks = np.stack([pair[1] for pair in pairs])
            steps = p.iterations_next if iterations is None else int(iterations)
            x = self._optimise(ops.convert_to_tensor(start), content, steps, warped, masks)
        out = np.clip(backend.to_numpy(x), 0.0, 255.0)
        if p.preserve_color:
            out = _keep_colors(out, content)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    def _coarse_to_fine(self, content: np.ndarray, steps: int):
        sizes = level_sizes(*content.shape[:2], self.params.levels)
        x = None
        for size in sizes:
            level_content = _resize_np(content, size)
            x = ops.convert_to_tensor(level_content) if x is None else _resize(x, size)
            x = self._optimise(x, level_content, steps, None, None)
        return x

    def _optimise(self, x, content: np.ndarray, steps: int, warped, masks):
        """``steps`` Adam steps on ``x`` (HxWx3, 0-255) at the size of ``content``.

        ``warped`` ``(K, H, W, 3)`` and ``masks`` ``(K, H, W)``: the earlier outputs
        the temporal loss compares with, the most recent first; None for none.
        """
        h, w = content.shape[:2]
        grams = self.style_grams((h, w))
        target = self.features(content)[-1]
        if warped is None:  # nothing carried: a zero mask switches the temporal term off
            warped, masks = np.zeros((1, h, w, 3), "float32"), np.zeros((1, h, w), "float32")
        aux = (grams, target, warped[None], masks[None])
        adam = _Adam(x, self.params.learning_rate)
        for _ in range(steps):
            loss, grad = self._grad(ops.expand_dims(adam.x, 0), 1.0, *aux)
            self._losses.append(loss)  # kept on the device: no sync per step
            adam.step(grad[0])
        return adam.x


class _Adam:
    """Adam (Kingma and Ba 2015) on an image kept in 0-255, in ``keras.ops``."""

    def __init__(self, x, rate: float, beta1: float = 0.9, beta2: float = 0.999):
        self.x = ops.clip(ops.cast(x, "float32"), 0.0, 255.0)
        self.m = ops.zeros_like(self.x)
        self.v = ops.zeros_like(self.x)
        self.rate, self.b1, self.b2, self.t = rate, beta1, beta2, 0

    def step(self, grad) -> None:
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * ops.square(grad)
        rate = self.rate * math.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        update = rate * self.m / (ops.sqrt(self.v) + 1e-8)
        self.x = ops.clip(self.x - update, 0.0, 255.0)


# --------------------------------------------------------------------- helpers


def level_sizes(h: int, w: int, levels: int) -> list[tuple[int, int]]:
    """Coarse-to-fine sizes, smallest first, each about half the next; ends at (h, w).

    Levels whose shorter side would fall below :data:`MIN_LEVEL_SIDE` are left out.
    """
    sizes = [(h, w)]
    for k in range(1, levels):
        f = 0.5**k
        if min(h, w) * f < MIN_LEVEL_SIDE:
            break
        sizes.append((round(h * f), round(w * f)))
    return sizes[::-1]


def _scaled_style(style: np.ndarray, size: tuple[int, int], scale: float) -> np.ndarray:
    """The style picture resized so that its area is ``scale``^2 times the output's."""
    sh, sw = style.shape[:2]
    f = scale * math.sqrt(size[0] * size[1] / (sh * sw))
    target = (max(MIN_LEVEL_SIDE // 2, round(sh * f)), max(MIN_LEVEL_SIDE // 2, round(sw * f)))
    return _resize_np(style.astype("float32"), target)


def _resize(x, size: tuple[int, int]):
    """Bilinear resize of an ``HxWx3`` backend tensor."""
    return ops.image.resize(x[None], size, interpolation="bilinear", antialias=False)[0]


def _resize_np(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-averaged (shrinking) or bilinear (growing) resize of an ``HxWx3`` float array."""
    if tuple(x.shape[:2]) == tuple(size):
        return np.asarray(x, "float32")
    shrink = size[0] * size[1] < x.shape[0] * x.shape[1]
    out = ops.image.resize(np.asarray(x, "float32")[None], size, antialias=shrink)[0]
    return backend.to_numpy(out).astype("float32")


def _keep_colors(out: np.ndarray, content: np.ndarray) -> np.ndarray:
    from dreamstream.core.style import keep_colors

    return keep_colors(out / 255.0, content / 255.0) * 255.0


def _check_rgb(image: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"{name} must be uint8 HxWx3 RGB, got {arr.dtype} {arr.shape}")
    if min(arr.shape[:2]) < 16:
        raise InputError(f"{name} of {arr.shape[1]}x{arr.shape[0]} is too small; need 16 px a side")
    return arr


def _check_init(init: np.ndarray, size: tuple[int, int], name: str = "init") -> np.ndarray:
    arr = np.asarray(init, "float32")
    if arr.shape != (*size, 3) or not np.isfinite(arr).all():
        raise InputError(
            f"{name} must be finite {size[0]}x{size[1]}x3 like the frame, got {arr.shape}"
        )
    return arr


def _check_older(older, size: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The long-term loss's earlier outputs, checked; an empty slot becomes a zero mask."""
    empty = (np.zeros((*size, 3), "float32"), np.zeros(size, "float32"))
    pairs = []
    for item in older:
        if item is None:
            pairs.append(empty)
            continue
        warped, mask = item
        pairs.append((_check_init(warped, size, "older output"), _check_mask(mask, size)))
    return pairs


def _check_mask(mask: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    if mask is None:
        return np.ones(size, "float32")
    arr = np.asarray(mask, "float32")
    if arr.shape != size:
        raise InputError(f"mask must be {size[0]}x{size[1]} like the frame, got {arr.shape}")
    return np.clip(arr, 0.0, 1.0)
