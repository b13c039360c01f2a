"""Bad input gets a clear answer and nothing is lost (issue 6), through the real CLI.

Each refused case runs ``dreamstream`` and checks: exit status 2, exactly one
line on stderr (``dreamstream: error: ...``) naming the problem and the bad
value, no traceback, and every file in the input and output folders unchanged
(same names, bytes and modification times: nothing created, nothing touched).

Documented choices checked here:

* A truncated video renders the frames that decode: exit 0, a warning line
  saying how many frames were read, and a valid output of exactly those
  frames. If no frame decodes (or the container cannot be opened) it is exit 2.
* Tiny frames: the dream engine needs 8 px a side, so 1x1 and 2x2 are exit 2
  with the engine's message; the style engine pads small pictures, so style
  accepts 1x1 and 2x2 and writes an output of the same size.
* 16-bit, grayscale and RGBA PNGs are read as 8-bit RGB (alpha over black)
  and render normally.

Most cases call ``cli.main`` in-process (fast); the few where the process
itself matters (exit status, what logging prints, ``--debug`` tracebacks) run
a subprocess.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from dreamstream.stream import cli
from dreamstream.stream.io import specs as outputs

W, H = 64, 48
LONG = 10  # frames in the clip that gets truncated
DREAM_FAST = ("--steps", "1", "--octaves", "1")


# ---------------------------------------------------------------- media made here


def write_clip(path: Path, n: int = 3, w: int = W, h: int = H, **open_options) -> Path:
    """An H.264 clip of ``n`` noise frames (noise keeps every packet a real size)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", **open_options) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for _ in range(n):
            image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, "rgb24")))
        out.mux(stream.encode(None))
    return path


def write_audio_only(path: Path) -> Path:
    """An AAC file with a fifth of a second of a tone and no video stream."""
    wave = (0.3 * np.sin(np.arange(8820) * 0.06))[None].astype(np.float32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        stream.layout = "mono"
        for k in range(0, wave.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(wave[:, k : k + 1024], "fltp", "mono")
            frame.sample_rate, frame.pts, frame.time_base = 44100, k, Fraction(1, 44100)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def cut(source: Path, target: Path, keep: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """Inputs shared by the tests; each test checks they stay unchanged."""
    folder = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(1)
    write_clip(folder / "clip.mp4")
    cut(write_clip(folder / "long.mkv", n=LONG), folder / "cut.mkv", 0.6)
    cut(folder / "long.mkv", folder / "head.mkv", 0.04)  # the header and no whole frame
    cut(write_clip(folder / "long.mp4", n=LONG), folder / "cut.mp4", 0.6)  # index at the end
    write_audio_only(folder / "sound.mp4")
    (folder / "empty.mp4").touch()
    (folder / "notes.mp4").write_text("this is a text file, not a video\n")
    (folder / "notes.png").write_text("this is a text file, not a picture\n")
    for side in (1, 2):
        cv2.imwrite(str(folder / f"tiny{side}.png"), np.full((side, side, 3), 90, np.uint8))
    cv2.imwrite(str(folder / "deep16.png"), rng.integers(0, 65536, (H, W, 3), dtype=np.uint16))
    cv2.imwrite(str(folder / "gray.png"), rng.integers(0, 256, (H, W), dtype=np.uint8))
    cv2.imwrite(str(folder / "rgba.png"), rng.integers(0, 256, (H, W, 4), dtype=np.uint8))
    frames = folder / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:05d}.png"), rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    return folder


# ---------------------------------------------------------------- helpers


def snapshot(*folders: Path) -> dict:
    """Every file and folder below ``folders``: bytes digest and mtime (None for folders)."""
    seen = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_dir():
                seen[path] = None
            else:
                digest = hashlib.sha1(path.read_bytes()).hexdigest()
                seen[path] = (digest, path.stat().st_mtime_ns)
    return seen


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_refused(capsys, argv, *needles, folders) -> str:
    """Run ``argv``; expect exit 2, one error line holding ``needles``, nothing changed."""
    before = snapshot(*folders)
    status, out, err = run_cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert status == 2, (status, out, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("dreamstream: error: "), err
    for needle in needles:
        assert str(needle) in lines[0], (needle, err)
    assert "Traceback" not in out + err
    assert snapshot(*folders) == before
    return lines[0]


def assert_rendered(capsys, argv, output: Path, folders) -> tuple[str, str]:
    """Run ``argv``; expect exit 0 and ``output`` as the only new file."""
    before = snapshot(*folders)
    status, out, err = run_cli(capsys, *argv)
    assert status == 0, (status, out, err)
    assert "Traceback" not in out + err
    after = snapshot(*folders)
    assert {p for p in after if p not in before} == {output}
    assert {p: v for p, v in after.items() if p in before} == before
    return out, err


def count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def run_process(*argv, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "dreamstream.stream.cli", *map(str, argv)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


# ---------------------------------------------------------------- refused outright

# Command line ({m}: the media folder, {o}: an empty output folder) and what the message names.
REFUSED = {
    "missing input": ("style {m}/nowhere.mp4 -o {o}/out.mp4", "input not found", "nowhere.mp4"),
    "empty file": ("style {m}/empty.mp4 -o {o}/out.mp4", "empty file", "empty.mp4"),
    "text as .mp4": ("style {m}/notes.mp4 -o {o}/out.mp4", "cannot read video", "notes.mp4"),
    "text as .png": ("style {m}/notes.png -o {o}/out.mp4", "cannot read image", "notes.png"),
    "audio only": ("style {m}/sound.mp4 -o {o}/out.mp4", "no video stream", "sound.mp4"),
    "truncated before any frame": (
        "style {m}/head.mkv -o {o}/out.mp4",
        "no decodable video frame",
        "head.mkv",
    ),
    "truncated mp4, index at the end": (
        "style {m}/cut.mp4 -o {o}/out.mp4",
        "cannot read video",
        "cut.mp4",
    ),
    "unknown output extension": (
        "style {m}/clip.mp4 -o {o}/out.avi",
        "unknown output extension",
        "'.avi'",
        ".mp4",
    ),
    "start past the end": (
        "style {m}/clip.mp4 -o {o}/out.mp4 --start 3",
        "past the end",
        "start 3",
        "clip.mp4",
    ),
    "octaves 0": ("dream {m}/clip.mp4 -o {o}/out.mp4 --octaves 0", "octaves", "got 0"),
    "negative steps": ("dream {m}/clip.mp4 -o {o}/out.mp4 --steps -3", "steps", "-3"),
    "style 26": ("style {m}/clip.mp4 -o {o}/out.mp4 --style 26", "style", "26"),
    "unreadable style image": (
        "style {m}/clip.mp4 -o {o}/out.mp4 --style-image {m}/notes.png",
        "cannot read style image",
        "notes.png",
    ),
    "missing style image": (
        "style {m}/clip.mp4 -o {o}/out.mp4 --style-image {m}/gone.png",
        "not found",
        "gone.png",
    ),
    "unreadable guide image": (
        "dream {m}/clip.mp4 -o {o}/out.mp4 --guide {m}/notes.png --steps 1 --octaves 1",
        "cannot read guide image",
        "notes.png",
    ),
    "missing weights": (
        "dream {m}/clip.mp4 -o {o}/out.mp4 --model inception_v3 --weights /nope.h5 "
        "--steps 1 --octaves 1",
        "weights",
        "/nope.h5",
    ),
    "no such camera": ("style camera:97 -o {o}/out.mp4", "camera", "camera:97"),
    "live input over the pixel limit": (
        "live {m}/clip.mp4 --no-window -o {o}/out.mp4 --max-pixels 1000",
        "over the limit of 1000 pixels",
        "clip.mp4",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused(capsys, media, tmp_path, case):
    line, *needles = REFUSED[case]
    argv = [word.format(m=media, o=tmp_path) for word in line.split()]
    assert_refused(capsys, argv, *needles, folders=(media, tmp_path))


def test_unknown_layer_lists_the_valid_ones(capsys, media, tmp_path):
    argv = ["dream", media / "clip.mp4", "-o", tmp_path / "out.mp4", "--layers", "block9_conv1"]
    line = assert_refused(capsys, [*argv, *DREAM_FAST], "block9_conv1", folders=(media, tmp_path))
    assert "block4_conv3" in line and "block5_conv1" in line


# The engine refuses only after the sink was opened: the output folders it made must go too.
@pytest.mark.parametrize(("side", "output"), [(1, "new/out.mp4"), (2, "new/frames/")])
def test_dream_refuses_frames_below_its_minimum(capsys, media, tmp_path, side, output):
    argv = ["dream", media / f"tiny{side}.png", "-o", f"{tmp_path}/{output}", *DREAM_FAST]
    assert_refused(capsys, argv, "too small to dream", f"{side}x{side}", folders=(media, tmp_path))


# ---------------------------------------------------------------- outputs that would lose data


@pytest.mark.parametrize("extra", [[], ["--overwrite"]])
def test_output_equal_to_the_input(capsys, media, extra):
    spelled_otherwise = media / "frames" / ".." / "clip.mp4"
    argv = ["style", media / "clip.mp4", "-o", spelled_otherwise, *extra]
    assert_refused(capsys, argv, "output is the input file", "clip.mp4", folders=(media,))


@pytest.mark.parametrize(
    ("source", "target"), [("frames", "frames/styled/"), ("frames/%05d.png", "frames/out.mp4")]
)
def test_output_inside_the_input_frame_folder(capsys, media, source, target):
    argv = ["style", media / source, "-o", f"{media}/{target}"]
    needles = ("inside the input frame folder", target.rstrip("/"))
    assert_refused(capsys, argv, *needles, folders=(media,))


def test_existing_output_needs_overwrite(capsys, media, tmp_path):
    taken = tmp_path / "taken.mp4"
    taken.write_bytes(b"precious")
    argv = ["style", media / "clip.mp4", "-o", taken]
    assert_refused(capsys, argv, "output exists", "taken.mp4", folders=(media, tmp_path))
    assert taken.read_bytes() == b"precious"


def test_unwritable_output_folder(capsys, media, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Tests run as root, who may write anywhere: pretend this folder is read-only.
    monkeypatch.setattr(
        outputs.os, "access", lambda p, mode, **kw: Path(p) != locked and real_access(p, mode, **kw)
    )
    argv = ["style", media / "clip.mp4", "-o", locked / "new" / "out.mp4"]
    assert_refused(capsys, argv, "not writable", locked, folders=(media, tmp_path))


# ---------------------------------------------------------------- handled with care


def test_truncated_video_renders_what_decodes_with_a_warning(capsys, media, tmp_path):
    out = tmp_path / "out.mp4"
    argv = ["style", media / "cut.mkv", "-o", out, "--quiet"]
    _, err = assert_rendered(capsys, argv, out, folders=(media, tmp_path))
    warnings = [line for line in err.splitlines() if line.startswith("dreamstream: warning:")]
    assert len(warnings) == 1, err
    read = re.search(rf"decoded (\d+) of {LONG} frames", warnings[0])
    assert read and "cut.mkv" in warnings[0], err
    assert 0 < int(read[1]) < LONG
    assert count_frames(out) == int(read[1])


def test_truncated_video_warning_is_said_once(media, tmp_path):
    done = run_process("style", media / "cut.mkv", "-o", tmp_path / "out.mp4", "--quiet")
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "decoded" in line]
    assert len(said) == 1 and said[0].startswith("dreamstream: warning:"), done.stderr


@pytest.mark.parametrize("side", [1, 2])
def test_style_pads_tiny_frames_and_keeps_their_size(capsys, media, tmp_path, side):
    out = tmp_path / "out.png"
    argv = ["style", media / f"tiny{side}.png", "-o", out, "--quiet"]
    assert_rendered(capsys, argv, out, folders=(media, tmp_path))
    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).shape == (side, side, 3)


@pytest.mark.parametrize("name", ["deep16.png", "gray.png", "rgba.png"])
def test_16bit_gray_and_rgba_pictures_become_rgb(capsys, media, tmp_path, name):
    out = tmp_path / "out.png"
    assert_rendered(capsys, ["style", media / name, "-o", out, "--quiet"], out, (media, tmp_path))
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.shape == (H, W, 3) and written.dtype == np.uint8


# ---------------------------------------------------------------- the process itself


def test_process_exits_2_with_one_line_and_no_traceback(media, tmp_path):
    done = run_process("style", media / "nowhere.mp4", "-o", tmp_path / "out.mp4")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"dreamstream: error: input not found: {media / 'nowhere.mp4'}"
    ]
    assert not (tmp_path / "out.mp4").exists()


def test_debug_shows_the_traceback(media, tmp_path):
    done = run_process(
        "--debug", "dream", media / "clip.mp4", "-o", tmp_path / "out.mp4", "--octaves", "0"
    )
    assert done.returncode not in (0, 2)  # an uncaught exception: Python's own status
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("InputError: octaves must be >= 1, got 0")
    assert list(tmp_path.iterdir()) == []
