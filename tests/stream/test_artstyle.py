"""``dreamstream style --method optimize`` end to end: sinks, resume, refusals (tiny sizes)."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from scipy.io import savemat

from dreamstream.stream import pipeline
from dreamstream.stream.artstyle import ArtStyleProcessor, _History, make_painter
from dreamstream.stream.io import open_source, read_image
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
    "temporal frames without 1": ("{o} --temporal-frames 10,20", "--temporal-frames", "10,20"),
    "temporal frame 0": ("{o} --temporal-frames 0,1,5", "--temporal-frames", "0,1,5"),
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
    painter = make_painter(
        Settings(method="optimize", style_image=str(SAMPLES / "coffee.jpg")).art_setup()
    )
    size = painted.shape[1::-1]
    plain = cv2.resize(read_image(SAMPLES / "chelsea.jpg"), size, interpolation=cv2.INTER_AREA)
    assert painter.style_distance(painted) < 0.8 * painter.style_distance(plain)


def render_and_resume(capsys, tmp_path, argv: list, frames: int, cut: int) -> list:
    """Frames of one run and of a run stopped after ``cut`` frames then resumed, as int pairs."""
    argv = [*argv, "--frames", str(frames)]
    assert run_cli(capsys, *argv, "-o", tmp_path / "full/%03d.png")[0] == 0
    assert run_cli(capsys, *argv, "--frames", str(cut), "-o", tmp_path / "part/%03d.png")[0] == 0
    status, _, err = run_cli(capsys, *argv, "-o", tmp_path / "part/%03d.png", "--resume")
    assert status == 0, err
    return [
        tuple(read_image(tmp_path / f"{run}/{i:03d}.png").astype(int) for run in ("full", "part"))
        for i in range(frames)
    ]


def test_frame_folder_resume_equals_one_run(capsys, tmp_path):
    argv = ["style", SAMPLES / "clip.mp4", *OPTIMIZE, *QUICK]
    for i, (a, b) in enumerate(render_and_resume(capsys, tmp_path, argv, 3, 2)):
        assert np.array_equal(a, b), f"frame {i} differs after resume"  # the README: equal


def test_painting_presets_choose_the_optimisation_and_stay_out_of_dream_cycles():
    from dreamstream.stream import settings as S

    painting = [n for n in S.list_presets() if n.startswith("painting")]
    assert len(painting) >= 3
    for name in painting:
        assert S.resolve(preset=name).method == "optimize"
    assert not set(painting) & set(S.dream_presets())
    assert {"subtle", "classic", "deep", "eyes"} <= set(S.dream_presets())


LONG = ("--temporal-frames", "1,2,4")


def test_long_term_loss_reaches_back_along_a_moving_clip():
    settings = Settings(
        method="optimize",
        style_image=str(SAMPLES / "coffee.jpg"),
        iterations=2,
        iterations_next=1,
        levels=1,
        temporal_frames="1,2,4",
    )
    processor = ArtStyleProcessor(settings.art_setup())
    painter, calls = processor.painter, []

    def spy(frame, **kwargs):
        calls.append(kwargs.get("older"))
        return painter(frame, **kwargs)

    processor.painter = spy
    with open_source(SAMPLES / "clip.mp4", frames=6, width=64) as source:
        outputs = [f.image for f in pipeline.render(source, processor)]
    assert len(outputs) == 6 and outputs[-1].shape[1] == 64
    assert calls[0] is None  # the first frame: nothing to hold it to
    used = [[pair is not None for pair in older] for older in calls[1:]]
    # Frames 1-5: 2 back exists from frame 2 on, 4 back from frame 4 on.
    assert used == [[False, False], [True, False], [True, False], [True, True], [True, True]]
    for warped, mask in calls[-1]:
        assert warped.shape == outputs[0].shape and mask.shape == outputs[0].shape[:2]
        assert mask.mean() > 0.3  # a pan: most of the older frame is found again
    processor.first(outputs[0], 99)  # a scene cut or a reset: the history starts again
    assert [kept[0] for kept in processor.history.frames] == [99]


def test_history_picks_by_source_index_at_any_stride_and_forgets_what_no_frame_needs():
    history = _History((1, 10, 20, 40), "dis", "medium")
    image = np.zeros((16, 16, 3), np.uint8)
    for index in range(0, 61, 3):  # every third frame of the source
        history.add(index, image, image)
    kept = [kept[0] for kept in history.frames]
    assert kept[0] <= 63 - 40 < kept[1] and len(kept) <= 15
    assert [p and p[0] for p in history.picks(63)] == [51, 42, 21]  # 12, 21 and 42 back
    history.reset()
    history.add(0, image, image)
    history.add(30, image, image)
    # 10 and 20 back lead to frame 30, the carry's own previous one: no second hold on it.
    assert [p and p[0] for p in history.picks(60)] == [None, None, 0]
    assert history.picks(5) == [None, None, None]  # indices went back: forgotten
    assert not history.frames


def test_long_term_render_resumes_and_writes_every_frame(capsys, tmp_path):
    argv = ["style", SAMPLES / "clip.mp4", *OPTIMIZE, *QUICK, *LONG]
    for i, (a, b) in enumerate(render_and_resume(capsys, tmp_path, argv, 5, 3)):
        assert a.shape == b.shape == (36, 64, 3)
        if i < 3:  # rendered before the interruption: the same frames
            assert np.array_equal(a, b), f"frame {i} differs"
