"""Class-guided dreams and saliency maps (Simonyan, Vedaldi & Zisserman 2013).

Both read the *score* of a class: the classifier's output before its softmax
(a logit), as the paper asks, since maximising a softmax probability can be
done by pushing the other classes down instead.

- :class:`ClassTerm`: a dream objective term, the weighted sum of some classes'
  scores; it composes with layer terms like any other term (``0.5 * layer(...)
  + class_term(...)``).
- :class:`Regularizer`: what keeps a class visualisation an image rather than
  adversarial noise (Yosinski et al. 2015): L2 decay towards mid-grey each
  step and a Gaussian blur every few steps; the dream's own jitter is the third.
- :func:`saliency`: the per-pixel maximum over colour channels of
  ``|d score / d pixel|`` for the predicted or a named class: where the network
  looks. :func:`heat_overlay` draws it over the picture; :func:`saliency_gain`
  turns it into a dream's step gain (``--mask saliency``).

Images: ``uint8`` or ``float32`` ``HxWx3`` **RGB** 0-255; maps ``HxW`` float32
in [0, 1]. A classifier layer outputs ``(B, classes)`` or, for a fully
convolutional head, ``(B, h, w, classes)`` (averaged over positions).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from keras import ops

from dreamstream.core import backend
from dreamstream.core.errors import InputError
from dreamstream.core.objectives import Term

MID_GREY = 127.5


def _scores(acts):
    """Class scores ``(B, classes)`` of a classifier layer's output (positions averaged)."""
    a = ops.cast(acts, "float32")
    return ops.mean(a, axis=(1, 2)) if len(a.shape) == 4 else a


class ClassTerm(Term):
    """Weighted sum of class scores (pre-softmax) read at a classifier layer."""

    def __init__(self, layer: str, classes: Sequence[tuple[int, float]]):
        if not classes:
            raise InputError("a class objective needs at least one class")
        self.layer = layer
        self.layers = (layer,)
        self.classes = tuple((int(c), float(w)) for c, w in classes)

    def __call__(self, acts, image):
        scores = _scores(acts[self.layer])
        # inception5h's head scores every 224 px window of a larger tile as a row of
        # its own: average the rows of each tile so the value stays one per tile.
        n = ops.shape(scores)[-1]
        scores = ops.mean(ops.reshape(scores, (ops.shape(image)[0], -1, n)), axis=1)
        index = np.asarray([c for c, _ in self.classes], "int32")
        weights = np.asarray([w for _, w in self.classes], "float32")
        return ops.sum(ops.take(scores, index, axis=-1) * weights, axis=-1)

    def check(self, channels):
        n = channels[self.layer]
        bad = [c for c, _ in self.classes if not 0 <= c < n]
        if bad:
            raise InputError(f"class {bad[0]} out of range for {self.layer} (0..{n - 1})")

    def __repr__(self):
        return f"class({self.layer}: {', '.join(f'{c}:{w:g}' for c, w in self.classes)})"


def class_term(layer: str, classes: Sequence[tuple[int, float]]) -> Term:
    """A term maximising the weighted scores of ``classes`` (index, weight) at ``layer``."""
    return ClassTerm(layer, classes)


@dataclass(frozen=True)
class Regularizer:
    """Image-space regularisers applied after each ascent step.

    Attributes:
        decay: share of each pixel's distance to mid-grey removed per step (L2 decay), 0-1.
        blur_every: blur every this many steps (0: never).
        blur_sigma: the blur's standard deviation in pixels.
    """

    decay: float = 0.0
    blur_every: int = 0
    blur_sigma: float = 0.5

    def __post_init__(self):
        if not (math.isfinite(self.decay) and 0 <= self.decay < 1):
            raise InputError(f"decay must be in [0, 1), got {self.decay!r}")
        if self.blur_every < 0:
            raise InputError(f"blur_every must be >= 0, got {self.blur_every!r}")
        if not (math.isfinite(self.blur_sigma) and self.blur_sigma > 0):
            raise InputError(f"blur_sigma must be > 0, got {self.blur_sigma!r}")

    @property
    def active(self) -> bool:
        """True when it changes anything."""
        return self.decay > 0 or self.blur_every > 0

    def __call__(self, img, step: int):
        """``img`` (``HxWx3`` tensor, 0-255) after step ``step`` (counted from 1)."""
        if self.decay > 0:
            img = MID_GREY + (img - MID_GREY) * (1.0 - self.decay)
        if self.blur_every > 0 and step % self.blur_every == 0:
            img = gaussian_blur(img, self.blur_sigma)
        return img


def gaussian_blur(img, sigma: float):
    """Separable Gaussian blur of an ``HxWx3`` tensor (edges repeat), in ``keras.ops``."""
    radius = max(1, math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype="float32")
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    padded = ops.pad(img[None], [[0, 0], [radius, radius], [radius, radius], [0, 0]], "symmetric")
    rows = np.tile(k.reshape(-1, 1, 1, 1), (1, 1, 3, 1))
    cols = np.tile(k.reshape(1, -1, 1, 1), (1, 1, 3, 1))
    out = ops.depthwise_conv(padded, rows, padding="valid")
    return ops.depthwise_conv(out, cols, padding="valid")[0]


# --------------------------------------------------------------------- classes


def _synonyms(label: str) -> list[str]:
    return [s.strip().lower() for s in label.split(",") if s.strip()]


def class_index(name: str, labels: Sequence[str] | None, count: int | None = None) -> int:
    """The index of a class given as a number or a name (any synonym of a label line).

    Args:
        name: ``"207"`` or ``"golden retriever"`` (case does not matter).
        labels: one line per class (``"golden retriever"`` or ``"tabby, tabby cat"``);
            None: only numbers can be used.
        count: how many classes the classifier has, when known.

    Raises:
        InputError: a name without labels, an unknown name (close ones are
            suggested), or an index out of range.
    """
    text = str(name).strip()
    total = count if count is not None else (len(labels) if labels is not None else None)
    if text.isdigit():
        idx = int(text)
        if total is not None and idx >= total:
            raise InputError(f"class {idx} out of range (0..{total - 1})")
        return idx
    if labels is None:
        raise InputError(
            f"class {text!r} is a name, but no class names are known for this model; "
            f"use an index or give a labels file"
        )
    wanted = text.lower()
    for i, label in enumerate(labels):
        if wanted == label.strip().lower() or wanted in _synonyms(label):
            return i
    every = [s for label in labels for s in _synonyms(label)]
    near = difflib.get_close_matches(wanted, every, n=3)
    hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
    raise InputError(f"unknown class {text!r}{hint}")


def parse_classes(
    spec: str, labels: Sequence[str] | None = None, count: int | None = None
) -> tuple[tuple[int, float], ...]:
    """Classes as ``((index, weight), ...)``: ``"golden retriever"``, ``"207:1, tabby:0.5"``.

    Classes are separated by ``;`` when names contain commas, else by ``,``;
    a weight follows the last ``:`` of an item (default 1).

    Raises:
        InputError: an empty spec, a bad weight, or a class :func:`class_index` refuses.
    """
    text = str(spec).strip()
    if not text:
        raise InputError("empty class list")
    items = [s.strip() for s in text.split(";" if ";" in text else ",")]
    out = []
    for item in items:
        if not item:
            raise InputError(f"empty class in {spec!r}")
        name, colon, weight_text = item.rpartition(":")
        if not colon:
            name, weight_text = item, "1"
        try:
            weight = float(weight_text)
        except ValueError:
            raise InputError(f"bad weight {weight_text.strip()!r} for class {name!r}") from None
        if not math.isfinite(weight):
            raise InputError(f"bad weight {weight_text.strip()!r} for class {name!r}")
        out.append((class_index(name, labels, count), weight))
    return tuple(out)


# -------------------------------------------------------------------- saliency


@dataclass(frozen=True)
class Saliency:
    """A saliency map and the class it was taken for.

    Attributes:
        map: ``HxW`` float32 in [0, 1], the input's size; 1 = the pixels the score
            depends on most (the top 0.5 %, clipped).
        cls: the class index.
        score: that class's score on the whole picture.
    """

    map: np.ndarray
    cls: int
    score: float


def _score_loss(outputs, x, onehot):
    return ops.sum(_scores(outputs[0]) * onehot, axis=-1)


def saliency(backbone, image, cls: int | None = None, size=None) -> Saliency:
    """Per-pixel ``max over channels |d score / d pixel|`` (Simonyan et al. 2013, sec. 3).

    Args:
        backbone: a backbone whose first layer is a classifier layer (``.model``:
            float32 NHWC RGB 0-255 in, a list of outputs).
        image: ``HxWx3`` RGB 0-255 (uint8 or float).
        cls: the class; None: the one with the highest score.
        size: ``(h, w)`` the classifier needs (a fixed-size head), or None to
            use the picture as it is.

    Returns:
        The map at the picture's size, scaled so its 99.5th percentile is 1 (clipped).
    """
    arr = np.asarray(image, dtype="float32")
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"image must be HxWx3 RGB, got shape {arr.shape}")
    h, w = arr.shape[:2]
    x = arr if size is None else cv2.resize(arr, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    outs = backbone.model(x[None], training=False)
    scores = backend.to_numpy(_scores((outs if isinstance(outs, list | tuple) else [outs])[0]))[0]
    cls = int(np.argmax(scores)) if cls is None else int(cls)
    if not 0 <= cls < scores.shape[-1]:
        raise InputError(f"class {cls} out of range (0..{scores.shape[-1] - 1})")
    onehot = np.zeros(scores.shape[-1], "float32")
    onehot[cls] = 1.0
    grad_fn = backend.compile_input_gradient(backbone.model, _score_loss, xla=False)
    _, grad = grad_fn(x[None], 1.0, onehot)
    sal = np.abs(backend.to_numpy(grad)[0]).max(axis=-1)
    if size is not None:
        sal = cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR)
    # Gradients are spiky: a few pixels would set the scale and leave the rest
    # dark, so the 99.5th percentile is 1 (above it, clipped).
    peak = float(np.percentile(sal, 99.5))
    peak = peak if peak > 0 else float(sal.max())
    sal = np.clip(sal / peak, 0.0, 1.0) if peak > 0 else sal
    return Saliency(sal.astype("float32"), cls, float(scores[cls]))


def heat_overlay(image: np.ndarray, sal: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """The saliency map as a heat map (blue: ignored, red: looked at) over the picture.

    Args:
        image: ``HxWx3`` uint8 RGB.
        sal: ``HxW`` float32 in [0, 1].
        alpha: the heat map's share, 0-1.

    Returns:
        ``HxWx3`` uint8 RGB.
    """
    heat = cv2.applyColorMap(np.uint8(np.clip(sal, 0, 1) * 255), cv2.COLORMAP_JET)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB).astype("float32")
    out = (1 - alpha) * np.asarray(image, "float32") + alpha * heat
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def saliency_gain(sal: np.ndarray, sigma: float = 0.0, floor: float = 0.0) -> np.ndarray:
    """A dream's per-pixel step gain from a saliency map: dream only where the network looks.

    The raw map is speckled (single pixels); a blur of ``sigma`` pixels turns it
    into regions, renormalised so the peak steps at full size.

    Args:
        sal: ``HxW`` float32 in [0, 1].
        sigma: blur in pixels (0: none); default callers use ``width / 64``.
        floor: the gain where the network does not look at all, 0-1.

    Returns:
        ``HxW`` float32 in ``[floor, 1]``.
    """
    if not 0 <= floor <= 1:
        raise InputError(f"saliency floor must be in [0, 1], got {floor!r}")
    g = np.asarray(sal, "float32")
    if sigma > 0:
        g = cv2.GaussianBlur(g, (0, 0), sigma)
    peak = float(g.max())
    g = g / peak if peak > 0 else g
    return (floor + (1 - floor) * g).astype("float32")
