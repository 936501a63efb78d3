"""Block allocation: ``max_workers`` persistent workers that each run many calls.

Layer: schedulers (a ``Scheduler`` policy: see ``base``).

Workers get calls in batches so the next call is already in the worker when the current one ends: a round trip
per call would cap throughput at a few thousand calls/s.  How many calls a worker may hold is adaptive: as many
as fit in ``BACKLOG_BUDGET`` seconds of its recently measured time per call (at least 1, at most 64), and 1 until
that time is known.  Short calls stream at tens of thousands per second; long calls are handed out one at a
time, so they never queue up in one worker while another idles, and a higher-priority call submitted later
still starts before them.  Priorities order the calls not yet handed to a worker.  A worker that dies is replaced under
the same ``executorlib_worker_id``; the call it was running is retried on the replacement up to
``restart_limit`` times, then fails with ``ExecutorlibSocketError``; the calls queued behind it are not lost.
Worker 0 starts first, the others once it has connected: in a fresh process the first call then does not wait
while the other workers start on the same cores.
A worker whose ``init_function`` raised (INITERR) gets no calls; once every worker is in that state, queued calls
fail with the init_function's own exception, its traceback saying which worker it came from.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Mapping
from typing import Any

from executor.channel import messages as m
from executor.errors import WorkerStartError
from executor.schedulers.base import Scheduler, Worker
from executor.schedulers.results import fail, lost_call_error, resolve, start_failure_error
from executor.spawners.gpus import needed as gpu_count
from executor.spawners.launch import LaunchPolicy
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
        launch: LaunchPolicy,
        workers: int,
        cost: int,
        resources: Mapping[str, Any],
        init_payload: bytes | None,
        restart_limit: int,
    ) -> None:
        """``resources``: every worker's (validated) resources, ``cwd`` made absolute; ``cost``: its slots."""
        self._target = workers
        self._cost = cost
        self._resources = resources
        self._cwd = resources.get("cwd")
        self._per_worker_gpus = gpu_count(resources)
        self._init_payload = init_payload
        self._restart_limit = restart_limit
        self._start_failures = 0
        self._by_id: dict[int, Worker] = {}
        self._start_error: WorkerStartError | None = None
        self._first_ready = False  # no worker has connected yet: only worker 0 is started
        super().__init__(launch, resources)
        self.post(lambda: self._resize(workers))
        self.start()

    @property
    def workers(self) -> int:
        return self._target

    def resize(self, workers: int) -> None:
        self._target = workers
        self.post(lambda: self._resize(workers))

    def _resize(self, workers: int) -> None:
        if not self._first_ready:  # the others once the first has connected (see worker_ready)
            workers = min(workers, 1)
        for worker_id in range(workers):
            if worker_id not in self._by_id and not self.loop.stopping:
                self._spawn(worker_id)
        for worker_id in [i for i in self._by_id if i >= workers]:
            worker = self._by_id.pop(worker_id)
            worker.stopping = True
            if not worker.inflight:
                self.pool.stop_worker(worker)

    def _env(self, worker_id: int) -> dict[str, str]:
        """Thread counts, and the worker's own slice of the GPUs (``executorlib_worker_id`` i gets slice i)."""
        n = self._per_worker_gpus
        devices = self.launch.devices()[worker_id * n : (worker_id + 1) * n] if n else []
        return self.launch.environment(self._resources, devices)

    def _spawn(self, worker_id: int) -> None:
        try:
            self._by_id[worker_id] = self.pool.start_worker(
                worker_id, self._cost, False, self._resources, self._env(worker_id), self._cwd
            )
        except WorkerStartError as error:
            self._give_up(error)

    def _give_up(self, error: WorkerStartError) -> None:
        self._start_error = error
        for _, _, task in self.loop.queue:
            fail(task.future, error)
        self.loop.queue.clear()

    def _init_failed_everywhere(self) -> bytes | None:
        """The init_function failure, if every worker is connected and its init_function raised."""
        workers = list(self._by_id.values())
        if workers and all(w.connected and w.init_error is not None for w in workers):
            return workers[0].init_error
        return None

    def _fail_with_init_error(self, failure: bytes) -> None:
        queue = self.loop.queue
        while queue:
            task = heapq.heappop(queue)[2]
            if task.dispatched or task.future.set_running_or_notify_cancel():
                resolve(task, False, failure, context="init_function raised in the worker, so no call can run there")

    def pump(self) -> None:
        queue = self.loop.queue
        if not queue:
            return
        if self._start_error is not None:
            self._give_up(self._start_error)
            return
        failure = self._init_failed_everywhere()
        if failure is not None:
            self._fail_with_init_error(failure)
            return
        # Two passes over the workers, fewest calls held first: one call to each idle worker, so idle workers
        # get work before busy ones get a backlog; then top every worker up to its prefetch, one batch each.
        workers = [
            w
            for w in self._by_id.values()
            if w.connected and not (w.stopping or w.dead) and len(w.inflight) < w.prefetch and w.init_error is None
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
                self.pool.send_calls(worker, batch)

    def worker_ready(self, worker: Worker) -> None:
        self._start_failures = 0
        if not self._first_ready:
            self._first_ready = True
            self._resize(self._target)
        if self._init_payload is not None:
            self.pool.send(worker, (m.INIT, self._init_payload))

    def task_done(self, worker: Worker, task: Task) -> None:
        now = time.monotonic()
        took = now - max(worker.last_done, task.sent_at)
        worker.last_done = now
        worker.per_call = took if worker.per_call is None else 0.8 * worker.per_call + 0.2 * took
        worker.prefetch = min(MAX_PREFETCH, max(MIN_PREFETCH, int(BACKLOG_BUDGET / max(worker.per_call, 1e-6))))
        if worker.stopping and not worker.inflight:
            self.pool.stop_worker(worker)

    def worker_lost(self, worker: Worker, lost: list[Task], how: str) -> None:
        if self._by_id.get(worker.worker_id) is worker:
            del self._by_id[worker.worker_id]
        if not worker.connected:
            self._start_failures += 1
        lost = [task for task in lost if not task.future.done() or task is lost[0]]  # terminate() failed them
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
                self.loop.requeue(task)
        if worker.stopping or self.loop.stopping or worker.worker_id >= self._target:
            return
        if self._start_failures >= MAX_START_FAILURES:
            self._give_up(start_failure_error(how))
            return
        self._spawn(worker.worker_id)
