"""One settings type for the CLI, the Python API, presets and metadata.

:class:`Settings` is a frozen dataclass: its field defaults are the only
defaults in the product (the dream engine's come from
:class:`dreamstream.core.params.DreamParams`). The CLI builds its options from
the fields' metadata, presets and ``--config`` files are TOML tables of the
same field names, and a render's metadata records ``Settings.as_dict()``.
Precedence: defaults < preset < config file < command-line flags.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.core.params import (
    BACKBONES,
    CARRY_MODES,
    FLOW_METHODS,
    FLOW_PRESETS,
    MAX_PIXELS,
    NUM_STYLES,
    POOLINGS,
    PRECISIONS,
    DreamParams,
    is_builtin_style,
    parse_style,
)
from dreamstream.stream.runtimes import RUNTIMES

_DP = DreamParams()
ENCODER_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


def _opt(help: str, group: str = "common", **extra) -> dict:
    """Field metadata read by the CLI: help text, option group, argparse extras."""
    return {"help": help, "group": group, **extra}


@dataclass(frozen=True)
class Settings:
    """Everything a render can be told. Unset optional values mean "the sensible default"."""

    # -- common to dream and style
    width: int | None = field(
        default=None,
        metadata=_opt("process at this width (keeps aspect, even sides); default: the input's"),
    )
    start: str | None = field(
        default=None, metadata=_opt("first frame: an index (10) or a time (2.5s, 00:01:02.5)")
    )
    end: str | None = field(default=None, metadata=_opt("stop before this frame index or time"))
    frames: int | None = field(default=None, metadata=_opt("process at most N frames"))
    max_pixels: int = field(
        default=MAX_PIXELS,
        metadata=_opt(
            "refuse frames (after --width) and pictures larger than this many pixels "
            "(8K: 7680x4320)"
        ),
    )
    flow: bool = field(
        default=True,
        metadata=_opt(
            "process each frame on its own, without carrying the previous output along the "
            "input's optical flow"
        ),
    )
    flow_method: str = field(
        default="dis", metadata=_opt("optical flow algorithm", choices=FLOW_METHODS)
    )
    flow_preset: str = field(
        default="medium", metadata=_opt("DIS flow quality/speed preset", choices=FLOW_PRESETS)
    )
    crf: int = field(default=18, metadata=_opt("video quality, lower is better (x264 CRF 0-51)"))
    encoder_preset: str = field(
        default="medium",
        metadata=_opt("x264 speed preset (FFmpeg's -preset)", choices=ENCODER_PRESETS),
    )
    seed: int = field(default=_DP.seed, metadata=_opt("random seed; same seed, same output"))
    # -- dream
    model: str = field(
        default="vgg16",
        metadata=_opt(
            "dream backbone: vgg16 = ImageNet VGG16, vgg16-hed = VGG16 tuned for edges",
            "dream",
            choices=BACKBONES,
        ),
    )
    weights: str | None = field(
        default=None,
        metadata=_opt(
            "local weights file: vgg16 (Keras ImageNet .h5), inception_v3 (.h5), googlenet (.pb)",
            "dream",
        ),
    )
    layers: str | None = field(
        default=None,
        metadata=_opt(
            "objective: layer:weight list, channels as layer[ch]; default: the model's", "dream"
        ),
    )
    pooling: str = field(default="max", metadata=_opt("VGG16 pooling", "dream", choices=POOLINGS))
    octaves: int = field(default=_DP.octaves, metadata=_opt("pyramid levels", "dream"))
    octave_scale: float = field(
        default=_DP.octave_scale, metadata=_opt("size ratio between octaves", "dream")
    )
    steps: int = field(
        default=_DP.steps, metadata=_opt("ascent steps per octave (first frame)", "dream")
    )
    steps_next: int = field(
        default=2,
        metadata=_opt(
            "ascent steps per octave for frames that start from the carried dream", "dream"
        ),
    )
    step_size: float = field(
        default=_DP.step_size, metadata=_opt("mean pixel change per step (0-255 units)", "dream")
    )
    tile: int = field(default=_DP.tile, metadata=_opt("largest tile side in pixels", "dream"))
    jitter: int = field(default=_DP.jitter, metadata=_opt("largest random shift per step", "dream"))
    tv_weight: float = field(
        default=_DP.tv_weight,
        metadata=_opt("total-variation penalty weight (smoother dreams)", "dream"),
    )
    precision: str = field(
        default="auto",
        metadata=_opt(
            "network precision: auto = bfloat16 on CPUs with AMX/AVX512-BF16 "
            "(TensorFlow), else float32",
            "dream",
            choices=PRECISIONS,
        ),
    )
    guide: str | None = field(
        default=None, metadata=_opt("guide image: dream towards its features", "dream")
    )
    blend: float = field(
        default=0.9,
        metadata=_opt("share of the carried dream in the next frame's start image (0-1)", "dream"),
    )
    carry: str = field(
        default="blend",
        metadata=_opt(
            "what is carried to the next frame: the warped dream or its residual",
            "dream",
            choices=CARRY_MODES,
        ),
    )
    # -- style
    style: str = field(
        default="0", metadata=_opt("built-in style 0-25 or a blend such as 3:0.5,12:0.5", "style")
    )
    style_image: str | None = field(
        default=None, metadata=_opt("any picture as the style (arbitrary style network)", "style")
    )
    strength: float = field(default=1.0, metadata=_opt("style strength 0-1", "style"))
    preserve_color: bool = field(
        default=False,
        metadata=_opt("keep the input's colours, take luminance from the style", "style"),
    )
    temporal: float = field(
        default=0.5,
        metadata=_opt("weight of the warped previous output in each styled frame (0-1)", "style"),
    )
    runtime: str = field(
        default="auto",
        metadata=_opt(
            "what runs the style network: auto = onnxruntime on a CPU, Keras on a GPU "
            "and for --style-image",
            "style",
            choices=RUNTIMES,
        ),
    )

    def __post_init__(self):
        self.dream_params()  # validates the engine's settings early, before any file is made
        _check_range("blend", self.blend, 0, 1)
        _check_range("temporal", self.temporal, 0, 1)
        _check_range("strength", self.strength, 0, 1)
        _check_range("crf", self.crf, 0, 51)
        _check_range("steps_next", self.steps_next, 0, None)
        _check_range("max_pixels", self.max_pixels, 1, None)
        for name, least in (("width", 2), ("frames", 1)):
            value = getattr(self, name)
            if value is not None and value < least:
                raise InputError(f"--{name.replace('_', '-')} must be >= {least}, got {value}")
        for name, allowed in (
            ("flow_method", FLOW_METHODS),
            ("flow_preset", FLOW_PRESETS),
            ("carry", CARRY_MODES),
            ("model", BACKBONES),
            ("encoder_preset", ENCODER_PRESETS),
            ("precision", PRECISIONS),
            ("runtime", RUNTIMES),
        ):
            if getattr(self, name) not in allowed:
                raise InputError(
                    f"--{name.replace('_', '-')} must be one of "
                    f"{', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        check_style_text(self.style)

    def dream_params(self) -> DreamParams:
        """The dream engine's parameters taken from these settings."""
        return DreamParams(
            octaves=self.octaves,
            octave_scale=self.octave_scale,
            steps=self.steps,
            step_size=self.step_size,
            tile=self.tile,
            jitter=self.jitter,
            tv_weight=self.tv_weight,
            seed=self.seed,
        )

    def source_options(self) -> dict:
        """What ``open_source`` takes from these settings: the frame range, width and limit."""
        return {
            "start": self.start,
            "end": self.end,
            "frames": self.frames,
            "width": self.width,
            "max_pixels": self.max_pixels,
        }

    def replace(self, **changes) -> Settings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """The settings as a plain dict (for --json and the output's metadata)."""
        return dataclasses.asdict(self)


def _check_range(name: str, value: float, low: float, high: float | None) -> None:
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InputError(f"--{name.replace('_', '-')} must be {span}, got {value}")


def check_style_text(text: str) -> None:
    """Reject a style that is not an index 0-25 or an ``index:weight`` blend."""
    if not is_builtin_style(text):
        raise InputError(
            f"--style must be an index 0-{NUM_STYLES - 1} or a blend such as "
            f"3:0.5,12:0.5, got {str(text)!r}"
        )
    parse_style(str(text))


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def from_mapping(values: dict, origin: str) -> dict:
    """Validate a preset/config table's keys and types; returns field -> value.

    Args:
        values: TOML table (dashes or underscores in keys).
        origin: where it came from, for error messages.
    """
    out = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in FIELDS:
            raise InputError(f"{origin}: unknown setting {key!r}")
        out[name] = value
    return out


def presets_dir() -> Path:
    """The folder of shipped presets (samples/presets, installed as dreamstream.presets)."""
    spec = importlib.util.find_spec("dreamstream.presets")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    return Path(__file__).resolve().parents[1] / "samples" / "presets"


def list_presets() -> dict[str, str]:
    """Shipped preset names and their one-line descriptions."""
    found = {}
    for path in sorted(presets_dir().glob("*.toml")):
        data = tomllib.loads(path.read_text())
        found[path.stem] = data.get("description", "")
    return found


def load_toml(path: Path, origin: str) -> dict:
    """Read a preset or config file into field -> value (``description`` is ignored)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{origin} not found: {path}") from None
    except OSError as error:  # a folder, no permission, an I/O error
        raise InputError(f"{origin} {path} cannot be read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{origin} {path} is not valid TOML: {error}") from None
    data.pop("description", None)
    return from_mapping(data, f"{origin} {path}")


def load_preset(name: str) -> dict:
    """The settings of a shipped preset, by name (a file goes through ``config``).

    Raises:
        InputError: ``name`` is empty, a path, or no shipped preset.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        hint = "; a settings file goes through --config" if "/" in name or "." in name else ""
        raise InputError(f"preset must be a preset name (see --list-presets), got {name!r}{hint}")
    path = presets_dir() / f"{name}.toml"
    if not path.is_file():
        names = ", ".join(list_presets()) or "none installed"
        raise InputError(f"unknown preset {name!r}; presets: {names}")
    return load_toml(path, "preset")


def resolve(preset: str | None = None, config: str | None = None, **flags) -> Settings:
    """Settings from defaults < preset < config file < flags."""
    values: dict = {}
    if preset is not None:
        values.update(load_preset(preset))
    if config is not None:
        values.update(load_toml(Path(config), "config file"))
    values.update(flags)
    try:
        return Settings(**values)
    except TypeError as error:  # a value of the wrong type in a TOML file
        raise InputError(f"bad setting: {error}") from None
