"""``threads_per_core``: one process, thread-pool variables set, and cores x threads counted against max_cores."""

from __future__ import annotations

import os
import time

import pytest
import rescalls
from reshelpers import needs_mpi, shut_down_within

from executor import SingleNodeExecutor

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("threads", [1, 2])
def test_worker_gets_thread_variables_equal_to_threads_per_core(executors, monkeypatch, threads):
    for name in rescalls.THREAD_VARIABLES:  # the caller's own settings must not leak into the call
        monkeypatch.setenv(name, "7")
    resources = {"threads_per_core": threads}
    ex = executors.make(resources, max_cores=2)
    result = executors.submit(ex, resources, rescalls.thread_env).result(timeout=30)
    assert isinstance(result, dict), "threads_per_core must run the function once, in one process"
    assert result["pid"] != os.getpid()
    assert {name: result[name] for name in rescalls.THREAD_VARIABLES} == {
        name: str(threads) for name in rescalls.THREAD_VARIABLES
    }
    assert os.environ["OMP_NUM_THREADS"] == "7", "the caller's environment must not be changed"


def _overlap(a, b):
    return a[0] < b[1] and b[0] < a[1]


def test_calls_with_two_threads_on_two_cores_never_overlap(executors):
    resources = {"threads_per_core": 2}
    ex = executors.make(resources, max_cores=2)
    futures = [executors.submit(ex, resources, rescalls.interval, 0.4) for _ in range(3)]
    spans = [f.result(timeout=30) for f in futures]
    for i, a in enumerate(spans):
        for b in spans[i + 1 :]:
            assert not _overlap(a, b), f"calls reserving 2 of 2 cores ran at the same time: {a} {b}"


@pytest.mark.parametrize("start", ["cold", "warm"])
def test_calls_with_one_thread_on_two_cores_overlap(executors, tmp_path, start):
    """``cold``: submitted right after construction (workers still starting); ``warm``: a second later."""
    resources = {"threads_per_core": 1}
    ex = executors.make(resources, max_cores=2)
    if start == "warm":
        time.sleep(1.0)
    futures = [executors.submit(ex, resources, rescalls.rendezvous, str(tmp_path), i, 2) for i in range(2)]
    assert [f.result(timeout=30)["met"] for f in futures] == [True, True], "two 1-core calls must run at once on 2 cores"


@pytest.mark.parametrize(
    "resources",
    [
        {"threads_per_core": 3},
        pytest.param({"cores": 2, "threads_per_core": 2}, marks=needs_mpi),
    ],
    ids=["1x3", "2x2"],
)
def test_cores_times_threads_above_max_cores_is_rejected(mode, resources):
    if mode == "per_call":
        ex = SingleNodeExecutor(max_cores=2)
        try:
            with pytest.raises(ValueError, match=r"max_cores|cores"):
                ex.submit(rescalls.quick, 1, resource_dict=resources)
            assert ex.submit(rescalls.quick, 2).result(timeout=20) == 2
        finally:
            shut_down_within(ex, 20.0)
    else:  # the workers' resources are set on the executor: rejected when it is built
        with pytest.raises(ValueError, match=r"max_cores|cores"):
            SingleNodeExecutor(max_cores=2, block_allocation=True, resource_dict=resources)


def test_block_executor_rejects_threads_per_core_per_call_at_submit():
    ex = SingleNodeExecutor(max_cores=2, block_allocation=True)
    try:
        with pytest.raises(ValueError, match="threads_per_core"):
            ex.submit(rescalls.quick, 1, resource_dict={"threads_per_core": 2})
    finally:
        shut_down_within(ex, 20.0)
