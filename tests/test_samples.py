"""The committed sample media is what the README, demo and tests rely on."""

from __future__ import annotations

import importlib.util
import json

import av
import cv2
import numpy as np
import pytest

from tests.conftest import SAMPLES


def load_script():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_clip_decodes_with_expected_frames_size_and_audio():
    meta = json.loads((SAMPLES / "clip.json").read_text())
    with av.open(str(SAMPLES / "clip.mp4")) as container:
        video = container.streams.video[0]
        assert container.streams.audio, "the sample clip must carry an audio track"
        audio = container.streams.audio[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert float(audio.duration * audio.time_base) == pytest.approx(4.0, abs=0.1)
    assert len(frames) == meta["frames"] == 100
    assert frames[0].shape == (270, 480, 3)
    assert video.average_rate == 25


@pytest.mark.parametrize("name", ["astronaut.jpg", "chelsea.jpg", "coffee.jpg"])
def test_stills_are_rgb_pictures(name):
    image = cv2.imread(str(SAMPLES / name))
    assert image is not None and image.ndim == 3 and min(image.shape[:2]) >= 256


def test_recorded_flow_explains_the_clip():
    """Warping frame t-1 along clip.json's exact flow reproduces frame t."""
    script = load_script()
    with av.open(str(SAMPLES / "clip.mp4")) as container:
        frames = [
            f.to_ndarray(format="rgb24").astype(np.float32) for f in container.decode(video=0)
        ]
    t = 50
    flow, _ = script.true_flow(t)
    h, w = flow.shape[:2]
    grid = np.dstack(np.meshgrid(np.arange(w), np.arange(h))).astype(np.float32)
    map_xy = grid + flow
    warped = cv2.remap(frames[t - 1], map_xy[..., 0], map_xy[..., 1], cv2.INTER_LINEAR)
    inner = (slice(8, -8), slice(8, -8))
    good = np.abs(warped - frames[t])[inner].mean()
    still = np.abs(frames[t - 1] - frames[t])[inner].mean()
    assert good < 4.0  # codec noise only
    assert still > 2 * good  # the motion is real: without the flow the error is larger


def blurred_luma_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Fidelity as DESIGN.md defines it: Pearson r of luminance blurred at sigma = width / 80."""
    sigma = a.shape[1] / 80
    la, lb = (
        cv2.GaussianBlur(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype("float32"), (0, 0), sigma)
        for x in (a, b)
    )
    return float(np.corrcoef(la.ravel(), lb.ravel())[0, 1])


@pytest.mark.slow
def test_subtle_preset_keeps_the_scene_that_classic_dreams_over():
    from dreamstream.stream import dream
    from dreamstream.stream.io import read_image

    still = cv2.resize(read_image(SAMPLES / "chelsea.jpg"), (128, 85), interpolation=cv2.INTER_AREA)
    subtle = dream(still, preset="subtle", precision="float32")
    classic = dream(still, preset="classic", precision="float32")
    # Measured on this still (ImageNet VGG16): subtle 0.98, classic 0.90.
    assert np.abs(subtle.astype(float) - still).mean() > 3.0  # it does dream
    assert blurred_luma_correlation(still, subtle) > 0.95
    assert blurred_luma_correlation(still, classic) < blurred_luma_correlation(still, subtle) - 0.03
