"""``executor.api.shutdown_all()``: stop every executor still running (the plugin calls it before coverage
data are combined, so workers of executors a test left open have exited and saved)."""

from __future__ import annotations

import pytest

import xcalls
import xprocs

import executor
from executor.api import shutdown_all


@pytest.mark.timeout(60)
def test_shutdown_all_finishes_calls_and_stops_every_worker() -> None:
    before = xprocs.children()  # other tests' children (e.g. not yet reaped) are not this test's business
    left_open = [executor.SingleNodeExecutor(max_workers=1), executor.SingleNodeExecutor(max_workers=1, block_allocation=True)]
    futures = [ex.submit(xcalls.identity, i) for i, ex in enumerate(left_open)]
    assert shutdown_all() >= 2
    assert [f.result(timeout=0) for f in futures] == [0, 1]  # finished, not cancelled
    assert xprocs.eventually(lambda: not xprocs.children() - before, 5.0), f"left: {xprocs.children() - before}"
    with pytest.raises(RuntimeError, match="after shutdown"):
        left_open[0].submit(xcalls.identity, 2)
    assert shutdown_all() == 0
