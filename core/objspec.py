"""The text of a dream objective, read without a framework.

``"block4_conv3:1,block5_conv1[12+40]^2:0.5"``: terms separated by commas;
each is a layer name, optionally ``[c]`` or ``[c1+c2]`` (channels), ``^2``
(mean square instead of mean) and ``:weight`` (default 1).
:func:`dreamstream.core.objectives.parse_objective` makes Keras terms of it;
the ONNX dream graph (:mod:`dreamstream.core.dreamgraph`) reads the same text
without loading Keras.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dreamstream.core.errors import InputError

_ITEM = re.compile(
    r"^(?P<name>[A-Za-z_][\w./-]*)"
    r"(?:\[(?P<ch>[^\]]*)\])?"
    r"(?P<sq>\^2)?"
    r"(?::(?P<w>[^:]+))?$"
)


@dataclass(frozen=True)
class TermText:
    """One ``layer[channels]^2:weight`` term: its weight, layer, channels (None: all), square."""

    weight: float
    layer: str
    channels: tuple[int, ...] | None = None
    square: bool = False


def parse_term(item: str) -> TermText:
    """One term of the text (see the module docstring).

    Raises:
        InputError: bad syntax, channel list or weight.
    """
    m = _ITEM.match(item)
    if not m:
        raise InputError(f"bad objective term {item!r}; expected layer[ch+ch]^2:weight")
    channels = None
    if m["ch"] is not None:
        try:
            channels = tuple(int(c) for c in m["ch"].split("+"))
        except ValueError:
            raise InputError(f"bad channel list [{m['ch']}] in objective term {item!r}") from None
    try:
        weight = float(m["w"]) if m["w"] is not None else 1.0
    except ValueError:
        raise InputError(f"bad weight {m['w']!r} in objective term {item!r}") from None
    if not np.isfinite(weight):
        raise InputError(f"bad weight {m['w']!r} in objective term {item!r}")
    return TermText(weight, m["name"], channels or None, bool(m["sq"]))


def check_names(names: Sequence[str], valid: Sequence[str] | None) -> None:
    """Refuse a layer name not in ``valid`` (None: anything goes); the message lists them."""
    for name in names if valid is not None else ():
        if name not in valid:
            raise InputError(
                f"unknown layer {name!r} in objective; valid layers: {', '.join(valid)}"
            )


def parse_terms(spec: str, valid_layers: Sequence[str] | None = None) -> list[TermText]:
    """Every term of an objective's text, in order.

    Raises:
        InputError: empty text, bad syntax, or a layer not in ``valid_layers``.
    """
    items = [s.strip() for s in str(spec).split(",")]
    if not any(items):
        raise InputError(f"empty objective {spec!r}")
    terms = [parse_term(s) for s in items if s]
    check_names([t.layer for t in terms], valid_layers)
    return terms
