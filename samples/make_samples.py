"""Make the sample media in this folder from photographs that ship in a PyPI wheel.

Sources (all in scikit-image's ``skimage/data``, installed with the
``scikit-image`` wheel; see samples/LICENSE.md):
  rocket.jpg     NASA, public domain          (the clip's background)
  chelsea.png    Stefan van der Walt, CC0     (the clip's moving object, a still)
  astronaut.png  NASA, public domain          (a still)
  coffee.png     Rachel Michetti, CC0         (a still)
  retina.jpg     Mikael Häggström, public domain dedication (the style picture of
                 the style-by-optimisation gallery and benchmark)

The clip is a virtual camera that pans and zooms over the rocket photograph
while a cut-out of the cat glides across it, with a synthesised melody as its
audio track. Because every frame is an exact resampling of the photograph,
the optical flow of the background is known exactly; ``clip.json`` records the
camera and object path so that tests can compute it (see ``true_flow``).

Run with the project's venv:  .venv/bin/python samples/make_samples.py
(scikit-image is needed only here: ``pip install scikit-image``).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT, FPS, SECONDS = 480, 270, 25, 4
FRAMES = FPS * SECONDS
SAMPLE_RATE = 44100
OBJECT_SIZE = (120, 100)  # the cat cut-out, width x height in output pixels


def skimage_data(name: str) -> np.ndarray:
    """An RGB uint8 photograph from scikit-image's bundled data folder."""
    import skimage

    return np.asarray(Image.open(Path(skimage.__file__).parent / "data" / name).convert("RGB"))


def ease(u: float) -> float:
    """Smooth 0 -> 1 ramp with zero velocity at both ends, like a camera operator."""
    return 0.5 - 0.5 * np.cos(np.pi * u)


def camera(t: int) -> tuple[float, float, float]:
    """Camera of frame ``t``: output pixel (x, y) shows photo point (cx + s*x, cy + s*y)."""
    u = ease(t / (FRAMES - 1))
    s = (560 - 120 * u) / WIDTH  # zoom in: crop width 560 -> 440 photo pixels
    return 10 + 170 * u, 60 + 40 * u, s


def object_position(t: int) -> tuple[float, float]:
    """Top-left corner of the cat cut-out in output pixels at frame ``t`` (linear glide, a bob)."""
    u = t / (FRAMES - 1)
    return 20 + 300 * u, 130 - 60 * u + 12 * np.sin(2 * np.pi * 1.5 * u)


def true_flow(t: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact flow of frame ``t`` to ``t - 1`` (current -> previous, x/y in pixels).

    Returns:
        (flow, object_mask): flow HxWx2 float32 for the background camera motion
        (the object region carries its own glide instead) and an HxW bool mask of
        the object's pixels in frame ``t``.
    """
    (cx1, cy1, s1), (cx0, cy0, s0) = camera(t), camera(t - 1)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    flow = np.stack([(cx1 + s1 * xs - cx0) / s0 - xs, (cy1 + s1 * ys - cy0) / s0 - ys], -1)
    (ox1, oy1), (ox0, oy0) = object_position(t), object_position(t - 1)
    mask = object_alpha_at(ox1, oy1) > 0.5
    flow[mask] = (ox0 - ox1, oy0 - oy1)
    return flow.astype(np.float32), mask


def object_alpha_at(ox: float, oy: float) -> np.ndarray:
    """HxW float alpha of the elliptical cut-out placed with its top-left at (ox, oy)."""
    w, h = OBJECT_SIZE
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    d = ((xs - ox - w / 2) / (w / 2)) ** 2 + ((ys - oy - h / 2) / (h / 2)) ** 2
    return np.clip((1.0 - d) * 8.0, 0.0, 1.0)  # soft 1-2 px edge


def render_frame(t: int, background: np.ndarray, cat: np.ndarray) -> np.ndarray:
    """Frame ``t`` as RGB uint8: the camera's view of the photo with the cat over it."""
    cx, cy, s = camera(t)
    view = cv2.warpAffine(
        background,
        np.float32([[s, 0, cx], [0, s, cy]]),
        (WIDTH, HEIGHT),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    ox, oy = object_position(t)
    shifted = cv2.warpAffine(
        cat, np.float32([[1, 0, ox], [0, 1, oy]]), (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR
    )
    alpha = object_alpha_at(ox, oy)[..., None]
    return (view * (1 - alpha) + shifted * alpha + 0.5).astype(np.uint8)


def melody() -> np.ndarray:
    """A gentle arpeggio, mono float32 in [-1, 1], SECONDS long."""
    n = SAMPLE_RATE * SECONDS
    out = np.zeros(n, np.float32)
    notes = [220.0, 277.18, 329.63, 440.0, 329.63, 277.18, 246.94, 329.63]
    step = n // len(notes)
    t = np.arange(step) / SAMPLE_RATE
    for i, f in enumerate(notes):
        tone = np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t)
        out[i * step : (i + 1) * step] = 0.25 * tone * np.exp(-3.0 * t)
    return out


def write_clip(path: Path, frames: list[np.ndarray], audio: np.ndarray) -> None:
    """H.264 + AAC in MP4, constant 25 fps, small enough to commit."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"crf": "26", "preset": "slow"}
        sound = out.add_stream("aac", rate=SAMPLE_RATE)
        sound.layout = "mono"
        for t, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        chunk = 1024
        for i in range(0, len(audio), chunk):
            frame = av.AudioFrame.from_ndarray(
                audio[None, i : i + chunk], format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = SAMPLE_RATE, i
            out.mux(sound.encode(frame))
        out.mux(sound.encode())


def write_stills() -> None:
    """Three stills, downscaled and saved as JPEG to stay small."""
    for name, size in (
        ("astronaut.png", (384, 384)),
        ("chelsea.png", (451, 300)),
        ("coffee.png", (480, 320)),
    ):
        image = Image.fromarray(skimage_data(name)).resize(size, Image.LANCZOS)
        image.save(HERE / (Path(name).stem + ".jpg"), quality=90)


def write_style() -> None:
    """The style picture of the ``--method optimize`` gallery and benchmark."""
    image = Image.fromarray(skimage_data("retina.jpg")).resize((384, 384), Image.LANCZOS)
    image.save(HERE / "retina.jpg", quality=90)


def main() -> None:
    background = skimage_data("rocket.jpg")
    cat_photo = skimage_data("chelsea.png")
    w, h = OBJECT_SIZE
    cat = cv2.resize(cat_photo[20:230, 70:322], (w, h), interpolation=cv2.INTER_AREA)
    frames = [render_frame(t, background, cat) for t in range(FRAMES)]
    write_clip(HERE / "clip.mp4", frames, melody())
    meta = {
        "size": [WIDTH, HEIGHT],
        "fps": FPS,
        "frames": FRAMES,
        "audio_rate": SAMPLE_RATE,
        "camera": [camera(t) for t in range(FRAMES)],
        "object_top_left": [object_position(t) for t in range(FRAMES)],
        "object_size": list(OBJECT_SIZE),
        "about": "output pixel (x, y) of frame t shows photo point (cx + s*x, cy + s*y); "
        "see true_flow() in make_samples.py",
    }
    (HERE / "clip.json").write_text(json.dumps(meta, indent=1))
    write_stills()
    write_style()
    print(f"wrote {HERE / 'clip.mp4'} ({FRAMES} frames), clip.json, 3 stills and a style picture")


if __name__ == "__main__":
    main()
