"""Helpers for the per-call resource tests (imported by the test modules and the conftest).

``per_call`` is the default (one fresh worker process per call, resources given per call to ``submit``);
``block`` is ``block_allocation=True`` (persistent workers, resources given to the executor).
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from executor import SingleNodeExecutor

MODES = {
    "per_call": {},
    "block": {"block_allocation": True},
}


def _why_no_mpi() -> str | None:
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install 'pytest-executorlib[mpi]'); CI installs it"
    from executor.spawners.mpiexec import find_mpiexec

    try:
        find_mpiexec()
    except ImportError:
        return "no mpiexec next to the interpreter or on PATH (pip install mpich); CI installs it"
    return None


MPI_MISSING = _why_no_mpi()
needs_mpi = pytest.mark.skipif(MPI_MISSING is not None, reason=MPI_MISSING or "")


class Executors:
    """Build executors in the current mode, with resources where that mode takes them."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.built: list[SingleNodeExecutor] = []

    @property
    def block(self) -> bool:
        return self.mode == "block"

    def make(self, resources: dict[str, Any] | None = None, **kwargs: Any) -> SingleNodeExecutor:
        """An executor; in block mode ``resources`` become the executor's resource_dict."""
        if self.block and resources:
            kwargs["resource_dict"] = {**kwargs.get("resource_dict", {}), **resources}
        executor = SingleNodeExecutor(**{**MODES[self.mode], **kwargs})
        self.built.append(executor)
        return executor

    def per_call(self, resources: dict[str, Any] | None) -> dict[str, Any] | None:
        """The resource_dict to pass to submit(): the resources in per-call mode, nothing in block mode."""
        return None if self.block else resources

    def submit(self, executor: SingleNodeExecutor, resources: dict[str, Any] | None, fn: Callable[..., Any], *args: Any, **kwargs: Any):
        return executor.submit(fn, *args, resource_dict=self.per_call(resources), **kwargs)


def shut_down_within(executor: SingleNodeExecutor, seconds: float, cancel_futures: bool = False) -> None:
    """Shut ``executor`` down; fail if that takes longer than ``seconds`` (a future left pending would hang it)."""
    thread = threading.Thread(target=executor.shutdown, kwargs={"wait": True, "cancel_futures": cancel_futures}, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"shutdown did not finish within {seconds} s: a call or worker was left behind"


def alive(pid: int) -> bool:
    """True if ``pid`` is a running process (a zombie has stopped running: it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return data[data.rindex(")") + 2 :].split()[0] not in ("Z", "X")


def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return predicate()
        time.sleep(0.02)
    return True


def kill_if_alive(pids: list[int]) -> None:
    """Test teardown: stop processes a test's calls started and the executor failed to stop."""
    import signal

    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
