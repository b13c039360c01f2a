"""Dream objectives: what the gradient ascent maximises.

An :class:`Objective` is a weighted sum of terms, composed arithmetically as in
lucid::

    obj = layer("block4_conv3") + 0.5 * channel("block5_conv1", 12) - 0.01 * total_variation()
    obj = parse_objective("block4_conv3:1,block5_conv1[12]:0.5")
    obj = make_objective({"block4_conv3": 1.0, "block5_conv1": 0.5})

Every term has one shape: ``term(acts, image) -> (B,)``, where ``acts`` maps a
layer name to its NHWC activations of a batch of tiles and ``image`` is that
batch (float32, NHWC, RGB, 0-255). The value is per tile, so a term may look
at activations, at the pixels, or at both; a content or Gram-matrix style term
(Gatys et al.) fits the same shape later without a new code path.
All arithmetic is ``keras.ops``, so terms run on every Keras backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
from keras import ops

from dreamstream.core.errors import InputError
from dreamstream.core.objspec import check_names, parse_terms


class Term:
    """One thing to maximise. Subclasses set :attr:`layers` and implement ``__call__``."""

    layers: tuple[str, ...] = ()

    def __call__(self, acts: Mapping[str, object], image) -> object:
        """Value per tile, shape ``(B,)``.

        Args:
            acts: layer name -> activations ``(B, h, w, C)`` of the tiles.
            image: the tiles, ``(B, H, W, 3)`` float32 RGB 0-255.
        """
        raise NotImplementedError

    def check(self, channels: Mapping[str, int]) -> None:
        """Raise InputError if the term asks for something the backbone lacks.

        Args:
            channels: layer name -> number of channels, of the layers the backbone outputs.
        """

    # Terms combine into objectives exactly like objectives do.
    def __add__(self, other):
        return Objective.of(self) + other

    def __radd__(self, other):
        return Objective.of(self) if other == 0 else Objective.of(other) + self  # sum() starts at 0

    def __sub__(self, other):
        return Objective.of(self) - other

    def __mul__(self, weight: float):
        return Objective.of(self) * weight

    __rmul__ = __mul__

    def __neg__(self):
        return Objective.of(self) * -1.0


class LayerTerm(Term):
    """Mean activation (or mean square) of a layer, or of some of its channels."""

    def __init__(self, layer: str, channels: Sequence[int] | None = None, square: bool = False):
        self.layer = layer
        self.layers = (layer,)
        self.channels = tuple(int(c) for c in channels) if channels else None
        self.square = square

    def __call__(self, acts, image):
        a = ops.cast(acts[self.layer], "float32")  # mixed-precision models give float16
        if self.channels is not None:
            a = ops.take(a, np.asarray(self.channels, dtype="int32"), axis=-1)
        if self.square:
            a = ops.square(a)
        return ops.mean(a, axis=(1, 2, 3))

    def check(self, channels):
        if self.channels is None:
            return
        n = channels[self.layer]
        bad = [c for c in self.channels if not 0 <= c < n]
        if bad:
            raise InputError(f"channel {bad[0]} out of range for {self.layer} (0..{n - 1})")

    def __repr__(self):
        ch = "" if self.channels is None else "[" + "+".join(map(str, self.channels)) + "]"
        return f"{self.layer}{ch}{'^2' if self.square else ''}"


class TotalVariation(Term):
    """Mean absolute difference of neighbouring pixels, in 0-255 units.

    Subtract a small multiple of it to keep the dream from turning into
    high-frequency noise.
    """

    def __call__(self, acts, image):
        dy = ops.abs(image[:, 1:, :, :] - image[:, :-1, :, :])
        dx = ops.abs(image[:, :, 1:, :] - image[:, :, :-1, :])
        return ops.mean(dy, axis=(1, 2, 3)) + ops.mean(dx, axis=(1, 2, 3))

    def __repr__(self):
        return "tv"


class GuideTerm(Term):
    """Similarity to a guide image's features (guided dream).

    For each position of the tile, the best dot product with any position of
    the guide's features, averaged: the gradient pulls every position towards
    the guide feature it already resembles most.
    """

    def __init__(self, layer: str, features: np.ndarray):
        features = np.asarray(features, dtype="float32")
        if features.ndim != 2 or features.shape[0] == 0:
            raise InputError(f"guide features must be (N, C) with N > 0, got {features.shape}")
        self.layer = layer
        self.layers = (layer,)
        self.features = features

    def __call__(self, acts, image):
        a = ops.cast(acts[self.layer], "float32")
        b, c = ops.shape(a)[0], ops.shape(a)[-1]
        flat = ops.reshape(a, (b, -1, c))
        scores = ops.einsum("bnc,mc->bnm", flat, ops.convert_to_tensor(self.features))
        return ops.mean(ops.max(scores, axis=-1), axis=-1)

    def check(self, channels):
        if channels[self.layer] != self.features.shape[1]:
            raise InputError(
                f"guide features have {self.features.shape[1]} channels, "
                f"layer {self.layer} has {channels[self.layer]}"
            )

    def __repr__(self):
        return f"guide({self.layer})"


class Objective:
    """A weighted sum of terms; compose with ``+``, ``-`` and ``*``."""

    def __init__(self, terms: Sequence[tuple[float, Term]] = ()):
        self.terms = tuple((float(w), t) for w, t in terms)

    @staticmethod
    def of(x) -> Objective:
        """``x`` as an Objective: an Objective, a Term, a spec string or a dict."""
        if isinstance(x, Objective):
            return x
        if isinstance(x, Term):
            return Objective([(1.0, x)])
        return make_objective(x)

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers the terms read, each once, in first-use order."""
        return tuple(dict.fromkeys(name for _, t in self.terms for name in t.layers))

    def __call__(self, acts: Mapping[str, object], image):
        """Weighted sum of the terms per tile, shape ``(B,)`` (see :meth:`Term.__call__`)."""
        if not self.terms:
            raise InputError("the objective has no terms")
        total = 0.0
        for weight, term in self.terms:
            total = total + weight * term(acts, image)
        return total

    def check(self, channels: Mapping[str, int], valid: Sequence[str] | None = None) -> None:
        """Raise InputError unless the backbone outputs every layer and channel asked for.

        Args:
            channels: layer name -> channel count of the layers the backbone outputs.
            valid: all layer names of the architecture, for the message.
        """
        if not self.terms:
            raise InputError("the objective has no terms")
        for name in self.layers:
            if name not in channels:
                known = ", ".join(valid if valid else channels)
                raise InputError(f"unknown layer {name!r} in objective; valid layers: {known}")
        for _, term in self.terms:
            term.check(channels)

    def __add__(self, other):
        return Objective(self.terms + Objective.of(other).terms)

    def __radd__(self, other):
        return self if other == 0 else Objective.of(other) + self  # sum() starts at 0

    def __sub__(self, other):
        return self + Objective.of(other) * -1.0

    def __mul__(self, weight: float):
        return Objective([(w * float(weight), t) for w, t in self.terms])

    __rmul__ = __mul__

    def __neg__(self):
        return self * -1.0

    def __repr__(self):
        return " + ".join(f"{w:g}*{t!r}" for w, t in self.terms) or "Objective()"


def layer(name: str, square: bool = False) -> Term:
    """Mean activation of a whole layer (mean square with ``square=True``)."""
    return LayerTerm(name, None, square)


def channel(name: str, *channels: int, square: bool = False) -> Term:
    """Mean activation of some channels of a layer."""
    if not channels:
        raise InputError(f"channel() of {name!r} needs at least one channel index")
    return LayerTerm(name, channels, square)


def total_variation() -> Term:
    """Total variation of the image; subtract a small multiple of it."""
    return TotalVariation()


def guide(name: str, features: np.ndarray) -> Term:
    """Similarity to a guide's features at layer ``name`` (see :func:`guide_features`)."""
    return GuideTerm(name, features)


def guide_features(model: keras.Model, layers: Sequence[str], guide_rgb, name: str) -> np.ndarray:
    """Activations of a guide image at one layer, as ``(N, C)`` float32.

    Args:
        model: a backbone model (float32 NHWC RGB 0-255 in, list of activations out).
        layers: the layer names of the model's outputs, in order.
        guide_rgb: the guide picture, ``HxWx3`` RGB 0-255 (uint8 or float).
        name: which layer to read.
    """
    if name not in layers:
        raise InputError(f"guide layer {name!r} is not among the backbone's layers {layers}")
    arr = np.asarray(guide_rgb)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"guide image must be HxWx3 RGB, got shape {arr.shape}")
    outs = model(arr[None].astype("float32"), training=False)
    outs = outs if isinstance(outs, list | tuple) else [outs]
    acts = ops.convert_to_numpy(outs[list(layers).index(name)])
    return acts.reshape(-1, acts.shape[-1]).astype("float32")


def parse_objective(spec: str, valid_layers: Sequence[str] | None = None) -> Objective:
    """An objective from text: ``"block4_conv3:1,block5_conv1[12]:0.5"`` (:mod:`.objspec`).

    Args:
        spec: the text.
        valid_layers: if given, every layer must be one of these.

    Raises:
        InputError: bad syntax, or a layer not in ``valid_layers`` (the message lists them).
    """
    terms = parse_terms(spec, valid_layers)
    return Objective([(t.weight, LayerTerm(t.layer, t.channels, t.square)) for t in terms])


def make_objective(spec, valid_layers: Sequence[str] | None = None) -> Objective:
    """An Objective from a spec string, a ``{term: weight}`` dict, a Term or an Objective.

    Dict keys use the text syntax of :func:`parse_objective` without the weight.
    """
    if isinstance(spec, Objective | Term):
        obj = Objective.of(spec)
    elif isinstance(spec, str):
        return parse_objective(spec, valid_layers)
    elif isinstance(spec, Mapping):
        obj = Objective()
        for key, weight in spec.items():
            obj = obj + parse_objective(str(key), valid_layers) * float(weight)
    else:
        raise InputError(f"cannot make an objective from {type(spec).__name__}: {spec!r}")
    check_names(obj.layers, valid_layers)
    return obj
