"""The style runtime: the chooser, its fallbacks, and onnxruntime against the Keras port."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.style import parse_style
from dreamstream.stream import runtimes
from dreamstream.stream.settings import Settings

needs_ort = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed"
)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Each test starts with no recorded measurement and no GPU."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(runtimes, "gpu_likely", lambda: False)


def _frame(h: int = 22, w: int = 30) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    rgb = np.stack([np.sin(7 * x), np.cos(5 * y * (1 + x)), np.sin(3 * (x - y))], -1)
    return (rgb * 110 + 128).astype(np.uint8)


@needs_ort
def test_auto_picks_onnxruntime_on_a_cpu_and_it_runs():
    stylizer, choice = runtimes.load_stylizer("7", runtime="auto")
    assert choice.runtime == "onnxruntime"
    out = stylizer(_frame())
    assert out.shape == (22, 30, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - _frame().astype(int)).mean() > 10  # it did stylise


def test_auto_falls_back_to_keras_where_onnxruntime_cannot_run(monkeypatch):
    assert runtimes.choose("auto", picture_style=True).runtime == "keras"
    monkeypatch.setattr(runtimes, "gpu_likely", lambda: True)
    assert runtimes.choose("auto").runtime == "keras"
    monkeypatch.setattr(runtimes, "gpu_likely", lambda: False)
    monkeypatch.setattr(runtimes, "onnxruntime_installed", lambda: False)
    assert runtimes.choose("auto").runtime == "keras"


def test_onnxruntime_asked_for_where_it_cannot_run_is_an_input_error(monkeypatch):
    with pytest.raises(InputError, match="--style-image"):
        runtimes.choose("onnxruntime", picture_style=True)
    monkeypatch.setattr(runtimes, "onnxruntime_installed", lambda: False)
    with pytest.raises(InputError, match="not installed"):
        runtimes.choose("onnxruntime")
    with pytest.raises(InputError, match="--runtime must be one of"):
        Settings(runtime="tensorrt")


@needs_ort
def test_a_recorded_measurement_decides_auto():
    runtimes.record_measurement("multistyle26", {"onnxruntime": 3.0, "keras": 5.0})
    choice = runtimes.choose("auto")
    assert choice.runtime == "keras" and "measured" in choice.reason
    runtimes.record_measurement("multistyle26", {"onnxruntime": 6.0, "keras": 5.0})
    assert runtimes.choose("auto").runtime == "onnxruntime"


@needs_ort
def test_a_failing_onnxruntime_session_falls_back_to_keras_under_auto(monkeypatch):
    def broken():
        raise RuntimeError("no kernel for InstanceNormalization")

    monkeypatch.setattr(runtimes, "onnx_multistyle_net", broken)
    stylizer, choice = runtimes.load_stylizer("3", runtime="auto")
    assert choice.runtime == "keras" and "failed" in choice.reason
    assert stylizer(_frame()).shape == (22, 30, 3)
    with pytest.raises(RuntimeError):
        runtimes.load_stylizer("3", runtime="onnxruntime")


@needs_ort
@pytest.mark.backends
def test_onnxruntime_and_keras_agree_on_a_small_frame():
    weights = parse_style("3:0.5,12:0.5")
    onnx_net = runtimes.onnx_multistyle_net()
    keras_stylizer, _ = runtimes.load_stylizer("3:0.5,12:0.5", runtime="keras")
    x = (_frame(24, 32) / np.float32(255))[None]
    a = onnx_net(x, weights[None])
    b = keras_stylizer.net(x, weights[None])
    assert a.shape == b.shape == (1, 24, 32, 3)
    assert np.abs(a - b).max() < 1e-4
    # Through the whole Stylizer (uint8 in and out, odd size padded): at most one level apart.
    ort_stylizer, _ = runtimes.load_stylizer("3:0.5,12:0.5", runtime="onnxruntime")
    frame = _frame(21, 27)
    diff = np.abs(ort_stylizer(frame).astype(int) - keras_stylizer(frame).astype(int))
    assert diff.max() <= 1


def _modules_after(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code + "; import sys; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_cli_imports_no_framework():
    frameworks = ("'tensorflow'", "'keras'", "'jax'", "'torch'", "'onnxruntime'")
    loaded = _modules_after("import dreamstream.stream.cli as c; c.build_parser()")
    assert not [name for name in frameworks if name in loaded]
    # What --help and every command but live build: not even OpenCV.
    loaded = _modules_after(
        "import dreamstream.stream.cli as c; c.build_parser(live_options=False)"
    )
    assert not [name for name in (*frameworks, "'cv2'") if name in loaded]


@needs_ort
def test_a_style_render_on_onnxruntime_never_imports_tensorflow(tmp_path, samples):
    out = tmp_path / "out.png"
    code = (
        "from dreamstream.stream.cli import main; "
        f"assert main(['style', {str(samples / 'chelsea.jpg')!r}, '-o', {str(out)!r}, "
        "'--width', '64', '--runtime', 'onnxruntime', '--quiet']) == 0"
    )
    loaded = _modules_after(code)
    assert out.is_file()
    assert "'tensorflow'" not in loaded and "'keras'" not in loaded


@needs_ort
def test_thread_count_does_not_change_the_sums():
    x = (_frame(64, 96) / np.float32(255))[None]
    style = parse_style("7")[None]
    one, every = runtimes.onnx_multistyle_net(1), runtimes.onnx_multistyle_net(0)
    assert np.array_equal(one(x, style), every(x, style))


@needs_ort
def test_frames_styled_ahead_equal_frames_styled_one_at_a_time():
    from dreamstream.stream import pipeline
    from dreamstream.stream.io import Frame
    from dreamstream.stream.processors import StyleProcessor

    frames = [Frame(np.roll(_frame(40, 56), 3 * i, axis=1), i) for i in range(6)]
    ahead = StyleProcessor(Settings(style="4", temporal=0.5).style_setup())
    alone = StyleProcessor(Settings(style="4", temporal=0.5).style_setup())
    assert ahead.ahead is not None
    alone.ahead = None
    calls = {"n": 0}
    submit = ahead.ahead.submit

    def counted(frame, index, style=None):
        calls["n"] += 1
        submit(frame, index, style)

    ahead.ahead.submit = counted
    a = [f.image for f in pipeline.render(frames, ahead)]
    b = [f.image for f in pipeline.render(frames, alone)]
    assert calls["n"] == 6 and not ahead.ahead.pending  # every frame came from the pool
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
