"""Bad input refused in well under a second: before any framework is imported.

One subprocess runs every case through ``cli.main`` and then reports whether
TensorFlow, Keras, JAX or PyTorch were imported; each case must give exit
status 2 and exactly one ``dreamstream: error:`` line naming the bad value.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import SAMPLES

SCRIPT = r"""
import contextlib, io, json, os, sys
from dreamstream.stream import cli
cases = json.loads(sys.argv[1])
results = []
for case in cases:
    os.environ.pop("DISPLAY", None)
    os.environ.update(case.get("env", {}))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli.main(case["argv"])
    results.append([status, err.getvalue()])
loaded = sorted(m for m in ("tensorflow", "keras", "jax", "torch") if m in sys.modules)
print(json.dumps({"results": results, "loaded": loaded}))
"""


def refuse_all(cases: list[dict], tmp_path) -> list[str]:
    """Run ``cases`` in one fresh process; returns each case's one error line."""
    env = {"PYTHONPATH": "", "TF_CPP_MIN_LOG_LEVEL": "2", "DREAMSTREAM_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**env, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["loaded"] == [], "a framework was imported before the error"
    lines = []
    for case, (status, err) in zip(cases, report["results"], strict=True):
        assert status == 2, (case, err)
        assert len(err.splitlines()) == 1 and err.startswith("dreamstream: error: "), err
        lines.append(err.strip())
    return lines


def test_window_output_without_a_usable_display(tmp_path):
    clip = str(SAMPLES / "clip.mp4")
    cases = [
        {"argv": ["style", clip, "-o", "window", "--frames", "2"]},
        {"argv": ["dream", clip, "-o", "window"], "env": {"DISPLAY": ":99"}},
        {"argv": ["live", clip, "--mode", "style"], "env": {"DISPLAY": ":98"}},
    ]
    first, second, live = refuse_all(cases, tmp_path)
    assert first.endswith("output window: cannot open a window: DISPLAY is not set")
    assert second.endswith("cannot open a window: no X server answers at DISPLAY=:99")
    assert "no X server answers at DISPLAY=:98" in live and "--serve" in live


def test_config_files_with_values_of_the_wrong_type(tmp_path):
    clip = str(SAMPLES / "clip.mp4")
    lines = {
        "preserve_color": 'preserve_color = "false"',
        "flow": 'flow = "no"',
        "octaves": "octaves = 2.5",
        "seed": 'seed = "abc"',
        "width": 'width = "wide"',
        "crf": "crf = true",
    }
    cases = []
    for name, line in lines.items():
        (tmp_path / f"{name}.toml").write_text(line + "\n")
        mode = "style" if name == "preserve_color" else "dream"
        config = str(tmp_path / f"{name}.toml")
        cases.append({"argv": [mode, clip, "-o", str(tmp_path / "o.mp4"), "--config", config]})
    for (name, line), error in zip(lines.items(), refuse_all(cases, tmp_path), strict=True):
        value = line.split(" = ")[1].replace('"', "'").replace("true", "True")
        assert f"{name}.toml: {name} must be " in error and error.endswith(f"got {value}"), error
    assert not (tmp_path / "o.mp4").exists()
