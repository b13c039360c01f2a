"""The animation loop with stand-in dreams: order, motion per frame, exact resume."""

from fractions import Fraction

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.schedule import parse_schedule
from dreamstream.stream.animate import AnimationPlan, animate


def _still(h=24, w=32):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 7 % 256, y * 11 % 256, (x + y) * 5 % 256], -1).astype(np.uint8)


def _dream_first(img, index):
    return np.asarray(img, np.uint8)


def _dream_next(moved8, moved, index):
    # A stand-in dream: brightens a little, deterministically per index.
    return np.clip(moved8.astype(int) + (index % 3), 0, 255).astype(np.uint8)


def _render(plan, resume=None):
    frames = []
    animate(_still(), plan, _dream_first, _dream_next, frames.append, resume=resume)
    return frames


def test_frames_in_order_with_timestamps_of_the_rate():
    plan = AnimationPlan(frames=5, fps=Fraction(24), zoom=parse_schedule("1.05", "zoom"))
    frames = _render(plan)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames[3].time == pytest.approx(3 / 24)
    assert np.array_equal(frames[0].image, _still())
    assert not np.array_equal(frames[1].image, frames[0].image)


def test_each_frame_moves_by_its_own_scheduled_values():
    plan = AnimationPlan(
        frames=300,
        fps=Fraction(25),
        zoom=parse_schedule("0:1.0, 100:1.02, 8s:1.04", "zoom"),
        rotate=parse_schedule("0:0, 200:1, hold", "rotate"),
        pan_y=parse_schedule("0:0, 200:2", "pan_y"),
    )
    m = plan.motion(50)
    assert m.zoom == pytest.approx(1.01) and m.rotate == 0.0 and m.pan == (0.0, 0.5)
    assert plan.motion(150).zoom == pytest.approx(1.03)  # 8 s is frame 200 at 25 fps
    assert plan.motion(250).zoom == pytest.approx(1.04)
    assert plan.motion(200).rotate == 1.0


def test_resume_continues_exactly_where_it_stopped():
    plan = AnimationPlan(
        frames=8, zoom=parse_schedule("0:1.03, 8:1.0", "zoom"), rotate=parse_schedule("2", "r")
    )
    whole = _render(plan)
    first = _render(AnimationPlan(frames=5, zoom=plan.zoom, rotate=plan.rotate))
    rest = _render(plan, resume=(5, first[-1].image))
    assert [f.index for f in rest] == [5, 6, 7]
    for a, b in zip(whole, first + rest, strict=True):
        assert np.array_equal(a.image, b.image)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frames": 0}, "--frames must be >= 1"),
        (
            {"frames": 5, "zoom": parse_schedule("0:1, 10:0", "zoom")},
            "zoom: every value must be > 0",
        ),
        ({"frames": 5, "interpolation": "nearest"}, "interpolation must be one of"),
    ],
)
def test_bad_plans(kwargs, message):
    with pytest.raises(InputError, match=message):
        AnimationPlan(**kwargs)


def test_resume_past_the_end_is_refused():
    with pytest.raises(InputError, match="cannot resume at frame 9 of 5"):
        _render(AnimationPlan(frames=5), resume=(9, _still()))


# ------------------------------------------------------- the render, end to end


@pytest.fixture
def tiny_vgg(monkeypatch):
    from dreamstream.stream.weights import dream as weights
    from tests.stream.test_keyframes import _vgg_named_backbone

    monkeypatch.setattr(weights, "load_backbone", _vgg_named_backbone)


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
        zoom="0:1.05, 4:1.0",
        rotate=1.0,
        pan_y=1.0,
    )
    return Settings(**{**base, **kw})


def test_a_frame_folder_resumes_exactly(tiny_vgg, tmp_path, samples):
    import cv2

    from dreamstream.stream.animate import render_animation

    still = str(samples / "coffee.jpg")
    whole = render_animation(still, str(tmp_path / "whole/"), _settings(frames=5))
    assert whole["frames"] == 5
    part = render_animation(still, str(tmp_path / "part/"), _settings(frames=3))
    rest = render_animation(still, str(tmp_path / "part/"), _settings(frames=5), resume=True)
    assert part["frames"] == 3 and rest["frames"] == 2 and rest["resumed_at"] == 3
    for i in range(5):
        a = cv2.imread(str(tmp_path / "whole" / f"{i:05d}.png"))
        b = cv2.imread(str(tmp_path / "part" / f"{i:05d}.png"))
        assert np.array_equal(a, b), i


def test_a_video_with_an_audio_track_from_a_videos_last_frame(tiny_vgg, tmp_path, samples):
    import av

    from dreamstream.stream.animate import render_animation

    clip = str(samples / "clip.mp4")
    out = tmp_path / "tail.mp4"
    summary = render_animation(clip, str(out), _settings(frames=4), fps=12, audio=clip)
    assert summary["frames"] == 4
    with av.open(str(out)) as c:
        assert {s.type for s in c.streams} == {"video", "audio"}
        assert c.streams.video[0].average_rate == 12
        assert c.streams.video[0].width == 48


def test_animate_refuses_a_missing_audio_file(tmp_path, samples):
    from dreamstream.stream.animate import render_animation

    still = str(samples / "coffee.jpg")
    with pytest.raises(InputError, match="audio file not found"):
        render_animation(still, str(tmp_path / "o.mp4"), _settings(frames=2), audio="nope.m4a")
    assert not (tmp_path / "o.mp4").exists()


def test_cli_animate_bad_pan_is_exit_2(capsys, tmp_path, samples):
    from dreamstream.stream import cli

    code = cli.main(
        ["animate", str(samples / "coffee.jpg"), "-o", str(tmp_path / "o.mp4"), "--pan", "1"]
    )
    assert code == 2 and "pan must be two numbers x,y" in capsys.readouterr().err
