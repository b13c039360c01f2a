"""The import graph of core/ and stream/: no circles, and the floors of docs/ARCHITECTURE.md.

Every module is parsed with ``ast``; imports at the top and inside functions
count alike (a lazy import hides a circle from the interpreter, not from the
design). An edge goes from a module to each ``dreamstream`` module it names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every module under core/ and stream/."""
    found = {}
    for top in ("core", "stream"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found["dreamstream." + ".".join(parts)] = path
    return found


MODULES = _modules()


def _known(name: str) -> str | None:
    """The module ``name`` lives in: itself, or the nearest package above it that we have."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imported(module: str, path: Path) -> set[str]:
    """The dreamstream modules ``module`` imports anywhere in its file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            # ``from pkg import mod`` names the module; ``from mod import f`` names mod.
            names = [f"{base}.{alias.name}" for alias in node.names]
            names = [n for n in names if n in MODULES] or [base]
        else:
            continue
        found.update(m for m in map(_known, names) if m)
    found.discard(module)
    return found


GRAPH = {name: _imported(name, path) for name, path in MODULES.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt, path)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_the_walk_sees_the_modules_and_their_imports():
    # The walk itself must work, or "no cycle" would say nothing.
    assert "dreamstream.stream.jobs" in MODULES and "dreamstream.core.dream" in MODULES
    assert "dreamstream.stream.processors" in GRAPH["dreamstream.stream.jobs"]
    assert "dreamstream.stream.farm.job" in GRAPH["dreamstream.stream.jobs"]  # inside a function
    assert "dreamstream.stream.farm.plan" in GRAPH["dreamstream.stream.farm.job"]  # from pkg import
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_there_is_no_import_circle():
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_core_never_imports_stream():
    wrong = {
        (m, d)
        for m, deps in GRAPH.items()
        if m.startswith("dreamstream.core")
        for d in deps
        if d.startswith("dreamstream.stream")
    }
    assert not wrong


def _wing(module: str) -> str:
    """The wing of docs/ARCHITECTURE.md a stream module belongs to."""
    rest = module.removeprefix("dreamstream.stream").lstrip(".")
    head = rest.split(".")[0]
    if head in ("io", "weights", "live", "farm", "bench"):
        return head
    if head in ("machine", "runtimes", "info"):
        return "machine"
    if head in ("jobs", "api", "cli", "docs", ""):
        return "front"  # jobs and api choose between a local and a segmented render
    return "render"


# Lower wings first: a wing imports only the ones before it (and core).
FLOORS = {
    "io": set(),
    "weights": {"io"},
    "machine": {"io", "weights"},
    "render": {"io", "weights", "machine"},
    "live": {"io", "weights", "machine", "render"},
    "farm": {"io", "weights", "machine", "render"},
}


@pytest.mark.parametrize("wing", sorted(FLOORS))
def test_a_wing_imports_only_the_wings_below_it(wing):
    wrong = sorted(
        f"{m} -> {d}"
        for m, deps in GRAPH.items()
        if m.startswith("dreamstream.stream.") and _wing(m) == wing
        for d in deps
        if d.startswith("dreamstream.stream.") and _wing(d) not in FLOORS[wing] | {wing}
    )
    assert not wrong


def test_sinks_never_import_sources_and_parts_never_see_settings():
    sinks = {"dreamstream.stream.io.window", "dreamstream.stream.live.recorder"}
    for sink in sinks:
        assert not {"dreamstream.stream.io.camera", "dreamstream.stream.io.playback"} & GRAPH[sink]
    # Processors, the carry, the farm's workers and the readers get typed parameters.
    typed = [
        "dreamstream.stream.processors",
        "dreamstream.stream.artstyle",
        "dreamstream.stream.carry",
        "dreamstream.stream.styleahead",
        "dreamstream.stream.styletrack",
        "dreamstream.stream.pipeline",
        "dreamstream.stream.farm.task",
        "dreamstream.stream.farm.seams",
        "dreamstream.stream.farm.parts",
    ]
    typed += [m for m in MODULES if m.startswith("dreamstream.stream.io")]
    assert not [m for m in typed if "dreamstream.stream.settings" in GRAPH[m]]


def test_only_the_cli_reaches_the_benchmarks():
    # stream/bench ships (``dreamstream bench``) but nothing a render runs depends on it.
    users = {
        m
        for m, deps in GRAPH.items()
        if not m.startswith("dreamstream.stream.bench")
        and any(d.startswith("dreamstream.stream.bench") for d in deps)
    }
    assert users == {"dreamstream.stream.cli"}
