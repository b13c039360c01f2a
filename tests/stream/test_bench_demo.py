"""``make demo``'s runner: the time it announces, the record of the last run, the render."""

from __future__ import annotations

import json
import subprocess

from dreamstream.stream.bench import demo


def test_calibration_measures_a_positive_rate():
    assert demo.calibrate() > 0.1  # GFLOP/s: any CPU that runs TensorFlow does far more


def test_calibration_is_held_to_avx2_under_the_onednn_cap(monkeypatch):
    seen = {}

    def fake_run(cmd, env, **kwargs):
        seen.update(env)
        return subprocess.CompletedProcess(cmd, 0, stdout="50.0\n")

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    monkeypatch.setattr(demo.subprocess, "run", fake_run)
    assert demo.calibrate() == 50.0
    assert seen["OPENBLAS_CORETYPE"] == "Haswell"
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    seen.clear()
    demo.calibrate()
    assert "OPENBLAS_CORETYPE" not in seen or seen["OPENBLAS_CORETYPE"] != "Haswell"


def test_estimate_follows_the_machine_rate_and_precision():
    slow, fast = demo.estimate(gflops=50, bf16=False), demo.estimate(gflops=100, bf16=False)
    assert slow > fast > demo.STARTUP_SECONDS
    assert demo.estimate(gflops=50, bf16=True) < slow


def test_last_run_is_recorded_per_settings_and_cap(tmp_path, monkeypatch):
    record = tmp_path / "runs.json"
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert demo._last_run(record, demo.DEMO_FLAGS) is None
    demo._save_run(record, demo.DEMO_FLAGS, 21.34)
    assert demo._last_run(record, demo.DEMO_FLAGS) == 21.3
    assert demo._last_run(record, ["--preset", "deep"]) is None
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert demo._last_run(record, demo.DEMO_FLAGS) is None  # capped runs are kept apart
    record.write_text("not json")
    assert demo._last_run(record, demo.DEMO_FLAGS) is None


def test_first_line_says_about_how_long(monkeypatch):
    monkeypatch.setattr(demo, "calibrate", lambda: 100.0)
    monkeypatch.setattr(demo.os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    line = demo.first_line(demo.DEMO_FLAGS, None)
    expected = demo.estimate(gflops=100.0)
    assert line.startswith(f"make demo: this takes about {expected:.0f} s on this machine")
    assert "the last run here took 19 s" in demo.first_line(demo.DEMO_FLAGS, 19.2)
    other = demo.first_line(["--preset", "deep"], None)
    assert "no estimate for these settings" in other


def test_first_line_warns_when_the_machine_is_busy(monkeypatch):
    monkeypatch.setattr(demo, "calibrate", lambda: 100.0)
    monkeypatch.setattr(demo.os, "getloadavg", lambda: (demo.cores() + 8.0, 0.0, 0.0))
    line = demo.first_line(demo.DEMO_FLAGS, 40.0)
    assert line.startswith("make demo: this takes about")
    assert "busy now" in line and "expect longer" in line
    assert line.endswith("the last run here took 40 s")


def test_make_demo_renders_and_records(tmp_path, capsys):
    out, record = tmp_path / "demo.mp4", tmp_path / "runs.json"
    flags = ["--preset", "demo", "--frames", "2", "--width", "96", "--octaves", "1", "--quiet"]
    assert demo.make_demo(str(out), flags, record) == 0
    assert out.stat().st_size > 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("make demo (--preset demo --frames 2")
    assert lines[-1].startswith("done in ") and str(out) in lines[-1]
    assert list(json.loads(record.read_text()).values())[0] > 0


def test_make_demo_failure_is_not_recorded(tmp_path):
    record = tmp_path / "runs.json"
    bad = ["--preset", "demo", "--steps", "-1"]
    assert demo.make_demo(str(tmp_path / "demo.mp4"), bad, record) == 2
    assert not record.exists()
    assert not (tmp_path / "demo.mp4").exists()
