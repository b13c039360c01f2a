"""What is carried from one frame to the next: dream starts, style blends, scene cuts.

Conventions are those of :mod:`dreamstream.core.flow`: frames ``uint8``
``HxWx3`` **RGB** 0-255, float images ``float32`` RGB 0-255, flow ``HxWx2``
(x, y) pixels **current -> previous**, masks ``HxW`` float32 in [0, 1] with
1 = reliable. Everything here is stateless; the caller owns the previous
frames (``dreamstream.stream.carry``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.flow import FlowEstimator, _check_pair, consistency_mask
from dreamstream.core.params import CARRY_MODES

DREAM_MODES = CARRY_MODES
DEFAULT_DRIFT_GUARD = 0.25
# The scale below which a carried dream may differ from the current frame: the
# blur of the fidelity measure (core.measures.fidelity), sigma = width / 80.
ANCHOR_SIGMA_FRACTION = 1.0 / 80.0


def _check_unit(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise InputError(f"{name} must be in [0, 1], got {value}")
    return value


def _as_float(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


def _mask3(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    if mask.shape != like.shape[:2]:
        raise InputError(f"mask {mask.shape} must be HxW matching the frame {like.shape[:2]}")
    return np.asarray(mask, dtype=np.float32)[..., None]


def match_colour_stats(image: np.ndarray, reference: np.ndarray, strength: float) -> np.ndarray:
    """Pull ``image``'s per-channel mean and std toward ``reference``'s.

    Args:
        image: HxWx3 float32 RGB 0-255, the image to correct.
        reference: HxWx3 RGB 0-255 whose colour statistics are the target.
        strength: 0 leaves ``image`` as is, 1 matches mean and std exactly.

    Returns:
        HxWx3 float32 RGB, not clipped.
    """
    if strength <= 0.0:
        return image
    mu_i, sd_i = _channel_stats(image)
    mu_r, sd_r = _channel_stats(reference)
    mu_t = mu_i + strength * (mu_r - mu_i)
    sd_t = sd_i + strength * (sd_r - sd_i)
    gain = sd_t / np.maximum(sd_i, 1e-3)
    out = image * gain  # (image - mu_i) * gain + mu_t, in two passes
    out += mu_t - mu_i * gain
    return out.astype(np.float32, copy=False)


def _channel_stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of an HxWx3 image, as float32 vectors.

    OpenCV does it in one pass; NumPy's ``std`` over two axes took 20-30 ms
    a 1080p frame, on the model thread of every carried dream frame.
    """
    mean, std = cv2.meanStdDev(np.ascontiguousarray(image))
    return mean.ravel().astype(np.float32), std.ravel().astype(np.float32)


def anchor_low_frequencies(
    start: np.ndarray, frame: np.ndarray, anchor: float | np.ndarray, sigma: float
) -> np.ndarray:
    """Give ``start`` the current frame's low frequencies (and so its colours), by ``anchor``.

    ``start + anchor * G_sigma * (frame - start)``: with ``anchor = 1`` only the
    detail finer than ``sigma`` survives from what was carried, so a dream fed
    back frame after frame cannot move the scene's light, shade and colour
    away from the camera's (they are re-read from each new frame), while its
    patterns, which live at finer scales, are still carried.

    Args:
        start: HxWx3 float32 RGB 0-255, modified in place and returned.
        frame: the current input, HxWx3 RGB 0-255.
        anchor: in [0, 1], one share for the whole picture or an HxWx1 map of
            shares; 0 returns ``start`` unchanged.
        sigma: the Gaussian's standard deviation in pixels.
    """
    if np.max(anchor) <= 0.0:
        return start
    low = cv2.GaussianBlur(_as_float(frame) - start, (0, 0), sigmaX=sigma, sigmaY=sigma)
    low *= anchor
    start += low
    return start


def dream_start(
    frame: np.ndarray,
    warped_prev_out: np.ndarray,
    mask: np.ndarray,
    blend: float,
    *,
    warped_prev_in: np.ndarray | None = None,
    mode: str = "blend",
    drift_guard: float = DEFAULT_DRIFT_GUARD,
    anchor: float = 0.0,
) -> np.ndarray:
    """The image a dream of frame t starts from, carrying the previous dream forward.

    ``mode="blend"``: ``blend * warped_prev_out + (1 - blend) * frame``.
    ``mode="residual"``: only what the dream added is carried:
    ``frame + blend * (warped_prev_out - warped_prev_in)`` (the approach of
    DeepDreamAnim), so the start keeps the current frame's own pixels.

    Feeding each output back this way lets whatever the dream adds on every
    frame (a brightening, a colour cast) pile up over hundreds of frames; the
    drift guard pulls the start's per-channel mean and std back toward the
    current frame's by ``drift_guard`` each frame, and ``anchor`` replaces that
    share of the start's low frequencies by the current frame's
    (:func:`anchor_low_frequencies`, sigma = width / 80), so that the scene
    cannot erode under the carried dream.

    Where the flow is unreliable (occlusions, motion blur) the warped dream
    belongs to something else, so the mask raises the anchor there, up to 1
    where the mask is 0: the frame's own shapes and colours replace the carried
    ones, while the carried fine texture stays as a start for the ascent (from
    the bare frame, the few steps of a carried frame left such regions all but
    undreamt for many frames).

    Args:
        frame: current input frame, HxWx3 RGB 0-255 (uint8 or float).
        warped_prev_out: previous output warped to this frame, HxWx3 RGB 0-255.
        mask: HxW float32 in [0, 1], 1 = reliable.
        blend: weight of the carried dream, in [0, 1].
        warped_prev_in: previous *input* warped to this frame; needed by "residual".
        mode: "blend" or "residual".
        drift_guard: strength in [0, 1] of the colour statistics correction.
        anchor: share in [0, 1] of the low frequencies taken from ``frame`` where
            the flow is reliable.

    Returns:
        HxWx3 float32 RGB, 0-255.
    """
    _check_pair(frame, "frame", warped_prev_out, "warped previous output")
    if mode not in DREAM_MODES:
        raise InputError(f"dream start mode must be one of {', '.join(DREAM_MODES)}, got {mode!r}")
    blend = _check_unit(blend, "blend")
    drift_guard = _check_unit(drift_guard, "drift_guard")
    anchor = _check_unit(anchor, "anchor")
    unreliable = 1.0 - _mask3(mask, frame)
    cur = _as_float(frame)
    carried = _as_float(warped_prev_out)
    if mode == "residual":
        if warped_prev_in is None:
            raise InputError("dream start mode 'residual' needs warped_prev_in")
        _check_pair(frame, "frame", warped_prev_in, "warped previous input")
        change = carried - _as_float(warped_prev_in)  # carried - cur, in residual mode
    else:
        change = carried - cur
    change *= blend  # in place: a 1080p frame is 25 MB a temporary
    change += cur
    shares = unreliable * (1.0 - anchor) + anchor
    start = anchor_low_frequencies(change, cur, shares, frame.shape[1] * ANCHOR_SIGMA_FRACTION)
    start = match_colour_stats(start, cur, drift_guard)
    return np.clip(start, 0.0, 255.0, out=start)


def temporal_blend(
    stylised: np.ndarray, warped_prev_out: np.ndarray, mask: np.ndarray, weight: float
) -> np.ndarray:
    """Style mode: mix the stylised frame with the warped previous output.

    ``out = stylised + weight * mask * (warped_prev_out - stylised)``: where the
    flow is reliable the previous output holds the texture still; elsewhere
    the fresh stylisation shows.

    Args:
        stylised: the current frame stylised, HxWx3 RGB 0-255 (uint8 or float).
        warped_prev_out: previous output warped to this frame, HxWx3 RGB 0-255.
        mask: HxW float32 in [0, 1], 1 = reliable.
        weight: the ``temporal`` weight in [0, 1]; 0 turns coherence off.

    Returns:
        HxWx3 uint8 RGB.
    """
    _check_pair(stylised, "stylised frame", warped_prev_out, "warped previous output")
    alpha = _check_unit(weight, "temporal weight") * _mask3(mask, stylised)
    new = _as_float(stylised)
    out = new + alpha * (_as_float(warped_prev_out) - new)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# The style's still-scene hold (issue 20). Where the scene stands still, a blend
# in time still lets per-frame style's texture crawl through: each frame the
# warp resamples the held texture along a flow that is never exactly zero, and
# the network repaints it a little differently. So where standing still explains
# the input about as well as the flow does, the previous output is copied
# unwarped and carried with a larger weight: the one whose remainder is
# (1 - weight) ** HOLD_POWER (0.8 -> 0.95; 0 stays 0, so --temporal 0 still
# turns coherence off).
HOLD_POWER = 1.86
# The box (px) over which the input's residuals are averaged before they are compared.
STILL_BOX = 7
# The least noise level (0-255) assumed: sensor and coding noise, quantisation.
STILL_FLOOR = 2.0


def _grey(image: np.ndarray) -> np.ndarray:
    """Luminance of an RGB image as float32 0-255 (OpenCV's BT.601 weights)."""
    grey = cv2.cvtColor(np.ascontiguousarray(image, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
    return grey.astype(np.float32)


def stillness(frame: np.ndarray, prev_frame: np.ndarray, warped_prev_in: np.ndarray) -> np.ndarray:
    """Where the scene stands still, judged from the input alone: 0 (moving) to 1 (still).

    Two explanations of the current frame are compared, each by its mean
    absolute luminance residual over a ``STILL_BOX`` box: standing still (the
    previous frame as it is) and the flow (the previous frame warped). The
    noise level is the median residual the flow leaves over the frame, at
    least ``STILL_FLOOR`` levels. A pixel is still (1) where standing still
    leaves at most one noise level, falling to 0 at two, and only as far as
    it explains the input nearly as well as the flow (within a noise level).

    Args:
        frame, prev_frame: the current and previous input, uint8 HxWx3 RGB.
        warped_prev_in: the previous input warped to this frame along the
            flow (current -> previous), uint8 HxWx3 RGB.

    Returns:
        HxW float32 in [0, 1].
    """
    _check_pair(frame, "frame", prev_frame, "previous frame")
    _check_pair(frame, "frame", warped_prev_in, "warped previous input")
    cur = _grey(frame)
    box = (STILL_BOX, STILL_BOX)
    moved = cv2.blur(np.abs(cur - _grey(warped_prev_in)), box)
    stood = cv2.blur(np.abs(cur - _grey(prev_frame)), box)
    noise = max(STILL_FLOOR, float(np.median(moved)))
    still = np.clip((2.0 * noise - stood) / noise, 0.0, 1.0)
    still *= np.clip((moved + noise - stood) / noise, 0.0, 1.0)
    return still


# The dream's second witness of a good warp (issue 20). The flow's forward-backward
# check distrusts whatever its backward flow disagrees on; on fast, motion-blurred
# footage (bikes' traffic shot) that is a tenth of the pixels an accurate referee
# flow finds reliable, and the dream regrown there each frame flickers like a fresh
# one. Where the previous input warped along the flow matches the current frame,
# the warp brought the right content, so the carried dream may be trusted there:
# fully within AGREE_LEVELS noise levels of luminance residual, not at all at twice
# that. On the traffic shot (first 40 frames, equal strength) the carry's excess
# warping error fell from 0.29x to 0.23x (1 level: 0.25x, 3: 0.22x with less
# fidelity) of a fresh dream per frame's.
AGREE_LEVELS = 2.0
# Every AGREE_STRIDE-th residual in each direction is enough for the median (the
# residuals are box-averaged already); the full median took ~30 ms a 1080p frame.
AGREE_STRIDE = 4


def warp_agreement(
    frame: np.ndarray, warped_prev_in: np.ndarray, levels: float = AGREE_LEVELS
) -> np.ndarray:
    """How well the previous input warped along the flow explains ``frame``: 0 (not) to 1.

    The mean absolute luminance residual over a ``STILL_BOX`` box, against a
    noise level (the median residual over the frame, at least ``STILL_FLOOR``):
    1 up to ``levels`` noise levels, falling to 0 at ``2 * levels``. It says
    nothing about occlusion by similar colours, so it only adds trust to a
    flow's consistency mask (``np.maximum``), never replaces it.

    Args:
        frame: the current input, uint8 HxWx3 RGB.
        warped_prev_in: the previous input warped to it along the flow
            (current -> previous), uint8 HxWx3 RGB.
        levels: noise levels of residual still counted a full match (> 0).

    Returns:
        HxW float32 in [0, 1], 1 = the warp matches.
    """
    _check_pair(frame, "frame", warped_prev_in, "warped previous input")
    if not levels > 0:
        raise InputError(f"levels must be > 0, got {levels}")
    residual = cv2.blur(np.abs(_grey(frame) - _grey(warped_prev_in)), (STILL_BOX, STILL_BOX))
    sample = residual[::AGREE_STRIDE, ::AGREE_STRIDE]
    width = levels * max(STILL_FLOOR, float(np.median(sample)))
    return np.clip(2.0 - residual / width, 0.0, 1.0)


def held_weight(weight: float) -> float:
    """The carry weight where the scene stands still: ``1 - (1 - weight) ** HOLD_POWER``."""
    return 1.0 - (1.0 - _check_unit(weight, "temporal weight")) ** HOLD_POWER


def light_change(frame: np.ndarray, prev_frame: np.ndarray, still: np.ndarray) -> np.ndarray:
    """The mean change of each channel (levels) from the previous frame on the still pixels.

    A held texture takes it on, so a slow change of light (a cloud, a
    camera's exposure) is followed at once rather than only as fast as the
    blend lets the fresh stylisation in. Zeros where nothing is still.
    """
    total = float(still.sum())
    if total < 1.0:
        return np.zeros(3, np.float32)
    diff = _as_float(frame) - _as_float(prev_frame)
    return np.tensordot(still, diff, axes=([0, 1], [0, 1])).astype(np.float32) / total


def held_blend(
    stylised: np.ndarray,
    warped_prev_out: np.ndarray,
    prev_out: np.ndarray,
    mask: np.ndarray,
    weight: float,
    still: np.ndarray,
    light: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`temporal_blend` that holds the texture where the scene stands still.

    Where ``still`` is 1 the previous output is carried as it is (no warp,
    so no resampling makes it crawl), counted reliable whatever the flow's
    mask says, with the weight :func:`held_weight`, and shifted by ``light``;
    where it is 0 this is :func:`temporal_blend`; in between, a mix.

    Args:
        stylised: the current frame stylised, HxWx3 RGB 0-255.
        warped_prev_out: previous output warped to this frame, HxWx3 RGB 0-255.
        prev_out: previous output as it is, HxWx3 RGB 0-255.
        mask: HxW float32 in [0, 1], 1 = reliable (the flow's).
        weight: the ``temporal`` weight in [0, 1]; 0 turns coherence off.
        still: HxW float32 in [0, 1], from :func:`stillness`.
        light: per-channel change (levels) to add to the held texture
            (:func:`light_change`); None adds nothing.

    Returns:
        HxWx3 uint8 RGB.
    """
    _check_pair(stylised, "stylised frame", warped_prev_out, "warped previous output")
    _check_pair(stylised, "stylised frame", prev_out, "previous output")
    weight = _check_unit(weight, "temporal weight")
    s = _mask3(still, stylised)
    carried = _as_float(warped_prev_out)
    carried += s * (_as_float(prev_out) - carried)
    if light is not None:
        carried += s * np.asarray(light, np.float32)
    alpha = np.maximum(_mask3(mask, stylised), s) * (weight + (held_weight(weight) - weight) * s)
    new = _as_float(stylised)
    out = new + alpha * (carried - new)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def histogram_distance(a: np.ndarray, b: np.ndarray, bins: int = 32) -> float:
    """Colour histogram change between two RGB uint8 frames, 0 (same) to 1 (disjoint).

    The mean over R, G, B of the Hellinger (Bhattacharyya) distance of
    ``bins``-bin histograms; it ignores where things are, so motion barely
    moves it while a change of scene does.
    """
    dists = []
    for c in range(3):
        ha, hb = (
            cv2.calcHist([np.ascontiguousarray(x[..., c])], [0], None, [bins], [0, 256])
            for x in (a, b)
        )
        dists.append(cv2.compareHist(ha, hb, cv2.HISTCMP_BHATTACHARYYA))
    return float(np.mean(dists))


def is_scene_cut(
    prev_frame: np.ndarray,
    cur_frame: np.ndarray,
    mask: np.ndarray,
    *,
    min_reliable: float = 0.3,
    max_hist_distance: float = 0.35,
) -> bool:
    """Whether the temporal state should be reset between these two input frames.

    A cut is declared when less than ``min_reliable`` of the mask is reliable
    (the flow found no consistent correspondence), or when the colour
    histograms differ by more than ``max_hist_distance`` (see
    :func:`histogram_distance`).

    Args:
        prev_frame, cur_frame: uint8 HxWx3 RGB input frames.
        mask: their consistency mask, HxW float32 in [0, 1].
    """
    _check_pair(prev_frame, "previous frame", cur_frame, "current frame")
    _mask3(mask, cur_frame)
    if float(np.mean(mask)) < min_reliable:
        return True
    return histogram_distance(prev_frame, cur_frame) > max_hist_distance


@dataclass(frozen=True)
class Motion:
    """What the flow between two consecutive input frames says.

    Attributes:
        flow: ``HxWx2`` float32 (x, y), current -> previous input.
        mask: ``HxW`` float32 in [0, 1], 1 = reliable (soft consistency mask).
        cut: a scene cut: nothing should be carried across it.
    """

    flow: np.ndarray
    mask: np.ndarray
    cut: bool


def measure_motion(estimator: FlowEstimator, cur: np.ndarray, prev: np.ndarray) -> Motion:
    """Flow, consistency mask and scene-cut decision for input frames ``prev`` -> ``cur``.

    The one place that turns two input frames (uint8 HxWx3 RGB) into what a
    temporal carry needs; the file pipeline and live mode both call it.
    """
    forward, backward = estimator.pair(cur, prev)
    mask = consistency_mask(forward, backward)
    return Motion(forward, mask, is_scene_cut(prev, cur, mask))
