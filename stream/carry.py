"""The temporal carry: the previous output brought forward along the input's optical flow.

One implementation for the file pipeline and for live mode. :class:`Motion`
measurement (flow current -> previous input, its consistency mask and the
scene-cut decision, from :func:`dreamstream.core.temporal.measure_motion`)
depends only on the inputs, so the pipeline runs it on its own thread, a frame
ahead of the model; :class:`Carry` then owns the previous input and output and
calls the processor:

- ``processor.first(frame, index, **work)`` when nothing can be carried (the
  first frame, a scene cut, no flow, a reset);
- ``processor.next(frame, index, warped_out, mask, warped_in, **work)`` otherwise,
  with the previous output and input warped to the current frame (``warped_in``
  is None for a processor whose ``uses_warped_input`` is False; both are
  warped bicubically for a processor whose ``cubic_carry`` is True; flow is
  measured at the processor's ``flow_scale``, default ``FlowEstimator``'s;
  a processor whose ``holds_still`` is True also gets ``previous``, the
  previous input and output unwarped, to hold still parts of the picture;
  a processor whose ``trusts_matching_warp`` is True gets the flow's mask
  raised wherever the warped previous input matches the frame,
  :func:`dreamstream.core.temporal.warp_agreement`).

Images are ``uint8`` ``HxWx3`` **RGB**; flow ``HxWx2`` float32 (x, y) pixels,
current -> previous; masks ``HxW`` float32 in [0, 1], 1 = reliable. ``work``
holds per-call amounts of work (live mode's latency budget passes ``steps``);
the processors keep no temporal state of their own (the one exception: style by
optimisation keeps a short history of painted frames for its long-term loss).

A :class:`Carry` may hold an ``effects`` object (masks, ``--react``,
``--attract``: :class:`dreamstream.stream.effects.Effects`): ``step`` lets it
observe each frame, shape the warped output a dream starts from and the
frame a style paints (attract mode's drifting view), and
:meth:`Carry.shown` mixes the output with the live frame for showing; the
carry itself keeps the unmixed output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dreamstream.core.flow import DEFAULT_SCALE, FlowEstimator, warp
from dreamstream.core.temporal import Motion, measure_motion, warp_agreement

__all__ = ["Carry", "Motion", "MotionMeter", "Stateless"]


class Stateless:
    """Adapts a plain ``frame -> frame`` function to the processor interface."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]):
        self.fn = fn

    def first(self, frame: np.ndarray, index: int, **work) -> np.ndarray:
        return self.fn(frame)

    def next(self, frame, index, warped_out, mask, warped_in, **work) -> np.ndarray:
        return self.fn(frame)


def as_processor(processor):
    """``processor`` itself if it has ``first``/``next``, else a :class:`Stateless` wrapper."""
    return processor if hasattr(processor, "first") else Stateless(processor)


class MotionMeter:
    """Measures :class:`Motion` between consecutive input frames (one per thread).

    Args:
        method, preset, scale: see :class:`dreamstream.core.flow.FlowEstimator`.
        enabled: ``False`` measures nothing (``--no-flow``): every frame starts afresh.
    """

    def __init__(
        self,
        method: str = "dis",
        preset: str = "medium",
        enabled: bool = True,
        scale: float = DEFAULT_SCALE,
    ):
        self.estimator = FlowEstimator(method, preset, scale) if enabled else None
        self.prev: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> Motion | None:
        """Motion from the previous input to ``image`` (uint8 HxWx3 RGB), or ``None``."""
        prev, self.prev = self.prev, image
        if self.estimator is None or prev is None or prev.shape != image.shape:
            return None
        return measure_motion(self.estimator, image, prev)

    def reset(self, image: np.ndarray | None = None) -> None:
        """Forget the previous input (or make it ``image``)."""
        self.prev = image


class Carry:
    """The previous input and output, and the choice between a fresh and a carried frame.

    Attributes:
        cuts: scene cuts met so far (frames that started afresh because of one).
        warped: the previous output warped to the last frame stepped, or ``None``
            when that frame started afresh.
    """

    def __init__(self, effects=None):
        self.effects = effects
        self.prev_in: np.ndarray | None = None
        self.prev_out: np.ndarray | None = None
        self.warped: np.ndarray | None = None
        self.cuts = 0

    def restore(self, prev_in: np.ndarray | None, prev_out: np.ndarray | None) -> None:
        """Continue after a frame rendered earlier (resume): its input and its output."""
        self.prev_in, self.prev_out = prev_in, prev_out

    def reset(self) -> None:
        """Start the next frame afresh."""
        self.prev_in = self.prev_out = None
        if self.effects is not None:
            self.effects.reset()

    def step(
        self,
        processor,
        image: np.ndarray,
        index: int,
        motion: Motion | None,
        *,
        time_s: float | None = None,
        **work,
    ):
        """Process ``image`` (frame ``index``), carrying the previous output when possible.

        Args:
            processor: has ``first`` and ``next`` (see the module notes).
            image: the input frame, uint8 HxWx3 RGB.
            index: its index in the source (processors seed their randomness with it).
            motion: the motion from the previous input to ``image``, or ``None``.
            time_s: the frame's time in seconds (pts; live: capture time), for the effects.
            **work: passed to the processor (e.g. ``steps``).

        Returns:
            The output frame, uint8 HxWx3 RGB, which becomes the previous output.
        """
        carried = (
            motion is not None
            and not motion.cut
            and self.prev_out is not None
            and self.prev_out.shape == image.shape
        )
        self.warped = None
        painted = image  # what the processor is given (a style's attract mode drifts it)
        if self.effects is not None:
            self.effects.observe(image, motion, time_s)
            painted = self.effects.framed(image, getattr(processor, "grows", False))
        if carried:
            # A processor whose output is carried for many frames may ask for a sharp warp.
            cubic = getattr(processor, "cubic_carry", False)
            self.warped = warp(self.prev_out, motion.flow, cubic)
            # A processor that never reads the warped previous input skips a warp per frame.
            wants_in = getattr(processor, "uses_warped_input", True)
            warped_in = warp(self.prev_in, motion.flow, cubic) if wants_in else None
            start = self.warped
            if self.effects is not None:
                live = image if warped_in is None else warped_in
                start = self.effects.carried(start, live, getattr(processor, "grows", False))
            if getattr(processor, "holds_still", False) and painted is image:
                # It compares with the unwarped ones; a drifted frame (attract) is never held.
                work["previous"] = (self.prev_in, self.prev_out)
            mask = motion.mask
            trusts = getattr(processor, "trusts_matching_warp", False) and not work.get("hold")
            if trusts and warped_in is not None:
                # Where the warp explains the input, its consistency check distrusted it wrongly.
                mask = np.maximum(mask, warp_agreement(image, warped_in))
            out = processor.next(painted, index, start, mask, warped_in, **work)
        else:
            self.cuts += int(motion is not None and motion.cut)
            out = processor.first(painted, index, **work)
        self.prev_in, self.prev_out = image, out
        return out

    def shown(self, out: np.ndarray) -> np.ndarray:
        """What to show of ``out``, the last frame's output: mixed by the effects, if any."""
        if self.effects is None:
            return out
        return self.effects.present(out, self.prev_in)
