"""Helpers of the FluxJobExecutor tests: they talk to the test's flux instance through flux's own Python API only,
so the same tests run inside a real flux instance (a uniquely named module: ``conftest`` is ambiguous across
test folders)."""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path
from typing import Any

WAIT = 60.0  # bound on every wait for the instance (a slow, shared CI machine)


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
