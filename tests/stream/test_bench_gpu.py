"""The GPU benchmark's CPU path: the kit round trip and a tiny run on the active backend."""

import json

import numpy as np
import pytest

from dreamstream.core.errors import InputError, WeightsNotFoundError
from dreamstream.stream.bench import gpu


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    try:
        return gpu.write_kit(tmp_path_factory.mktemp("kit"), layers="block1_conv2")
    except WeightsNotFoundError as err:
        pytest.skip(f"no VGG16 weights here: {err}")


def test_kit_holds_float16_vgg16_and_the_style_network(kit):
    from dreamstream.stream.weights.dream import load_backbone

    vgg, style = gpu.read_kit(kit)
    assert sorted(vgg) == ["block1_conv1", "block1_conv2"]
    kernel, bias = (
        load_backbone("vgg16", layers=("block1_conv2",))
        .model.get_layer("block1_conv2")
        .get_weights()
    )
    assert np.array_equal(vgg["block1_conv2"][0], kernel.astype(np.float16).astype(np.float32))
    assert np.array_equal(vgg["block1_conv2"][1], bias)
    assert style and all(v.size for v in style.values())


def test_missing_kit_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="GPU weights kit not found: .*nope.npz"):
        gpu.read_kit(tmp_path / "nope.npz")


@pytest.mark.slow
@pytest.mark.backends  # make bench-gpu runs it with JAX
def test_tiny_run_measures_dream_and_style_and_writes_the_table(kit, tmp_path):
    result = gpu.run(
        str(kit),
        sizes=("64x48",),
        frames=3,
        precisions=("float32",),
        layers="block1_conv2:1",
        tile=512,
        out=str(tmp_path),
    )
    rows = result["rows"]
    assert [r["mode"] for r in rows] == ["dream", "style 7"]
    assert all("error" not in r and r["fps"] > 0 for r in rows), rows
    assert rows[0]["stage_fps"]["flow"] > 0  # the dream ran with flow
    saved = json.loads((tmp_path / "gpu.json").read_text())
    assert len(saved["rows"]) == 2 and "| 64x48 | style 7 |" in (tmp_path / "gpu.md").read_text()
