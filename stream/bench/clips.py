"""The clips and renders that the temporal benches judge (issues 12, 20).

Real camera footage (see ``samples/LICENSE.md``): ``samples/bikes.mp4``
(250 frames, 640x272, six shots) and ``samples/carphone.mp4`` (one shot of
120 frames, 176x144, a person talking in a moving car). A long clip is a shot
played forward and back (:func:`ping_pong`), so that its last frames show the
same inputs as its first. Frames are uint8 HxWx3 **RGB**, held in memory.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from dreamstream.stream.bench import coherence as C
from dreamstream.stream.bench import referee as R
from dreamstream.stream.bench.warp_error import REAL, SAMPLES, SHOT, iter_frames

__all__ = ["CARPHONE", "REAL", "SAMPLES", "SHOT", "carphone_clip", "judge", "long_clip"]

CARPHONE = SAMPLES / "carphone.mp4"
DREAM_SIZE = (320, 136)


def _small(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def ping_pong(frames: list[np.ndarray], legs: int) -> list[np.ndarray]:
    """``frames`` played forward, then back, ``legs`` times: ``legs * (n - 1) + 1`` frames.

    With an even ``legs`` the clip ends where it started, so its first and
    last windows show the same inputs.
    """
    out = [frames[0]]
    for leg in range(legs):
        out += frames[1:] if leg % 2 == 0 else frames[-2::-1]
    return out


def long_clip(legs: int) -> list[np.ndarray]:
    """The real clip's longest shot at 320x136, played back and forth (see :func:`ping_pong`)."""
    shot = itertools.islice(iter_frames(REAL), *SHOT)
    return ping_pong([_small(f, DREAM_SIZE) for f in shot], legs)


def render(frames, mode: str, **settings) -> list[np.ndarray]:
    """Our pipeline's outputs for in-memory ``frames`` (see ``dreamstream.stream.api``)."""
    from dreamstream.stream.api import render as api_render

    return list(api_render(frames, mode, **settings))


def carphone_clip(legs: int) -> list[np.ndarray]:
    """The carphone shot (one shot, 120 frames, 176x144) played back and forth."""
    return ping_pong(list(iter_frames(CARPHONE)), legs)


def judge(inputs, runs: dict, window: int) -> dict:
    """Every run's measures under the clip's referee and, labelled, the renderer's own flow."""
    referee, scores, skipped = R.referee_for(inputs)
    ref = C.pair_errors(inputs, runs, referee)
    own = C.pair_errors(inputs, runs, R.OwnFlow(), ts=ref.ts)
    rows = {name: C.quality(inputs, outs, name, (ref, own), window) for name, outs in runs.items()}
    return {
        "referee": referee.name,
        "candidates": scores,
        "not_available": skipped,
        "floor": ref.mean_floor(),
        "floor_own_flow": own.mean_floor(),
        "shots": C.shots(len(inputs), ref.cuts),
        "rows": rows,
    }
