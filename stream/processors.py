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
``steps``, ``steps_next``, ``octaves``, ``octaves_next`` and ``layers`` for
dreams; styles take none. A processor never
changes its own settings.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dreamstream.core import temporal
from dreamstream.core.errors import InputError
from dreamstream.stream.machine import dream_compute
from dreamstream.stream.settings import Settings


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

    def __init__(self, settings: Settings, layers: str | None = None):
        """Build the dream of objective ``layers`` (default: the settings' own) now.

        Other objectives (live mode's lighter one, or the own one after a
        lighter start) are built on first use; a bad ``settings.layers`` fails
        here either way.
        """
        self.settings = settings
        self._dreamers: dict = {}
        if layers is not None:
            self._objective(None)
        self.dreamer_for(layers)

    @property
    def dreamer(self):
        """The Dreamer of the settings' own objective."""
        return self.dreamer_for(None)

    def dreamer_for(self, layers: str | None):
        """The Dreamer of objective ``layers`` (None: the settings'), built on first use.

        Live mode's budget may ask for a lighter objective than the look's own
        for a frame; each objective builds its network and traces once.
        """
        if layers not in self._dreamers:
            self._dreamers[layers] = self._build(layers)
        return self._dreamers[layers]

    def _objective(self, layers: str | None):
        from dreamstream.core.models import DEFAULT_LAYERS, available_layers
        from dreamstream.core.objectives import make_objective

        spec = layers or self.settings.layers or DEFAULT_LAYERS[self.settings.model]
        return make_objective(spec, available_layers(self.settings.model))

    def _build(self, layers: str | None):
        from dreamstream.core.dream import Dreamer
        from dreamstream.stream.weights.dream import load_backbone

        settings = self.settings
        objective = self._objective(layers)
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
        if settings.guide and layers is None:
            guide_image = _picture(settings, "guide")
            objective = objective + _guide_term(backbone, guide_image)
        return Dreamer(backbone, objective, params)

    def first(self, frame: np.ndarray, index: int, steps=None, octaves=None, layers=None, **work):
        """Dream ``frame`` from scratch.

        ``steps`` per octave and ``octaves`` default to the settings'; ``layers``
        (an objective spec) to the settings' objective; ``step_size`` too.
        """
        dreamer = self.dreamer_for(layers)
        gain = self._gain(np.ones(frame.shape[:2], np.float32), work.get("step_size"))
        seed = self.settings.seed + index
        out = dreamer(frame, steps=steps, seed=seed, octaves=octaves, gain=gain)
        s = self.settings
        if s.flow and s.anchor > 0 and work.get("steps_next", s.steps_next) > 0:
            # Every carried frame ends anchored and then dreamt steps_next more steps;
            # so does the first one (and the first after a cut), or the colour
            # cast of its longer dream would pop away on the frame after it.
            still = np.ones(frame.shape[:2], np.float32)
            out = self.next(frame, index, out, still, frame, layers=layers, **work)
        return out

    def next(
        self,
        frame,
        index,
        warped_out,
        mask,
        warped_in,
        steps_next=None,
        octaves_next=None,
        layers=None,
        step_size=None,
        **work,
    ):
        """Dream ``frame`` from the carried dream.

        ``steps_next`` and ``octaves_next`` default to the settings'; ``layers``
        (an objective spec) to the settings' objective; ``step_size`` too.
        """
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
        return self.dreamer_for(layers)(
            frame,
            init=start,
            steps=steps,
            seed=s.seed + index,
            octaves=s.carried_octaves() if octaves_next is None else octaves_next,
            # Regions that start afresh catch up.
            gain=self._gain(1.0 + s.regrow * (1.0 - mask), step_size),
        )

    def _gain(self, gain: np.ndarray, step_size: float | None) -> np.ndarray:
        """The per-pixel step gain, times ``step_size / settings.step_size`` when one is given.

        A gain rather than a new step size: the compiled step stays the same.
        """
        if step_size is None:
            return gain
        return (gain * (step_size / self.settings.step_size)).astype(np.float32)


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


def make_processor(mode: str, settings: Settings, layers: str | None = None):
    """The processor for ``mode`` ("dream" or "style"; style by ``settings.method``).

    ``layers``: a dream's objective to build first (see :class:`DreamProcessor`).
    """
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
    return DreamProcessor(settings, layers)
