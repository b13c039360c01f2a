"""The dream's ascent in NumPy, around any gradient function, and the checks it shares.

:class:`dreamstream.core.dream.Dreamer` runs the ascent on a Keras backend's
tensors; :class:`NumpyAscent` runs the same algorithm (octaves, jittered
rolls, tiles, a normalised step; see :mod:`dreamstream.core.dream`) on NumPy
arrays around a gradient that something else computes, such as onnxruntime
with :mod:`dreamstream.core.dreamgraph`'s graph, so a dream can run without
importing Keras or TensorFlow. The differences are the resampling: OpenCV's
bilinear resize for upsampling (the same half-pixel sampling as Keras's) and
its area average where Keras would antialias a downsampling; a one-octave
dream whose frame is at least ``min_side`` is resized nowhere.

Images: ``uint8`` ``HxWx3`` RGB in and out; float images inside are
``float32`` RGB 0-255 ``HxWx3``. Nothing here is Keras, so the checks below
load no framework either.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.params import MIN_SIDE, DreamParams


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A uint8 picture as ``HxWx3`` RGB: grey ``HxW`` is repeated, alpha is dropped.

    Raises:
        InputError: not uint8, not HxW/HxWx1/HxWx3/HxWx4, or a side below MIN_SIDE.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise InputError(f"image must be uint8 RGB, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InputError(f"image must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")
    if min(arr.shape[:2]) < MIN_SIDE:
        h, w = arr.shape[:2]
        raise InputError(f"image {w}x{h} is too small to dream; need at least {MIN_SIDE} px a side")
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    return arr[:, :, :3]


def octave_sizes(h: int, w: int, octaves: int, scale: float, min_side: int) -> list:
    """Sizes ``(h, w)`` of the pyramid levels, largest first.

    Levels whose shorter side would fall below ``min_side`` are left out, so a
    small picture gets fewer octaves than asked for (at least one).
    """
    sizes = [(h, w)]
    for k in range(1, octaves):
        size = (round(h / scale**k), round(w / scale**k))
        if min(size) < min_side:
            break
        sizes.append(size)
    return sizes


def tile_bounds(n: int, tile: int) -> list:
    """Split ``range(n)`` into ``ceil(n / tile)`` near-equal spans ``(start, stop)``.

    Near-equal spans keep the number of distinct tile shapes (and so of
    compiled functions) at four at most per octave.
    """
    parts = max(1, math.ceil(n / tile))
    cuts = [round(i * n / parts) for i in range(parts + 1)]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def tile_groups(h: int, w: int, tile: int) -> dict:
    """The tiles of an ``h x w`` image grouped by shape: ``{(th, tw): [(rows, cols), ...]}``."""
    groups: dict = {}
    for r in tile_bounds(h, tile):
        for c in tile_bounds(w, tile):
            groups.setdefault((r[1] - r[0], c[1] - c[0]), []).append((r, c))
    return groups


def check_init(init: np.ndarray, size: tuple) -> np.ndarray:
    """A start image as float32 ``HxWx3`` of ``size``, finite."""
    arr = np.asarray(init, dtype="float32")
    if arr.shape != (*size, 3):
        raise InputError(
            f"init must be float32 {size[0]}x{size[1]}x3 like the frame, got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise InputError("init has NaN or infinite values")
    return arr


def check_gain(gain: np.ndarray | None, size: tuple) -> np.ndarray:
    """The step gain as float32 ``HxWx1`` (ones when ``gain`` is None)."""
    if gain is None:
        return np.ones((*size, 1), "float32")
    arr = np.asarray(gain, dtype="float32")
    if arr.shape != size:
        raise InputError(f"gain must be {size[0]}x{size[1]} like the frame, got {arr.shape}")
    if not (np.isfinite(arr).all() and (arr >= 0).all()):
        raise InputError("gain must be finite and >= 0")
    return arr[..., None]


def check_counts(steps: int, octaves: int) -> None:
    if steps < 0:
        raise InputError(f"steps must be >= 0, got {steps}")
    if octaves < 1:
        raise InputError(f"octaves must be >= 1, got {octaves}")


def check_step_size(step_size: float) -> float:
    if not (math.isfinite(step_size) and step_size > 0):
        raise InputError(f"step_size must be > 0, got {step_size!r}")
    return float(step_size)


def working_size(h: int, w: int, min_side: int) -> tuple:
    """The frame's size, or larger when its shorter side is below ``min_side``."""
    if min(h, w) >= min_side:
        return h, w
    f = min_side / min(h, w)
    return max(min_side, round(h * f)), max(min_side, round(w * f))


def _resize(img: np.ndarray, size: tuple, antialias: bool = False) -> np.ndarray:
    """``HxWxC`` float32 to ``size = (h, w)``: bilinear, or an area average to shrink smoothly."""
    if img.shape[:2] == tuple(size):
        return img
    shrinks = size[0] < img.shape[0] or size[1] < img.shape[1]
    method = cv2.INTER_AREA if antialias and shrinks else cv2.INTER_LINEAR
    out = cv2.resize(img, (size[1], size[0]), interpolation=method)
    return out.reshape(*size, img.shape[2])  # cv2 drops a last axis of 1


GradFn = Callable[[np.ndarray, float, np.ndarray], tuple[float, np.ndarray]]


class NumpyAscent:
    """:class:`~dreamstream.core.dream.Dreamer`'s ascent on NumPy arrays.

    Args:
        grad_fn: ``f(x, scale, weights) -> (loss, grad)`` for a float32 NHWC RGB
            0-255 batch ``x``: ``loss = scale * sum over the batch of the
            objective``, ``grad`` its gradient with respect to ``x`` (NumPy).
        params: the ascent's settings (``precision``, ``xla`` and
            ``tv_weight`` are the gradient's business, not read here).
        weights: the objective's term weights (float32, one per term).
        min_side: the network's smallest input side.
    """

    def __init__(self, grad_fn: GradFn, params: DreamParams, weights, min_side: int):
        self.grad_fn, self.params = grad_fn, params
        self.weights = np.asarray(weights, "float32")
        self.min_side = max(int(min_side), MIN_SIDE)

    def gradient(self, img: np.ndarray, tile: int | None = None) -> tuple:
        """Objective and its gradient for one float32 ``HxWx3`` RGB 0-255 image, no roll."""
        p = self.params
        value, grad = self._tiled(np.asarray(img, "float32"), tile or p.tile, self.weights)
        return float(value), grad

    def _tiled(self, img: np.ndarray, tile: int, weights: np.ndarray) -> tuple:
        """Loss and gradient over the whole image, tile by tile (same-size tiles batched)."""
        h, w = img.shape[:2]
        grad = np.empty_like(img)
        loss, batch = 0.0, self.params.tile_batch
        for (th, tw), spans in tile_groups(h, w, tile).items():
            for i in range(0, len(spans), batch):
                chunk = spans[i : i + batch]
                x = np.stack([img[r[0] : r[1], c[0] : c[1]] for r, c in chunk])
                value, g = self.grad_fn(x, th * tw / (h * w), weights)
                loss += float(value)
                for j, (r, c) in enumerate(chunk):
                    grad[r[0] : r[1], c[0] : c[1]] = g[j]
        return loss, grad

    def __call__(
        self,
        image: np.ndarray,
        init: np.ndarray | None = None,
        steps: int | None = None,
        seed: int | None = None,
        octaves: int | None = None,
        gain: np.ndarray | None = None,
        step_size: float | None = None,
        weights=None,
    ) -> np.ndarray:
        """Dream one frame; the arguments are :meth:`Dreamer.__call__`'s. uint8 RGB out."""
        p = self.params
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        start = rgb.astype("float32") if init is None else check_init(init, (h, w))
        steps = p.steps if steps is None else int(steps)
        octaves = p.octaves if octaves is None else int(octaves)
        check_counts(steps, octaves)
        rng = np.random.default_rng(p.seed if seed is None else seed)
        work = working_size(h, w, self.min_side)
        sizes = octave_sizes(*work, octaves, p.octave_scale, self.min_side)
        levels = [_resize(start, work)]
        for size in sizes[1:]:
            levels.append(_resize(levels[-1], size, antialias=True))
        gain = check_gain(gain, (h, w))
        if step_size is not None:
            gain = gain * (check_step_size(step_size) / p.step_size)
        weights = self._term_weights(weights)
        img = levels[-1]
        for k in reversed(range(len(sizes))):
            if k < len(sizes) - 1:  # the next level's detail, as core.dream's pyramid adds it
                img = _resize(img, sizes[k]) + (levels[k] - _resize(levels[k + 1], sizes[k]))
            img = self._ascend(img, steps, rng, _resize(gain, sizes[k]), weights)
        img = _resize(img, (h, w), antialias=True)
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)

    def _term_weights(self, weights) -> np.ndarray:
        if weights is None:
            return self.weights
        arr = np.asarray(weights, "float32")
        if arr.shape != self.weights.shape or not np.isfinite(arr).all():
            raise InputError(
                f"weights must be {self.weights.size} finite numbers, one per term; got {arr.shape}"
            )
        return arr

    def _ascend(self, img, steps: int, rng: np.random.Generator, gain, weights) -> np.ndarray:
        """``steps`` jittered, tiled, normalised gradient steps on one level (``gain``: HxWx1)."""
        p = self.params
        img = np.clip(img, 0.0, 255.0)
        for _ in range(steps):
            shift = tuple(int(s) for s in rng.integers(-p.jitter, p.jitter + 1, size=2))
            _, grad = self._tiled(np.roll(img, shift, axis=(0, 1)), p.tile, weights)
            grad = np.roll(grad, (-shift[0], -shift[1]), axis=(0, 1))
            grad /= np.mean(np.abs(grad)) + 1e-8
            img = np.clip(img + p.step_size * grad * gain, 0.0, 255.0)
        return img
