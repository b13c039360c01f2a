"""Masks carried along the flow, compositing, motion, stillness and drift (core.masks)."""

from __future__ import annotations

import numpy as np
import pytest

from dreamstream.core import masks
from dreamstream.core.errors import InputError


def shifted_flow(h: int, w: int, dx: float) -> np.ndarray:
    """Flow of a scene moving ``dx`` px to the right: each pixel was ``dx`` to the left."""
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0] = -dx
    return flow


def edge_mask(h: int, w: int, x: float) -> np.ndarray:
    """A soft vertical edge at ``x``: 1 on its left (a person), 0 on its right."""
    cols = np.arange(w, dtype=np.float32)
    return np.tile(np.clip(x - cols + 0.5, 0.0, 1.0), (h, 1))


def test_carried_mask_follows_the_flow_and_steadies_a_jittering_edge():
    h, w = 8, 40
    rng = np.random.default_rng(0)
    kept = plain = None
    jumps_kept, jumps_plain = [], []
    for t in range(30):
        # The edge moves 1 px a frame; the segmenter places it with +-1.5 px of jitter.
        fresh = edge_mask(h, w, 10 + t + rng.uniform(-1.5, 1.5))
        flow = shifted_flow(h, w, 1.0) if t else None
        new_kept = masks.carry_mask(fresh, kept, flow, np.ones((h, w), np.float32), keep=0.7)
        if t:
            truth_shift = masks.carry_mask(kept, kept, flow, None, keep=1.0)  # kept, moved on
            jumps_kept.append(np.abs(new_kept - truth_shift).mean())
            moved_plain = masks.carry_mask(plain, plain, flow, None, 1.0)
            jumps_plain.append(np.abs(fresh - moved_plain).mean())
        kept, plain = new_kept, fresh
    # Carried along the flow, the edge moves with the scene but jitters far less.
    assert np.mean(jumps_kept) < 0.5 * np.mean(jumps_plain)
    edge = np.argmin(np.abs(kept[0] - 0.5))
    assert abs(edge - (10 + 29)) <= 2


def test_unreliable_flow_or_no_previous_takes_the_fresh_mask():
    fresh = edge_mask(4, 10, 5)
    old = 1.0 - fresh
    flow = np.zeros((4, 10, 2), np.float32)
    assert np.array_equal(masks.carry_mask(fresh, None, flow, None), fresh)
    unreliable = np.zeros((4, 10), np.float32)
    assert np.allclose(masks.carry_mask(fresh, old, flow, unreliable), fresh)
    assert np.allclose(masks.carry_mask(fresh, old, flow, None, keep=0.5), 0.5)
    with pytest.raises(InputError, match="keep"):
        masks.carry_mask(fresh, old, flow, None, keep=1.5)


def test_composite_and_targets():
    frame = np.full((4, 6, 3), 10, np.uint8)
    dreamt = np.full((4, 6, 3), 210, np.uint8)
    person = np.zeros((4, 6), np.float32)
    person[:, :3] = 1.0
    person[:, 3] = 0.5
    shown = masks.composite(dreamt, frame, masks.target_weight(person, "person"))
    assert (shown[:, :3] == 210).all() and (shown[:, 4:] == 10).all() and (shown[:, 3] == 110).all()
    room = masks.composite(dreamt, frame, masks.target_weight(person, "background"))
    assert (room[:, :3] == 10).all() and (room[:, 4:] == 210).all()
    with pytest.raises(InputError, match="person, background"):
        masks.target_weight(person, "sky")
    with pytest.raises(InputError, match="weight"):
        masks.composite(dreamt, frame, person[:2])


def test_moving_sees_speed_and_occlusions_not_stillness():
    h, w = 20, 100  # threshold: 0.02 widths/s = 2 px/s; fully moving from 4 px/s
    reliable = np.ones((h, w), np.float32)
    still = masks.moving(np.zeros((h, w, 2), np.float32), reliable, dt=0.04)
    assert still.max() == 0.0
    fast_half = shifted_flow(h, w, 1.0)  # 25 px/s on the left
    fast_half[:, 40:] = 0.0  # a visitor: less than half the picture
    fast = masks.moving(fast_half, reliable, dt=0.04)
    assert fast[:, :35].min() > 0.99 and fast[:, 50:].max() < 0.01
    panning = masks.moving(shifted_flow(h, w, 1.0), reliable, dt=0.04)
    assert panning.max() == 0.0  # the whole picture moves: the camera, not a visitor
    slow = masks.moving(shifted_flow(h, w, 0.04), reliable, dt=0.04)  # 1 px/s: noise
    assert slow.max() == 0.0
    hidden = reliable.copy()
    hidden[:, 40:60] = 0.0  # something appeared there
    occluded = masks.moving(np.zeros((h, w, 2), np.float32), hidden, dt=0.04)
    assert occluded[:, 50].min() > 0.9 and occluded[:, 5].max() < 0.01
    with pytest.raises(InputError, match="> 0"):
        masks.moving(np.zeros((h, w, 2), np.float32), reliable, dt=0.0)


def test_stillness_rises_and_falls_in_the_chosen_times():
    s = np.zeros((2, 2), np.float32)
    still, moving = np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32)
    for _ in range(99):  # 3.96 s of 25 fps, rise 4 s
        s = masks.update_stillness(s, still, 0.04, rise_s=4.0, fall_s=0.5)
    assert 0.98 < s.min() < 1.0
    s = masks.update_stillness(s, still, 0.04, 4.0, 0.5)
    assert s.min() == pytest.approx(1.0)
    for _ in range(6):  # 0.24 s of motion: about half way down
        s = masks.update_stillness(s, moving, 0.04, 4.0, 0.5)
    assert s.max() == pytest.approx(1.0 - 0.24 / 0.5, abs=1e-5)
    big = masks.update_stillness(np.zeros((2, 2), np.float32), still, 30.0, 4.0, 0.5)
    assert big.max() == pytest.approx(masks.MAX_STEP_S / 4.0)  # a stalled input cannot jump
    with pytest.raises(InputError, match="rise and fall"):
        masks.update_stillness(s, still, 0.04, 0.0, 0.5)


def test_toward_and_drift():
    live = np.zeros((8, 8, 3), np.uint8)
    carried = np.full((8, 8, 3), 200, np.uint8)
    half = np.full((8, 8), 0.5, np.float32)
    assert np.allclose(masks.toward(carried, live, half), 100.0)
    y, x = np.mgrid[:41, :41]
    ring = (np.hypot(x - 20, y - 20) < 10).astype(np.float32)[..., None].repeat(3, -1)
    assert np.array_equal(masks.drift(ring, 0.0, 0.03, 1.0), ring)
    grown = masks.drift(ring, 0.5, 1.0, 0.0)  # 2 ** 0.5 larger after half a second
    assert grown.sum() / ring.sum() == pytest.approx(2.0, rel=0.1)
