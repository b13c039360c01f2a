"""Make camera-like test footage from photographs that ship in a PyPI wheel.

The sample clip (``make_samples.py``) is a clean pan: temporal methods tuned on
it fail on real footage, which has parallax, occlusions, a shaking hand-held
camera, motion blur, sensor noise, exposure changes and compression artefacts.
This script renders all of those from stills in scikit-image's ``skimage/data``
(see samples/LICENSE.md):

  rocket.jpg   NASA, public domain   the far layer (sky, towers), slow parallax
  grass.png    CC0                   a hedge in the middle distance, tinted green
  brick.png    CC0                   a wall post close to the camera, fast parallax
  chelsea.png  CC0                   the cat, crossing and occluding
  coffee.png   CC0                   a cup, crossing the other way in front of it

Each frame averages 5 sub-frame renders over a half-open shutter (motion blur),
goes through an exposure ramp in linear light, gets shot and read noise, and
the clip is encoded with H.264 at CRF 26 (a typical phone/web quality).

``footage(frames)`` returns the frames (deterministic for a given length);
``main()`` writes the short clip that is committed as ``samples/street.mp4``.
The ``temporal`` benchmark checks its goals on real camera footage
(``samples/bikes.mp4``) and reports this clip beside it.

Run with the project's venv:  .venv/bin/python samples/make_footage.py
(scikit-image is needed only here: ``pip install scikit-image``).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT, FPS = 320, 180, 25
SHORT_FRAMES = 100
SUBFRAMES, SHUTTER = 5, 0.5  # motion blur: renders per frame, fraction of the frame time
CRF = 26


def skimage_data(name: str) -> np.ndarray:
    """An RGB uint8 photograph (grey ones repeated) from scikit-image's data folder."""
    import skimage

    return np.asarray(Image.open(Path(skimage.__file__).parent / "data" / name).convert("RGB"))


def _tint(grey: np.ndarray, rgb: tuple[float, float, float]) -> np.ndarray:
    return np.clip(grey.astype(np.float32)[..., None] * np.float32(rgb), 0, 255)


def _ellipse_alpha(w: int, h: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    d = ((xs - w / 2) / (w / 2)) ** 2 + ((ys - h / 2) / (h / 2)) ** 2
    return np.clip((1.0 - d) * 6.0, 0.0, 1.0)


def _hedge_alpha(w: int, h: int) -> np.ndarray:
    """A hedge: opaque below a wavy top edge, so the far layer shows above it."""
    xs = np.arange(w, dtype=np.float32)
    top = 24 + 10 * np.sin(xs / 23.0) + 6 * np.sin(xs / 7.3 + 1.0)
    ys = np.arange(h, dtype=np.float32)[:, None]
    return np.clip((ys - top[None, :]) / 2.0, 0.0, 1.0)


class Scene:
    """The layers of the scene as RGBA float32 images, 0-255 colour and 0-1 alpha."""

    def __init__(self) -> None:
        self.far = skimage_data("rocket.jpg").astype(np.float32)
        grass = skimage_data("grass.png")[..., 0]
        grass = cv2.resize(np.tile(grass, (1, 4)), (1024, 256), interpolation=cv2.INTER_AREA)
        hedge = _tint(grass, (0.55, 0.85, 0.45))
        self.hedge = (hedge, _hedge_alpha(hedge.shape[1], hedge.shape[0]))
        brick = _tint(skimage_data("brick.png")[..., 0], (1.0, 0.7, 0.55))
        post = cv2.resize(brick[:, 100:260], (70, 260), interpolation=cv2.INTER_AREA)
        self.post = (post, np.ones(post.shape[:2], np.float32))
        cat = skimage_data("chelsea.png")[20:230, 70:322].astype(np.float32)
        cat = cv2.resize(cat, (96, 80), interpolation=cv2.INTER_AREA)
        self.cat = (cat, _ellipse_alpha(96, 80))
        cup = skimage_data("coffee.png")[30:370, 110:490].astype(np.float32)
        cup = cv2.resize(cup, (74, 66), interpolation=cv2.INTER_AREA)
        self.cup = (cup, _ellipse_alpha(74, 66))


def camera(t: float, frames: int) -> tuple[float, float]:
    """Camera position (x, y) in far-layer pixels at time ``t`` (in frames).

    A pan out and back that ends where it began (so the first and last frames
    of a clip show the same view, and a long render can be judged by comparing
    them), plus hand-held shake: a few incommensurate sines of 1-3 px.
    """
    u = t / max(frames - 1, 1)
    reach = 130 * min(1.0, frames / 300)
    x = 320 - reach * np.cos(2 * np.pi * u)
    y = 150 + 30 * np.sin(2 * np.pi * u)
    x += 2.2 * np.sin(t * 0.93 + 0.3) + 1.1 * np.sin(t * 2.71 + 1.7)
    y += 1.8 * np.sin(t * 1.17 + 2.1) + 0.9 * np.sin(t * 3.31 + 0.4)
    return float(x), float(y)


def _place(canvas, layer, x, y, scale=1.0):
    """Composite an RGBA layer whose top-left sits at output (x, y), over ``canvas``."""
    image, alpha = layer
    m = np.float32([[scale, 0, x], [0, scale, y]])  # layer -> output
    size = (WIDTH, HEIGHT)
    flags = cv2.INTER_LINEAR
    a = cv2.warpAffine(alpha, m, size, flags=flags, borderValue=0)[..., None]
    rgb = cv2.warpAffine(image, m, size, flags=flags, borderValue=(0, 0, 0))
    canvas *= 1 - a
    canvas += a * rgb
    return canvas


def render(scene: Scene, t: float, frames: int) -> np.ndarray:
    """The sharp view at time ``t`` (in frames), HxWx3 float32 RGB 0-255."""
    cx, cy = camera(t, frames)
    m = np.float32([[1, 0, cx - WIDTH / 2], [0, 1, cy - HEIGHT / 2]])
    canvas = cv2.warpAffine(
        scene.far,
        m,
        (WIDTH, HEIGHT),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    # Nearer layers move more with the camera (parallax): the hedge 2x, the post 3.5x;
    # the cat and the cup walk, so the camera half follows them.
    px, py = cx - 320, cy - 150
    canvas = _place(canvas, scene.hedge, -350 - 2.0 * px, 100 - 1.5 * py)
    # The cat and the cup cross about every 120 frames, in opposite directions,
    # a whole number of times per clip.
    period = frames / max(1, round(frames / 120))
    u = (t % period) / period
    canvas = _place(canvas, scene.cat, -100 + 520 * u - 0.5 * px, 70 - 0.5 * py)
    v = ((t + 50) % period) / period
    canvas = _place(canvas, scene.cup, 380 - 520 * v - 0.7 * px, 100 - 0.7 * py)
    post_x = (((-3.5 * px) + 60) % 600) - 150  # posts pass by, one every 600 px of travel
    return _place(canvas, scene.post, post_x, -30 - 3.5 * py)


def exposure(t: int, frames: int) -> float:
    """Exposure gain: dims to 0.6 mid-clip and recovers (auto-exposure hunting)."""
    u = t / max(frames - 1, 1)
    return float(1.0 - 0.4 * np.exp(-(((u - 0.5) / 0.12) ** 2)))


def develop(linear_rgb: np.ndarray, gain: float, rng: np.random.Generator) -> np.ndarray:
    """Sensor and camera: exposure in linear light, shot and read noise, sRGB-ish gamma."""
    lin = (linear_rgb / 255.0) ** 2.2 * gain
    # Shot noise grows with the signal; read noise is a floor (a small phone sensor).
    sigma = np.sqrt(0.0004 * lin + 0.00002)
    lin = lin + sigma * rng.standard_normal(lin.shape, dtype=np.float32)
    out = np.clip(lin, 0, 1) ** (1 / 2.2) * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def footage(frames: int, seed: int = 0) -> list[np.ndarray]:
    """``frames`` frames of the scene, uint8 HxWx3 RGB, before compression."""
    scene = Scene()
    rng = np.random.default_rng(seed)
    out = []
    for t in range(frames):
        times = t + SHUTTER * (np.arange(SUBFRAMES) / SUBFRAMES - 0.5)
        sharp = np.mean([render(scene, float(s), frames) for s in times], axis=0)
        out.append(develop(sharp, exposure(t, frames), rng))
    return out


def encode(path: Path, frames: list[np.ndarray], crf: int = CRF) -> Path:
    """H.264 (yuv420p) in MP4 at constant 25 fps: the compression artefacts of real clips."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"crf": str(crf), "preset": "medium"}
        for t, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode())
    return path


def write(path: Path, frames: int) -> Path:
    """Render and encode ``frames`` frames of the footage to ``path``."""
    return encode(path, footage(frames))


def main() -> None:
    path = write(HERE / "street.mp4", SHORT_FRAMES)
    print(f"wrote {path} ({SHORT_FRAMES} frames, {path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
