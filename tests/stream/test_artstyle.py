"""``dreamstream style --method optimize`` end to end: sinks, resume, refusals (tiny sizes)."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from scipy.io import savemat

from dreamstream.stream.artstyle import make_painter
from dreamstream.stream.io import read_image
from dreamstream.stream.settings import Settings
from tests.conftest import SAMPLES
from tests.stream.test_bad_input import assert_refused, count_frames, run_cli, write_clip

QUICK = ("--iterations", "2", "--iterations-next", "1", "--levels", "1", "--width", "64")
OPTIMIZE = ("--method", "optimize", "--style-image", str(SAMPLES / "coffee.jpg"))


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("artmedia")
    write_clip(folder / "clip.mp4", n=2)
    (folder / "notes.mat").write_text("not a matlab file\n")
    savemat(folder / "other.mat", {"weights": np.eye(3)})
    (folder / "vgg.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    return folder


REFUSED = {
    "no style picture": ("--method optimize", "needs a picture", "--style-image"),
    "text as .mat": ("{o} --weights {m}/notes.mat", "is not a MATLAB .mat file", "notes.mat"),
    "a .mat that is not VGG19": (
        "{o} --weights {m}/other.mat",
        "not MatConvNet's imagenet-vgg-verydeep-19.mat",
        "other.mat",
    ),
    "not a .mat": ("{o} --weights {m}/vgg.h5", "is not a .mat file", "vgg.h5"),
    "weights for the fast network": ("--weights {m}/notes.mat", "--weights applies"),
    "negative iterations": ("{o} --iterations -1", "--iterations", "-1"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_before_anything_is_written(capsys, media, tmp_path, case):
    extra, *needles = REFUSED[case]
    words = extra.replace("{o}", " ".join(OPTIMIZE)).format(m=media).split()
    argv = ["style", media / "clip.mp4", "-o", tmp_path / "out.mp4", *words]
    assert_refused(capsys, argv, *needles, folders=(media, tmp_path))


def test_video_with_audio_keeps_its_frames_and_sound(capsys, tmp_path):
    out = tmp_path / "paint.mp4"
    argv = ["style", SAMPLES / "clip.mp4", "-o", out, *OPTIMIZE, *QUICK, "--frames", "3"]
    status, _, err = run_cli(capsys, *argv)
    assert status == 0, err
    assert count_frames(out) == 3
    with av.open(str(out)) as container:
        assert container.streams.audio, "the audio track must be copied"
        assert container.streams.video[0].width == 64


def test_still_is_painted_towards_the_style(capsys, tmp_path):
    out = tmp_path / "cat.png"
    argv = ["style", SAMPLES / "chelsea.jpg", "-o", out, *OPTIMIZE, *QUICK, "--iterations", "8"]
    status, _, err = run_cli(capsys, *argv)
    assert status == 0, err
    painted = read_image(out)
    assert painted.shape[1] == 64
    painter = make_painter(Settings(method="optimize", style_image=str(SAMPLES / "coffee.jpg")))
    size = painted.shape[1::-1]
    plain = cv2.resize(read_image(SAMPLES / "chelsea.jpg"), size, interpolation=cv2.INTER_AREA)
    assert painter.style_distance(painted) < 0.8 * painter.style_distance(plain)


def test_frame_folder_resume_equals_one_run(capsys, tmp_path):
    argv = ["style", SAMPLES / "clip.mp4", *OPTIMIZE, *QUICK, "--frames", "3"]
    assert run_cli(capsys, *argv, "-o", tmp_path / "full/%03d.png")[0] == 0
    assert run_cli(capsys, *argv, "--frames", "2", "-o", tmp_path / "part/%03d.png")[0] == 0
    status, _, err = run_cli(capsys, *argv, "-o", tmp_path / "part/%03d.png", "--resume")
    assert status == 0, err
    for i in range(3):
        a = read_image(tmp_path / f"full/{i:03d}.png").astype(int)
        b = read_image(tmp_path / f"part/{i:03d}.png").astype(int)
        assert np.abs(a - b).max() <= 1, f"frame {i} differs after resume"


def test_painting_presets_choose_the_optimisation_and_stay_out_of_dream_cycles():
    from dreamstream.stream import settings as S

    painting = [n for n in S.list_presets() if n.startswith("painting")]
    assert len(painting) >= 3
    for name in painting:
        assert S.resolve(preset=name).method == "optimize"
    assert not set(painting) & set(S.dream_presets())
    assert {"subtle", "classic", "deep", "eyes"} <= set(S.dream_presets())
