"""What a dream processor maximises, and each frame's values of its keyframed settings.

:func:`build_dreamer` assembles the objective from a :class:`DreamSetup`:
the ``--layers`` terms (whose weights may be keyframed, ``layer:(0:1, 240:0)``),
the ``--class`` term (Simonyan et al.'s class score, with its regularisers),
the guide term, and the TV penalty; then the backbone cut at the layers they
read. :class:`FramePlan` answers, for a source frame index, the values of the
keyframed settings and the weight of every term of the objective, in the
order :class:`~dreamstream.core.dream.Dreamer` holds them, so a cross-fade
between layers or classes is a change of weights, never a new compiled step.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.params import DreamSetup
from dreamstream.stream.schedules import split_keyframes, split_objective, values_at


@dataclasses.dataclass
class FramePlan:
    """Per-frame values of a dream, from its setup's keyframes.

    Attributes:
        keyed: setting name -> schedule (only the keyframed settings).
        fps: the source's frame rate, for keys in seconds.
        base: the Dreamer's own term weights (frame 0's, or 1 where keyframed).
        slots: term position -> schedule of its weight (sign included by ``signs``).
        signs: term position -> +1 or -1 (the TV penalty is subtracted).
    """

    keyed: dict
    fps: float | None
    base: np.ndarray
    slots: dict
    signs: dict

    def values(self, index: int) -> dict:
        """The keyframed settings' values at source frame ``index``."""
        return values_at(self.keyed, index, self.fps)

    def weights(self, index: int) -> np.ndarray | None:
        """Every term's weight at frame ``index``; None when no weight is keyframed."""
        if not self.slots:
            return None
        w = self.base.copy()
        for pos, schedule in self.slots.items():
            w[pos] = self.signs.get(pos, 1.0) * schedule.at(index, self.fps)
        return w


def _layer_terms(setup: DreamSetup):
    """The --layers objective (weights 1 where keyframed) and its weight schedules."""
    from dreamstream.core.models import DEFAULT_LAYERS, available_layers
    from dreamstream.core.objectives import Objective, make_objective

    if setup.layers is None and setup.classes is not None:
        return Objective(), []  # a class dream alone
    text, schedules = split_objective(setup.layers or "")
    spec = text or DEFAULT_LAYERS[setup.model]
    return make_objective(spec, available_layers(setup.model)), schedules or []


def check_objective(setup: DreamSetup) -> None:
    """Refuse a bad ``--layers`` of ``setup`` without building any network."""
    _layer_terms(setup)


def _class_term(setup: DreamSetup):
    from dreamstream.core.classify import class_term, parse_classes
    from dreamstream.core.params import CLASSIFIER_LAYERS
    from dreamstream.stream.weights.labels import find_labels

    if setup.model not in CLASSIFIER_LAYERS:
        raise InputError(f"--class needs {' or '.join(CLASSIFIER_LAYERS)}, not {setup.model}")
    labels = find_labels(setup.model, setup.weights, setup.labels)
    return class_term(CLASSIFIER_LAYERS[setup.model], parse_classes(setup.classes, labels))


def build_dreamer(setup: DreamSetup, params, guide_picture=None):
    """The Dreamer of ``setup`` and its :class:`FramePlan`.

    Args:
        setup: what the processor is built from.
        params: the ascent's :class:`DreamParams` (precision resolved for this machine).
        guide_picture: the guide, ``uint8`` RGB, or None.
    """
    from dreamstream.core.classify import Regularizer
    from dreamstream.core.dream import Dreamer
    from dreamstream.core.objectives import guide, guide_features
    from dreamstream.stream.weights.dream import load_backbone

    keyed = split_keyframes(setup.keyframes)
    objective, layer_schedules = _layer_terms(setup)
    slots = dict(enumerate(layer_schedules))
    if setup.classes is not None:
        if "class_weight" in keyed:
            slots[len(objective.terms)] = keyed["class_weight"]
        objective = objective + _class_term(setup) * setup.class_weight
    if "tv_weight" in keyed and params.tv_weight == 0:
        params = dataclasses.replace(params, tv_weight=1.0)  # the term exists; frames weigh it
    backbone = load_backbone(
        setup.model,
        layers=tuple(objective.layers),
        weights=setup.weights,
        pooling=setup.pooling,
        # Built as the dream computes, so the Dreamer makes no cast copy; with a
        # guide, float32: its features are read in full precision.
        dtype="float32" if guide_picture is not None else params.precision,
    )
    if guide_picture is not None:
        layer = backbone.layers[-1]
        features = guide_features(backbone.model, backbone.layers, guide_picture, layer)
        if "guide_weight" in keyed:
            slots[len(objective.terms)] = keyed["guide_weight"]
        objective = objective + guide(layer, features) * setup.guide_weight
    regularizer = Regularizer(decay=setup.decay, blur_every=setup.blur_every)
    dreamer = Dreamer(backbone, objective, params, regularizer if regularizer.active else None)
    signs = {}
    if params.tv_weight > 0 and "tv_weight" in keyed:
        tv = len(dreamer.objective.terms) - 1  # the Dreamer subtracts it last
        slots[tv], signs[tv] = keyed["tv_weight"], -1.0
    plan = FramePlan(keyed, setup.fps, dreamer.weights.copy(), slots, signs)
    return dreamer, plan


def build_light_dreamer(setup: DreamSetup, params, layers: str):
    """A Dreamer of the plain layer objective ``layers`` on ``setup``'s backbone.

    Live mode's budget dreams with a shallower objective than the look's own
    when the machine is slow; it has no class, guide or keyframed weights.
    """
    from dreamstream.core.dream import Dreamer
    from dreamstream.core.models import available_layers
    from dreamstream.core.objectives import make_objective
    from dreamstream.stream.weights.dream import load_backbone

    objective = make_objective(layers, available_layers(setup.model))
    backbone = load_backbone(
        setup.model,
        layers=tuple(objective.layers),
        weights=setup.weights,
        pooling=setup.pooling,
        dtype=params.precision,
    )
    return Dreamer(backbone, objective, params)
