"""``Scheduler``: what a front end holds; an event loop, a worker pool and a placement policy put together.

Layer: schedulers.  The pieces, one module each::

    loop.py      EventLoop: the thread, inbox, timers, priority queue; calls a LoopPolicy
    pool.py      WorkerPool: workers behind the ZeroMQ channel, started through a launch policy's spawners
    results.py   resolve / fail / error log / cache store (also for schedulers without a channel)
    per_call.py  PerCallScheduler: one fresh worker per call, bounded by slots (and GPUs)
    block.py     BlockScheduler: max_workers persistent workers, batched calls, restarts

A subclass decides which queued task goes where (``pump``) and reacts to its workers (``worker_ready``,
``task_done``, ``worker_lost``); this class wires it to the loop (as its ``LoopPolicy``) and to the pool (as its
``PoolHooks``), and offers the front end the thread-safe part of the loop (``enqueue``, ``track``, ``shutdown``,
``join``).  A scheduler that talks to its workers through files (the cluster executors) implements
``LoopPolicy`` itself, with ``results`` and without a pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from executor.schedulers.loop import EventLoop
from executor.schedulers.contracts import Worker
from executor.schedulers.pool import WorkerPool
from executor.schedulers.results import fail, fail_task
from executor.spawners.launch import LaunchPolicy
from executor.tasks.task import Task

__all__ = ["Scheduler", "Worker", "fail", "fail_task"]


class Scheduler:
    """Base of the channel-backed policies; see the module docstring."""

    name = "scheduler"

    def __init__(self, launch: LaunchPolicy, resources: Mapping[str, Any]) -> None:
        """``resources``: the executor's default (validated) resources; their spawner starts as the loop
        thread's first action (``WorkerPool.open``), so construction returns at once."""
        self.loop = EventLoop(self, self.name)
        self.pool = WorkerPool(self.loop, launch, self, resources)
        self.launch = launch
        self.loop.post(self.pool.open)  # before anything a subclass posts

    def start(self) -> None:
        """Start the loop thread (a subclass calls this at the end of its ``__init__``)."""
        self.loop.start()

    # ---- the front end's side (any thread) ------------------------------------------------------------------
    @property
    def accepting(self) -> bool:
        return self.loop.accepting

    @property
    def alive(self) -> bool:
        return self.loop.alive

    def track(self, future: Future[Any]) -> None:
        self.loop.track(future)

    def enqueue(self, task: Task) -> None:
        self.loop.enqueue(task)

    def post(self, action: Callable[[], None]) -> None:
        self.loop.post(action)

    def shutdown(self, cancel_futures: bool) -> None:
        self.loop.shutdown(cancel_futures)

    def join(self, timeout: float | None = None) -> bool:
        return self.loop.join(timeout)

    def terminate(self, reason: str) -> list[str]:
        return self.loop.terminate(reason)

    @property
    def forked(self) -> bool:
        return self.loop.forked

    # ---- LoopPolicy (loop thread) ------------------------------------------------------------------------------
    def sources(self) -> dict[Any, Callable[[], None]]:
        return self.pool.sources()

    def pump(self) -> None:
        raise NotImplementedError

    def busy(self) -> bool:
        return self.pool.busy()

    def stop(self) -> bool:
        return self.pool.stop()

    def fail_all(self, error: BaseException) -> None:
        self.pool.fail_all(error)

    def close(self) -> None:
        self.pool.close()

    def stop_running(self, reason: str) -> list[str]:
        return self.pool.terminate(reason)

    # ---- PoolHooks (loop thread) -------------------------------------------------------------------------------
    def worker_ready(self, worker: Worker) -> None:
        raise NotImplementedError

    def task_done(self, worker: Worker, task: Task) -> None:
        raise NotImplementedError

    def worker_lost(self, worker: Worker, lost: list[Task], how: str) -> None:
        raise NotImplementedError

    def fail_task(self, task: Task, error: BaseException) -> None:
        fail_task(task, error)
