"""``dreamstream animate`` in segments on a real local Ray cluster: order, seams, resume.

The workers build a tiny two-convolution stand-in for VGG16 (a Ray worker
set-up hook patches their weight loader, as the ``tiny_vgg`` fixture patches
this process's), so a segment of 48-pixel frames takes about a second.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from dreamstream.core.animate import Motion, move, move_many, sharpness
from dreamstream.core.errors import InputError
from dreamstream.stream.farm.seams import crossfade
from dreamstream.stream.io import read_image
from dreamstream.stream.jobs import render_animation_file as render_animation
from tests.stream.test_animate import tiny_vgg  # noqa: F401 -- the fixture, shared

ray = pytest.importorskip("ray")

FRAMES, SEGMENTS, WARMUP = 12, 3, 3  # segments 0-3, 4-7, 8-11, each warmed up 3 frames


def _tiny_backbone_in_workers():
    from dreamstream.stream.weights import dream as weights
    from tests.stream.test_keyframes import _vgg_named_backbone

    weights.load_backbone = _vgg_named_backbone


@pytest.fixture(scope="module")
def cluster():
    ray.init(
        "local",
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.ERROR,
        log_to_driver=False,
        runtime_env={
            "env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},  # tests.*
            "worker_process_setup_hook": _tiny_backbone_in_workers,
        },
    )
    yield
    ray.shutdown()


def _settings(**kw):
    from dreamstream.stream.settings import Settings

    base = dict(
        octaves=1,
        steps=2,
        steps_next=1,
        tile=64,
        jitter=2,
        precision="float32",
        layers="block1_conv2",
        width=48,
        zoom=1.04,
        rotate=1.0,
        frames=FRAMES,
        warmup=WARMUP,
    )
    return Settings(**{**base, **kw})


def _farm(**kw):
    return _settings(**{"workers": 2, "segments": SEGMENTS, **kw})


def _frames(folder: Path) -> list[np.ndarray]:
    return [read_image(folder / f"{i:05d}.png").astype(np.float32) for i in range(FRAMES)]


def test_composed_move_is_one_resampling_and_sharper_than_moving_frame_by_frame():
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (40, 56, 3)).astype(np.float32)
    steps = [Motion(1.01, 0.5, (0.3, -0.2))] * 20
    one_by_one = picture
    for m in steps:
        one_by_one = move(one_by_one, m)
    once = move_many(picture, steps)
    assert once.shape == picture.shape and once.dtype == np.float32
    assert sharpness(once) > 1.3 * sharpness(one_by_one)
    # A smooth picture survives both ways: the composed move lands it where the steps do.
    smooth = cv2.GaussianBlur(picture, (0, 0), 3.0)
    stepped = smooth
    for m in steps:
        stepped = move(stepped, m)
    inner = (slice(12, 28), slice(16, 40))  # away from the mirrored border
    assert np.abs(move_many(smooth, steps)[inner] - stepped[inner]).mean() < 1.0
    assert np.abs(smooth[inner] - stepped[inner]).mean() > 5  # it did move
    assert np.array_equal(move_many(picture, [Motion()] * 3), picture)  # no move: untouched


@pytest.mark.slow
@pytest.mark.usefixtures("tiny_vgg")
def test_a_segmented_animation_has_every_frame_in_order_and_cross_faded_seams(
    cluster, tmp_path, samples
):
    still = str(samples / "coffee.jpg")
    ref = render_animation(still, str(tmp_path / "ref/"), _settings())
    assert ref["frames"] == FRAMES
    summary = render_animation(still, str(tmp_path / "farm/"), _farm())
    assert summary["segments_rendered"] == [0, 1, 2] and not summary["interrupted"]
    names = sorted(p.name for p in (tmp_path / "farm").iterdir() if p.suffix != ".json")
    assert names == [f"{i:05d}.png" for i in range(FRAMES)]  # no seam pictures left
    assert not (tmp_path / "farm" / ".dreamstream-segments.json").exists()
    out, whole = _frames(tmp_path / "farm"), _frames(tmp_path / "ref")
    assert {f.shape for f in out} == {whole[0].shape}
    for i in range(4):  # the first segment is the single-process animation, exactly
        assert np.array_equal(out[i], whole[i]), i
    # Frames 4..6 fade from the first segment's lead-out (the uninterrupted render,
    # which it continues) toward the second segment's own dream, 1/4 of the way a frame.
    far = [np.abs(out[i] - whole[i]).mean() for i in range(4, 8)]
    assert 0 < far[0] < far[1] < far[2] < far[3], far
    # After the seam the segment grows its own dream, no copy of the single render.
    assert far[3] > 2


@pytest.mark.slow
@pytest.mark.usefixtures("tiny_vgg")
def test_a_video_with_audio_and_a_stopped_folder_resumed(cluster, tmp_path, samples):
    import av

    from tests.stream.test_farm_ray import stopped_after_first_segment

    still, clip = str(samples / "coffee.jpg"), str(samples / "clip.mp4")
    video = tmp_path / "zoom.mp4"
    render_animation(still, str(video), _farm(crf=0), fps=12, audio=clip)
    with av.open(str(video)) as c:
        assert {s.type for s in c.streams} == {"video", "audio"}
        frames = list(c.decode(c.streams.video[0]))
        assert len(frames) == FRAMES and c.streams.video[0].average_rate == 12
        times = [float(f.pts * f.time_base) for f in frames]
    assert times == pytest.approx([i / 12 for i in range(FRAMES)], abs=1e-3)
    assert not (tmp_path / ".zoom.mp4.segments").exists()
    # Stopped once a segment is finished; --resume renders only the others. Six
    # segments, so that the two in flight when the stop comes (however late, under
    # load) still leave some to resume.
    many = {"segments": 6}
    whole = tmp_path / "whole"
    render_animation(still, f"{whole}/", _farm(**many))
    folder = tmp_path / "frames"
    with stopped_after_first_segment(folder / ".dreamstream-segments.json") as stop:
        first = render_animation(still, f"{folder}/", _farm(**many), stop=stop)
    done = first["segments_rendered"]
    assert first["interrupted"] and 1 <= len(done) < 6
    with pytest.raises(InputError, match="resume"):  # kept, and not silently replaced
        render_animation(still, f"{folder}/", _farm(**many))
    second = render_animation(still, f"{folder}/", _farm(**many), resume=True)
    assert second["segments_reused"] == done
    assert sorted(second["segments_rendered"] + done) == list(range(6))
    for a, b in zip(_frames(folder), _frames(whole), strict=True):
        assert np.array_equal(a, b)  # as the uninterrupted segmented render


def test_bad_combinations_are_one_line(tmp_path, samples):
    still = str(samples / "coffee.jpg")
    with pytest.raises(InputError, match="is one image but the input has 12 frames"):
        render_animation(still, str(tmp_path / "one.png"), _farm())
    with pytest.raises(InputError, match="writes a video file or a frame folder, got: null"):
        render_animation(still, "null", _farm())
    with pytest.raises(InputError, match="--segments must be from 1 to the 12 frames"):
        render_animation(still, str(tmp_path / "o.mp4"), _farm(segments=13))
    with pytest.raises(InputError, match="audio file not found"):
        render_animation(still, str(tmp_path / "o.mp4"), _farm(), audio="nope.m4a")
    assert not list(tmp_path.iterdir())


def test_crossfade_weights_step_evenly():
    a, b = [np.zeros((2, 2, 3), np.uint8)] * 3, [np.full((2, 2, 3), 200, np.uint8)] * 3
    assert [int(f[0, 0, 0]) for f in crossfade(a, b)] == [50, 100, 150]


def test_cli_bad_farm_animation_is_one_line(capsys, samples):
    from dreamstream.stream import cli

    still = str(samples / "coffee.jpg")
    code = cli.main(["animate", still, "-o", "null", "--workers", "2", "--frames", "4"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "writes a video file or a frame folder, got: null" in err
