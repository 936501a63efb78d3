"""``SlurmJobExecutor`` across nodes: every test runs on ``MockSlurm(nodes=3, cpus_per_node=2)`` and on the real
3-node SLURM of ci/start-slurm-multinode.sh (fixture ``slurm_multinode``: the ``multinode`` cluster with its
environment applied to this process; on the real cluster one test at a time, every node resumed afterwards).

What a user relies on: ``num_nodes`` and ``exclusive`` place the workers as SLURM places them; an MPI call spans
nodes; block workers land on different nodes; a node failing under a call fails that call -- within a bounded
time, with an error naming the node -- and a block worker lost with its node is restarted on a healthy node, up
to ``restart_limit``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import slurmcalls as calls
from slurmclusters import Cluster

from executor import SlurmJobExecutor
from executor.api import ExecutorlibSocketError

RESULT_TIMEOUT = 120.0  # generous: a busy CI machine; a hang still fails the test instead of blocking the run
#: A node failure reaches the call's future within this many seconds (srun returns ~20 ms after the node went down).
FAILURE_TIMEOUT = 30.0


def shut_down(executor: SlurmJobExecutor, seconds: float = 60.0) -> None:
    thread = threading.Thread(target=executor.shutdown, kwargs={"wait": True, "cancel_futures": True}, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"shutdown did not finish within {seconds} s"


@pytest.fixture
def make(slurm_multinode: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SlurmJobExecutor]]:
    """Build SlurmJobExecutors in the cluster's per-test directory; each is shut down after the test."""
    monkeypatch.chdir(slurm_multinode.workdir)
    built: list[SlurmJobExecutor] = []

    def build(**kwargs: Any) -> SlurmJobExecutor:
        executor = SlurmJobExecutor(**kwargs)
        built.append(executor)
        return executor

    yield build
    for executor in built:
        shut_down(executor)


def wait_for_file(path: Path, timeout: float = RESULT_TIMEOUT) -> str:
    """The content of ``path`` once a call wrote it (bounded; the calls write it atomically)."""
    deadline, delay = time.monotonic() + timeout, 0.01
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} not written within {timeout} s"
        time.sleep(delay)
        delay = min(0.2, delay * 1.5)
    return path.read_text()


def test_an_mpi_call_spans_num_nodes(make: Callable[..., SlurmJobExecutor]) -> None:
    executor = make(max_cores=4)
    result = executor.submit(calls.mpi_where, resource_dict={"cores": 4, "num_nodes": 2}).result(RESULT_TIMEOUT)
    assert sorted(result) == [(0, 4, "n1", 10), (1, 4, "n1", 10), (2, 4, "n2", 10), (3, 4, "n2", 10)]


def test_num_nodes_puts_one_rank_on_each_node(make: Callable[..., SlurmJobExecutor]) -> None:
    executor = make(max_cores=6)
    result = executor.submit(calls.mpi_where, resource_dict={"cores": 3, "num_nodes": 3}).result(RESULT_TIMEOUT)
    assert [name for _, _, name, _ in sorted(result)] == ["n1", "n2", "n3"]


def test_exclusive_calls_get_a_node_each(make: Callable[..., SlurmJobExecutor]) -> None:
    """Two one-core calls at once: they share n1 (2 CPUs) unless exclusive, then each has its own node."""
    executor = make(max_workers=2)
    shared = [executor.submit(calls.node_after, 2.0) for _ in range(2)]
    assert [f.result(RESULT_TIMEOUT) for f in shared] == ["n1 n1", "n1 n1"]
    alone = [executor.submit(calls.node_after, 2.0, resource_dict={"exclusive": True}) for _ in range(2)]
    nodes = [f.result(RESULT_TIMEOUT) for f in alone]
    assert len(set(nodes)) == 2 and all(n.split()[0] == n.split()[1] for n in nodes), nodes


def test_block_workers_on_different_nodes(make: Callable[..., SlurmJobExecutor]) -> None:
    """Two block workers of 2 CPUs each (a whole node each): their calls run on two nodes."""
    executor = make(max_workers=2, block_allocation=True, resource_dict={"threads_per_core": 2})
    nodes = {f.result(RESULT_TIMEOUT) for f in [executor.submit(calls.node_after, 0.2) for _ in range(8)]}
    assert len(nodes) == 2 and all(n.split()[0] == n.split()[1] for n in nodes), nodes


def test_a_node_failure_fails_the_call_naming_the_node(make: Callable[..., SlurmJobExecutor],
                                                       slurm_multinode: Cluster) -> None:
    executor = make(max_cores=4)
    started = slurm_multinode.workdir / "started"
    future = executor.submit(calls.node_then_sleep, str(started), 300.0, resource_dict={"cores": 2, "num_nodes": 2})
    wait_for_file(started)
    assert slurm_multinode.set_node("n2", "down", "xlib-test").rc == 0
    error = future.exception(timeout=FAILURE_TIMEOUT)
    assert isinstance(error, ExecutorlibSocketError), repr(error)
    assert "Node failure on n2" in str(error), str(error)
    assert executor.submit(calls.node).result(RESULT_TIMEOUT).split()[0] in ("n1", "n3"), "executor still usable"


def test_a_block_worker_lost_with_its_node_restarts_on_a_healthy_node(make: Callable[..., SlurmJobExecutor],
                                                                      slurm_multinode: Cluster) -> None:
    executor = make(max_workers=1, max_cores=2, block_allocation=True, restart_limit=1,
                    resource_dict={"threads_per_core": 2})
    started = slurm_multinode.workdir / "started"
    future = executor.submit(calls.node_then_sleep_once, str(started), 300.0)
    failed = wait_for_file(started)
    assert slurm_multinode.set_node(failed, "down", "xlib-test").rc == 0
    retried = future.result(RESULT_TIMEOUT).split()
    assert retried[0] != failed and retried[0] == retried[1], (failed, retried)


def test_a_block_worker_beyond_restart_limit_fails_naming_the_node(make: Callable[..., SlurmJobExecutor],
                                                                   slurm_multinode: Cluster) -> None:
    executor = make(max_workers=1, max_cores=2, block_allocation=True, restart_limit=0,
                    resource_dict={"threads_per_core": 2})
    started = slurm_multinode.workdir / "started"
    future = executor.submit(calls.node_then_sleep, str(started), 300.0)
    failed = wait_for_file(started)
    assert slurm_multinode.set_node(failed, "down", "xlib-test").rc == 0
    error = future.exception(timeout=FAILURE_TIMEOUT)
    assert isinstance(error, ExecutorlibSocketError) and f"Node failure on {failed}" in str(error), repr(error)
    node = executor.submit(calls.node).result(RESULT_TIMEOUT).split()[0]
    assert node != failed, "the replacement worker must run on a healthy node"
