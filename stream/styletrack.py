"""Each frame's style when ``--style`` is a schedule (``"0:(3), 120:(7)"``).

The schedule itself (parsing, the shares of two keys, the interpolated vector)
is :mod:`dreamstream.core.stylekeys`; this module gives it its style vectors
once: a built-in style's 26 weights, or a picture's 100 values from Magenta's
style predictor (the picture read here, within the pixel limit). The style
processor then asks :meth:`StyleTrack.vector` for each source frame's vector,
so a farm segment and a resumed render style each frame as the whole render
does.
"""

from __future__ import annotations

import numpy as np

from dreamstream.core.params import parse_style
from dreamstream.core.stylekeys import StyleKeys, is_style_schedule, parse_style_keys
from dreamstream.stream.params import StyleSetup


def style_keys(setup: StyleSetup) -> StyleKeys | None:
    """The setup's style schedule, or None for one style."""
    return parse_style_keys(setup.style) if is_style_schedule(setup.style) else None


def schedule_pictures(setup: StyleSetup) -> list[str]:
    """The pictures a style schedule names (none for built-in styles or one style)."""
    keys = style_keys(setup)
    return list(keys.styles) if keys is not None and not keys.builtin else []


def first_style(setup: StyleSetup) -> tuple[str, str | None]:
    """What the stylizer is built with: ``(built-in style text, picture path or None)``.

    For a schedule, its first key's style: the network is the one its styles
    need, and every frame then passes its own vector.
    """
    keys = style_keys(setup)
    if keys is None:
        return setup.style, setup.style_image
    first = keys.keys[0].style
    return (first, None) if keys.builtin else ("0", first)


class StyleTrack:
    """The style vector of each source frame of a style schedule.

    Args:
        keys: the schedule.
        fps: the source's frame rate (for keys in seconds).
        vectors: each style's vector by its text (26 weights or 100 values).
    """

    def __init__(self, keys: StyleKeys, fps: float | None, vectors: dict[str, np.ndarray]):
        self.keys, self.fps, self.vectors = keys, fps, vectors
        keys.frames(fps)  # a key in seconds without a frame rate fails now

    def vector(self, index: int) -> np.ndarray:
        """Source frame ``index``'s style vector, float32."""
        return self.keys.vector(index, self.fps, self.vectors)

    def switches_at(self, index: int) -> bool:
        """Whether the look cuts to another style at ``index`` (a ``hold`` key)."""
        return self.keys.switches_at(index, self.fps)


def make_track(setup: StyleSetup, read_picture) -> StyleTrack | None:
    """The track of ``setup``'s style schedule (None for one style).

    Args:
        setup: the fast style's setup.
        read_picture: ``(path, what, max_pixels) -> uint8 HxWx3 RGB``.
    """
    keys = style_keys(setup)
    if keys is None:
        return None
    if keys.builtin:
        vectors = {s: parse_style(s) for s in keys.styles}
    else:
        from dreamstream.stream.weights.style import style_vector

        vectors = {
            s: style_vector(read_picture(s, "style image", setup.max_pixels)) for s in keys.styles
        }
    return StyleTrack(keys, setup.fps, vectors)
