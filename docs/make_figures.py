"""Rebuild the README's pictures from the sample media.

    .venv/bin/python docs/make_figures.py [FIGURE ...] [--render DREAM_RENDER.mp4]

FIGURE is any of gallery, presets, example, layers (default: all of them).

- docs/gallery.jpg: input, dream and style frames of samples/clip.mp4 (first,
  middle, last). The dream frames come from DREAM_RENDER (``make demo``'s
  out/demo.mp4 by default); the style render is made here.
- docs/presets.jpg: each shipped preset on samples/chelsea.jpg.
- docs/dream_example.jpg: samples/astronaut.jpg dreamt with the default settings.
- docs/layers.jpg: samples/chelsea.jpg dreamt with the default settings at
  each of :data:`STRIP_LAYERS` alone.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw

from dreamstream.stream import dream
from dreamstream.stream.io import read_image
from dreamstream.stream.jobs import render_file
from dreamstream.stream.settings import Settings, list_presets

ROOT = Path(__file__).resolve().parents[1]
PICKS = (0, 50, 99)
STRIP_LAYERS = ("block3_conv3", "block4_conv1", "block4_conv3", "block5_conv1", "block5_conv3")


def frames_of(path: Path, width: int) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    height = round(width * frames[0].shape[0] / frames[0].shape[1])
    return [cv2.resize(frames[i], (width, height), interpolation=cv2.INTER_AREA) for i in PICKS]


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


def gallery(dream_render: Path) -> None:
    clip = ROOT / "samples" / "clip.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        styled = Path(tmp) / "style.mp4"
        render_file("style", str(clip), str(styled), Settings(style="7", width=320))
        rows = [
            [labelled(f, f"input {i}") for f, i in zip(frames_of(clip, 320), PICKS, strict=True)],
            [
                labelled(f, f"dream {i}")
                for f, i in zip(frames_of(dream_render, 320), PICKS, strict=True)
            ],
            [
                labelled(f, f"style 7, {i}")
                for f, i in zip(frames_of(styled, 320), PICKS, strict=True)
            ],
        ]
    Image.fromarray(grid(rows)).save(ROOT / "docs" / "gallery.jpg", quality=85)


def small_cat() -> np.ndarray:
    still = read_image(ROOT / "samples" / "chelsea.jpg")
    return cv2.resize(still, (300, 200), interpolation=cv2.INTER_AREA)


def presets() -> None:
    still = small_cat()
    cells = [labelled(still, "input")]
    for name in list_presets():
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


FIGURES = {"presets": presets, "example": example, "layers": layer_strip}


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild the README's pictures.")
    parser.add_argument("figures", nargs="*", choices=["gallery", *FIGURES], metavar="FIGURE")
    parser.add_argument("--render", type=Path, default=ROOT / "out" / "demo.mp4")
    args = parser.parse_args()
    for name in args.figures or ["gallery", *FIGURES]:
        gallery(args.render) if name == "gallery" else FIGURES[name]()
        print("wrote", name)


if __name__ == "__main__":
    main()
