"""One settings type: defaults < preset < config file < flags, validated early."""

from __future__ import annotations

import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.params import DreamParams
from dreamstream.stream import settings as S
from dreamstream.stream.cli import build_parser, options_markdown
from dreamstream.stream.docs import COMMANDS, OPTIONS_PAGE


def test_defaults_come_from_the_engine_parameters():
    s, p = S.Settings(), DreamParams()
    assert (s.octaves, s.steps, s.step_size, s.tile, s.jitter) == (
        p.octaves,
        p.steps,
        p.step_size,
        p.tile,
        p.jitter,
    )


def test_shipped_presets_load_and_differ():
    presets = S.list_presets()
    assert {"subtle", "classic", "deep", "eyes"} <= set(presets)
    loaded = {name: S.resolve(preset=name) for name in presets}
    dreams = {
        (s.layers, s.octaves, s.steps, s.steps_next, s.octaves_next)
        for n, s in loaded.items()
        if s.method == "fast"
    }
    assert len(dreams) == len(S.dream_presets())
    assert len({repr(s.as_dict()) for s in loaded.values()}) == len(loaded)


def test_carried_frames_drop_the_coarsest_octave_unless_told():
    assert S.Settings(octaves=4).carried_octaves() == 3
    assert S.Settings(octaves=1).carried_octaves() == 1
    assert S.Settings(octaves=4, octaves_next=4).carried_octaves() == 4


def test_precedence_preset_then_config_then_flags(tmp_path):
    config = tmp_path / "mine.toml"
    config.write_text("steps = 3\nstep-size = 1.25\n")
    s = S.resolve(preset="deep", config=str(config), step_size=0.5)
    deep = S.resolve(preset="deep")
    assert s.layers == deep.layers  # from the preset
    assert s.steps == 3  # the config overrides the preset
    assert s.step_size == 0.5  # a flag overrides both


@pytest.mark.parametrize(
    "values, message",
    [
        ({"octaves": 0}, "octaves must be >= 1, got 0"),
        ({"steps": -1}, "steps must be >= 0, got -1"),
        ({"octaves_next": 0}, "--octaves-next must be >= 1, got 0"),
        ({"style": "26"}, "style index must be 0-25, got 26"),
        ({"style": "3:x"}, "bad weight 'x'"),
        ({"style": "cat"}, "--style must be"),
        ({"blend": 1.5}, "--blend must be between 0 and 1"),
        ({"regrow": -1}, "--regrow must be >= 0, got -1.0"),
        ({"carry": "both"}, "--carry must be one of blend, residual"),
    ],
)
def test_bad_values_are_input_errors_naming_the_value(values, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[")):
        S.Settings(**values)


def test_unknown_preset_and_bad_config(tmp_path):
    with pytest.raises(InputError, match="unknown preset 'nope'; presets: .*classic"):
        S.load_preset("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 3\n")
    with pytest.raises(InputError, match="unknown setting 'colour'"):
        S.resolve(config=str(bad))
    bad.write_text("steps = [\n")
    with pytest.raises(InputError, match="not valid TOML"):
        S.resolve(config=str(bad))


def test_every_setting_is_a_cli_option_with_help():
    parser = build_parser()
    dream_help = parser._subparsers._group_actions[0].choices["dream"].format_help()
    for name, f in S.FIELDS.items():
        if f.metadata["group"] in ("common", "dream"):
            flag = S.flag(("no_" if f.default is True else "") + name)
            assert flag in dream_help, flag


def test_options_page_tables_match_the_cli():
    page = OPTIONS_PAGE.read_text()
    for command in COMMANDS:
        assert options_markdown(command) in page, (
            f"docs/options.md's {command} options table is stale: "
            "run `.venv/bin/python -m dreamstream.stream.docs`"
        )


@pytest.mark.parametrize(
    "line, message",
    [
        ('preserve_color = "false"', "preserve_color must be true or false, got 'false'"),
        ('flow = "no"', "flow must be true or false, got 'no'"),
        ("octaves = 2.5", "octaves must be a whole number, got 2.5"),
        ('seed = "abc"', "seed must be a whole number, got 'abc'"),
        ('width = "wide"', "width must be a whole number, got 'wide'"),
        ("crf = true", "crf must be a whole number, got True"),
        ('step-size = "big"', "step-size must be a number or keyframes, got 'big'"),
        ("layers = 3", "layers must be text, got 3"),
        ("blend = nan", "blend must be a finite number, got nan"),
        ("step_size = inf", "step_size must be a finite number, got inf"),
    ],
)
def test_config_values_are_type_checked_against_each_setting(tmp_path, line, message):
    config = tmp_path / "c.toml"
    config.write_text(line + "\n")
    with pytest.raises(InputError) as info:
        S.resolve(config=str(config))
    assert str(info.value) == f"config file {config}: {message}"


def test_config_accepts_the_natural_toml_types(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("style = 7\nstart = 2\nend = 1.5\nstep_size = 2\npreserve_color = true\n")
    s = S.resolve(config=str(config))
    assert (s.style, s.start, s.end, s.step_size, s.preserve_color) == ("7", 2, 1.5, 2, True)
    assert isinstance(s.step_size, float)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"octaves": 2.5}, "--octaves must be a whole number, got 2.5"),
        ({"flow": "no"}, "--flow must be true or false, got 'no'"),
        ({"tile": None}, "--tile must be a whole number, got None"),
    ],
)
def test_api_values_are_type_checked_too(values, message):
    with pytest.raises(InputError) as info:
        S.Settings(**values)
    assert str(info.value) == message
