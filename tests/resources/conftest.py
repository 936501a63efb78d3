"""Fixtures for the per-call resource tests: each behaviour is written once and run in both local modes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reshelpers import MODES, Executors, shut_down_within


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    """``per_call`` (default: one fresh process per call) or ``block`` (block_allocation=True)."""
    return request.param


@pytest.fixture
def executors(mode: str) -> Iterator[Executors]:
    """Build executors in the current mode; each is shut down (bounded) after the test."""
    made = Executors(mode)
    yield made
    for executor in made.built:
        shut_down_within(executor, 20.0, cancel_futures=True)
