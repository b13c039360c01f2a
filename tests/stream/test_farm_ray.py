"""Segment rendering on a real local Ray cluster (no mocks): outputs, seams, stop and resume.

One cluster (``ray.init(num_cpus=2, include_dashboard=False)``) serves the
module; its two workers keep their style network between renders. Renders use
style mode on 96x64 frames: a segment's worth takes well under a second.

The seam bound. Style mode's carry is ``out_t = s_t + a * m * (W(out_t-1) - s_t)``
with ``a`` the temporal weight, ``m`` in [0, 1] and ``W`` a bilinear warp (a
convex combination of pixels). Two renders of the same frames that differ only
in their state before frame t therefore differ at t by at most ``a`` times
their largest difference at t-1, plus 1 for rounding each to uint8. A segment
that starts ``w`` frames early (both renders see the same inputs, flow and
mask from then on) differs from the uninterrupted render at its first frame by
at most ``255 * a**w + 1 / (1 - a)`` in every pixel; so does the previous
segment's carry continued there, which started earlier still. The seam's
cross-fade mixes the two and rounds once more (+0.5), so a later segment's
first frame is within ``255 * a**w + 1 / (1 - a) + 0.5`` of the uninterrupted
render, in every pixel: 48.3 levels for the defaults a = 0.8, w = 8 (18.5 at
a = 0.7, 3.5 at a = 0.5). The test checks the largest difference of any pixel, at the defaults.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.io import read_image
from dreamstream.stream.jobs import render_file
from dreamstream.stream.settings import Settings
from tests.stream.test_pipeline import moving_frames, write_clip

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

N, SEGMENTS = 24, 4
WARMUP, TEMPORAL = Settings().warmup, Settings().temporal  # the defaults: 8 and 0.8
BOUND = 255 * TEMPORAL**WARMUP + 1 / (1 - TEMPORAL) + 0.5  # see the module's docstring
FIRSTS = [0, 6, 12, 18]  # the segments' first frames: 24 frames cut in 4


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(
        "local",  # its own cluster, even where `ray start` made one
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("farm") / "pan24.mp4", moving_frames(N))


def settings(**changes) -> Settings:
    values = {"style": "3", "temporal": TEMPORAL, "crf": 0, "workers": 2, "segments": SEGMENTS}
    return Settings(**{**values, "warmup": WARMUP, **changes})


def decode(path):
    """Frames (RGB), their times in seconds, and the audio's length in seconds."""
    with av.open(str(path)) as c:
        frames, times = [], []
        for f in c.decode(c.streams.video[0]):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.pts * f.time_base))
        c.seek(0)
        a = c.streams.audio[0]
        audio = sum(f.samples for f in c.decode(a)) / a.sample_rate
    return frames, times, audio


def audio_packets(path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def folder_frames(folder):
    return [read_image(folder / f"{i:05d}.png").astype(np.int16) for i in range(N)]


@pytest.fixture(scope="module")
def reference(clip, tmp_path_factory):
    """An uninterrupted render, as a lossless video and as frames."""
    out = tmp_path_factory.mktemp("reference")
    plain = settings(workers=None, segments=None)
    render_file("style", str(clip), str(out / "ref.mp4"), plain)
    render_file("style", str(clip), f"{out}/frames/", plain)
    return out


def test_video_has_the_sources_frames_timing_and_audio_once(clip, reference, tmp_path):
    out = tmp_path / "farm.mp4"
    summary = render_file("style", str(clip), str(out), settings())
    assert summary["segments_rendered"] == [0, 1, 2, 3] and not summary["interrupted"]
    frames, times, audio = decode(out)
    src_frames, src_times, src_audio = decode(clip)
    assert len(frames) == N and times == src_times
    assert audio == pytest.approx(src_audio, abs=1 / 25)
    copied, source = audio_packets(out), audio_packets(clip)  # copied once, not re-encoded
    assert copied == source[: len(copied)] and len(copied) >= len(source) - 1
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1 and c.streams.video[0].average_rate == 25
    ref, _, _ = decode(reference / "ref.mp4")
    for i in range(FIRSTS[1]):  # lossless (crf 0): the first segment is bit-exact
        assert np.array_equal(frames[i], ref[i]), f"frame {i} differs from the uninterrupted render"
    assert not (tmp_path / ".farm.mp4.segments").exists()  # segments removed once joined


def test_frames_first_segment_exact_later_seams_within_the_bound(clip, reference, tmp_path):
    render_file("style", str(clip), f"{tmp_path}/warm/", settings())
    render_file("style", str(clip), f"{tmp_path}/cold/", settings(warmup=0))
    ref = folder_frames(reference / "frames")
    warm, cold = folder_frames(tmp_path / "warm"), folder_frames(tmp_path / "cold")
    for i in range(FIRSTS[1]):
        assert np.array_equal(warm[i], ref[i]), f"frame {i} differs from the uninterrupted render"
    for first in FIRSTS[1:]:
        warm_diff = np.abs(warm[first] - ref[first])
        cold_diff = np.abs(cold[first] - ref[first])
        assert warm_diff.max() < BOUND, f"segment at {first}: {warm_diff.max()} >= {BOUND:.2f}"
        assert cold_diff.mean() > warm_diff.mean()  # the warm-up is what closes the seam
    covered = set()  # segments and seams document the frames each wrote
    for sidecar in (tmp_path / "warm").glob("dreamstream-*.json"):
        first, last = map(int, sidecar.stem.split("-")[1:])
        covered |= set(range(first, last + 1))
    assert covered == set(range(N))
    assert sorted(p.name for p in (tmp_path / "warm").iterdir() if p.name.startswith(".")) == []


def test_segments_of_a_style_fade_style_each_frame_by_its_own_index(clip, tmp_path):
    # Without the carry (temporal 0) nothing crosses a seam, so a segmented fade
    # must equal the uninterrupted one frame for frame: each segment, warm-up
    # included, styles its frames with the style of their source index.
    fade = settings(style="0:(3), 23:(7)", temporal=0.0)
    render_file("style", str(clip), f"{tmp_path}/whole/", fade.replace(workers=None, segments=None))
    render_file("style", str(clip), f"{tmp_path}/farm/", fade)
    render_file("style", str(clip), f"{tmp_path}/three/", settings(temporal=0.0, workers=None))
    whole, farm = folder_frames(tmp_path / "whole"), folder_frames(tmp_path / "farm")
    three = folder_frames(tmp_path / "three")
    for i in range(N):
        assert np.array_equal(farm[i], whole[i]), f"frame {i} differs from the uninterrupted fade"
    assert np.array_equal(farm[0], three[0])  # the fade starts at style 3 ...
    moved = [np.abs(farm[i] - three[i]).mean() for i in FIRSTS[1:] + [N - 1]]
    assert min(moved) > 20, moved  # ... and every later segment has left it


@contextlib.contextmanager
def stopped_after_first_segment(manifest: Path):
    """A stop event, set once the farm's ``manifest`` lists a finished segment."""
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            if manifest.is_file() and json.loads(manifest.read_text())["segments"]:
                stop.set()
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield stop
    finally:
        stop.set()
        watcher.join()


def test_stop_keeps_finished_segments_and_resume_renders_only_the_rest(clip, tmp_path):
    out = tmp_path / "resumed.mp4"
    manifest = tmp_path / ".resumed.mp4.segments" / "manifest.json"
    with stopped_after_first_segment(manifest) as stop:
        first = render_file("style", str(clip), str(out), settings(), stop=stop)
    done = first["segments_rendered"]
    assert first["interrupted"] and 1 <= len(done) < SEGMENTS and not out.exists()
    with pytest.raises(InputError, match="--resume"):  # kept, and not silently replaced
        render_file("style", str(clip), str(out), settings())
    second = render_file("style", str(clip), str(out), settings(), resume=True)
    assert second["segments_reused"] == done
    assert sorted(second["segments_rendered"] + done) == [0, 1, 2, 3]
    frames, times, _ = decode(out)
    assert len(frames) == N and times == decode(clip)[1]


def test_storage_check_names_a_node_that_cannot_see_the_input(tmp_path):
    from dreamstream.stream.farm.cluster import Cluster

    with Cluster(2, None) as cluster, pytest.raises(InputError, match="cannot see the input"):
        cluster.check_shared([tmp_path / "only-on-another-machine.mp4"], tmp_path)
    assert list(tmp_path.iterdir()) == []  # the probe is removed
