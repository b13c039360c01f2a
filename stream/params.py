"""The typed parameters of stream's parts: frozen, picklable, without ``Settings``.

:class:`DreamSetup`, :class:`StyleSetup` and :class:`ArtSetup` hold what each
processor is built from; :class:`SourceOptions` and :class:`EncoderOptions`
what a source and a sink are opened with. The front (``jobs``, ``api``,
``live/command``, ``farm/job``) turns the frozen
:class:`~dreamstream.stream.settings.Settings` into them once (one method of
``Settings`` per type; ``Settings.setup(mode)`` picks the processor's) and
passes them down: a processor, its checks, a source and a farm worker see
only the values they use. Each setup bundles the core's parameters
(:mod:`dreamstream.core.params`) with the stream-level choices around them
(files to read, the pixel limit, the requested precision or runtime).

Loaded without any framework or OpenCV (``--help`` imports it through
``settings``; the ``stream.io`` package loads OpenCV, which is why the I/O
options live here rather than under ``io/``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from dreamstream.core.params import (
    MAX_PIXELS,
    ArtParams,
    CarryParams,
    DreamParams,
    FlowParams,
)


@dataclass(frozen=True)
class DreamSetup:
    """Everything :class:`~dreamstream.stream.processors.DreamProcessor` is built from.

    Attributes:
        model: the backbone (one of ``core.params.BACKBONES``).
        weights: a local weights file, or ``None`` for the embedded ones.
        layers: the objective's ``layer:weight`` text, or ``None`` for the model's default.
        pooling: VGG16 pooling, "max" or "avg".
        guide: a guide picture's path, or ``None``.
        precision: the precision asked for (``auto`` is resolved for this machine
            when the processor is built, so a farm worker resolves its own).
        max_pixels: the largest guide picture read.
        flow: whether frames are carried at all (``--no-flow`` off): the first
            frame is then anchored like the carried ones.
        dream: the ascent; its ``precision``/``xla`` are replaced by the machine's.
        carry: how the dream is carried to the next frame.
        guide_weight: the guide term's weight.
        classes: ImageNet classes to dream towards (``"golden retriever:1, 281:0.5"``).
        class_weight: the class term's weight.
        labels: a labels file for class names (None: the one beside the weights).
        decay, blur_every: the class visualisation's regularisers (0: off).
        mask: a mask of ``stream.saliency.MASKS`` the dream is confined to, or None.
        keyframes: schedules of keyframed settings (``Settings.keyframes`` text);
            the processor reads each frame's values from them.
        fps: the source's frame rate, for keys given in seconds.
        runtime: what computes the gradient (``stream.runtimes.RUNTIMES``; see
            ``stream.onnxdream`` for when onnxruntime can).
    """

    model: str = "vgg16"
    weights: str | None = None
    layers: str | None = None
    pooling: str = "max"
    guide: str | None = None
    precision: str = "auto"
    max_pixels: int = MAX_PIXELS
    flow: bool = True
    dream: DreamParams = field(default_factory=DreamParams)
    carry: CarryParams = field(default_factory=CarryParams)
    guide_weight: float = 1.0
    classes: str | None = None
    class_weight: float = 1.0
    labels: str | None = None
    decay: float = 0.0
    blur_every: int = 0
    mask: str | None = None
    keyframes: str = ""
    fps: float | None = None
    runtime: str = "auto"


@dataclass(frozen=True)
class StyleSetup:
    """Everything :class:`~dreamstream.stream.processors.StyleProcessor` is built from.

    Attributes:
        style: a built-in style or blend as text (``"7"``, ``"3:0.5,12:0.5"``), or
            styles keyed along time (``"0:(3), 120:(7)"``, pictures too; see
            ``core.stylekeys``), cross-faded per frame by the processor.
        style_image: a picture's path as the style instead, or ``None``.
        strength: 0-1, the styled share of each frame.
        preserve_color: keep the input's colours.
        temporal: weight of the warped previous output where the flow is reliable, 0-1.
        runtime: what runs the network (``stream.runtimes.RUNTIMES``).
        max_pixels: the largest style picture read.
        keyframes, fps: keyframed ``strength``/``temporal`` (see :class:`DreamSetup`).
    """

    style: str = "0"
    style_image: str | None = None
    strength: float = 1.0
    preserve_color: bool = False
    temporal: float = 0.8
    runtime: str = "auto"
    max_pixels: int = MAX_PIXELS
    keyframes: str = ""
    fps: float | None = None


@dataclass(frozen=True)
class ArtSetup:
    """Everything :class:`~dreamstream.stream.artstyle.ArtStyleProcessor` is built from.

    Attributes:
        style_image: the picture to follow (required; checked before anything loads).
        weights: MatConvNet's VGG19 ``.mat``, or ``None`` for the embedded VGG16.
        precision: the precision asked for (resolved for this machine when built).
        max_pixels: the largest style picture read.
        art: the optimisation.
        temporal_frames: distances back the temporal loss holds a frame to, sorted, from 1.
        flow: the carry's flow (the long-term loss measures with the same estimator).
    """

    style_image: str | None = None
    weights: str | None = None
    precision: str = "auto"
    max_pixels: int = MAX_PIXELS
    art: ArtParams = field(default_factory=ArtParams)
    temporal_frames: tuple[int, ...] = (1,)
    flow: FlowParams = field(default_factory=FlowParams)


ProcessorSetup = DreamSetup | StyleSetup | ArtSetup

MASK_CHOICES = ("none", "person", "background")
REACT_CHOICES = ("none", "motion")


@dataclass(frozen=True)
class EffectsSetup:
    """What :class:`~dreamstream.stream.effects.Effects` is built from (masks, react, attract).

    Attributes:
        mask: "person" or "background" (process only the visitor, or only the
            room), or None.
        mask_model: a local ``.tflite`` segmenter, or None for the cached MediaPipe one.
        react: "motion" (the dream deepens where the scene is still and gives
            way where it moves), or None.
        rise_s: seconds for a still region to go from the live picture to the full dream.
        fall_s: seconds for a moving region to go from the full dream to the live picture.
        attract_s: after this many seconds with little motion, drift the dream
            (and, live, move to the next look); None: off.
    """

    mask: str | None = None
    mask_model: str | None = None
    react: str | None = None
    rise_s: float = 3.0
    fall_s: float = 0.5
    attract_s: float | None = None

    @property
    def active(self) -> bool:
        """Whether any effect is on (otherwise no :class:`Effects` is made at all)."""
        return bool(self.mask or self.react or self.attract_s)


@dataclass(frozen=True)
class SourceOptions:
    """Which frames of a source are read and how large they may be.

    Attributes:
        start, end: first frame kept and first frame no longer kept: an index
            (``10``), a time (``"2.5s"``) or ``None`` (see ``open_source``).
        frames: yield at most this many frames (``None``: all).
        width: resize to this even width, keeping the aspect ratio (``None``: as read).
        max_pixels: refuse larger frames, before any is decoded.
    """

    start: int | float | str | None = None
    end: int | float | str | None = None
    frames: int | None = None
    width: int | None = None
    max_pixels: int = MAX_PIXELS

    def kwargs(self) -> dict:
        """The keyword arguments of ``open_source``."""
        return dataclasses.asdict(self)

    def window(self, start, end) -> SourceOptions:
        """The same options for frames ``start`` to ``end`` (exclusive), without a count."""
        return dataclasses.replace(self, start=start, end=end, frames=None)

    # ``open_source(spec, **options)`` works as well as ``**options.kwargs()``: code
    # written when the options were a dict keeps working.
    def keys(self):
        return self.kwargs().keys()

    def __getitem__(self, name: str):
        return self.kwargs()[name]


@dataclass(frozen=True)
class EncoderOptions:
    """How a video output is encoded (x264); image sequences ignore it.

    Attributes:
        crf: quality, lower is better (0-51).
        preset: FFmpeg's ``-preset`` (speed against size).
    """

    crf: int = 18
    preset: str = "medium"

    def kwargs(self) -> dict:
        """The keyword arguments of ``check_sink`` and ``open_sink``."""
        return {"crf": self.crf, "preset": self.preset}
