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

from dreamstream.core.errors import InputError
from dreamstream.stream import pipeline
from dreamstream.stream.effects import make_effects
from dreamstream.stream.io import Frame, open_source
from dreamstream.stream.io.frame import check_pixels
from dreamstream.stream.params import SourceOptions
from dreamstream.stream.settings import Settings, resolve

MODES = ("dream", "style")


@functools.lru_cache(maxsize=2)
def _processor(mode: str, settings: Settings):
    from dreamstream.stream.processors import make_processor

    return make_processor(mode, settings.setup(mode))


def _settings(preset: str | None, config: str | None, values: dict) -> Settings:
    """Settings from the API's arguments; a preset or config of the wrong type is one line."""
    if preset is not None and not isinstance(preset, str):
        raise InputError(f"preset must be a preset name (text), got {preset!r}")
    if config is not None and not isinstance(config, str | os.PathLike):
        raise InputError(f"config must be a path to a TOML file, got {config!r}")
    return resolve(preset=preset, config=config, **values)


def _picture(image, max_pixels: int, name: str = "image") -> np.ndarray:
    """``image`` checked as the API takes it: ``uint8`` ``HxWx3`` RGB within ``max_pixels``.

    The size is checked before anything is allocated for it, as the CLI checks
    a file's header (``--max-pixels``; the ``max_pixels`` setting here).

    Raises:
        InputError: not such an array, or too large.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else repr(image)
        raise InputError(f"{name} must be a uint8 HxWx3 RGB NumPy array, got {got[:80]}")
    if image.shape[2] != 3:
        raise InputError(f"{name} must be a uint8 HxWx3 RGB NumPy array, got {image.shape}")
    check_pixels(image.shape[1::-1], max_pixels, f"{name} is")
    return image


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
    s = _settings(preset, config, settings)
    picture = _picture(image, s.max_pixels)
    return _processor("dream", s).first(picture, 0)


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
    s = _settings(preset, config, {"style": str(style), **settings})
    picture = _picture(image, s.max_pixels)
    return _processor("style", s).first(picture, 0)


def _frames(source, options: SourceOptions) -> Iterator[Frame]:
    if isinstance(source, str | os.PathLike):
        with open_source(source, **options.kwargs()) as opened:
            yield from opened
        return
    for index, item in enumerate(source):
        if isinstance(item, Frame):
            _picture(item.image, options.max_pixels, f"frame {item.index}")
            yield item
        else:
            yield Frame(_picture(item, options.max_pixels, f"frame {index}"), index)


def _checked_processor(processor, s: Settings):
    """The processor ``render`` was given, built when it is a mode's name.

    Raises:
        InputError: an unknown mode, or neither an object with ``first``/``next`` nor a function.
    """
    if isinstance(processor, str):
        if processor not in MODES:
            raise InputError(f"processor must be 'dream' or 'style', got {processor!r}")
        return _processor(processor, s)
    usable = hasattr(processor, "first") and hasattr(processor, "next") or callable(processor)
    if not usable:
        raise InputError(
            "processor must be 'dream', 'style', an object with first/next or a "
            f"frame -> frame function, got {processor!r}"
        )
    return processor


def render(
    source: str | os.PathLike | Iterable,
    processor="dream",
    *,
    preset: str | None = None,
    config: str | None = None,
    **settings,
) -> Iterator[np.ndarray]:
    """Render a sequence with temporal coherence, yielding each output frame.

    Arguments are checked when ``render`` is called, before any frame is read.

    Args:
        source: a path or spec (video, frame folder, ``camera:0``), an opened
            Source, or any iterable of ``uint8`` ``HxWx3`` RGB arrays (each is
            checked against the ``max_pixels`` setting before it is processed).
        processor: "dream", "style", an object with ``first``/``next`` (see
            ``dreamstream.stream.processors``), or a plain ``frame -> frame`` function.
        **settings: :class:`Settings` fields (flow, blend, temporal, steps_next, ...);
            ``start``, ``end``, ``frames`` and ``width`` apply to a path or spec.

    Returns:
        An iterator of output frames, ``uint8`` ``HxWx3`` RGB, in order.

    Raises:
        InputError: a bad source, processor, preset, config or setting.
    """
    iterable = hasattr(source, "__iter__") and not isinstance(source, bytes)
    if not (isinstance(source, str | os.PathLike) or iterable):
        raise InputError(
            f"source must be a path, a spec or an iterable of frames, got {source!r}"[:160]
        )
    s = _settings(preset, config, settings)
    chosen = _checked_processor(processor, s)
    flow = s.flow_params()
    frames = pipeline.render(
        _frames(source, s.source_options()),
        chosen,
        flow=flow.enabled,
        flow_method=flow.method,
        flow_preset=flow.preset,
        effects=make_effects(s.effects_setup()),
    )
    return (frame.image for frame in frames)
