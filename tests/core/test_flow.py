"""Optical flow, warping and occlusion masks (core.flow); carries and cuts (core.temporal)."""

import cv2
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.flow import FlowEstimator, consistency_mask, warp
from dreamstream.core.temporal import (
    dream_start,
    histogram_distance,
    is_scene_cut,
    measure_motion,
    temporal_blend,
)


def texture(size, seed, sigma=2.0, tint=(1.0, 1.0, 1.0)):
    """Smooth random RGB texture, uint8, stretched to the full 0-255 range."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), sigma)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return np.clip(noise * 255 * np.array(tint), 0, 255).astype(np.uint8)


def shifted_pair(shift, size=96, seed=4):
    """(prev, cur) crops of one texture with cur(x) = prev(x + shift): flow cur->prev = shift."""
    big = texture(size + 40, seed).astype(np.float32)
    dx, dy = shift
    m = np.float32([[1, 0, 20 + dx], [0, 1, 20 + dy]])
    cur = cv2.warpAffine(big, m, (size, size), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    prev = big[20 : 20 + size, 20 : 20 + size]
    return np.clip(prev, 0, 255).astype(np.uint8), np.clip(cur, 0, 255).astype(np.uint8)


def const_flow(h, w, dx, dy):
    return np.broadcast_to(np.float32([dx, dy]), (h, w, 2)).copy()


@pytest.mark.parametrize(
    "method,preset,scale",
    [
        ("dis", "medium", 1.0),
        ("dis", "medium", 0.5),
        ("dis", "ultrafast", 1.0),
        ("farneback", "fast", 1.0),
    ],
)
def test_flow_recovers_translation(method, preset, scale):
    shift = (2.5, -1.5)
    size = 160 if scale < 1 else 96  # big enough that the estimator really shrinks it
    prev, cur = shifted_pair(shift, size=size)
    flow = FlowEstimator(method, preset, scale)(cur, prev)
    assert flow.shape == (size, size, 2) and flow.dtype == np.float32
    inner = flow[12:-12, 12:-12]
    assert np.allclose(np.median(inner.reshape(-1, 2), axis=0), shift, atol=0.3)
    # The previous frame warped along the flow reproduces the current one.
    err = np.abs(warp(prev, flow).astype(np.float32) - cur)[12:-12, 12:-12].mean()
    assert err < 3.0, err
    assert np.abs(prev.astype(np.float32) - cur)[12:-12, 12:-12].mean() > 4 * err


def test_pair_returns_forward_and_backward_flow():
    prev, cur = shifted_pair((2.0, 1.0))
    forward, backward = FlowEstimator(scale=1.0).pair(cur, prev)
    assert np.allclose(np.median(forward[12:-12, 12:-12].reshape(-1, 2), 0), (2, 1), atol=0.3)
    assert np.allclose(np.median(backward[12:-12, 12:-12].reshape(-1, 2), 0), (-2, -1), atol=0.3)


def test_warp_integer_shift_dtypes_and_channels():
    img = np.arange(8 * 10 * 3, dtype=np.uint8).reshape(8, 10, 3)
    flow = const_flow(8, 10, 2, 1)
    out = warp(img, flow)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert np.array_equal(out[:-1, :-2], img[1:, 2:])  # sampled at (x + 2, y + 1)
    assert np.array_equal(out[:, -1], out[:, -2])  # border replicated
    as_float = warp(img.astype(np.float32) / 255, flow)
    assert as_float.dtype == np.float32 and np.allclose(as_float * 255, out, atol=1e-3)
    many = np.random.default_rng(0).random((8, 10, 7))
    assert warp(many, flow).shape == (8, 10, 7)
    assert warp(img[..., :1], flow).shape == (8, 10, 1)
    assert warp(img[..., 0].astype(np.int32), flow).dtype == np.int32
    assert np.array_equal(warp(img, np.zeros((8, 10, 2), np.float32)), img)


def test_consistency_mask_exact_flows_flag_out_of_view():
    flow = const_flow(20, 30, 3, 0)
    mask = consistency_mask(flow, -flow, soft=False)
    assert mask.dtype == np.float32 and mask.shape == (20, 30)
    assert mask[:, :26].min() == 1.0  # consistent and still inside the previous frame
    assert mask[:, 27:].max() == 0.0  # points past the right edge: new content
    assert consistency_mask(flow, flow, soft=False).max() == 0.0  # w + v = 2w: inconsistent


def moving_square(x0, size=96, seed=5):
    frame = texture(size, seed)
    frame[30:60, x0 : x0 + 30] = texture(size, seed + 1, tint=(1.0, 0.4, 0.2))[30:60, :30]
    return frame


def test_consistency_mask_flags_disoccluded_strip():
    prev, cur = moving_square(24), moving_square(36)  # square moves 12 px right
    forward, backward = FlowEstimator(scale=1.0).pair(cur, prev)
    hard = consistency_mask(forward, backward, soft=False)
    soft = consistency_mask(forward, backward)
    strip = (slice(34, 56), slice(25, 34))  # background that the square uncovered
    background = (slice(70, 90), slice(10, 80))
    assert hard[strip].mean() < 0.3, hard[strip].mean()
    assert hard[background].mean() > 0.9
    assert soft[strip].mean() < 0.2 and soft[background].mean() > 0.85
    assert soft.min() >= 0.0 and soft.max() <= 1.0
    # The soft mask only ever shrinks the reliable region (and feathers it).
    assert (soft <= hard + 1e-6).all()


def test_motion_boundary_criterion_adds_unreliable_pixels():
    flow = np.zeros((32, 32, 2), np.float32)
    flow[:, 16:, 0] = 4.0  # a sharp motion edge, consistent backward flow
    backward = -warp(flow, flow)
    plain = consistency_mask(flow, backward, soft=False)
    with_edges = consistency_mask(flow, backward, soft=False, motion_boundaries=True)
    assert with_edges.sum() < plain.sum()
    assert with_edges[:, 15:17].max() == 0.0


def run_feedback(drift_guard, frames=120, mode="blend"):
    """Carry a fake brightening, contrast-raising dream through many frames.

    The scene pans 1 px per frame (exact flow); returns the mean and std offsets
    of the last start image from the current input frame.
    """
    base = texture(64 + frames, 7, sigma=3.0).astype(np.float32) * 0.6 + 50
    flow = const_flow(48, 48, -1, 0)  # cur(x) = prev(x - 1)
    mask = consistency_mask(flow, -flow)
    prev_out = prev_in = None
    for t in range(frames):
        frame = base[8:56, t : t + 48].astype(np.uint8)
        if prev_out is None:
            start = frame.astype(np.float32)
        else:
            start = dream_start(
                frame,
                warp(prev_out, flow),
                mask,
                0.9,
                warped_prev_in=warp(prev_in, flow),
                mode=mode,
                drift_guard=drift_guard,
            )
        mean = start.mean((0, 1))
        dream = (start - mean) * 1.05 + mean + np.float32([6.0, 3.0, -2.0])
        prev_out, prev_in = np.clip(dream, 0, 255).astype(np.uint8), frame
    offset = np.abs(start.mean((0, 1)) - frame.mean((0, 1))).max()
    return offset, start.std() / frame.astype(np.float32).std()


@pytest.mark.parametrize("mode", ["blend", "residual"])
def test_drift_guard_bounds_colour_drift(mode):
    guarded_offset, guarded_contrast = run_feedback(0.25, mode=mode)
    free_offset, free_contrast = run_feedback(0.0, mode=mode)
    assert guarded_offset < 15.0, guarded_offset
    assert guarded_contrast < 1.25, guarded_contrast
    assert free_offset > 25.0, free_offset  # without the guard the dream's bias piles up
    assert free_contrast > 1.5, free_contrast


def test_dream_start_blend_and_residual_formulas():
    frame = np.full((16, 16, 3), 100, np.uint8)
    carried = np.full((16, 16, 3), 200, np.uint8)
    prev_in = np.full((16, 16, 3), 180, np.uint8)
    mask = np.ones((16, 16), np.float32)
    mask[:, :8] = 0.0
    out = dream_start(frame, carried, mask, 0.75, drift_guard=0.0)
    assert out.dtype == np.float32
    assert np.allclose(out[:, 8:], 175) and np.allclose(out[:, :8], 100)
    res = dream_start(
        frame, carried, mask, 0.5, warped_prev_in=prev_in, mode="residual", drift_guard=0
    )
    assert np.allclose(res[:, 8:], 110) and np.allclose(res[:, :8], 100)


def test_temporal_blend():
    new = np.full((12, 12, 3), 40, np.uint8)
    old = np.full((12, 12, 3), 240, np.uint8)
    mask = np.zeros((12, 12), np.float32)
    mask[6:] = 1.0
    out = temporal_blend(new, old, mask, 0.5)
    assert out.dtype == np.uint8
    assert (out[:6] == 40).all() and (out[6:] == 140).all()
    assert (temporal_blend(new, old, mask, 0.0) == new).all()


def test_scene_cut_unrelated_vs_shifted():
    estimator = FlowEstimator()
    prev, cur = shifted_pair((3.0, 2.0))
    _, mask = estimator.flow_and_mask(cur, prev)
    assert not is_scene_cut(prev, cur, mask)
    motion = measure_motion(estimator, cur, prev)
    assert not motion.cut and np.array_equal(motion.mask, mask)
    # Same statistics, unrelated content: only the flow can tell.
    other = texture(96, 11)
    _, mask = estimator.flow_and_mask(other, prev)
    assert mask.mean() < 0.3 and is_scene_cut(prev, other, mask)
    # A new colour palette is a cut even where the mask is (artificially) fine.
    tinted = texture(96, 12, tint=(1.0, 0.6, 0.3))
    assert histogram_distance(prev, tinted) > 0.35
    assert is_scene_cut(prev, tinted, np.ones((96, 96), np.float32))


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: FlowEstimator("lucas"), "'lucas'"),
        (lambda: FlowEstimator(preset="slow"), "'slow'"),
        (lambda: FlowEstimator(scale=0.0), "scale must be in"),
        (
            lambda: FlowEstimator()(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)),
            "8x8",
        ),
        (
            lambda: FlowEstimator()(np.zeros((32, 32), np.uint8), np.zeros((32, 32), np.uint8)),
            "HxWx3",
        ),
        (
            lambda: FlowEstimator()(
                np.zeros((32, 32, 3), np.uint8), np.zeros((32, 30, 3), np.uint8)
            ),
            "differ",
        ),
        (lambda: FlowEstimator()(*[np.zeros((32, 32, 3), np.float32)] * 2), "uint8"),
        (lambda: warp(np.zeros((4, 4)), np.zeros((4, 5, 2), np.float32)), "differ in size"),
        (lambda: consistency_mask(np.zeros((4, 4, 3)), np.zeros((4, 4, 2))), "HxWx2"),
        (lambda: dream_start(*_blend_args(), 1.5), "blend must be in"),
        (lambda: dream_start(*_blend_args(), 0.5, mode="residual"), "warped_prev_in"),
        (lambda: dream_start(*_blend_args(), 0.5, mode="mix"), "'mix'"),
        (lambda: temporal_blend(*_blend_args(), -0.1), "temporal weight"),
    ],
)
def test_bad_input_raises_input_error(call, message):
    with pytest.raises(InputError, match=message):
        call()


def _blend_args():
    frame = np.zeros((16, 16, 3), np.uint8)
    return frame, frame, np.ones((16, 16), np.float32)


def test_cubic_warp_keeps_fine_detail_that_repeated_bilinear_warps_blur():
    rng = np.random.default_rng(3)
    detail = rng.normal(0, 1, (48, 48)).astype(np.float32)
    there, back = const_flow(48, 48, 0.5, 0.0), const_flow(48, 48, -0.5, 0.0)
    kept = {}
    for cubic in (False, True):
        image = detail
        for _ in range(4):  # half a pixel right, then back, twice: a still scene, carried
            image = warp(warp(image, there, cubic), back, cubic)
        kept[cubic] = np.corrcoef(image[4:-4, 4:-4].ravel(), detail[4:-4, 4:-4].ravel())[0, 1]
    assert kept[True] > kept[False] + 0.1, kept
    # Same integer shift, any kind: plain moves.
    shift = const_flow(48, 48, 2.0, 0.0)
    assert np.allclose(warp(detail, shift, True)[:, :40], detail[:, 2:42], atol=1e-4)
