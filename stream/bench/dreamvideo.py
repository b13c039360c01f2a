"""Dream video end to end: the flow-carried engine against the tutorial run per frame.

Both sides read the same clip at the same size, dream it with the same
backbone, layers, octaves and first-frame steps, and encode it to an H.264
file; only the dreaming differs. The engine runs the product's pipeline
(decode, flow, model and encode on their own threads) with the default
carry: later frames start from the previous dream warped along the flow and
take ``steps_next`` steps. The tutorial dreams every frame from scratch,
frame after frame on one thread. Each side compiles on one warm-up frame
first, so start-up is left out of both.

Figures: frames/s of each side from wall time and from the process's CPU
time (the second holds up better when other programs share the CPU), their
ratios, the dream strength of each (mean |output - input| / 255 over
all frames), which must not be bought by dreaming less, and the fidelity of
each (the scene's large structure kept, :func:`dreamstream.core.measures.fidelity`),
which must not be bought by carrying a dream that erases the scene.
"""

from __future__ import annotations

import dataclasses
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from dreamstream.stream.bench.warp_error import REAL, SHOT

FULL = {"width": 256, "frames": 32, "octaves": 4, "steps": 10}
QUICK = {"width": 96, "frames": 4, "octaves": 2, "steps": 1}


def _clock() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: user + system, all threads)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), use.ru_utime + use.ru_stime


def _open(cfg: dict):
    from dreamstream.stream.io import open_source

    # Real camera footage, from the start of its traffic shot.
    return open_source(REAL, start=SHOT[0], width=cfg["width"], frames=cfg["frames"])


def _sink(source, folder: str, name: str):
    from dreamstream.stream.io import open_sink, sink_options

    return open_sink(Path(folder) / f"{name}.mp4", **sink_options(source), overwrite=True)


def _quality(pairs: list) -> dict:
    from dreamstream.core import measures

    inputs, outputs = [i for i, _ in pairs], [o for _, o in pairs]
    return {
        "strength": measures.dream_strength(outputs, inputs),
        "fidelity": float(np.nanmean(measures.fidelity_per_frame(outputs, inputs))),
    }


class _Recorder:
    """A processor wrapper that keeps (input, output) pairs for the strength."""

    def __init__(self, processor):
        self.processor, self.pairs = processor, []

    def __getattr__(self, name):  # what the carry asks of the processor (cubic_carry, ...)
        return getattr(self.processor, name)

    def first(self, frame, index, **work):
        return self._keep(frame, self.processor.first(frame, index, **work))

    def next(self, frame, index, warped_out, mask, warped_in, **work):
        out = self.processor.next(frame, index, warped_out, mask, warped_in, **work)
        return self._keep(frame, out)

    def _keep(self, frame, out):
        self.pairs.append((frame, out))
        return out


def engine_side(settings, cfg: dict, folder: str) -> dict:
    """The product's pipeline on the clip; seconds exclude the warm-up frame."""
    from dreamstream.stream import pipeline
    from dreamstream.stream.processors import DreamProcessor

    processor = DreamProcessor(settings.dream_setup())
    with _open(cfg) as source:
        first = next(iter(source)).image
    processor.first(first, 0)  # compiles every octave size of the first frame
    processor.next(first, 1, first, np.ones(first.shape[:2], np.float32), first)
    recorder = _Recorder(processor)
    with _open(cfg) as source:
        sink = _sink(source, folder, "engine")
        wall, cpu = _clock()
        stats = pipeline.run(source, recorder, sink, flow=True)
        wall_end, cpu_end = _clock()
    return _figures(stats.frames, wall_end - wall, cpu_end - cpu, recorder.pairs)


def tutorial_side(tutorial, cfg: dict, step_size: float, folder: str) -> dict:
    """The tutorial per frame, decode and encode on the same thread; warm-up excluded."""
    with _open(cfg) as source:
        first = next(iter(source)).image
    tutorial(first, cfg["octaves"], 1, step_size)
    pairs = []
    with _open(cfg) as source:
        sink = _sink(source, folder, "tutorial")
        wall, cpu = _clock()
        for frame in source:
            out = tutorial(frame.image, cfg["octaves"], cfg["steps"], step_size, seed=frame.index)
            sink.write(dataclasses.replace(frame, image=out))
            pairs.append((frame.image, out))
        sink.close()
        wall_end, cpu_end = _clock()
    return _figures(len(pairs), wall_end - wall, cpu_end - cpu, pairs)


def _figures(frames: int, wall: float, cpu: float, pairs: list) -> dict:
    return {
        "frames": frames,
        "seconds": wall,
        "cpu_seconds": cpu,
        "fps": frames / wall,
        "fps_cpu": frames / cpu,
        **_quality(pairs),
    }


def run(layer: str, tutorial, step_size: float, quick: bool = False) -> dict:
    """Both sides on the real clip; JSON-able figures and a Markdown ``"table"``.

    Args:
        layer: the backbone layer both dream (VGG16).
        tutorial: a :class:`~dreamstream.stream.bench.dream.TutorialDream` on that layer.
        step_size: the tutorial's step, calibrated to dream as strongly as the engine.
        quick: tiny sizes, a smoke run.
    """
    from dreamstream.stream.settings import Settings

    cfg = QUICK if quick else FULL
    settings = Settings(
        layers=f"{layer}:1",
        width=cfg["width"],
        octaves=cfg["octaves"],
        steps=cfg["steps"],
        precision="float32",
    )
    with tempfile.TemporaryDirectory() as folder:
        engine = engine_side(settings, cfg, folder)
        baseline = tutorial_side(tutorial, cfg, step_size, folder)
    result = {
        "clip": f"{REAL.name} from frame {SHOT[0]}",
        "width": cfg["width"],
        "frames": cfg["frames"],
        "layer": layer,
        "octaves": cfg["octaves"],
        "steps": cfg["steps"],
        "steps_next": settings.steps_next,
        "octaves_next": settings.carried_octaves(),
        "engine": engine,
        "tutorial": baseline,
        "ratio": engine["fps"] / baseline["fps"],
        "ratio_cpu": engine["fps_cpu"] / baseline["fps_cpu"],
    }
    result["table"] = table(result)
    return result


def table(r: dict) -> str:
    """The comparison as Markdown."""
    lines = [
        f"Dream video end to end, {r['clip']} at {r['width']} px, {r['frames']} frames, "
        f"{r['layer']}, {r['octaves']} octaves x {r['steps']} steps (engine: flow on, later "
        f"frames {r['octaves_next']} octaves x {r['steps_next']} steps), float32",
        "",
        "| side | frames/s (wall) | frames/s (CPU time) | strength | fidelity |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in ("engine", "tutorial"):
        s = r[name]
        lines.append(
            f"| {name} | {s['fps']:.3f} | {s['fps_cpu']:.3f} | {s['strength']:.4f} "
            f"| {s['fidelity']:.3f} |"
        )
    e, t = r["engine"], r["tutorial"]
    lines.append(
        f"| engine / tutorial | {r['ratio']:.2f}x | {r['ratio_cpu']:.2f}x | "
        f"{e['strength'] / t['strength']:.2f}x | {e['fidelity'] - t['fidelity']:+.3f} |"
    )
    return "\n".join(lines)
