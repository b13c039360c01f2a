"""The line that names the machine under every benchmark table."""

from dreamstream.stream import bench


def test_results_name_the_cpu_its_speed_flags_and_any_onednn_cap(monkeypatch):
    # Listing devices would import TensorFlow and JAX into the test process for nothing.
    monkeypatch.setattr("dreamstream.stream.machine.devices", lambda: {})
    monkeypatch.setattr(
        "dreamstream.stream.machine.cpu_flags", lambda: frozenset({"avx2", "sse4_2"})
    )
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    m = bench.machine()
    assert m["cpu_flags"] == ["avx2"] and m["onednn_max_cpu_isa"] == "AVX2"
    line = bench.markdown({"machine": m}).splitlines()[0]
    assert m["cpu"] in line and "CPU flags: avx2; ONEDNN_MAX_CPU_ISA=AVX2." in line
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setattr("dreamstream.stream.machine.cpu_flags", lambda: frozenset())
    line = bench.markdown({"machine": bench.machine()}).splitlines()[0]
    assert "CPU flags: none of amx_bf16 avx2" in line and "ONEDNN" not in line
