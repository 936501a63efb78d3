"""Batch jobs of the cluster executors are measured by coverage like every other worker: a function that
runs only inside a SLURM batch job of the mock shows as covered after ``coverage combine``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("coverage")

JOB_MODULE = '''
def only_in_a_job(x):
    y = x * 2  # job-only
    return y
'''
SCRIPT = '''
import sys
from pytest_executorlib.mocks.slurm import MockSlurm
from executor import SlurmClusterExecutor
from jobmod import only_in_a_job

with MockSlurm(sys.argv[1]) as cluster:
    cluster.activate()
    with SlurmClusterExecutor(cache_directory=sys.argv[2], resource_dict={"partition": "debug"}) as exe:
        assert exe.submit(only_in_a_job, 21).result(timeout=60) == 42
'''


def test_a_function_run_only_in_a_batch_job_is_covered(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "jobmod.py").write_text(JOB_MODULE)
    (project / "main.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "XLIB_", "COV_CORE_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project), env.get("PYTHONPATH")]))

    def run(*argv: str) -> None:
        done = subprocess.run([sys.executable, "-m", "coverage", *argv], cwd=project, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"

    run("run", "-p", f"--source={project}", "main.py", str(tmp_path / "slurm"), str(tmp_path / "cache"))
    run("combine", "-q")
    run("json", "-q", "-o", "coverage.json")
    files = json.loads((project / "coverage.json").read_text())["files"]
    line = JOB_MODULE.splitlines().index("    y = x * 2  # job-only") + 1
    assert line in files["jobmod.py"]["executed_lines"]
