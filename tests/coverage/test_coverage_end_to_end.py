"""Real coverage, end to end: a sample project whose ``pkg.work`` runs only inside executor workers.

Each test runs the sample's test suite (or a script) in a subprocess the way a downstream project would —
``coverage run``, ``pytest --cov``, ``pytest -n 2 --cov`` — then combines and reports with coverage's own
command line, and asserts on the report: every ``# worker-only`` line is counted, every ``# never`` line (an
opted-out or unusable worker) is not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parent / "sample"
PYTHON = sys.executable
# The executor's pytest plugin is tested on its own; here the sample shuts its executors down itself.
PYTEST = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:executorlib", "test_sample.py"]
WORKER_TAGS = {
    "per_call", "block", "other_cwd", "shutdown", "sigterm", "os_exit", "fork_parent", "fork_child",
    "multiprocessing", "branch", "spawns", "broken_process_start",
}  # fmt: skip
NEVER_TAGS = {"keyword", "env", "unusable"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(SAMPLE, root)
    return root


def clean_environment(project: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without anything that would measure, configure or opt out the sample."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "XLIB_", "PYTEST_", "COV_CORE_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run(command: list[str], project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done


def _alive(pid: int) -> bool:
    """``pid`` runs (a zombie has finished: its data file is complete)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def tagged_lines(kind: str) -> dict[str, int]:
    lines = (SAMPLE / "pkg" / "work.py").read_text().splitlines()
    return {m.group(1): n for n, line in enumerate(lines, 1) if (m := re.search(rf"# {kind}: (\w+)", line))}


def report(project: Path, env: dict[str, str]) -> dict[str, object]:
    run([PYTHON, "-m", "coverage", "json", "-q", "-o", "coverage.json"], project, env)
    files = json.loads((project / "coverage.json").read_text())["files"]
    return files[os.path.join("pkg", "work.py")]


def assert_counted(work: dict[str, object], tags: set[str]) -> None:
    __tracebackhide__ = True
    executed = set(work["executed_lines"])  # type: ignore[arg-type]
    worker, never = tagged_lines("worker-only"), tagged_lines("never")
    missed = {tag: worker[tag] for tag in tags if worker[tag] not in executed}
    assert not missed, f"lines run only in workers are not counted: {missed}"
    counted = {tag: line for tag, line in never.items() if line in executed}
    assert not counted, f"lines run only in opted-out or unusable workers are counted: {counted}"
    assert set(never.values()) <= set(work["missing_lines"])  # type: ignore[arg-type]


def assert_one_file_per_worker(project: Path) -> None:
    __tracebackhide__ = True
    pids = (project / "worker_pids.txt").read_text().split()
    assert pids
    for pid in pids:
        files = list(project.glob(f".coverage.*.pid{pid}.*"))
        assert len(files) == 1, f"worker {pid} wrote {files}"


def test_coverage_run_with_branch(project: Path) -> None:
    """``coverage run --branch -m pytest``: command-line settings reach workers, and the workers' data is folded
    into the parent's single data file, so ``coverage report`` counts it with no combine step."""
    env = clean_environment(project)
    run([PYTHON, "-m", "coverage", "run", "--branch", "--source=pkg", "-m", *PYTEST[2:]], project, env)
    left = sorted(p.name for p in project.glob(".coverage.*"))
    assert len(left) == 1 and left[0].startswith(".coverage.xlib."), f"workers' files were not folded: {left}"
    work = report(project, env)
    assert_counted(work, WORKER_TAGS - {"spawns"})
    branches = work["executed_branches"]  # type: ignore[index]
    line = tagged_lines("worker-only")["branch"]
    assert [line - 1, line] in branches, branches


def test_the_seed_recipe_run_combine_report(project: Path) -> None:
    """executorlib's troubleshooting recipe, ``coverage run`` + ``coverage combine`` + ``coverage report``, now
    needs no ``patch`` setting: combine succeeds (a CI script with ``set -e`` goes on) and counts worker lines."""
    env = clean_environment(project)
    run([PYTHON, "-m", "coverage", "run", "--source=pkg", "-m", *PYTEST[2:]], project, env)
    run([PYTHON, "-m", "coverage", "combine"], project, env)  # run() fails the test on a non-zero exit
    assert not list(project.glob(".coverage.*")), "combine left data files behind"
    assert_counted(report(project, env), WORKER_TAGS - {"spawns"})


def test_coverage_run_parallel(project: Path) -> None:
    """``coverage run -p -m pytest``: one data file per worker, next to the parent's; ``coverage combine``."""
    env = clean_environment(project)
    run([PYTHON, "-m", "coverage", "run", "-p", "--source=pkg", "-m", *PYTEST[2:]], project, env)
    assert_one_file_per_worker(project)
    run([PYTHON, "-m", "coverage", "combine", "-q"], project, env)
    assert_counted(report(project, env), WORKER_TAGS - {"spawns"})


def test_pytest_cov(project: Path) -> None:
    """``pytest --cov``: pytest-cov combines the workers' data at the end of the session."""
    env = clean_environment(project)
    run([*PYTEST, "--cov=pkg", "--cov-report="], project, env)
    assert not list(project.glob(".coverage.*")), "pytest-cov left data files uncombined"
    assert_counted(report(project, env), WORKER_TAGS - {"spawns"})


def test_pytest_xdist_cov_branch(project: Path) -> None:
    """``pytest -n 2 --cov --cov-branch``: each xdist worker is measured, and so are the workers it starts."""
    env = clean_environment(project)
    run([*PYTEST, "-n", "2", "--cov=pkg", "--cov-branch", "--cov-report="], project, env)
    assert_counted(report(project, env), WORKER_TAGS - {"spawns"})


def test_users_subprocess_patch(project: Path) -> None:
    """With coverage's own ``patch = ["subprocess"]``: still one Coverage per worker (the template is kept out
    of coverage's start-up), --branch from the command line reaches workers, and a Python started by a task is
    measured by coverage's own start-up.  ``relative_files``: a worker in another cwd records the same names."""
    (project / ".coveragerc").write_text("[run]\nsource = pkg\npatch = subprocess\nrelative_files = true\n")
    env = clean_environment(project)
    run([PYTHON, "-m", "coverage", "run", "--branch", "-m", *PYTEST[2:]], project, env)
    assert_one_file_per_worker(project)
    run([PYTHON, "-m", "coverage", "combine", "-q"], project, env)
    work = report(project, env)
    assert_counted(work, WORKER_TAGS)
    assert tagged_lines("subprocess")["in_subprocess"] in work["executed_lines"]  # type: ignore[operator]


def test_parent_gone_workers_save_on_sigterm(project: Path) -> None:
    """The parent exits without shutting down: the template SIGTERMs its workers, which save first."""
    env = clean_environment(project)
    run([PYTHON, "-m", "coverage", "run", "-p", "--source=pkg", "orphan.py"], project, env)
    # The orphaned worker saves its data when the fork server SIGTERMs it, after orphan.py has exited: wait
    # (bounded) for its data file, then for the process named in the file's name to be gone, so the file is
    # complete before it is combined.
    deadline = time.monotonic() + 20
    while not (files := list(project.glob(".coverage.*.pid*"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert files, "the orphaned worker wrote no coverage data within 20 s"
    for pid in {int(m.group(1)) for f in files if (m := re.search(r"\.pid(\d+)\.", f.name))}:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"the orphaned worker {pid} did not exit within 20 s of its SIGTERM"
    run([PYTHON, "-m", "coverage", "combine", "-q"], project, env)
    work = report(project, env)
    assert tagged_lines("worker-only")["orphaned"] in work["executed_lines"]  # type: ignore[operator]
