"""max_workers / max_cores bound how many calls run at once (cores * threads_per_core slots per call)."""

from __future__ import annotations

import time

import pytest

import xcalls
import xprocs

pytestmark = pytest.mark.timeout(30)


def _overlap(ex, n: int, seconds: float = 0.3) -> int:
    futures = [ex.submit(xcalls.interval, seconds) for _ in range(n)]
    return xprocs.max_overlap(f.result(timeout=20) for f in futures)


def test_max_workers_bounds_concurrency(make_executor) -> None:
    ex = make_executor(max_workers=2)
    assert _overlap(ex, 5) == 2


def test_max_cores_bounds_concurrency(make_executor) -> None:
    ex = make_executor(max_cores=2)
    assert _overlap(ex, 5) == 2


def test_one_slot_runs_calls_one_at_a_time(make_executor) -> None:
    ex = make_executor(max_workers=1)
    assert _overlap(ex, 3, 0.15) == 1


def test_threads_per_core_takes_slots(make_executor) -> None:
    ex = make_executor(max_cores=2, resource_dict={"threads_per_core": 2})
    assert _overlap(ex, 3, 0.2) == 1


def test_per_call_threads_per_core_takes_slots() -> None:
    from executor import SingleNodeExecutor

    with SingleNodeExecutor(max_cores=2) as ex:
        wide = [ex.submit(xcalls.interval, 0.2, resource_dict={"threads_per_core": 2}) for _ in range(2)]
        narrow = [ex.submit(xcalls.interval, 0.2) for _ in range(2)]
        wide_runs = [f.result(timeout=20) for f in wide]
        narrow_runs = [f.result(timeout=20) for f in narrow]
    assert xprocs.max_overlap(wide_runs) == 1
    assert xprocs.max_overlap(wide_runs + narrow_runs) <= 2
    for start, end in wide_runs:  # a call holding both slots runs alone
        assert all(e <= start or s >= end for s, e in narrow_runs)


def test_idle_workers_take_calls_before_busy_ones(make_executor) -> None:
    """Two calls on two free slots run at the same time (no call waits behind another while a worker idles)."""
    ex = make_executor(max_workers=2)
    assert list(ex.map(xcalls.sleep_return, range(4), [0.05] * 4)) == [0, 1, 2, 3]  # both workers are up
    time.sleep(0.2)
    for _ in range(3):
        futures = [ex.submit(xcalls.interval, 0.25) for _ in range(2)]
        assert xprocs.max_overlap(f.result(timeout=10) for f in futures) == 2
