"""Resuming image-sequence renders through the CLI (issue 11, faults 1 and 7).

Resume works within this command's ``[start, end)`` only, and refuses to mix
frames made with other settings (read from the sidecar JSON of the first
run) before any model loads. The model is a stand-in (the negative of each
frame): what is tested is which frames get rendered and kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from dreamstream.stream import jobs
from tests.stream.test_bad_input import assert_refused, run_cli, write_clip

N = 12


@pytest.fixture
def negative(monkeypatch):
    loads = []

    def make(mode, settings):
        loads.append(mode)
        return lambda frame: 255 - frame

    monkeypatch.setattr(jobs, "make_processor", make)
    return loads


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", n=N)


def style(capsys, *argv) -> dict:
    status, out, err = run_cli(capsys, "style", *map(str, argv), "--json")
    assert status == 0, err
    return json.loads(out)


def test_split_render_resumes_within_its_own_range(capsys, clip, tmp_path, negative):
    pattern = f"{tmp_path}/s/%05d.png"
    second_half = style(capsys, clip, "-o", pattern, "--start", "6", "--end", "12")
    assert second_half["frames"] == 6
    first_half = style(capsys, clip, "-o", pattern, "--start", "0", "--end", "6", "--resume")
    assert first_half["frames"] == 6 and first_half["skipped"] == 0
    names = sorted(p.name for p in (tmp_path / "s").glob("*.png"))
    assert names == [f"{i:05d}.png" for i in range(N)]
    assert cv2.imread(str(tmp_path / "s" / "00003.png")).shape == (48, 64, 3)


def test_resume_fills_only_the_missing_frames(capsys, clip, tmp_path, negative):
    pattern = f"{tmp_path}/s/%05d.png"
    style(capsys, clip, "-o", pattern, "--end", "8")
    (tmp_path / "s" / "00005.png").unlink()
    kept = (tmp_path / "s" / "00002.png").stat().st_mtime_ns
    again = style(capsys, clip, "-o", pattern, "--end", "8", "--resume")
    assert again["skipped"] == 5 and again["frames"] == 3  # 5, 6 and 7 again
    assert (tmp_path / "s" / "00002.png").stat().st_mtime_ns == kept
    assert len(list((tmp_path / "s").glob("*.png"))) == 8


@pytest.mark.parametrize(
    ("first", "then", "needles"),
    [
        (["style", "--width", "64"], ["style", "--width", "32"], ("width", "64", "32")),
        (["style"], ["dream"], ("mode", "style", "dream")),
        (["style", "--style", "3"], ["style", "--style", "4"], ("style", "'3'", "'4'")),
    ],
)
def test_resume_refuses_other_settings(capsys, clip, tmp_path, negative, first, then, needles):
    pattern = f"{tmp_path}/s/%05d.png"
    status, _, err = run_cli(capsys, first[0], clip, "-o", pattern, "--frames", "4", *first[1:])
    assert status == 0, err
    negative.clear()
    argv = [then[0], clip, "-o", pattern, "--resume", *then[1:]]
    assert_refused(capsys, argv, "resume", *needles, folders=(tmp_path,))
    assert negative == []  # refused before any model was made


def test_resume_accepts_another_range_and_encoder(capsys, clip, tmp_path, negative):
    pattern = f"{tmp_path}/s/%05d.png"
    style(capsys, clip, "-o", pattern, "--end", "4")
    more = style(capsys, clip, "-o", pattern, "--end", "6", "--crf", "30", "--resume")
    assert more["skipped"] == 4 and more["frames"] == 2
    assert len(list((tmp_path / "s").glob("*.png"))) == 6


@pytest.mark.parametrize(
    ("broken", "damage"),
    [
        (7, lambda data: b""),  # the range's last frame, empty: it seeds the carry
        (3, lambda data: b""),  # an empty frame in the middle of the row
        (3, lambda data: data[: len(data) // 2]),  # a frame cut short in the middle
    ],
    ids=["empty-last", "empty-middle", "cut-middle"],
)
def test_resume_renders_a_broken_frame_again(capsys, clip, tmp_path, negative, broken, damage):
    pattern = f"{tmp_path}/s/%05d.png"
    style(capsys, clip, "-o", pattern, "--end", "8")
    frames = [tmp_path / "s" / f"{i:05d}.png" for i in range(8)]
    whole = [cv2.imread(str(f)) for f in frames]
    frames[broken].write_bytes(damage(frames[broken].read_bytes()))
    again = style(capsys, clip, "-o", pattern, "--end", "8", "--resume")
    assert again["skipped"] == broken and again["frames"] == 8 - broken
    for f, expected in zip(frames, whole, strict=True):
        assert (cv2.imread(str(f)) == expected).all(), f"{f.name} is not the frame it should be"


def stopped_then_resumed(mode, clip, output, settings, after=3):
    """Render ``clip`` to ``output``, stopped once ``after`` frames are out, then resumed.

    Returns:
        The two renders' summaries (the stopped one, the resumed one).
    """
    from dreamstream.stream import pipeline
    from dreamstream.stream.jobs import render_file

    stop, original = pipeline.threading.Event(), pipeline._model_loop

    def stop_after(*args, **kwargs):
        for count, frame in enumerate(original(*args, **kwargs), start=1):
            if count == after:
                stop.set()
            yield frame

    pipeline._model_loop = stop_after
    try:
        first = render_file(mode, str(clip), output, settings, stop=stop)
    finally:
        pipeline._model_loop = original
    return first, render_file(mode, str(clip), output, settings, resume=True)


@pytest.mark.slow
def test_dream_resume_equals_one_run(tmp_path):
    """A dream carries its whole history: a resumed render must restore it exactly."""
    import numpy as np

    from dreamstream.stream.io import read_image
    from dreamstream.stream.jobs import render_file
    from dreamstream.stream.settings import Settings
    from tests.stream.test_pipeline import moving_frames
    from tests.stream.test_pipeline import write_clip as write_moving_clip

    clip = write_moving_clip(tmp_path / "pan.mp4", moving_frames(6), audio=False)
    settings = Settings(steps=1, steps_next=1, octaves=1, layers="block3_conv1", end="6")
    render_file("dream", str(clip), f"{tmp_path}/one/%03d.png", settings)
    first, again = stopped_then_resumed("dream", clip, f"{tmp_path}/two/%03d.png", settings)
    assert first["interrupted"] and first["frames"] == 3
    assert again["skipped"] == 3 and again["frames"] == 3
    for i in range(6):
        one, two = (read_image(tmp_path / part / f"{i:03d}.png") for part in ("one", "two"))
        assert np.array_equal(one, two), f"frame {i} differs after resume"
