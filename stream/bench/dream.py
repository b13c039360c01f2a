"""Benchmark of the dream engine against a plain per-frame TensorFlow DeepDream.

The baseline is the algorithm of the TensorFlow DeepDream tutorial, written
here from its description: each step rolls the image by a random shift of up
to a tile, loops over tiles in a ``tf.function`` (each tile's gradient taken
with respect to the whole rolled image and summed), rolls back, divides by
the standard deviation; octaves just resize the dreamt image (no detail
re-injection). The engine runs twice: as shipped (``--precision auto``) and
forced to float32. All run on the same machine, backbone, layers, octaves,
tile and steps; the table gives frames per second, the ratio to the
baseline, dream strength (mean |output - input| / 255) and the peak resident
memory of one 4K step, each measured in a fresh process. Last, a video end
to end (:mod:`dreamstream.stream.bench.dreamvideo`): the flow-carried engine
against the tutorial per frame on real footage (samples/bikes.mp4).

Run: ``python -m dreamstream.stream.bench.dream [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from dreamstream.stream.machine import dream_compute, gpu_visible

BACKBONE, LAYER = "vgg16", "block4_conv3"
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "chelsea.jpg"
# (width, height) of the timed sizes and of the memory check; quick = smoke sizes.
FULL = {
    "sizes": [(320, 180), (1280, 720)],
    "frames": [3, 2],
    "octaves": 3,
    "steps": 2,
    "memory": (3840, 2160),
}
QUICK = {
    "sizes": [(96, 64), (160, 96)],
    "frames": [2, 1],
    "octaves": 2,
    "steps": 1,
    "memory": (256, 144),
}
STEP_SIZE = 2.0  # engine: mean |change| per step in 0-255 units
# The baseline divides by the std, not the mean |gradient|, so the same number
# moves pixels by another amount: run() rescales the baseline's step so that
# both dream equally strongly in one octave (with several octaves the
# baseline's strength also counts the detail its rescaling blurs away).
TILE = 512


def frame(width: int, height: int) -> np.ndarray:
    """The sample still resized to ``width`` x ``height``, uint8 RGB (a synthetic one if absent)."""
    import cv2

    bgr = cv2.imread(str(SAMPLE))
    if bgr is None:
        y, x = np.mgrid[0:300, 0:450] / 450.0
        rgb = np.stack([np.sin(9 * x), np.cos(7 * y), np.sin(5 * (x + y))], -1) * 90 + 128
        return cv2.resize(rgb.astype(np.uint8), (width, height), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


class TutorialDream:
    """Plain per-frame DeepDream following the TensorFlow tutorial (the baseline).

    Args:
        model: backbone model, float32 NHWC RGB 0-255 in, list of activations out.
        tile: tile side; rolls are up to one tile.
    """

    def __init__(self, model, tile: int = TILE):
        import tensorflow as tf

        self.tile = tile

        @tf.function(
            input_signature=(
                tf.TensorSpec([None, None, 3], tf.float32),
                tf.TensorSpec([2], tf.int32),
            )
        )
        def gradient(img, shift):
            rolled = tf.roll(img, shift, axis=[0, 1])
            total = tf.zeros_like(rolled)
            for y in tf.range(0, tf.shape(rolled)[0], tile):
                for x in tf.range(0, tf.shape(rolled)[1], tile):
                    with tf.GradientTape() as tape:
                        tape.watch(rolled)
                        acts = model(rolled[y : y + tile, x : x + tile][None], training=False)
                        acts = acts if isinstance(acts, list | tuple) else [acts]
                        loss = tf.add_n([tf.reduce_mean(a) for a in acts])
                    total += tape.gradient(loss, rolled)
            total = tf.roll(total, -shift, axis=[0, 1])
            return total / (tf.math.reduce_std(total) + 1e-8)

        self._gradient = gradient

    def __call__(self, image, octaves: int, steps: int, step_size: float, seed: int = 0):
        """Dream uint8 RGB ``image``; returns uint8 RGB of its size."""
        import tensorflow as tf

        from dreamstream.core.dream import octave_sizes

        rng = np.random.default_rng(seed)
        h, w = image.shape[:2]
        img = tf.constant(image, tf.float32)
        for size in reversed(octave_sizes(h, w, octaves, 1.4, 16)):
            img = tf.image.resize(img, size)
            for _ in range(steps):
                shift = rng.integers(-self.tile, self.tile, size=2).astype(np.int32)
                img = img + step_size * self._gradient(img, tf.constant(shift))
                img = tf.clip_by_value(img, 0.0, 255.0)
        return np.clip(np.rint(img.numpy()), 0, 255).astype(np.uint8)


def _engines(octaves: int, steps: int, baseline_step: list):
    """``{name: dream(image) -> image}``: the engine as shipped, in float32, and the baseline.

    "engine" computes as the product does on this machine (``--precision
    auto``, see :mod:`dreamstream.stream.machine`); "engine float32" forces
    float32. ``baseline_step`` is a one-item list, read at each call, so it
    can be recalibrated.
    """
    from dreamstream.core.dream import Dreamer, DreamParams
    from dreamstream.stream.machine import dream_compute
    from dreamstream.stream.weights.dream import load_backbone

    backbone = load_backbone(BACKBONE, layers=(LAYER,))
    params = DreamParams(octaves=octaves, steps=steps, step_size=STEP_SIZE, tile=TILE)
    tutorial = TutorialDream(backbone.model, TILE)
    return {
        "engine": Dreamer(backbone, LAYER, replace(params, **dream_compute("auto"))),
        "engine float32": Dreamer(backbone, LAYER, replace(params, **dream_compute("float32"))),
        "baseline": lambda image: tutorial(image, octaves, steps, baseline_step[0]),
    }


def _strength(out: np.ndarray, image: np.ndarray) -> float:
    return float(np.abs(out.astype(np.float32) - image).mean() / 255.0)


def _calibrate(steps: int, image: np.ndarray) -> float:
    """The baseline step size that dreams as strongly as the float32 engine, in one octave."""
    one = _engines(1, steps, [STEP_SIZE])
    engine, baseline = (_strength(one[k](image), image) for k in ("engine float32", "baseline"))
    return STEP_SIZE * engine / baseline


def time_size(engines: dict, image: np.ndarray, frames: int) -> dict:
    """Seconds per frame of each engine on ``image``, and its strength.

    One warm-up frame each compiles every shape this size needs; then the
    engines take turns, frame by frame, so that load from other processes
    falls on both alike, and the fastest frame of each counts.
    """
    outs = {name: dream(image) for name, dream in engines.items()}
    times: dict = {name: [] for name in engines}
    for _ in range(frames):
        for name, dream in engines.items():
            start = time.perf_counter()
            outs[name] = dream(image)
            times[name].append(time.perf_counter() - start)
    return {
        name: {
            "fps": 1.0 / min(times[name]),
            "seconds_per_frame": min(times[name]),
            "all_seconds": times[name],
            "strength": _strength(outs[name], image),
        }
        for name in engines
    }


def peak_memory(engine: str, width: int, height: int) -> dict:
    """Peak RSS of one octave, one step of ``engine`` on a ``width`` x ``height`` frame.

    Runs in a fresh process so that nothing else counts towards the peak.
    """
    module = "dreamstream.stream.bench.dream"
    cmd = [sys.executable, "-m", module, "--memory", engine, f"{width}x{height}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3000)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rss_mib(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process in MiB, from /proc.

    ``ru_maxrss`` would not do: Linux carries it over from the parent across exec.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def _memory_child(engine: str, size: str) -> None:
    width, height = (int(v) for v in size.split("x"))
    dream = _engines(1, 1, [STEP_SIZE])[engine]
    image = frame(width, height)
    loaded = _rss_mib("VmRSS")
    start = time.perf_counter()
    dream(image)
    seconds = time.perf_counter() - start
    peak = _rss_mib("VmHWM")
    print(json.dumps({"peak_rss_mib": peak, "loaded_rss_mib": loaded, "seconds": seconds}))


def run(quick: bool = False) -> dict:
    """Measure both implementations; JSON-able figures and a Markdown ``"table"``."""
    cfg = QUICK if quick else FULL
    baseline_step = [_calibrate(cfg["steps"], frame(*cfg["sizes"][0]))]
    engines = _engines(cfg["octaves"], cfg["steps"], baseline_step)
    rows = []
    for (width, height), frames in zip(cfg["sizes"], cfg["frames"], strict=True):
        image = frame(width, height)
        row = {"size": f"{width}x{height}", **time_size(engines, image, frames)}
        for name in engines:
            row[name]["vs_baseline"] = row[name]["fps"] / row["baseline"]["fps"]
        rows.append(row)
    video = _video(baseline_step[0], quick)
    mem_w, mem_h = cfg["memory"]
    memory = {name: peak_memory(name, mem_w, mem_h) for name in engines}
    result = {
        "subject": "dream",
        "backbone": BACKBONE,
        "layers": [LAYER],
        "octaves": cfg["octaves"],
        "steps": cfg["steps"],
        "tile": TILE,
        "step_size": {"engine": STEP_SIZE, "baseline": baseline_step[0]},
        "compute": {"engine": _compute("auto"), "engine float32": _compute("float32")},
        "device": "gpu" if gpu_visible() else "cpu",
        "sizes": rows,
        "memory": {"size": f"{mem_w}x{mem_h}", "octaves": 1, "steps": 1, **memory},
        "video": video,
    }
    result["table"] = _table(result)
    return result


def _video(step_size: float, quick: bool) -> dict:
    """The end-to-end video comparison (:mod:`dreamstream.stream.bench.dreamvideo`)."""
    from dreamstream.stream.bench import dreamvideo
    from dreamstream.stream.weights.dream import load_backbone

    tutorial = TutorialDream(load_backbone(BACKBONE, layers=(LAYER,)).model, TILE)
    return dreamvideo.run(LAYER, tutorial, step_size, quick=quick)


def _compute(precision: str) -> str:
    chosen = dream_compute(precision)
    return f"{chosen['precision']}{', XLA' if chosen['xla'] else ''}"


def _table(result: dict) -> str:
    lines = [
        f"DeepDream, {result['backbone']} {', '.join(result['layers'])}, "
        f"{result['octaves']} octaves x {result['steps']} steps, tile {result['tile']}, "
        f"{result['device'].upper()}; engine: {result['compute']['engine']}",
        "",
        "| size | implementation | frames/s | vs baseline | strength |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in result["sizes"]:
        for name in ("engine", "engine float32", "baseline"):
            r = row[name]
            lines.append(
                f"| {row['size']} | {name} | {r['fps']:.3f} | {r['vs_baseline']:.2f}x "
                f"| {r['strength']:.4f} |"
            )
    mem = result["memory"]
    lines += ["", f"Peak RSS, one octave, one step at {mem['size']}:", ""]
    lines += [
        "| implementation | peak RSS MiB | after loading MiB | seconds |",
        "| --- | --- | --- | --- |",
    ]
    for name in ("engine", "engine float32", "baseline"):
        m = mem[name]
        if "error" in m:
            lines.append(f"| {name} | failed: {m['error']} | | |")
        else:
            lines.append(
                f"| {name} | {m['peak_rss_mib']:.0f} | {m['loaded_rss_mib']:.0f} "
                f"| {m['seconds']:.1f} |"
            )
    lines += ["", result["video"]["table"]]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--memory", nargs=2, metavar=("ENGINE", "WxH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory:
        _memory_child(*args.memory)
        return
    result = run(quick=args.quick)
    if args.json:
        from dreamstream.stream.io import files

        files.write_atomic(Path(args.json), json.dumps(result, indent=2).encode())
    print(result["table"])


if __name__ == "__main__":
    main()
