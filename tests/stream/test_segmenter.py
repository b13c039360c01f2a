"""The selfie segmenter's fetch step (hash checked, never on the default path) and its runner."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.weights import segmenter

MEMBER = "mediapipe/modules/selfie_segmentation/"


def tiny_model(path: Path) -> Path:
    """A 16x16 TF Lite "segmenter": a person wherever the red channel is above one half."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32)])
    def segment(image):
        return tf.sigmoid(40.0 * (image[..., :1] - 0.5))

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [segment.get_concrete_function()], segment
    )
    path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("segmenter") / "tiny.tflite")


def fake_wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(MEMBER + name, data)
        zf.writestr("mediapipe/__init__.py", "")
    return path


def test_fetch_from_a_wheel_checks_the_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMSTREAM_CACHE", str(tmp_path / "cache"))
    good = b"model bytes"
    models = {"landscape": ("m.tflite", hashlib.sha256(good).hexdigest())}
    wheel = fake_wheel(tmp_path / "mp.whl", {"m.tflite": good})
    (path,) = segmenter.install_from_wheel(wheel, models)
    assert path.read_bytes() == good and path.parent == tmp_path / "cache"
    # A file whose hash differs is refused and nothing is written.
    bad = fake_wheel(tmp_path / "bad.whl", {"m.tflite": b"tampered"})
    path.unlink()
    with pytest.raises(InputError, match="sha256"):
        segmenter.install_from_wheel(bad, models)
    assert not any((tmp_path / "cache").iterdir())
    with pytest.raises(InputError, match="no mediapipe/modules"):
        segmenter.install_from_wheel(fake_wheel(tmp_path / "empty.whl", {}), models)
    (tmp_path / "junk.whl").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable wheel"):
        segmenter.install_from_wheel(tmp_path / "junk.whl", models)


def test_the_real_models_are_refused_when_their_bytes_differ(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMSTREAM_CACHE", str(tmp_path))
    files = {name: b"x" for name, _ in segmenter.MODELS.values()}
    with pytest.raises(InputError, match="not the mediapipe==0.10.14 model"):
        segmenter.fetch(fake_wheel(tmp_path / "mp.whl", files))
    assert not list(tmp_path.glob("*.tflite"))


def test_missing_model_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMSTREAM_CACHE", str(tmp_path))
    with pytest.raises(InputError, match="run `dreamstream fetch segmenter`"):
        segmenter.find_model(None)
    with pytest.raises(InputError, match="--mask-model .*no such file"):
        segmenter.find_model(str(tmp_path / "nope.tflite"))


def test_runner_maps_a_frame_to_person_probabilities(tiny_tflite):
    seg = segmenter.Segmenter(tiny_tflite)
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :32, 0] = 255  # the left half is "a person"
    person = seg(frame)
    assert person.shape == (48, 64) and person.dtype == np.float32
    assert person[:, :28].min() > 0.99 and person[:, 36:].max() < 0.01


def test_runner_refuses_a_model_of_the_wrong_kind(tmp_path):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def flat(x):
        return x * 2.0

    function = flat.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], flat)
    path = tmp_path / "flat.tflite"
    path.write_bytes(converter.convert())
    with pytest.raises(InputError, match="must take one HxWx3 image"):
        segmenter.Segmenter(path)
    (tmp_path / "junk.tflite").write_bytes(b"junk")
    with pytest.raises(InputError, match="cannot be loaded"):
        segmenter.Segmenter(tmp_path / "junk.tflite")
