"""Per-frame processors built from typed setups (:mod:`dreamstream.stream.params`).

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
changes its own setup, and never sees the whole ``Settings``: the front
builds its setup (``Settings.setup(mode)``) and passes it here.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dreamstream.core import temporal
from dreamstream.core.errors import InputError
from dreamstream.core.params import MIN_SIDE
from dreamstream.stream.machine import dream_compute
from dreamstream.stream.params import ArtSetup, DreamSetup, StyleSetup

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

    def __init__(self, setup: DreamSetup):
        from dreamstream.core.dream import Dreamer
        from dreamstream.core.models import DEFAULT_LAYERS, available_layers
        from dreamstream.core.objectives import make_objective
        from dreamstream.stream.weights.dream import load_backbone

        self.setup = setup
        spec = setup.layers or DEFAULT_LAYERS[setup.model]
        objective = make_objective(spec, available_layers(setup.model))
        params = dataclasses.replace(setup.dream, **dream_compute(setup.precision))
        backbone = load_backbone(
            setup.model,
            layers=tuple(objective.layers),
            weights=setup.weights,
            pooling=setup.pooling,
            # Built as the dream computes, so the Dreamer makes no cast copy; with a
            # guide, float32 as before: its features are read in full precision.
            dtype="float32" if setup.guide else params.precision,
        )
        if setup.guide:
            guide_image = read_picture(setup.guide, "guide image", setup.max_pixels)
            objective = objective + _guide_term(backbone, guide_image)
        self.dreamer = Dreamer(backbone, objective, params)

    def first(self, frame: np.ndarray, index: int, steps: int | None = None, **work):
        """Dream ``frame`` from scratch, ``steps`` per octave (default: the setup's).

        With flow, a file render's first frame (and the first after a cut) is
        then carried ``SETTLE_PASSES`` times onto itself, so that it is as
        strong as the carried frames it leads into rather than the carry
        growing stronger than it over the next frames. Live mode, which passes
        ``steps`` from its latency budget, skips that.
        """
        out = self.dreamer(frame, steps=steps, seed=self.setup.dream.seed + index)
        carry = self.setup.carry
        carries = self.setup.flow and work.get("steps_next", carry.steps_next) > 0
        if carries and steps is None:
            fresh = np.zeros(frame.shape[:2], np.float32)  # as where the flow is unreliable
            for _ in range(SETTLE_PASSES):
                out = self.next(frame, index, out, fresh, frame, **work)
        if carries and carry.anchor > 0:
            # Every carried frame ends anchored and then dreamt steps_next more steps;
            # so does the first one (and the first after a cut), or the colour
            # cast of its longer dream would pop away on the frame after it.
            still = np.ones(frame.shape[:2], np.float32)
            out = self.next(frame, index, out, still, frame, **work)
        return out

    def next(self, frame, index, warped_out, mask, warped_in, steps_next=None, **work):
        """Dream ``frame`` from the carried dream; ``steps_next`` default: the setup's."""
        carry = self.setup.carry
        start = temporal.dream_start(
            frame,
            warped_out,
            mask,
            carry.blend,
            warped_prev_in=warped_in,
            mode=carry.mode,
            anchor=carry.anchor,
        )
        steps = carry.steps_next if steps_next is None else steps_next
        return self.dreamer(
            frame,
            init=start,
            steps=steps,
            seed=self.setup.dream.seed + index,
            octaves=carry.octaves_next,
            gain=1.0 + carry.regrow * (1.0 - mask),  # regions that start afresh catch up
        )


def _guide_term(backbone, picture: np.ndarray):
    """A term that pulls the dream towards a guide picture's deepest features."""
    from dreamstream.core.objectives import guide, guide_features

    layer = backbone.layers[-1]
    features = guide_features(backbone.model, backbone.layers, picture, layer)
    return guide(layer, features)


def read_picture(path: str, what: str, max_pixels: int) -> np.ndarray:
    """A picture a processor follows (guide, style image), uint8 HxWx3 RGB, within the limit."""
    from dreamstream.stream.io.images import read_image

    return read_image(path, what, max_pixels)


def _pictures(setup) -> list[tuple[str, str]]:
    """The pictures a setup names: (path, what messages call it)."""
    if isinstance(setup, DreamSetup):
        return [(setup.guide, "guide image")] if setup.guide else []
    return [(setup.style_image, "style image")] if setup.style_image else []


def check_pictures(mode: str, setup) -> None:
    """Read the pictures ``setup`` needs (guide, style image): cheap, before any model loads.

    Args:
        mode: "dream" or "style".
        setup: what the processor will be built from (``Settings.setup(mode)``).

    Raises:
        InputError: a picture is missing, unreadable or over the pixel limit.
    """
    if mode == "style":
        check_style_method(setup)
    for path, what in _pictures(setup):
        read_picture(path, what, setup.max_pixels)


def check_style_method(setup) -> None:
    """Refuse a setup the chosen style method cannot use, before any model loads.

    (``--weights`` with the fast style is refused where its setup is made,
    :meth:`~dreamstream.stream.settings.Settings.style_setup`.)
    """
    if isinstance(setup, ArtSetup):
        from dreamstream.stream.artstyle import check_setup

        check_setup(setup)


def check_dream_size(size: tuple[int, int]) -> None:
    """Refuse frames too small to dream before any model loads."""
    w, h = size
    if w and h and min(w, h) < MIN_SIDE:
        raise InputError(
            f"frames of {w}x{h} are too small to dream; need at least {MIN_SIDE} px a side"
        )


class StyleProcessor:
    """Fast neural style, blended with the warped previous output where reliable."""

    uses_warped_input = False  # the blend reads the warped previous output only
    # The blend holds texture where the flow says it is: at full resolution DIS
    # follows it better (on samples/bikes.mp4, 640x272, excess warping error under
    # an independent full-resolution DIS 0.34x the moving average's instead of
    # 0.53x at half scale), for about 0.025 instead of 0.012 CPU-seconds a flow,
    # next to the network's 0.13 (docs/coherence.md).
    flow_scale = 1.0

    def __init__(self, setup: StyleSetup):
        from dreamstream.stream.runtimes import load_stylizer
        from dreamstream.stream.styleahead import ahead_for

        self.setup = setup
        picture = setup.style_image
        self.stylizer, self.runtime = load_stylizer(
            setup.style,
            setup.strength,
            setup.preserve_color,
            style_image=read_picture(picture, "style image", setup.max_pixels) if picture else None,
            runtime=setup.runtime,
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
            self._styled(frame, index), warped_out, mask, self.setup.temporal
        )


def make_processor(mode: str, setup):
    """The processor for ``mode`` ("dream" or "style") built from ``setup``.

    Args:
        mode: "dream" or "style".
        setup: ``Settings.setup(mode)``: a :class:`DreamSetup` for dreams, a
            :class:`StyleSetup` (fast style) or :class:`ArtSetup` (``--method optimize``).
    """
    from dreamstream.stream.machine import load_framework

    wanted = (DreamSetup,) if mode == "dream" else (StyleSetup, ArtSetup)
    if not isinstance(setup, wanted):
        raise TypeError(f"a {mode} processor is built from {wanted}, got {type(setup).__name__}")
    if mode == "style":
        check_style_method(setup)
    if isinstance(setup, ArtSetup):
        load_framework()
        from dreamstream.stream.artstyle import ArtStyleProcessor

        return ArtStyleProcessor(setup)
    if mode != "dream":  # the style runtime loads Keras only if it runs on Keras
        return StyleProcessor(setup)
    load_framework()
    return DreamProcessor(setup)
