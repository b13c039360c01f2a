"""Smoke tests of the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DREAMSTREAM = str(Path(sys.executable).with_name("dreamstream"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DREAMSTREAM, *args], capture_output=True, text=True, timeout=300)


def test_help_lists_the_subcommands():
    result = run("--help")
    assert result.returncode == 0
    for name in ("dream", "style", "live", "bench", "info"):
        assert name in result.stdout


def test_info_reports_versions_devices_and_weights():
    result = run("info", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["versions"]["tensorflow"]
    assert any(d.startswith("CPU") for d in report["devices"]["tensorflow"])
    for name in ("vgg16", "multistyle26", "arbitrary_predict", "arbitrary_transform"):
        assert Path(report["weights"][name]).is_file(), report["weights"][name]


def test_unknown_subcommand_is_a_usage_error():
    result = run("paint")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
