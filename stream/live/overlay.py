"""Text drawn over live mode's picture: the fps/latency overlay and notices.

Images are ``uint8`` ``HxWx3`` **RGB**.
"""

from __future__ import annotations

import cv2
import numpy as np


def decorate(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """A copy of ``image`` with ``lines`` of text drawn top left on a dark band."""
    out = image.copy()
    scale = max(0.35, image.shape[1] / 1600)
    step = int(26 * scale) + 6
    band = out[: step * len(lines) + 8, : min(out.shape[1], int(900 * scale) + 20)]
    band[:] = (band * 0.45).astype(np.uint8)
    for k, text in enumerate(lines):
        cv2.putText(
            out,
            text,
            (8, step * (k + 1)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return out
