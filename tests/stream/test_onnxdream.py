"""The dream on onnxruntime: when it is chosen, what it refuses, and that it skips Keras."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from dreamstream.core.errors import InputError, WeightsNotFoundError
from dreamstream.stream import onnxdream, runtimes
from dreamstream.stream.params import DreamSetup

pytest.importorskip("onnxruntime")


@pytest.fixture
def cpu(monkeypatch):
    monkeypatch.setattr(runtimes, "gpu_likely", lambda: False)


def setup(**changes) -> DreamSetup:
    return dataclasses.replace(DreamSetup(), **changes)


def test_auto_takes_onnxruntime_for_live_dreams_on_a_cpu(cpu, monkeypatch):
    deep = setup(layers="block5_conv3:1,block4_conv3:0.3")
    assert onnxdream.dream_runtime(setup(), live=True) == "onnxruntime"
    assert onnxdream.dream_runtime(deep, live=True) == "onnxruntime"
    assert onnxdream.dream_runtime(setup(), live=False) == "keras"  # files: asked for only
    assert onnxdream.dream_runtime(setup(runtime="onnxruntime"), live=False) == "onnxruntime"
    assert onnxdream.dream_runtime(setup(runtime="keras"), live=True) == "keras"
    monkeypatch.setattr(runtimes, "gpu_likely", lambda: True)
    assert onnxdream.dream_runtime(setup(), live=True) == "keras"


OBSTACLES = [
    ({"model": "inception_v3"}, "inception_v3 backbone"),
    ({"guide": "guide.png"}, "--guide"),
    ({"classes": "goldfish"}, "--class"),
    ({"mask": "saliency"}, "--mask saliency"),
    ({"precision": "bfloat16"}, "--precision bfloat16"),
    ({"weights": "vgg16.h5"}, "other than ONNX"),
    ({"layers": "block4_conv3[3+9]:1"}, "channel terms"),
    ({"layers": "block4_conv3:(0:1, 10:0)"}, "keyframed layer weights"),
]


@pytest.mark.parametrize(("changes", "why"), OBSTACLES)
def test_what_onnxruntime_cannot_run_falls_back_or_is_refused_in_one_line(cpu, changes, why):
    assert onnxdream.dream_runtime(setup(**changes), live=True) == "keras"
    with pytest.raises(InputError, match=f"cannot run this dream: .*{why}".replace("[", r"\[")):
        onnxdream.dream_runtime(setup(runtime="onnxruntime", **changes))


def embedded_vgg16():
    from dreamstream.stream.weights.assets import embedded_path

    try:
        return embedded_path("vgg16")
    except WeightsNotFoundError as err:
        pytest.skip(str(err))


LIVE_DREAM = """
import json, sys
import numpy as np
from dreamstream.stream import runtimes
runtimes.gpu_likely = lambda: False
from dreamstream.stream.params import DreamSetup
from dreamstream.stream.processors import make_processor
processor = make_processor("dream", DreamSetup(), layers="block3_conv3", live=True)
frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
out = processor.first(frame, 0, steps=2, octaves=1, layers="block3_conv3")
print(json.dumps({
    "runtime": processor.runtime,
    "change": float(np.abs(out.astype(int) - frame).mean()),
    "loaded": sorted(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules),
}))
"""


def test_a_live_dream_on_onnxruntime_dreams_without_importing_a_framework():
    embedded_vgg16()
    done = subprocess.run(
        [sys.executable, "-c", LIVE_DREAM], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["runtime"] == "onnxruntime"
    assert report["loaded"] == []
    assert report["change"] > 2.0  # it dreamt


def test_a_file_dream_on_onnxruntime_when_asked(tmp_path):
    """``dreamstream dream --runtime onnxruntime``: rendered, and said so in the metadata."""
    from tests.stream.test_cli import run
    from tests.stream.test_pipeline import decode, moving_frames, write_clip

    embedded_vgg16()
    clip = write_clip(tmp_path / "in.mp4", moving_frames(3))
    out = tmp_path / "dream.mp4"
    fast = ("--steps", "2", "--steps-next", "1", "--octaves", "2", "--layers", "block3_conv3")
    result = run("dream", str(clip), "-o", str(out), *fast, "--runtime", "onnxruntime", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["compute"] == {"precision": "float32", "xla": False, "runtime": "onnxruntime"}
    frames, inputs = decode(out)[0], decode(clip)[0]
    assert len(frames) == 3
    assert sum(abs(a.astype(int) - b).mean() for a, b in zip(frames, inputs, strict=True)) / 3 > 2.0
    refused = run(
        "dream",
        str(clip),
        "-o",
        str(tmp_path / "x.mp4"),
        "--runtime",
        "onnxruntime",
        "--class",
        "goldfish",
        "--model",
        "inception_v3",
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "cannot run this dream" in refused.stderr
    assert not (tmp_path / "x.mp4").exists()


def live_dream_looks(monkeypatch, keras_faster: bool):
    from dreamstream.stream.live.command import live_looks, make_budget
    from dreamstream.stream.settings import Settings

    monkeypatch.setattr(onnxdream, "keras_faster_here", lambda precision: keras_faster)
    settings = Settings()
    return live_looks([("dream", settings)], "dream", make_budget("dream", settings), False)


def wait_for_upgrade(looks, seconds: float = 120.0) -> None:
    import threading
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end and any(t.name == "look-upgrade" for t in threading.enumerate()):
        time.sleep(0.1)


def test_a_live_dream_moves_to_keras_once_loaded_where_keras_is_faster(cpu, monkeypatch):
    embedded_vgg16()
    looks = live_dream_looks(monkeypatch, keras_faster=True)
    first = looks.processor
    assert first.runtime == "onnxruntime"  # the first picture does not wait for TensorFlow
    wait_for_upgrade(looks)
    assert looks.processor is not first and looks.processor.runtime == "keras"
    assert looks.processor.setup == first.setup
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = looks.processor.first(frame, 0, steps=1, octaves=1, layers="block3_conv3")
    assert np.abs(out.astype(int) - frame).mean() > 1.0


def test_a_live_dream_stays_on_onnxruntime_where_it_is_the_faster(cpu, monkeypatch):
    embedded_vgg16()
    looks = live_dream_looks(monkeypatch, keras_faster=False)
    first = looks.processor
    wait_for_upgrade(looks)
    assert looks.processor is first and first.runtime == "onnxruntime"


def test_a_failed_move_leaves_the_running_look_on_screen():
    from dreamstream.stream.live.looks import Looks

    def fail(settings, processor):
        raise RuntimeError("no TensorFlow here")

    looks = Looks([("a", None)], lambda settings: "running", upgrade=fail)
    wait_for_upgrade(looks)
    assert looks.processor == "running" and looks.fatal is None
