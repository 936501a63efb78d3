"""Block allocation: ``max_workers`` persistent workers that each run many calls.

Workers get calls in batches of up to ``PREFETCH`` so the next call is already in the worker when the current
one ends (one round trip saved per call); calls stay in priority order.  A worker that dies is replaced under
the same ``executorlib_worker_id``; the call it was running is retried on the replacement up to
``restart_limit`` times, then fails with ``ExecutorlibSocketError``; the calls queued behind it are not lost.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from executor.channel import messages as m
from executor.errors import WorkerStartError
from executor.schedulers.base import Scheduler, Worker, fail, lost_call_error, start_failure_error
from executor.spawners.base import Spawner
from executor.tasks.task import Task

# Calls in flight per worker.  1 leaves the worker idle for a round trip after each call; 2 already hides
# it; more mostly adds head-of-line blocking behind long calls.  Measured in benchmarks/throughput.py.
PREFETCH = 2
# Consecutive workers that die before connecting, after which queued calls fail instead of waiting forever.
MAX_START_FAILURES = 3


class BlockScheduler(Scheduler):
    name = "block"

    def __init__(
        self,
        spawner_factory: Callable[[str, bytes], Spawner],
        workers: int,
        cost: int,
        env: dict[str, str],
        cwd: str | None,
        init_payload: bytes | None,
        restart_limit: int,
    ) -> None:
        self._target = workers
        self._cost = cost
        self._env = env
        self._cwd = cwd
        self._init_payload = init_payload
        self._restart_limit = restart_limit
        self._start_failures = 0
        self._by_id: dict[int, Worker] = {}
        self._start_error: WorkerStartError | None = None
        super().__init__(spawner_factory)
        self.post(lambda: self._resize(workers))

    @property
    def workers(self) -> int:
        return self._target

    def resize(self, workers: int) -> None:
        self._target = workers
        self.post(lambda: self._resize(workers))

    def _resize(self, workers: int) -> None:
        for worker_id in range(workers):
            if worker_id not in self._by_id and not self._stopping:
                self._spawn(worker_id)
        for worker_id in [i for i in self._by_id if i >= workers]:
            worker = self._by_id.pop(worker_id)
            worker.stopping = True
            if not worker.inflight:
                self.stop_worker(worker)

    def _spawn(self, worker_id: int) -> None:
        try:
            self._by_id[worker_id] = self._start_worker(worker_id, self._cost, False, self._env, self._cwd)
        except WorkerStartError as error:
            self._give_up(error)

    def _give_up(self, error: WorkerStartError) -> None:
        self._start_error = error
        for _, _, task in self._queue:
            fail(task.future, error)
        self._queue.clear()

    def _pump(self) -> None:
        queue = self._queue
        if not queue:
            return
        if self._start_error is not None:
            self._give_up(self._start_error)
            return
        for worker in sorted(self._by_id.values(), key=lambda w: len(w.inflight)):
            room = PREFETCH - len(worker.inflight)
            if not worker.connected or worker.stopping or room <= 0:
                continue
            batch = []
            while queue and len(batch) < room:
                task = heapq.heappop(queue)[2]
                if task.future.running() or task.future.set_running_or_notify_cancel():
                    batch.append(task)
            if batch:
                self.send_calls(worker, batch)
            if not queue:
                return

    def _worker_ready(self, worker: Worker) -> None:
        self._start_failures = 0
        if self._init_payload is not None:
            self.send(worker, (m.INIT, self._init_payload))

    def _task_done(self, worker: Worker, task: Task) -> None:
        if worker.stopping and not worker.inflight:
            self.stop_worker(worker)

    def _worker_lost(self, worker: Worker, lost: list[Task], how: str) -> None:
        if self._by_id.get(worker.worker_id) is worker:
            del self._by_id[worker.worker_id]
        if not worker.connected:
            self._start_failures += 1
        if lost:
            running = lost[0]
            running.attempts += 1
            if running.attempts > self._restart_limit:
                fail(running.future, lost_call_error(running, how))
                lost = lost[1:]
            for task in lost:  # back to the queue, still marked running, in their original order
                heapq.heappush(self._queue, (-task.priority, task.seq, task))
        if worker.stopping or self._stopping or worker.worker_id >= self._target:
            return
        if self._start_failures >= MAX_START_FAILURES:
            self._give_up(start_failure_error(how))
            return
        self._spawn(worker.worker_id)
