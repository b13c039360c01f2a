"""The Python API: NumPy RGB ``uint8`` ``HxWx3`` images in and out.

    from dreamstream.stream import dream, stylize, render
    out = dream(image, preset="classic", steps=6)
    styled = stylize(image, style=7)
    for out in render("clip.mp4", "style", style="3:0.5,12:0.5"):
        ...

Settings are the fields of :class:`~dreamstream.stream.settings.Settings`
(the CLI's options, with underscores), plus ``preset=`` and ``config=``.
Models load on first use and stay cached for the same settings.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator

import numpy as np

from dreamstream.stream import pipeline
from dreamstream.stream.io import Frame, open_source
from dreamstream.stream.params import SourceOptions
from dreamstream.stream.settings import Settings, resolve


@functools.lru_cache(maxsize=2)
def _processor(mode: str, settings: Settings):
    from dreamstream.stream.processors import make_processor

    return make_processor(mode, settings.setup(mode))


def _settings(preset: str | None, config: str | None, values: dict) -> Settings:
    return resolve(preset=preset, config=config, **values)


def dream(
    image: np.ndarray, *, preset: str | None = None, config: str | None = None, **settings
) -> np.ndarray:
    """DeepDream one picture.

    Args:
        image: ``uint8`` ``HxWx3`` RGB.
        preset: a shipped preset name; config: a TOML settings file.
        **settings: any :class:`Settings` field, e.g. ``layers="block5_conv1"``, ``steps=6``.

    Returns:
        The dream, ``uint8`` ``HxWx3`` RGB of the same size.
    """
    processor = _processor("dream", _settings(preset, config, settings))
    return processor.first(np.asarray(image), 0)


def stylize(
    image: np.ndarray,
    style: int | str = 0,
    *,
    preset: str | None = None,
    config: str | None = None,
    **settings,
) -> np.ndarray:
    """Fast neural style on one picture.

    Args:
        image: ``uint8`` ``HxWx3`` RGB.
        style: 0-25, a blend like ``"3:0.5,12:0.5"``; or pass ``style_image=PATH``.
        **settings: any :class:`Settings` field, e.g. ``strength=0.7``, ``preserve_color=True``.

    Returns:
        The styled picture, ``uint8`` ``HxWx3`` RGB of the same size.
    """
    values = {"style": str(style), **settings}
    return _processor("style", _settings(preset, config, values)).first(np.asarray(image), 0)


def _frames(source, options: SourceOptions) -> Iterator[Frame]:
    if isinstance(source, str | os.PathLike):
        with open_source(source, **options.kwargs()) as opened:
            yield from opened
        return
    for index, item in enumerate(source):
        yield item if isinstance(item, Frame) else Frame(np.asarray(item), index)


def render(
    source: str | os.PathLike | Iterable,
    processor="dream",
    *,
    preset: str | None = None,
    config: str | None = None,
    **settings,
) -> Iterator[np.ndarray]:
    """Render a sequence with temporal coherence, yielding each output frame.

    Args:
        source: a path or spec (video, frame folder, ``camera:0``), an opened
            Source, or any iterable of ``uint8`` ``HxWx3`` RGB arrays.
        processor: "dream", "style", an object with ``first``/``next`` (see
            ``dreamstream.stream.processors``), or a plain ``frame -> frame`` function.
        **settings: :class:`Settings` fields (flow, blend, temporal, steps_next, ...);
            ``start``, ``end``, ``frames`` and ``width`` apply to a path or spec.

    Yields:
        Output frames, ``uint8`` ``HxWx3`` RGB, in order.
    """
    s = _settings(preset, config, settings)
    if isinstance(processor, str):
        processor = _processor(processor, s)
    flow = s.flow_params()
    for frame in pipeline.render(
        _frames(source, s.source_options()),
        processor,
        flow=flow.enabled,
        flow_method=flow.method,
        flow_preset=flow.preset,
    ):
        yield frame.image
