"""Per-frame processors built from :class:`~dreamstream.stream.settings.Settings`.

A processor turns one input frame into one output frame; it holds models but
no temporal state (the pipeline owns that). Both kinds answer two calls:

- ``first(frame, index, **work)``: a frame with nothing to carry (the first
  frame, a scene cut, ``--no-flow``);
- ``next(frame, index, warped_out, mask, warped_in, **work)``: a frame whose
  previous output, warped along the input's flow, can be carried forward
  (see :mod:`dreamstream.stream.carry`; ``warped_in`` is None where the
  processor's ``uses_warped_input`` is False).

Frames are ``uint8`` ``HxWx3`` RGB; ``mask`` is ``HxW`` float32, 1 = reliable.
``work`` is how much to do for this call, chosen by the caller (live mode's
latency budget), named like the settings it overrides for that call:
``steps`` and ``steps_next`` for dreams; styles take none. A processor never
changes its own settings.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dreamstream.core import temporal
from dreamstream.core.errors import InputError
from dreamstream.stream.machine import dream_compute
from dreamstream.stream.settings import Settings

# Carried passes of a first frame onto itself. On carphone (176x144, default
# settings) the carry's strength rose from 0.082 on the first frame to 0.108
# 30 frames later (last/first 30 frames 1.10 over 358 frames); four passes
# (each at 1 + regrow times the step, as a fresh region) brought the first
# frame to 0.102 and last/first to 1.09 over 239 frames.
SETTLE_PASSES = 4


class DreamProcessor:
    """DeepDream with the previous dream carried along the flow.

    Frames after the first start their ascent from the warped previous dream
    (blended with the current frame) and take ``steps_next`` steps per octave
    instead of ``steps``, on the finest ``octaves_next`` levels (default: all
    but the coarsest): the carried dream already holds the pattern, so fewer
    steps keep it alive. With ``anchor`` the start takes a share of each
    frame's own low frequencies (light, shade, colour; all of them where the
    flow is unreliable), so the scene cannot erode under the carry; where the
    flow is unreliable the dream starts almost afresh, so its step there is
    ``1 + regrow`` times the usual. Each frame's jitter
    is seeded with ``seed + index``, so a resumed render equals an uninterrupted one.
    """

    # The dream is warped again on every frame: bilinear warping blurred its
    # finest detail away faster than a few steps regrow it (on real footage,
    # bicubic kept 9-13 % more strength at the same fidelity).
    cubic_carry = True

    def __init__(self, settings: Settings):
        from dreamstream.core.dream import Dreamer
        from dreamstream.core.models import DEFAULT_LAYERS, available_layers
        from dreamstream.core.objectives import make_objective
        from dreamstream.stream.weights.dream import load_backbone

        self.settings = settings
        spec = settings.layers or DEFAULT_LAYERS[settings.model]
        objective = make_objective(spec, available_layers(settings.model))
        params = dataclasses.replace(settings.dream_params(), **dream_compute(settings.precision))
        backbone = load_backbone(
            settings.model,
            layers=tuple(objective.layers),
            weights=settings.weights,
            pooling=settings.pooling,
            # Built as the dream computes, so the Dreamer makes no cast copy; with a
            # guide, float32 as before: its features are read in full precision.
            dtype="float32" if settings.guide else params.precision,
        )
        if settings.guide:
            guide_image = _picture(settings, "guide")
            objective = objective + _guide_term(backbone, guide_image)
        self.dreamer = Dreamer(backbone, objective, params)

    def first(self, frame: np.ndarray, index: int, steps: int | None = None, **work):
        """Dream ``frame`` from scratch, ``steps`` per octave (default: ``settings.steps``).

        With flow, a file render's first frame (and the first after a cut) is
        then carried ``SETTLE_PASSES`` times onto itself, so that it is as
        strong as the carried frames it leads into rather than the carry
        growing stronger than it over the next frames. Live mode, which passes
        ``steps`` from its latency budget, skips that.
        """
        out = self.dreamer(frame, steps=steps, seed=self.settings.seed + index)
        s = self.settings
        carries = s.flow and work.get("steps_next", s.steps_next) > 0
        if carries and steps is None:
            fresh = np.zeros(frame.shape[:2], np.float32)  # as where the flow is unreliable
            for _ in range(SETTLE_PASSES):
                out = self.next(frame, index, out, fresh, frame, **work)
        if carries and s.anchor > 0:
            # Every carried frame ends anchored and then dreamt steps_next more steps;
            # so does the first one (and the first after a cut), or the colour
            # cast of its longer dream would pop away on the frame after it.
            still = np.ones(frame.shape[:2], np.float32)
            out = self.next(frame, index, out, still, frame, **work)
        return out

    def next(self, frame, index, warped_out, mask, warped_in, steps_next=None, **work):
        """Dream ``frame`` from the carried dream; ``steps_next`` default: settings'."""
        s = self.settings
        start = temporal.dream_start(
            frame,
            warped_out,
            mask,
            s.blend,
            warped_prev_in=warped_in,
            mode=s.carry,
            anchor=s.anchor,
        )
        steps = s.steps_next if steps_next is None else steps_next
        return self.dreamer(
            frame,
            init=start,
            steps=steps,
            seed=s.seed + index,
            octaves=s.carried_octaves(),
            gain=1.0 + s.regrow * (1.0 - mask),  # regions that start afresh catch up
        )


def _guide_term(backbone, picture: np.ndarray):
    """A term that pulls the dream towards a guide picture's deepest features."""
    from dreamstream.core.objectives import guide, guide_features

    layer = backbone.layers[-1]
    features = guide_features(backbone.model, backbone.layers, picture, layer)
    return guide(layer, features)


# The pictures each mode reads: Settings field -> what messages call it.
_PICTURES = {"dream": {"guide": "guide image"}, "style": {"style_image": "style image"}}


def _picture(settings: Settings, name: str) -> np.ndarray:
    """The picture named by the Settings field ``name``, read with the settings' pixel limit."""
    from dreamstream.stream.io.images import read_image

    what = {**_PICTURES["dream"], **_PICTURES["style"]}[name]
    return read_image(getattr(settings, name), what, settings.max_pixels)


def check_pictures(mode: str, settings: Settings) -> None:
    """Read the pictures ``mode`` needs (guide, style image): cheap, before any model loads.

    Raises:
        InputError: a picture is missing, unreadable or over the pixel limit.
    """
    if mode == "style":
        check_style_method(settings)
    for name in _PICTURES.get(mode, {}):
        if getattr(settings, name):
            _picture(settings, name)


def check_style_method(settings: Settings) -> None:
    """Refuse settings the chosen ``--method`` cannot use, before any model loads."""
    if settings.method == "optimize":
        from dreamstream.stream.artstyle import check_settings

        check_settings(settings)
    elif settings.weights is not None:
        raise InputError("--weights applies to dreams and to style --method optimize")


class StyleProcessor:
    """Fast neural style, blended with the warped previous output where reliable."""

    uses_warped_input = False  # the blend reads the warped previous output only
    # The blend holds texture where the flow says it is: at full resolution DIS
    # follows it better (on samples/bikes.mp4, 640x272, excess warping error under
    # an independent full-resolution DIS 0.34x the moving average's instead of
    # 0.53x at half scale), for about 0.025 instead of 0.012 CPU-seconds a flow,
    # next to the network's 0.13 (docs/coherence.md).
    flow_scale = 1.0

    def __init__(self, settings: Settings):
        from dreamstream.stream.runtimes import load_stylizer
        from dreamstream.stream.styleahead import ahead_for

        self.settings = settings
        self.stylizer, self.runtime = load_stylizer(
            settings.style,
            settings.strength,
            settings.preserve_color,
            style_image=_picture(settings, "style_image") if settings.style_image else None,
            runtime=settings.runtime,
        )
        self.ahead = ahead_for(self.stylizer, self.runtime.runtime)

    def prepare(self, frame: np.ndarray, index: int) -> None:
        """Start styling a frame early (the pipeline calls this as frames are decoded)."""
        if self.ahead is not None:
            self.ahead.submit(frame, index)

    def _styled(self, frame: np.ndarray, index: int) -> np.ndarray:
        return self.ahead.result(frame, index) if self.ahead else self.stylizer(frame)

    def first(self, frame: np.ndarray, index: int, **work) -> np.ndarray:
        return self._styled(frame, index)

    def next(self, frame, index, warped_out, mask, warped_in, **work) -> np.ndarray:
        return temporal.temporal_blend(
            self._styled(frame, index), warped_out, mask, self.settings.temporal
        )


def make_processor(mode: str, settings: Settings):
    """The processor for ``mode`` ("dream" or "style"; style by ``settings.method``)."""
    from dreamstream.stream.machine import load_framework

    if mode == "style":
        check_style_method(settings)
    if mode == "style" and settings.method == "optimize":
        load_framework()
        from dreamstream.stream.artstyle import ArtStyleProcessor

        return ArtStyleProcessor(settings)
    if mode != "dream":  # the style runtime loads Keras only if it runs on Keras
        return StyleProcessor(settings)
    load_framework()
    return DreamProcessor(settings)
