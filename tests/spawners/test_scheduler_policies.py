"""Scheduler policies driven through ``FakeSpawner``: no processes, and no private attribute of a scheduler.

Each test builds a real policy (``PerCallScheduler``, ``BlockScheduler``) behind the real front end, with a
``FakeLaunch`` whose workers are threads of this process, and checks what a user relies on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import spawncalls
from fakespawner import FakeLaunch

from executor.errors import ExecutorlibSocketError
from executor.frontends.base import BaseExecutor
from executor.schedulers.block import BlockScheduler
from executor.schedulers.per_call import PerCallScheduler
from executor.tasks.resources import Limits, ResourcePolicy

WAIT = 60.0


def _executor(scheduler: Any, policy: ResourcePolicy) -> BaseExecutor:
    return BaseExecutor(scheduler, policy, disable_dependencies=False, info={})


@pytest.fixture
def built() -> Iterator[list[BaseExecutor]]:
    spawncalls.reset()
    executors: list[BaseExecutor] = []
    yield executors
    spawncalls.gate.set()
    for ex in executors:
        ex.shutdown(wait=True, cancel_futures=True)


def per_call(built: list[BaseExecutor], launch: FakeLaunch, capacity: int) -> BaseExecutor:
    policy = ResourcePolicy(None, Limits("FakeExecutor", capacity, False, launch))
    built.append(_executor(PerCallScheduler(launch, capacity, policy.defaults, spares=0), policy))
    return built[-1]


def block(built: list[BaseExecutor], launch: FakeLaunch, workers: int, **kwargs: Any) -> BaseExecutor:
    policy = ResourcePolicy(None, Limits("FakeExecutor", workers, True, launch))
    init = kwargs.pop("init_payload", None)
    scheduler = BlockScheduler(launch, workers, policy.default_cost, policy.defaults, init, kwargs.pop("restart_limit", 0))
    built.append(_executor(scheduler, policy))
    return built[-1]


def _until(condition: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_per_call_runs_at_most_capacity_calls_at_once(built) -> None:
    launch = FakeLaunch()
    ex = per_call(built, launch, capacity=2)
    for future in [ex.submit(spawncalls.busy, 0.05) for _ in range(6)]:
        future.result(timeout=WAIT)
    assert spawncalls.most_running <= 2
    assert launch.spawner_ is not None and len(launch.spawner_.spawned) == 6, "one fresh worker per call"
    # (a worker's slot is free once its result is in; the worker itself exits just after, so the number of
    # workers alive may briefly exceed the capacity: only running calls are bounded)


def test_per_call_starts_no_spare_before_the_first_call_is_served(built) -> None:
    """In a fresh process the first call's worker must not share the cores with spares starting beside it."""
    launch = FakeLaunch()
    policy = ResourcePolicy(None, Limits("FakeExecutor", 2, False, launch))
    built.append(_executor(PerCallScheduler(launch, 2, policy.defaults, spares=2), policy))
    first = built[-1].submit(spawncalls.wait_for_gate)
    assert spawncalls.entered.wait(WAIT)
    assert launch.spawner_ is not None and len(launch.spawner_.spawned) == 1, "only the first call's worker"
    spawncalls.gate.set()
    first.result(timeout=WAIT)
    _until(lambda: len(launch.spawner_.spawned) == 3)  # then the two spares


def test_block_allocation_still_starts_every_worker_when_the_first_starts_alone(built) -> None:
    launch = FakeLaunch()
    ex = block(built, launch, workers=3)
    assert ex.submit(abs, -1).result(timeout=WAIT) == 1
    _until(lambda: launch.spawner_ is not None and len(launch.spawner_.spawned) == 3)
    assert sorted(spec.worker_id for spec in launch.spawner_.spawned) == [0, 1, 2]


def test_per_call_starts_queued_calls_by_priority(built) -> None:
    ex = per_call(built, FakeLaunch(), capacity=1)
    blocker = ex.submit(spawncalls.wait_for_gate)
    low = ex.submit(spawncalls.record, "low", resource_dict={"priority": 0})
    high = ex.submit(spawncalls.record, "high", resource_dict={"priority": 5})
    spawncalls.gate.set()
    for future in (blocker, low, high):
        future.result(timeout=WAIT)
    assert spawncalls.order == ["high", "low"]


def test_a_worker_gets_the_calls_validated_read_only_resources(built) -> None:
    launch = FakeLaunch()
    ex = per_call(built, launch, capacity=2)
    ex.submit(abs, 1, resource_dict={"run_time_max": 30, "priority": 2}).result(timeout=WAIT)
    spec = launch.spawner_.spawned[-1]
    assert spec.run_time_max == 30 and spec.priority == 2 and spec.ranks == 1 and spec.threads_per_core == 1
    with pytest.raises(TypeError):
        spec.resources["cores"] = 4  # type: ignore[index]


def test_waiting_in_the_launchers_queue_is_not_a_start_failure(built) -> None:
    launch = FakeLaunch(queued=True, start_timeout=WAIT)
    ex = per_call(built, launch, capacity=1)
    future = ex.submit(abs, -5)
    _until(lambda: launch.spawner_ is not None and launch.spawner_.spawned)
    assert not future.done()
    launch.spawner_.release()
    assert future.result(timeout=WAIT) == 5


def test_a_worker_still_queued_after_the_start_timeout_fails_its_call_clearly(built) -> None:
    ex = per_call(built, FakeLaunch(queued=True, start_timeout=0.2), capacity=1)
    with pytest.raises(ExecutorlibSocketError, match=r"did not start within its launcher's start_timeout of 0.2 s"):
        ex.submit(abs, -5).result(timeout=WAIT)


def test_block_worker_that_dies_is_replaced_under_its_id_and_the_call_retried(built) -> None:
    launch = FakeLaunch()
    ex = block(built, launch, workers=1, restart_limit=1)
    assert ex.submit(spawncalls.fail_first_attempt, "x").result(timeout=WAIT) == "x"
    assert spawncalls.attempts == {"x": 2}
    assert [spec.worker_id for spec in launch.spawner_.spawned] == [0, 0]


def test_block_without_restarts_fails_the_call_of_a_dead_worker_and_serves_the_next(built) -> None:
    ex = block(built, FakeLaunch(), workers=1)
    with pytest.raises(ExecutorlibSocketError, match="exited with code 1 while running fail_first_attempt"):
        ex.submit(spawncalls.fail_first_attempt, "y").result(timeout=WAIT)
    assert ex.submit(abs, -2).result(timeout=WAIT) == 2


def test_block_init_function_failure_fails_every_call_with_its_exception(built) -> None:
    import cloudpickle

    ex = block(built, FakeLaunch(), workers=1, init_payload=cloudpickle.dumps((spawncalls.init_raises, (), {})))
    futures = [ex.submit(abs, -i) for i in range(5)]
    for future in futures:
        with pytest.raises(LookupError, match="no such state") as caught:
            future.result(timeout=WAIT)
    # The worker answered the call it already held; the parent failed the rest once it heard INITERR, saying why.
    assert "init_function raised in the worker" in str(caught.value.__cause__)
    assert "init_raises" in str(caught.value.__cause__)


def test_the_loop_ends_without_leaving_a_worker_thread(built) -> None:
    launch = FakeLaunch()
    ex = block(built, launch, workers=2)
    assert [f.result(timeout=WAIT) for f in [ex.submit(abs, -i) for i in range(20)]] == list(range(20))
    ex.shutdown(wait=True)
    assert launch.spawner_.alive == 0
    assert not any(t.name == "fake-worker" and t.is_alive() for t in threading.enumerate())


def test_remote_workers_get_a_channel_they_reach_through_the_host_name(built) -> None:
    import socket

    launch = FakeLaunch()
    launch.remote_workers, launch.hostname_localhost = True, False  # as an srun launch policy across nodes
    ex = block(built, launch, workers=1)
    assert ex.submit(abs, -4).result(timeout=WAIT) == 4
    assert launch.spawner_.address.startswith(f"tcp://{socket.gethostname()}:")
