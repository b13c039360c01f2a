"""Per-frame values of a keyframed render reach the dream without a new trace."""

import numpy as np
import pytest

from dreamstream.core.dream import Dreamer, DreamParams
from dreamstream.core.errors import InputError
from tests.core.test_dream import picture, tiny_backbone

FAST = DreamParams(octaves=1, steps=3, step_size=3.0, tile=64, jitter=4)


@pytest.fixture(scope="module")
def tiny():
    return tiny_backbone()


def _diff(a, b):
    return np.abs(a.astype(int) - b.astype(int)).max()


def test_step_size_per_call_equals_that_step_size_as_a_setting(tiny):
    img = picture(32, 32)
    slow = Dreamer(tiny, "c2", DreamParams(octaves=1, steps=3, step_size=1.0, tile=64, jitter=4))
    per_call = Dreamer(tiny, "c2", FAST)(img, step_size=1.0)
    assert _diff(per_call, slow(img)) <= 1
    assert _diff(per_call, Dreamer(tiny, "c2", FAST)(img)) > 2  # it does change the dream


def test_term_weights_per_call_equal_an_objective_of_those_weights(tiny):
    img = picture(32, 32)
    both = Dreamer(tiny, {"c1": 1.0, "c2": 1.0}, FAST)
    only_c2 = Dreamer(tiny, {"c1": 0.0, "c2": 1.0}, FAST)(img)
    assert _diff(both(img, weights=[0.0, 1.0]), only_c2) <= 1
    assert _diff(both(img), only_c2) > 2


def test_new_values_every_frame_do_not_trace_again(tiny):
    img = picture(32, 32)
    d = Dreamer(tiny, {"c1": 1.0, "c2": 0.5}, FAST)
    d(img)
    traces = d.traces()
    for k in range(4):
        d(img, step_size=0.5 + k, weights=[1.0 - 0.2 * k, 0.2 * k])
    assert d.traces() == traces


def test_bad_per_call_values_are_input_errors(tiny):
    d = Dreamer(tiny, "c2", FAST)
    with pytest.raises(InputError, match="step_size must be > 0"):
        d(picture(32, 32), step_size=0.0)
    with pytest.raises(InputError, match="weights must be 1 finite numbers"):
        d(picture(32, 32), weights=[1.0, 2.0])
