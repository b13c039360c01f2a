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
``steps``, ``steps_next``, ``octaves``, ``octaves_next``, ``step_size`` and
``layers`` for dreams, and ``hold`` (live mode's frames between two dreams:
the carried dream moved onto the frame, no step); styles take none. A processor never
changes its own setup, and never sees the whole ``Settings``: the front
builds its setup (``Settings.setup(mode)``) and passes it here.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dreamstream.core import temporal
from dreamstream.core.errors import InputError
from dreamstream.core.params import CLASSIFIER_LAYERS, MIN_SIDE
from dreamstream.stream.machine import dream_compute
from dreamstream.stream.params import ArtSetup, DreamSetup, StyleSetup
from dreamstream.stream.schedules import split_keyframes, values_at

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
    # It dreams on the carried image it is given: effects (--react, --attract) shape that start.
    grows = True
    # Where the warped previous input matches the frame the carry trusts the warp, even if
    # the flow's forward-backward check did not (motion blur): the dream regrown afresh
    # there flickered (see core.temporal.warp_agreement).
    trusts_matching_warp = True

    def __init__(self, setup: DreamSetup, layers: str | None = None, runtime: str = "keras"):
        """Build the dream of objective ``layers`` (default: the setup's own) now.

        Other objectives (live mode's lighter one, or the own one after a
        lighter start) are built on first use; a bad ``setup.layers`` or
        ``setup.keyframes`` fails here either way. ``runtime`` computes every
        objective: "keras", or "onnxruntime" for a setup that
        :func:`~dreamstream.stream.onnxdream.dream_runtime` found it can run.
        """
        from dreamstream.stream.dreamplan import check_objective
        from dreamstream.stream.saliency import make_mask

        self.setup, self.runtime = setup, runtime
        self._dreamers: dict = {}
        self.plan = None  # the own objective's FramePlan, once it is built
        self._keyed = split_keyframes(setup.keyframes)  # checked now
        options = {"mask_model": setup.model, "labels": setup.labels, "mask_class": setup.classes}
        if setup.model in CLASSIFIER_LAYERS:
            options["mask_weights"] = setup.weights  # the dream's own classifier
        self.mask = make_mask(setup.mask, options)
        if layers is not None and runtime == "keras":  # the own objective is built later
            check_objective(setup)  # (onnxruntime's choice has read it already)
        self.dreamer_for(layers)

    @property
    def dreamer(self):
        """The Dreamer of the setup's own objective."""
        return self.dreamer_for(None)

    def dreamer_for(self, layers: str | None):
        """The Dreamer of objective ``layers`` (None: the setup's), built on first use.

        Live mode's budget may ask for a lighter objective than the look's own
        for a frame; each objective builds its network and traces once.
        """
        if layers not in self._dreamers:
            self._dreamers[layers] = self._build(layers)
        return self._dreamers[layers]

    def _build(self, layers: str | None):
        from dreamstream.stream.dreamplan import build_dreamer, build_light_dreamer

        setup = self.setup
        if self.runtime == "onnxruntime":
            from dreamstream.stream.onnxdream import build_onnx_dreamer

            return build_onnx_dreamer(setup, layers)
        params = dataclasses.replace(setup.dream, **dream_compute(setup.precision))
        if layers is not None:  # live mode's lighter objective: plain layer terms
            return build_light_dreamer(setup, params, layers)
        guide = read_picture(setup.guide, "guide image", setup.max_pixels) if setup.guide else None
        dreamer, self.plan = build_dreamer(setup, params, guide)
        return dreamer

    def _values(self, index: int) -> dict:
        """The keyframed settings' values at source frame ``index``."""
        return values_at(self._keyed, index, self.setup.fps) if self._keyed else {}

    def _weights(self, index: int, layers: str | None):
        """The own objective's term weights at ``index``; None for a lighter objective."""
        if layers is not None or self.plan is None:
            return None
        return self.plan.weights(index)

    def _gain(self, frame: np.ndarray, gain=None):
        """The step gain: ``gain`` (or 1) times the mask's, if a mask is set."""
        if self.mask is None:
            return gain
        masked = self.mask(frame)
        return masked if gain is None else gain * masked

    def first(self, frame: np.ndarray, index: int, steps=None, octaves=None, layers=None, **work):
        """Dream ``frame`` from scratch.

        ``steps`` per octave and ``octaves`` default to the setup's; ``layers``
        (an objective spec) to the setup's objective; ``step_size`` too.

        With flow, a file render's first frame (and the first after a cut) is
        then carried ``SETTLE_PASSES`` times onto itself, so that it is as
        strong as the carried frames it leads into rather than the carry
        growing stronger than it over the next frames. Live mode, which passes
        ``steps`` from its latency budget, skips that. Keyframed settings take
        this frame's values.
        """
        v = self._values(index)
        dreamer = self.dreamer_for(layers)
        out = dreamer(
            frame,
            steps=v.get("steps") if steps is None else steps,
            seed=self.setup.dream.seed + index,
            octaves=v.get("octaves") if octaves is None else octaves,
            gain=self._gain(frame),
            step_size=work.get("step_size", v.get("step_size")),
            weights=self._weights(index, layers),
        )
        carry = self.setup.carry
        steps_next = work.get("steps_next", v.get("steps_next", carry.steps_next))
        carries = self.setup.flow and steps_next > 0
        if carries and steps is None:
            fresh = np.zeros(frame.shape[:2], np.float32)  # as where the flow is unreliable
            for _ in range(SETTLE_PASSES):
                out = self.next(frame, index, out, fresh, frame, layers=layers, **work)
        if carries and v.get("anchor", carry.anchor) > 0:
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
        hold=False,
        **work,
    ):
        """Dream ``frame`` from the carried dream.

        ``steps_next`` and ``octaves_next`` default to the setup's (or this
        frame's keyframed values); ``layers`` (an objective spec) to the setup's
        objective; ``step_size`` too. With ``hold`` nothing is dreamt: the
        carried dream's change (warped output minus warped input) is laid on
        ``frame`` as it is, without the blend and anchor that would fade it a
        little on every frame.
        """
        if hold:
            change = warped_out.astype(np.int16) - warped_in.astype(np.int16)
            return np.clip(frame + change, 0, 255).astype(np.uint8)
        carry, v = self.setup.carry, self._values(index)
        start = temporal.dream_start(
            frame,
            warped_out,
            mask,
            v.get("blend", carry.blend),
            warped_prev_in=warped_in,
            mode=carry.mode,
            anchor=v.get("anchor", carry.anchor),
        )
        steps = v.get("steps_next", carry.steps_next) if steps_next is None else steps_next
        regrow = v.get("regrow", carry.regrow)
        if octaves_next is None:
            octaves_next = v.get("octaves_next", carry.octaves_next)
        return self.dreamer_for(layers)(
            frame,
            init=start,
            steps=steps,
            seed=self.setup.dream.seed + index,
            octaves=octaves_next,
            gain=self._gain(frame, 1.0 + regrow * (1.0 - mask)),  # fresh regions catch up
            step_size=v.get("step_size") if step_size is None else step_size,
            weights=self._weights(index, layers),
        )

    def grow(self, frame: np.ndarray, start: np.ndarray, index: int) -> np.ndarray:
        """Dream ``frame`` a little further from ``start``: an animation's next frame.

        ``start`` is the previous frame moved, float32 RGB 0-255; the carried
        frame's steps and octaves apply (``steps_next``, ``octaves_next``).
        """
        carry, v = self.setup.carry, self._values(index)
        return self.dreamer(
            frame,
            init=start,
            steps=v.get("steps_next", carry.steps_next),
            seed=self.setup.dream.seed + index,
            octaves=v.get("octaves_next", carry.octaves_next),
            gain=self._gain(frame),
            step_size=v.get("step_size"),
            weights=self._weights(index, None),
        )


def read_picture(path: str, what: str, max_pixels: int) -> np.ndarray:
    """A picture a processor follows (guide, style image), uint8 HxWx3 RGB, within the limit."""
    from dreamstream.stream.io.images import read_image

    return read_image(path, what, max_pixels)


def _pictures(setup) -> list[tuple[str, str]]:
    """The pictures a setup names: (path, what messages call it)."""
    if isinstance(setup, DreamSetup):
        return [(setup.guide, "guide image")] if setup.guide else []
    if isinstance(setup, StyleSetup):
        from dreamstream.stream.styletrack import schedule_pictures

        keyed = [(path, "style image") for path in schedule_pictures(setup)]
        if keyed:
            return keyed
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
    """Fast neural style, blended with the warped previous output where reliable.

    With a style schedule (``--style "0:(3), 120:(7)"``) each frame is styled
    with its own style vector, the keys' vectors interpolated: a cross-fade
    costs one network pass a frame. A ``hold`` schedule's switch frame starts
    the new look afresh, without the old look carried onto it.
    """

    # The still-scene hold compares the warped previous input with the unwarped
    # one (core.temporal.stillness), so the carry passes both, and the previous output.
    uses_warped_input = True
    holds_still = True
    # The blend holds texture where the flow says it is: at full resolution DIS
    # follows it better (on samples/bikes.mp4, 640x272, excess warping error under
    # an independent full-resolution DIS 0.34x the moving average's instead of
    # 0.53x at half scale), for about 0.025 instead of 0.012 CPU-seconds a flow,
    # next to the network's 0.13 (docs/coherence.md).
    flow_scale = 1.0
    track = None  # a style schedule's StyleTrack (set when built; None: one style)

    def __init__(self, setup: StyleSetup):
        from dreamstream.stream.runtimes import load_stylizer
        from dreamstream.stream.styleahead import ahead_for
        from dreamstream.stream.styletrack import first_style, make_track

        self.setup = setup
        self.keyed = split_keyframes(setup.keyframes)
        style, picture = first_style(setup)
        self.stylizer, self.runtime = load_stylizer(
            style,
            1.0 if "strength" in self.keyed else setup.strength,
            setup.preserve_color,
            style_image=read_picture(picture, "style image", setup.max_pixels) if picture else None,
            runtime=setup.runtime,
        )
        self.track = make_track(setup, read_picture)
        self.ahead = ahead_for(self.stylizer, self.runtime.runtime)

    def _style(self, index: int) -> np.ndarray | None:
        """Frame ``index``'s style vector when the style is keyed, else None (the stylizer's)."""
        return self.track.vector(index) if self.track is not None else None

    def prepare(self, frame: np.ndarray, index: int) -> None:
        """Start styling a frame early (the pipeline calls this as frames are decoded)."""
        if self.ahead is not None:
            self.ahead.submit(frame, index, self._style(index))

    def _styled(self, frame: np.ndarray, index: int) -> np.ndarray:
        style = self._style(index)
        if self.ahead is not None:
            return self.ahead.result(frame, index, style)
        return self.stylizer(frame, style)

    def _keyed(self, frame: np.ndarray, index: int) -> tuple[np.ndarray, float]:
        """The styled frame at this frame's strength, and this frame's temporal weight."""
        v = values_at(self.keyed, index, self.setup.fps) if self.keyed else {}
        styled = self._styled(frame, index)
        if "strength" in v:  # built at strength 1: each frame mixes its own share
            s = v["strength"]
            mixed = s * styled.astype(np.float32) + (1.0 - s) * frame.astype(np.float32)
            styled = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        return styled, v.get("temporal", self.setup.temporal)

    def first(self, frame: np.ndarray, index: int, **work) -> np.ndarray:
        return self._keyed(frame, index)[0]

    def _look_moves(self, index: int) -> bool:
        """Whether a schedule changes the look from the previous frame to this one.

        The still-scene hold would then slow the change (a fade on a still
        scene lagged by a third at its end), so the plain blend carries it.
        """
        if self.track is not None and index > 0:
            if not np.array_equal(self.track.vector(index), self.track.vector(index - 1)):
                return True
        if "strength" in self.keyed and index > 0:
            now = values_at(self.keyed, index, self.setup.fps)["strength"]
            return now != values_at(self.keyed, index - 1, self.setup.fps)["strength"]
        return False

    def next(self, frame, index, warped_out, mask, warped_in, previous=None, **work) -> np.ndarray:
        """The styled frame blended with the carried output.

        With ``previous`` (the previous input and output, uint8 HxWx3 RGB, as
        the carry passes them) and ``warped_in``, the texture is held where the
        scene stands still (:func:`dreamstream.core.temporal.held_blend`; on
        samples/bikes.mp4 it cut static flicker from 0.77x to 0.27x a moving
        average's, docs/coherence.md); without them, the plain blend.
        """
        styled, weight = self._keyed(frame, index)
        if self.track is not None and self.track.switches_at(index):
            return styled  # a hard switch: the old look is not carried into the new one
        if previous is None or warped_in is None or weight <= 0.0 or self._look_moves(index):
            return temporal.temporal_blend(styled, warped_out, mask, weight)
        prev_in, prev_out = previous
        still = temporal.stillness(frame, prev_in, warped_in)
        light = temporal.light_change(frame, prev_in, still)
        return temporal.held_blend(styled, warped_out, prev_out, mask, weight, still, light)


def make_processor(mode: str, setup, layers: str | None = None, live: bool = False):
    """The processor for ``mode`` ("dream" or "style") built from ``setup``.

    Args:
        mode: "dream" or "style".
        setup: ``Settings.setup(mode)``: a :class:`DreamSetup` for dreams, a
            :class:`StyleSetup` (fast style) or :class:`ArtSetup` (``--method optimize``).
        layers: a dream's objective to build first (see :class:`DreamProcessor`).
        live: for live mode, where ``--runtime auto`` lets a dream skip Keras
            (:func:`~dreamstream.stream.onnxdream.dream_runtime`).
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
    from dreamstream.stream.onnxdream import dream_runtime

    runtime = dream_runtime(setup, live)
    if runtime == "keras":
        load_framework()
    return DreamProcessor(setup, layers, runtime)
