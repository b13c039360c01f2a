"""Segment rendering without a cluster: plans, settings keys, manifests, frame ranges."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.farm import plan
from dreamstream.stream.farm.frames import frame_range
from dreamstream.stream.io import open_source
from dreamstream.stream.settings import Settings
from tests.stream.test_pipeline import moving_frames, write_clip


def test_segments_cover_the_range_and_only_later_ones_warm_up_and_fade():
    segments = plan.plan_segments(10, 34, 4, warmup=8)
    assert [(g.first, g.last) for g in segments] == [(10, 16), (16, 22), (22, 28), (28, 34)]
    assert [g.warm_first for g in segments] == [10, 10, 14, 20]  # clamped at the range start
    assert segments[0].warmup == 0 and segments[3].warmup == 8
    # Each fade keeps one frame of the segment its own; a lead-out feeds the next fade.
    assert [(g.fade, g.lead_out) for g in segments] == [(0, 5), (5, 5), (5, 5), (5, 0)]
    long = plan.plan_segments(0, 100, 2, warmup=8)
    assert [(g.own_first, g.fade, g.lead_out) for g in long] == [(0, 0, 8), (58, 8, 0)]


def test_bad_segment_counts_are_refused():
    with pytest.raises(InputError, match="--segments must be from 1 to the 5 frames"):
        plan.plan_segments(0, 5, 6, warmup=2)
    with pytest.raises(InputError, match="empty"):
        plan.plan_segments(4, 4, 1, warmup=2)


def test_default_count_is_three_per_worker_but_no_segment_below_four_warmups():
    assert plan.default_segment_count(4500, slots=4, warmup=8) == 12
    assert plan.default_segment_count(100, slots=4, warmup=8) == 3  # 100 // 32
    assert plan.default_segment_count(5, slots=2, warmup=0) == 5


def test_render_key_follows_what_decides_pixels_only():
    base = Settings()
    key = plan.render_key("style", {"path": "a"}, base)
    assert key == plan.render_key("style", {"path": "a"}, base.replace(workers=4, segments=9))
    assert key == plan.render_key("style", {"path": "a"}, base.replace(ray="auto"))
    assert key != plan.render_key("style", {"path": "a"}, base.replace(warmup=3))
    assert key != plan.render_key("style", {"path": "a"}, base.replace(seed=1))
    assert key != plan.render_key("dream", {"path": "a"}, base)
    assert key != plan.render_key("style", {"path": "b"}, base)


def test_manifest_reuses_only_segments_of_the_same_settings_and_range(tmp_path):
    path = tmp_path / "manifest.json"
    segments = plan.plan_segments(0, 20, 2, warmup=4)
    plan.Manifest(path).record(segments[0], "k1", frames=10)
    again = plan.Manifest(path)
    assert again.finished(segments[0], "k1")["frames"] == 10
    assert again.finished(segments[0], "k2") is None  # other settings
    assert again.finished(segments[1], "k1") is None  # never finished
    moved = plan.plan_segments(0, 20, 4, warmup=4)[0]  # segment 0, other frames
    assert again.finished(moved, "k1") is None
    assert json.loads(path.read_text())["segments"]["0"]["key"] == "k1"


def test_damaged_manifest_means_nothing_is_reused(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text("{not json")
    assert plan.Manifest(path).finished(plan.plan_segments(0, 4, 1, 0)[0], "k") is None


def test_frame_range_applies_start_end_and_frames_to_exact_indices(tmp_path):
    clip = write_clip(tmp_path / "c.mp4", moving_frames(12), audio=False)
    with open_source(clip, start="0.2s", end=10) as source:  # 0.2 s = frame 5 at 25 fps
        span = frame_range(source)
    assert (span.first, span.last, span.fps) == (5, 10, 25)
    with open_source(clip, start=2, frames=3) as source:
        span = frame_range(source)
    assert (span.first, span.last) == (2, 5) and span.origin > Fraction(0)


def test_camera_or_single_image_input_is_refused(samples):
    with open_source(samples / "coffee.jpg") as source, pytest.raises(InputError, match="video"):
        frame_range(source)


def test_farm_settings_are_validated():
    for bad in ({"workers": 0}, {"segments": 0}, {"warmup": -1}):
        with pytest.raises(InputError, match=next(iter(bad))):
            Settings(**bad)


def test_without_the_flags_ray_is_never_imported():
    code = (
        "import sys; from dreamstream.stream import cli, jobs, farm; "
        "from dreamstream.stream.farm import job, plan, frames, task, join; "
        "cli.build_parser().parse_args(['dream', 'a.mp4', '-o', 'b.mp4']); "
        "print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_ray_gives_one_line_saying_how_to_install(tmp_path, monkeypatch, capsys):
    from dreamstream.stream import cli

    clip = write_clip(tmp_path / "c.mp4", moving_frames(4), audio=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray gives
    out = tmp_path / "out.mp4"
    status = cli.main(["style", str(clip), "-o", str(out), "--workers", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and not out.exists()
    assert err == [
        "dreamstream: error: --workers/--ray needs Ray, an optional extra: "
        "pip install 'dreamstream[ray]'"
    ]


def test_a_symlinked_work_folder_is_refused(tmp_path):
    import dataclasses

    from dreamstream.stream.farm.job import _Render

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / ".o.mp4.segments").symlink_to(elsewhere)
    unused = {f.name: None for f in dataclasses.fields(_Render)}
    r = _Render(**{**unused, "kind": "video", "out_path": tmp_path / "o.mp4"})
    with pytest.raises(InputError, match="symbolic link"):
        r.open_manifest(overwrite=True, resume=False)
    assert list(elsewhere.iterdir()) == []


def test_join_takes_parts_too_short_for_b_frames(tmp_path):
    """A part of one frame decodes with no delay, the next with x264's two frames of
    B-frame delay; the join must still give rising decode times (it raised before)."""
    import av
    import numpy as np

    from dreamstream.stream.farm.join import join_videos
    from dreamstream.stream.io import Frame, open_sink

    rng, tb = np.random.default_rng(0), Fraction(1, 25)
    parts, first = [], 0
    for k, n in enumerate([6, 1, 6, 1, 1, 6]):
        sink = open_sink(tmp_path / f"p{k}.mp4", fps=25, time_base=tb, size=(64, 48), crf=18)
        for i in range(first, first + n):
            sink.write(Frame(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), i, i, tb))
        sink.close()
        parts.append((tmp_path / f"p{k}.mp4", first * tb))
        first += n
    out = tmp_path / "out.mp4"
    join_videos(parts, out, audio_from=None, origin=Fraction(0), end=first * tb, metadata={})
    with av.open(str(out)) as c:
        times = [f.pts * f.time_base for f in c.decode(video=0)]
    assert times == [i * tb for i in range(first)]
    with av.open(str(out)) as c:
        joined = [bytes(p) for p in c.demux(video=0) if p.size]
    copied = []
    for path, _ in parts:
        with av.open(str(path)) as c:
            copied += [bytes(p) for p in c.demux(video=0) if p.size]
    assert joined == copied  # not re-encoded
