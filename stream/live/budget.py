"""Live mode's budget: levels of per-frame work and the rule that moves between them.

The budget decides how much work a frame gets (processing size; for dreams
also steps, octaves and layer depth) and the loop passes that to the
processor per call; nothing here changes a processor's settings. See
:mod:`.loop` for the loop that uses it.

Two limits steer it: the capture-to-display latency (``max_latency_s``, a
ceiling) and the time a frame's work may take (``frame_s``, from a frame
rate to keep, ``--min-fps``). A level's work is predicted from the measured
time of the current one, scaled by the ratio of their costs (pixels times
steps times network depth), so the budget climbs to the richest level that
fits: on a slow CPU a dream starts light and stays light, on a GPU it
climbs to the look's own settings at full width.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from dreamstream.core.params import DEFAULT_LAYERS

SCALES = (1.0, 0.75, 0.5, 0.35)  # style: processing width relative to full, best first
# A lighter dream objective for slow machines: VGG16 cut after its third block costs
# two thirds of the default block4_conv3 per pixel and dreams finer, smaller patterns.
LIGHT_LAYER = "block3_conv3"
# VGG16's convolutions up to block 5: (name, input channels, output channels, stride).
_VGG16 = tuple(
    (f"block{b}_conv{i + 1}", cin if i == 0 else cout, cout, 2 ** (b - 1))
    for b, cin, cout, n in ((1, 3, 64, 2), (2, 64, 128, 2), (3, 128, 256, 3), (4, 256, 512, 3))
    + ((5, 512, 512, 3),)
    for i in range(n)
)
# Fewer steps and octaves per frame take larger steps, up to this many times the look's
# step size, so the carried dream still grows about as fast (see Level.work).
MAX_STEP_BOOST = 3.0
_OCTAVE_SCALE = 1.4
_MIN_SIDE = 32  # VGG16's smallest side: smaller octaves are left out (core.dream.octave_sizes)


def vgg16_depth(layers) -> float | None:
    """Multiply-adds per input pixel of VGG16 up to the deepest of ``layers`` (None: not VGG16)."""
    names = [name for name, *_ in _VGG16]
    try:
        deepest = max(names.index(layer) for layer in layers)
    except ValueError:
        return None
    return float(sum(9 * cin * cout / stride**2 for _, cin, cout, stride in _VGG16[: deepest + 1]))


def look_depth(settings) -> tuple[float, float | None]:
    """(relative cost of the look's own objective, of :data:`LIGHT_LAYER`; None without one)."""
    if settings.model not in ("vgg16", "vgg16-hed") or settings.guide:
        return 1.0, None  # a guide reads the deepest features: no lighter objective
    spec = settings.layers or ",".join(DEFAULT_LAYERS[settings.model])
    # The layer names of an objective's text (core.objectives' syntax), read without Keras.
    own = vgg16_depth(re.findall(r"block\d_conv\d", spec) or ["?"])
    light = vgg16_depth([LIGHT_LAYER])
    if own is None or light >= own:
        return 1.0, None
    return 1.0, light / own


@dataclass(frozen=True)
class Level:
    """One amount of per-frame work.

    Attributes:
        scale: processing width as a share of the full width (when ``width`` is None).
        width: processing width in pixels, at most the full width; None: use ``scale``.
        steps: dream steps per octave of a carried frame, at most the look's
            ``steps_next``; None for style levels.
        octaves: pyramid levels of a carried frame, at most the look's.
        light: dream :data:`LIGHT_LAYER` instead of the look's objective.
        every: dream every this many frames; the frames between carry the last
            dream along the optical flow without a step (the loop tells the
            processor to ``hold``), for CPUs too slow to dream every frame.
        own: the look's own steps and octaves, whatever they are now (a slider
            of the control page may have changed them since the levels were made).
        cost: the predicted work relative to the other levels (set by :meth:`Budget.fit`).
    """

    scale: float = 1.0
    width: int | None = None
    steps: int | None = None
    octaves: int | None = None
    light: bool = False
    every: int = 1
    own: bool = False
    cost: float = field(default=1.0, compare=False)

    def size(self, full: tuple[int, int]) -> tuple[int, int]:
        """The even processing ``(w, h)`` for a full output size ``full``."""
        w = min(full[0], self.width) if self.width else round(full[0] * self.scale)
        w = max(2, int(w) // 2 * 2)
        return w, max(2, int(round(full[1] * w / full[0])) // 2 * 2)

    def work(self, look) -> dict:
        """What a dream processor is told for one frame of ``look`` (its Settings) at this level."""
        if self.steps is None:  # style
            return {}
        steps = look.steps_next if self.own else min(look.steps_next, self.steps)
        octaves = look.carried_octaves()
        octaves = octaves if self.own else min(octaves, self.octaves or octaves)
        work = {"steps_next": steps, "octaves_next": octaves}
        if steps == look.steps_next and octaves == look.carried_octaves() and not self.light:
            # The look's own; live passes the first frame's steps (so no settling passes).
            return {**work, "steps": look.steps}
        # A fresh start (the first frame, a cut) costs what a carried frame costs: at low
        # frame rates cuts come often, and a long first dream would only slow the next.
        work.update(steps=steps, octaves=octaves)
        boost = min(MAX_STEP_BOOST, look.steps_next * look.carried_octaves() / (steps * octaves))
        if boost > 1:
            work["step_size"] = look.step_size * boost
        if self.light and look_depth(look)[1] is not None:
            work["layers"] = LIGHT_LAYER
        return work


def make_levels(mode: str, settings) -> list[Level]:
    """Work levels, most work first.

    Style: the full width and smaller shares of it. Dream, from the least work
    up: a light objective at 128 px, one octave and one step every third, then
    every second frame (the frames between carried along the flow); then every
    frame at 128-224 px; then the
    look's objective at 224-320 px; then two octaves; then the width up to
    640 px; then the look's octaves and steps; then the width up to the full
    width. Order chosen by eye on the 2-core CPU: width and depth first (they
    make the pattern), steps last (the carry accumulates the dream over frames).
    """
    if mode != "dream":
        return [Level(scale=s) for s in SCALES]
    _, light = look_depth(settings)
    octaves, steps = settings.carried_octaves(), settings.steps_next
    rungs = [Level(width=128, steps=1, octaves=1, light=True, every=k) for k in (3, 2)]
    rungs += [Level(width=w, steps=1, octaves=1, light=True) for w in (128, 160, 224)]
    rungs = rungs if light else [Level(width=224, steps=1, octaves=1, every=k) for k in (3, 2)]
    rungs += [Level(width=w, steps=1, octaves=1) for w in (224, 320)]
    rungs += [Level(width=w, steps=1, octaves=2) for w in (320, 448, 640)]
    rungs += [Level(width=640, steps=1, octaves=octaves)]
    own = {"steps": steps, "octaves": octaves, "own": True}
    rungs += [Level(width=w, **own) for w in (640, 960, 1280, 1920, 2560)]
    rungs.append(Level(**own))  # the look's own, at full width
    return rungs[::-1]


def level_cost(level: Level, full: tuple[int, int], look=None) -> float:
    """Predicted work of ``level`` at full size ``full``: pixels x steps x depth (x octaves)."""
    w, h = level.size(full)
    if look is None or level.steps is None:  # style: one pass over the pixels
        return float(w * h)
    steps = min(look.steps_next, level.steps or look.steps_next)
    octaves = min(look.carried_octaves(), level.octaves or look.carried_octaves())
    area = 0.0
    for k in range(octaves):
        side = min(w, h) / _OCTAVE_SCALE**k
        if k and side < _MIN_SIDE:
            break
        area += w * h / _OCTAVE_SCALE ** (2 * k)
    own, light = look_depth(look)
    return max(1, steps) * area * (light if level.light and light else own) / level.every


class Budget:
    """Moves between work levels to keep each frame's work and latency within limits.

    Each frame reports its latency (capture to display), its processing time
    ``frame_s`` and the part of it spent in the model, ``model_s``. A level's
    time is predicted as ``frame_s - model_s + model_s * cost / current cost``.

    - Over: ``patience`` frames in a row over ``max_latency_s``, or over
      ``slack * frame_s`` (the target work time), move to the richest level
      predicted to fit; a frame more than ``jump`` times over the latency
      moves at once.
    - Under: ``2 * patience`` frames in a row whose prediction for the next
      richer level fits the target (and latency under ``headroom`` of the
      ceiling) move one level up. Going back up to a level that was left for
      being too slow takes ``cooldown`` times longer, so it is not retried
      every second.

    Args:
        levels: most work first.
        max_latency_s: latency ceiling (None: none).
        frame_s: target work time per frame (None: ``headroom * max_latency_s``).
        start: the index to start at (default 0, the most work).
    """

    def __init__(
        self,
        levels: list[Level],
        max_latency_s: float | None,
        *,
        frame_s: float | None = None,
        start: int = 0,
        patience: int = 3,
        headroom: float = 0.5,
        jump: float = 2.0,
        slack: float = 1.25,
        cooldown: int = 4,
    ):
        self.levels, self.max_latency_s = list(levels), max_latency_s
        self.frame_s = frame_s
        self.patience, self.headroom, self.jump = patience, headroom, jump
        self.slack, self.cooldown = slack, cooldown
        self.index = min(max(0, start), len(self.levels) - 1)
        self._over = self._under = 0
        self._too_slow = -1  # the last level left for being too slow
        self._window: list = []  # the frames of the current cycle (see Level.every)

    @property
    def level(self) -> Level:
        return self.levels[self.index]

    @property
    def active(self) -> bool:
        return self.max_latency_s is not None or self.frame_s is not None

    def target_s(self) -> float:
        """The work time per frame the budget aims at."""
        limits = [self.frame_s, self.max_latency_s and self.headroom * self.max_latency_s]
        return min(x for x in limits if x)

    def fit(self, full: tuple[int, int], look=None) -> None:
        """Cost the levels for output size ``full`` (``look``: a dream's Settings) and drop repeats.

        Levels that come out the same at this size (widths above the full
        width) are kept once; the current level stays the same work.
        """
        current = self.level
        kept: list[Level] = []
        for level in self.levels:
            costed = replace(level, cost=level_cost(level, full, look))
            if not kept or not _same_work(kept[-1], costed, full, look):
                kept.append(costed)
            if level is current:
                self.index = len(kept) - 1
        self.levels = kept

    def update(
        self, latency_s: float, frame_s: float | None = None, model_s: float | None = None
    ) -> bool:
        """Account one frame; True when the level changed.

        Args:
            latency_s: capture to display.
            frame_s: this frame's processing time (default: ``latency_s``).
            model_s: the part of ``frame_s`` spent in the model (default: all of it).
        """
        if not self.active:
            return False
        frame_s = latency_s if frame_s is None else frame_s
        model_s = frame_s if model_s is None else min(model_s, frame_s)
        self._window.append((latency_s, frame_s, model_s))
        if len(self._window) < self.level.every:
            return False  # a level that dreams every k-th frame is judged per k frames
        latency_s = max(w[0] for w in self._window)
        frame_s = sum(w[1] for w in self._window) / len(self._window)
        model_s = sum(w[2] for w in self._window) / len(self._window)
        self._window.clear()
        ceiling = self.max_latency_s
        target = self.target_s()
        over = frame_s > self.slack * target or (ceiling is not None and latency_s > ceiling)
        calm = ceiling is None or latency_s < self.headroom * ceiling
        up = self.index > 0 and calm and self._predict(self.index - 1, frame_s, model_s) <= target
        self._over, self._under = (self._over + 1) * over, (self._under + 1) * up
        last = len(self.levels) - 1
        far = ceiling is not None and latency_s > self.jump * ceiling
        if self.index < last and (far or self._over >= self.patience):
            return self._move(self._fitting(frame_s, model_s, target), down=True)
        wait = 2 * self.patience * (self.cooldown if self.index - 1 <= self._too_slow else 1)
        if self._under >= wait:
            return self._move(self.index - 1, down=False)
        return False

    def _predict(self, index: int, frame_s: float, model_s: float) -> float:
        ratio = self.levels[index].cost / max(self.level.cost, 1e-12)
        return frame_s - model_s + model_s * ratio

    def _fitting(self, frame_s: float, model_s: float, target: float) -> int:
        """The richest level below the current one predicted to fit (else the least work)."""
        for i in range(self.index + 1, len(self.levels)):
            if self._predict(i, frame_s, model_s) <= target:
                return i
        return len(self.levels) - 1

    def _move(self, index: int, *, down: bool) -> bool:
        if down:
            self._too_slow = self.index
        elif index <= self._too_slow:
            self._too_slow = -1  # tried again: a new verdict comes from its own frames
        self.index, self._over, self._under = index, 0, 0
        self._window.clear()
        return True


def _same_work(a: Level, b: Level, full: tuple[int, int], look) -> bool:
    if a.size(full) != b.size(full) or a.light != b.light or a.every != b.every:
        return False
    return look is None or a.work(look) == b.work(look)
