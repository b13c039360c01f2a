"""Keyframed settings: parsing, interpolation, errors."""

import random

import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.schedule import check_values, parse_schedule


def test_linear_between_keys_and_held_outside():
    s = parse_schedule("0:1.0, 120:3.0, 240:0.5", "step_size")
    assert s.at(0) == 1.0
    assert s.at(60) == pytest.approx(2.0)
    assert s.at(120) == 3.0
    assert s.at(180) == pytest.approx(1.75)
    assert s.at(240) == 0.5 and s.at(10_000) == 0.5


def test_before_the_first_key_the_first_value_holds():
    assert parse_schedule("10:2, 20:4").at(0) == 2.0


def test_seconds_keys_use_the_frame_rate():
    s = parse_schedule("0s:0, 2.5s:10", "zoom")
    assert s.at(30, fps=24.0) == pytest.approx(10 * 30 / 60)
    assert s.at(60, fps=24.0) == 10.0
    with pytest.raises(InputError, match="key 0s needs the source's frame rate"):
        s.at(5)


def test_hold_steps_and_smooth_eases():
    hold = parse_schedule("0:4, 300:2, hold")
    assert hold.at(299) == 4.0 and hold.at(300) == 2.0
    smooth = parse_schedule("0:0, 100:1, smooth")
    assert smooth.at(50) == pytest.approx(0.5)
    assert smooth.at(10) < 0.1  # eased: slower than linear near a key
    assert smooth.at(90) > 0.9


def test_a_plain_number_is_a_constant_schedule():
    for given in ("2.5", 2.5, " 2.5 "):
        s = parse_schedule(given)
        assert s.constant and s.at(0) == 2.5 and s.at(999) == 2.5


def test_canonical_text_round_trips():
    rng = random.Random(3)
    for _ in range(200):
        keys = rng.sample(range(0, 500), rng.randint(1, 5))
        how = rng.choice(["linear", "smooth", "hold"])
        text = ", ".join(f"{k}:{rng.uniform(-5, 5):.3f}" for k in keys) + f", {how}"
        s = parse_schedule(text)
        back = parse_schedule(s.text())
        assert back == s
        for f in (0, 17, 250, 499, 600):
            assert back.at(f) == s.at(f)


def test_interpolation_stays_within_the_keys_values():
    rng = random.Random(5)
    for how in ("linear", "smooth", "hold"):
        s = parse_schedule(f"0:1, 50:7, 80:-2, 200:3, {how}")
        for _ in range(200):
            assert -2 <= s.at(rng.uniform(-10, 300)) <= 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0:1, x:2", "bad key 'x' in 'x:2'"),
        ("0:1, 12:fast", "bad value 'fast' in '12:fast'"),
        ("0:1, 1.5:2", "frame key '1.5' must be a whole number"),
        ("0:1, -3:2", "bad key '-3'"),
        ("0:1, 10", "bad keyframe '10'"),
        ("0:1, 10:2, 10:3", "two keys fall on frame 10"),
        ("0:1, 10:inf", "must be finite"),
        ("", "empty schedule"),
        ("0:1, bouncy", "bad keyframe 'bouncy'"),
    ],
)
def test_bad_schedules_name_the_bad_part_in_one_line(text, message):
    with pytest.raises(InputError) as err:
        parse_schedule(text, "step_size")
    assert message in str(err.value)
    assert str(err.value).startswith("step_size: ")
    assert "\n" not in str(err.value)


def test_value_checks_name_the_key():
    s = parse_schedule("0:1, 120:-3", "step_size")
    with pytest.raises(InputError, match=r"step_size: value -3 at key 120:-3 must be > 0"):
        check_values(s, 1e-9, None, "> 0")
