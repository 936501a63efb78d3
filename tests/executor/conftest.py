"""Fixtures for the executor behaviour tests: each behaviour is written once and run in both local modes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from executor import SingleNodeExecutor

MODES = {
    "per_call": {},  # the default: one fresh process per call
    "block": {"block_allocation": True},
}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    """The executor mode under test: ``per_call`` (default) or ``block`` (block_allocation=True)."""
    return request.param


@pytest.fixture
def make_executor(mode: str) -> Iterator[Callable[..., SingleNodeExecutor]]:
    """Build a SingleNodeExecutor in the current mode; every executor built is shut down after the test."""
    built: list[SingleNodeExecutor] = []

    def make(**kwargs: Any) -> SingleNodeExecutor:
        executor = SingleNodeExecutor(**{**MODES[mode], **kwargs})
        built.append(executor)
        return executor

    yield make
    for executor in built:
        executor.shutdown(wait=True, cancel_futures=True)
