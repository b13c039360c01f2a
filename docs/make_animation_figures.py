"""Pictures of docs/animation.md from a zoom-animation measurement.

    .venv/bin/python -m dreamstream.stream.bench.animate OUT     # long: 2 x 600 frames
    .venv/bin/python docs/make_animation_figures.py OUT

OUT holds ``lanczos/`` and ``bilinear/``, each with ``result.json`` (the
sharpness of every frame) and the first, middle and last frames
(``fNNNN.jpg``). Writes docs/animation_zoom.jpg (those frames, Lanczos on top,
bilinear below) and docs/animation_sharpness.jpg (sharpness per frame).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

DOCS = Path(__file__).resolve().parent
COLOURS = {"lanczos": (40, 110, 230), "bilinear": (60, 160, 60)}  # BGR


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def zoom_strip(root: Path, side: int = 256) -> np.ndarray:
    """First, middle and last frame of each resampling, scaled to ``side`` px wide."""
    rows = []
    for method in _measured(root):
        files = sorted((root / method).glob("f*.jpg"))
        picks = [files[0], files[len(files) // 2], files[-1]] if len(files) >= 3 else files
        tiles = []
        for f in picks:
            img = cv2.imread(str(f))
            h, w = img.shape[:2]
            img = cv2.resize(img, (side, round(h * side / w)), interpolation=cv2.INTER_NEAREST)
            tiles.append(_label(img, f"{method}, frame {int(f.stem[1:])}"))
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def sharpness_chart(root: Path, size=(720, 300)) -> np.ndarray:
    """Sharpness per frame, one line per resampling, on a white chart."""
    w, h = size
    pad = 40
    chart = np.full((h, w, 3), 255, np.uint8)
    series = {
        m: json.loads((root / m / "result.json").read_text())["sharpness"] for m in _measured(root)
    }
    top = max(max(v) for v in series.values()) * 1.05
    n = max(len(v) for v in series.values())
    cv2.rectangle(chart, (pad, 10), (w - 10, h - pad), (0, 0, 0), 1)
    for m, values in series.items():
        pts = [
            (
                pad + round(i * (w - pad - 10) / max(n - 1, 1)),
                h - pad - round(v / top * (h - pad - 10)),
            )
            for i, v in enumerate(values)
        ]
        cv2.polylines(chart, [np.asarray(pts, np.int32)], False, COLOURS[m], 1, cv2.LINE_AA)
    y = 30
    for m in series:
        cv2.putText(
            chart, m, (pad + 10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, COLOURS[m], 1, cv2.LINE_AA
        )
        y += 20
    cv2.putText(
        chart,
        f"frame (0-{n - 1})",
        (w // 2 - 40, h - 12),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    cv2.putText(
        chart, "sharpness", (4, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA
    )
    return chart


def _measured(root: Path) -> list[str]:
    """The resamplings measured under ``root`` (a run still going has no result yet)."""
    return [m for m in COLOURS if (root / m / "result.json").is_file()]


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "bench-results/animate")
    cv2.imwrite(str(DOCS / "animation_zoom.jpg"), zoom_strip(root), [cv2.IMWRITE_JPEG_QUALITY, 85])
    cv2.imwrite(
        str(DOCS / "animation_sharpness.jpg"), sharpness_chart(root), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
