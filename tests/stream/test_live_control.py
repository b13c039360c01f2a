"""Live mode's remote controls: changes checked, queued without blocking, applied between frames.

A real style look (onnxruntime, 64x48 frames) runs in the live loop on a
synthetic camera; changes arrive through the HTTP routes and as real OSC
packets over loopback, and the loop's settings and its output are read back.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.io.camera import Grabber
from dreamstream.stream.live.budget import Budget, make_levels
from dreamstream.stream.live.control import Control, check_change
from dreamstream.stream.live.looks import Looks
from dreamstream.stream.live.loop import LiveLoop, LiveStats
from dreamstream.stream.live.preview import PreviewServer
from dreamstream.stream.processors import make_processor
from dreamstream.stream.settings import Settings
from tests.stream.test_live import SyntheticCamera


def wait_for(condition, seconds: float = 20.0, what: str = "the condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("strength", 1.5, "strength must be a number between 0 and 1, got 1.5"),
        ("strength", "loud", "strength must be a number between 0 and 1"),
        ("steps", 99, "steps must be a number between 0 and 50"),
        ("look", -1, "look must be a number between 0"),
        ("period", 0, "period must be more than 0 seconds"),
        ("pause", "maybe", "pause must be 1/0, on/off or true/false"),
        ("style", "99", "style must be 0-25 or a blend such as 3:0.5,12:0.5, got '99'"),
        ("volume", 3, "unknown control 'volume'"),
    ],
)
def test_bad_changes_are_refused_with_their_reason(name, value, message):
    control = Control("style")
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        control.submit({name: value})
    assert control.state()["received"] == 0  # nothing was queued


def test_good_changes_are_checked_into_plain_values():
    assert check_change("strength", "0.25") == 0.25
    assert check_change("strength", np.float32(0.3)) == 0.3  # OSC's float32, rounded
    assert check_change("steps", 3.0) == 3 and check_change("look", "2") == 2
    assert check_change("pause", None) is None and check_change("pause", "on") is True
    assert check_change("style", 7) == "7" and check_change("style", "3:0.5,12:0.5")


class Running:
    """A live loop with two real style looks on a synthetic camera, on its own thread."""

    def __init__(self, processor_delay: float = 0.0, mode: str = "style", looks=None):
        looks = looks or [("style 3", Settings(style="3")), ("style 7", Settings(style="7"))]
        self.looks = Looks(looks, lambda s: make_processor(mode, s.setup(mode)))
        if processor_delay:  # a slow model: the loop is busy while changes arrive
            inner = self.looks.processor.first

            def slow(*a, **kw):
                time.sleep(processor_delay)
                return inner(*a, **kw)

            self.looks.processor.first = slow
        self.control = Control(mode)
        self.camera = SyntheticCamera(size=(64, 48), fps=60)
        self.grabber = Grabber(lambda: self.camera).start()
        self.outputs: list = []
        self.preview = PreviewServer("127.0.0.1", 0, control=self.control).start()
        self.loop = LiveLoop(
            self.grabber,
            self.looks,
            Settings(flow=False),
            budget=Budget(make_levels(mode, Settings()), None),
            preview=self.preview,
            on_output=lambda image, latency: self.outputs.append(image),
            control=self.control,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop.run, args=(self.stop,), daemon=True)
        self.thread.start()
        wait_for(lambda: self.control.state().get("frames"), what="the first frame")

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.grabber.stop()
        self.preview.close()

    def settled(self, predicate, what: str):
        """Wait until the published state satisfies ``predicate``; that state."""
        return wait_for(
            lambda: (lambda s: s if predicate(s) else None)(self.control.state()), what=what
        )


@pytest.fixture
def running():
    run = Running()
    yield run
    run.close()


def distance_to_input(run: Running, image: np.ndarray) -> float:
    """Mean difference from the nearest frame the synthetic camera can deliver."""
    rolls = (np.roll(run.camera.base, k, axis=1) for k in range(run.camera.size[0]))
    return min(float(np.abs(image[1:].astype(int) - r[1:]).mean()) for r in rolls)


def test_sliders_apply_at_the_next_frame_without_a_rebuild(running):
    processor = running.looks.processor
    styled = running.outputs[-1]
    assert distance_to_input(running, styled) > 20  # a strong style
    running.control.submit({"strength": 0.0, "temporal": 0.0})
    state = running.settled(lambda s: s["settings"]["strength"] == 0.0, "strength 0")
    assert state["settings"]["temporal"] == 0.0
    assert running.looks.processor is processor  # the same model, retuned
    assert processor.stylizer.strength == 0.0 and processor.setup.temporal == 0.0
    count = len(running.outputs)
    wait_for(lambda: len(running.outputs) > count + 2, what="frames after the change")
    # Strength 0 with no temporal weight: the output is the camera frame itself.
    assert distance_to_input(running, running.outputs[-1]) < 1
    running.control.submit({"style": "12", "strength": 1})
    state = running.settled(lambda s: s["settings"]["style"] == "12", "style 12")
    assert state["label"] == "style 12" and processor.stylizer.strength == 1.0


def test_looks_pause_and_cycle_through_the_http_routes(running):
    base = f"http://127.0.0.1:{running.preview.port}"

    def post(changes: dict, headers: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            base + "/api/control",
            json.dumps(changes).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post({"next": True}) == (200, {"accepted": {"next": True}})
    state = running.settled(lambda s: s["look"] == 1, "the next look")
    assert state["label"] == "style 7" and state["looks"] == ["style 3", "style 7"]
    with urllib.request.urlopen(base + "/api/control?look=0&cycle=1&period=30", timeout=5) as a:
        assert json.loads(a.read())["accepted"] == {"look": 0, "cycle": True, "period": 30.0}
    state = running.settled(lambda s: s["look"] == 0 and s["cycling"], "look 0, cycling")
    assert state["period"] == 30.0 and running.loop.cycle_s == 30.0
    assert post({"pause": 1})[0] == 200
    running.settled(lambda s: s["paused"], "paused")
    frames = running.control.state()["frames"]
    time.sleep(0.3)
    assert running.control.state()["frames"] == frames  # held
    assert post({"strength": 2}) == (
        400,
        {"error": "strength must be a number between 0 and 1, got 2"},
    )
    assert post({"pause": 0}, {"Origin": "http://evil.example"})[0] == 403  # another site
    assert post({"pause": 0}, {"Sec-Fetch-Site": "cross-site"})[0] == 403
    form = urllib.request.Request(base + "/api/control", b"pause=0", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:  # a plain form post is refused
        urllib.request.urlopen(form, timeout=5)
    assert refused.value.code == 400
    assert running.control.state()["paused"] is True
    with urllib.request.urlopen(base + "/api/state", timeout=5) as answer:
        state = json.loads(answer.read())
    assert state["mode"] == "style" and state["errors"] == 0 and state["uptime_s"] > 0
    assert {"fps", "latency_ms_p50", "latency_ms_p95", "dropped"} <= set(state)


def test_a_slow_loop_never_holds_a_request():
    run = Running(processor_delay=0.5)
    try:
        began = time.monotonic()
        for k in range(20):
            run.control.submit({"temporal": k / 20})
        with urllib.request.urlopen(
            f"http://127.0.0.1:{run.preview.port}/api/control?strength=0.5", timeout=5
        ) as answer:
            assert answer.status == 200
        assert time.monotonic() - began < 0.4  # less than one frame of the slow model
        run.settled(lambda s: s["settings"]["strength"] == 0.5, "the change, a frame later")
        assert run.control.state()["settings"]["temporal"] == 0.95  # the last one wins
    finally:
        run.close()


def test_dream_sliders_and_layers(monkeypatch):
    from dreamstream.stream.live import tuning

    light = Settings(
        octaves=1, steps=1, steps_next=1, precision="float32", flow=False, layers="block3_conv3:1"
    )
    run = Running(mode="dream", looks=[("light", light)])
    try:
        first = run.looks.processor
        run.control.submit({"blend": 0.5, "steps": 3})
        state = run.settled(lambda s: s["settings"]["steps"] == 3, "dream sliders")
        assert state["settings"]["blend"] == 0.5 and run.looks.processor is first
        assert first.setup.carry.blend == 0.5 and first.setup.carry.steps_next == 3
        # The next frame's work at the budget's top level (lighter levels cap the steps).
        assert run.loop._work(run.loop.budget.levels[0])["steps_next"] == 3
        run.control.submit({"strength": 0.5})  # a style slider: refused, the show goes on
        state = run.settled(lambda s: s["error"], "the refusal")
        assert state["error"] == "strength applies to styles; this is dream mode"
        presets = tuning.layer_presets()
        assert presets["deep"] == "block5_conv3:1,block4_conv3:0.3"
        run.control.submit({"layers": "classic"})  # a new network, built in the background
        state = run.settled(lambda s: s["settings"]["layers"] == "classic", "classic's layers")
        assert state["label"] == "light @ classic layers" and state["look"] == 1
        assert run.looks.processor.setup.layers == presets["classic"]
        assert run.looks.processor.setup.carry.blend == 0.5  # the slider's value stays
        run.control.submit({"mask": "saliency"})  # VGG16 has no classifier to look with
        state = run.settled(lambda s: s["error"], "the saliency mask's refusal")
        assert state["error"].startswith("the saliency mask needs a dream model with an Image")
        assert state["effects"]["mask"] == "none" and run.loop.stats.errors == 0
        assert run.control.state()["frames"] > 0 and run.loop.stats.errors == 0
    finally:
        run.close()


def test_layer_variants_keep_at_most_two_models():
    built = []

    def build(settings):
        built.append(settings.layers)
        return object()

    looks = Looks([("a", Settings(style="1")), ("b", Settings(style="2"))], build)
    for k, layers in enumerate(("x:1", "y:1", "z:1", "w:1")):
        looks.variant(f"v{k}", Settings(layers=layers))
        wait_for(looks.poll, what=f"variant {k}")
        assert looks.label == f"v{k}" and looks.looks[looks.index][1].layers == layers
        assert len(looks.looks) <= 4 and set(looks._ready) <= {0, 1, 2, 3}
        assert len([i for i in looks._ready if i >= 2]) <= 2  # the running one and one more
    assert built == [None, "x:1", "y:1", "z:1", "w:1"]
    looks.select(1)
    wait_for(lambda: looks.poll() or looks.index == 1, what="look b")
    assert looks.label == "b"


def test_the_control_routes_need_the_token():
    control = Control("dream")
    preview = PreviewServer("127.0.0.1", 0, token="s3cret", control=control).start()
    try:
        base = f"http://127.0.0.1:{preview.port}"
        for path in ("/control", "/api/state", "/api/control?pause=1"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=5)
            assert refused.value.code == 403
        with urllib.request.urlopen(base + "/control?token=s3cret", timeout=5) as answer:
            page = answer.read().decode()
        assert 'const TOKEN = "s3cret";' in page and 'id="strength"' in page
        request = urllib.request.Request(
            base + "/api/control", b'{"pause": 1}', {"Content-Type": "application/json"}
        )
        request.add_header("Authorization", "Bearer s3cret")
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert json.loads(answer.read()) == {"accepted": {"pause": True}}
        assert control.state()["received"] == 1
    finally:
        preview.close()


def test_without_a_control_the_preview_serves_no_control_routes():
    preview = PreviewServer("127.0.0.1", 0).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{preview.port}/api/state", timeout=5)
        assert missing.value.code == 404
    finally:
        preview.close()


def test_a_trickled_body_cannot_hold_a_thread():
    import socket

    from dreamstream.stream.live.serving import Limits

    preview = PreviewServer("127.0.0.1", 0, control=Control(), limits=Limits(request_timeout=0.5))
    preview.start()
    try:
        with socket.create_connection(("127.0.0.1", preview.port), timeout=5) as client:
            client.sendall(
                b"POST /api/control HTTP/1.0\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{"
            )
            began = time.monotonic()
            client.settimeout(5)
            assert client.recv(100) == b""  # closed, without waiting for the rest
            assert time.monotonic() - began < 3
        assert preview.control.state()["received"] == 0
    finally:
        preview.close()


def test_the_saliency_mask_switches_a_dream_look_in_the_background():
    from dreamstream.stream.carry import Carry
    from dreamstream.stream.live.control import apply_change, snapshot

    built = []

    def build(settings):
        built.append(settings.mask)
        return object()

    class Loop:  # what apply_change and snapshot read
        carry, control, full, cycling, cycle_s, paused, overlay, window = (
            Carry(), Control("dream"), (64, 48), False, None, False, False, None
        )  # fmt: skip
        looks = Looks([("eff", Settings(model="efficientnet_lite0"))], build)
        stats = LiveStats()

    loop = Loop()
    apply_change(loop, "mask", "saliency", 0.0)
    wait_for(loop.looks.poll, what="the look with the mask")
    assert built == [None, "saliency"] and loop.looks.label == "eff @ saliency"
    assert snapshot(loop, "dream")["effects"]["mask"] == "saliency"
    apply_change(loop, "mask", "saliency", 0.0)  # already so: nothing is built
    apply_change(loop, "mask", "none", 0.0)
    wait_for(loop.looks.poll, what="the look without it")
    assert built == [None, "saliency", None] and loop.looks.label == "eff @ unmasked"
    assert snapshot(loop, "dream")["effects"]["mask"] == "none"
