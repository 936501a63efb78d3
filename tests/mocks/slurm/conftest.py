"""Fixtures for the mock SLURM's own tests: a fresh cluster per test and a helper that runs its commands."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_executorlib.mocks.slurm import MockSlurm

from slurm_helpers import Run


def pytest_configure(config: pytest.Config) -> None:
    """Enable pytester (for the plugin integration tests); see tests/plugin/conftest.py for why not pytest_plugins."""
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MockSlurm]:
    """A 1-node, 4-CPU mock cluster, stopped after the test; its controller must have logged no error."""
    with MockSlurm(tmp_path / "slurm") as c:
        yield c
    log = (tmp_path / "slurm" / "slurmctld.log").read_text()
    assert "Traceback" not in log, log


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """An empty directory for jobs."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def run(cluster: MockSlurm, work: Path) -> Run:
    """``run("srun", "-n1", "true")``: run a mock command in ``work`` with the cluster's environment (bounded)."""

    def _run(*argv: str, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("cwd", work)
        kwargs.setdefault("env", cluster.environ())
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kwargs)

    return _run

