"""How the dream network computes: precision and XLA chosen per machine."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from dreamstream.stream import machine as compute


@pytest.fixture
def cpu_only(monkeypatch):
    """A TensorFlow CPU machine whose flags the test sets."""
    monkeypatch.setattr(compute, "gpu_visible", lambda: False)
    monkeypatch.setattr("dreamstream.core.backend.backend_name", lambda: "tensorflow")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)

    def with_flags(*flags):
        monkeypatch.setattr(compute, "cpu_flags", lambda: frozenset(flags))

    return with_flags


def test_auto_uses_bfloat16_only_where_the_cpu_has_it(cpu_only):
    cpu_only("avx2", "fma")
    assert compute.dream_compute("auto") == {"precision": "float32", "xla": False}
    cpu_only("avx512f", "amx_bf16", "amx_tile")
    assert compute.dream_compute("auto") == {"precision": "mixed_bfloat16", "xla": False}
    cpu_only("avx512_bf16")
    assert compute.dream_compute("auto")["precision"] == "mixed_bfloat16"


def test_auto_stays_float32_where_onednn_is_limited_below_its_bfloat16_kernels(
    cpu_only, monkeypatch
):
    cpu_only("avx512_bf16")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert compute.dream_compute("auto")["precision"] == "float32"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert compute.dream_compute("auto")["precision"] == "mixed_bfloat16"


def test_an_explicit_precision_is_taken_as_asked(cpu_only):
    cpu_only("amx_bf16")
    assert compute.dream_compute("float32")["precision"] == "float32"
    assert compute.dream_compute("float16")["precision"] == "mixed_float16"


def test_gpus_and_jax_compile_with_xla_and_stay_float32(monkeypatch):
    monkeypatch.setattr(compute, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    monkeypatch.setattr(compute, "gpu_visible", lambda: True)
    assert compute.dream_compute("auto") == {"precision": "float32", "xla": True}
    monkeypatch.setattr(compute, "gpu_visible", lambda: False)
    monkeypatch.setattr("dreamstream.core.backend.backend_name", lambda: "jax")
    assert compute.dream_compute("auto") == {"precision": "float32", "xla": True}


def test_tensorflow_loads_without_importing_jax_and_jax_still_imports_after():
    if importlib.util.find_spec("jax") is None:
        pytest.skip("JAX is not installed: nothing to hide")
    code = (
        "import sys; from dreamstream.stream.machine import load_framework; load_framework(); "
        "print('tensorflow' in sys.modules, 'jax' in sys.modules); "
        "import jax.numpy as jnp; print(int(jnp.arange(3).sum()))"
    )
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split() == ["True", "False", "3"]
