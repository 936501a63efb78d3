"""Flux workers are measured by coverage exactly like local ones: a program run under ``coverage run`` inside a
(mock) flux instance counts the lines its FluxJobExecutor ran in flux jobs (per call and block allocation)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

WORK = '''
def per_call(x):
    y = x + 1  # worker-only: per_call
    return y


def block(x):
    y = x + 2  # worker-only: block
    return y
'''

SCRIPT = '''
from executor import FluxJobExecutor
import fluxwork

with FluxJobExecutor() as ex:
    assert ex.submit(fluxwork.per_call, 1).result(120) == 2
with FluxJobExecutor(max_workers=1, block_allocation=True) as ex:
    assert ex.submit(fluxwork.block, 1).result(120) == 3
'''


def test_flux_workers_are_measured(flux_instance: Any, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "fluxwork.py").write_text(WORK)
    (project / "run.py").write_text(SCRIPT)
    env = {k: v for k, v in flux_instance.environ().items() if not k.startswith(("COVERAGE_", "XLIB_", "COV_CORE_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project), env.get("PYTHONPATH")]))
    for command in (
        [sys.executable, "-m", "coverage", "run", "--source=fluxwork", "run.py"],
        [sys.executable, "-m", "coverage", "json", "-q", "-o", "coverage.json"],
    ):
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    executed = set(json.loads((project / "coverage.json").read_text())["files"]["fluxwork.py"]["executed_lines"])
    lines = {n for n, line in enumerate(WORK.splitlines(), 1) if "# worker-only" in line}
    assert lines <= executed, f"lines run only in flux workers are not counted: {sorted(lines - executed)}"
    assert not list(project.glob(".coverage.*")), "the workers' data files were not folded into .coverage"
