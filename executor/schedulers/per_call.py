"""One fresh worker process per call (the default mode).

Concurrency is bounded by slots: a call takes ``cores * threads_per_core`` of the executor's ``max_cores``
(or ``max_workers``, or the CPUs this process may use).  Queued calls start strictly by priority, then
submission order; a call waits (no busy loop: the scheduler sleeps until a slot frees) while the one ahead of
it does not fit.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from executor.channel import messages as m
from executor.errors import WorkerStartError
from executor.schedulers.base import Scheduler, Worker, fail, lost_call_error
from executor.spawners.base import Spawner
from executor.tasks.task import Task


class PerCallScheduler(Scheduler):
    name = "per-call"

    def __init__(
        self,
        spawner_factory: Callable[[str, bytes], Spawner],
        capacity: int,
        worker_env: Callable[[Task], dict[str, str]],
    ) -> None:
        self.capacity = capacity
        self._free = capacity
        self._worker_env = worker_env
        super().__init__(spawner_factory)

    def _pump(self) -> None:
        queue = self._queue
        while queue and not self._stopping:
            task = queue[0][2]
            if task.cost > self._free:
                return
            heapq.heappop(queue)
            if not task.future.set_running_or_notify_cancel():
                continue
            try:
                worker = self._start_worker(0, task.cost, True, self._worker_env(task), task.resources.get("cwd"))
            except WorkerStartError as error:
                fail(task.future, error)
                continue
            worker.inflight.append(task)
            self._free -= task.cost

    def _worker_ready(self, worker: Worker) -> None:
        self.send(worker, (m.CALLS, [(t.task_id, t.payload) for t in worker.inflight]))

    def _release(self, worker: Worker) -> None:
        self._free += worker.cost
        worker.cost = 0

    def _task_done(self, worker: Worker, task: Task) -> None:
        self._release(worker)  # the worker exits by itself after its one call

    def _worker_lost(self, worker: Worker, lost: list[Task], how: str) -> None:
        self._release(worker)
        for task in lost:
            fail(task.future, lost_call_error(task, how))
