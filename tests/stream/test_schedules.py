"""Schedulable settings: splitting, per-frame values, keyed objective weights."""

import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.schedules import extract, split_objective, texts, values_at


def test_extract_keeps_frame_zero_values_and_the_schedules():
    plain, schedules = extract(
        {
            "step_size": "0:1.0, 120:3.0",
            "steps": "0:4, 100:2, hold",
            "blend": 0.9,
            "layers": "block4_conv3:1",
            "octaves": "3",
        }
    )
    assert plain["step_size"] == 1.0 and plain["steps"] == 4 and plain["octaves"] == 3
    assert plain["blend"] == 0.9 and plain["layers"] == "block4_conv3:1"
    assert set(schedules) == {"step_size", "steps"}
    assert values_at(schedules, 60, 25.0) == {"step_size": 2.0, "steps": 4}
    assert values_at(schedules, 100, 25.0) == {"step_size": pytest.approx(8 / 3), "steps": 2}
    assert texts(schedules) == {"step_size": "0:1, 120:3", "steps": "0:4, 100:2, hold"}


def test_absolute_source_frames_give_a_segment_its_own_values():
    _, schedules = extract({"step_size": "0:1, 100:2, 200:1"})
    whole = [values_at(schedules, i, 25.0)["step_size"] for i in range(0, 200)]
    segment = [values_at(schedules, i, 25.0)["step_size"] for i in range(100, 150)]
    assert segment == whole[100:150]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"blend": "0:0.5, 10:1.5"}, r"blend: value 1.5 at key 10:1.5 must be in 0-1"),
        ({"steps": "0:2, 10:2.5"}, r"steps: value 2.5 at key 10:2.5 must be whole"),
        ({"step_size": "0:1, 10:x"}, r"step_size: bad value 'x' in '10:x'"),
        ({"octaves": "0:3, 5:0"}, r"octaves: value 0 at key 5:0 must be >= 1"),
    ],
)
def test_bad_schedules_name_setting_key_and_value(values, message):
    with pytest.raises(InputError, match=message):
        extract(values)


def test_objective_weights_as_schedules_cross_fade():
    text, weights = split_objective("block3_conv3:(0:1, 240:0), block5_conv1[12]:(0:0, 240:1)")
    assert text == "block3_conv3:1,block5_conv1[12]:1"
    assert [w.at(120) for w in weights] == [0.5, 0.5]
    assert [w.at(0) for w in weights] == [1.0, 0.0]
    mixed, w2 = split_objective("block3_conv3:(0:1, 10:2), block4_conv3:0.5, block5_conv1")
    assert mixed == "block3_conv3:1,block4_conv3:1,block5_conv1:1"
    assert [w.at(10) for w in w2] == [2.0, 0.5, 1.0]
    assert split_objective("block4_conv3:1,block5_conv1:2") == (
        "block4_conv3:1,block5_conv1:2",
        None,
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("block3_conv3:(0:1, 240:0", "unbalanced '\\('"),
        ("block3_conv3:(0:1, 240:z)", "weight of block3_conv3: bad value 'z'"),
    ],
)
def test_bad_keyed_objectives(spec, message):
    with pytest.raises(InputError, match=message):
        split_objective(spec)
