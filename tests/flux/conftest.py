"""Fixtures for the flux tests.

* ``flux_target`` (conformance tests): the mock instance, or a real flux instance when this process runs inside
  one with the real bindings importable (param ``real``, skipped with the reason otherwise).
* ``flux_instance`` / ``make_executor`` (FluxJobExecutor tests): a mock instance of 2 cores per test, active in
  this process, and executors shut down after the test; the helpers below talk to the instance through flux's
  own Python API only.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from executor import FluxJobExecutor
from pytest_executorlib.mocks.flux.instance import PACKAGE_DIR, MockFlux


def real_flux_missing() -> str | None:
    """Why the real flux cannot be used here (None when it can)."""
    if not os.environ.get("FLUX_URI"):
        return "not inside a real flux instance (FLUX_URI is unset; flux-core is not installable here)"
    spec = importlib.util.find_spec("flux")
    if spec is None or spec.origin is None or spec.origin.startswith(PACKAGE_DIR):
        return "the real flux Python bindings are not importable (only the mock flux is)"
    return None


@dataclass
class Target:
    """Where the flux commands and ``import flux`` go: ``kind`` "mock" or "real"."""

    kind: str
    env: dict[str, str]
    cwd: Path
    mock: MockFlux | None

    def run(self, *argv: str, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a command (``flux ...``) inside the instance, in ``cwd``, bounded by ``timeout``."""
        kwargs.setdefault("cwd", self.cwd)
        kwargs.setdefault("env", self.env)
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kwargs)

    @property
    def ncores(self) -> int:
        import flux
        import flux.resource.list

        return int(flux.resource.list.resource_list(flux.Flux()).get().up.ncores)


@pytest.fixture(params=["mock", "real"])
def flux_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    work = tmp_path / "work"
    work.mkdir()
    if request.param == "real":
        reason = real_flux_missing()
        if reason:
            pytest.skip(reason)
        yield Target("real", dict(os.environ), work, None)
        return
    with MockFlux(tmp_path / "flux", cores_per_node=2) as mock:
        mock.activate()
        yield Target("mock", mock.environ(), work, mock)
    log = (tmp_path / "flux" / "broker.log").read_text()
    assert "Traceback" not in log, log


WAIT = 60.0  # bound on every wait for the instance (a slow, shared CI machine)


@pytest.fixture
def flux_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A mock flux instance of 2 cores for this test, active in this process (``FLUX_URI``, ``import flux``)."""
    root = tmp_path_factory.mktemp("flux")
    with MockFlux(root, nodes=1, cores_per_node=2) as instance:
        instance.activate()
        yield instance
    log = (root / "broker.log").read_text()
    assert "Traceback" not in log, log


@pytest.fixture
def make_executor(flux_instance: Any) -> Iterator[Callable[..., FluxJobExecutor]]:
    """Build FluxJobExecutors in the test's instance; every one is shut down after the test."""
    built: list[FluxJobExecutor] = []

    def make(**kwargs: Any) -> FluxJobExecutor:
        executor = FluxJobExecutor(**kwargs)
        built.append(executor)
        return executor

    yield make
    for executor in built:
        executor.shutdown(wait=True, cancel_futures=True)


def flux_module() -> Any:
    flux = importlib.import_module("flux")
    importlib.import_module("flux.job")
    return flux


def instance_cores() -> int:
    flux = flux_module()
    resource_list = importlib.import_module("flux.resource.list").resource_list
    return int(resource_list(flux.Flux()).get().up.ncores)


def wait_for_file(path: Path, timeout: float = WAIT) -> str:
    """The text a worker wrote to ``path`` (it writes it atomically)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"no worker wrote {path} within {timeout} s"
        time.sleep(0.02)
    return path.read_text()


def job_result(jobid: Any, timeout: float = WAIT) -> Any:
    """flux's ``flux.job.result`` of a job (which blocks until the job is inactive), bounded by ``timeout``."""
    flux = flux_module()
    out: list[Any] = []
    errors: list[BaseException] = []

    def query() -> None:
        try:
            out.append(flux.job.result(flux.Flux(), flux.job.JobID(jobid)))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=query, daemon=True)
    thread.start()
    thread.join(timeout)
    if errors:
        raise errors[0]
    assert out, f"flux job {jobid} was still active {timeout} s later"
    return out[0]
