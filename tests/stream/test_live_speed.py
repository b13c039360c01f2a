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
from tests.stream.test_live import SyntheticCamera


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
    stop = threading.Event()
    timer = threading.Timer(30, stop.set)
    timer.start()
    try:
        loop.run(stop)
    finally:
        timer.cancel()
        grabber.stop()
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
    assert 0 < marks["first_picture_s"] <= marks["first_dream_s"]


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
