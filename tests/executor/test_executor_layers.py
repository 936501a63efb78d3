"""The executor's layers: no module imports from a layer above it, and modules stay small.

Layers, top to bottom (a module may import its own layer and the ones below)::

    6  executor (package), api, __main__, cli     entry points
    5  frontends                                  SingleNodeExecutor, ...: validate, pick launch policy + scheduler
    4  schedulers                                 event loop, worker pool, per-call / block policies, results
    3  spawners                                   launch policies, fork server, LaunchedSpawner (mpiexec, srun...)
    2  worker                                     what runs inside a worker process
    1  channel, coverage, tasks, cache, graph     standalone parts: wire format, coverage, call records, cache,
                                                  dependency graphs
    0  host, errors, telemetry, _version          facts and exceptions everyone shares
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "executor"
LAYERS = {
    "__init__": 6, "api": 6, "__main__": 6, "cli": 6,
    "frontends": 5,
    "schedulers": 4,
    "spawners": 3,
    "worker": 2,
    "channel": 1, "coverage": 1, "tasks": 1, "cache": 1, "graph": 1,
    "host": 0, "errors": 0, "telemetry": 0, "_version": 0,
}  # fmt: skip
MAX_LINES = 300
MODULES = sorted(ROOT.rglob("*.py"))


def _part(path: pathlib.Path) -> str:
    relative = path.relative_to(ROOT).parts
    return relative[0] if len(relative) > 1 else path.stem


def _imported_parts(tree: ast.AST) -> set[str]:
    parts: set[str] = set()
    for node in ast.walk(tree):  # also imports inside functions: they are dependencies all the same
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            bits = name.split(".")
            if bits[0] != "executor":
                continue
            is_module = len(bits) > 1 and ((ROOT / bits[1]).is_dir() or (ROOT / f"{bits[1]}.py").is_file())
            parts.add(bits[1] if is_module else "__init__")  # ``from executor import SingleNodeExecutor``
    return parts


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_from_a_layer_above_it(path: pathlib.Path) -> None:
    own = LAYERS[_part(path)]
    above = {part for part in _imported_parts(ast.parse(path.read_text())) if LAYERS[part] > own}
    assert not above, f"{path.relative_to(ROOT)} (layer {own}) imports from a higher layer: {sorted(above)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_long_module_says_why_in_its_docstring(path: pathlib.Path) -> None:
    source = path.read_text()
    if source.count("\n") > MAX_LINES:
        docstring = ast.get_docstring(ast.parse(source)) or ""
        assert "longer than" in docstring.lower(), f"{path.relative_to(ROOT)} has more than {MAX_LINES} lines"
