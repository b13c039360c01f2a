"""The style-by-optimisation processor (``dreamstream style --method optimize``).

Reads the style picture and the network's weights, then paints frames with
:class:`dreamstream.core.artstyle.Painter`: the first frame (and each frame
after a scene cut, or every frame with ``--no-flow``) is optimised coarse to
fine from the content frame; a frame whose predecessor can be carried starts
from that output warped along the input's flow and keeps close to it where
the flow is reliable (Ruder et al. 2016).

The network: VGG19 from MatConvNet's ``imagenet-vgg-verydeep-19.mat`` when
``--weights`` names one (the network of the papers), else the embedded VGG16.
Frames are ``uint8`` ``HxWx3`` RGB; masks ``HxW`` float32, 1 = reliable.
"""

from __future__ import annotations

import collections
import functools
from pathlib import Path

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.params import ArtSetup


def check_setup(setup: ArtSetup) -> None:
    """Refuse what cannot work before any file or model is opened."""
    if not setup.style_image:
        raise InputError("--method optimize needs a picture to follow: --style-image PATH")
    if setup.weights is not None and Path(setup.weights).suffix.lower() != ".mat":
        raise InputError(
            f"--method optimize reads VGG19 from MatConvNet's imagenet-vgg-verydeep-19.mat; "
            f"--weights {setup.weights!r} is not a .mat file"
        )


def load_network(weights: str | None):
    """The backbone cut at the style and content layers: VGG19 from a .mat, else VGG16."""
    from dreamstream.core.artstyle import LAYERS

    if weights is None:
        from dreamstream.stream.weights.dream import load_backbone

        return load_backbone("vgg16", layers=LAYERS)
    return _vgg19_cached(str(Path(weights).expanduser().resolve()), LAYERS)


@functools.lru_cache(maxsize=1)
def _vgg19_cached(path: str, layers: tuple[str, ...]):
    from dreamstream.core.vgg19 import build_vgg19
    from dreamstream.stream.weights.vgg19_mat import read_vgg19_mat

    weights, mean = read_vgg19_mat(path, layers)
    return build_vgg19(weights, layers, mean)


def make_painter(setup: ArtSetup, style: np.ndarray | None = None):
    """A :class:`~dreamstream.core.artstyle.Painter` for this setup.

    Painters made from a style file are cached (the network, its compiled
    gradient and the style's Gram matrices are then reused by the next render).

    Args:
        setup: with ``style_image`` (read unless ``style`` is given) and the
            optimisation's parameters.
        style: the style picture, uint8 ``HxWx3`` RGB, instead of reading the file.
    """
    if style is not None:
        return _painter(style, setup.weights, setup.art, setup.precision)
    check_setup(setup)
    path = Path(setup.style_image).expanduser()
    stamp = path.stat().st_mtime_ns if path.is_file() else None
    return _painter_for_file(
        str(path), stamp, setup.max_pixels, setup.weights, setup.art, setup.precision
    )


@functools.lru_cache(maxsize=2)
def _painter_for_file(path: str, stamp, max_pixels, weights, params, precision: str):
    from dreamstream.stream.io.images import read_image

    picture = read_image(path, "style image", max_pixels)
    return _painter(picture, weights, params, precision)


def _painter(style: np.ndarray, weights, params, precision: str):
    from dreamstream.core.artstyle import Painter
    from dreamstream.core.dream import _with_precision
    from dreamstream.stream.machine import dream_compute

    backbone = load_network(weights)
    compute = dream_compute(precision)
    model = _with_precision(backbone.model, compute["precision"])
    return Painter(backbone, style, params, model=model, xla=compute["xla"])


class ArtStyleProcessor:
    """Style by optimisation, carried along the flow with the temporal loss.

    Holds the painter (network, style Gram matrices). The per-call ``work`` it
    takes is ``iterations`` (first) and ``iterations_next`` (next), named like
    the settings they override; other work is ignored.

    With ``--temporal-frames`` beyond 1 (e.g. 1,10,20,40), Ruder et al.'s
    long-term loss: the processor keeps the inputs and outputs of the frames
    it painted, back to the largest distance, and holds each carried frame
    also to the outputs that many frames back (by source index, so any stride
    works: the newest kept frame at least that far back stands in), each
    warped along the flow measured directly between the two inputs with the
    carry's flow method, preset and consistency mask. That history is the
    only temporal state of a processor; it is emptied by ``first`` (first
    frame, scene cut, ``--no-flow``, a carry reset). A resumed render starts
    with an empty history: only frames painted after the resume point count,
    so the first frames after it can differ from an uninterrupted render's.
    """

    uses_warped_input = False  # the temporal loss reads the warped previous output only

    def __init__(self, setup: ArtSetup):
        self.setup = setup
        self.painter = make_painter(setup)
        self.history = _History(setup.temporal_frames, setup.flow.method, setup.flow.preset)

    def first(self, frame: np.ndarray, index: int, iterations: int | None = None, **work):
        out = self.painter(frame, iterations=iterations)
        self.history.reset()
        self.history.add(index, frame, out)
        return out

    def next(self, frame, index, warped_out, mask, warped_in, iterations_next=None, **work):
        older = self.history.older(index, frame)
        out = self.painter(
            frame, init=warped_out, mask=mask, iterations=iterations_next, older=older
        )
        self.history.add(index, frame, out)
        return out


class _History:
    """Inputs and outputs of recently painted frames, for the long-term loss.

    Args:
        gaps: the distances back, sorted, starting with 1 (the carry's own frame).
        flow_method, flow_preset: the carry's flow settings (the same estimator and mask).
    """

    def __init__(self, gaps: tuple[int, ...], flow_method: str, flow_preset: str):
        self.gaps = gaps
        self.frames: collections.deque = collections.deque()  # (index, input, output)
        self.estimator = None
        if len(gaps) > 1:
            from dreamstream.core.flow import FlowEstimator

            self.estimator = FlowEstimator(method=flow_method, preset=flow_preset)

    def reset(self) -> None:
        self.frames.clear()

    def add(self, index: int, image: np.ndarray, out: np.ndarray) -> None:
        """Keep frame ``index``; drop frames no later frame can need."""
        if self.estimator is None:
            return
        self.frames.append((index, image, out))
        # The next index is at least index + 1: the oldest frame is needed only
        # while no newer kept frame is at least the largest gap back from it.
        while len(self.frames) > 1 and self.frames[1][0] <= index + 1 - self.gaps[-1]:
            self.frames.popleft()

    def picks(self, index: int) -> list:
        """Per gap after the first: the newest kept frame at least that far back, or None.

        The last frame kept is the carry's previous frame (gap 1, carried
        already), and a frame picked for a shorter gap is not picked again.
        """
        if not self.frames or self.frames[-1][0] >= index:  # indices went back: start over
            self.reset()
        newest_first = list(reversed(self.frames))
        taken = {0}
        picked = []
        for gap in self.gaps[1:]:
            k = next((k for k, kept in enumerate(newest_first) if kept[0] <= index - gap), None)
            picked.append(None if k is None or k in taken else newest_first[k])
            taken.add(k)
        return picked

    def older(self, index: int, image: np.ndarray) -> list:
        """The painter's ``older`` pairs for frame ``index``: (warped output, mask) or None."""
        if self.estimator is None:
            return []
        from dreamstream.core.flow import warp

        pairs = []
        for pick in self.picks(index):
            if pick is None or pick[1].shape != image.shape:
                pairs.append(None)
                continue
            flow, mask = self.estimator.flow_and_mask(image, pick[1])  # current -> older input
            pairs.append((warp(pick[2], flow), mask))
        return pairs
