"""EfficientNet-Lite0 built from arrays: layers, strides, weight checks."""

import numpy as np
import pytest

from dreamstream.core import efficientnet
from dreamstream.core.errors import InputError
from dreamstream.core.models import available_layers, build_efficientnet_lite0


def random_state(seed=0):
    rng = np.random.default_rng(seed)
    state = {}
    for name, shape in efficientnet.weight_shapes().items():
        var = name.endswith("running_var")
        state[name] = np.abs(rng.normal(1, 0.1, shape)) if var else rng.normal(0, 0.1, shape)
    return state


def test_layers_and_their_strides():
    assert available_layers("efficientnet_lite0")[-2:] == ("head", "logits")
    bb = build_efficientnet_lite0(random_state(), ["stage2", "stage4", "logits"])
    outs = bb.model(np.zeros((1, 64, 96, 3), "float32"))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 24, 24), (1, 4, 6, 80), (1, 1000)]
    assert bb.min_size == 32  # logits: the deepest stride


def test_weights_are_checked_by_name_and_shape():
    state = random_state()
    state["_blocks.3._expand_conv.weight"] = np.zeros((1, 1, 1, 1))
    with pytest.raises(InputError, match=r"_blocks.3._expand_conv.weight is \(1, 1, 1, 1\)"):
        build_efficientnet_lite0(state, ["stage3"])
    del state["_bn0.weight"]
    with pytest.raises(InputError, match="efficientnet_lite0 weights lack _bn0.weight"):
        build_efficientnet_lite0(state, ["stage1"])


def test_unknown_layer_lists_the_valid_ones():
    with pytest.raises(InputError, match="efficientnet_lite0 has no layer 'mixed3'"):
        build_efficientnet_lite0(random_state(), ["mixed3"])
