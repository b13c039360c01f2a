"""Masks, --react motion and --attract: state over time, the carry, files end to end."""

from __future__ import annotations

import os
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from dreamstream.core.temporal import Motion
from dreamstream.stream import pipeline
from dreamstream.stream.effects import Effects, make_effects
from dreamstream.stream.io import Frame
from dreamstream.stream.params import EffectsSetup
from dreamstream.stream.settings import Settings
from tests.stream.test_live import run_until_done
from tests.stream.test_segmenter import tiny_tflite  # noqa: F401 -- a fixture

H, W = 48, 64
DREAMSTREAM = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "dreamstream")


def left_person(frame: np.ndarray) -> np.ndarray:
    """A stand-in segmenter: the left half of every frame is a person."""
    person = np.zeros(frame.shape[:2], np.float32)
    person[:, : frame.shape[1] // 2] = 1.0
    return person


def motion(moving_cols: slice | None = None, dx: float = 3.0) -> Motion:
    """Motion of a still scene, or one where ``moving_cols`` move ``dx`` px a frame."""
    flow = np.zeros((H, W, 2), np.float32)
    if moving_cols is not None:
        flow[:, moving_cols, 0] = -dx
    return Motion(flow, np.ones((H, W), np.float32), cut=False)


def test_masks_show_the_person_or_the_room():
    frame = np.full((H, W, 3), 30, np.uint8)
    dreamt = np.full((H, W, 3), 230, np.uint8)
    for target, shown_side in (("person", 0), ("background", 1)):
        fx = Effects(EffectsSetup(mask=target), left_person)
        fx.observe(frame, None, 0.0)
        shown = fx.present(dreamt, frame)
        halves = shown[:, : W // 2 - 2], shown[:, W // 2 + 2 :]
        assert (halves[shown_side] == 230).all() and (halves[1 - shown_side] == 30).all()


def test_react_deepens_where_still_and_gives_way_where_things_move():
    fx = Effects(EffectsSetup(react="motion", rise_s=2.0, fall_s=0.4))
    frame = np.zeros((H, W, 3), np.uint8)
    fx.observe(frame, None, 0.0)  # a fresh start shows the live picture
    assert fx.weight().max() == 0.0
    for k in range(1, 26):  # 1 s still at 25 fps
        fx.observe(frame, motion(), k / 25)
    assert fx.weight().mean() == pytest.approx(0.5, abs=0.02)
    for k in range(26, 76):  # 2 s more: full depth everywhere
        fx.observe(frame, motion(), k / 25)
    assert fx.weight().min() == pytest.approx(1.0)
    for k in range(76, 86):  # 0.4 s: someone moves on the left
        fx.observe(frame, motion(slice(0, 20)), k / 25)
    w = fx.weight()
    assert w[:, :10].max() < 0.05 and w[:, 40:].min() == pytest.approx(1.0)
    # The carried dream is pulled toward the live picture where it moved.
    carried = np.full((H, W, 3), 200, np.uint8)
    start = fx.carried(carried, frame, grows=True)
    assert start[:, :10].max() < 40 and (start[:, 40:] == 200).all()
    assert fx.carried(carried, frame, grows=False) is carried  # a style's blend is left alone
    # Live mode's budget halves the size: no motion is measured, the stillness is kept.
    fx.observe(np.zeros((H // 2, W // 2, 3), np.uint8), None, 86 / 25)
    assert fx.weight().shape == (H // 2, W // 2) and fx.weight()[:, 25:].min() > 0.99
    cut = Motion(np.zeros((H, W, 2), np.float32), np.zeros((H, W), np.float32), cut=True)
    fx.observe(frame, cut, 87 / 25)  # a new scene starts from the live picture
    assert fx.weight().max() == 0.0


def test_react_times_are_seconds_from_the_pts_not_frames():
    depth = {}
    for fps in (25, 50):
        fx = Effects(EffectsSetup(react="motion", rise_s=4.0))
        fx.observe(np.zeros((H, W, 3), np.uint8), None, 10.0)
        for k in range(1, fps + 1):  # one second at either rate
            fx.observe(np.zeros((H, W, 3), np.uint8), motion(), 10.0 + k / fps)
        depth[fps] = fx.weight().mean()
    assert depth[25] == pytest.approx(0.25, abs=0.01) and depth[50] == pytest.approx(0.25, abs=0.01)


def test_attract_drifts_the_dream_and_cycles_once_per_quiet_period():
    fx = Effects(EffectsSetup(attract_s=1.0))
    frame = np.zeros((H, W, 3), np.uint8)
    dream = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    fx.observe(frame, None, 0.0)
    cycles = []
    for k in range(1, 61):  # 2.4 s of a still room at 25 fps
        fx.observe(frame, motion(), k / 25)
        cycles.append(fx.take_cycle())
    assert fx.attracting and sum(cycles) == 2 and cycles.index(True) == 24
    drifted = fx.carried(dream, frame, grows=True)
    assert np.abs(drifted.astype(int) - dream).mean() > 1  # the picture never freezes
    fx.observe(frame, motion(slice(0, 40)), 61 / 25)  # a visitor: attract mode ends
    assert not fx.attracting and not fx.take_cycle()
    assert np.array_equal(fx.carried(dream, frame, grows=True), dream)


class Deepening:
    """A stand-in dream: each frame adds 40 to what it starts from."""

    grows = True

    def first(self, frame, index, **work):
        return frame

    def next(self, frame, index, warped_out, mask, warped_in, **work):
        return np.clip(warped_out.astype(np.int16) + 40, 0, 255).astype(np.uint8)


def scene(k: int) -> np.ndarray:
    """A textured still room; frames 30-39 a bright bar sweeps across its left half."""
    rng = np.random.default_rng(1)
    room = cv2.GaussianBlur(rng.integers(0, 120, (H, W, 3), dtype=np.uint8), (0, 0), 1.0)
    if 30 <= k < 40:
        room[:, 2 * (k - 30) : 2 * (k - 30) + 8] = 180
    return room


def test_the_pipeline_shows_a_reactive_dream_from_the_frames_pts():
    frames = [Frame(scene(k), k, k * 2, Fraction(1, 50)) for k in range(40)]  # 25 fps
    fx = make_effects(EffectsSetup(react="motion", rise_s=0.8, fall_s=0.2))
    rendered = pipeline.render(frames, Deepening(), flow_preset="ultrafast", effects=fx)
    out = [f.image for f in rendered]
    first_diff = np.abs(out[0].astype(int) - frames[0].image).mean()
    settled = np.abs(out[29].astype(int) - frames[29].image)
    assert first_diff == 0  # a fresh start shows the live picture
    assert settled.mean() > 30  # still for 1.2 s: the dream shows
    bar = slice(18, 26)  # where the bar is on the last frames
    moved = np.abs(out[39][:, bar].astype(int) - frames[39].image[:, bar]).mean()
    assert moved < 0.25 * settled.mean()  # where it moves the live picture shows
    right = np.abs(out[39][:, 44:].astype(int) - frames[39].image[:, 44:]).mean()
    assert right > 30  # the still part of the room stays dreamt


def test_settings_checks_for_effects():
    from dreamstream.core.errors import InputError

    with pytest.raises(InputError, match="--react motion needs the flow"):
        Settings(react="motion", flow=False)
    with pytest.raises(InputError, match="--rise must be > 0"):
        Settings(rise=0.0)
    with pytest.raises(InputError, match="--attract must be > 0"):
        Settings(attract=-1.0)
    with pytest.raises(InputError, match="--mask-model needs --mask"):
        Settings(mask_model="m.tflite")
    with pytest.raises(InputError, match="--mask must be one of"):
        Settings(mask="sky")
    with pytest.raises(InputError, match="--attract does not run in segments"):
        Settings(attract=5.0, workers=2)
    assert Settings(mask="person", react="motion", workers=2).effects_setup().active
    setup = Settings(mask="background", react="motion", rise=2, attract=20).effects_setup()
    assert setup == EffectsSetup("background", None, "motion", 2.0, 0.5, 20.0)
    assert not Settings().effects_setup().active
    # One --mask: saliency confines the dream's steps, person/background are effects.
    person, saliency = Settings(mask="person"), Settings(mask="saliency")
    assert person.dream_setup().mask is None and person.effects_setup().mask == "person"
    assert saliency.dream_setup().mask == "saliency" and saliency.effects_setup().mask is None


def test_style_a_file_with_a_person_mask_and_react_end_to_end(tmp_path, tiny_tflite):  # noqa: F811
    """The README's command on frames: the person (red, left) styled, the room kept."""
    src = tmp_path / "in"
    src.mkdir()
    for k in range(4):
        frame = scene(0)
        frame[:, :28, 0] = 250  # the tiny model's "person": red above one half
        cv2.imwrite(str(src / f"{k:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    inputs = [cv2.imread(str(p)) for p in sorted(src.glob("*.png"))]

    def style(out: Path, *extra: str) -> list[np.ndarray]:
        args = [DREAMSTREAM, "style", str(src / "%05d.png"), "-o", str(out / "%05d.png")]
        args += ["--mask", "person", "--mask-model", str(tiny_tflite), *extra]
        done = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return [cv2.imread(str(p)) for p in sorted(out.glob("*.png"))]

    masked = style(tmp_path / "masked")
    assert len(masked) == 4
    person = np.abs(masked[0][:, :24].astype(int) - inputs[0][:, :24]).mean()
    assert person > 20 and np.array_equal(masked[0][:, 34:], inputs[0][:, 34:])
    reactive = style(tmp_path / "react", "--react", "motion", "--rise", "0.1")
    assert np.array_equal(reactive[0], inputs[0])  # the first frame: the live picture
    assert np.abs(reactive[3][:, :24].astype(int) - inputs[3][:, :24]).mean() > 20


class StillCamera:
    """``read() -> (ok, rgb)``: the same textured room at ``fps``, like an empty installation."""

    def __init__(self, fps: float = 100.0):
        self.period, self.room = 1.0 / fps, scene(0)

    def read(self):
        time.sleep(self.period)
        return True, self.room.copy()

    def release(self):
        pass


class TwoLooks:
    """Two looks of one processor; records the looks live mode asks for."""

    def __init__(self, processor):
        self.processor, self.index, self.label = processor, 0, "test"
        self.fatal = None  # the first look built (live mode checks this)
        self.looks = [("a", Settings()), ("b", Settings())]
        self.asked: list[int] = []

    def select(self, index):
        self.asked.append(index)

    def poll(self):
        return False


def test_live_mode_reacts_and_attracts_with_the_same_effects():
    from dreamstream.stream.carry import Stateless
    from dreamstream.stream.io.camera import Grabber
    from dreamstream.stream.live.budget import Budget, make_levels
    from dreamstream.stream.live.loop import LiveLoop

    grabber = Grabber(StillCamera).start()
    shown = []
    looks = TwoLooks(Stateless(lambda f: 255 - f))
    loop = LiveLoop(
        grabber,
        looks,
        Settings(frames=40, flow_preset="ultrafast"),
        budget=Budget(make_levels("style", Settings()), None),
        on_output=lambda img, lat: shown.append(img),
        effects=Effects(EffectsSetup(react="motion", rise_s=0.15, attract_s=0.1)),
    )
    run_until_done(loop, grabber)
    room = scene(0).astype(int)
    assert np.array_equal(shown[0], scene(0))  # a fresh start: the live picture
    # Still: fully processed, its view drifting a little (attract mode for a style).
    processed = np.abs(shown[-1].astype(int) - (255 - room)).mean()
    assert processed < 0.1 * np.abs(shown[-1].astype(int) - room).mean()
    assert loop.carry.effects.swing > 0
    assert looks.asked and looks.asked[0] == 1  # the empty room moved on to the next look


def test_cli_fetch_checks_the_hash_and_a_missing_model_is_one_line(tmp_path):
    from tests.stream.test_segmenter import fake_wheel

    env = {**os.environ, "DREAMSTREAM_CACHE": str(tmp_path / "cache")}
    names = ("selfie_segmentation.tflite", "selfie_segmentation_landscape.tflite")
    wheel = fake_wheel(tmp_path / "mp.whl", {name: b"tampered" for name in names})
    run = [DREAMSTREAM, "fetch", "segmenter", "--wheel", str(wheel)]
    done = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and "sha256" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "cache").exists()
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), scene(0))
    out = tmp_path / "out.png"
    run = [DREAMSTREAM, "style", str(still), "-o", str(out), "--mask", "person"]
    done = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and not out.exists()
    assert done.stderr.strip() == (
        "dreamstream: error: --mask person/background needs the selfie segmenter: run "
        "`dreamstream fetch segmenter` once (pip downloads the mediapipe wheel), or pass "
        "--mask-model PATH"
    )


def test_live_controls_steer_react_attract_and_the_mask(tmp_path, monkeypatch, tiny_tflite):  # noqa: F811
    import dataclasses

    from dreamstream.core.errors import InputError
    from dreamstream.stream.carry import Carry
    from dreamstream.stream.live.control import Control, apply_change, check_change
    from dreamstream.stream.live.effectcontrol import effects_state

    class Looks:
        looks, index = [("style 3", Settings(style="3"))], 0

    class Loop:  # what control.apply_change touches for these names
        carry, control, full, looks = Carry(), Control("style"), (W, H), Looks()

    loop = Loop()
    apply_change(loop, "react", check_change("react", "on"), 0.0)
    apply_change(loop, "rise", check_change("rise", "2"), 0.0)
    apply_change(loop, "attract", check_change("attract", 30), 0.0)
    setup = loop.carry.effects.setup
    assert setup.react == "motion" and setup.rise_s == 2.0 and setup.attract_s == 30.0
    apply_change(loop, "attract", 0.0, 0.0)
    apply_change(loop, "react", None, 0.0)  # toggle: off
    assert not loop.carry.effects.setup.active
    with pytest.raises(InputError, match="mask must be none, person, background or saliency"):
        check_change("mask", "sky")
    with pytest.raises(InputError, match="rise must be a number between 0.05 and 60"):
        check_change("rise", 0)
    with pytest.raises(InputError, match="the saliency mask applies to dreams; this is style"):
        apply_change(loop, "mask", "saliency", 0.0)
    monkeypatch.setenv("DREAMSTREAM_CACHE", str(tmp_path))  # no segmenter: one line, no change
    with pytest.raises(InputError, match="run `dreamstream fetch segmenter` there once"):
        apply_change(loop, "mask", "person", 0.0)
    switch = loop.control.masks
    assert loop.carry.effects.setup.mask is None and "\n" not in switch.note
    assert switch.note.startswith("mask person needs the selfie segmenter")
    # With a model, the segmenter loads on a thread: the change returns at once, and the
    # first turn of the loop after it is ready turns the mask on.
    fx = loop.carry.effects
    fx.setup = dataclasses.replace(fx.setup, mask_model=str(tiny_tflite))
    apply_change(loop, "mask", "background", 0.0)
    assert fx.setup.mask is None and switch.wanted == "background"
    assert switch.note == "mask background: loading the segmenter..."
    deadline = time.monotonic() + 60
    while fx.setup.mask is None and time.monotonic() < deadline:
        switch.poll(loop.carry)
        time.sleep(0.02)
    assert fx.setup.mask == "background" and switch.note is None
    red_left = np.zeros((H, W, 3), np.uint8)
    red_left[:, : W // 2, 0] = 255  # the tiny model's "person"
    fx.observe(red_left, None, 0.0)
    shown = fx.present(np.full((H, W, 3), 200, np.uint8), red_left)
    assert (shown[:, W - 8 :] == 200).all() and (shown[:, :8] == red_left[:, :8]).all()
    apply_change(loop, "mask", "none", 0.0)
    state = effects_state(loop.carry.effects, switch)
    assert fx.setup.mask is None and state["mask"] == "none" and state["mask_note"] is None


def quiet_room(k: int) -> np.ndarray:
    """The still room of :func:`scene`; from frame 60 on, a bright bar sweeps across it."""
    room = scene(0)
    if k >= 60:
        x = (3 * (k - 60)) % (W - 8)
        room[:, x : x + 8] = 220
    return room


def test_attract_keeps_a_style_moving_and_gives_way_to_a_visitor():
    from dreamstream.stream.carry import Stateless
    from dreamstream.stream.effects import STYLE_EASE_OUT_S

    # A stand-in style (a style does not dream on its carried output); 5 frames a second.
    frames = [Frame(quiet_room(k), k, k, Fraction(1, 5)) for k in range(70)]
    fx = make_effects(EffectsSetup(attract_s=2.0))
    style = Stateless(lambda f: 255 - f)
    out = [f.image.astype(int) for f in pipeline.render(frames, style, effects=fx)]
    plain = [255 - f.image.astype(int) for f in frames]
    change = [np.abs(out[k] - out[k - 1]).mean() for k in range(1, 60)]
    # Still for 2 s (10 frames): the camera's picture, styled, does not change at all...
    assert max(change[:10]) == 0 and np.array_equal(out[10], plain[10])
    # ...then the view the style paints drifts: the picture changes on every frame.
    assert min(change[12:]) > 0.05 and np.abs(out[59] - plain[59]).mean() > 2
    # A visitor: within the ease-out time the style paints the camera's view again.
    back = 60 + int(STYLE_EASE_OUT_S * 5) + 1
    assert not fx.attracting and fx.swing == 0
    assert all(np.array_equal(out[k], plain[k]) for k in range(back, 70))


def test_a_styles_previous_output_follows_the_swinging_view():
    fx = Effects(EffectsSetup(attract_s=0.2))
    texture = np.random.default_rng(1).integers(0, 256, (4 * H, 4 * W, 3), dtype=np.uint8)
    frame = cv2.GaussianBlur(texture, (0, 0), 2.0)
    fx.observe(frame, None, 0.0)
    painted = []
    for k in range(1, 20):  # a still room, one frame a second (the view moves well per frame)
        fx.observe(frame, None if k == 1 else Motion(*still_motion(frame)), float(k))
        painted.append(fx.framed(frame, grows=False))
        moved = fx.carried(painted[-2], frame, grows=False) if k > 1 else None
    assert fx.swing == 1.0
    # The style's previous output, painted in the previous view, is moved into this one:
    # it then lines up with this frame's view, so the temporal blend leaves no trail.
    trail = np.abs(painted[-2].astype(int) - painted[-1]).mean()
    aligned = np.abs(moved.astype(int) - painted[-1])[8:-8, 8:-8].mean()
    assert trail > 1 and aligned < 0.2 * trail


def still_motion(frame: np.ndarray) -> tuple:
    """A still scene's flow, reliability and no cut, at ``frame``'s size."""
    h, w = frame.shape[:2]
    return np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32), False
