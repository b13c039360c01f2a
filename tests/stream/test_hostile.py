"""Hostile inputs (issue 21): bombs, empty files, FIFOs and wrong types get one line, in time.

Every bomb here is tiny on disk and huge only by what its header declares; no
test allocates what a bomb declares. Where a decoder would allocate before
failing, the test replaces it with one that fails the test when called, so a
regression fails fast instead of taking the machine's memory.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.io import images, open_source, read_image
from tests.stream.test_bad_input import assert_refused, assert_rendered, run_cli

W, H = 64, 48


def radiance_header(width: int, height: int) -> bytes:
    """A Radiance HDR file's header declaring ``width`` x ``height`` (no pixel data)."""
    return f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n".encode()


@pytest.fixture
def no_decoding(monkeypatch):
    """Make any OpenCV image decode in the reader fail the test (a bomb must not reach it)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a decoder was called")

    monkeypatch.setattr(images.cv2, "imread", refuse)
    monkeypatch.setattr(images.cv2, "imdecode", refuse)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(3)
    hdr = cv2.imencode(".hdr", rng.random((H, W, 3), dtype=np.float32))[1].tobytes()
    (folder / "radiance.jpg").write_bytes(hdr)  # a real, small HDR under a JPEG name
    (folder / "zero.png").write_bytes(b"")
    cv2.imwrite(str(folder / "ok.png"), rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    frames = folder / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:05d}.png"), rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    (frames / "00001.png").write_bytes(b"")  # the middle frame: empty
    with av.open(str(folder / "clip.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for _ in range(2):
            image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, "rgb24")))
        out.mux(stream.encode(None))
    return folder


# ------------------------------------------------------- fault 3: decoding bombs (stills)


def test_a_radiance_bomb_named_jpg_is_refused_before_decoding(tmp_path, no_decoding):
    bomb = tmp_path / "style.jpg"
    bomb.write_bytes(radiance_header(10000, 10000) + b"\x02\x02" * 64)
    with pytest.raises(InputError, match="style image") as error:
        read_image(bomb, "style image")
    assert str(bomb) in str(error.value)
    assert bomb.stat().st_size < 1000  # the bomb is declared, never made


def test_a_real_radiance_picture_under_a_jpeg_name_is_not_taken_as_a_picture(media):
    with pytest.raises(InputError, match="Radiance HDR"):
        read_image(media / "radiance.jpg", "style image")


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"PF\n10000 10000\n-1.0\n", "PFM"),
        (b"P7\nWIDTH 10000\nHEIGHT 10000\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n", "PAM"),
        (b"v/1\x01" + b"\x00" * 60, "OpenEXR"),
    ],
)
def test_other_formats_opencv_would_decode_are_refused_unread(tmp_path, no_decoding, head, name):
    bomb = tmp_path / "frame.png"
    bomb.write_bytes(head + b"\x00" * 32)
    with pytest.raises(InputError, match=name):
        read_image(bomb)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp", ".webp"])
def test_a_picture_is_judged_by_its_content_not_its_name(tmp_path, suffix):
    """A PNG over the limit is refused under any name; under the limit it reads."""
    data = cv2.imencode(".png", np.zeros((40, 50, 3), np.uint8))[1].tobytes()
    path = tmp_path / f"picture{suffix}"
    path.write_bytes(data)
    assert read_image(path).shape == (40, 50, 3)
    with pytest.raises(InputError, match="50x40"):
        read_image(path, max_pixels=40 * 50 - 1)


@pytest.mark.parametrize("kind", [".png", ".jpg", ".tif", ".bmp", ".webp"])
def test_every_known_format_is_sized_from_its_header_before_decoding(tmp_path, kind, no_decoding):
    """Each format OpenCV would decode is refused over the limit with no decode at all."""
    path = tmp_path / f"big{kind}"
    path.write_bytes(_encoded(kind, 40, 50))
    with pytest.raises(InputError, match="50x40"):
        read_image(path, max_pixels=1000)


def _encoded(kind: str, height: int, width: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    fmt = {".jpg": "JPEG", ".tif": "TIFF", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP"}[kind]
    Image.new("RGB", (width, height)).save(buffer, fmt)
    return buffer.getvalue()


# ------------------------------------------------------- fault 3: frames that grow


def _growing_clip(path: Path) -> Path:
    """An MPEG-TS clip whose frames are 64x48, then 96x64 (two streams back to back)."""

    def segment(w: int, h: int) -> bytes:
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mpegts") as out:
            stream = out.add_stream("mpeg2video", rate=10)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            for i in range(4):
                image = np.full((h, w, 3), 40 * i, np.uint8)
                out.mux(stream.encode(av.VideoFrame.from_ndarray(image, "rgb24")))
            out.mux(stream.encode(None))
        return buffer.getvalue()

    path.write_bytes(segment(64, 48) + segment(96, 64))
    return path


def test_video_frames_that_grow_past_the_limit_are_refused_each_time(tmp_path, caplog):
    clip = _growing_clip(tmp_path / "grow.ts")
    converted = []
    with open_source(clip, max_pixels=64 * 48) as source:
        real = av.VideoFrame.to_ndarray

        def watch(frame, *args, **kwargs):
            converted.append((frame.width, frame.height))
            return real(frame, *args, **kwargs)

        av.VideoFrame.to_ndarray = watch
        try:
            sizes = [frame.image.shape for frame in source]
        finally:
            av.VideoFrame.to_ndarray = real
    assert sizes and all(s == (48, 64, 3) for s in sizes)
    assert (96, 64) not in converted  # never converted, let alone styled
    assert "96x64" in source.warning and "over the limit" in source.warning


# ------------------------------------------------------- fault 10: empty pictures


def test_an_empty_png_is_one_line_as_a_style_picture(capsys, media, tmp_path):
    argv = ["style", media / "clip.mp4", "-o", tmp_path / "o.mp4", "--style-image"]
    assert_refused(
        capsys, [*argv, media / "zero.png"], "style image", "zero.png", "empty", folders=(media,)
    )


def test_an_empty_png_is_one_line_as_a_guide_picture(capsys, media, tmp_path):
    argv = ["dream", media / "clip.mp4", "-o", tmp_path / "o.mp4", "--steps", "1", "--guide"]
    assert_refused(capsys, [*argv, media / "zero.png"], "guide image", "empty", folders=(media,))


def test_an_empty_frame_in_a_folder_is_skipped_with_a_warning(capsys, media, tmp_path):
    out = tmp_path / "out.mp4"
    _, err = assert_rendered(
        capsys, ["style", media / "frames", "-o", out, "--quiet"], out, (media, tmp_path)
    )
    assert "00001.png" in err and "empty" in err and "Traceback" not in err
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 2


def test_an_empty_first_frame_is_one_line(capsys, tmp_path, media):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "00000.png").write_bytes(b"")
    argv = ["style", folder, "-o", tmp_path / "out.mp4"]
    assert_refused(capsys, argv, "00000.png", "empty", folders=(folder,))


# ------------------------------------------------------- fault 11: --config is a FIFO


def _in_time(call, seconds: float = 5.0):
    """``call()``'s result or exception, or a failure when it does not return in time."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 -- handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return thread.is_alive(), outcome


def test_a_fifo_as_config_is_refused_without_waiting(tmp_path):
    from dreamstream.stream.settings import resolve

    fifo = tmp_path / "settings.toml"
    os.mkfifo(fifo)
    hung, outcome = _in_time(lambda: resolve(config=str(fifo)))
    if hung:  # let the blocked reader go before failing
        with open(fifo, "w"):
            pass
    assert not hung, "reading a FIFO as --config blocked"
    assert isinstance(outcome.get("error"), InputError)
    assert "not a regular file" in str(outcome["error"]) and str(fifo) in str(outcome["error"])


def test_a_fifo_as_config_is_one_line_from_the_cli(capsys, tmp_path, media):
    fifo = tmp_path / "settings.toml"
    os.mkfifo(fifo)
    argv = ["style", media / "clip.mp4", "-o", tmp_path / "o.mp4", "--config", fifo]
    hung, outcome = _in_time(lambda: run_cli(capsys, *argv))
    if hung:
        with open(fifo, "w"):
            pass
    assert not hung
    status, _, err = outcome["value"]
    assert status == 2 and "not a regular file" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------- faults 6 and 12: the API


def _huge(height: int, width: int) -> np.ndarray:
    """A ``uint8`` RGB picture of any size that takes no memory (one pixel, broadcast)."""
    return np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (height, width, 3))


@pytest.fixture
def no_processor(monkeypatch):
    """Fail the test if the API builds a processor (a refusal must come before)."""
    from dreamstream.stream import api

    def refuse(*args, **kwargs):
        raise AssertionError("a processor was built")

    monkeypatch.setattr(api, "_processor", refuse)


@pytest.mark.parametrize("call", ["dream", "stylize"])
def test_the_api_applies_the_pixel_limit(call, no_processor):
    from dreamstream.stream import api

    with pytest.raises(InputError, match="20000x20000 .* over the limit of 33177600"):
        getattr(api, call)(_huge(20000, 20000))
    with pytest.raises(InputError, match="over the limit of 1000 pixels"):
        getattr(api, call)(_huge(40, 40), max_pixels=1000)


def test_render_applies_the_pixel_limit_to_every_frame():
    from dreamstream.stream import render

    frames = [np.zeros((8, 8, 3), np.uint8), _huge(12000, 12000)]
    outputs = render(iter(frames), lambda f: f, flow=False)
    assert next(outputs).shape == (8, 8, 3)
    with pytest.raises(InputError, match="frame 1 .* 12000x12000"):
        next(outputs)


@pytest.mark.parametrize(
    ("image", "needle"),
    [
        (np.zeros((8, 8, 3), np.float32), "uint8"),
        (np.zeros((8, 8), np.uint8), "HxWx3"),
        (np.zeros((8, 8, 4), np.uint8), "HxWx3"),
        ("picture.png", "NumPy"),
        (None, "NumPy"),
    ],
)
def test_the_api_refuses_what_is_not_an_rgb_picture(image, needle, no_processor):
    from dreamstream.stream import dream, stylize

    for call in (dream, stylize):
        with pytest.raises(InputError, match=needle):
            call(image)


@pytest.mark.parametrize(
    ("args", "kwargs", "needle"),
    [
        (([np.zeros((8, 8, 3), np.uint8)], "Dream"), {}, "'Dream'"),
        (([np.zeros((8, 8, 3), np.uint8)], "paint"), {}, "'paint'"),
        ((123,), {}, "123"),
        ((None,), {}, "None"),
        (([np.zeros((8, 8, 3), np.uint8)], 42), {}, "42"),
        (([np.zeros((8, 8, 3), np.uint8)],), {"preset": 5}, "preset"),
        (([np.zeros((8, 8, 3), np.uint8)],), {"config": 5}, "config"),
    ],
)
def test_render_refuses_bad_arguments_with_one_line(args, kwargs, needle, no_processor):
    from dreamstream.stream import render

    with pytest.raises(InputError, match=needle) as error:
        list(render(*args, flow=False, **kwargs))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("call", ["dream", "stylize"])
def test_preset_and_config_of_the_wrong_type_are_one_line(call, no_processor):
    from dreamstream.stream import api

    picture = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(InputError, match="preset must be"):
        getattr(api, call)(picture, preset=5)
    with pytest.raises(InputError, match="config must be"):
        getattr(api, call)(picture, config=5)


# ------------------------------------------------------- fault 4: weight-file bombs

BIG = 64 << 20  # no read of a weights file in these tests may be larger


@pytest.fixture
def no_big_reads(monkeypatch):
    """Fail the test if an HDF5 dataset over 64 MB is read (a bomb must be refused unread)."""
    import h5py

    real_getitem, real_array = h5py.Dataset.__getitem__, h5py.Dataset.__array__

    def guard(dataset):
        if dataset.size * dataset.dtype.itemsize > BIG:
            raise AssertionError(f"read {dataset.name} of {dataset.shape}")

    def getitem(self, *args, **kwargs):
        guard(self)
        return real_getitem(self, *args, **kwargs)

    def array(self, *args, **kwargs):
        guard(self)
        return real_array(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", getitem)
    monkeypatch.setattr(h5py.Dataset, "__array__", array)


def _declared(group, name: str, shape: tuple, dtype="float32"):
    """A dataset of ``shape`` with no data written: HDF5 allocates nothing for it."""
    return group.create_dataset(name, shape=shape, dtype=dtype)


def _hed_layout_bomb(path: Path, kernel_shape: tuple) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        vars_ = f.create_group("block1/layers/conv2d/vars")
        _declared(vars_, "0", kernel_shape)
        _declared(vars_, "1", (64,))
    return path


@pytest.mark.parametrize(
    "shape", [(30000, 30000), (3, 3, 3, 64 << 24)], ids=["3.6 GB kernel", "200 GiB kernel"]
)
def test_a_vgg16_h5_declaring_a_huge_kernel_is_refused_unread(tmp_path, shape, no_big_reads):
    from dreamstream.stream.weights.dream import load_backbone

    bomb = _hed_layout_bomb(tmp_path / "bomb.h5", shape)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(InputError, match=r"block1_conv1 .*\(3, 3, 3, 64\)") as error:
        load_backbone("vgg16-hed", ["block1_conv1"], weights=bomb)
    assert str(shape) in str(error.value) and "\n" not in str(error.value)


def test_a_legacy_vgg16_h5_declaring_200_gib_is_refused_unread(tmp_path, no_big_reads):
    import h5py

    from dreamstream.stream.weights.dream import read_vgg16_weights

    path = tmp_path / "vgg16_notop.h5"
    with h5py.File(path, "w") as f:
        group = f.create_group("block1_conv1")
        group.attrs["weight_names"] = [b"block1_conv1/kernel:0", b"block1_conv1/bias:0"]
        _declared(group, "block1_conv1/kernel:0", (3, 3, 3, 64))
        _declared(group, "block1_conv1/bias:0", (200 << 28,))
    with pytest.raises(InputError, match="block1_conv1"):
        read_vgg16_weights(path, ["block1_conv1"])


def test_an_inception_h5_declaring_a_huge_weight_is_refused_unread(tmp_path, no_big_reads):
    """Keras 3.x refuses this legacy-layout bomb itself too; the declared shapes go first."""
    import h5py

    from dreamstream.stream.weights.dream import read_inception_v3_network

    bomb = tmp_path / "inception.h5"
    with h5py.File(bomb, "w") as f:
        f.attrs["layer_names"] = [b"conv2d"]
        group = f.create_group("conv2d")
        group.attrs["weight_names"] = [b"conv2d/kernel:0"]
        _declared(group, "conv2d/kernel:0", (200 << 28, 3, 3, 32))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(InputError, match=r"does not fit InceptionV3.*53687091200"):
        read_inception_v3_network(bomb)


def test_a_wrong_h5_for_inception_is_one_line_and_no_warnings(capfd, recwarn):
    """The hed VGG16 (Keras 3 layout) as InceptionV3: once ~190 Keras warnings, now none."""
    from dreamstream.stream.weights.assets import embedded_path
    from dreamstream.stream.weights.dream import read_inception_v3_network

    capfd.readouterr()
    with pytest.raises(InputError, match="does not fit InceptionV3") as error:
        read_inception_v3_network(embedded_path("vgg16-hed"))
    assert "\n" not in str(error.value)
    assert len(recwarn) == 0, [str(w.message) for w in recwarn][:3]
    assert "Warning" not in capfd.readouterr().err


def _v73_bomb(path: Path, kernel_shape: tuple, layers_shape: tuple = (1, 1)) -> Path:
    """A v7.3 .mat whose conv1_1 kernel (or its ``layers`` cell) is declared huge."""
    import h5py

    with h5py.File(path, "w") as f:
        refs = f.create_group("#refs#")
        layer = refs.create_group("layer0")
        layer["name"] = np.array([ord(c) for c in "conv1_1"], "uint16")[:, None]
        kernel = _declared(refs, "k0", kernel_shape)
        bias = refs.create_dataset("b0", data=np.zeros((64, 1), "float32"))
        layer.create_dataset(
            "weights", data=np.array([[kernel.ref], [bias.ref]]), dtype=h5py.ref_dtype
        )
        if layers_shape == (1, 1):
            f.create_dataset("layers", data=np.array([[layer.ref]]), dtype=h5py.ref_dtype)
        else:
            _declared(f, "layers", layers_shape, h5py.ref_dtype)
    return path


@pytest.mark.parametrize(
    ("kernel", "cells"),
    [((64 << 24, 3, 3, 3), (1, 1)), ((64, 3, 3, 3), (1, 27 << 30))],
    ids=["200 GiB kernel", "200 GiB layers cell"],
)
def test_a_v73_mat_declaring_200_gib_is_refused_unread(tmp_path, kernel, cells, no_big_reads):
    from dreamstream.stream.weights.vgg19_mat import read_vgg19_mat

    bomb = _v73_bomb(tmp_path / "vgg19.mat", kernel, cells)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(InputError, match="imagenet-vgg-verydeep-19"):
        read_vgg19_mat(bomb, ("block1_conv1",))


# ------------------------------------------------------- minor: framework warnings


def test_a_huge_octave_count_lets_no_framework_warning_through(media, tmp_path):
    """octaves = 100000 dreams the octaves that fit, and TensorFlow's retracing notes stay
    off stderr. A real process, with none of the test run's TensorFlow log settings, so the
    CLI's own settings are what is tested.
    """
    import subprocess
    import sys

    config = tmp_path / "many.toml"
    config.write_text("octaves = 100000\nsteps = 1\n")
    out = tmp_path / "out.png"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "ABSL_MIN_LOG_LEVEL")
    }
    argv = ["dream", media / "ok.png", "-o", out, "--config", config]
    command = [sys.executable, "-m", "dreamstream.stream.cli", *map(str, argv)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stderr == "", done.stderr[-1500:]
    assert out.is_file()


def test_a_compressed_v5_mat_declaring_4_gib_is_one_line(tmp_path):
    """A regression guard (it was already refused): v5 tags declare at most 4 GiB, and
    scipy reads declared sizes it cannot fill as 'could not read bytes'."""
    import struct
    import zlib

    from scipy.io import savemat

    from dreamstream.stream.weights.vgg19_mat import read_vgg19_mat

    buffer = io.BytesIO()
    savemat(buffer, {"layers": np.zeros((2, 2), np.float32)}, do_compression=True)
    data = buffer.getvalue()
    kind, size = struct.unpack_from("<II", data, 128)
    assert kind == 15  # miCOMPRESSED: the matrix inside is zlib data
    matrix = bytearray(zlib.decompress(data[136 : 136 + size]))
    struct.pack_into("<II", matrix, 0, 14, 0xFFFFFFF0)  # the matrix: 4 GiB
    struct.pack_into("<ii", matrix, 32, 100000, 100000)  # its dimensions
    values = matrix.rfind(struct.pack("<II", 7, 16))  # its float32 values: 4 GiB
    struct.pack_into("<II", matrix, values, 7, 0xFFFFFFF0)
    packed = zlib.compress(bytes(matrix))
    bomb = tmp_path / "vgg19.mat"
    bomb.write_bytes(data[:128] + struct.pack("<II", 15, len(packed)) + packed)
    with pytest.raises(InputError, match="imagenet-vgg-verydeep-19"):
        read_vgg19_mat(bomb, ("block1_conv1",))


def test_tiff_frames_of_any_sample_type_print_only_dreamstreams_lines(capfd, tmp_path):
    """16-bit TIFF frames render; an int16 one (Pillow cannot parse its header) is skipped
    with one warning naming its sample type; nothing from OpenCV or Pillow reaches stderr."""
    folder = tmp_path / "tiffs"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i, dtype in enumerate((np.uint16, np.int16, np.uint16)):
        image = rng.integers(0, 30000, (H, W, 3)).astype(dtype)
        (folder / f"{i:05d}.tif").write_bytes(cv2.imencode(".tif", image)[1].tobytes())
    out = tmp_path / "out.mp4"
    status, _, err = run_cli(capfd, "style", folder, "-o", out, "--quiet")
    assert status == 0, err
    assert err.strip().splitlines() == [
        f"dreamstream: warning: skipped unsupported image sample type int16 in: "
        f"{folder / '00001.tif'}"
    ], err
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 2
