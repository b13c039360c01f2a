"""Pipeline benchmark: end-to-end speed per stage and temporal coherence per mode.

For each clip (the sample clip and a second one made here from a sample
still, with a rotating, zooming camera) it renders, side by side in one run:

- dream ``--no-flow`` (every frame from scratch: the coherence ceiling),
- dream with flow, carrying the warped dream ("blend") or its residual,
- style ``--no-flow``, style with flow, and style ``--no-flow`` smoothed by a
  plain moving average of consecutive outputs (weight 0.5),

each through the real pipeline (decode thread, flow thread, model, encode
thread writing H.264). It reports frames/s end to end and per stage, the
ratio of end-to-end to model-alone frames/s, the warping error of each output
against the input's own (the floor, same flow and mask), the excess over that
floor, and the dream strength (mean |O - I| / 255).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core import flow as coreflow
from dreamstream.core import measures
from dreamstream.stream import pipeline
from dreamstream.stream.io import open_sink, open_source, read_image, sink_options
from dreamstream.stream.processors import make_processor
from dreamstream.stream.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


class _Tee:
    """A sink that keeps a copy of every output frame before passing it on."""

    def __init__(self, inner):
        self.inner, self.images = inner, []
        self.path = inner.path

    def write(self, frame):
        self.images.append(frame.image)
        self.inner.write(frame)

    def close(self):
        self.inner.close()

    def abort(self):
        self.inner.abort()


def make_second_clip(path: Path, frames: int, width: int) -> Path:
    """A clip of a rotating, zooming camera over samples/coffee.jpg (no audio)."""
    import av

    photo = read_image(SAMPLES / "coffee.jpg")
    h = (width * 9 // 16) // 2 * 2
    ph, pw = photo.shape[:2]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = width, h, "yuv420p"
        video.options = {"crf": "16"}
        for t in range(frames):
            angle, zoom = 0.6 * t, 1.0 + 0.01 * t
            m = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, zoom * width / (0.7 * pw))
            m[:, 2] += (width / 2 - pw / 2, h / 2 - ph / 2)
            image = cv2.warpAffine(photo, m, (width, h), borderMode=cv2.BORDER_REFLECT)
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, "rgb24")))
        out.mux(video.encode())
    return path


def _render(clip: Path, mode: str, settings: Settings, out: Path) -> tuple[list, dict]:
    with open_source(clip, frames=settings.frames, width=settings.width) as source:
        processor = make_processor(mode, settings.setup(mode))
        processor.first(np.zeros((source.size[1], source.size[0], 3), np.uint8), 0)  # warm up
        sink = _Tee(open_sink(out, **sink_options(source), overwrite=True))
        stats = pipeline.run(
            source,
            processor,
            sink,
            flow=settings.flow,
            flow_method=settings.flow_method,
            flow_preset=settings.flow_preset,
        )
    summary = stats.summary()
    summary["model_fps"] = summary["stage_fps"]["model"]
    summary["e2e_over_model"] = round(summary["fps"] / summary["model_fps"], 3)
    return sink.images, summary


def _moving_average(outputs: list) -> list:
    out = [outputs[0]]
    for a, b in zip(outputs[:-1], outputs[1:], strict=True):
        out.append(((a.astype(np.uint16) + b + 1) // 2).astype(np.uint8))
    return out


def _coherence(inputs: list, outputs: dict) -> dict:
    """Warping error of each output and of the input (floor), same flow and mask."""
    est = coreflow.FlowEstimator()
    flows = [est(inputs[t], inputs[t - 1]) for t in range(1, len(inputs))]
    masks = [
        coreflow.consistency_mask(f, est(inputs[t - 1], inputs[t]), soft=False)
        for t, f in enumerate(flows, start=1)
    ]
    floor = measures.warping_error(inputs, flows, masks)
    rows = {"input": {"warp_error": floor, "excess": 0.0, "strength": 0.0}}
    for name, frames in outputs.items():
        err = measures.warping_error(frames, flows, masks)
        rows[name] = {
            "warp_error": err,
            "excess": err - floor,
            "strength": measures.dream_strength(frames, inputs),
        }
    return rows


def bench_clip(clip: Path, settings: Settings, tmp: Path) -> dict:
    """All modes on one clip; returns speed and coherence rows."""
    with open_source(clip, frames=settings.frames, width=settings.width) as source:
        inputs = [f.image for f in source]
    runs = {
        "dream no-flow": ("dream", settings.replace(flow=False)),
        "dream flow (blend)": ("dream", settings.replace(carry="blend")),
        "dream flow (residual)": ("dream", settings.replace(carry="residual")),
        "style no-flow": ("style", settings.replace(flow=False)),
        "style flow": ("style", settings),
    }
    outputs, speed = {}, {}
    for name, (mode, s) in runs.items():
        outputs[name], speed[name] = _render(clip, mode, s, tmp / "out.mp4")
    outputs["style moving average"] = _moving_average(outputs["style no-flow"])
    for name in ("dream flow (blend)", "dream flow (residual)"):
        speed[name]["fps_over_no_flow"] = round(
            speed[name]["fps"] / speed["dream no-flow"]["fps"], 3
        )
    return {
        "speed": speed,
        "coherence": _coherence(inputs, outputs),
        "frames": len(inputs),
        "size": list(inputs[0].shape[1::-1]),
    }


def _table(results: dict) -> str:
    lines = []
    for clip, r in results["clips"].items():
        w, h = r["size"]
        lines += [
            f"\n{clip} ({w}x{h}, {r['frames']} frames)\n",
            "| mode | fps | model fps | e2e/model | decode | flow | encode "
            "| warp error | excess | strength |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, row in r["coherence"].items():
            s = r["speed"].get(name) or r["speed"].get(
                name.replace(" moving average", " no-flow"), {}
            )
            st = s.get("stage_fps", {})
            speed = (
                (
                    f"{s.get('fps', 0):.2f} | {s.get('model_fps', 0):.2f} | "
                    f"{s.get('e2e_over_model', 0):.2f} | {st.get('decode') or 0:.0f} | "
                    f"{st.get('flow') or 0:.0f} | {st.get('encode') or 0:.0f}"
                )
                if s
                else "- | - | - | - | - | -"
            )
            lines.append(
                f"| {name} | {speed} | {row['warp_error']:.5f} | "
                f"{row['excess']:.5f} | {row['strength']:.3f} |"
            )
    return "\n".join(lines)


def run(quick: bool = False) -> dict:
    """The benchmark; ``quick`` uses a few tiny frames (a smoke run)."""
    frames, width = (4, 128) if quick else (16, 256)
    settings = Settings(frames=frames, width=width, style="7")
    results = {"settings": settings.as_dict(), "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = {
            "samples/clip.mp4": SAMPLES / "clip.mp4",
            "rotating coffee (made here)": make_second_clip(tmp / "second.mp4", frames, width),
        }
        for name, clip in clips.items():
            results["clips"][name] = bench_clip(clip, settings, tmp)
    results["table"] = _table(results)
    return results


if __name__ == "__main__":
    print(run()["table"])
