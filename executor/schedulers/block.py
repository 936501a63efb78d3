"""Block allocation: ``max_workers`` persistent workers that each run many calls.

Workers get calls in batches so the next call is already in the worker when the current one ends: a round trip
per call would cap throughput at a few thousand calls/s.  How many calls a worker may hold is adaptive: as many
as fit in ``BACKLOG_BUDGET`` seconds of its recently measured time per call (at least 1, at most 64), and 1 until
that time is known.  Short calls stream at tens of thousands per second; long calls are handed out one at a
time, so they never queue up in one worker while another idles, and a higher-priority call submitted later
still starts before them.  Priorities order the calls not yet handed to a worker.  A worker that dies is replaced under
the same ``executorlib_worker_id``; the call it was running is retried on the replacement up to
``restart_limit`` times, then fails with ``ExecutorlibSocketError``; the calls queued behind it are not lost.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Any

from executor.channel import messages as m
from executor.errors import WorkerStartError
from executor.schedulers.base import Scheduler, Worker, fail, lost_call_error, start_failure_error
from executor.spawners.base import Spawner
from executor.tasks.task import Task

# Calls in flight per worker.  Measured here with trivial calls and 2 workers (benchmarks/throughput.py):
# 1 -> 7.6 k/s, 2 -> 13 k/s, 4 -> 20 k/s, 8 -> 29 k/s, 16 -> 37 k/s.  The backlog is sized from the worker's
# measured time per call so that a call waits at most about BACKLOG_BUDGET behind those ahead of it.
MIN_PREFETCH = 1  # calls of 2 ms and more are handed out one at a time: priorities then hold exactly
MAX_PREFETCH = 64
BACKLOG_BUDGET = 0.002  # seconds
# Consecutive workers that die before connecting, after which queued calls fail instead of waiting forever.
MAX_START_FAILURES = 3


class BlockScheduler(Scheduler):
    name = "block"

    def __init__(
        self,
        spawner_factory: Callable[[str, bytes], Spawner],
        workers: int,
        cost: int,
        env: Callable[[int], dict[str, str]],
        cwd: str | None,
        init_payload: bytes | None,
        restart_limit: int,
        ranks: int = 1,
        oversubscribe: bool = False,
        mpi_spawner_factory: Callable[[str, bytes], Spawner] | None = None,
        resources: dict[str, Any] | None = None,
        remote_workers: bool = False,
    ) -> None:
        self._resources = resources or {}
        self._ranks = ranks
        self._oversubscribe = oversubscribe
        self._target = workers
        self._cost = cost
        self._env = env
        self._cwd = cwd
        self._init_payload = init_payload
        self._restart_limit = restart_limit
        self._start_failures = 0
        self._by_id: dict[int, Worker] = {}
        self._start_error: WorkerStartError | None = None
        super().__init__(spawner_factory, mpi_spawner_factory, remote_workers)
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
            self._by_id[worker_id] = self._start_worker(
                worker_id, self._cost, False, self._env(worker_id), self._cwd, self._ranks, self._oversubscribe, self._resources
            )
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
        # Two passes over the workers, fewest calls held first: one call to each idle worker, so idle workers
        # get work before busy ones get a backlog; then top every worker up to its prefetch, one batch each.
        workers = [
            w for w in self._by_id.values() if w.connected and not (w.stopping or w.dead) and len(w.inflight) < w.prefetch
        ]
        workers.sort(key=lambda w: len(w.inflight))
        batches: dict[Worker, list[Task]] = {}
        pop = heapq.heappop
        for first_pass in (True, False):
            for worker in workers:
                batch = batches.setdefault(worker, [])
                room = (1 if first_pass else worker.prefetch) - len(worker.inflight) - len(batch)
                while room > 0 and queue:
                    task = pop(queue)[2]
                    if task.dispatched or task.future.set_running_or_notify_cancel():  # else: cancelled
                        task.dispatched = True
                        batch.append(task)
                        room -= 1
        for worker, batch in batches.items():
            if batch:
                self.send_calls(worker, batch)

    def _worker_ready(self, worker: Worker) -> None:
        self._start_failures = 0
        if self._init_payload is not None:
            self.send(worker, (m.INIT, self._init_payload))

    def _task_done(self, worker: Worker, task: Task) -> None:
        now = time.monotonic()
        took = now - max(worker.last_done, task.sent_at)
        worker.last_done = now
        worker.per_call = took if worker.per_call is None else 0.8 * worker.per_call + 0.2 * took
        worker.prefetch = min(MAX_PREFETCH, max(MIN_PREFETCH, int(BACKLOG_BUDGET / max(worker.per_call, 1e-6))))
        if worker.stopping and not worker.inflight:
            self.stop_worker(worker)

    def _worker_lost(self, worker: Worker, lost: list[Task], how: str) -> None:
        if self._by_id.get(worker.worker_id) is worker:
            del self._by_id[worker.worker_id]
        if not worker.connected:
            self._start_failures += 1
        if lost:
            running = lost[0]  # calls run in order: the first was running, the others had not started
            if running.future.done():  # stopped by its time limit: already failed, the rest go back
                lost = lost[1:]
            else:
                running.attempts += 1
                if running.attempts > self._restart_limit:
                    self.fail_task(running, lost_call_error(running, how))
                    lost = lost[1:]
            for task in lost:  # back to the queue, still marked running, in their original order
                heapq.heappush(self._queue, (-task.priority, task.seq, task))
        if worker.stopping or self._stopping or worker.worker_id >= self._target:
            return
        if self._start_failures >= MAX_START_FAILURES:
            self._give_up(start_failure_error(how))
            return
        self._spawn(worker.worker_id)
