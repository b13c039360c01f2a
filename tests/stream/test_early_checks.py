"""Bad renders are refused before any model loads (issue 11, faults 3, 4, 6, 9, 10, 12).

Each case runs the real CLI in-process with the model factory replaced by one
that fails the test: a refusal that came only after the model loaded would
surface as that failure instead of exit 2. One subprocess runs several cases
and checks that no framework (TensorFlow, Keras) was even imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from dreamstream.stream import jobs
from tests.stream.test_bad_input import assert_refused, run_cli, write_clip
from tests.stream.test_sinks import make_clip

W, H = 64, 48


class ModelLoaded(AssertionError):
    """Raised by the stand-in model factory: the check came too late."""


@pytest.fixture
def no_model(monkeypatch):
    def refuse(mode, settings):
        raise ModelLoaded(f"the {mode} model loaded before the input was refused")

    monkeypatch.setattr(jobs, "make_processor", refuse)


@pytest.fixture
def negative(monkeypatch):
    """A stand-in for the model: the negative of each frame (no framework needed)."""
    monkeypatch.setattr(jobs, "make_processor", lambda mode, settings: lambda f: 255 - f)


def write_black_png(path: Path, width: int, height: int) -> Path:
    """A valid black RGB PNG of ``width`` x ``height``, compressed row by row (no big array)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    packer, row = zlib.compressobj(1), bytes(1 + 3 * width)
    compressed = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", compressed)
        + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("early")
    write_clip(folder / "clip.mp4", n=3)
    write_clip(folder / "three.mkv", n=3)
    make_clip(folder / "sound.mp4", n=3)  # AAC audio, which WebM cannot hold
    cv2.imwrite(str(folder / "pic.png"), np.full((H, W, 3), 90, np.uint8))
    (folder / "notes.png").write_text("not a picture\n")
    write_black_png(folder / "huge.png", 8000, 4500)  # 36 Mpx, over 8K's 33.2 Mpx
    (folder / "config.d").mkdir()
    (folder / "crf.toml").write_text("crf = true\n")
    return folder


# ---------------------------------------------------------------- refused before the model

# Command line ({m}: the media folder, {o}: an empty output folder) and what the message names.
EARLY = {
    "one image from many frames": (
        "style {m}/clip.mp4 -o {o}/still.png",
        "one image",
        "3 frames",
    ),
    "still.png with --frames 2": (
        "style {m}/clip.mp4 -o {o}/still.png --frames 2",
        "one image",
        "2 frames",
    ),
    "webm with aac": ("style {m}/sound.mp4 -o {o}/out.webm", "audio", "out.webm"),
    "crf = true in a config": ("style {m}/clip.mp4 -o {o}/out.mp4 --config {m}/crf.toml", "crf"),
    "webm with an x264-only preset": (
        "style {m}/clip.mp4 -o {o}/out.webm --encoder-preset slow",
        "preset",
        "slow",
    ),
    "sheet of a video": ("style {m}/clip.mp4 --sheet -o {o}/sheet.jpg", "--sheet", "clip.mp4"),
    "missing style image": (
        "style {m}/clip.mp4 -o {o}/out.mp4 --style-image {m}/gone.png",
        "not found",
        "gone.png",
    ),
    "missing guide": ("dream {m}/clip.mp4 -o {o}/out.mp4 --guide {m}/gone.png", "gone.png"),
    "unreadable guide": (
        "dream {m}/clip.mp4 -o {o}/out.mp4 --guide {m}/notes.png",
        "cannot read guide image",
        "notes.png",
    ),
    "end 0": ("style {m}/clip.mp4 -o {o}/out.mp4 --end 0", "end", "0"),
    "end 0s": ("style {m}/clip.mp4 -o {o}/out.mp4 --end 0s", "end", "0s"),
    "start past the end of an mkv": (
        "style {m}/three.mkv -o {o}/out.mp4 --start 3",
        "past the end",
        "three.mkv",
    ),
    "start time past the end of an mkv": (
        "style {m}/three.mkv -o {o}/out.mp4 --start 0.2s",
        "past the end",
        "0.2s",
    ),
    "output folder cannot be made": (
        "style {m}/clip.mp4 -o /proc/nonexistent/x.mp4",
        "/proc/nonexistent/x.mp4",
    ),
    "config is a folder": (
        "style {m}/clip.mp4 -o {o}/out.mp4 --config {m}/config.d",
        "config file",
        "config.d",
    ),
    "empty preset name": ("style {m}/clip.mp4 -o {o}/out.mp4 --preset=", "preset", "''"),
    "preset given as a path": (
        "style {m}/clip.mp4 -o {o}/out.mp4 --preset {m}/config.d/x.toml",
        "preset",
        "x.toml",
        "--config",
    ),
    "output name too long": ("style {m}/clip.mp4 -o {o}/" + "n" * 252 + ".mp4", "255"),
    "picture over the pixel limit": ("style {m}/huge.png -o {o}/out.png", "8000x4500", "pixels"),
    "width over the pixel limit": (
        "style {m}/clip.mp4 -o {o}/out.mp4 --width 100000",
        "--width 100000",
        "pixels",
    ),
    "frames over a lowered limit": (
        "style {m}/pic.png -o {o}/out.png --max-pixels 3000",
        "64x48",
        "3000",
    ),
}


@pytest.mark.parametrize("case", list(EARLY))
def test_refused_before_the_model_loads(capsys, media, tmp_path, no_model, case):
    line, *needles = EARLY[case]
    argv = [word.format(m=media, o=tmp_path) for word in line.split()]
    assert_refused(capsys, argv, *needles, folders=(media, tmp_path))


def test_existing_folder_named_like_a_video_is_refused(capsys, media, tmp_path, no_model):
    (tmp_path / "x.mp4").mkdir()
    argv = ["style", media / "clip.mp4", "-o", tmp_path / "x.mp4"]
    assert_refused(capsys, argv, "is a folder", "x.mp4", folders=(media, tmp_path))
    assert list((tmp_path / "x.mp4").iterdir()) == []


# ---------------------------------------------------------------- accepted


def test_one_frame_gives_one_image(capsys, media, tmp_path, negative):
    argv = ["style", media / "clip.mp4", "-o", tmp_path / "one.png", "--frames", "1", "--quiet"]
    status, _, err = run_cli(capsys, *argv)
    assert status == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["one.png"]
    assert cv2.imread(str(tmp_path / "one.png")).shape == (H, W, 3)


def test_last_frame_of_an_mkv_is_not_past_its_end(capsys, media, tmp_path, negative):
    argv = ["style", media / "three.mkv", "-o", tmp_path / "out.png", "--start", "2", "--json"]
    status, out, err = run_cli(capsys, *argv)
    assert status == 0, err
    assert json.loads(out)["frames"] == 1


def test_pixel_limit_can_be_raised(capsys, media, tmp_path, negative):
    argv = ["style", media / "pic.png", "-o", tmp_path / "out.png", "--max-pixels", str(W * H)]
    status, _, err = run_cli(capsys, *argv, "--quiet")
    assert status == 0, err
    assert (tmp_path / "out.png").is_file()


# ---------------------------------------------------------------- no framework imported


SCRIPT = r"""
import contextlib, io, json, os, sys
from dreamstream.stream import cli
cases = json.loads(sys.argv[1])
results = []
for case in cases:
    os.environ.pop("DISPLAY", None)
    os.environ.update(case.get("env", {}))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli.main(case["argv"])
    results.append([status, err.getvalue()])
loaded = sorted(m for m in ("tensorflow", "keras", "jax", "torch") if m in sys.modules)
print(json.dumps({"results": results, "loaded": loaded}))
"""


def refuse_all(cases: list[dict], tmp_path: Path) -> list[str]:
    """Run ``cases`` (``argv``, optional ``env``) through ``cli.main`` in one fresh process.

    Each must exit 2 with exactly one ``dreamstream: error:`` line, and no
    framework may have been imported by the end; returns each case's line.
    """
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "DREAMSTREAM_OFFLINE": "1", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**env, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == [], "a framework was imported before the error"
    lines = []
    for case, (status, err) in zip(cases, report["results"], strict=True):
        assert status == 2, (case, err)
        assert len(err.splitlines()) == 1 and err.startswith("dreamstream: error: "), err
        lines.append(err.strip())
    return lines


def test_refusals_import_no_framework(media, tmp_path):
    """Several refusals in one process: each exits 2, and Keras/TensorFlow never load."""
    names = (
        "webm with aac",
        "sheet of a video",
        "missing guide",
        "start past the end of an mkv",
        "end 0",
        "output folder cannot be made",
        "width over the pixel limit",
    )
    lines = [EARLY[name][0] for name in names]
    refuse_all(
        [{"argv": [w.format(m=media, o=tmp_path) for w in line.split()]} for line in lines],
        tmp_path,
    )


def test_window_output_without_a_usable_display(media, tmp_path, dead_display):
    clip = str(media / "clip.mp4")
    cases = [
        {"argv": ["style", clip, "-o", "window", "--frames", "2"]},
        {"argv": ["dream", clip, "-o", "window"], "env": {"DISPLAY": dead_display}},
        {"argv": ["live", clip, "--mode", "style"], "env": {"DISPLAY": dead_display}},
    ]
    first, second, live = refuse_all(cases, tmp_path)
    assert first.endswith("output window: cannot open a window: DISPLAY is not set")
    assert second.endswith(f"cannot open a window: no X server answers at DISPLAY={dead_display}")
    assert f"no X server answers at DISPLAY={dead_display}" in live and "--serve" in live


def test_config_files_with_values_of_the_wrong_type(media, tmp_path):
    lines = {
        "preserve_color": 'preserve_color = "false"',
        "flow": 'flow = "no"',
        "octaves": "octaves = 2.5",
        "seed": 'seed = "abc"',
        "width": 'width = "wide"',
        "crf": "crf = true",
    }
    cases = []
    for name, line in lines.items():
        (tmp_path / f"{name}.toml").write_text(line + "\n")
        mode = "style" if name == "preserve_color" else "dream"
        config = str(tmp_path / f"{name}.toml")
        argv = [mode, str(media / "clip.mp4"), "-o", str(tmp_path / "o.mp4"), "--config", config]
        cases.append({"argv": argv})
    for (name, line), error in zip(lines.items(), refuse_all(cases, tmp_path), strict=True):
        value = line.split(" = ")[1].replace('"', "'").replace("true", "True")
        assert f"{name}.toml: {name} must be " in error and error.endswith(f"got {value}"), error
    assert not (tmp_path / "o.mp4").exists()
