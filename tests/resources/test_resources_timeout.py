"""``run_time_max``: a call still running at its limit is stopped (whole process tree, all ranks) and fails."""

from __future__ import annotations

import json
import os
import time

import pytest
import rescalls
from reshelpers import alive, eventually, kill_if_alive, needs_mpi

pytestmark = pytest.mark.timeout(60)

LIMIT = 1.5


def _records(directory, count, timeout=20.0):
    assert eventually(lambda: len([n for n in os.listdir(directory) if n.endswith(".json")]) >= count, timeout)
    out = []
    for name in os.listdir(directory):
        if name.endswith(".json"):
            with open(os.path.join(directory, name)) as f:
                out.append(json.load(f))
    return out


@pytest.mark.parametrize("cores", [1, pytest.param(2, marks=needs_mpi)])
def test_call_over_its_limit_is_stopped_with_its_process_tree(executors, tmp_path, cores):
    resources = {"cores": cores}
    ex = executors.make(resources, max_cores=cores)
    submitted = time.monotonic()
    # run_time_max may be set per call in both modes
    call_resources = {**(executors.per_call(resources) or {}), "run_time_max": LIMIT}
    future = ex.submit(rescalls.sleep_with_child, str(tmp_path), resource_dict=call_resources)
    failed_at = []
    future.add_done_callback(lambda _: failed_at.append((time.monotonic(), time.time())))
    queued = executors.submit(ex, resources, rescalls.quick, "next")  # behind it: must not be lost
    records = _records(str(tmp_path), cores)
    pids = [r["self"] for r in records] + [r["child"] for r in records]
    try:
        with pytest.raises(TimeoutError) as caught:
            future.result(timeout=LIMIT + 15)
        since_submit = failed_at[0][0] - submitted
        since_start = failed_at[0][1] - min(r["t"] for r in records)  # the function's own start (wall clock)
        assert since_submit >= LIMIT - 0.05, f"stopped {since_submit:.2f} s after submit, before its limit of {LIMIT} s"
        assert since_start <= LIMIT + 1.0, f"stopped only {since_start:.2f} s after it started (limit {LIMIT} s)"
        assert "1.5" in str(caught.value), f"the message should name the limit: {caught.value}"
        # the slot is freed (per call) / the worker replaced (block): the call queued behind runs
        expected = ["next"] * cores if cores > 1 else "next"
        assert queued.result(timeout=30) == expected
        assert executors.submit(ex, resources, rescalls.quick, "after").result(timeout=30) == (
            ["after"] * cores if cores > 1 else "after"
        )
        # nothing the call started outlives it: not the worker (each rank), not the worker's own child
        assert eventually(lambda: not any(alive(p) for p in pids), 3.0), (
            "still running after the time limit: "
            + ", ".join(f"{p} ({'worker' if p in [r['self'] for r in records] else 'child of the worker'})" for p in pids if alive(p))
        )
    finally:
        kill_if_alive(pids)


def test_call_within_its_limit_succeeds_and_its_timer_does_not_stop_the_next_call(executors):
    ex = executors.make(None, max_workers=1)
    fast = ex.submit(rescalls.sleep_then_return, 0.1, "fast", resource_dict={"run_time_max": 1})
    slow = ex.submit(rescalls.sleep_then_return, 1.6, "slow")  # no limit: runs past the first call's deadline
    assert fast.result(timeout=30) == "fast"
    assert slow.result(timeout=30) == "slow"


def test_limit_is_per_call_and_can_differ(executors):
    ex = executors.make(None, max_workers=2)
    stopped = ex.submit(rescalls.sleep_then_return, 5, "x", resource_dict={"run_time_max": 0.5})
    spared = ex.submit(rescalls.sleep_then_return, 1.0, "spared", resource_dict={"run_time_max": 4})
    with pytest.raises(TimeoutError, match="0.5"):
        stopped.result(timeout=30)
    assert spared.result(timeout=30) == "spared"
