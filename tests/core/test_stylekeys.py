"""Styles along time: the schedule's text, each frame's shares and vector, and its errors."""

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.params import parse_style
from dreamstream.core.stylekeys import is_style_schedule, parse_style_keys


def test_canonical_text_parses_back_to_the_same_schedule():
    keys = parse_style_keys(" 0:( 3 ),120:(7), 2.5s:(3:0.5,12:0.5) , smooth")
    assert keys.text() == "0:(3), 120:(7), 2.5s:(3:0.5,12:0.5), smooth"
    assert parse_style_keys(keys.text()) == keys
    assert keys.builtin and keys.styles == ("3", "7", "3:0.5,12:0.5")
    pictures = parse_style_keys("0:(a painting.jpg), 10s:(b.png)")
    assert not pictures.builtin and pictures.styles == ("a painting.jpg", "b.png")


def test_a_schedule_is_told_from_a_blend_by_its_parentheses():
    assert is_style_schedule("0:(3), 120:(7)") and is_style_schedule("2.5s :(x.jpg)")
    assert not is_style_schedule("3:0.5,12:0.5") and not is_style_schedule("7")
    assert not is_style_schedule("0:3, 120:7")  # the blend syntax; Settings says how to key


def test_shares_and_vectors_between_two_keys():
    vectors = {s: parse_style(s) for s in ("3", "7")}
    linear = parse_style_keys("10:(3), 30:(7)")
    assert linear.mix(0) == (("3", 1.0),) and linear.mix(10) == (("3", 1.0),)
    assert linear.mix(20) == (("3", 0.5), ("7", 0.5))
    assert linear.mix(30) == (("7", 1.0),) and linear.mix(99) == (("7", 1.0),)
    middle = linear.vector(20, None, vectors)
    assert middle[3] == pytest.approx(0.5) and middle[7] == pytest.approx(0.5)
    assert middle.sum() == pytest.approx(1.0) and middle.dtype == np.float32
    smooth = parse_style_keys("10:(3), 30:(7), smooth")
    assert smooth.mix(15)[1][1] == pytest.approx(0.15625)  # smoothstep(0.25)
    assert smooth.mix(20)[1][1] == pytest.approx(0.5)


def test_hold_switches_at_the_key_and_only_there():
    hold = parse_style_keys("0:(3), 25:(7), 50:(7), hold")
    assert hold.mix(24) == (("3", 1.0),) and hold.mix(25) == (("7", 1.0),)
    assert [f for f in range(60) if hold.switches_at(f)] == [25]  # 50 keeps style 7
    assert not parse_style_keys("0:(3), 25:(7)").switches_at(25)  # linear never cuts


def test_keys_in_seconds_need_the_frame_rate():
    keys = parse_style_keys("0:(3), 2s:(7)")
    assert keys.mix(25, fps=25.0) == (("3", 0.5), ("7", 0.5))
    with pytest.raises(InputError, match=r"^--style: key 2s needs the source's frame rate"):
        keys.mix(10)


@pytest.mark.parametrize(
    "text, message",
    [
        ("0:(3), x:(7)", "--style: bad key 'x' in 'x:(7)'; a key is a frame index"),
        ("0:(3), 120:(30)", "--style: keyframe '120:(30)': style index must be 0-25, got 30"),
        ("0:(3), 120:(3:x)", "--style: keyframe '120:(3:x)': bad weight 'x'"),
        ("0:(3), 120:7", "--style: bad keyframe '120:7'; expected key:(style)"),
        ("0:(3), 120:()", "--style: empty style in keyframe '120:()'"),
        ("0:(3), 0:(4)", "--style: two keys fall on frame 0"),
        ("0:(3), 9:(4), wiggle", "--style: bad keyframe 'wiggle'"),
        ("0:(3), 9:(4", "--style: unbalanced '('"),
        ("0:(3), 9:(a.jpg)", "--style: a schedule cannot mix built-in styles (0:(3)) and pict"),
        ("1.5:(3), 9:(4)", "--style: frame key '1.5' must be a whole number"),
    ],
)
def test_bad_schedules_are_one_line_errors_naming_the_key_or_style(text, message):
    with pytest.raises(InputError) as info:
        parse_style_keys(text)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
