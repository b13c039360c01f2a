"""Smoke tests of the console script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DREAMSTREAM = str(Path(sys.executable).with_name("dreamstream"))


# conftest sets these for the test run; the console script must quieten TensorFlow itself.
_OWN_SETTINGS = ("TF_CPP_MIN_LOG_LEVEL", "ABSL_MIN_LOG_LEVEL")


def run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in _OWN_SETTINGS}
    return subprocess.run(
        [DREAMSTREAM, *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_help_lists_the_subcommands():
    result = run("--help")
    assert result.returncode == 0
    listed = re.findall(r"^    (\w+) {2,}(\S.*)$", result.stdout, re.MULTILINE)
    assert [name for name, _ in listed] == [
        "dream",
        "style",
        "live",
        "saliency",
        "animate",
        "bench",
        "fetch",
        "info",
    ]
    assert all(len(text) > 10 for _, text in listed)  # each with a line saying what it does


def test_info_reports_versions_devices_and_weights():
    result = run("info", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["versions"]["tensorflow"]
    assert any(d.startswith("CPU") for d in report["devices"]["tensorflow"])
    assert report["dream_compute"]["precision"] in ("float32", "mixed_bfloat16")
    assert report["style_runtime"]["runtime"] in ("keras", "onnxruntime")
    for name in ("vgg16", "vgg16-hed", "multistyle26", "arbitrary_predict", "arbitrary_transform"):
        assert Path(report["weights"][name]).is_file(), report["weights"][name]
    assert report["vgg16"]["file"] == report["weights"]["vgg16"]
    assert Path(report["vgg16"]["cache"]).name.startswith("vgg16-imagenet-")


def test_help_and_bad_input_print_no_framework_chatter():
    result = run("--help")
    assert result.returncode == 0 and result.stderr == ""
    result = run("style", "missing.mp4", "-o", "out.mp4")
    assert result.returncode == 2
    assert result.stderr == "dreamstream: error: input not found: missing.mp4\n"


def test_unknown_subcommand_is_a_usage_error():
    result = run("paint")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_dream_renders_a_clip_end_to_end(tmp_path):
    """The README's main job on a tiny clip: frames, audio and settings metadata survive."""
    from tests.stream.test_pipeline import decode, moving_frames, write_clip

    clip = write_clip(tmp_path / "in.mp4", moving_frames(5))
    guide = tmp_path / "guide.png"
    import cv2

    cv2.imwrite(str(guide), moving_frames(1)[0])
    out = tmp_path / "dream.mp4"
    fast = ("--steps", "2", "--steps-next", "1", "--octaves", "2")
    result = run("dream", str(clip), "-o", str(out), *fast, "--guide", str(guide), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["frames"] == 5 and summary["settings"]["steps"] == 2
    assert summary["compute"]["precision"] in ("float32", "mixed_bfloat16")
    frames, rate, audio = decode(out)
    inputs, _, source_audio = decode(clip)
    assert len(frames) == 5 and rate == 25
    assert audio == pytest.approx(source_audio, abs=1 / 25)
    change = sum(abs(a.astype(int) - b).mean() for a, b in zip(frames, inputs, strict=True))
    assert change / 5 > 2.0  # the frames were dreamt, not copied
    assert result.stderr.strip() == ""  # no framework chatter around the run
    unguided = tmp_path / "unguided.mp4"
    again = run("dream", str(clip), "-o", str(unguided), *fast, "--frames", "2", "--quiet")
    assert again.returncode == 0, again.stderr
    first = decode(unguided)[0][0].astype(int)
    assert abs(first - frames[0]).mean() > 1.0  # same seed: only the guide made them differ
