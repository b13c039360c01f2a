"""The frame pipeline: round trips, temporal carry, interruption and resume."""

from __future__ import annotations

import json
import threading
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from dreamstream.core import flow as coreflow
from dreamstream.core import measures
from dreamstream.stream import pipeline
from dreamstream.stream.io import Frame, open_sink, open_source, read_image, sink_options
from dreamstream.stream.jobs import render_file
from dreamstream.stream.settings import Settings

W, H, N = 96, 64, 12


def texture(seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture, larger than a frame, so a moving crop has real flow."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (H + 40, W + 60, 3)).astype(np.float32)
    return cv2.GaussianBlur(base, (0, 0), 2.0).clip(0, 255).astype(np.uint8)


def moving_frames(n: int = N) -> list[np.ndarray]:
    """A 2 px/frame pan over the texture."""
    tex = texture()
    return [np.ascontiguousarray(tex[10 : 10 + H, 2 * i : 2 * i + W]) for i in range(n)]


def write_clip(path, frames, audio=True):
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        video.options = {"crf": "12"}
        sound = out.add_stream("aac", rate=44100) if audio else None
        if sound:
            sound.layout = "mono"
        for image in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, "rgb24")))
        out.mux(video.encode())
        if sound:
            wave = 0.2 * np.sin(np.arange(44100 * len(frames) // 25) * 0.06)
            wave = wave.astype(np.float32)[None]
            for k in range(0, wave.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(wave[:, k : k + 1024], "fltp", "mono")
                frame.sample_rate, frame.pts, frame.time_base = 44100, k, Fraction(1, 44100)
                out.mux(sound.encode(frame))
            out.mux(sound.encode())
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("media") / "pan.mp4", moving_frames())


def decode(path):
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video)]
        c.seek(0)
        audio = None
        if c.streams.audio:
            a = c.streams.audio[0]
            audio = sum(f.samples for f in c.decode(a)) / a.sample_rate
        return frames, video.average_rate, audio


class Feedback:
    """A cheap deterministic stand-in for a dream: the inverted frame plus per-frame noise
    (which flickers, as independent dreams do), averaged with the carried output."""

    def first(self, frame, index):
        noise = np.random.default_rng(index).normal(0, 30, frame.shape)
        return np.clip(255.0 - frame + noise, 0, 255).astype(np.uint8)

    def next(self, frame, index, warped_out, mask, warped_in):
        fresh = self.first(frame, index).astype(np.float32)
        m = mask[..., None]
        mixed = m * (0.5 * fresh + 0.5 * warped_out) + (1 - m) * fresh
        return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def test_video_round_trip_keeps_count_rate_duration_and_audio(clip, tmp_path):
    out = tmp_path / "out.mp4"
    with open_source(clip) as source, open_sink(out, **sink_options(source)) as sink:
        stats = pipeline.run(source, Feedback(), sink)
    frames, rate, audio = decode(out)
    _, src_rate, src_audio = decode(clip)
    assert stats.frames == len(frames) == N
    assert rate == src_rate == 25
    assert audio == pytest.approx(src_audio, abs=1 / 25)
    assert set(stats.stage_seconds) == {"decode", "flow", "model", "encode"}


def test_image_sequence_in_and_out(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(moving_frames(5)):
        cv2.imwrite(str(folder / f"f{i + 1}.png"), image[..., ::-1])
    out = tmp_path / "out"
    render_file("style", str(folder), f"{out}/%04d.png", Settings(style="3", flow=False))
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == [f"{i:04d}.png" for i in range(5)]
    assert read_image(out / "0002.png").shape == (H, W, 3)
    sidecar = json.loads((out / "dreamstream-0-4.json").read_text())
    assert sidecar["mode"] == "style" and sidecar["settings"]["style"] == "3"


def test_flow_carries_the_previous_output_along_the_motion(clip):
    """With flow, output t matches output t-1 warped along the input flow far better."""
    frames = moving_frames()

    def excess(flow: bool) -> float:
        with open_source(clip) as source:
            outs = [f.image for f in pipeline.render(source, Feedback(), flow=flow)]
        inputs = [f for f in frames]
        est = coreflow.FlowEstimator()
        flows = [est(inputs[t], inputs[t - 1]) for t in range(1, len(inputs))]
        masks = [
            coreflow.consistency_mask(f, est(inputs[t - 1], inputs[t]), soft=False)
            for t, f in enumerate(flows, start=1)
        ]
        return measures.warping_error(outs, flows, masks)

    assert excess(flow=True) < 0.5 * excess(flow=False)


def test_stop_finishes_in_flight_frame_and_leaves_a_playable_file(clip, tmp_path):
    out = tmp_path / "stopped.mp4"
    stop = threading.Event()

    def progress(stats):
        if stats.frames == 4:
            stop.set()

    with open_source(clip) as source:
        sink = open_sink(out, **sink_options(source))
        stats = pipeline.run(source, Feedback(), sink, progress=progress, stop=stop)
    frames, _, audio = decode(out)
    assert stats.interrupted and stats.frames == 4 == len(frames)
    assert audio == pytest.approx(4 / 25, abs=1 / 25)


def test_processor_error_leaves_no_output(clip, tmp_path):
    out = tmp_path / "crash.mp4"

    def explode(frame):
        raise RuntimeError("model failed")

    with open_source(clip) as source, pytest.raises(RuntimeError, match="model failed"):
        sink = open_sink(out, **sink_options(source))
        pipeline.run(source, explode, sink)
    assert list(tmp_path.iterdir()) == []


def test_resume_equals_uninterrupted(clip, tmp_path):
    """Stop an image-sequence render half way, resume it: same frames as one full run."""
    settings = Settings(style="5", temporal=0.6)
    full, part = tmp_path / "full", tmp_path / "part"
    render_file("style", str(clip), f"{full}/%03d.png", settings)
    stop = threading.Event()
    calls = {"n": 0}
    original = pipeline._model_loop

    def stop_after_five(*args, **kwargs):
        for frame in original(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 5:
                stop.set()
            yield frame

    pipeline._model_loop = stop_after_five
    try:
        first = render_file("style", str(clip), f"{part}/%03d.png", settings, stop=stop)
    finally:
        pipeline._model_loop = original
    assert first["interrupted"] and first["frames"] == 5
    second = render_file("style", str(clip), f"{part}/%03d.png", settings, resume=True)
    assert second["skipped"] == 5 and second["frames"] == N - 5
    for i in range(N):
        a, b = read_image(full / f"{i:03d}.png"), read_image(part / f"{i:03d}.png")
        assert np.array_equal(a, b), f"frame {i} differs after resume"


def test_render_api_accepts_arrays_and_plain_functions():
    from dreamstream.stream import render

    frames = moving_frames(4)
    outs = list(render(frames, lambda f: f[:, ::-1].copy(), flow=False))
    assert len(outs) == 4 and np.array_equal(outs[2], frames[2][:, ::-1])


def test_render_api_applies_width_and_frame_window_to_a_path(clip):
    from dreamstream.stream import render

    outs = list(render(clip, lambda f: f, width=W // 2, start=2, frames=3, flow=False))
    assert len(outs) == 3 and outs[0].shape == (H // 2, W // 2, 3)


def test_scene_cut_resets_the_state(tmp_path):
    a, b = moving_frames(3), [np.ascontiguousarray(texture(7)[:H, :W]) for _ in range(3)]
    frames = [Frame(img, i) for i, img in enumerate(a + b)]
    stats = pipeline.Stats()
    list(pipeline.render(frames, Feedback(), stats=stats))
    assert stats.cuts == 1


def test_the_warped_previous_input_is_made_only_for_processors_that_read_it(clip):
    seen = {}

    class Recorder(Feedback):
        def __init__(self, reads_input: bool):
            self.uses_warped_input, self.reads = reads_input, reads_input

        def next(self, frame, index, warped_out, mask, warped_in):
            seen.setdefault(self.reads, []).append(warped_in)
            return super().next(frame, index, warped_out, mask, warped_in)

    for reads in (True, False):
        with open_source(clip) as source:
            list(pipeline.render(source, Recorder(reads)))
    assert seen[True] and all(w is not None and w.shape == (H, W, 3) for w in seen[True])
    assert seen[False] and all(w is None for w in seen[False])


def test_the_carry_warps_bicubically_for_processors_that_ask(clip, monkeypatch):
    from dreamstream.stream import carry

    kinds = []

    def recording_warp(image, flow, cubic=False):
        kinds.append(cubic)
        return coreflow.warp(image, flow, cubic)

    monkeypatch.setattr(carry, "warp", recording_warp)
    for sharp in (True, False):
        processor = Feedback()
        processor.cubic_carry = sharp
        kinds.clear()
        with open_source(clip) as source:
            list(pipeline.render(source, processor))
        assert kinds and set(kinds) == {sharp}


def test_a_carried_dream_steps_faster_where_the_flow_is_unreliable(samples):
    from dreamstream.stream.processors import DreamProcessor

    frame = read_image(samples / "chelsea.jpg")[::6, ::6][:48, :64].copy()
    mask = np.ones(frame.shape[:2], np.float32)
    mask[:, :32] = 0.0  # no match on the left half
    light = {"octaves": 1, "steps": 2, "steps_next": 2, "precision": "float32", "anchor": 0.0}
    moved = {}
    for regrow in (0.0, 3.0):
        dream = DreamProcessor(Settings(regrow=regrow, **light).dream_setup())
        out = dream.next(frame, 1, frame, mask, frame).astype(float)
        moved[regrow] = [
            np.abs(out - frame)[:, cols].mean() for cols in (slice(2, 28), slice(36, 62))
        ]
    assert moved[3.0][0] > 2.0 * moved[0.0][0]  # the unreliable half moved much further
    assert moved[3.0][1] == pytest.approx(moved[0.0][1], rel=0.2)  # the reliable half as far


def test_a_first_dream_frame_is_settled_by_carried_passes_onto_itself(samples):
    from dreamstream.stream.processors import SETTLE_PASSES, DreamProcessor

    frame = read_image(samples / "chelsea.jpg")[::6, ::6][:48, :64].copy()
    light = {"octaves": 1, "steps": 2, "steps_next": 2, "precision": "float32"}
    dream = DreamProcessor(Settings(**light).dream_setup())
    masks = []
    real_next = dream.next

    def recording_next(*args, **work):
        masks.append(float(args[3].mean()))
        return real_next(*args, **work)

    dream.next = recording_next
    settled = dream.first(frame, 0).astype(float)
    # Passes as a fresh region (mask 0: the faster step), then one as a carried frame.
    assert masks == [0.0] * SETTLE_PASSES + [1.0]
    masks.clear()
    dream.first(frame, 0, steps=2)  # live mode's budgeted first frame: no settling
    assert masks == [1.0]
    alone = DreamProcessor(Settings(flow=False, **light).dream_setup()).first(frame, 0)
    alone = alone.astype(float)
    assert np.abs(settled - frame).mean() > 1.3 * np.abs(alone - frame).mean()
