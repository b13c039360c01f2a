"""How the dream network computes on this machine: numeric precision and XLA.

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

import functools
from pathlib import Path

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
_POLICY = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
_BF16_FLAGS = {"amx_bf16", "avx512_bf16"}


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
        fast_bf16 = tensorflow and not gpu and bool(_BF16_FLAGS & cpu_flags())
        precision = "bfloat16" if fast_bf16 else "float32"
    return {"precision": _POLICY[precision], "xla": gpu or not tensorflow}
