"""DeepDream: gradient ascent on the input of a pretrained backbone.

The algorithm, in the order it runs for one frame:

1. Octaves: a Laplacian pyramid of the start image, ``octaves`` levels whose
   sides shrink by ``octave_scale``. Ascent starts on the smallest level; at
   each larger level the result is upsampled and that level's high-frequency
   detail (the level minus its own blurred copy) is added back, so the fine
   detail of the frame survives the low-resolution passes.
2. Jitter: each step rolls the image by a random shift and rolls the gradient
   back. Tile borders and the network's zero padding then fall somewhere else
   every step, which hides seams.
3. Tiles: the gradient is computed tile by tile (same-size tiles batched), so
   memory follows the tile size, not the frame size.
4. The gradient is divided by its mean absolute value, so each step moves a
   pixel by ``step_size`` (0-255 units) on average; the image stays clipped
   to 0-255.

Images: ``uint8`` ``HxWx3`` RGB in and out; float images inside are
``float32`` RGB 0-255, ``HxWx3``. The image stays a backend tensor from the
start image to the end of the last octave and is copied to the host once.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from dreamstream.core import backend
from dreamstream.core.ascent import (
    as_rgb,
    check_counts,
    check_gain,
    check_init,
    check_step_size,
    octave_sizes,
    tile_bounds,
    tile_groups,
    working_size,
)
from dreamstream.core.errors import InputError
from dreamstream.core.objectives import Objective, total_variation
from dreamstream.core.params import MIN_SIDE, POLICIES, DreamParams

__all__ = [
    "MIN_SIDE",
    "POLICIES",
    "DreamParams",
    "Dreamer",
    "as_rgb",
    "octave_sizes",
    "tile_bounds",
]


def _resize(img, size, antialias=False):
    """Bilinear resize of an ``HxWx3`` tensor to ``size = (h, w)``."""
    if tuple(ops.shape(img)[:2]) == tuple(size):
        return img
    return ops.image.resize(img[None], size, interpolation="bilinear", antialias=antialias)[0]


def laplacian_pyramid(img, sizes: list) -> tuple:
    """Split ``img`` (at ``sizes[0]``) into its smallest level and per-level details.

    Returns:
        ``(smallest, details)``: ``details[k]`` is level ``k`` minus its smaller
        level upsampled back, for ``k < len(sizes) - 1``, so that
        ``level[k] == resize(level[k + 1], sizes[k]) + details[k]``.
    """
    levels = [img]
    for size in sizes[1:]:
        levels.append(_resize(levels[-1], size, antialias=True))
    details = [levels[k] - _resize(levels[k + 1], sizes[k]) for k in range(len(sizes) - 1)]
    return levels[-1], details


def tiled_gradient(grad_fn, img, tile: int, batch: int = 1, *aux) -> tuple:
    """Gradient of the objective over a whole ``HxWx3`` image, computed per tile.

    Each tile's loss is weighted by its share of the image's area, so the
    returned loss is close to the objective of the whole image.

    Args:
        grad_fn: ``f(x, scale, *aux) -> (loss, grad)`` of :func:`backend.compile_input_gradient`.
        img: float32 ``HxWx3`` RGB 0-255 backend tensor.
        tile: largest tile side.
        batch: how many same-size tiles to send through the network at once.
        aux: further arguments of ``grad_fn`` (the objective's term weights).

    Returns:
        ``(loss, grad)``: a scalar tensor and an ``HxWx3`` tensor.
    """
    h, w = ops.shape(img)[:2]
    rows, cols = tile_bounds(h, tile), tile_bounds(w, tile)
    grads, loss = {}, 0.0
    for (th, tw), spans in tile_groups(h, w, tile).items():
        for i in range(0, len(spans), batch):
            chunk = spans[i : i + batch]
            x = ops.stack([img[r[0] : r[1], c[0] : c[1]] for r, c in chunk])
            value, g = grad_fn(x, th * tw / (h * w), *aux)
            loss = loss + value  # stays a tensor: no host sync per tile
            grads.update({span: g[j] for j, span in enumerate(chunk)})
    if len(grads) == 1:
        return loss, next(iter(grads.values()))
    stripes = [ops.concatenate([grads[(r, c)] for c in cols], axis=1) for r in rows]
    return loss, ops.concatenate(stripes, axis=0)


def _with_precision(model: keras.Model, precision: str) -> keras.Model:
    """``model`` if its layers compute in policy ``precision``, else a copy that does, same weights.

    A model built in that policy (``build_vgg16(..., dtype=...)``) is used as
    it is: cloning would cost as much as building it again.
    """
    if _computes_in(model, precision):
        return model

    def recast(layer):
        # A layer's config pins its dtype policy, so the global policy alone would not do.
        return layer.__class__.from_config({**layer.get_config(), "dtype": precision})

    clone = keras.models.clone_model(model, clone_function=recast)
    clone.set_weights(model.get_weights())
    return clone


def _computes_in(model: keras.Model, precision: str) -> bool:
    """Whether every layer of ``model`` (inputs aside) computes in dtype policy ``precision``.

    A model without layers of its own (a subclassed one) counts as float32.
    """
    layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    if not layers:
        return precision == "float32"
    return all(la.dtype_policy.name == precision for la in layers)


def _output_channels(model: keras.Model, layers: tuple, min_size: int) -> dict:
    """Layer name -> channel count of the model's outputs."""
    try:
        shapes = [tuple(t.shape) for t in model.outputs]
    except (AttributeError, ValueError):  # a subclassed model has no symbolic outputs
        side = max(int(min_size), 32)
        outs = model(np.zeros((1, side, side, 3), "float32"), training=False)
        shapes = [tuple(t.shape) for t in (outs if isinstance(outs, list | tuple) else [outs])]
    if len(shapes) != len(layers):
        raise InputError(f"backbone returns {len(shapes)} outputs for {len(layers)} layers")
    return {name: int(s[-1]) for name, s in zip(layers, shapes, strict=True)}


def _valid_layers(backbone) -> tuple:
    """All layer names of the backbone's architecture, for error messages."""
    try:
        from dreamstream.core.models import available_layers

        return tuple(available_layers(backbone.name))
    except (ImportError, KeyError, InputError):  # no registry entry: name the loaded layers
        return tuple(backbone.layers)


class Dreamer:
    """Dreams frames with one backbone, objective and set of parameters.

    Builds (and compiles lazily, per tile shape) the gradient function once;
    calling it on frames of a fixed size never retraces after the first frame.

    Args:
        backbone: has ``.name``, ``.layers``, ``.model`` (float32 NHWC RGB 0-255
            in, a list of activations out, one per layer) and ``.min_size``.
        objective: an :class:`Objective`, a term, a spec string or a ``{layer: weight}`` dict.
        params: the ascent settings.
        regularizer: called as ``regularizer(img, step)`` after each step of
            each octave (steps counted from 1), e.g. a class visualisation's
            :class:`dreamstream.core.classify.Regularizer`; None: nothing.

    Raises:
        InputError: the objective reads a layer or channel the backbone lacks.
    """

    def __init__(self, backbone, objective, params: DreamParams | None = None, regularizer=None):
        self.backbone = backbone
        self.regularizer = regularizer
        self.params = params or DreamParams()
        self.layers = tuple(backbone.layers)
        obj = Objective.of(objective)
        obj.check(
            _output_channels(backbone.model, self.layers, backbone.min_size),
            _valid_layers(backbone),
        )
        if self.params.tv_weight > 0:
            obj = obj - self.params.tv_weight * total_variation()
        self.objective = obj
        # The terms' weights are an argument of the compiled step, not constants in
        # it, so a schedule can change them every frame without a new trace.
        self.weights = np.asarray([w for w, _ in obj.terms], "float32")
        self.min_side = max(int(backbone.min_size), MIN_SIDE)
        model = _with_precision(backbone.model, self.params.precision)
        # No autograph: the step's loops run over Python lists of tiles, and
        # objectives branch on nothing computed; rewriting their source would
        # only slow the first trace.
        compiled = {"xla": self.params.xla, "autograph": False}
        self._grad = backend.compile_input_gradient(model, self._loss, **compiled)
        self._step = backend.compile_function(self._step_body, **compiled)

    def traces(self) -> int:
        """How often the gradient was traced (TF) or compiled (JAX) so far.

        Once every frame size has been dreamt, this stays constant: later
        frames reuse the compiled step.
        """
        return int(self._grad.trace_count()) + int(self._step.trace_count())

    def _loss(self, outputs, x, weights):
        acts = dict(zip(self.layers, outputs, strict=True))
        total = 0.0
        for i, (_, term) in enumerate(self.objective.terms):
            total = total + weights[i] * term(acts, x)
        return total

    def _weights(self, weights) -> object:
        """The term weights to use: ``self.weights``, or ``weights`` checked against them."""
        if weights is None:
            return ops.convert_to_tensor(self.weights)
        arr = np.asarray(weights, "float32")
        if arr.shape != self.weights.shape or not np.isfinite(arr).all():
            raise InputError(
                f"weights must be {self.weights.size} finite numbers, one per term of "
                f"{self.objective!r}; got {arr.shape}"
            )
        return ops.convert_to_tensor(arr)

    def gradient(self, img: np.ndarray, tile: int | None = None) -> tuple:
        """Objective and its gradient for one float32 ``HxWx3`` RGB 0-255 image, no roll.

        Returns:
            ``(value, grad)``: a float and a float32 NumPy ``HxWx3`` array.
        """
        x = ops.convert_to_tensor(np.asarray(img, "float32"))
        value, grad = tiled_gradient(
            self._grad, x, tile or self.params.tile, self.params.tile_batch, self._weights(None)
        )
        return float(backend.to_numpy(value)), backend.to_numpy(grad)

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
        """Dream one frame.

        Args:
            image: uint8 RGB ``HxWx3`` (grey ``HxW`` is repeated to RGB and the
                alpha of ``HxWx4`` is dropped, explicitly, before dreaming).
            init: float32 RGB 0-255 ``HxWx3`` start image of the frame's size;
                default: the frame itself.
            steps: steps per octave instead of ``params.steps``.
            seed: seed of the rolls instead of ``params.seed``.
            octaves: pyramid levels instead of ``params.octaves``; the finest
                levels are kept, so fewer octaves dream only at the larger sizes.
            gain: float32 ``HxW`` multiplier (>= 0) of each pixel's step, the
                frame's size; default: 1 everywhere. A carried frame steps
                faster where the carried dream could not be trusted.
            step_size: step instead of ``params.step_size`` (0-255 units, > 0).
            weights: one weight per term of :attr:`objective` instead of its
                own (a keyframed objective); neither changes the compiled step.

        Returns:
            uint8 RGB ``HxWx3``, the size of ``image``.
        """
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        start = rgb.astype("float32") if init is None else check_init(init, (h, w))
        steps = self.params.steps if steps is None else int(steps)
        octaves = self.params.octaves if octaves is None else int(octaves)
        check_counts(steps, octaves)
        rng = np.random.default_rng(self.params.seed if seed is None else seed)
        work = working_size(h, w, self.min_side)
        img = _resize(ops.convert_to_tensor(start), work, antialias=False)
        sizes = octave_sizes(*work, octaves, self.params.octave_scale, self.min_side)
        img, details = laplacian_pyramid(img, sizes)
        gain = ops.convert_to_tensor(check_gain(gain, (h, w)))
        if step_size is not None:  # the step scales the gain
            gain = gain * (check_step_size(step_size) / self.params.step_size)
        weights = self._weights(weights)
        for k in reversed(range(len(sizes))):
            if k < len(sizes) - 1:
                img = _resize(img, sizes[k]) + details[k]
            img = self._ascend(img, steps, rng, _resize(gain, sizes[k]), weights)
        img = _resize(img, (h, w), antialias=True)
        return np.clip(np.rint(backend.to_numpy(img)), 0, 255).astype(np.uint8)

    def _ascend(self, img, steps: int, rng: np.random.Generator, gain, weights):
        """``steps`` jittered, tiled, normalised gradient steps on one level (``gain``: HxWx1)."""
        jitter = self.params.jitter
        img = ops.clip(img, 0.0, 255.0)
        for i in range(steps):
            shift = rng.integers(-jitter, jitter + 1, size=2)
            img = self._step(
                img, backend.shift_argument(shift), backend.shift_argument(-shift), gain, weights
            )
            if self.regularizer is not None:
                img = self.regularizer(img, i + 1)
        return img

    def _step_body(self, img, shift, back, gain, weights):
        """One step: roll by ``shift``, tiled gradient, roll by ``back``, normalise, move, clip.

        Compiled as a whole (see ``__init__``): on a GPU one dispatch per step
        instead of one per operation, and the shift is an argument, so a new
        roll does not trace again.
        """
        p = self.params
        rolled = ops.roll(img, shift, axis=(0, 1))
        _, grad = tiled_gradient(self._grad, rolled, p.tile, p.tile_batch, weights)
        grad = ops.roll(grad, back, axis=(0, 1))
        grad = grad / (ops.mean(ops.abs(grad)) + 1e-8)
        return ops.clip(img + p.step_size * grad * gain, 0.0, 255.0)
