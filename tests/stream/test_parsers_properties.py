"""Property-based tests of the parsers (issue 21): any text gets a value or one InputError line.

Hypothesis draws the inputs: config files, input and output specs, time
positions, style blends and objective (layer) specs. Two kinds of property:
whatever the text, the parser returns or raises ``InputError`` with a
one-line message, never another exception; and what a well-formed spec says
is what the parser gives back. Example counts stay small (CI has 2 cores).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from dreamstream.core.errors import InputError
from dreamstream.core.objectives import LayerTerm, parse_objective
from dreamstream.core.params import NUM_STYLES, parse_style
from dreamstream.stream.io.positions import parse_position
from dreamstream.stream.io.specs import input_kind, output_kind
from dreamstream.stream.settings import FIELDS, load_toml

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Text with the characters these grammars use, plus anything else.
GRAMMAR = st.text(alphabet=st.sampled_from("0123456789.:,+-_[]^s eE/%d\tabcxyz"), max_size=24)
ANY_TEXT = st.one_of(GRAMMAR, st.text(max_size=24))


def one_line_or_value(call, *args):
    """``call(*args)``, or ``None`` when it raised a one-line InputError (else the test fails)."""
    try:
        return call(*args)
    except InputError as error:
        assert "\n" not in str(error) and str(error), repr(error)
        return None


# ------------------------------------------------------------------------- config files


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("configs")


@FAST
@given(text=st.text(max_size=80))
def test_any_config_text_reads_or_is_one_line(folder, text):
    path = folder / "any.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    one_line_or_value(load_toml, path, "config file")


_VALUES = {
    "bool": st.booleans(),
    "int": st.integers(-(10**6), 10**6),
    "float": st.floats(-1e6, 1e6, allow_nan=False),
    "str": st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if "." in repr(value) or "e" in repr(value) else f"{value}.0"
    if isinstance(value, str):  # a TOML basic string: JSON's escapes, raw non-ASCII, no DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")
    return str(value)


@st.composite
def config_tables(draw) -> dict:
    names = draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=5, unique=True))
    table = {}
    for name in names:
        kind = FIELDS[name].type.split(" ")[0]
        table[name] = draw(_VALUES[kind])
    return table


@FAST
@given(table=config_tables())
def test_a_config_of_well_typed_settings_reads_back_as_written(folder, table):
    path = folder / "typed.toml"
    lines = [f"{name.replace('_', '-')} = {_toml_value(v)}" for name, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = load_toml(path, "config file")
    assert set(read) == set(table)
    for name, value in table.items():
        got = read[name]
        if isinstance(value, float):
            assert math.isclose(got, value, rel_tol=1e-12, abs_tol=0)
        elif name in ("style", "temporal_frames"):
            assert got == str(value)
        else:
            assert got == value and type(got) is type(value)


@FAST
@given(key=st.text(min_size=1, max_size=16), value=st.one_of(*_VALUES.values()))
def test_an_unknown_or_mistyped_setting_is_one_line(folder, key, value):
    assume(key.replace("-", "_") not in FIELDS)
    path = folder / "unknown.toml"
    path.write_text(f"{_toml_value(key)} = {_toml_value(value)}\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown setting"):
        load_toml(path, "config file")


# ------------------------------------------------------------------------- specs

KINDS_IN = {"camera", "url", "images", "image", "video"}


@FAST
@given(spec=ANY_TEXT)
def test_any_input_spec_has_a_kind(spec):
    assume("\x00" not in spec)
    assert input_kind(spec) in KINDS_IN


@FAST
@given(spec=ANY_TEXT)
@example(spec="%\n")  # once a two-line message: the spec was quoted raw
def test_any_output_spec_has_a_kind_or_is_one_line(spec):
    assume("\x00" not in spec)
    kind = one_line_or_value(output_kind, spec)
    kinds = {"null", "window", "vcam", "stream", "images", "video", "image"}
    assert kind is None or kind[0] in kinds


@FAST
@given(
    stem=st.text(alphabet="abcdefgh_-", min_size=1, max_size=8),
    width=st.integers(1, 9),
    suffix=st.sampled_from([".png", ".jpg", ".tif", ".bmp", ".webp"]),
)
def test_a_numbered_pattern_is_an_image_sequence(stem, width, suffix):
    kind, path = output_kind(f"out/{stem}%0{width}d{suffix}")
    assert kind == "images" and path.name == f"{stem}%0{width}d{suffix}"


@FAST
@given(n=st.integers(0, 10**6), name=st.sampled_from(["camera:", "/dev/video"]))
def test_cameras_are_cameras(n, name):
    assert input_kind(f"{name}{n}") == "camera"


# ------------------------------------------------------------------------- time positions


@FAST
@given(text=ANY_TEXT)
def test_any_position_text_parses_or_is_one_line(text):
    pos = one_line_or_value(parse_position, text)
    if pos is not None:
        value = pos.index if pos.index is not None else pos.seconds
        assert value >= 0 and math.isfinite(value)


@FAST
@given(index=st.integers(0, 10**9))
def test_a_frame_index_is_that_index(index):
    assert parse_position(str(index)).index == index
    assert parse_position(index).index == index


@FAST
@given(
    hours=st.integers(0, 99),
    minutes=st.integers(0, 59),
    millis=st.integers(0, 59_999),
)
def test_clock_and_seconds_forms_agree(hours, minutes, millis):
    seconds = millis / 1000
    total = hours * 3600 + minutes * 60 + seconds
    clock = parse_position(f"{hours:02d}:{minutes:02d}:{seconds:06.3f}")
    plain = parse_position(f"{total:.3f}s")
    assert clock.index is None and plain.index is None
    assert clock.seconds == pytest.approx(total, abs=1e-6)
    assert plain.seconds == pytest.approx(total, abs=1e-6)


# ------------------------------------------------------------------------- style blends


@FAST
@given(text=ANY_TEXT)
def test_any_style_text_is_a_blend_or_one_line(text):
    weights = one_line_or_value(parse_style, text)
    if weights is not None:
        assert weights.shape == (NUM_STYLES,) and weights.dtype == np.float32
        assert (weights >= 0).all() and weights.sum() == pytest.approx(1, abs=1e-5)


@FAST
@given(
    blend=st.dictionaries(
        st.integers(0, NUM_STYLES - 1), st.integers(1, 1000), min_size=1, max_size=5
    )
)
def test_a_blend_gives_each_style_its_share(blend):
    text = ",".join(f"{index}:{weight}" for index, weight in blend.items())
    weights = parse_style(text)
    total = sum(blend.values())
    for index in range(NUM_STYLES):
        assert weights[index] == pytest.approx(blend.get(index, 0) / total, abs=1e-6)


# ------------------------------------------------------------------------- layer specs

LAYERS = ("block3_conv1", "block4_conv3", "block5_conv1", "mixed4a")


@FAST
@given(text=ANY_TEXT)
def test_any_objective_text_parses_or_is_one_line(text):
    objective = one_line_or_value(parse_objective, text, LAYERS)
    if objective is not None:
        assert objective.terms and set(objective.layers) <= set(LAYERS)
        assert all(math.isfinite(weight) for weight, _ in objective.terms)


@st.composite
def terms(draw) -> tuple[str, list[int] | None, bool, float]:
    layer = draw(st.sampled_from(LAYERS))
    channels = draw(st.none() | st.lists(st.integers(0, 511), min_size=1, max_size=3))
    square = draw(st.booleans())
    weight = draw(st.floats(-100, 100, allow_nan=False).map(lambda w: round(w, 3)))
    return layer, channels, square, weight


@FAST
@given(parts=st.lists(terms(), min_size=1, max_size=4))
def test_an_objective_spec_says_what_it_is(parts):
    text = ",".join(
        layer
        + (f"[{'+'.join(map(str, channels))}]" if channels else "")
        + ("^2" if square else "")
        + f":{weight}"
        for layer, channels, square, weight in parts
    )
    objective = parse_objective(text, LAYERS)
    assert len(objective.terms) == len(parts)
    for (weight, term), (layer, channels, square, expected) in zip(
        objective.terms, parts, strict=True
    ):
        assert isinstance(term, LayerTerm) and term.layer == layer
        assert term.channels == (tuple(channels) if channels else None)
        assert term.square == square and weight == pytest.approx(expected)
