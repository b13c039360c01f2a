"""How the dream network computes: precision and XLA chosen per machine."""

from __future__ import annotations

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
