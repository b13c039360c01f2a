"""Live start-up and display: the camera shows while the look loads; small dreams stay sharp."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.carry import Stateless
from dreamstream.stream.io.camera import Grabber
from dreamstream.stream.live.budget import Budget, Level, make_levels
from dreamstream.stream.live.looks import Looks
from dreamstream.stream.live.loop import LiveLoop
from dreamstream.stream.settings import Settings
from tests.stream.test_live import SyntheticCamera, run_until_done


class Preview:
    def __init__(self):
        self.pictures = []

    def publish(self, rgb):
        self.pictures.append(rgb.copy())


def run(looks, *, frames, budget=None, preview=None, settings=None):
    grabber = Grabber(lambda: SyntheticCamera(fps=100), backoff=0.05).start()
    outputs = []
    loop = LiveLoop(
        grabber,
        looks,
        settings or Settings(flow=False, frames=frames),
        budget=budget or Budget(make_levels("style", Settings()), None),
        preview=preview,
        on_output=lambda image, latency: outputs.append((image, loop.last_input.copy())),
    )
    run_until_done(loop, grabber)
    return loop, outputs


def test_the_camera_shows_while_the_look_loads_then_the_processed_picture():
    loaded = threading.Event()

    def build(settings):
        loaded.wait(10)  # the framework import, as far as the loop can tell
        return Stateless(lambda frame: 255 - frame)

    class Watching(Preview):
        def publish(self, rgb):
            super().publish(rgb)
            if len(self.pictures) == 3:
                loaded.set()  # the look is ready after three camera pictures were shown

    looks = Looks([("slow", Settings())], build, background=True)
    assert looks.processor is None
    preview = Watching()
    loop, outputs = run(looks, frames=5, preview=preview)
    assert loop.stats.loading_frames >= 3
    first = preview.pictures[0]
    assert first.shape == (48, 64, 3) and first[1:, :].mean() > 0  # a camera picture at once
    assert len(outputs) == 5
    for image, given in outputs:
        assert np.array_equal(image, 255 - given)  # then processed, nothing else
    marks = loop.stats.summary()
    assert 0 < marks["first_picture_s"] <= marks["first_processed_s"]


def test_a_look_that_cannot_load_stops_the_loop_with_its_error():
    def build(settings):
        raise InputError("dream weights file 'x.h5' does not exist")

    looks = Looks([("bad", Settings())], build, background=True)
    with pytest.raises(InputError, match="x.h5"):
        run(looks, frames=5)


def test_a_dream_below_the_output_size_keeps_the_camera_sharp():
    def brighter(frame):
        return np.clip(frame.astype(np.int16) + 20, 0, 255).astype(np.uint8)

    class One:  # a single look whose processor takes the dream's per-frame work
        def __init__(self):
            self.processor, self.index, self.label, self.fatal = Stateless(brighter), 0, "x", None
            self.looks = [("x", Settings())]

        def poll(self):
            return False

    budget = Budget([Level(width=32, steps=1, octaves=1)], None)
    loop, outputs = run(One(), frames=4, budget=budget)
    assert loop.size == (32, 24)
    for image, given in outputs:
        assert image.shape == given.shape == (48, 64, 3)
        want = np.clip(given.astype(np.int16) + 20, 0, 255)
        # The change is upscaled onto the full-size input: its fine pattern survives,
        # which upscaling the 32 px picture itself would have blurred away.
        assert np.abs(image.astype(np.int16) - want).mean() < 2.0


def test_a_level_that_dreams_every_third_frame_carries_the_frames_between():
    steps = []

    class Recording:
        def first(self, frame, index, **work):
            steps.append(("first", work["steps_next"]))
            return frame

        def next(self, frame, index, warped_out, mask, warped_in, **work):
            steps.append(("next", work["steps_next"]))
            assert work.get("hold", False) == (work["steps_next"] == 0)
            return frame

    class One:
        def __init__(self):
            self.processor, self.index, self.label, self.fatal = Recording(), 0, "x", None
            self.looks = [("x", Settings())]

        def poll(self):
            return False

    level = Level(width=32, steps=1, octaves=1, every=3)
    run(One(), frames=7, budget=Budget([level], None), settings=Settings(frames=7))
    assert steps[0] == ("first", 1)
    assert [n for _, n in steps] == [1, 0, 0, 1, 0, 0, 1]  # dreamt on every third frame


def test_the_budget_judges_an_every_k_level_per_cycle():
    look = Settings()
    every, cheaper = (
        Level(width=64, steps=1, octaves=1),
        Level(width=64, steps=1, octaves=1, every=2),
    )
    budget = Budget([every, cheaper], 1.0, frame_s=0.1, start=1, patience=1)
    budget.fit((64, 48), look)
    assert budget.levels[0].cost == 2 * budget.levels[1].cost
    # Judged per cycle of two frames: the climb comes after two cycles, not two frames.
    assert [budget.update(0.01, 0.01, 0.01) for _ in range(4)] == [False, False, False, True]
    budget = Budget([every, cheaper], 1.0, frame_s=0.1, start=1, patience=1)
    budget.fit((64, 48), look)
    # A dreamt and a carried frame: the mean (0.15 s, x 2 for dreaming every frame) decides.
    assert not any(budget.update(t, t, t) for t in (0.3, 0.001) * 4) and budget.index == 1


def test_a_held_frame_lays_the_carried_dream_on_the_new_frame():
    from dreamstream.stream.processors import make_processor

    processor = make_processor("dream", Settings(layers="block1_conv2").setup("dream"))
    rng = np.random.default_rng(0)
    frame, warped_in = (rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(2))
    warped_out = np.clip(warped_in.astype(np.int16) + 30, 0, 255).astype(np.uint8)
    mask = np.ones((24, 32), np.float32)
    held = processor.next(frame, 1, warped_out, mask, warped_in, steps_next=0, hold=True)
    change = warped_out.astype(np.int16) - warped_in.astype(np.int16)
    assert np.array_equal(held, np.clip(frame + change, 0, 255).astype(np.uint8))
