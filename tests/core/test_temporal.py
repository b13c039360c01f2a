"""What is carried over time: the dream start's anchor, and where a warp can be trusted."""

import cv2
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.flow import consistency_mask, warp
from dreamstream.core.measures import fidelity
from dreamstream.core.temporal import anchor_low_frequencies, dream_start, warp_agreement
from tests.core.test_flow import const_flow, texture


def _blur(image, sigma):
    return cv2.GaussianBlur(np.asarray(image, np.float32), (0, 0), sigma)


def test_anchor_takes_low_frequencies_from_the_frame_and_keeps_fine_detail():
    frame = texture(80, 1, sigma=6.0).astype(np.float32)
    detail = np.random.default_rng(2).normal(0, 25, frame.shape).astype(np.float32)
    carried = 0.5 * frame + 90 + detail  # washed out and brighter, with new detail
    out = anchor_low_frequencies(carried.copy(), frame, 1.0, sigma=4.0)
    # Structure coarser than sigma comes from the frame (finer scales blend gradually).
    assert (
        np.abs(_blur(out, 12) - _blur(frame, 12)).mean()
        < 0.15 * np.abs(_blur(carried, 12) - _blur(frame, 12)).mean()
    )
    fine = out - _blur(out, 4)
    assert np.corrcoef(fine.ravel(), (detail - _blur(detail, 4)).ravel())[0, 1] > 0.9
    assert anchor_low_frequencies(carried.copy(), frame, 0.0, 4.0) == pytest.approx(carried)


def _feedback(anchor, frames=80):
    """A fake dream that brightens, tints and fades the scene, carried along a pan.

    Returns (mean colour offset of the last output from its input, its fidelity).
    """
    base = texture(48 + frames, 7, sigma=4.0)
    flow = const_flow(48, 48, -1, 0)  # cur(x) = prev(x - 1)
    mask = consistency_mask(flow, -flow)
    prev_out = None
    for t in range(frames):
        frame = base[:48, t : t + 48]
        start = frame.astype(np.float32)
        if prev_out is not None:
            start = dream_start(
                frame, warp(prev_out, flow), mask, 0.9, drift_guard=0.0, anchor=anchor
            )
        dream = 0.9 * start + 0.1 * 128 + np.float32([6.0, 3.0, -2.0])
        prev_out = np.clip(dream, 0, 255).astype(np.uint8)
    offset = np.abs(prev_out.mean((0, 1)) - frame.mean((0, 1))).max()
    return offset, fidelity(prev_out, frame)


def test_anchor_stops_a_carried_dream_from_eroding_the_scene():
    free_offset, free_fidelity = _feedback(0.0)
    anchored_offset, anchored_fidelity = _feedback(1.0)
    assert free_offset > 15.0  # without the anchor the tint piles up frame after frame
    assert anchored_offset < 8.0  # with it, only one frame's tint remains
    assert anchored_fidelity > 0.98 > free_fidelity


def test_anchor_out_of_range_is_refused():
    frame = texture(16, 3)
    with pytest.raises(InputError, match="anchor must be in"):
        dream_start(frame, frame, np.ones((16, 16), np.float32), 0.5, anchor=1.5)


def test_unreliable_regions_take_the_frames_shapes_and_keep_the_carried_texture():
    frame = texture(64, 4, sigma=6.0).astype(np.float32)
    detail = np.random.default_rng(5).normal(0, 20, frame.shape).astype(np.float32)
    carried = np.clip(255 - frame + detail, 0, 255)  # another scene, with dream-like detail
    mask = np.ones((64, 64), np.float32)
    mask[:, :32] = 0.0  # the flow found no match on the left
    start = dream_start(frame, carried, mask, 1.0, drift_guard=0.0, anchor=0.0)
    left, right = np.s_[8:56, 4:24], np.s_[8:56, 40:60]
    # Reliable: carried as is (anchor 0). Unreliable: the frame's shapes, the carried detail.
    assert np.abs(start[right] - carried[right]).max() < 1e-3
    sigma = 64 / 80
    assert np.corrcoef(_blur(start, 4)[left].ravel(), _blur(frame, 4)[left].ravel())[0, 1] > 0.9
    fine = (start - _blur(start, sigma))[left]
    assert np.corrcoef(fine.ravel(), (carried - _blur(carried, sigma))[left].ravel())[0, 1] > 0.9


def test_warp_agreement_trusts_a_matching_warp_and_not_an_occlusion():
    prev = texture(96, 6)
    cur = warp(prev, const_flow(96, 96, 1.5, 0.0))  # the scene moved 1.5 px left
    cur = np.clip(cur + np.random.default_rng(7).normal(0, 2, cur.shape), 0, 255)
    cur = cur.astype(np.uint8)
    cur[30:60, 30:60] = texture(30, 8)  # something new covers a square
    warped = warp(prev, const_flow(96, 96, 1.5, 0.0), cubic=True).astype(np.uint8)
    agree = warp_agreement(cur, warped)
    assert agree.shape == (96, 96) and agree.dtype == np.float32
    assert agree[10:20, 10:90].min() == 1.0  # the warp explains the input, noise and all
    assert agree[36:54, 36:54].max() == 0.0  # the covered square: nothing to carry there
    looser = warp_agreement(cur, warped, levels=20.0)
    assert looser[36:54, 36:54].mean() > agree[36:54, 36:54].mean()
    with pytest.raises(InputError, match="levels must be > 0"):
        warp_agreement(cur, warped, levels=0.0)
