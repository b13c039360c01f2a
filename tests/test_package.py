"""The distribution installs as dreamstream.core / dreamstream.stream and nothing else."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import dreamstream.core
import dreamstream.stream

REPO = Path(__file__).resolve().parents[1]


def test_import_maps_repository_folders():
    assert Path(dreamstream.core.__file__).parent == REPO / "core"
    assert Path(dreamstream.stream.__file__).parent == REPO / "stream"


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for top in ("core", "stream"):
        for init in (REPO / top).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO).parts
            found.add(".".join(("dreamstream", *rel)))
    assert found <= listed, f"add to pyproject packages: {sorted(found - listed)}"


def test_importing_loads_no_framework():
    code = (
        "import sys, dreamstream.core, dreamstream.stream; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_wheel_has_no_top_level_core_or_stream(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("dreamstream-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"dreamstream", wheel.name.split("-py3")[0] + ".dist-info"}
    assert "dreamstream/core/__init__.py" in names
    assert "dreamstream/stream/cli.py" in names
    assert "dreamstream/presets/classic.toml" in names  # presets ship with the package
    assert "dreamstream/stream/live/control.html" in names  # so does the control page
    assert not any(n.startswith(("core/", "stream/")) for n in names)
