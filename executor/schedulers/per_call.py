"""One fresh worker process per call (the default mode).

Concurrency is bounded by slots: a call takes ``cores * threads_per_core`` of the executor's ``max_cores``
(or ``max_workers``, or the CPUs this process may use).  Queued calls start strictly by priority, then
submission order; a call waits (no busy loop: the scheduler sleeps until a slot frees) while the one ahead of
it does not fit.

Spares: a few workers are forked ahead of need and wait, connected, for a call.  Each still runs exactly one
call in a process that ran nothing before, but the call skips the fork and the connection on its critical path
(per-call throughput ~300/s -> see docs/performance.md).  A spare is only used when it was forked with what a
new worker would get now: the caller's current environment, cwd and sys.path, and the call's default
resources; otherwise the call gets a worker forked for it, and stale spares are retired.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable

from executor.errors import WorkerStartError
from executor.schedulers.base import Scheduler, Worker, fail, lost_call_error
from executor.spawners.base import Spawner
from executor.spawners.gpus import environment as gpu_environment
from executor.spawners.gpus import needed as gpu_count
from executor.tasks.task import Task

# Idle pre-forked workers kept per executor (never more than its slots).  Two keep a 2-core machine busy with
# trivial calls; more only hold memory.
SPARES = 2
# Consecutive spares that die before connecting, after which no more spares are forked (calls then fork their
# own worker, and report the failure if that dies too).
MAX_SPARE_FAILURES = 3


def ranks(task: Task) -> int:
    return int(task.resources.get("cores") or 1)


class PerCallScheduler(Scheduler):
    name = "per-call"

    def __init__(
        self,
        spawner_factory: Callable[[str, bytes], Spawner],
        capacity: int,
        worker_env: Callable[[Task], dict[str, str]],
        default_env: dict[str, str],
        devices: Callable[[], list[str]] | None = list,
        mpi_spawner_factory: Callable[[str, bytes], Spawner] | None = None,
        spares: int = SPARES,
        remote_workers: bool = False,
        free_on_exit: bool = False,
    ) -> None:
        # free_on_exit: a call's slots free when its worker has exited, not when its result arrived (srun: the
        # job's CPUs are SLURM's again only then; a new srun started earlier would wait in the queue for them)
        self._free_on_exit = free_on_exit
        self.capacity = capacity
        self._free = capacity
        self._devices = devices
        self._free_devices: list[str] = []
        self._devices_known = False
        self._worker_env = worker_env
        self._default_env = default_env
        self._spares: deque[Worker] = deque()
        self._spare_target = min(spares, capacity)
        self._spare_failures = 0
        super().__init__(spawner_factory, mpi_spawner_factory, remote_workers)
        self.post(self._refill)

    def _refill(self) -> None:
        """Fork spares one at a time (a burst of forks would compete with the call that is starting)."""
        while len(self._spares) < self._spare_target and not self._closing and self._spare_failures < MAX_SPARE_FAILURES:
            if any(not spare.connected for spare in self._spares):
                return
            try:
                self._spares.append(self._start_worker(0, 0, True, self._default_env, None))
            except WorkerStartError:
                self._spare_failures = MAX_SPARE_FAILURES
                return

    def _take_spare(self, task: Task, env: dict[str, str]) -> Worker | None:
        if not self._spares or env != self._default_env or task.resources.get("cwd") is not None or ranks(task) > 1:
            return None
        if not self._spawner.in_sync():  # the caller changed its environment, cwd or sys.path
            while self._spares:
                self.stop_worker(self._spares.popleft())
            return None
        return self._spares.popleft()

    def _pump(self) -> None:
        queue = self._queue
        while queue and not self._stopping:
            task = queue[0][2]
            gpus = gpu_count(task.resources) if self._devices is not None else 0  # None: the launcher assigns GPUs
            if gpus and not self._devices_known and self._devices is not None:  # the front already looked them up at submit: cached
                self._free_devices, self._devices_known = list(self._devices()), True
            if task.cost > self._free or gpus > len(self._free_devices):
                break
            heapq.heappop(queue)
            if not task.future.set_running_or_notify_cancel():
                continue
            task.dispatched = True
            devices, self._free_devices = self._free_devices[:gpus], self._free_devices[gpus:]
            env = {**self._worker_env(task), **gpu_environment(devices)}
            worker = self._take_spare(task, env)
            if worker is None:
                try:
                    worker = self._start_worker(
                        0,
                        task.cost,
                        True,
                        env,
                        task.resources.get("cwd"),
                        ranks(task),
                        bool(task.resources.get("openmpi_oversubscribe")),
                        task.resources,
                    )
                except WorkerStartError as error:
                    self._free_devices += devices
                    fail(task.future, error)
                    continue
            worker.cost = task.cost
            worker.devices = devices
            worker.inflight.append(task)
            self._free -= task.cost
            if worker.connected:
                self._worker_ready(worker)
        if not self._closing:
            self._refill()

    def _worker_ready(self, worker: Worker) -> None:
        self._spare_failures = 0
        if worker.inflight:
            self.send_assigned(worker)
        elif not self._closing:  # a spare without a call yet waits, connected; fork the next one
            self._refill()

    def _release(self, worker: Worker) -> None:
        self._free += worker.cost
        worker.cost = 0
        self._free_devices += worker.devices
        worker.devices = []

    def _task_done(self, worker: Worker, task: Task) -> None:
        if not self._free_on_exit:
            self._release(worker)  # the worker exits by itself after its one call

    def _worker_lost(self, worker: Worker, lost: list[Task], how: str) -> None:
        if worker in self._spares:
            self._spares.remove(worker)
            if not worker.connected and not worker.stopping:
                self._spare_failures += 1
        self._release(worker)
        for task in lost:
            self.fail_task(task, lost_call_error(task, how))
