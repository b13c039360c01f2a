"""Styles along time: keyframed styles that cross-fade from one to the next.

A style schedule names a style at each key, the style in parentheses (a
plain ``index:weight`` list is already the blend syntax of ``--style``)::

    "0:(3), 120:(7)"                      style 3 fading into style 7 over 120 frames
    "0:(3), 5s:(3:0.5,12:0.5), smooth"    into a blend, keys in seconds, eased
    "0:(3), 100:(7), hold"                a hard switch at frame 100
    "0:(monet.jpg), 240:(hokusai.png)"    pictures (Magenta's arbitrary network)

Keys and interpolations are those of :mod:`dreamstream.core.schedule`. The
styles of one schedule are all built-in styles (the 26-style network) or all
pictures (Magenta's network): the two networks read different style vectors.

Both networks are conditional: a style enters only through the scale and
shift of each instance norm, as an affine function of a style vector (26
weights, or Magenta's 100 values of a picture). So a cross-fade interpolates
the style vector, the standard style interpolation of Dumoulin, Shlens and
Kudlur (2017) and Ghiasi et al. (2017): a fading frame costs one network pass,
as a plain one does. No files, no clocks: the caller gives each style's vector.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.params import is_builtin_style, parse_style
from dreamstream.core.schedule import INTERPOLATIONS, Key, eased, parse_key

NAME = "--style"
# A schedule starts with a key, a colon and an opening parenthesis: "0:(", "2.5s :(".
_START = re.compile(r"^\s*[+]?(?:\d+(?:\.\d*)?|\.\d+)s?\s*:\s*\(")


def is_style_schedule(text) -> bool:
    """Whether ``text`` is a style schedule (``"0:(3), 120:(7)"``) rather than one style."""
    return isinstance(text, str) and bool(_START.match(text))


@dataclass(frozen=True)
class StyleKey:
    """At ``at`` frames (or seconds, when ``seconds``), the style ``style`` (its text)."""

    at: float
    seconds: bool
    style: str

    def frame(self, fps: float | None) -> float:
        """The key's position in frames (seconds times ``fps``)."""
        return Key(self.at, self.seconds, 0.0).frame(fps, NAME)

    def text(self) -> str:
        at = f"{self.at:g}s" if self.seconds else f"{int(self.at)}"
        return f"{at}:({self.style})"


@dataclass(frozen=True)
class StyleKeys:
    """Styles keyed by frame index or time, cross-faded in between.

    Attributes:
        keys: the keyframes in the order written.
        interpolation: one of ``core.schedule.INTERPOLATIONS``.
    """

    keys: tuple[StyleKey, ...]
    interpolation: str = "linear"

    @property
    def builtin(self) -> bool:
        """True for built-in styles (the 26-style network), False for pictures."""
        return is_builtin_style(self.keys[0].style)

    @property
    def styles(self) -> tuple[str, ...]:
        """Each distinct style once, in the order written."""
        return tuple(dict.fromkeys(k.style for k in self.keys))

    def frames(self, fps: float | None = None) -> list[tuple[float, str]]:
        """``(frame, style)`` of each key, ordered by frame.

        Raises:
            InputError: a key in seconds without a frame rate, or two keys on one frame.
        """
        pairs = sorted(((k.frame(fps), k.style) for k in self.keys), key=lambda p: p[0])
        for (a, _), (b, _) in zip(pairs, pairs[1:], strict=False):
            if a == b:
                raise InputError(f"{NAME}: two keys fall on frame {a:g}")
        return pairs

    def mix(self, frame: float, fps: float | None = None) -> tuple[tuple[str, float], ...]:
        """The styles at source frame ``frame`` and their shares (summing to 1).

        One style before the first key, after the last and on a key; two
        between keys (the earlier one's share falling as the later one's rises).
        """
        pairs = self.frames(fps)
        if frame <= pairs[0][0]:
            return ((pairs[0][1], 1.0),)
        for (fa, sa), (fb, sb) in zip(pairs, pairs[1:], strict=False):
            if frame < fb:
                u = eased((frame - fa) / (fb - fa), self.interpolation)
                return ((sa, 1.0),) if u == 0.0 else ((sa, 1.0 - u), (sb, u))
        return ((pairs[-1][1], 1.0),)

    def switches_at(self, frame: float, fps: float | None = None) -> bool:
        """Whether a ``hold`` schedule changes style at ``frame`` (a hard cut in the look)."""
        if self.interpolation != "hold":
            return False
        pairs = self.frames(fps)
        return any(
            f == frame and s != prev for (f, s), (_, prev) in zip(pairs[1:], pairs, strict=False)
        )

    def vector(self, frame: float, fps: float | None, vectors: Mapping[str, np.ndarray]):
        """The style vector at ``frame``: the keys' vectors interpolated (float32).

        Args:
            frame: the source frame index.
            fps: the source's frame rate (for keys in seconds).
            vectors: each style's vector (26 weights or 100 values), by its text.
        """
        out = None
        for style, share in self.mix(frame, fps):
            term = np.float32(share) * np.asarray(vectors[style], np.float32)
            out = term if out is None else out + term
        return out

    def text(self) -> str:
        """Canonical text that :func:`parse_style_keys` reads back to this schedule."""
        keys = ", ".join(k.text() for k in self.keys)
        return keys if self.interpolation == "linear" else f"{keys}, {self.interpolation}"

    def __str__(self) -> str:
        return self.text()


def _items(text: str) -> list[str]:
    """``text`` split at commas outside parentheses."""
    items, depth, cur = [], 0, []
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            raise InputError(f"{NAME}: unbalanced ')' in {text!r}")
        if ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise InputError(f"{NAME}: unbalanced '(' in {text!r}")
    return [*items, "".join(cur).strip()]


def _key(item: str) -> StyleKey:
    """One ``key:(style)`` item; InputError naming it if the key or the style is bad."""
    key, colon, rest = item.partition(":")
    rest = rest.strip()
    if not colon or not (rest.startswith("(") and rest.endswith(")")):
        raise InputError(
            f"{NAME}: bad keyframe {item!r}; expected key:(style), e.g. 120:(7), "
            f"120:(3:0.5,12:0.5), 5s:(picture.jpg), or one of {', '.join(INTERPOLATIONS)}"
        )
    at, seconds = parse_key(key, item, NAME)
    style = rest[1:-1].strip()
    if not style:
        raise InputError(f"{NAME}: empty style in keyframe {item!r}")
    if is_builtin_style(style):
        try:
            parse_style(style)
        except InputError as error:
            raise InputError(f"{NAME}: keyframe {item!r}: {error}") from None
    return StyleKey(at, seconds, style)


def parse_style_keys(text) -> StyleKeys:
    """A :class:`StyleKeys` from schedule text (see the module's doc) or a StyleKeys.

    Raises:
        InputError: one line naming the bad key, style or interpolation, a mix
            of built-in styles and pictures, or two keys on one frame.
    """
    if isinstance(text, StyleKeys):
        return text
    keys, how = [], "linear"
    for item in _items(str(text)):
        if item in INTERPOLATIONS:
            how = item
        elif item:
            keys.append(_key(item))
    if not keys:
        raise InputError(f"{NAME}: a style schedule needs at least one key, got {text!r}")
    kinds = {is_builtin_style(k.style): k for k in keys}
    if len(kinds) > 1:
        raise InputError(
            f"{NAME}: a schedule cannot mix built-in styles ({kinds[True].text()}) and pictures "
            f"({kinds[False].text()}): they run on different networks"
        )
    schedule = StyleKeys(tuple(keys), how)
    if not any(k.seconds for k in keys):
        schedule.frames()  # repeated frame keys fail now, not at the first frame
    return schedule
