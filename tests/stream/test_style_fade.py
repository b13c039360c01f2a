"""Styles along time (``--style "0:(3), 120:(7)"``): cross-fades from the CLI to each frame.

The 26-style network runs for real on tiny frames (onnxruntime, a few
hundredths of a second a frame): what is tested is the look of each frame.
"""

from __future__ import annotations

import json

import av
import cv2
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream import cli, pipeline
from dreamstream.stream import settings as S
from dreamstream.stream.io import Frame, read_image
from dreamstream.stream.jobs import render_file
from dreamstream.stream.processors import StyleProcessor
from tests.stream.test_pipeline import moving_frames
from tests.stream.test_pipeline import write_clip as write_moving_clip
from tests.stream.test_resume import stopped_then_resumed

FADE = "0:(3), 10:(7)"  # 3 is pale and 7 is blue: their colour statistics differ clearly


@pytest.fixture(scope="module")
def picture(samples) -> np.ndarray:
    return cv2.resize(read_image(samples / "chelsea.jpg"), (64, 40), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("fade") / "pan.mp4"
    return write_moving_clip(path, moving_frames(8), audio=False)


def _style(style, **kw) -> StyleProcessor:
    return StyleProcessor(S.Settings(style=style, **kw).setup("style", 25))


def _gram(image: np.ndarray) -> np.ndarray:
    """The colour Gram matrix (3x3) of an RGB image in 0-1."""
    pixels = image.reshape(-1, 3).astype(np.float64) / 255.0
    return pixels.T @ pixels / len(pixels)


def _share(image, a, b) -> float:
    """Where ``image``'s Gram matrix lies on the line from ``a``'s (0) to ``b``'s (1)."""
    ga, gb, g = _gram(a), _gram(b), _gram(image)
    return float(np.sum((g - ga) * (gb - ga)) / np.sum((gb - ga) ** 2))


def test_style_keys_from_the_cli_config_files_and_the_api(tmp_path, picture):
    from dreamstream.stream import api

    args = cli.build_parser().parse_args(["style", "in.mp4", "-o", "o.mp4", "--style", FADE])
    s = cli._settings_from(args)
    assert s.style == FADE and s.style_setup().style == FADE
    assert S.Settings(**json.loads(json.dumps(s.as_dict()))) == s  # the metadata round trip
    config = tmp_path / "c.toml"
    config.write_text('style = "0:( 3 ),2s:(7),hold"\n')
    assert S.resolve(config=str(config)).style == "0:(3), 2s:(7), hold"  # canonical
    plain = api.stylize(picture, style=3, temporal=0.8)
    assert np.array_equal(api.stylize(picture, style=FADE), plain)  # frame 0: style 3


def test_bad_style_keys_exit_2_in_one_line_and_make_nothing(capsys, samples, tmp_path):
    out = tmp_path / "o.mp4"
    code = cli.main(["style", str(samples / "clip.mp4"), "-o", str(out), "--style", "0:3, 120:7"])
    err = capsys.readouterr().err
    assert code == 2 and err == (
        "dreamstream: error: style index must be 0-25, got 120; "
        "keyframed styles go in parentheses: 0:(3), 120:(7)\n"
    )
    code = cli.main(["style", str(samples / "clip.mp4"), "-o", str(out), "--style", "0:(3), 9:(x"])
    assert code == 2 and capsys.readouterr().err.count("\n") == 1
    assert not list(tmp_path.iterdir())
    with pytest.raises(InputError, match="--style keyframes and --style-image"):
        S.Settings(style="0:(a.jpg), 9:(b.jpg)", style_image="c.jpg")
    with pytest.raises(InputError, match="--method optimize takes no keyframed --style"):
        S.Settings(style=FADE, method="optimize", style_image="c.jpg")


def test_a_frame_between_two_keys_is_between_the_two_styles(picture):
    fade, only_3, only_7 = _style(FADE), _style("3"), _style("7")
    a, b = only_3.first(picture, 0), only_7.first(picture, 0)
    # Each end is the plain single-style render, to the bit.
    assert np.array_equal(fade.first(picture, 0), a)
    assert np.array_equal(fade.first(picture, 10), b) and np.array_equal(fade.first(picture, 40), b)
    assert np.abs(a.astype(int) - b).mean() > 10  # the two looks differ clearly
    # The style vector is halfway; the look moves from one to the other, step by step.
    assert fade.track.vector(5)[[3, 7]] == pytest.approx([0.5, 0.5])
    shares = [_share(fade.first(picture, i), a, b) for i in range(11)]
    assert shares[0] == 0 and shares[10] == 1
    assert 0.3 < shares[5] < 0.7, shares
    assert all(x < y for x, y in zip(shares, shares[1:], strict=False)), shares


def test_hold_switches_at_the_key_without_carrying_the_old_look(picture):
    hold = _style("0:(3), 6:(7), hold")
    a, b = _style("3").first(picture, 0), _style("7").first(picture, 0)
    assert np.array_equal(hold.first(picture, 5), a) and np.array_equal(hold.first(picture, 6), b)
    ones = np.ones(picture.shape[:2], np.float32)
    assert np.array_equal(hold.next(picture, 6, a, ones, None), b)  # the cut is clean
    carried = hold.next(picture, 7, b, ones, None)
    assert np.abs(carried.astype(int) - b).max() <= 1  # and then carried as usual
    linear = _style(FADE)  # a fade's key is no cut: the carry goes on through it
    assert not np.array_equal(linear.next(picture, 10, a, ones, None), b)


def test_the_temporal_carry_fades_without_a_flash_at_the_keys(picture):
    frames = [Frame(picture, i) for i in range(24)]
    out = [f.image for f in pipeline.render(frames, _style("4:(3), 14:(7)", temporal=0.8))]
    a, b = _style("3").first(picture, 0), _style("7").first(picture, 0)
    shares = [_share(o, a, b) for o in out]
    assert shares[:5] == [0.0] * 5
    # Through both keys the look only moves forward, never past either end.
    assert all(-0.01 < y - x for x, y in zip(shares, shares[1:], strict=False)), shares
    assert max(shares) < 1.01 and shares[-1] > 0.9, shares


def test_a_resumed_fade_equals_one_run_and_the_metadata_records_it(tmp_path, clip):
    settings = S.Settings(style="0:(3), 5:(7)", end="8", width=64)
    render_file("style", str(clip), f"{tmp_path}/one/%03d.png", settings)
    first, again = stopped_then_resumed("style", clip, f"{tmp_path}/two/%03d.png", settings)
    assert first["interrupted"] and first["frames"] == 3
    assert again["skipped"] == 3 and again["frames"] == 5
    for i in range(8):
        one, two = (read_image(tmp_path / part / f"{i:03d}.png") for part in ("one", "two"))
        assert np.array_equal(one, two), f"frame {i} differs after resume"
    render_file("style", str(clip), f"{tmp_path}/three/%03d.png", settings.replace(style="3"))
    last = [read_image(tmp_path / part / "007.png") for part in ("one", "three")]
    assert np.abs(last[0].astype(int) - last[1]).mean() > 10  # frame 7 is style 7's, not 3's
    (sidecar,) = (tmp_path / "one").glob("dreamstream-*.json")
    assert json.loads(sidecar.read_text())["settings"]["style"] == "0:(3), 5:(7)"
    other = S.Settings(style="0:(3), 6:(7)", end="8", width=64)
    with pytest.raises(InputError, match=r"records --style '0:\(3\), 5:\(7\)', this render has"):
        render_file("style", str(clip), f"{tmp_path}/one/%03d.png", other, resume=True)


def test_a_video_records_the_schedule_and_a_segment_sees_its_own_frames_style(tmp_path, clip):
    keyed = S.Settings(style="0:(3), 4:(7), hold", start="4", end="6", width=64)
    render_file("style", str(clip), str(tmp_path / "k.mp4"), keyed)
    with av.open(str(tmp_path / "k.mp4")) as video:
        recorded = json.loads(video.metadata["comment"])
    assert recorded["settings"]["style"] == "0:(3), 4:(7), hold"
    # A render (or a farm segment) that starts at frame 4 styles it as frame 4: style 7.
    for name, style in (("keyed", keyed.style), ("seven", "7"), ("three", "3")):
        render_file("style", str(clip), f"{tmp_path}/{name}/%03d.png", keyed.replace(style=style))
    first = {n: read_image(tmp_path / n / "004.png") for n in ("keyed", "seven", "three")}
    assert np.array_equal(first["keyed"], first["seven"])
    assert not np.array_equal(first["keyed"], first["three"])


@pytest.mark.slow  # Magenta's networks on Keras: TensorFlow starts
def test_pictures_cross_fade_through_their_style_vectors(tmp_path, picture, samples):
    for name, source in (("a.png", "coffee.jpg"), ("b.png", "astronaut.jpg")):
        small = cv2.resize(read_image(samples / source), (96, 96), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(tmp_path / name), small[..., ::-1])
    a, b = str(tmp_path / "a.png"), str(tmp_path / "b.png")
    fade = _style(f"0:({a}), 10:({b})")
    assert fade.runtime.runtime == "keras"  # Magenta's networks
    only_a, only_b = _style("0", style_image=a), _style("0", style_image=b)
    ends = only_a.first(picture, 0), only_b.first(picture, 0)
    assert np.array_equal(fade.first(picture, 0), ends[0])
    assert np.array_equal(fade.first(picture, 10), ends[1])
    va, vb = (fade.track.vectors[p] for p in (a, b))
    assert np.allclose(fade.track.vector(5), 0.5 * (va + vb), atol=1e-6)
    assert 0.2 < _share(fade.first(picture, 5), *ends) < 0.8
