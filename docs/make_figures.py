"""Rebuild the README's pictures from the sample media.

    .venv/bin/python docs/make_figures.py [FIGURE ...]

FIGURE is any of gallery, presets, example, layers (default: all of them), and
paintings (only when named: slow on a CPU).

- docs/gallery.jpg: frame 0, the middle and the last frame of the temporal
  benchmark's long real clip (the longest shot of samples/bikes.mp4 played
  forward and back, 361 frames at 320x136): input, the flow-carried dream
  (the ``subtle`` preset) and style 7, both rendered here with the
  default temporal settings. A long dream shows whether the scene survives
  the carry.
- docs/presets.jpg: each shipped preset on samples/chelsea.jpg.
- docs/dream_example.jpg: samples/astronaut.jpg dreamt with the default settings.
- docs/layers.jpg: samples/chelsea.jpg dreamt with the default settings at
  each of :data:`STRIP_LAYERS` alone.
- docs/paintings.jpg: samples/retina.jpg as the style of a still and of the
  first 16 frames of the clip at 256 px, the fast arbitrary-style network
  beside ``--method optimize``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw

from dreamstream.stream import dream, render
from dreamstream.stream.io import read_image
from dreamstream.stream.jobs import render_file
from dreamstream.stream.settings import Settings, dream_presets

ROOT = Path(__file__).resolve().parents[1]
STRIP_LAYERS = ("block3_conv3", "block4_conv1", "block4_conv3", "block5_conv1", "block5_conv3")


def labelled(image: np.ndarray, text: str) -> np.ndarray:
    picture = Image.fromarray(image)
    ImageDraw.Draw(picture).text(
        (6, 4), text, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0)
    )
    return np.asarray(picture)


def grid(rows: list[list[np.ndarray]], gap: int = 4) -> np.ndarray:
    h, w = rows[0][0].shape[:2]
    sheet = np.full((len(rows) * (h + gap) - gap, len(rows[0]) * (w + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            sheet[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = cell
    return sheet


def gallery() -> None:
    from dreamstream.stream.bench.temporal import DRIFT, long_clip

    inputs = long_clip()
    picks = (0, len(inputs) // 2, len(inputs) - 1)
    dreamt = list(render(inputs, "dream", **DRIFT))  # the subtle preset
    styled = list(render(inputs, "style", style="7"))
    rows = [
        [labelled(frames[i], f"{name} {i}") for i in picks]
        for name, frames in (("input", inputs), ("dream", dreamt), ("style 7,", styled))
    ]
    Image.fromarray(grid(rows)).save(ROOT / "docs" / "gallery.jpg", quality=85)


def small_cat() -> np.ndarray:
    still = read_image(ROOT / "samples" / "chelsea.jpg")
    return cv2.resize(still, (300, 200), interpolation=cv2.INTER_AREA)


def presets() -> None:
    still = small_cat()
    cells = [labelled(still, "input")]
    for name in dream_presets():
        cells.append(labelled(dream(still, preset=name), name))
    Image.fromarray(grid([cells])).save(ROOT / "docs" / "presets.jpg", quality=85)


def example() -> None:
    still = read_image(ROOT / "samples" / "astronaut.jpg")
    Image.fromarray(dream(still)).save(ROOT / "docs" / "dream_example.jpg", quality=85)


def layer_strip() -> None:
    still = small_cat()
    cells = [labelled(still, "input")]
    for layer in STRIP_LAYERS:
        cells.append(labelled(dream(still, layers=layer), layer))
    Image.fromarray(grid([cells])).save(ROOT / "docs" / "layers.jpg", quality=85)


FIGURES = {"gallery": gallery, "presets": presets, "example": example, "layers": layer_strip}


def paintings(width: int = 256, frames: int = 16) -> None:
    style = ROOT / "samples" / "retina.jpg"
    still = ROOT / "samples" / "chelsea.jpg"
    clip = ROOT / "samples" / "clip.mp4"
    picks = (0, frames // 2, frames - 1)
    with tempfile.TemporaryDirectory() as tmp:
        cells, clips = {}, {}
        for name, extra in (("fast", {}), ("optimize", {"method": "optimize"})):
            settings = Settings(style_image=str(style), width=width, frames=frames, **extra)
            render_file("style", str(still), f"{tmp}/{name}.png", settings)
            cells[name] = read_image(Path(tmp) / f"{name}.png")
            render_file("style", str(clip), f"{tmp}/{name}.mp4", settings)
            clips[name] = frames_of_render(Path(tmp) / f"{name}.mp4", picks)
    h, w = cells["fast"].shape[:2]
    source = cv2.resize(read_image(still), (w, h), interpolation=cv2.INTER_AREA)
    painting = cv2.resize(read_image(style), (h, h), interpolation=cv2.INTER_AREA)
    painting = np.pad(painting, ((0, 0), (0, w - h), (0, 0)), constant_values=255)
    rows = [
        [
            labelled(source, "input"),
            labelled(painting, "style picture"),
            labelled(cells["fast"], "fast arbitrary"),
            labelled(cells["optimize"], "optimize"),
        ],
    ]
    inputs = frames_of_render(clip, picks, width)
    for name in ("fast", "optimize"):
        rows.append(
            [labelled(inputs[0], f"input {picks[0]}")]
            + [labelled(f, f"{name} {i}") for f, i in zip(clips[name], picks, strict=True)]
        )
    top, bottom = grid(rows[:1]), grid(rows[1:])  # the still and the clip differ in height
    gap = np.full((4, top.shape[1], 3), 255, np.uint8)
    sheet = np.vstack([top, gap, bottom])
    Image.fromarray(sheet).save(ROOT / "docs" / "paintings.jpg", quality=85)


def frames_of_render(path: Path, picks: tuple, width: int | None = None) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    picked = [frames[i] for i in picks]
    if width is None:
        return picked
    height = round(width * picked[0].shape[0] / picked[0].shape[1] / 2) * 2
    return [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in picked]


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild the README's pictures.")
    parser.add_argument("figures", nargs="*", choices=[*FIGURES, "paintings"], metavar="FIGURE")
    args = parser.parse_args()
    for name in args.figures or list(FIGURES):
        paintings() if name == "paintings" else FIGURES[name]()
        print("wrote", name)


if __name__ == "__main__":
    main()
