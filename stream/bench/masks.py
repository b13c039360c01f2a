"""The person mask: its cost per frame at 640x480 and the steadiness of its edge.

Needs the selfie segmenter in the cache (``dreamstream fetch segmenter``).

- Cost: CPU milliseconds (user + sys of this process, which load disturbs
  less than wall time) per 640x480 frame of the segmenter (both variants),
  of carrying the mask along the flow and of compositing, beside the DIS flow
  the carry measures anyway, side by side in one run.
- Edge steadiness on a real clip with people (``$DREAMSTREAM_MASK_CLIP``, else
  ``samples/bikes.mp4``): the static flicker of DESIGN.md (on pixels whose
  blurred input luminance moves less than 1.5 levels, the mean absolute
  change of the output's luminance, minus the input's own) of a composite
  that shows the inverted frame where the mask says "person", so every wobble
  of the edge shows; for the fresh mask of each frame (``keep`` 0) and for
  masks carried along the flow with more and more ``keep``. Beside it the
  lag: the mean distance of the carried mask from the fresh one, what
  steadiness costs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core import masks
from dreamstream.core.flow import FlowEstimator
from dreamstream.core.temporal import measure_motion
from dreamstream.stream.io import open_source
from dreamstream.stream.machine import load_framework, native_quiet
from dreamstream.stream.weights.segmenter import Segmenter, find_model

KEEPS = (0.0, 0.5, 0.7, 0.85)
STATIC_LEVELS = 1.5  # DESIGN.md's static flicker: input luminance moving less than this
BLUR_SIGMA = 1.0  # the input's luminance is blurred at 1 px before that test (sensor noise)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def static_flicker(outputs: list[np.ndarray], inputs: list[np.ndarray]) -> float:
    """DESIGN.md's static flicker of ``outputs`` minus the inputs' own (luminance levels)."""
    out_change, in_change = [], []
    for k in range(1, len(inputs)):
        a, b = (cv2.GaussianBlur(_luma(x), (0, 0), BLUR_SIGMA) for x in inputs[k - 1 : k + 1])
        static = np.abs(b - a) < STATIC_LEVELS
        if not static.any():
            continue
        out_change.append(np.abs(_luma(outputs[k]) - _luma(outputs[k - 1]))[static].mean())
        in_change.append(np.abs(_luma(inputs[k]) - _luma(inputs[k - 1]))[static].mean())
    return float(np.mean(out_change) - np.mean(in_change))


def _cpu_ms(fn, repeats: int) -> float:
    fn()  # warm
    begin = time.process_time()
    for _ in range(repeats):
        fn()
    return 1000 * (time.process_time() - begin) / repeats


def cost(repeats: int) -> dict:
    """CPU ms per 640x480 frame of each part, measured side by side."""
    frame = cv2.resize(cv2.imread(str(_samples() / "astronaut.jpg"))[..., ::-1], (640, 480))
    shifted = np.roll(frame, 3, axis=1)
    segmenters = {
        v: Segmenter(find_model(None, v == "landscape")) for v in ("landscape", "general")
    }
    estimator = FlowEstimator("dis", "medium")
    motion = measure_motion(estimator, shifted, frame)
    person = segmenters["landscape"](frame)
    return {
        "segmenter landscape (144x256)": _cpu_ms(lambda: segmenters["landscape"](frame), repeats),
        "segmenter general (256x256)": _cpu_ms(lambda: segmenters["general"](frame), repeats),
        "carry along the flow": _cpu_ms(
            lambda: masks.carry_mask(person, person, motion.flow, motion.mask), repeats
        ),
        "composite": _cpu_ms(lambda: masks.composite(255 - frame, frame, person), repeats),
        "flow (DIS medium, for scale)": _cpu_ms(
            lambda: measure_motion(estimator, shifted, frame), repeats
        ),
    }


def steadiness(clip: str, frames: int) -> dict:
    """Static flicker and lag of the masked composite for each ``keep`` on ``clip``."""
    with open_source(clip, frames=frames) as source:
        inputs = [f.image for f in source]
    landscape = inputs[0].shape[1] >= inputs[0].shape[0]
    seg = Segmenter(find_model(None, landscape))
    fresh = [seg(x) for x in inputs]
    estimator = FlowEstimator("dis", "medium")
    motions = [None] + [
        measure_motion(estimator, inputs[k], inputs[k - 1]) for k in range(1, len(inputs))
    ]
    results = {}
    for keep in KEEPS:
        mask, outputs, lag = None, [], []
        for k, x in enumerate(inputs):
            m = motions[k]
            carried = m is not None and not m.cut
            mask = masks.carry_mask(
                fresh[k],
                mask if carried else None,
                m.flow if carried else None,
                m.mask if carried else None,
                keep,
            )
            lag.append(float(np.abs(mask - fresh[k]).mean()))
            outputs.append(masks.composite(255 - x, x, mask))
        results[f"keep {keep}"] = {
            "static_flicker": round(static_flicker(outputs, inputs), 3),
            "lag": round(float(np.mean(lag)), 4),
        }
    return {"clip": clip, "frames": len(inputs), "size": inputs[0].shape[1::-1], **results}


def _samples() -> Path:
    return Path(__file__).resolve().parents[2] / "samples"


def run(quick: bool = False) -> dict:
    """Measure the mask's cost and its edge's steadiness."""
    load_framework()
    with native_quiet():
        results = {
            "cost_cpu_ms_640x480": {k: round(v, 2) for k, v in cost(3 if quick else 30).items()}
        }
        clip = os.environ.get("DREAMSTREAM_MASK_CLIP", str(_samples() / "bikes.mp4"))
        results["steadiness"] = steadiness(clip, 10 if quick else 120)
    results["table"] = _table(results)
    return results


def _table(results: dict) -> str:
    rows = ["| part | CPU ms per 640x480 frame |", "|---|---|"]
    rows += [f"| {k} | {v} |" for k, v in results["cost_cpu_ms_640x480"].items()]
    s = results["steadiness"]
    rows += ["", f"{s['clip']} ({s['frames']} frames, {s['size'][0]}x{s['size'][1]}):", ""]
    rows += ["| mask | static flicker (levels, minus the input's) | lag |", "|---|---|---|"]
    rows += [
        f"| {k} | {v['static_flicker']} | {v['lag']} |"
        for k, v in s.items()
        if k.startswith("keep")
    ]
    return "\n".join(rows)
