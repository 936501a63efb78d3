"""srun workers are measured by coverage exactly like local ones: a program run under ``coverage run`` counts the
lines its SlurmJobExecutor ran in srun workers (per call and block allocation), on the mock and on real SLURM."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from slurmclusters import Cluster

WORK = '''
def per_call(x):
    y = x + 1  # worker-only: per_call
    return y


def block(x):
    y = x + 2  # worker-only: block
    return y
'''

SCRIPT = '''
from executor import SlurmJobExecutor
import slurmwork

with SlurmJobExecutor() as ex:
    assert ex.submit(slurmwork.per_call, 1).result(120) == 2
with SlurmJobExecutor(max_workers=1, block_allocation=True) as ex:
    assert ex.submit(slurmwork.block, 1).result(120) == 3
'''


def test_srun_workers_are_measured(slurm: Cluster) -> None:
    project = slurm.workdir / "project"
    project.mkdir()
    (project / "slurmwork.py").write_text(WORK)
    (project / "run.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "XLIB_", "COV_CORE_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project), env.get("PYTHONPATH")]))
    for command in (
        [sys.executable, "-m", "coverage", "run", "--source=slurmwork", "run.py"],
        [sys.executable, "-m", "coverage", "json", "-q", "-o", "coverage.json"],
    ):
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    executed = set(json.loads((project / "coverage.json").read_text())["files"]["slurmwork.py"]["executed_lines"])
    lines = {n for n, line in enumerate(WORK.splitlines(), 1) if "# worker-only" in line}
    assert lines <= executed, f"lines run only in srun workers are not counted: {sorted(lines - executed)}"
    assert not list(project.glob(".coverage.*")), "the workers' data files were not folded into .coverage"
