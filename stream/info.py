"""``dreamstream info``: what this machine offers, gathered in one report.

Above both :mod:`.machine` (frameworks, devices, CPU, weights files) and
:mod:`.runtimes` (the style network's runtime, which reads the CPU flags from
:mod:`.machine`): the report asks each of them, so neither imports the other
for it.
"""

from __future__ import annotations

from dreamstream.stream.machine import devices, dream_compute, versions, vgg16_cache, weights
from dreamstream.stream.runtimes import choose as choose_runtime


def report() -> dict:
    """Everything ``dreamstream info`` shows, JSON-able."""
    import keras

    return {
        "versions": versions(),
        "keras_backend": keras.backend.backend(),
        "devices": devices(),
        "dream_compute": dream_compute("auto"),
        "style_runtime": choose_runtime("auto").as_dict(),
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
    style = info["style_runtime"]
    lines.append(f"style runtime:       {style['runtime']}: {style['reason']} (--runtime auto)")
    lines.append("embedded weights:")
    lines += [f"  {k:<18} {v}" for k, v in info["weights"].items()]
    vgg = info["vgg16"]
    lines.append("vgg16 (default dream backbone):")
    lines.append(f"  {'loads':<18} {vgg['file']}")
    lines.append(f"  {'cache':<18} {vgg['cache']} ({vgg['state']})")
    return "\n".join(lines)
