"""Keyframed settings from the CLI, config files and the API to each frame's dream."""

import json

import keras
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.models import ALL_BACKENDS, Backbone, dream_model
from dreamstream.stream import cli
from dreamstream.stream import settings as S
from dreamstream.stream.processors import DreamProcessor
from dreamstream.stream.weights import dream as weights


def test_cli_flags_take_keyframes(tmp_path):
    args = cli.build_parser().parse_args(
        [
            "dream",
            "in.mp4",
            "-o",
            "o.mp4",
            "--step-size",
            "0:1.0, 120:3.0, 240:0.5",
            "--octaves",
            "3",
            "--blend",
            "0:0.9, 2.5s:0.5, smooth",
        ]
    )
    s = cli._settings_from(args)
    assert s.step_size == 1.0 and s.octaves == 3 and s.blend == 0.9
    assert s.keyframes == "blend=0:0.9, 2.5s:0.5, smooth; step_size=0:1, 120:3, 240:0.5"
    assert S.Settings(**json.loads(json.dumps(s.as_dict()))) == s  # metadata round trip


def test_config_files_and_presets_take_keyframes(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('steps = "0:10, 100:4, hold"\nstep_size = 1.5\n')
    s = S.resolve(config=str(config))
    assert s.steps == 10 and s.step_size == 1.5 and s.keyframes == "steps=0:10, 100:4, hold"
    # a flag's plain number replaces the config file's keyframes
    assert S.resolve(config=str(config), steps=6).keyframes == ""


def test_api_takes_keyframes_and_bad_ones_name_key_and_value(tmp_path):
    assert S.Settings(anchor="0:0.25, 50:0").keyframes == "anchor=0:0.25, 50:0"
    with pytest.raises(InputError, match=r"^anchor: value 2 at key 50:2 must be in 0-1$"):
        S.Settings(anchor="0:0.25, 50:2")
    config = tmp_path / "c.toml"
    config.write_text('step_size = "0:1, x:2"\n')
    with pytest.raises(InputError) as info:
        S.resolve(config=str(config))
    assert str(info.value) == f"config file {config}: step_size: bad key 'x' in 'x:2'; " + (
        "a key is a frame index (120) or a time in seconds (2.5s)"
    )


def test_cli_bad_keyframes_exit_2_in_one_line(capsys, samples, tmp_path):
    code = cli.main(
        [
            "dream",
            str(samples / "clip.mp4"),
            "-o",
            str(tmp_path / "o.mp4"),
            "--step-size",
            "0:1, 10:-2",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err == "dreamstream: error: step_size: value -2 at key 10:-2 must be > 0\n"
    assert not list(tmp_path.iterdir())


def test_optimize_refuses_keyframes():
    s = S.Settings(method="optimize", style_image="x.jpg", strength="0:1, 10:0.5")
    with pytest.raises(InputError, match="--method optimize takes no keyframed settings"):
        s.setup("style")


def _vgg_named_backbone(*args, **kwargs) -> Backbone:
    """Two small random convolutions named like VGG16's first layers."""
    rng = np.random.default_rng(0)
    inp = keras.Input((None, None, 3))
    c1 = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp / 255.0)
    c2 = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(c1)
    model = dream_model(inp, [c1, c2], "tiny")
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return Backbone("vgg16", ("block1_conv1", "block1_conv2"), model, 1, ALL_BACKENDS)


@pytest.fixture
def tiny_vgg(monkeypatch):
    monkeypatch.setattr(weights, "load_backbone", _vgg_named_backbone)


def _dream_settings(**kw):
    base = dict(octaves=1, steps=3, tile=64, jitter=2, precision="float32", flow=False)
    base["layers"] = "block1_conv2"
    return S.Settings(**{**base, **kw})


def _frame():
    return np.random.default_rng(1).integers(40, 200, (24, 24, 3), dtype=np.uint8)


def test_each_frame_is_dreamt_with_its_own_step_size(tiny_vgg):
    keyed = DreamProcessor(_dream_settings(step_size="0:1, 100:5, 200:1").setup("dream", 25))
    for index, step in ((0, 1.0), (50, 3.0), (100, 5.0), (150, 3.0)):
        plain = DreamProcessor(_dream_settings(step_size=step).setup("dream", 25))
        got = keyed.first(_frame(), index)
        want = plain.first(_frame(), index)
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1, index


def test_layer_weights_cross_fade_between_layers(tiny_vgg):
    fade = "block1_conv1:(0:1, 100:0), block1_conv2:(0:0, 100:1)"
    keyed = DreamProcessor(_dream_settings(layers=fade).setup("dream", 25))
    only_1 = DreamProcessor(_dream_settings(layers="block1_conv1:1,block1_conv2:0").setup("dream"))
    only_2 = DreamProcessor(_dream_settings(layers="block1_conv1:0,block1_conv2:1").setup("dream"))
    close = lambda a, b: np.abs(a.astype(int) - b.astype(int)).max() <= 1  # noqa: E731
    assert close(keyed.first(_frame(), 0), only_1.first(_frame(), 0))
    assert close(keyed.first(_frame(), 100), only_2.first(_frame(), 100))
    middle = keyed.plan.weights(50)
    assert list(middle) == [0.5, 0.5]


def test_a_farm_segment_sees_the_values_of_its_own_frames(tiny_vgg):
    # Frames carry absolute source indices, so a segment starting at frame 100
    # dreams frame 100 exactly as the whole render does.
    setup = _dream_settings(step_size="0:1, 100:4, 200:1", steps="0:3, 150:1, hold").setup("dream")
    whole, segment = DreamProcessor(setup), DreamProcessor(setup)
    for index in (100, 160):
        assert np.array_equal(whole.first(_frame(), index), segment.first(_frame(), index))
    assert whole.plan.values(160) == {"step_size": pytest.approx(2.2), "steps": 1}


def test_style_strength_and_temporal_weight_per_frame(samples):
    from dreamstream.stream.processors import StyleProcessor

    frame = np.random.default_rng(2).integers(0, 255, (32, 48, 3), dtype=np.uint8)
    keyed = StyleProcessor(S.Settings(strength="0:0, 10:1", temporal="0:0, 10:1").setup("style"))
    full = StyleProcessor(S.Settings().setup("style"))
    assert np.array_equal(keyed.first(frame, 0), frame)  # strength 0: the frame itself
    assert np.abs(keyed.first(frame, 10).astype(int) - full.first(frame, 10)).max() <= 1
    half = keyed.first(frame, 5).astype(float)
    want = 0.5 * frame + 0.5 * full.first(frame, 5).astype(float)
    assert np.abs(half - want).max() <= 1.0
    # temporal 0 at frame 0: nothing of the warped previous output is kept
    ones = np.ones(frame.shape[:2], np.float32)
    previous = np.zeros_like(frame)
    assert np.array_equal(keyed.next(frame, 0, previous, ones, None), frame)


def test_resume_refuses_other_keyframes(tmp_path):
    from dreamstream.stream.io import check_resume

    made = S.Settings(step_size="0:1, 100:3")
    record = {"mode": "dream", "settings": made.as_dict()}
    (tmp_path / "dreamstream-0-9.json").write_text(json.dumps(record))
    check_resume(str(tmp_path) + "/", "dream", made.as_dict())  # the same curves: fine
    other = S.Settings(step_size="0:1, 100:4").as_dict()
    with pytest.raises(InputError, match="records keyframes 'step_size=0:1, 100:3', this render"):
        check_resume(str(tmp_path) + "/", "dream", other)
