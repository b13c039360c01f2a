"""Saliency renders and masks: where an ImageNet classifier looks.

``dreamstream saliency INPUT -o OUT`` draws, for each frame of a still, a
folder or a video, the saliency map of the predicted (or a named) class as a
heat map over the frame (:func:`dreamstream.core.classify.saliency`). The same
map, blurred into regions, is the step gain of ``--mask saliency``: the dream
grows only where the network looks.

Masks are a small registry (:data:`MASKS`): a name -> a factory that, given
the render's options, returns ``gain(frame_rgb) -> HxW float32 in [0, 1]``.
Another mask (a person, the background) is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dreamstream.core.errors import InputError

# What a classifier backbone needs, per model: its class layer and the input size
# its head needs (None: any size).
CLASSIFIER_INPUT = {"efficientnet_lite0": None, "inception_v3": None, "googlenet": (224, 224)}


@dataclass(frozen=True)
class ClassifierSpec:
    """Which classifier and which class.

    Attributes:
        model: a backbone with an ImageNet head (``efficientnet_lite0``, embedded;
            ``inception_v3``, ``googlenet``: their weights are downloads).
        weights: its weights file (None: the model's default source).
        labels: a labels file (None: the one beside the weights, if any).
        cls: the class, a name or an index; None: the predicted class.
    """

    model: str = "efficientnet_lite0"
    weights: str | None = None
    labels: str | None = None
    cls: str | None = None


def load_classifier(spec: ClassifierSpec):
    """``(backbone, labels, class index or None)`` for ``spec``.

    Raises:
        InputError: a model without an ImageNet head, or a bad class.
        WeightsNotFoundError: the classifier's weights are not there (one line
            naming the file and how to give it).
    """
    from dreamstream.core.classify import class_index
    from dreamstream.core.models import CLASSIFIER_LAYERS
    from dreamstream.stream.weights.dream import load_backbone
    from dreamstream.stream.weights.labels import find_labels

    if spec.model not in CLASSIFIER_LAYERS:
        raise InputError(
            f"{spec.model} has no ImageNet classifier head; use "
            f"--model {' or --model '.join(CLASSIFIER_LAYERS)}"
        )
    labels = find_labels(spec.model, spec.weights, spec.labels)
    cls = None if spec.cls is None else class_index(spec.cls, labels)
    backbone = load_backbone(spec.model, (CLASSIFIER_LAYERS[spec.model],), spec.weights)
    return backbone, labels, cls


def saliency_of(backbone, frame: np.ndarray, cls: int | None):
    """The saliency of one ``uint8`` RGB frame (see :func:`dreamstream.core.classify.saliency`)."""
    from dreamstream.core.classify import saliency

    return saliency(backbone, frame, cls, CLASSIFIER_INPUT.get(backbone.name))


def heat_frames(frames, backbone, cls: int | None, alpha: float = 0.6):
    """Each frame's heat-map overlay, with the class and score it was taken for.

    Args:
        frames: ``Frame`` objects (``uint8`` RGB images).
        backbone, cls: see :func:`load_classifier`.
        alpha: the heat map's share of the picture, 0-1.

    Yields:
        ``(frame, overlay uint8 RGB, Saliency)``.
    """
    from dreamstream.core.classify import heat_overlay

    if not 0 <= alpha <= 1:
        raise InputError(f"--alpha must be in 0-1, got {alpha}")
    for frame in frames:
        sal = saliency_of(backbone, frame.image, cls)
        yield frame, heat_overlay(frame.image, sal.map, alpha), sal


# ------------------------------------------------------------------- masks


def _saliency_mask(options: dict) -> Callable[[np.ndarray], np.ndarray]:
    from dreamstream.core.classify import saliency_gain

    backbone, _, cls = load_classifier(
        ClassifierSpec(
            options.get("mask_model") or "efficientnet_lite0",
            options.get("mask_weights"),
            options.get("labels"),
            options.get("mask_class"),
        )
    )

    def gain(frame: np.ndarray) -> np.ndarray:
        sal = saliency_of(backbone, frame, cls)
        return saliency_gain(sal.map, sigma=frame.shape[1] / 64, floor=0.0)

    return gain


# name -> factory(options) -> gain(frame). Gains are HxW float32 in [0, 1].
MASKS: dict[str, Callable[[dict], Callable[[np.ndarray], np.ndarray]]] = {
    "saliency": _saliency_mask,
}


def make_mask(name: str | None, options: dict) -> Callable[[np.ndarray], np.ndarray] | None:
    """The gain function of mask ``name`` (None: no mask).

    Raises:
        InputError: an unknown mask name (the message lists the known ones).
    """
    if name is None:
        return None
    if name not in MASKS:
        raise InputError(f"--mask must be one of {', '.join(MASKS)}, got {name!r}")
    return MASKS[name](options)


# ------------------------------------------------------------------- render


def render_saliency(
    input_spec: str,
    output_spec: str,
    spec: ClassifierSpec,
    *,
    alpha: float = 0.6,
    width: int | None = None,
    frames: int | None = None,
    overwrite: bool = False,
    on_frame: Callable[[int], None] | None = None,
) -> dict:
    """Heat maps of a still, a folder or a video into an image, folder or video.

    Returns:
        A summary: frames written, the class of the first frame (index, name, score).

    Raises:
        InputError: a bad input, output, class or model; missing weights.
    """
    from dreamstream.stream.io import check_sink, open_sink, open_source, sink_options

    if not 0 <= alpha <= 1:
        raise InputError(f"--alpha must be in 0-1, got {alpha}")
    with open_source(input_spec, frames=frames, width=width) as source:
        options = sink_options(source)
        check_sink(output_spec, options, overwrite=overwrite)
        backbone, labels, cls = load_classifier(spec)
        summary = {"frames": 0, "class": None}
        meta = {"saliency": {"model": spec.model, "class": spec.cls, "alpha": alpha}}
        with open_sink(output_spec, **options, metadata=meta, overwrite=overwrite) as sink:
            for frame, overlay, sal in heat_frames(source, backbone, cls, alpha):
                sink.write(type(frame)(overlay, frame.index, frame.pts, frame.time_base))
                if summary["class"] is None:
                    name = labels[sal.cls] if labels and sal.cls < len(labels) else None
                    summary["class"] = {"index": sal.cls, "name": name, "score": sal.score}
                summary["frames"] += 1
                if on_frame is not None:
                    on_frame(summary["frames"])
    return summary
