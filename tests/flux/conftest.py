"""Fixtures for the flux tests.

* ``flux_target`` (conformance tests, defined in ``flux_target.py``: a uniquely named module the tests import
  from): the mock instance, or a real flux instance when this process runs inside one.
* ``flux_instance`` / ``make_executor`` (FluxJobExecutor tests): a mock instance of 2 cores per test, active in
  this process, and executors shut down after the test (helpers in ``fluxhelpers.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flux_target import flux_target  # noqa: F401 - the fixture, found by name

from executor import FluxJobExecutor
from pytest_executorlib.mocks.flux.instance import MockFlux


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
